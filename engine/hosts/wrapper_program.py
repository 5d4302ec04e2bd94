#!/usr/bin/python3 -I
# specengine-zfs-wrapper: the forced command of one volume pool's storage key.
#
# Written by specengine (engine setup) for the spec SPEC_NAME from its program,
# engine/hosts/wrapper_program.py, with the pool's values between the two "pool"
# lines below: regenerate it (engine setup), do not edit it. It runs
# SSH_ORIGINAL_COMMAND only if it is exactly one of the commands the engine
# issues, on volumes under BASE, by execve of an absolute path: never through a
# shell. Before it acts it asks the host what the command would touch (tgtadm
# --op show, zfs get), and acts only on targets and volumes of this pool that
# this spec made. Anything else is refused with exit status 126.
#
# The storage host runs it with its own python3 (3.9 or later), isolated (-I) so
# no PYTHON* variable or site directory of the host changes what it imports: the
# standard library only, nothing of the engine.

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import re
import shlex
import subprocess
import sys
import time
import typing

# fmt: off
# >>> pool: engine/hosts/wrapper.py writes these values for one pool (repr of checked values)
BASE = 'tank/specengine'
SPEC_NAME = 'lab'
IQN_PREFIX = 'iqn.2010-10.org.openstack:'
ARGUMENTS = ['--base', 'tank/specengine', '--spec', 'lab', '--iqn-prefix', 'iqn.2010-10.org.openstack:']
ZFS = '/usr/sbin/zfs'
TGTADM = '/usr/sbin/tgtadm'
REFUSED = 126
BUSY = 75
TGT_CONF_DIR = '/etc/tgt/conf.d'
LOCK_DIR = '/run/lock'
LIST_COLUMNS = 'name,type,volsize,used,available,origin,org.specengine:spec'
OWNER = 'org.specengine:spec'
OWNER_QUERY = ['get', '-H', '-p', '-o', 'value', '-s', 'local', 'org.specengine:spec']
VOLSIZE_QUERY = ['get', '-H', '-p', '-o', 'value', 'volsize']
SHOW_QUERY = ['--lld', 'iscsi', '--mode', 'target', '--op', 'show']
NAME_PATTERN = '[A-Za-z0-9][A-Za-z0-9_.-]{0,63}'
IQN_PATTERN = 'iqn\\.[0-9]{4}-[0-9]{2}\\.[a-z0-9.-]+(:[A-Za-z0-9._:-]+)?'
IQN_MAX = 223
# <<< pool
# fmt: on

MAX_LINE = 1024
# Shell metacharacters, quotes and escapes: the engine never sends them, so a
# line with one is an attempt to reach a shell, whatever the split makes of it.
FORBIDDEN = frozenset(";&|$`<>(){}*?[]~!#'\"\\")
NAME = re.compile(NAME_PATTERN)
IQN = re.compile(IQN_PATTERN)
SIZE = re.compile(r"[1-9][0-9]{0,17}[KMGT]?")
TID = re.compile(r"[1-9][0-9]{0,8}")
IPV4 = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")
DEVICES = "/dev/zvol/"
TARGET = re.compile(r"Target ([0-9]+): (\S+)$")
BACKING = re.compile(r"\s+Backing store path: (\S+)$")
# The tools get a fixed environment: nothing the client or sshd set (LD_*,
# locale) changes what they do or how their output parses.
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}

if typing.TYPE_CHECKING:  # for mypy only: annotations are never evaluated on the host
    Words = list[str]
    Check = typing.Callable[[Words], None]
    Command = typing.Callable[[Words], int]
    Matcher = str | typing.Callable[[str], bool]


class Refused(Exception):
    """The line is not one the engine issues, or the host says it would reach past the pool."""


class Failed(Exception):
    """One of the wrapper's own commands failed (its message says where)."""


def is_name(word: str) -> bool:
    return NAME.fullmatch(word) is not None and ".." not in word


