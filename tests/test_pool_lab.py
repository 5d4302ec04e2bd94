"""Volume pools end to end on the lab storage host: real OpenZFS, tgtd and sshd in QEMU.

The host is prepared by ``engine setup`` (admin key, storage-host.yml), then
``specs/lab/pool.yaml`` and variants of it are planned and applied through
the restricted key (volume-pool.yml's raw tasks through the wrapper). What
the engine claims is checked from outside, as an initiator sees it: libiscsi's
``iscsi-ls`` (discovery, in a network namespace where the guest's portal
address is reachable), ``iscsi-inq`` and ``iscsi-readcapacity16`` through the
forwarded portal, and data written and read back with QEMU's own iSCSI
initiator (``qemu-io``) across a tgtd restart.

The tests run in order and share one lab: each step starts from the state the
previous one left, as a user's successive runs would.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.cli import main
from engine.hosts.ssh import Session
from engine.lab import Lab, start, stop
from engine.lab.netns_relay import IscsiNamespace
from engine.volume_pool.diff import Export, parse_tgtadm
from tests.lab import lab_image
from tests.tools import require_tools

pytestmark = pytest.mark.slow

SPEC = Path(__file__).resolve().parent.parent / "specs" / "lab" / "pool.yaml"
BASE = "tank/openstack/volume"
IQN = "iqn.2010-10.org.openstack:"
M = 1 << 20


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A lab of its own (a fresh pool disk), its variables in the environment."""
    require_tools("qemu-system-x86 qemu-utils", "qemu-system-x86_64", "qemu-img")
    require_tools("libiscsi-bin", "iscsi-ls", "iscsi-inq", "iscsi-readcapacity16")
    booted = start(lab_image(), tmp_path_factory.mktemp("pool-lab"))
    saved = dict(os.environ)
    for line in (booted.folder / "lab.env").read_text().splitlines():
        name, _, value = line.partition("=")
        os.environ[name] = value
    try:
        yield booted
    finally:
        os.environ.clear()
        os.environ.update(saved)
        stop(booted.folder)


