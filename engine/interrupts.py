"""SIGINT and SIGTERM stop the engine the same way: cleanly, with a message, no traceback.

SIGTERM raises :class:`Terminated`, a KeyboardInterrupt, so everything that
cleans up on Ctrl-C (the output transaction's rollback, ``finally`` blocks)
cleans up on ``kill`` too. The ``engine`` command exits 130 after SIGINT and
143 (128 + 15, the shell's code for a process ended by SIGTERM) after SIGTERM.

Imported first by :mod:`engine.cli`: when this process *is* the ``engine``
program (its console script, ``python -m engine`` or ``python -m
engine.cli``), an interrupt that arrives while Python is still importing the
engine, before :func:`engine.cli.main` runs, ends the process at once with the
same message and code. Nothing has been read or written by then. A program
that merely imports the engine (the tests, a notebook) keeps its own handlers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import NoReturn

__all__ = [
    "EXIT_TERMINATED",
    "Terminated",
    "exit_code",
    "install_for_program",
    "received",
    "terminate_as_interrupt",
    "what",
]

# Not imported from engine.errors: this module must load in a blink (see above).
#: Exit code after Ctrl-C (128 + 2), as engine.errors.EXIT_INTERRUPTED.
EXIT_INTERRUPTED = 128 + signal.SIGINT
#: Exit code after SIGTERM (128 + 15).
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM: handled wherever Ctrl-C is."""


#: The signals received while :func:`terminate_as_interrupt` ran (see :func:`received`).
_RECEIVED: list[int] = []


def _raise_terminated(signum: int, frame: FrameType | None) -> NoReturn:
    _RECEIVED.append(signum)
    raise Terminated


def _raise_interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    _RECEIVED.append(signum)
    raise KeyboardInterrupt


def received() -> KeyboardInterrupt | None:
    """The interrupt a signal raised during the command, if one did.

    Some libraries catch the KeyboardInterrupt a signal raises inside them and raise
    an error of their own instead (pydantic-core wraps it in the SchemaError of the
    model it was building): the command still ends as interrupted, not as a bug.
    """
    if not _RECEIVED:
        return None
    return Terminated() if signal.SIGTERM in _RECEIVED else KeyboardInterrupt()


def exit_code(interrupt: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM."""
    return EXIT_TERMINATED if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED


def what(interrupt: BaseException) -> str:
    """What stopped the engine, for its last message."""
    return "terminated (SIGTERM)" if isinstance(interrupt, Terminated) else "interrupted"


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _RECEIVED.clear()
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    previous_int = signal.getsignal(signal.SIGINT)
    # Python's own Ctrl-C handler, recording the signal (see received()); a SIGINT
    # ignored or handled elsewhere before the command stays so.
    if previous_int is signal.default_int_handler:
        signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        yield
    finally:
        # None: a handler set outside Python, which cannot be put back: the default then.
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        if previous_int is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous_int)


def _is_program() -> bool:
    """Whether this process was started as the ``engine`` command."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None:
        return spec.name in ("engine.__main__", "engine.cli")
    return os.path.basename(getattr(main, "__file__", None) or "") in ("engine", "engine.exe")


def _quiet_unraisable(info: sys.UnraisableHookArgs) -> None:
    """An interrupt raised where it cannot propagate (a finalizer, a weakref callback)
    is raised again in the main thread, where it can, instead of printing a traceback
    and being lost: a signal arriving during start-up once landed in such a place."""
    kind = info.exc_type
    if kind is not None and issubclass(kind, KeyboardInterrupt):
        import _thread

        _thread.interrupt_main(signal.SIGTERM if issubclass(kind, Terminated) else signal.SIGINT)
        return
    _PREVIOUS_UNRAISABLE(info)


_PREVIOUS_UNRAISABLE = sys.unraisablehook


def install_for_program() -> None:
    """When this process is the ``engine`` command: quiet interrupts from now on.

    An interrupt that no code catches (during the imports, or after main()
    returned) prints one line and exits 130 or 143, instead of a traceback.
    """
    if not _is_program():
        return
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if not issubclass(kind, KeyboardInterrupt):
            previous(kind, value, tb)
            return
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        with contextlib.suppress(OSError):
            os.write(2, f"engine: {what(value)}\n".encode())
        os._exit(exit_code(value))

    sys.excepthook = hook
    sys.unraisablehook = _quiet_unraisable
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


install_for_program()
