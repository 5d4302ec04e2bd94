"""Log lines on stderr: what the engine does, at the level the user asks for.

Every module logs through its own ``logging.getLogger(__name__)``; the CLI
calls :func:`configure` once per command with the level of ``--log-level`` or
``-v``/``-vv``. Default WARNING keeps a run as quiet as it always was; INFO
shows each step, each page of a remote source, each publishing batch and each
playbook task; DEBUG adds the queries and requests themselves. Lines go to
stderr, so ``--json`` documents and piped outputs on stdout stay clean.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["LEVELS", "PACKAGES", "configure", "level_for"]

#: The packages whose loggers print (third-party libraries keep their own settings).
PACKAGES = ("engine", "renderers", "schemas")
#: ``--log-level`` names, lowest first.
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _StderrHandler(logging.Handler):
    """Writes to the ``sys.stderr`` of the moment (pytest and the web server swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # a closed or broken stream must not fail the run
            self.handleError(record)


def level_for(verbose: int, log_level: str | None) -> int:
    """The level of ``--log-level`` when given, else WARNING, INFO (-v) or DEBUG (-vv)."""
    if log_level is not None:
        return LEVELS[log_level.lower()]
    if verbose >= 2:
        return logging.DEBUG
    if verbose == 1:
        return logging.INFO
    return logging.WARNING


def configure(level: int) -> None:
    """Send the engine's log records at ``level`` and above to stderr (once, however often called)."""
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
    for name in PACKAGES:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