def engine(*argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def variant(tmp_path: Path, name: str, **changes: Any) -> Path:
    """specs/lab/pool.yaml with some keys replaced (the ${LAB_...} variables kept)."""
    data = yaml.safe_load(SPEC.read_text())
    data.update(changes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def readcapacity(lab: Lab, volume: str) -> int:
    url = f"iscsi://127.0.0.1:{lab.iscsi_port}/{IQN}{volume}/1"
    done = subprocess.run(
        ["iscsi-readcapacity16", url], capture_output=True, text=True, timeout=60, check=True
    )
    match = re.search(r"Total size:(\d+)", done.stdout)
    assert match, done.stdout
    return int(match.group(1))


def discovered(lab: Lab) -> dict[str, str]:
    """iscsi-ls -s as an initiator in the guest's network sees it: target -> LUN 1 size."""
    with IscsiNamespace(lab.iscsi_port) as namespace:
        done = namespace.run(["iscsi-ls", "-s", f"iscsi://{namespace.portal}"], check=True)
    found: dict[str, str] = {}
    target = None
    for line in done.stdout.splitlines():
        if line.startswith("Target:"):
            target = line.split()[0].removeprefix("Target:").removeprefix(IQN)
        elif line.startswith("Lun:1") and target is not None:
            size = re.search(r"Size:(\S+)\)", line)
            found[target] = size.group(1) if size else "?"
    return found


def qemu_io(lab: Lab, volume: str, command: str) -> subprocess.CompletedProcess[str]:
    url = f"iscsi://127.0.0.1:{lab.iscsi_port}/{IQN}{volume}/1"
    return subprocess.run(
        ["qemu-io", "-f", "raw", "-c", command, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_setup_prepares_the_host_with_the_admin_key(lab: Lab) -> None:
    code, _, err = engine("setup", "-q", str(SPEC))
    assert code == 0, err
    # The restricted key is in place, tied to the wrapper, and only that.
    keys = lab.admin_ssh("cat", "/root/.ssh/authorized_keys").stdout
    assert 'from="10.0.2.2",restrict,command="/usr/local/sbin/specengine-zfs-wrapper' in keys
    # Again: nothing breaks, the pool is not made twice.
    code, _, err = engine("setup", "-q", str(SPEC))
    assert code == 0, err


def test_plan_apply_and_apply_again_changes_nothing(lab: Lab) -> None:
    code, out, err = engine("plan", "--detailed-exitcode", str(SPEC))
    assert code == 2, err
    assert "+ create vol-db" in out and "+ clone vol-db-test" in out
    code, out, err = engine("run", str(SPEC))
    assert code == 0, err
    assert "2 create, 1 snapshot, 2 export, 1 clone" in out
    code, out, err = engine("plan", "--detailed-exitcode", str(SPEC))
    assert (code, "no changes" in out) == (0, True), out + err
    code, out, err = engine("run", str(SPEC))
    assert code == 0 and "no changes" in out, out + err


def test_exports_are_seen_by_initiators_with_their_sizes(lab: Lab) -> None:
    assert discovered(lab) == {"vol-db": "255M", "vol-db-test": "255M"}
    assert readcapacity(lab, "vol-db") == 256 * M
    assert readcapacity(lab, "vol-db-test") == 256 * M
    inquiry = subprocess.run(
        ["iscsi-inq", f"iscsi://127.0.0.1:{lab.iscsi_port}/{IQN}vol-db/1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "DIRECT_ACCESS" in inquiry.stdout
    # vol-scratch exists but is not exported.
    assert "vol-scratch" not in discovered(lab)
    assert lab.admin_ssh("zfs", "list", "-H", "-o", "name", f"{BASE}/vol-scratch").returncode == 0


def test_data_survives_a_tgtd_restart(lab: Lab) -> None:
    written = qemu_io(lab, "vol-db", "write -P 0x5a 0 1M")
    assert written.returncode == 0, written.stderr
    lab.admin_ssh("systemctl", "restart", "tgt")
    assert discovered(lab) == {"vol-db": "255M", "vol-db-test": "255M"}
    read = qemu_io(lab, "vol-db", "read -P 0x5a 0 1M")
    assert read.returncode == 0 and "read 1048576/1048576" in read.stdout, read.stdout
    code, out, _ = engine("plan", "--detailed-exitcode", str(SPEC))
    assert code == 0, out


GROWN: dict[str, Any] = {
    "volumes": [
        {"name": "vol-db", "size": "512M", "snapshots": ["nightly", "weekly"]},
        {"name": "vol-db-test", "clone_of": "vol-db@nightly"},
        {"name": "vol-scratch", "size": "64M", "export": False},
        {"name": "vol-db-copy", "clone_of": "vol-db@weekly"},
    ]
}


def test_grow_snapshot_clone_export(lab: Lab, tmp_path: Path) -> None:
    spec = variant(tmp_path, "grown", **GROWN)
    code, out, err = engine("run", str(spec))
    assert code == 0, err
    assert "1 grow, 1 snapshot, 1 reexport, 1 clone, 1 export" in out
    assert readcapacity(lab, "vol-db") == 512 * M
    assert readcapacity(lab, "vol-db-copy") == 512 * M
    # The data written before the grow is still there, and in the later clone.
    assert qemu_io(lab, "vol-db", "read -P 0x5a 0 1M").returncode == 0
    assert qemu_io(lab, "vol-db-copy", "read -P 0x5a 0 1M").returncode == 0
    assert engine("plan", "--detailed-exitcode", str(spec))[0] == 0


def test_unexport_and_export(lab: Lab, tmp_path: Path) -> None:
    spec = variant(
        tmp_path,
        "swapped",
        volumes=[
            {"name": "vol-db", "size": "512M", "snapshots": ["nightly", "weekly"]},
            {"name": "vol-db-test", "clone_of": "vol-db@nightly", "export": False},
            {"name": "vol-scratch", "size": "64M"},
            {"name": "vol-db-copy", "clone_of": "vol-db@weekly"},
        ],
    )
    code, out, err = engine("run", str(spec))
    assert code == 0, err
    assert "1 export, 1 unexport" in out
    assert set(discovered(lab)) == {"vol-db", "vol-scratch", "vol-db-copy"}
    files = lab.admin_ssh("ls", "/etc/tgt/conf.d").stdout.split()
    assert sorted(files) == sorted(
        f"specengine+{BASE.replace('/', '+')}+{name}.conf"
        for name in ("vol-db", "vol-scratch", "vol-db-copy")
    )
    # The unexported volume kept its data: export is not destroy.
    assert lab.admin_ssh("zfs", "list", "-H", f"{BASE}/vol-db-test").returncode == 0
    assert engine("plan", "--detailed-exitcode", str(spec))[0] == 0


def test_errors_before_anything_changes(lab: Lab, tmp_path: Path) -> None:
    before = lab.admin_ssh("zfs", "list", "-H", "-p", "-r", "-t", "all", "tank").stdout
    shrink = variant(tmp_path, "shrink", volumes=[{"name": "vol-db", "size": "128M"}])
    code, _, err = engine("run", str(shrink))
    assert code == 1 and "would shrink it" in err and "Traceback" not in err
    missing = variant(tmp_path, "missing", volumes=[{"name": "x", "clone_of": "vol-db@never"}])
    code, _, err = engine("run", str(missing))
    assert code == 1 and "vol-db@never, which does not exist" in err
    huge = variant(tmp_path, "huge", volumes=[{"name": "vol-huge", "size": "100G"}])
    code, _, err = engine("run", str(huge))
    assert code == 1 and "pool out of space" in err
    lab.admin_ssh("zfs", "create", "-V", "16M", f"{BASE}/foreign")
    foreign = variant(tmp_path, "foreign", volumes=[{"name": "foreign", "size": "16M"}])
    code, _, err = engine("run", str(foreign))
    assert code == 1 and "exists but was not made by this spec" in err
    lab.admin_ssh("systemctl", "stop", "tgt")
    try:
        code, _, err = engine("run", str(variant(tmp_path, "grown-again", **GROWN)))
        assert code == 1 and "tgtd does not answer" in err and "nothing was changed" in err
    finally:
        lab.admin_ssh("systemctl", "start", "tgt")
    after = lab.admin_ssh("zfs", "list", "-H", "-p", "-r", "-t", "all", "tank").stdout
    names = sorted(line.split("\t")[0] for line in after.splitlines())
    assert names == sorted(
        [*(line.split("\t")[0] for line in before.splitlines()), f"{BASE}/foreign"]
    )


def engine_session(lab: Lab) -> Session:
    """A session with the restricted key, as the engine opens it."""
    key, known = Path(os.environ["LAB_ENGINE_KEY"]), Path(os.environ["LAB_KNOWN_HOSTS"])
    return Session("127.0.0.1", lab.ssh_port, "root", key, known)


def test_a_second_run_is_refused_while_the_pool_is_locked(lab: Lab) -> None:
    with engine_session(lab) as session, session.lock():
        code, _, err = engine("run", str(SPEC))
        assert code == 1 and "another run holds the pool's lock" in err
    # Released with the connection: the lock can be taken again at once.
    with engine_session(lab) as session, session.lock():
        pass


def test_a_changed_host_key_is_refused(lab: Lab, tmp_path: Path) -> None:
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{lab.ssh_port} {(tmp_path / 'other.pub').read_text()}")
    spec = variant(
        tmp_path,
        "pinned",
        host={
            "address": "127.0.0.1",
            "port": lab.ssh_port,
            "user": "root",
            "key": os.environ["LAB_ENGINE_KEY"],
            "known_hosts": str(known),
            "trust_on_first_use": True,
        },
    )
    code, _, err = engine("plan", str(spec))
    assert code == 1 and "host key CHANGED" in err


def restricted(lab: Lab, line: str) -> subprocess.CompletedProcess[str]:
    """``line`` through the restricted key, as anyone holding it could send it."""
    ssh = [
        "ssh",
        "-i",
        os.environ["LAB_ENGINE_KEY"],
        "-o",
        f"UserKnownHostsFile={lab.known_hosts}",
        "-o",
        "BatchMode=yes",
        "-p",
        str(lab.ssh_port),
        "root@127.0.0.1",
    ]
    return subprocess.run([*ssh, line], capture_output=True, text=True, timeout=60, check=False)


def host_state(lab: Lab) -> tuple[list[Export], str, str]:
    """What a refused line must leave as it was: tgtd's targets, every dataset, tgt's files."""
    show = lab.admin_ssh("tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "show").stdout
    columns = "name,volsize,org.specengine:spec"
    datasets = lab.admin_ssh("zfs", "list", "-H", "-p", "-o", columns, "-r", "-t", "all", "tank")
    files = lab.admin_ssh("ls", "-l", "/etc/tgt/conf.d").stdout
    return parse_tgtadm(show), datasets.stdout, files


FOREIGN = "iqn.2010-10.org.example:"


@contextlib.contextmanager
def other_pools(lab: Lab) -> Iterator[dict[str, int]]:
    """Targets that are not the pool's, made with admin rights: name -> tid.

    tgt's target ids are the host's: ``elsewhere`` is another pool's target
    (its prefix, its volume), ``prefix`` carries the pool's IQN prefix but
    exports another pool's volume, ``foreign`` exports a volume under the
    base that this spec did not make (the admin's ``foreign``).
    """
    tids = {"elsewhere": 100, "prefix": 101, "foreign": 102}
    targets = {
        "elsewhere": (f"{FOREIGN}elsewhere", "/dev/zvol/tank/other/elsewhere"),
        "prefix": (f"{IQN}prefix", "/dev/zvol/tank/other/prefix"),
        "foreign": (f"{IQN}foreign", f"/dev/zvol/{BASE}/foreign"),
    }
    admin = lab.admin_ssh
    for name in ("elsewhere", "prefix"):
        admin("zfs", "create", "-p", "-V", "16M", f"tank/other/{name}")
    admin("udevadm", "settle")
    try:
        for name, (iqn, device) in targets.items():
            tid = str(tids[name])
            admin("tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", tid,
                  "--targetname", iqn)  # fmt: skip
            admin("tgtadm", "--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", tid,
                  "--lun", "1", "--backing-store", device)  # fmt: skip
            admin("tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", tid,
                  "--initiator-address", "192.0.2.1")  # fmt: skip
        yield tids
    finally:
        for number in tids.values():
            admin("tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "delete", "--force",
                  "--tid", str(number), check=False)  # fmt: skip
        admin("zfs", "destroy", "-r", "tank/other", check=False)


def test_hostile_lines_through_the_restricted_key_run_nothing(lab: Lab) -> None:
    for line in (
        f"zfs destroy -r {BASE}",
        "zfs destroy -R tank",
        "zfs list; touch /tmp/pwned",
        f"zfs destroy {BASE}/../../tank",
        "sh -c id",
        f"zfs create -V 1G -o mountpoint=/ {BASE}/x",
    ):
        done = restricted(lab, line)
        assert done.returncode == 126 and "refused" in done.stderr, (line, done.stderr)
    assert lab.admin_ssh("test", "-e", "/tmp/pwned", check=False).returncode == 1
    assert lab.admin_ssh("zfs", "list", "-H", BASE).returncode == 0


def test_the_restricted_key_reaches_nothing_beyond_its_pool(lab: Lab) -> None:
    bind = "tgtadm --lld iscsi --mode target --op bind --tid"
    unbind = "tgtadm --lld iscsi --mode target --op unbind --tid"
    with other_pools(lab) as tid:
        before = host_state(lab)
        (own,) = [e.tid for e in before[0] if e.iqn == f"{IQN}vol-db"]
        refused = {
            # Another pool's targets, by their host-wide ids.
            f"specengine-unexport {BASE}/vol-db {tid['elsewhere']}": "is not this pool's",
            f"{unbind} {tid['elsewhere']} --initiator-address 192.0.2.1": "is not this pool's",
            f"{bind} {tid['elsewhere']} --initiator-address ALL": "is not this pool's",
            f"{bind} {tid['prefix']} --initiator-address ALL": "not a volume under",
            f"{bind} {tid['foreign']} --initiator-address ALL": "was not made by spec lab-pool",
            f"specengine-unexport {BASE}/foreign {tid['foreign']}": "was not made by spec",
            f"specengine-unexport {BASE}/vol-db 999": "no target 999",
            # A tgt file tgtd would read at its next start, under a foreign IQN.
            f"specengine-tgt-save {BASE}/vol-db {FOREIGN}elsewhere ALL": "is exported as",
            f"specengine-export {BASE}/foreign 103 {IQN}foreign ALL": "was not made by spec",
            # No shrink, whatever the unit; no destroy, promote or snapshot of
            # what another made; the owner is this spec's, at creation only.
            f"zfs set volsize=1 {BASE}/vol-db": "would not grow",
            f"zfs set volsize=1M {BASE}/vol-db": "would not grow",
            f"zfs set volsize=512M {BASE}/vol-db": "would not grow",
            f"zfs set volsize=1G {BASE}/foreign": "was not made by spec",
            f"zfs destroy {BASE}/foreign": "was not made by spec",
            f"zfs promote {BASE}/foreign": "was not made by spec",
            f"zfs snapshot -o org.specengine:spec=lab-pool {BASE}/foreign@s": "was not made by",
            f"zfs create -V 16M -o org.specengine:spec=other {BASE}/claimed": "not an allowed",
            f"zfs set org.specengine:spec=lab-pool {BASE}/foreign": "not an allowed command",
            f"zfs destroy {BASE}/vol-db@weekly-gone": "cannot check",
        }
        for line, why in refused.items():
            done = restricted(lab, line)
            assert done.returncode == 126, (line, done.stderr)
            assert done.stderr.startswith("specengine-wrapper: refused: "), (line, done.stderr)
            assert why in done.stderr, (line, done.stderr)
        assert host_state(lab) == before
        # The pool's own target, found by tgtd's own answer: the same shapes pass.
        for line in (f"{bind} {own} --initiator-address 192.0.2.77",
                     f"{unbind} {own} --initiator-address 192.0.2.77"):  # fmt: skip
            done = restricted(lab, line)
            assert done.returncode == 0, (line, done.stderr)
        assert host_state(lab) == before


def test_prune_destroys_what_is_safe_and_says_why_for_the_rest(lab: Lab, tmp_path: Path) -> None:
    spec = variant(
        tmp_path,
        "pruned",
        prune=True,
        volumes=[
            {"name": "vol-db", "size": "512M", "snapshots": ["weekly"]},
            {"name": "vol-db-copy", "clone_of": "vol-db@weekly"},
        ],
    )
    code, out, err = engine("plan", "--detailed-exitcode", str(spec))
    assert code == 2, err
    assert "- destroy vol-db-test" in out and "- destroy vol-scratch" in out
    assert "! refuse vol-db@nightly: not destroyed: a clone depends on it" in out
    assert "! refuse foreign: not destroyed: not made by this spec" in out
    code, out, err = engine("run", str(spec))
    assert code == 0, err
    # The clone that held nightly is gone: the next run may destroy the snapshot.
    assert "now possible: destroy vol-db@nightly (run again)" in out
    code, out, err = engine("run", str(spec))
    assert code == 0 and "1 destroy" in out, out + err
    code, out, _ = engine("plan", "--detailed-exitcode", str(spec))
    assert code == 0, out
    assert set(discovered(lab)) == {"vol-db", "vol-db-copy"}
    names = lab.admin_ssh("zfs", "list", "-H", "-o", "name", "-r", "-t", "all", BASE).stdout
    assert sorted(names.split()) == sorted(
        [BASE, f"{BASE}/foreign", f"{BASE}/vol-db", f"{BASE}/vol-db@weekly", f"{BASE}/vol-db-copy"]
    )
