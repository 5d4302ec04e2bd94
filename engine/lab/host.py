"""The lab storage host: the lab image booted under QEMU, reachable by SSH and iSCSI on loopback.

``start`` boots the image built from ``specs/lab/storage-host.yaml`` (OpenZFS,
tgt, sshd) with a second virtio disk for the pool, SSH and iSCSI forwarded to
127.0.0.1, and QEMU's user network restricted (the guest reaches nothing
outside). Everything the lab needs lives in one folder:

* ``host_key`` (the guest's only SSH host key, passed with ``-fw_cfg`` and
  pinned in ``known_hosts`` before the guest starts), ``admin_key`` (root's
  key, also through fw_cfg) and ``engine_key`` (the restricted key the
  storage-host playbook installs later);
* ``root.qcow2``, an overlay on the image (the cached image is never
  written), and ``pool.qcow2``, the pool disk: both are kept across restarts,
  so a pool survives ``stop`` and ``start``;
* ``lab.json`` (PID, ports, paths) and ``lab.env`` (the same for a shell);
* ``console.log``, ``qemu.out``, ``qemu.err``.

QEMU runs detached from the caller (its own session), so the lab outlives
``engine lab start``; ``stop`` ends it by its PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import DataError
from engine.hosts.qemu import Drive, Forward, qemu_argv, qemu_binary

__all__ = [
    "DEFAULT_DIR",
    "POOL_DEVICE",
    "Lab",
    "build_image",
    "env_text",
    "read_state",
    "start",
    "status",
    "stop",
]

#: Where ``engine lab`` keeps its lab unless told otherwise.
DEFAULT_DIR = Path(".lab")
_POOL_SERIAL = "pool"
#: The pool disk inside the guest (the serial number of its virtio drive names it).
POOL_DEVICE = f"/dev/disk/by-id/virtio-{_POOL_SERIAL}"
HOST = "127.0.0.1"
_CONSOLE_SHOWN = 40
_TOOLS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
}
_POWEROFF_WAIT_S = 90.0
_KILL_WAIT_S = 15.0
#: QEMU processes started by this process: kept so they are reaped, not left as zombies.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Lab:
    """A running lab storage host, as ``start`` or ``status`` found it."""

    folder: Path
    pid: int
    ssh_port: int
    iscsi_port: int
    known_hosts: Path
    admin_key: Path
    engine_key: Path
    pool_device: str = POOL_DEVICE

    @property
    def engine_public_key(self) -> Path:
        """The restricted key's public half (what the storage-host playbook installs)."""
        return self.engine_key.with_name(self.engine_key.name + ".pub")

    def ssh_argv(self, key: Path | None = None, user: str = "root") -> list[str]:
        """An ``ssh`` command line to the guest with its host key pinned (admin key by default)."""
        return [
            "ssh",
            # No user or system configuration: the lab's options are all there is.
            "-F",
            "none",
            "-i",
            str(key or self.admin_key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "LogLevel=ERROR",
            "-p",
            str(self.ssh_port),
            f"{user}@{HOST}",
        ]

    def admin_ssh(
        self, *argv: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` as root on the guest through the admin key; its output as text.

        The words are quoted for the remote shell, so they arrive as given;
        for a pipeline pass ``"sh", "-c", "..."``. With ``check``, a non-zero
        exit raises :class:`DataError` with the command's standard error.
        """
        command = shlex.join(argv)
        try:
            done = subprocess.run(
                [*self.ssh_argv(), command],
                capture_output=True,
                text=True,
                check=False,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise DataError(
                str(self.folder), f"`{command}` timed out after {timeout:g} s"
            ) from None
        if check and done.returncode != 0:
            raise DataError(
                str(self.folder),
                f"`{command}` failed on the lab host (exit {done.returncode}):"
                f" {done.stderr.strip()[-2000:]}",
            )
        return done


# --------------------------------------------------------------------------- files


def _keygen(path: Path, comment: str) -> None:
    """An ed25519 key pair at ``path`` (kept if it exists: the lab keeps its identity)."""
    if path.is_file() and path.with_name(path.name + ".pub").is_file():
        return
    path.unlink(missing_ok=True)
    done = subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise DataError(str(path), f"ssh-keygen failed: {done.stderr.strip()}")


def _public_key(path: Path) -> str:
    """``TYPE BASE64`` of a public key file, without its comment."""
    fields = path.read_text(encoding="utf-8").split()
    return f"{fields[0]} {fields[1]}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        # As QEMU binds its forwards: a port whose last connections linger in
        # TIME_WAIT (a lab just stopped) is free for it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def _ssh_banner(port: int, timeout: float) -> bool:
    """Whether an SSH server answers on ``port`` with its identification line."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def _qemu_img(path: Path, *argv: str) -> str:
    """Run ``qemu-img`` on ``path`` (the file named in errors); its standard output."""
    done = subprocess.run(["qemu-img", *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DataError(str(path), f"qemu-img {argv[0]} failed: {done.stderr.strip()}")
    return done.stdout


def _identity(disk: Path) -> list[int]:
    """What tells the base image apart from one rebuilt at the same path."""
    facts = disk.stat()
    return [facts.st_dev, facts.st_ino, facts.st_size, facts.st_mtime_ns]


def _root_overlay(disk: Path, folder: Path, previous: dict[str, Any]) -> Path:
    """``root.qcow2`` backed by ``disk``: reused when it still sits on the very same image.

    An overlay on a base that changed underneath it reads garbage, so a
    rebuilt image (another inode, size or mtime) means a fresh overlay.
    """
    root = folder / "root.qcow2"
    if root.is_file():
        info = json.loads(_qemu_img(root, "info", "--output=json", "-U", str(root)))
        backing = info.get("full-backing-filename") or info.get("backing-filename")
        same_base = backing == str(disk) and previous.get("disk_identity") == _identity(disk)
        if same_base:
            return root
        print(f"lab: {disk} changed since the last start: new root overlay", file=sys.stderr)
        root.unlink()
    _qemu_img(root, "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(disk), str(root))
    return root


def _pool_disk(folder: Path, size: str) -> Path:
    """``pool.qcow2``, made once: a pool on it survives a lab restart."""
    pool = folder / "pool.qcow2"
    if not pool.is_file():
        _qemu_img(pool, "create", "-q", "-f", "qcow2", str(pool), size)
    return pool


def env_text(lab: Lab) -> str:
    """``lab.env``: the lab's ports and key paths as shell assignments (``source`` it)."""
    values = {
        "LAB_HOST": HOST,
        "LAB_SSH_PORT": str(lab.ssh_port),
        "LAB_ISCSI_PORT": str(lab.iscsi_port),
        "LAB_KNOWN_HOSTS": str(lab.known_hosts.resolve()),
        "LAB_ADMIN_KEY": str(lab.admin_key.resolve()),
        "LAB_ENGINE_KEY": str(lab.engine_key.resolve()),
        "LAB_ENGINE_PUBLIC_KEY": str(lab.engine_public_key.resolve()),
        "LAB_POOL_DEVICE": lab.pool_device,
    }
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in values.items())


def read_state(folder: Path) -> dict[str, Any]:
    """``lab.json`` of ``folder`` (PID, ports, paths, boot time); empty when there is none."""
    try:
        data: dict[str, Any] = json.loads((folder / "lab.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data


def _write_atomic(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    temp.replace(path)


def _lab_from(folder: Path, state: dict[str, Any]) -> Lab:
    return Lab(
        folder=folder,
        pid=int(state["pid"]),
        ssh_port=int(state["ssh_port"]),
        iscsi_port=int(state["iscsi_port"]),
        known_hosts=Path(state["known_hosts"]),
        admin_key=Path(state["admin_key"]),
        engine_key=Path(state["engine_key"]),
        pool_device=str(state.get("pool_device", POOL_DEVICE)),
    )


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no console output)"
    return "\n".join(lines[-_CONSOLE_SHOWN:]) or "(no console output)"


# --------------------------------------------------------------------------- process


def _is_lab_qemu(pid: int, folder: Path) -> bool:
    """Whether ``pid`` is alive and is this lab's QEMU (not a recycled PID)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    if stat.rpartition(")")[2].split()[:1] == ["Z"]:
        _reap(pid)
        return False
    words = [word.decode(errors="replace") for word in cmdline.split(b"\0")]
    marks = (str(folder), str(folder).replace(",", ",,"))  # as QEMU options quote it
    return "qemu" in Path(words[0]).name and any(m in word for word in words for m in marks)


def _reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child (else it is init's business)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _wait_gone(pid: int, folder: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _reap(pid)
        if not _is_lab_qemu(pid, folder):
            return True
        time.sleep(0.5)
    return False


def _qemu_argv(
    folder: Path,
    root: Path,
    pool: Path,
    memory_mb: int,
    ssh_port: int,
    iscsi_port: int,
) -> list[str]:
    return qemu_argv(
        qemu=qemu_binary("lab"),
        name="specengine-lab",
        memory_mb=memory_mb,
        console=folder / "console.log",
        # Root first (/dev/vda, the boot disk), then the pool (/dev/vdb, by id virtio-pool).
        drives=[Drive(root), Drive(pool, serial=_POOL_SERIAL)],
        forwards=[Forward(ssh_port, 22), Forward(iscsi_port, 3260)],
        # The guest reaches nothing outside; the forwards still work.
        restrict_network=True,
        # Only the devices above: no CD-ROM, no VGA, no default NIC or monitor.
        no_defaults=True,
        fw_cfg={
            "opt/specengine/host_key": folder / "host_key",
            "opt/specengine/admin_key": folder / "admin_key.pub",
        },
    )


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    _CHILDREN.pop(process.pid, None)


def start(
    disk: Path,
    folder: Path,
    *,
    pool_disk_size: str = "4G",
    memory_mb: int = 2048,
    timeout_s: float = 400,
    ssh_port: int | None = None,
    iscsi_port: int | None = None,
) -> Lab:
    """Boot the lab image ``disk`` with its state in ``folder``; return once root can log in.

    Free ports are picked when none are given (the previous start's, when
    still free, so ``lab.env`` stays valid). Raises :class:`DataError`, with
    the console's last lines, when QEMU stops or SSH does not answer within
    ``timeout_s``.
    """
    disk = disk.resolve()
    folder = folder.resolve()
    for tool, package in _TOOLS.items():
        if shutil.which(tool) is None:
            raise DataError("lab", f"{tool} not found: apt-get install {package}")
    if not disk.is_file():
        raise DataError(str(disk), "no such image: build it first (engine run SPEC)")
    running = status(folder)
    if running is not None:
        raise DataError(str(folder), f"a lab is already running there (PID {running.pid})")
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)  # private keys inside
    previous = read_state(folder)
    for name, comment in (
        ("host_key", "specengine-lab-host"),
        ("admin_key", "specengine-lab-admin"),
        ("engine_key", "specengine-lab-engine"),
    ):
        _keygen(folder / name, comment)
    if ssh_port is not None and ssh_port == iscsi_port:
        raise DataError(str(folder), "the SSH and iSCSI ports must differ")
    ports: dict[str, int] = {}
    for name, given in (("ssh_port", ssh_port), ("iscsi_port", iscsi_port)):
        earlier = previous.get(name)
        taken = set(ports.values()) | {ssh_port, iscsi_port}
        if given is not None:
            ports[name] = given
        elif isinstance(earlier, int) and earlier not in taken and _port_free(earlier):
            ports[name] = earlier
        else:
            ports[name] = next(p for p in iter(_free_port, None) if p not in taken)
    known_hosts = folder / "known_hosts"
    host_line = f"[{HOST}]:{ports['ssh_port']} {_public_key(folder / 'host_key.pub')}\n"
    _write_atomic(known_hosts, host_line)
    root = _root_overlay(disk, folder, previous)
    pool = _pool_disk(folder, pool_disk_size)
    argv = _qemu_argv(folder, root, pool, memory_mb, ports["ssh_port"], ports["iscsi_port"])
    console = folder / "console.log"
    console.unlink(missing_ok=True)
    started = time.monotonic()
    with (folder / "qemu.out").open("wb") as out, (folder / "qemu.err").open("wb") as err:
        # Its own session: a Ctrl-C meant for the caller does not reach the lab.
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
        )
    _CHILDREN[process.pid] = process
    lab = Lab(
        folder=folder,
        pid=process.pid,
        ssh_port=ports["ssh_port"],
        iscsi_port=ports["iscsi_port"],
        known_hosts=known_hosts,
        admin_key=folder / "admin_key",
        engine_key=folder / "engine_key",
    )
    try:
        boot_s = _wait_for_ssh(lab, process, started, timeout_s)
    except BaseException:
        _kill(process)
        raise
    state = {
        "pid": lab.pid,
        "ssh_port": lab.ssh_port,
        "iscsi_port": lab.iscsi_port,
        "host": HOST,
        "disk": str(disk),
        "disk_identity": _identity(disk),
        "root": str(root),
        "pool": str(pool),
        "pool_device": lab.pool_device,
        "known_hosts": str(known_hosts),
        "host_key": str(folder / "host_key"),
        "admin_key": str(lab.admin_key),
        "engine_key": str(lab.engine_key),
        "engine_public_key": str(lab.engine_public_key),
        "console": str(console),
        "boot_s": round(boot_s, 1),
        "argv": argv,
    }
    _write_atomic(folder / "lab.json", json.dumps(state, indent=2) + "\n")
    _write_atomic(folder / "lab.env", env_text(lab))
    return lab


def _wait_for_ssh(
    lab: Lab, process: subprocess.Popen[bytes], started: float, timeout_s: float
) -> float:
    """Seconds from QEMU's start until ``ssh root@guest true`` succeeds."""
    console = lab.folder / "console.log"
    last = ""
    while (left := started + timeout_s - time.monotonic()) > 0:
        if process.poll() is not None:
            error = (lab.folder / "qemu.err").read_text(encoding="utf-8", errors="replace")
            raise DataError(
                str(lab.folder),
                f"QEMU stopped (exit {process.returncode}) before SSH answered:"
                f" {error.strip()}\nconsole:\n{_tail(console)}",
            )
        # The banner first: a forwarded port accepts long before the guest's
        # sshd answers, and a socket read is much cheaper than an ssh client.
        if not _ssh_banner(lab.ssh_port, min(3.0, left)):
            last = "no SSH banner yet"
            time.sleep(1)
            continue
        try:
            done = lab.admin_ssh("true", check=False, timeout=max(5.0, min(30.0, left)))
        except DataError as exc:
            last = exc.message
        else:
            if done.returncode == 0:
                return time.monotonic() - started
            last = done.stderr.strip()
        time.sleep(1)
    raise DataError(
        str(lab.folder),
        f"no SSH login within {timeout_s:g} s (last: {last or 'no answer'})"
        f"\nconsole:\n{_tail(console)}",
    )


def status(folder: Path) -> Lab | None:
    """The lab running with its state in ``folder``, or None."""
    folder = folder.resolve()
    state = read_state(folder)
    if not state or not _is_lab_qemu(int(state.get("pid", 0)), folder):
        return None
    return _lab_from(folder, state)


def stop(folder: Path) -> bool:
    """Stop the lab in ``folder``: ``poweroff`` through SSH, else kill QEMU; True if it ran.

    The disks and keys stay: the next ``start`` finds the pool as it was.
    """
    lab = status(folder)
    if lab is None:
        return False
    folder = lab.folder
    # A clean shutdown lets ZFS close the pool; the kill is the fallback.
    try:
        done = lab.admin_ssh("systemctl", "poweroff", check=False, timeout=30)
    except DataError:
        sent = False
    else:
        # 255 with "closed": the guest went down under the session, as it should.
        sent = done.returncode == 0 or "closed" in done.stderr
    if sent and _wait_gone(lab.pid, folder, _POWEROFF_WAIT_S):
        return True
    for signum in (signal.SIGTERM, signal.SIGKILL):
        if not _is_lab_qemu(lab.pid, folder):
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(lab.pid, signum)
        if _wait_gone(lab.pid, folder, _KILL_WAIT_S):
            break
    else:
        raise DataError(str(folder), f"QEMU (PID {lab.pid}) did not stop")
    return True


# --------------------------------------------------------------------------- image


def build_image(spec_file: Path, *, progress: bool = False) -> Path:
    """Build the image spec (or reuse its cached build); the cache entry's ``disk.qcow2``.

    Only the build step runs: a lab boots from the content-addressed cache entry
    (through an overlay, so the entry is never written), not from the recipe's
    output folder, which two labs built at once would both want to write.
    """
    from engine import build_plan, image, load_spec, run
    from engine.plan import Plan
    from schemas.image import ImageSpec

    spec = load_spec(spec_file)
    if not isinstance(spec, ImageSpec):
        raise DataError(str(spec_file), f"a lab boots an image spec; this is a {spec.kind} spec")
    if "qcow2" not in spec.formats:
        raise DataError(str(spec_file), "a lab boots the qcow2 format: add it to formats")
    plan = build_plan(spec, spec_file)
    only_build = tuple(step for step in plan.steps if isinstance(step, image.Build))
    plan = Plan(plan.kind, plan.name, plan.spec_file, only_build)
    state = run(plan, spec, progress=progress)
    return Path(state.cache) / "disk.qcow2"
