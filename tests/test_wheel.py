"""The package as a user gets it: a wheel built from the checkout, installed in a fresh venv.

The module builds the wheel once (``pip wheel . --no-deps`` in a copy of the
checkout, so the checkout itself gets no ``build/`` or ``*.egg-info``),
installs it with its dependencies into a new virtualenv (from the package
index pip is configured with), and runs ``engine`` from an unrelated folder
with no path leading back to the checkout: what the installed package reads
(playbooks, templates, static files, JSON Schemas) must be inside it.

One spec of each kind goes through ``validate`` and ``plan``: an alignment
of two small CSV files (also run, which renders the HTML report's
templates), an image recipe (planned only: the plan hashes the shipped build
playbook, and never builds), a volume pool planned over SSH against a real
sshd (tests/sshd.py) whose key forces the real wrapper with stand-ins for
``zfs`` and ``tgtadm``, and ``engine setup`` of that pool, which finds and
starts the shipped storage-host playbook (the wrapper refuses its first
task: nothing runs on this machine).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine import __version__
from engine.hosts.wrapper import authorized_keys_line, wrapper_script
from engine.image import recipe_hash
from engine.loader import load_spec
from engine.volume_pool.diff import key_scope
from schemas.image import ImageSpec
from tests.sshd import NotInstalledError, run_sshd

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
#: The folders of the packages the wheel ships (pyproject.toml's packages).
PACKAGES = ("engine", "renderers", "schemas", "playbooks")
#: Nothing of the test's environment may lead the installed engine back to the checkout.
_DROPPED_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")


def _git(*argv: str, cwd: Path) -> str:
    if shutil.which("git") is None:
        pytest.fail("git not found: apt-get install git", pytrace=False)
    done = subprocess.run(
        [
            "git",
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@localhost",
            "-c",
            "commit.gpgsign=false",
            *argv,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"git {' '.join(argv)}: {done.stderr}"
    return done.stdout


def _checked(argv: Sequence[str | Path], cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run(
        [str(word) for word in argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{' '.join(map(str, argv))}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass(frozen=True)
class Installed:
    """The built wheel, the venv it is installed in, and an unrelated folder to run from."""

    #: the checkout's files (tracked, or new and not ignored), as a fresh clone would hold them
    files: tuple[str, ...]
    wheel: Path
    #: ``git status --porcelain`` of the copy after the build
    leftovers: str
    venv: Path
    #: the venv's site-packages
    site: Path
    work: Path

    def run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``argv[0]`` from the venv's bin, run in the unrelated folder."""
        env = {key: value for key, value in os.environ.items() if key not in _DROPPED_ENV}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        # The image cache of the plan: the test's own, never the user's.
        env["XDG_CACHE_HOME"] = str(self.work / ".cache")
        return subprocess.run(
            [str(self.venv / "bin" / argv[0]), *argv[1:]],
            cwd=self.work,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    # The working tree as a clone of it would be (uncommitted work included),
    # committed in a repository of its own to see what the build leaves.
    listed = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    files = tuple(name for name in listed.split("\0") if name and (ROOT / name).is_file())
    source = base / "checkout"
    for name in files:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    _git("init", "-q", cwd=source)
    _git("add", "-A", cwd=source)
    _git("commit", "-q", "-m", "snapshot", cwd=source)
    dist = base / "dist"
    _checked([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-w", dist], cwd=source)
    leftovers = _git("status", "--porcelain", "--untracked-files=all", cwd=source)
    (wheel,) = dist.glob("specengine-*.whl")
    venv = base / "venv"
    # This pip installs into the new venv: no pip of its own to set up there,
    # and no byte-compiling of every dependency (half the time): ~20 s, not 40.
    _checked([sys.executable, "-m", "venv", "--without-pip", venv], cwd=base)
    python = venv / "bin" / "python"
    _checked(
        [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-compile", wheel],
        cwd=base,
    )
    site = _checked(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        cwd=base,
    )
    work = base / "elsewhere"
    work.mkdir()
    return Installed(files, wheel, leftovers, venv, Path(site.strip()), work)


def test_building_leaves_the_checkout_clean(installed: Installed) -> None:
    # build/ and *.egg-info are made in the source folder: ignored, never committed.
    assert installed.leftovers == ""
    assert not any(name.startswith(("build/", "dist/")) for name in installed.files)
    assert not any(".egg-info/" in name for name in installed.files)


def test_the_wheel_ships_every_file_of_the_packages(installed: Installed) -> None:
    shipped = [name for name in installed.files if name.split("/")[0] in PACKAGES]
    assert "playbooks/image-build.yml" in shipped
    assert "playbooks/tasks/glance-image.yml" in shipped
    with zipfile.ZipFile(installed.wheel) as wheel:
        missing = sorted(set(shipped) - set(wheel.namelist()))
    assert missing == []
    assert [name for name in shipped if not (installed.site / name).is_file()] == []


def test_the_installed_engine_is_the_only_one_found(installed: Installed) -> None:
    found = installed.run(
        "python",
        "-c",
        "import engine, playbooks; print(engine.__file__); print(playbooks.__file__)",
    )
    assert found.returncode == 0, found.stderr
    for line in found.stdout.splitlines():
        assert Path(line).is_relative_to(installed.site), line


def test_python_m_engine(installed: Installed) -> None:
    version = installed.run("python", "-m", "engine", "--version")
    assert (version.returncode, version.stdout) == (0, f"specengine {__version__}\n"), (
        version.stderr
    )
    usage = installed.run("python", "-m", "engine", "--help")
    assert usage.returncode == 0
    assert usage.stdout.startswith("usage: engine ")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:
        text: str = answer.read().decode("utf-8")
        return text


def test_the_web_interface_finds_its_templates_and_static_files(installed: Installed) -> None:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED_ENV}
    server = subprocess.Popen(
        [str(installed.venv / "bin" / "engine"), "serve", ".", "--port", str(port)],
        cwd=installed.work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                index = _get(f"http://127.0.0.1:{port}/")
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "engine serve did not answer in 30 s"
                time.sleep(0.2)
        assert "<html" in index.lower()
        assert "/static/" in index
        assert _get(f"http://127.0.0.1:{port}/static/style.css").strip()
    finally:
        server.terminate()
        server.communicate(timeout=10)


# -- one spec of each kind --------------------------------------------------------------


def test_an_alignment_validates_plans_and_runs(installed: Installed) -> None:
    folder = installed.work / "alignment"
    folder.mkdir()
    (folder / "writers.csv").write_text(
        "id,name\nw1,Victor Hugo\nw2,Albert Camus\n", encoding="utf-8"
    )
    (folder / "people.csv").write_text(
        "uri,label\n"
        "http://example.org/p/camus,Albert Camus\n"
        "http://example.org/p/hugo,Victor Hugo\n"
        "http://example.org/p/sand,George Sand\n",
        encoding="utf-8",
    )
    spec = folder / "writers.yaml"
    spec.write_text(
        "kind: alignment\n"
        "name: writers\n"
        "sources:\n"
        "  align: {csv: writers.csv, id: {template: 'http://example.org/w/{id}'}}\n"
        "  target: {csv: people.csv, id: uri}\n"
        "attributes:\n"
        "  - {name: name, target: label, metric: levenshtein}\n"
        "threshold: 1\n"
        "matching: best\n"
        "outputs:\n"
        "  - {csv: out/links.csv}\n"
        "  - {html: out/report.html}\n",
        encoding="utf-8",
    )
    validated = installed.run("engine", "validate", "alignment/writers.yaml")
    assert validated.returncode == 0, validated.stderr
    assert "valid alignment spec 'writers'" in validated.stdout
    planned = installed.run("engine", "plan", "alignment/writers.yaml")
    assert planned.returncode == 0, planned.stderr
    assert "writers" in planned.stdout
    ran = installed.run("engine", "run", "--quiet", "alignment/writers.yaml")
    assert ran.returncode == 0, ran.stderr
    links = (folder / "out" / "links.csv").read_text(encoding="utf-8")
    assert "http://example.org/w/w1,http://example.org/p/hugo" in links
    # The report is made from renderers/templates, read from the installed package.
    report = (folder / "out" / "report.html").read_text(encoding="utf-8")
    assert report.lstrip().lower().startswith("<!doctype html>")
    assert "Victor Hugo" in report


def test_an_image_recipe_validates_and_plans(installed: Installed) -> None:
    spec = installed.work / "image.yaml"
    spec.write_text(
        "kind: image\n"
        "name: wheel-image\n"
        "debian: {suite: bookworm}\n"
        "root: {disk_size: 1G}\n"
        "formats: [qcow2]\n"
        "output: out/image\n",
        encoding="utf-8",
    )
    validated = installed.run("engine", "validate", "image.yaml")
    assert validated.returncode == 0, validated.stderr
    planned = installed.run("engine", "plan", "--detailed-exitcode", "image.yaml")
    assert planned.returncode == 2, planned.stderr  # changes pending: to build
    assert "with image-build.yml on localhost: to build" in planned.stdout
    # The recipe's hash covers the build playbook: the same as the checkout's
    # means the installed package read the very playbook of the checkout.
    image = load_spec(spec)
    assert isinstance(image, ImageSpec)
    assert f"recipe {recipe_hash(image)[:16]}" in planned.stdout
    assert not (installed.work / "out").exists()
    assert not (installed.work / ".cache").exists()


#: ``zfs`` on the stand-in host: the base dataset, empty (``zfs get``: no owners).
_ZFS = """#!/bin/sh
if [ "$1" = list ]; then
  printf '%s\\tfilesystem\\t-\\t98304\\t10737418240\\t-\\t-\\n' {base}
fi
"""
_BASE = "tank/wheel"


@pytest.fixture
def pool_spec(installed: Installed, tmp_path: Path) -> Iterator[Path]:
    """A volume-pool spec for an sshd whose key may run only the wrapper (zfs, tgtadm: stand-ins)."""
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "zfs").write_text(_ZFS.format(base=_BASE), encoding="utf-8")
    (tools / "tgtadm").write_text("#!/bin/sh\n", encoding="utf-8")
    for tool in ("zfs", "tgtadm"):
        (tools / tool).chmod(0o755)
    wrapper = tmp_path / "specengine-zfs-wrapper"
    scope = key_scope(_BASE, "wheel-pool", "iqn.2010-10.org.openstack:")
    wrapper.write_text(
        wrapper_script(
            scope,
            zfs=str(tools / "zfs"),
            tgtadm=str(tools / "tgtadm"),
            conf_dir=str(tmp_path),
            lock_dir=str(tmp_path),
        ),
        encoding="utf-8",
    )
    wrapper.chmod(0o755)

    def keys(public_key: str) -> str:
        return authorized_keys_line(public_key, str(wrapper), scope, ["127.0.0.1"])

    try:
        with run_sshd(tmp_path / "sshd", keys) as server:
            spec = installed.work / "pool.yaml"
            spec.write_text(
                "kind: volume-pool\n"
                "name: wheel-pool\n"
                f"host: {{address: 127.0.0.1, port: {server.port}, key: {server.client_key},"
                f" known_hosts: {server.known_hosts}, timeout: 10s}}\n"
                f"zfs: {{base: {_BASE}}}\n"
                "iscsi: {portal: '127.0.0.1:3260', initiators: [ALL]}\n"
                "volumes:\n"
                "  - {name: vol-a, size: 64M}\n"
                # The setup's admin key is the restricted one: the wrapper
                # refuses what the playbook sends, so nothing runs here.
                f"setup: {{admin_key: {server.client_key}, from_addresses: [127.0.0.1],"
                " devices: [/dev/null]}\n",
                encoding="utf-8",
            )
            yield spec
    except NotInstalledError as missing:
        pytest.fail(str(missing), pytrace=False)


def test_a_volume_pool_validates_plans_and_sets_up(installed: Installed, pool_spec: Path) -> None:
    validated = installed.run("engine", "validate", pool_spec.name)
    assert validated.returncode == 0, validated.stderr
    planned = installed.run("engine", "plan", "--detailed-exitcode", pool_spec.name)
    assert planned.returncode == 2, planned.stderr  # changes pending: vol-a to create
    assert "create vol-a" in planned.stdout
    setup = installed.run("engine", "setup", "--quiet", pool_spec.name)
    # Found and started: its first task reached the host, whose key forces the wrapper.
    assert setup.returncode == 1, setup.stderr
    assert "no playbook" not in setup.stderr
    assert "storage-host.yml: task 'Check for Python" in setup.stderr
    assert "specengine-wrapper: refused" in setup.stderr


def test_engine_schema_writes_where_it_is_told_never_into_the_package(
    installed: Installed,
) -> None:
    shipped = installed.site / "schemas" / "json"
    before = {path.name: path.stat().st_mtime_ns for path in shipped.iterdir()}
    written = installed.run("engine", "schema", "--out", "json-schemas")
    assert written.returncode == 0, written.stderr
    names = sorted(path.name for path in (installed.work / "json-schemas").iterdir())
    assert names == sorted(before)
    # Without --out, outside a checkout: refused, and nothing written into site-packages.
    default = installed.run("engine", "schema")
    assert default.returncode == 2
    assert "engine schema --out DIR" in default.stderr
    assert {path.name: path.stat().st_mtime_ns for path in shipped.iterdir()} == before