def is_dataset(word: str) -> bool:
    prefix = BASE + "/"
    return word.startswith(prefix) and is_name(word[len(prefix) :])


def is_snapshot(word: str) -> bool:
    volume, at, snap = word.partition("@")
    return at == "@" and is_dataset(volume) and is_name(snap)


def is_size(word: str) -> bool:
    return SIZE.fullmatch(word) is not None


def is_volsize(word: str) -> bool:
    return word.startswith("volsize=") and is_size(word[len("volsize=") :])


def is_tid(word: str) -> bool:
    return TID.fullmatch(word) is not None


def is_iqn(word: str) -> bool:
    return len(word) <= IQN_MAX and IQN.fullmatch(word) is not None


def is_address(word: str) -> bool:
    if word == "ALL":
        return True
    if IPV4.fullmatch(word) is None:
        return False
    try:
        ipaddress.IPv4Address(word)  # refuses 256 and leading zeros
    except ValueError:
        return False
    return True


def is_owner(word: str) -> bool:
    # This spec's name and no other: the key cannot make what another spec
    # would take for its own (and so destroy).
    return word == f"{OWNER}={SPEC_NAME}"


def is_acl(word: str) -> bool:
    entries = word.split(",")
    return len(entries) <= 64 and all(is_address(e) or is_iqn(e) for e in entries)


def run(tool: str, words: Words) -> subprocess.CompletedProcess[bytes]:
    """Run a tool by argv with the fixed environment, never through a shell."""
    return subprocess.run(
        [tool, *words],
        env=ENV,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )


def message(done: subprocess.CompletedProcess[bytes]) -> str:
    text = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
    return text[-300:] or f"exit {done.returncode}"


# -- what the host says: asked before acting, read-only ----------------------


def ask(tool: str, words: Words, what: str) -> str:
    """A read-only question to the host; what cannot be answered is not allowed."""
    try:
        done = run(tool, words)
    except OSError as error:
        raise Refused(f"cannot check {what}: {error}") from None
    if done.returncode != 0:
        raise Refused(f"cannot check {what}: {message(done)}")
    return done.stdout.decode("utf-8", "replace")


def made_here(name: str) -> None:
    """Refuse unless this spec made the volume or snapshot (its owner set there, at creation)."""
    owner = ask(ZFS, [*OWNER_QUERY, name], name).strip()
    if owner != SPEC_NAME:
        found = repr(owner) if owner else "not set on it"
        raise Refused(f"{name} was not made by spec {SPEC_NAME} ({OWNER}: {found})")


def volsize(name: str) -> int:
    text = ask(ZFS, [*VOLSIZE_QUERY, name], name).strip()
    if not text.isdigit():
        raise Refused(f"cannot check {name}: volsize {text[:40]!r} is not a number of bytes")
    return int(text)


def size_bytes(word: str) -> int:
    # zfs reads K, M, G, T as powers of 1024.
    if word[-1] in "KMGT":
        return int(word[:-1]) << 10 * ("KMGT".index(word[-1]) + 1)
    return int(word)


def iqn_of(dataset: str) -> str:
    return IQN_PREFIX + dataset[len(BASE) + 1 :]


def targets() -> dict[str, tuple[str, Words]]:
    """tgtd's targets, from tgtd itself: tid -> (IQN, backing store paths)."""
    found: dict[str, tuple[str, Words]] = {}
    current = None
    for line in ask(TGTADM, SHOW_QUERY, "tgtd's targets").splitlines():
        target = TARGET.match(line)
        if target:
            current = found[target.group(1)] = (target.group(2), [])
            continue
        backing = BACKING.match(line)
        if backing and current is not None and backing.group(1) != "None":
            current[1].append(backing.group(1))
    return found


