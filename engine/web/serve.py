"""``engine serve [DIR]``: the web interface on a local port."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import EXIT_OK, EXIT_SPEC
from engine.web.limits import READ_TIMEOUT_S, REQUEST_TIMEOUT_S, VALIDATION_TIMEOUT_S

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp

__all__ = ["TOKEN_ENV", "add_arguments", "allowed_hosts", "command", "server_config"]

#: The token may come from the environment rather than the command line (ps shows that).
TOKEN_ENV = "SPECENGINE_TOKEN"
#: The most bytes of headers a request may send before they are complete.
MAX_HEADER_BYTES = 64 * 1024
#: Open connections beyond this get a 503 (each holds a file descriptor).
MAX_CONNECTIONS = 256
#: Seconds a kept connection may stay silent between requests.
KEEP_ALIVE_S = 5
#: Seconds the open connections (a run's live progress) get to end on Ctrl-C or SIGTERM.
SHUTDOWN_S = 3


def _size(text: str) -> int:
    """``20M``, ``512K``, ``1G`` or bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``engine serve``."""
    parser.add_argument("dir", nargs="?", type=Path, default=Path("."), metavar="DIR",
                        help="the folder of specs (default: the current folder)")  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8765, help="port (default: %(default)s)")
    parser.add_argument(
        "--token",
        help=f"access token, required off loopback (or set {TOKEN_ENV}); '-' makes one up",
    )
    parser.add_argument(
        "--max-upload", type=_size, default="20M", help="largest upload (default: 20M)"
    )
    parser.add_argument(
        "--read-timeout",
        type=_seconds,
        default=READ_TIMEOUT_S,
        metavar="SECONDS",
        help="a request's headers must arrive within this, and its body never pause longer"
        " (default: %(default)g)",
    )
    parser.add_argument(
        "--request-timeout",
        type=_seconds,
        default=REQUEST_TIMEOUT_S,
        metavar="SECONDS",
        help="an answer not started within this is a 504 (default: %(default)g)",
    )
    parser.add_argument(
        "--validation-timeout",
        type=_seconds,
        default=VALIDATION_TIMEOUT_S,
        metavar="SECONDS",
        help="a spec whose validation takes longer is shown as invalid (default: %(default)g)",
    )
    parser.add_argument(
        "--author",
        default="urn:specengine:reviewer",
        metavar="IRI",
        help="the author_id of the review page's decisions when its form gives none"
        " (an ORCID: orcid:0000-...; default: %(default)s)",
    )
    parser.add_argument(
        "--pass-env",
        action="append",
        default=[],
        metavar="NAME",
        help="let the specs read this environment variable (auth.password_env, token_env...);"
        " repeatable. None is passed by default: any spec of DIR can send a passed"
        " variable's value to the endpoint it names",
    )


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of seconds above 0: {text!r}")
    return value


def server_config(app: ASGIApp, host: str, port: int, read_timeout_s: float) -> uvicorn.Config:
    """uvicorn's settings for the web interface: bounded reads, connections and shutdown.

    uvicorn alone waits forever for the rest of a half-sent request (see
    engine.web.limits.guarded_protocol); here the headers must be complete
    within ``read_timeout_s`` and no larger than MAX_HEADER_BYTES, at most
    MAX_CONNECTIONS are served at once, and a stop (Ctrl-C, SIGTERM) does not
    wait more than SHUTDOWN_S for the open connections.
    """
    import uvicorn

    from engine.web.limits import guarded_protocol

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=guarded_protocol(read_timeout_s),
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=SHUTDOWN_S,
        lifespan="off",
    )


def allowed_hosts(host: str) -> list[str] | None:
    """The Host headers accepted when serving on ``host``: local names on loopback, else any.

    Against DNS rebinding: on loopback, only a local name reaches the app. The
    bind address itself is one (``--host 127.0.0.2`` is loopback too).
    """
    from engine.web.security import is_loopback

    if not is_loopback(host):
        return None
    hosts = ["127.0.0.1", "localhost", "[::1]", "::1"]
    bare = host.strip("[]")
    # An IPv6 address arrives in brackets (Host: [::2]:8765).
    for name in (bare, f"[{bare}]") if ":" in bare else (bare,):
        if name not in hosts:
            hosts.append(name)
    return hosts


def command(args: argparse.Namespace) -> int:
    """Check the options, then serve until interrupted."""
    import uvicorn

    from engine.environment import Environment
    from engine.web.app import create_app
    from engine.web.security import is_loopback

    token = args.token or os.environ.get(TOKEN_ENV) or None
    if token == "-":
        token = secrets.token_urlsafe(24)
    if not is_loopback(args.host) and not token:
        print(
            f"engine: serve: refusing to listen on {args.host} (not loopback) without a token:"
            f" give --token TOKEN (or '-' for a random one) or set {TOKEN_ENV}",
            file=sys.stderr,
        )
        return EXIT_SPEC
    folder = args.dir.resolve()
    if not folder.is_dir():
        print(f"engine: serve: {args.dir} is not a folder", file=sys.stderr)
        return EXIT_SPEC
    if TOKEN_ENV in args.pass_env:
        print(
            f"engine: serve: --pass-env {TOKEN_ENV}: the server's own token is never passed"
            " to the specs",
            file=sys.stderr,
        )
        return EXIT_SPEC
    unset = [name for name in args.pass_env if name not in os.environ]
    if unset:
        print(f"engine: serve: --pass-env: not set: {', '.join(unset)}", file=sys.stderr)
        return EXIT_SPEC
    app = create_app(
        folder,
        token=token,
        max_upload=args.max_upload,
        allowed_hosts=allowed_hosts(args.host),
        environment=Environment.passed(args.pass_env),
        request_timeout_s=args.request_timeout,
        validation_timeout_s=args.validation_timeout,
        author=args.author,
    )
    shown = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown}:{args.port}/" + (f"?token={token}" if token else "")
    print(f"serving {folder} on {url}", file=sys.stderr, flush=True)
    uvicorn.Server(server_config(app, args.host, args.port, args.read_timeout)).run()
    return EXIT_OK
