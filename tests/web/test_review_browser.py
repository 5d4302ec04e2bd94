"""End to end in headless Chromium: label pairs of a review band by keyboard, re-run, check.

As the compose test (tests/web/test_browser.py): uvicorn with engine serve's
settings on 127.0.0.1 in a thread, Debian's /usr/bin/chromium driven by
Playwright, a screenshot of each stage in the test's tmp folder
(``screenshots/``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.alignment.curation_write import decided_pairs
from engine.cli import main
from tests.web.live import CHROMIUM, require_chromium, serving
from tests.web.test_review import BAND, A, T, links, write_reviewed


@pytest.fixture
def review_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """uvicorn serving a folder whose people spec has a review band and was run once."""
    root = tmp_path / "served"
    root.mkdir()
    assert main(["run", str(write_reviewed(root))]) == 0
    with serving(root) as base:
        yield base, root


def test_label_pairs_by_keyboard_rerun_and_the_decisions_hold(
    review_server: tuple[str, Path], tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    base, root = review_server
    shots = tmp_path / "screenshots"
    count = 0

    def shot(name: str) -> None:
        nonlocal count
        count += 1
        page.screenshot(path=str(shots / f"{count:02d}-{name}.png"), full_page=True)

    def pair(a: int, b: int) -> str:
        return f'section.pair[data-subject="{A.format(a)}"][data-object="{T.format(b)}"]'

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.goto(base + "/spec/people.yaml")
            shot("spec")
            page.click("#review")
            pairs = page.locator("section.pair")
            expect(pairs).to_have_count(len(BAND))
            expect(page.locator(pair(0, 0))).to_be_focused()  # the first pair, ready for keys
            expect(page.locator(pair(0, 0))).to_contain_text("Dupond Paul")
            shot("review-band")

            status = page.locator("#review-status")
            page.keyboard.press("a")  # accept 0 -> 0
            expect(status).to_contain_text("accepted")
            expect(pairs).to_have_count(len(BAND) - 1)
            expect(page.locator(pair(0, 2))).to_be_focused()
            page.keyboard.press("s")  # skip 0 -> 2
            expect(page.locator(pair(0, 3))).to_be_focused()
            page.keyboard.press("r")  # reject 0 -> 3
            expect(status).to_contain_text("rejected")
            expect(pairs).to_have_count(len(BAND) - 2)
            page.keyboard.press("k")  # back to the skipped 0 -> 2
            expect(page.locator(pair(0, 2))).to_be_focused()
            page.keyboard.press("r")
            expect(pairs).to_have_count(len(BAND) - 3)
            shot("labelled")

            decided = decided_pairs(root / "people-curation.sssom.tsv")
            assert decided == {
                (A.format(0), T.format(0)): True,
                (A.format(0), T.format(3)): False,
                (A.format(0), T.format(2)): False,
            }
            page.click("#run")  # the review page's own run button
            expect(page.locator("#status")).to_have_text("succeeded", timeout=30_000)
            shot("rerun")

            found = links(root)
            assert (A.format(0), T.format(0)) in found  # accepted: a link
            assert (A.format(0), T.format(3)) not in found  # rejected: none
            assert (A.format(0), T.format(2)) not in found
            page.goto(base + "/review/people.yaml")
            expect(pairs).to_have_count(2)  # only the undecided 1 -> 0 and 1 -> 3
            expect(page.locator(pair(1, 0))).to_be_visible()
            expect(page.locator(pair(1, 3))).to_be_visible()
            shot("after-rerun")
        finally:
            browser.close()
    assert len(list(shots.glob("*.png"))) == count