def pool_target(tid: str, dataset: str | None = None) -> None:
    """Refuse unless target TID is this pool's, by its IQN AND by what it exports.

    tgt's target ids are the whole host's: a tid alone says nothing of whose
    target it is. The pool's IQN prefix alone is not enough either (another
    pool may share it): every backing store must be a volume under BASE that
    this spec made. With DATASET (an unexport, whose caller checked who made
    it), the target must export that volume and nothing else; one without a
    LUN (an export stopped half-way) must carry that volume's own IQN.
    """
    found = targets().get(tid)
    if found is None:
        raise Refused(f"no target {tid} on this host")
    iqn, paths = found
    if not iqn.startswith(IQN_PREFIX):
        raise Refused(
            f"target {tid} ({iqn}) is not this pool's: its IQN does not start with {IQN_PREFIX}"
        )
    volumes = []
    for path in paths:
        volume = path[len(DEVICES) :] if path.startswith(DEVICES) else ""
        if not is_dataset(volume):
            raise Refused(
                f"target {tid} ({iqn}) is not this pool's:"
                f" it exports {path}, not a volume under {BASE}"
            )
        volumes.append(volume)
    if dataset is None and not volumes:
        raise Refused(f"target {tid} ({iqn}) exports no volume")
    if dataset is not None:
        others = sorted(set(volumes) - {dataset})
        if others:
            raise Refused(f"target {tid} ({iqn}) exports {', '.join(others)}, not only {dataset}")
        if not volumes and iqn != iqn_of(dataset):
            raise Refused(
                f"target {tid} ({iqn}) exports no volume and is not {dataset}'s ({iqn_of(dataset)})"
            )
        return
    for volume in sorted(set(volumes)):
        made_here(volume)


# -- the checks of each shape: what the plan can ask, and nothing more --------


def check_grow(words: Words) -> None:
    dataset, wanted = words[3], size_bytes(words[2][len("volsize=") :])
    made_here(dataset)
    current = volsize(dataset)
    if wanted <= current:
        raise Refused(
            f"{words[2]} would not grow {dataset} ({current} bytes now): volumes are only grown"
        )


def check_snapshot(words: Words) -> None:
    made_here(words[-1].partition("@")[0])


def check_made_here(words: Words) -> None:
    made_here(words[-1])


def check_binding(words: Words) -> None:
    pool_target(words[8])


def exported_as(dataset: str, iqn: str) -> None:
    # The pool's volume under its own name: the prefix and the volume's name.
    if iqn != iqn_of(dataset):
        raise Refused(f"{dataset} is exported as {iqn_of(dataset)}, not {iqn}")
    made_here(dataset)


def check_export(words: Words) -> None:
    exported_as(words[1], words[3])


def check_unexport(words: Words) -> None:
    made_here(words[1])
    pool_target(words[2], words[1])


def check_tgt_save(words: Words) -> None:
    exported_as(words[1], words[2])


# -- the wrapper's own commands -----------------------------------------------


def conf_path(dataset: str) -> str:
    # "+" is in no ZFS name, so the file name cannot collide between datasets.
    return os.path.join(TGT_CONF_DIR, "specengine+{}.conf".format(dataset.replace("/", "+")))


