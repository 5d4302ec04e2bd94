"""``!include``: blocks shared between specs, read with the loader's bounds and positions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.cli import main
from engine.errors import SpecError
from engine.includes import MAX_INCLUDES
from engine.loader import MAX_BYTES, load_spec, spec_error

SPEC = """\
kind: alignment
name: demo
sources:
  align: {csv: a.csv, id: uri}
  target: {csv: b.csv, id: uri}
attributes: INCLUDE
threshold: 1
"""

SHARED = """\
# The attributes of the people specs.
attributes:
  - {name: name, metric: levenshtein}
  - {name: city, metric: exact}
"""


def _folder(tmp_path: Path, include: str, shared: str = SHARED) -> Path:
    (tmp_path / "a.csv").write_text("uri,name,city\nhttp://a/1,x,y\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("uri,name,city\nhttp://b/1,x,y\n", encoding="utf-8")
    (tmp_path / "common").mkdir(exist_ok=True)
    (tmp_path / "common" / "people.yaml").write_text(shared, encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("INCLUDE", include), encoding="utf-8")
    return spec


def _problems(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return [str(p) for p in info.value.problems]


def test_a_block_of_another_file_stands_where_it_is_included(tmp_path: Path) -> None:
    spec = load_spec(_folder(tmp_path, "!include common/people.yaml#/attributes"))
    assert [a.name for a in spec.attributes] == ["name", "city"]
    # Two specs share the block; a whole file is included without a '#'.
    (tmp_path / "common" / "name.yaml").write_text("{name: name, metric: exact}\n")
    text = SPEC.replace("INCLUDE", "[!include common/name.yaml]")
    (tmp_path / "other.yaml").write_text(text, encoding="utf-8")
    assert [a.metric.name for a in load_spec(tmp_path / "other.yaml").attributes] == ["exact"]


def test_an_unknown_key_whose_value_is_included_is_at_the_key_in_the_spec(
    tmp_path: Path,
) -> None:
    # The key is written in the spec even though its value comes from another file
    # (found by the spec fuzzer: the problem was reported in the included file).
    spec = _folder(tmp_path, "!include common/people.yaml#/attributes")
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text + "extras: !include common/people.yaml#/attributes\n", encoding="utf-8")
    assert _problems(spec) == [f"{spec}:8:1: extras: unknown key 'extras'"]


def test_an_included_block_wrong_as_a_whole_is_at_its_include(tmp_path: Path) -> None:
    # A whole block in the wrong place is the include's mistake, not the included
    # file's: it is shown where the !include is written.
    spec = _folder(tmp_path, "!include common/people.yaml#/attributes")
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text + "matching: !include common/people.yaml\n", encoding="utf-8")
    assert _problems(spec) == [
        f"{spec}:8:11: matching: Input should be 'all', 'best' or 'one-to-one'"
    ]


def test_an_error_inside_an_included_file_is_at_that_files_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = SHARED.replace("metric: exact", "metric: exakt")
    spec = _folder(tmp_path, "!include common/people.yaml#/attributes", shared)
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "spec.yaml"]) == 2
    err = capsys.readouterr().err
    assert "common/people.yaml:4:26: attributes[1].metric: unknown metric 'exakt'" in err
    assert "Traceback" not in err
    # Problems found after loading (a column a source lacks) are placed there too.
    error = spec_error(spec, [(("attributes", 1, "name"), "no column 'city'")])
    assert str(error.problems[0]).endswith(
        "common/people.yaml:4:12: attributes[1].name: no column 'city'"
    )


@pytest.mark.parametrize(
    ("include", "message"),
    [
        ("!include common/missing.yaml", "spec.yaml:6:13: attributes: cannot include"
         " common/missing.yaml: no such file"),
        ("!include common/people.yaml#/atributes", "spec.yaml:6:13: attributes:"
         " common/people.yaml has nothing at #/atributes"),
        ("!include ../outside.yaml", "spec.yaml:6:13: attributes: ../outside.yaml is outside the"
         " spec's folder"),
        ("!include /etc/hostname", "spec.yaml:6:13: attributes: !include takes a path relative"
         " to the spec's folder, not /etc/hostname"),
        ("!include common/people.yaml#attributes", "after '#' comes a path from the file's top"),
        ("!include {file: common/people.yaml}", "!include names a file"),
    ],
)  # fmt: skip
def test_a_bad_include_is_refused_at_its_line(tmp_path: Path, include: str, message: str) -> None:
    (tmp_path.parent / "outside.yaml").write_text("- {name: x, metric: exact}\n")
    problems = _problems(_folder(tmp_path, include))
    assert len(problems) == 1 and message in problems[0], problems


def test_a_symbolic_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    inside = tmp_path / "specs"
    inside.mkdir()
    (tmp_path / "secret.yaml").write_text("attributes: [{name: x, metric: exact}]\n")
    os.symlink(tmp_path / "secret.yaml", inside / "link.yaml")
    problems = _problems(_folder(inside, "!include link.yaml#/attributes"))
    assert problems[0].endswith("link.yaml is outside the spec's folder (" + str(inside) + "):"
                                " an include reads only files of the spec's folder tree")  # fmt: skip


def test_an_include_loop_is_refused(tmp_path: Path) -> None:
    spec = _folder(tmp_path, "!include common/loop.yaml#/a")
    (tmp_path / "common" / "loop.yaml").write_text("a: !include ../spec.yaml#/attributes\n")
    problems = _problems(spec)
    assert problems == [
        f"{tmp_path / 'common' / 'loop.yaml'}:1:4: attributes:"
        " an include loop: spec.yaml -> loop.yaml -> spec.yaml"
    ]


def test_includes_are_bounded(tmp_path: Path) -> None:
    many = "[" + ", ".join(["!include common/one.yaml"] * (MAX_INCLUDES + 1)) + "]"
    spec = _folder(tmp_path, many)
    (tmp_path / "common" / "one.yaml").write_text("{name: x, metric: exact}\n")
    problems = _problems(spec)
    assert problems[-1].endswith(f"more than {MAX_INCLUDES} includes in one spec"), problems
    # Each included file is read with the loader's bounds.
    (tmp_path / "common" / "big.yaml").write_text("# " + "x" * MAX_BYTES + "\n")
    spec = _folder(tmp_path, "!include common/big.yaml")
    assert "common/big.yaml:1:" in _problems(spec)[0]
    assert "larger than 1024 KiB" in _problems(spec)[0]


def test_a_spec_served_by_the_web_reads_nothing_outside_its_folder(tmp_path: Path) -> None:
    from engine.web.specs import load

    served = tmp_path / "served"
    served.mkdir()
    (tmp_path / "secret.yaml").write_text("attributes: [{name: x, metric: exact}]\n")
    spec = _folder(served, "!include ../secret.yaml#/attributes")
    with pytest.raises(SpecError) as info:
        load(spec)
    assert "../secret.yaml is outside the spec's folder" in str(info.value.problems[0])
