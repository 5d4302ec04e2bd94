"""``engine lab start|stop|status``: the lab storage host from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.lab.host import DEFAULT_DIR, build_image, env_text, read_state, start, status, stop

__all__ = ["add_arguments", "command"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``lab`` subcommands (``start``, ``stop``, ``status``) on ``parser``."""
    commands = parser.add_subparsers(dest="lab_command", required=True, metavar="LAB_COMMAND")
    begin = commands.add_parser("start", help="build (cached) and boot a lab storage host")
    begin.add_argument(
        "spec", type=Path, metavar="SPEC", help="the image spec, e.g. specs/lab/storage-host.yaml"
    )
    begin.add_argument("--ssh-port", type=int, help="host port forwarded to the guest's 22")
    begin.add_argument("--iscsi-port", type=int, help="host port forwarded to the guest's 3260")
    begin.add_argument(
        "--pool-size", default="4G", help="size of the pool disk when it is made (%(default)s)"
    )
    halt = commands.add_parser("stop", help="power the lab off (its disks and keys stay)")
    show = commands.add_parser("status", help="show the running lab; exit 1 when none runs")
    for sub in (begin, halt, show):
        sub.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="lab folder (%(default)s)")


def command(args: argparse.Namespace) -> int:
    """Run the parsed ``lab`` subcommand; the exit code (errors raise :class:`DataError`)."""
    folder: Path = args.dir
    if args.lab_command == "start":
        disk = build_image(args.spec, progress=sys.stderr.isatty())
        lab = start(
            disk,
            folder,
            pool_disk_size=args.pool_size,
            ssh_port=args.ssh_port,
            iscsi_port=args.iscsi_port,
        )
        boot_s = read_state(lab.folder).get("boot_s")
        print(f"# lab up (PID {lab.pid}, SSH after {boot_s} s); source {folder / 'lab.env'}")
        print(env_text(lab), end="")
        return 0
    if args.lab_command == "stop":
        print("lab stopped" if stop(folder) else f"no lab running in {folder}")
        return 0
    lab_ = status(folder)
    if lab_ is None:
        print(f"no lab running in {folder}")
        return 1  # scripts can test it, as with systemctl is-active
    print(f"# lab running (PID {lab_.pid}) in {lab_.folder}")
    print(env_text(lab_), end="")
    return 0