def tgt_save(words: Words) -> int:
    """Persist one export as its own tgt configuration file (atomically)."""
    dataset, iqn, acl = words[1], words[2], words[3].split(",")
    lines = [
        f"# Written by specengine for {dataset}: engine run rewrites it.",
        f"<target {iqn}>",
        f"    backing-store /dev/zvol/{dataset}",
    ]
    for entry in acl:
        key = "initiator-name" if entry.startswith("iqn.") else "initiator-address"
        lines.append(f"    {key} {entry}")
    lines.append("</target>")
    path = conf_path(dataset)
    temporary = path + ".partial"
    with open(temporary, "w") as handle:
        handle.write("\n".join(lines) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return 0


def tgtadm(*words: str) -> None:
    """Run tgtadm on the iSCSI driver; a failure raises Failed with its message."""
    done = run(TGTADM, ["--lld", "iscsi", *words])
    if done.returncode != 0:
        raise Failed("tgtadm {}: {}".format(" ".join(words[:4]), message(done)))


def export(words: Words) -> int:
    """Export a volume whole or not at all: target, LUN 1, ACL, then its configuration file."""
    dataset, tid, iqn, acl = words[1], words[2], words[3], words[4].split(",")
    device = DEVICES + dataset
    # udev makes /dev/zvol/... a moment after zfs create or clone returns.
    for _ in range(600):
        if os.path.exists(device):
            break
        time.sleep(0.1)
    else:
        raise Failed(f"{device} did not appear within 60 s")
    # A tid already taken fails here: that target is not ours to delete.
    tgtadm("--mode", "target", "--op", "new", "--tid", tid, "--targetname", iqn)
    try:
        tgtadm(
            "--mode", "logicalunit", "--op", "new", "--tid", tid, "--lun", "1",
            "--backing-store", device,
        )  # fmt: skip
        for entry in acl:
            option = "--initiator-name" if entry.startswith("iqn.") else "--initiator-address"
            tgtadm("--mode", "target", "--op", "bind", "--tid", tid, option, entry)
        tgt_save([words[0], dataset, iqn, words[4]])
    except (Failed, OSError):
        # Never a half-exported volume: the target goes with whatever failed.
        with contextlib.suppress(Failed):
            tgtadm("--mode", "target", "--op", "delete", "--force", "--tid", tid)
        raise
    return 0


def unexport(words: Words) -> int:
    """Stop exporting a volume: its configuration file first, then the target."""
    dataset, tid = words[1], words[2]
    # The file first: a failure in between leaves a live target the next plan
    # sees, never a file that would bring the target back after a restart.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(conf_path(dataset))
    tgtadm("--mode", "target", "--op", "delete", "--tid", tid)
    return 0


def lock(words: Words) -> int:
    """Hold the pool's lock until the engine closes this channel (or its connection drops)."""
    os.makedirs(LOCK_DIR, exist_ok=True)
    path = os.path.join(LOCK_DIR, "specengine+{}.lock".format(BASE.replace("/", "+")))
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.stderr.write(f"specengine-wrapper: {BASE} is locked by another run\n")
        return BUSY
    sys.stdout.write(f"locked {BASE}\n")
    sys.stdout.flush()
    # No timeout: sshd closes stdin when the channel or the connection ends,
    # so a run that dies never leaves a stale lock behind.
    while sys.stdin.buffer.read(65536):
        pass
    return 0


ISCSI = ["--lld", "iscsi"]
# Each shape is the tool to run, the exact words of the line (a string must
# be equal, a function must accept the word) and what the host must say
# before it runs (None: nothing to ask). Nothing else is run.
SHAPES: list[tuple[str | Command, list[Matcher], Check | None]] = [
    (ZFS, ["zfs", "list", "-H", "-p", "-o", LIST_COLUMNS,
           "-t", "filesystem,volume,snapshot", "-r", BASE], None),
    (ZFS, ["zfs", "get", "-H", "-p", "-o", "name,value", "-s", "local",
           "-t", "volume,snapshot", "-r", OWNER, BASE], None),
    # A new volume, snapshot or clone carries this spec's name from its
    # creation: zfs refuses a name that exists, so no owner is ever changed.
    (ZFS, ["zfs", "create", "-V", is_size, "-o", is_owner, is_dataset], None),
    (ZFS, ["zfs", "create", "-s", "-V", is_size, "-o", is_owner, is_dataset], None),
    (ZFS, ["zfs", "set", is_volsize, is_dataset], check_grow),
    (ZFS, ["zfs", "snapshot", "-o", is_owner, is_snapshot], check_snapshot),
    # Cloning reads its origin, which may be another spec's (clone_of).
    (ZFS, ["zfs", "clone", "-o", is_owner, is_snapshot, is_dataset], None),
    (ZFS, ["zfs", "promote", is_dataset], check_made_here),
    (ZFS, ["zfs", "destroy", is_dataset], check_made_here),
    (ZFS, ["zfs", "destroy", is_snapshot], check_made_here),
    (TGTADM, ["tgtadm", *ISCSI, "--mode", "target", "--op", "show"], None),
    (TGTADM, ["tgtadm", *ISCSI, "--mode", "target", "--op", "bind", "--tid", is_tid,
              "--initiator-address", is_address], check_binding),
    (TGTADM, ["tgtadm", *ISCSI, "--mode", "target", "--op", "bind", "--tid", is_tid,
              "--initiator-name", is_iqn], check_binding),
    (TGTADM, ["tgtadm", *ISCSI, "--mode", "target", "--op", "unbind", "--tid", is_tid,
              "--initiator-address", is_address], check_binding),
    (TGTADM, ["tgtadm", *ISCSI, "--mode", "target", "--op", "unbind", "--tid", is_tid,
              "--initiator-name", is_iqn], check_binding),
    # The wrapper's own commands: run here, tools by argv, never a shell.
    (export, ["specengine-export", is_dataset, is_tid, is_iqn, is_acl], check_export),
    (unexport, ["specengine-unexport", is_dataset, is_tid], check_unexport),
    (tgt_save, ["specengine-tgt-save", is_dataset, is_iqn, is_acl], check_tgt_save),
    (lock, ["specengine-lock"], None),
]  # fmt: skip


def matches(shape: list[Matcher], words: Words) -> bool:
    if len(shape) != len(words):
        return False
    for want, word in zip(shape, words):  # noqa: B905 - zip(strict=) is 3.10's; lengths checked above
        if isinstance(want, str):
            if want != word:
                return False
        elif not want(word):
            return False
    return True


def parse(line: str | None) -> tuple[str | Command, Words, Check | None]:
    """The shape ``line`` matches: its tool, its words and its check; else :class:`Refused`."""
    if line is None:
        raise Refused("no command (interactive logins are not allowed)")
    if len(line) > MAX_LINE:
        raise Refused(f"command longer than {MAX_LINE} characters")
    for char in line:
        if char in FORBIDDEN:
            raise Refused(f"forbidden character {char!r}")
        if not " " <= char <= "~":
            raise Refused(f"control or non-ASCII character {char!r}")
    try:
        words = shlex.split(line)
    except ValueError as error:
        raise Refused(f"cannot split the command: {error}") from None
    if not words:
        raise Refused("empty command")
    for tool, shape, check in SHAPES:
        if matches(shape, words):
            return tool, words, check
    raise Refused(f"not an allowed command: {' '.join(words)[:200]!r}")


def main() -> int:
    try:
        # The pool is also in authorized_keys: a wrapper and a key line that
        # disagree are a broken install, and neither is trusted.
        if sys.argv[1:] != ARGUMENTS:
            raise Refused(
                "wrapper called with {!r}, expected {}".format(sys.argv[1:], " ".join(ARGUMENTS))
            )
        tool, words, check = parse(os.environ.get("SSH_ORIGINAL_COMMAND"))
        if check is not None:
            check(words)
    except Refused as refusal:
        sys.stderr.write(f"specengine-wrapper: refused: {refusal}\n")
        sys.stderr.flush()
        return REFUSED
    if callable(tool):
        try:
            return tool(words)
        except (Failed, OSError) as error:
            sys.stderr.write(f"specengine-wrapper: {words[0]} failed: {error}\n")
            return 1
    try:
        os.execve(tool, [tool, *words[1:]], ENV)
    except OSError as error:
        sys.stderr.write(f"specengine-wrapper: cannot run {tool}: {error}\n")
        return 127
    return 127  # not reached: execve replaced the process


if __name__ == "__main__":
    sys.exit(main())
