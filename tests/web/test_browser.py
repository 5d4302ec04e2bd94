"""End to end in headless Chromium: compose the people example, save, run, download.

The server is uvicorn on 127.0.0.1 and a free port, in a thread of the test,
stopped at the end. Playwright drives Debian's /usr/bin/chromium (never a
downloaded browser). Each page is screenshotted into the test's tmp folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.web.live import CHROMIUM, require_chromium, serving
from tests.web.people import ALIGN, EXPECTED_LINKS, TARGET, csv_bytes, links

if TYPE_CHECKING:
    from playwright.sync_api import Page


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """uvicorn serving an empty folder on 127.0.0.1 (a thread; stopped at the end)."""
    root = tmp_path / "served"
    root.mkdir()
    with serving(root) as base:
        yield base, root


def _normaliser_chain(page: Page) -> None:
    """Normalisers apply in the order chosen, and reordering the chain changes the preview."""
    from playwright.sync_api import expect

    page.select_option("#normaliser-choice", "regex_replace")
    page.click("#normaliser-add")
    page.fill("#norm-0-regex_replace-pattern", "P")
    page.fill("#norm-0-regex_replace-replacement", "Q")
    page.select_option("#normaliser-choice", "lowercase")
    page.click("#normaliser-add")
    chain = page.locator("#chosen-normalisers .normaliser-name")
    expect(chain).to_have_text(["regex_replace", "lowercase"])
    expect(page.locator("#attribute-preview")).to_contain_text("Paul Dupont → qaul dupont")
    page.locator("#chosen-normalisers li").nth(1).locator("button.up").click()
    expect(chain).to_have_text(["lowercase", "regex_replace"])
    expect(page.locator("#norm-1-regex_replace-pattern")).to_have_value("P")  # renumbered
    expect(page.locator("#attribute-preview")).to_contain_text("Paul Dupont → paul dupont")


def test_compose_save_run_and_download_the_people_example(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    base, root = server
    shots = tmp_path / "screenshots"
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    for role in ("align", "target"):
        (uploads / f"{role}.csv").write_bytes(csv_bytes(role))
    count = 0

    def shot(name: str) -> None:
        nonlocal count
        count += 1
        page.screenshot(path=str(shots / f"{count:02d}-{name}.png"), full_page=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(accept_downloads=True)
            page.set_default_timeout(10_000)
            page.goto(base + "/")
            expect(page.get_by_text("No spec in this folder yet")).to_be_visible()
            shot("browse-empty")

            page.click("text=Compose an alignment")
            page.fill("#name", "people")
            page.click("#create")
            shot("compose-new")
            for role, template in (("align", ALIGN), ("target", TARGET)):
                form = page.locator(f"#source-{role} form")
                form.locator("input[type=file]").set_input_files(str(uploads / f"{role}.csv"))
                form.locator(f"#{role}-id").fill(template)
                form.locator(f"#{role}-preview").click()
                expect(page.locator("#message")).to_contain_text(f"{role} source read")
            expect(page.locator("#source-target .columns")).to_have_text(
                "row, name, birthdate, city"
            )
            shot("sources")

            page.click("#next")
            # Through the widgets only: no YAML typed anywhere.
            expect(page.locator("#attr-options")).to_be_hidden()  # the advanced box: collapsed
            expect(page.locator("#attr-normalise")).to_be_hidden()
            for name, metric in (
                ("name", "levenshtein"),
                ("birthdate", "temporal"),
                ("city", "levenshtein"),
            ):
                page.fill("#attr-name", name)
                page.select_option("#attr-metric", metric)
                # Its option fields, from the schema, swapped in for the chosen metric.
                expect(page.locator("#metric-doc")).to_contain_text(f"{metric}:")
                if name == "birthdate":
                    unit = page.locator("#metric-temporal-unit")
                    expect(unit.locator("option")).to_have_text(
                        ["default (days)", "days", "months", "years"]
                    )
                    expect(page.locator("#metric-temporal-scale")).to_have_attribute("min", "0")
                    unit.select_option("days")
                    dayfirst = page.locator("#metric-temporal-dayfirst")
                    expect(dayfirst).not_to_be_checked()  # the schema's default
                    dayfirst.check()
                else:
                    expect(page.locator("#metric-levenshtein-tokens")).to_be_checked()
                if name == "name":
                    _normaliser_chain(page)
                # The live preview: normalised sample values and their distances.
                expect(page.locator("#attribute-preview table")).to_contain_text(metric)
                if name == "birthdate":
                    expect(page.locator("#attribute-preview")).to_contain_text("14/08/1991")
                    # 06-01-1999 is 6 January with dayfirst: 2702 days from 01-12-2012.
                    expect(page.locator("#attribute-preview")).to_contain_text("2702.0")
                    shot("attribute-preview")
                page.click("#attr-add")
                expect(page.locator("#attributes")).to_contain_text(name)
            expect(page.locator("#attributes")).to_contain_text(
                "{name: birthdate, metric: {temporal: {unit: days, dayfirst: true}}}"
            )
            expect(page.locator("#attributes")).to_contain_text(
                "{name: name, normalise: [lowercase, {regex_replace: {pattern: P, replacement: Q}}],"
                " metric: levenshtein}"
            )
            shot("attributes")

            page.click("#next")
            # Only the chosen rule's options show (rendered from the schema).
            page.select_option("#blocking", "radius")
            expect(page.locator("fieldset[data-rule=radius]")).to_be_visible()
            expect(page.locator("#blocking-radius-radius")).to_be_visible()
            expect(page.locator("fieldset[data-rule=kmeans]")).to_be_hidden()
            page.select_option("#blocking", "none")
            expect(page.locator("fieldset[data-rule=radius]")).to_be_hidden()
            page.fill("#threshold", "2")
            page.select_option("#matching", "best")
            shot("settings")
            page.click("#settings-next")
            for fmt in ("ttl", "nt", "csv"):
                page.check(f"#format-{fmt}")
            shot("outputs")
            page.click("#outputs-next")
            expect(page.locator("#valid")).to_be_visible()
            expect(page.locator("#yaml")).to_contain_text("dayfirst: true")
            shot("review")
            page.click("#save")
            expect(page.locator("#validation")).to_have_text("valid")
            shot("saved-spec")

            page.click("#run")
            expect(page.locator("#status")).to_have_text("succeeded", timeout=30_000)
            expect(page.locator("#outputs")).to_be_visible()
            shot("run-done")
            for name, fmt in (("people.ttl", "turtle"), ("people.nt", "nt"), ("people.csv", None)):
                with page.expect_download() as info:
                    page.click(f"#outputs a[href='/files/out/{name}']")
                saved = tmp_path / "downloads" / name
                info.value.save_as(saved)
                if fmt is not None:
                    assert links(saved.read_bytes(), fmt) == EXPECTED_LINKS
                else:
                    assert len(saved.read_text(encoding="utf-8").splitlines()) == 4

            page.goto(base + "/")
            expect(page.locator("tr[data-spec='people.yaml']")).to_contain_text("succeeded")
            shot("browse-after-run")
        finally:
            browser.close()
    assert (root / "people.yaml").is_file()
    assert len(list(shots.glob("*.png"))) == count >= 10
