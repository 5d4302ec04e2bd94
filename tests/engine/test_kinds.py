"""engine/kinds.py: the registry, and adding a kind without touching any engine module.

The kind of this test (``greeting``) is defined here: its own pydantic model,
two steps with one handler each, its texts. Registered, it is validated,
planned, run and described by the ``engine`` command like the built-in kinds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import ValidationInfo, field_validator

from engine import kinds
from engine.cli import main
from engine.environment import Environment
from engine.kinds import Handler, Kind, Plan
from renderers import OutputTransaction
from schemas.base import StrictModel

# --------------------------------------------------------------------------- the kind


class GreetingSpec(StrictModel):
    """``kind: greeting``: write a greeting into a file."""

    kind: Literal["greeting"]
    name: str
    to: str
    output: Path

    @field_validator("output")
    @classmethod
    def _beside_the_spec(cls, value: Path, info: ValidationInfo) -> Path:
        base = (info.context or {}).get("base_dir")
        return value if base is None or value.is_absolute() else Path(base) / value


@dataclass(frozen=True)
class Compose:
    """Compose the greeting."""

    to: str


@dataclass(frozen=True)
class Deliver:
    """Write the greeting into its file."""

    path: str


@dataclass
class GreetingState:
    spec: GreetingSpec
    spec_file: str
    dry_run: bool = False
    transaction: OutputTransaction | None = None
    text: str = ""
    written: list[str] = field(default_factory=list)


def compose(step: Compose, state: GreetingState) -> None:
    state.text = f"Hello, {step.to}!\n"


def deliver(step: Deliver, state: GreetingState) -> None:
    assert state.transaction is not None  # a work step: never in a dry run
    state.transaction.open_text(Path(step.path)).write(state.text)
    state.written.append(step.path)


class Greeting(Kind):
    name = "greeting"
    model = GreetingSpec

    def steps(self, spec: Any) -> Sequence[Any]:
        return [Compose(spec.to), Deliver(str(spec.output))]

    def new_state(
        self, plan: Plan, spec: Any, *, progress: bool, force: bool, environment: Environment
    ) -> GreetingState:
        return GreetingState(spec, plan.spec_file)

    def handlers(self) -> Mapping[type, Handler]:
        return {Compose: compose, Deliver: deliver}

    def is_work(self, step: Any, plan: Plan) -> bool:
        return isinstance(step, Deliver)

    def output_files(self, plan: Plan, spec: Any) -> list[Path]:
        return [Path(s.path) for s in plan.steps if isinstance(s, Deliver)]

    def plan_text(self, plan: Plan, state: Any) -> str:
        return f"plan for greeting '{plan.name}': {state.text.strip()} -> {state.spec.output}"

    def summary_text(self, state: Any, seconds: float) -> str:
        return f"greeting '{state.spec.name}': wrote {', '.join(state.written)}"

    def pending_changes(self, state: Any) -> bool:
        return not state.spec.output.is_file()

    def plan_figures(self, plan: Plan, state: Any) -> dict[str, Any]:
        return {"text": state.text}

    def written(self, state: Any) -> list[str]:
        return list(state.written)


@pytest.fixture
def greeting() -> Iterator[Greeting]:
    kind = kinds.register(Greeting())
    yield kind
    kinds.unregister("greeting")


def _spec(folder: Path, extra: str = "") -> Path:
    path = folder / "hello.yaml"
    path.write_text(f"kind: greeting\nname: hello\nto: world\noutput: out/hello.txt\n{extra}")
    return path


# --------------------------------------------------------------------------- tests


def test_a_kind_defined_outside_the_engine_plans_and_runs(
    greeting: Greeting, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path)
    out = tmp_path / "out" / "hello.txt"
    assert main(["validate", str(spec)]) == 0
    assert capsys.readouterr().out == f"{spec}: valid greeting spec 'hello'\n"
    # engine plan: the first step runs, the work step does not.
    assert main(["plan", "--detailed-exitcode", str(spec)]) == 2
    assert capsys.readouterr().out == f"plan for greeting 'hello': Hello, world! -> {out}\n"
    assert not out.exists()
    assert main(["plan", "--json", str(spec)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["kind"] == "greeting" and document["greeting"] == {"text": "Hello, world!\n"}
    assert [s["type"] for s in document["steps"]] == ["Compose", "Deliver"]
    # engine run: both steps, the file written through the run's transaction.
    assert main(["run", str(spec)]) == 0
    assert capsys.readouterr().out == f"greeting 'hello': wrote {out}\n"
    assert out.read_text() == "Hello, world!\n"
    assert main(["plan", "--detailed-exitcode", str(spec)]) == 0
    capsys.readouterr()
    assert main(["run", "--json", str(spec)]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"][0]["path"] == str(out)


def test_a_registered_kind_is_validated_by_its_model(
    greeting: Greeting, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path, "colour: blue\n")
    assert main(["validate", str(spec)]) == 2
    assert f"{spec}:5:1: colour: unknown key 'colour'" in capsys.readouterr().err
    (tmp_path / "typo.yaml").write_text("kind: greting\nname: x\n")
    assert main(["validate", str(tmp_path / "typo.yaml")]) == 2
    err = capsys.readouterr().err
    assert "unknown kind 'greting'; did you mean 'greeting'?" in err
    assert "(valid: alignment, greeting, image, volume-pool)" in err


def test_what_a_kind_does_not_do_is_refused_by_the_command(
    greeting: Greeting, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path)
    assert main(["eval", str(spec), "--gold", str(spec)]) == 2
    assert (
        "engine eval scores specs of kind alignment; this spec is of kind greeting"
        in capsys.readouterr().err
    )
    assert main(["setup", str(spec)]) == 2
    assert (
        "engine setup prepares the hosts of kind volume-pool; this spec is of kind greeting"
        in capsys.readouterr().err
    )


def test_the_registry() -> None:
    assert kinds.names() == ["alignment", "image", "volume-pool"]
    assert kinds.find("nothing") is None and kinds.find(["image"]) is None
    with pytest.raises(LookupError, match="no kind named 'nothing'"):
        kinds.get("nothing")
    pool = kinds.get("volume-pool")
    assert pool.document_key == "volume_pool" and pool.confirm and pool.has_setup
    assert kinds.get("alignment").evaluates and not kinds.get("alignment").confirm
    models = kinds.models()
    assert [m.__name__ for m in models.values()] == ["AlignmentSpec", "ImageSpec", "VolumePoolSpec"]


def test_a_kind_replaced_and_removed_comes_back_as_built() -> None:
    built = kinds.get("image")

    class Other(Greeting):
        name = "image"

    kinds.register(Other())
    try:
        assert isinstance(kinds.get("image"), Other)
    finally:
        kinds.unregister("image")
    assert type(kinds.get("image")) is type(built)
