"""The kinds of spec, and the one protocol the generic engine drives them through.

A kind is what a spec's ``kind:`` names: ``alignment``, ``image``,
``volume-pool``, or one of your own. It is one object, a :class:`Kind`, that
says everything the generic layers need: its spec model (the loader validates
with it), its plan (``steps``), the state its handlers fill in, its step
handlers, which steps a dry run skips, its texts and JSON document parts, its
setup plan if it has one, and what the web interface checks before running it.
The loader, the planner (engine.plan), the executor (engine.execute), the step
log, the JSON documents, the command line and the web interface look the kind
up here and never name one.

The built-in kinds are loaded when first looked up (each from its ``kind``
module, so that a run imports only the kind it runs). Another kind is added
with :func:`register`; nothing else changes::

    from engine import kinds

    class Greeting(kinds.Kind):
        name = "greeting"
        model = GreetingSpec             # a pydantic model with a ``kind`` field
        ...

    kinds.register(Greeting())
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from engine.errors import EngineError

if TYPE_CHECKING:  # pydantic comes with it: imported when a state is made, not with the registry
    from engine.environment import Environment

__all__ = [
    "BUILTIN",
    "Check",
    "Handler",
    "Kind",
    "Plan",
    "find",
    "get",
    "models",
    "names",
    "register",
    "unregister",
]

#: A step handler: carries one step out, filling in the state.
Handler = Callable[[Any, Any], None]
#: A problem found after validation: where in the spec (a field path), and what.
Check = tuple[tuple[Any, ...], str]

#: The built-in kinds: name -> the module whose ``KIND`` is the kind, imported when first used.
BUILTIN: Mapping[str, str] = {
    "alignment": "engine.alignment.kind",
    "image": "engine.image.kind",
    "volume-pool": "engine.volume_pool.kind",
}


@dataclass(frozen=True)
class Plan:
    """The steps of one spec, in order: plain data that can be printed or executed."""

    kind: str
    name: str
    spec_file: str
    steps: tuple[Any, ...]


class Kind:
    """One kind of spec: what the generic engine needs to know of it.

    A subclass sets :attr:`name` and :attr:`model` and implements
    :meth:`steps`, :meth:`new_state`, :meth:`handlers`, :meth:`plan_text` and
    :meth:`summary_text`; every other method has a default that fits a kind
    without it (no outputs, no setup, nothing to evaluate...).

    A kind's state is a mutable object with at least ``spec``, ``spec_file``,
    ``dry_run`` (set by the executor: True in ``engine plan``) and
    ``transaction`` (the run's :class:`renderers.OutputTransaction` while its
    steps run, else None).
    """

    #: What ``kind:`` says in the spec.
    name: ClassVar[str]
    #: The pydantic model of its specs (in ``schemas``); its ``kind`` field is :attr:`name`.
    model: ClassVar[type[Any]]
    #: The web interface shows the plan and waits for a confirmation before a run.
    confirm: ClassVar[bool] = False
    #: ``engine eval`` scores it (:meth:`eval_text`, :meth:`eval_figures`).
    evaluates: ClassVar[bool] = False
    #: ``engine setup`` prepares its hosts (:meth:`setup_steps`, :meth:`setup_text`).
    has_setup: ClassVar[bool] = False
    #: ``engine fit`` fits its scoring model from its data (:meth:`fit`).
    fits: ClassVar[bool] = False
    #: The web interface's review page labels its pairs (:meth:`review_queue`, :meth:`curate`).
    reviews: ClassVar[bool] = False

    # ------------------------------------------------------------------ plan and state

    def steps(self, spec: Any) -> Sequence[Any]:
        """The plan of a validated spec, as plain data (no I/O)."""
        raise NotImplementedError

    def new_state(
        self, plan: Plan, spec: Any, *, progress: bool, force: bool, environment: Environment
    ) -> Any:
        """The state the handlers fill in.

        ``progress``: progress shown on a terminal; ``force``: build again what
        is cached; ``environment``: the only variables the spec's credentials
        may be read from (engine.environment).
        """
        raise NotImplementedError

    def handlers(self) -> Mapping[type, Handler]:
        """Step type -> the function that carries such a step out."""
        raise NotImplementedError

    def handler(self, step: Any) -> Handler:
        """The function that carries ``step`` out."""
        return self.handlers()[type(step)]

    def cross_checks(self, spec: Any, spec_file: Path) -> list[Check]:
        """Problems the model alone cannot see (files, columns...), by field path."""
        return []

    def check_sources(self, spec: Any, spec_file: Path) -> None:
        """``engine validate --sources``: check the spec against its data (SpecError)."""

    # ------------------------------------------------------------------ the executor

    def is_work(self, step: Any, plan: Plan) -> bool:
        """Whether a dry run (``engine plan``) skips the step; the others run, reading only."""
        return False

    def is_output(self, step: Any) -> bool:
        """Whether a run without writing (``engine eval``) skips the step."""
        return False

    def irreversible(self, step: Any) -> bool:
        """Whether the step acts outside the run's files: once it ran, cancelling is too late."""
        return False

    def output_files(self, plan: Plan, spec: Any) -> list[Path]:
        """Every file a run writes: locked before the first step, committed after the last."""
        return []

    def with_outputs_in(self, spec: Any, folder: Path) -> Any:
        """The spec with its outputs written into ``folder`` instead (``--out-dir``)."""
        return spec

    def running(self, state: Any) -> AbstractContextManager[Any]:
        """What holds while the steps run (a connection, a lock), released however they end."""
        return nullcontext()

    def after_commit(self, state: Any) -> None:
        """Called once a run's outputs are in place (raise an error found on the way)."""

    # ------------------------------------------------------------------ texts

    def plan_text(self, plan: Plan, state: Any) -> str:
        """``engine plan``: what a run would do."""
        raise NotImplementedError

    def summary_text(self, state: Any, seconds: float) -> str:
        """``engine run``: the summary at the end."""
        raise NotImplementedError

    def pending_changes(self, state: Any) -> bool:
        """After a dry run: whether a run would change something outside its own files."""
        return False

    def refusal(self, state: Any) -> EngineError | None:
        """After a dry run: the error a run would stop at, shown after the plan (or None)."""
        return None

    def describe_before(self, step: Any, state: Any) -> str | None:
        """The step log's line before a step (None: the step's docstring)."""
        return None

    def describe_after(self, step: Any, state: Any) -> str | None:
        """The step log's line after a step: what it found or made (None: nothing to say)."""
        return None

    def step_text(self, step: Any) -> str:
        """A short text of the step, for the web interface's progress."""
        text = (type(step).__doc__ or type(step).__name__).strip().splitlines()[0]
        return text.rstrip(".")

    # ------------------------------------------------------------------ JSON documents

    @property
    def document_key(self) -> str:
        """The key of the kind's part in the JSON documents (``volume_pool``)."""
        return self.name.replace("-", "_")

    def plan_figures(self, plan: Plan, state: Any) -> dict[str, Any]:
        """``engine plan --json``: what the dry run found."""
        return {}

    def run_figures(self, state: Any) -> dict[str, Any]:
        """``engine run --json``: what the run did."""
        return {}

    def written(self, state: Any) -> list[str]:
        """The files the run wrote."""
        return []

    def known_digests(self, state: Any) -> dict[str, str]:
        """sha256 of written files already computed (file name -> digest)."""
        return {}

    # ------------------------------------------------------------------ eval and setup

    def eval_text(self, state: Any, gold: Path | None, steps: int | list[float]) -> str:
        """``engine eval``: the scores against gold links (only if :attr:`evaluates`)."""
        raise NotImplementedError

    def eval_figures(
        self, state: Any, gold: Path | None, steps: int | list[float]
    ) -> dict[str, Any]:
        """``engine eval --json``: the figures (only if :attr:`evaluates`)."""
        raise NotImplementedError

    def fit(
        self,
        spec: Any,
        spec_file: Path,
        *,
        gold: Path | None,
        out: Path | None,
        options: Mapping[str, Any],
    ) -> tuple[str, dict[str, Any]]:
        """``engine fit``: fit the spec's model and write it into the spec (or ``out``).

        ``options``: the command line's fitting options (``term_frequency``: the
        attributes whose exact agreements weigh by the value's frequency).
        Returns the text for people (what was learned) and the figures of
        ``--json``. Only if :attr:`fits`.
        """
        raise NotImplementedError

    def setup_steps(self, spec: Any) -> Sequence[Any]:
        """``engine setup``: the plan that prepares the spec's hosts (only if :attr:`has_setup`)."""
        raise NotImplementedError

    def setup_text(self, state: Any, seconds: float) -> str:
        """``engine setup``: the summary at the end."""
        raise NotImplementedError

    # ------------------------------------------------------------------ web interface

    def web_refusal(self, spec: Any) -> str | None:
        """Why the web interface never runs (nor plans) the spec, whatever its paths."""
        return None

    def web_path_refusal(self, spec: Any) -> str | None:
        """A place outside the served folder the spec uses without naming it (after its paths)."""
        return None

    def output_paths(self, spec: Any) -> list[Path]:
        """The files and folders a run writes, as the web interface lists them."""
        return []

    def review_queue(self, spec: Any, curation: list[Path], near_misses: Path) -> Any:
        """The pairs left to review, read from the latest run (only if :attr:`reviews`).

        The pairs the files of ``curation`` decide are left out; ``near_misses``:
        where a run of :meth:`near_miss_spec` writes them. An object with
        ``source`` (the file read, or None), ``pairs``, ``decided`` (how many are
        already curated) and ``note`` (why nothing is shown).
        """
        raise NotImplementedError

    def curation_files(self, spec: Any) -> list[Path]:
        """The curation files the spec names (only if :attr:`reviews`)."""
        return []

    def near_miss_spec(self, spec: Any, output: Path) -> Any | None:
        """A spec whose run writes only its near-misses, for review, to ``output``.

        None when the spec's own runs write pairs for review (or it has none to
        give). Only if :attr:`reviews`.
        """
        return None

    def curate(
        self, spec: Any, target: Path, pair: tuple[str, str], accept: bool, author: str, date: str
    ) -> bool:
        """Append a reviewer's decision on ``pair`` to the curation file ``target``.

        Returns False when the file already held it; raises ValueError when it
        held the opposite decision (only if :attr:`reviews`).
        """
        raise NotImplementedError

    def name_curation(self, spec_file: Path, target: Path) -> bool:
        """Add ``target`` to the spec file's curation files, keeping its comments.

        False when the file cannot be edited so (then the user is asked to).
        """
        return False


_registered: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Add a kind (or replace the one of that name); returns it."""
    _registered[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a registered kind (a built-in one is loaded again when next looked up)."""
    _registered.pop(name, None)


def names() -> list[str]:
    """Every kind's name, sorted (without importing any kind)."""
    return sorted({*BUILTIN, *_registered})


def find(name: object) -> Kind | None:
    """The kind of that name, or None."""
    if not isinstance(name, str):
        return None
    kind = _registered.get(name)
    if kind is None and name in BUILTIN:
        kind = register(importlib.import_module(BUILTIN[name]).KIND)
    return kind


def get(name: str) -> Kind:
    """The kind of that name (LookupError if there is none)."""
    kind = find(name)
    if kind is None:
        raise LookupError(f"no kind named {name!r} (known: {', '.join(names())})")
    return kind


def models() -> dict[str, type[Any]]:
    """Every kind's spec model, by name (imports every kind)."""
    return {name: get(name).model for name in names()}
