"""``engine serve [DIR]``: the web interface on a local port."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from engine.errors import EXIT_OK, EXIT_SPEC

__all__ = ["TOKEN_ENV", "add_arguments", "allowed_hosts", "command"]

#: The token may come from the environment rather than the command line (ps shows that).
TOKEN_ENV = "SPECENGINE_TOKEN"


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
        "--pass-env",
        action="append",
        default=[],
        metavar="NAME",
        help="let the specs read this environment variable (auth.password_env, token_env...);"
        " repeatable. None is passed by default: any spec of DIR can send a passed"
        " variable's value to the endpoint it names",
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
    )
    shown = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown}:{args.port}/" + (f"?token={token}" if token else "")
    print(f"serving {folder} on {url}", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return EXIT_OK
