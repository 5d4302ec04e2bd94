"""Image recipes: plan steps and handlers for ``kind: image``.

A recipe is built by ``playbooks/image-build.yml`` into a content-addressed
cache entry (the hash of everything that shapes the image: Debian, packages,
customisation, formats, the playbook itself and the engine version), so an
unchanged recipe is never built twice; ``--force`` builds again. The entry is
then checked (boot under QEMU),
uploaded to Glance by ``playbooks/image-upload.yml``, and only then copied
into the output folder: a failed check or upload leaves it as it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import __version__
from engine.environment import Environment
from engine.errors import DataError
from engine.hosts.ansible import PLAYBOOKS, PlaybookRun, run_playbook
from renderers import OutputTransaction
from schemas.image import ImageSpec, parse_size

__all__ = [
    "ARTEFACTS",
    "Build",
    "ImageState",
    "Upload",
    "Verify",
    "WriteOutputs",
    "recipe_hash",
    "steps",
]

#: Files of each format, as the build playbook names them.
ARTEFACTS: dict[str, tuple[str, ...]] = {
    "uec": ("kernel", "initrd", "rootfs.img"),
    "qcow2": ("disk.qcow2",),
    "raw": ("disk.raw",),
}
#: Packages every image needs: a kernel, an init, SSH, DHCP (systemd-networkd).
BASE_PACKAGES = ("linux-image-amd64", "systemd-sysv", "udev", "openssh-server", "e2fsprogs")
MANIFEST = "manifest.json"

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Build:
    """Build the recipe (unless its cache entry exists)."""

    recipe: str
    cache: str
    run: PlaybookRun


@dataclass(frozen=True)
class Verify:
    """Boot each built format under QEMU: login prompt on the console, SSH banner."""

    formats: tuple[str, ...]


@dataclass(frozen=True)
class WriteOutputs:
    """Put the artefacts and the manifest into the output folder (one journaled commit)."""

    folder: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class Upload:
    """Upload the artefacts to Glance (reusing images with the same name and checksum)."""

    url: str
    names: tuple[str, ...]


def _cache_root(spec: ImageSpec) -> Path:
    if spec.cache is not None:
        return spec.cache
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "specengine" / "images"


def recipe_hash(spec: ImageSpec) -> str:
    """The hash of everything that shapes the built files."""
    shaping = spec.model_dump(
        mode="json",
        include={"debian", "packages", "hostname", "root", "formats", "cloud_init", "hooks"},
    )
    playbook = (PLAYBOOKS / "image-build.yml").read_bytes()
    text = json.dumps([shaping, hashlib.sha256(playbook).hexdigest(), __version__], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def packages(spec: ImageSpec) -> list[str]:
    """Everything installed, in a stable order."""
    extra = ["cloud-init", "locales"] if spec.cloud_init else []
    return list(dict.fromkeys([*BASE_PACKAGES, *extra, *spec.packages]))


def _unit(name: str, text: str) -> str:
    return f'cat > "$1/etc/systemd/system/{name}" <<\'UNIT\'\n{text}UNIT\nchroot "$1" systemctl enable {name} >/dev/null 2>&1'


_SSH_KEYS_UNIT = """[Unit]
Description=Generate the SSH host keys of this instance
Before=ssh.service
ConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
"""
# Without cloud-init, the key of an OpenStack instance comes from the metadata
# service, as the reference's image did it; plain bash, no HTTP client needed.
_METADATA_KEY_UNIT = """[Unit]
Description=Fetch the SSH key of this instance from the OpenStack metadata service
After=network-online.target
Wants=network-online.target
ConditionPathExists=!/root/.ssh/authorized_keys

[Service]
Type=oneshot
ExecStart=/bin/bash -c 'mkdir -p -m 700 /root/.ssh; exec 3<>/dev/tcp/169.254.169.254/80 || exit 0; printf "GET /latest/meta-data/public-keys/0/openssh-key HTTP/1.0\\\\r\\\\nHost: 169.254.169.254\\\\r\\\\n\\\\r\\\\n" >&3; timeout 10 cat <&3 | sed "1,/^\\\\r$/d" > /root/.ssh/authorized_keys.new && [ -s /root/.ssh/authorized_keys.new ] && mv /root/.ssh/authorized_keys.new /root/.ssh/authorized_keys; rm -f /root/.ssh/authorized_keys.new; chmod 600 /root/.ssh/authorized_keys 2>/dev/null; true'
TimeoutStartSec=30

[Install]
WantedBy=multi-user.target
"""


def customize_hooks(spec: ImageSpec) -> list[str]:
    """The mmdebstrap customize hooks: what makes the system an OpenStack guest."""
    label = spec.root.label
    grub = (
        "set timeout=1\nserial --unit=0 --speed=115200\nterminal_input serial console\n"
        "terminal_output serial console\n"
        f'menuentry "Debian {spec.debian.suite}" {{\n'
        f"  search --no-floppy --label --set=root {label}\n"
        f"  linux /vmlinuz root=LABEL={label} ro console=tty0 console=ttyS0,115200n8\n"
        "  initrd /initrd.img\n}\n"
    )
    hooks = [
        f'echo {spec.hostname} > "$1/etc/hostname"',
        f'printf "127.0.0.1\\tlocalhost\\n127.0.1.1\\t{spec.hostname}\\n" > "$1/etc/hosts"',
        # Root by label, no swap: the same file works for the triplet and the disk.
        f'printf "LABEL={label}\\t/\\text4\\tdefaults,errors=remount-ro\\t0\\t1\\n" > "$1/etc/fstab"',
        'mkdir -p "$1/etc/systemd/network"',
        "printf '[Match]\\nName=en* eth*\\n\\n[Network]\\nDHCP=yes\\n' > \"$1/etc/systemd/network/80-dhcp.network\"",
        'chroot "$1" systemctl enable systemd-networkd >/dev/null 2>&1',
        # Every instance gets its own host keys, made at its first boot.
        'rm -f "$1"/etc/ssh/ssh_host_*',
        _unit("specengine-ssh-host-keys.service", _SSH_KEYS_UNIT),
        'chroot "$1" passwd -l root >/dev/null',
        f'mkdir -p "$1/boot/grub" && cat > "$1/boot/grub/grub.cfg" <<\'GRUB\'\n{grub}GRUB',
        ': > "$1/etc/machine-id"',
    ]
    if spec.cloud_init:
        hooks += [
            'echo "en_US.UTF-8 UTF-8" > "$1/etc/locale.gen"',
            'chroot "$1" locale-gen >/dev/null',
            'echo LANG=en_US.UTF-8 > "$1/etc/default/locale"',
            "printf 'datasource_list: [ConfigDrive, OpenStack, NoCloud, None]\\n'"
            ' > "$1/etc/cloud/cloud.cfg.d/90-specengine.cfg"',
        ]
    else:
        hooks.append(_unit("specengine-metadata-ssh-key.service", _METADATA_KEY_UNIT))
    hooks += list(spec.hooks)
    hooks.append('rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin')
    return hooks


def mmdebstrap_argv(spec: ImageSpec, root: str) -> list[str]:
    """The mmdebstrap command line of the recipe."""
    argv = [
        "mmdebstrap",
        "--variant=apt",
        f"--architectures={spec.debian.arch}",
        f"--components={','.join(spec.debian.components)}",
        f"--include={','.join(packages(spec))}",
        # Before the kernel is installed: else the initrd lacks fsck for ext4.
        '--essential-hook=mkdir -p "$1/etc/initramfs-tools/conf.d" &&'
        ' echo FSTYPE=ext4 > "$1/etc/initramfs-tools/conf.d/specengine-fstype"',
        *(f"--customize-hook={hook}" for hook in customize_hooks(spec)),
        spec.debian.suite,
        root,
    ]
    if spec.debian.mirror:
        argv.append(spec.debian.mirror)
    return argv


def steps(spec: ImageSpec) -> list[Any]:
    """The plan of an image recipe, as plain data."""
    recipe = recipe_hash(spec)
    cache = _cache_root(spec) / recipe[:16]
    work = f"{cache}.work"
    files = tuple(name for fmt in spec.formats for name in ARTEFACTS[fmt])
    extravars = {
        "work": work,
        "out": f"{cache}.partial",
        "label": spec.root.label,
        "formats": list(spec.formats),
        "minimise": spec.root.minimise,
        "disk_size_mb": parse_size(spec.root.disk_size) >> 20,
        "min_free_mb": 3 * (parse_size(spec.root.disk_size) >> 20) + 2048,
        "mmdebstrap_argv": mmdebstrap_argv(spec, f"{work}/root"),
    }
    run = PlaybookRun("image-build.yml", extravars, spec.build.host, spec.build.inventory)
    out: list[Any] = [Build(recipe, str(cache), run)]
    if spec.verify.boot:
        out.append(Verify(tuple(f for f in spec.formats if f in ("uec", "qcow2", "raw"))))
    if spec.upload is not None:
        prefix = spec.upload.glance.name or spec.name
        names = tuple(f"{prefix}-{name}" for name in files)
        out.append(Upload(spec.upload.glance.url, names))
    # Last: a failed check or upload leaves the previous outputs as they were.
    out.append(WriteOutputs(str(spec.output), (*files, "packages.tsv", MANIFEST)))
    return out


# --------------------------------------------------------------------------- state


@dataclass
class ImageState:
    """What the steps found and made."""

    spec: ImageSpec
    spec_file: str
    progress: bool = False
    force: bool = False
    dry_run: bool = False
    cached: bool = False
    cache: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    uploaded: dict[str, str] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    #: The run's output transaction (set by execute; committed after the last step).
    transaction: OutputTransaction | None = None
    #: The environment variables the spec's Glance token is read from (engine.environment).
    environment: Environment = field(default_factory=Environment.of_process, repr=False)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _say(state: ImageState, text: str) -> None:
    """A progress line: logged at INFO (``-v``), else printed on a terminal."""
    if log.isEnabledFor(logging.INFO):
        log.info("%s", text)
    elif state.progress:
        print(text, file=sys.stderr, flush=True)


def _manifest(state: ImageState, folder: Path, recipe: str) -> dict[str, Any]:
    spec = state.spec
    spec_path = Path(state.spec_file)
    try:
        spec_digest = hashlib.sha256(spec_path.read_bytes()).hexdigest()
    except OSError:
        spec_digest = "unknown"
    artefacts = {}
    for fmt in spec.formats:
        for name in ARTEFACTS[fmt]:
            path = folder / name
            artefacts[name] = {
                "format": fmt,
                "size": path.stat().st_size,
                "sha256": _sha256(path),
            }
    rows = (folder / "packages.tsv").read_text(encoding="utf-8").splitlines()
    installed = [dict(zip(("name", "version", "arch"), r.split("\t"), strict=False)) for r in rows]
    build = json.loads((folder / "build.json").read_text(encoding="utf-8"))
    return {
        "name": spec.name,
        "recipe": recipe,
        "spec_file": str(spec_path),
        "spec_sha256": spec_digest,
        "engine_version": __version__,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "debian": spec.debian.model_dump(mode="json"),
        "root": {"label": spec.root.label, "used_mib": build.get("root_used_mb")},
        "artefacts": artefacts,
        "packages": installed,
    }


def _save_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    temp = folder / f".{MANIFEST}.tmp"
    temp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    temp.replace(folder / MANIFEST)


@contextlib.contextmanager
def _entry_lock(cache: Path) -> Iterator[None]:
    """Hold the image cache's lock: one build (or boot check) in a cache at a time.

    Two runs of the same recipe at once (two terminals, two test workers) would
    otherwise build it twice into the same ``.partial`` folder. The second waits,
    then finds the entry the first made. The lock is an flock on the cache
    folder itself: it dies with its process (a killed build leaves no stale
    lock) and leaves no file behind.
    """
    cache.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(cache.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("%s: another run is building in this cache; waiting for it", cache.parent)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def handle_build(step: Build, state: ImageState) -> None:
    """Build into the cache entry unless it exists (or ``--force``)."""
    if state.dry_run:
        _build(step, state)
        return
    with _entry_lock(Path(step.cache)):
        _build(step, state)


def _build(step: Build, state: ImageState) -> None:
    cache = Path(step.cache)
    state.cache = cache
    manifest = cache / MANIFEST
    if manifest.is_file() and not state.force:
        state.cached = True
        state.manifest = json.loads(manifest.read_text(encoding="utf-8"))
        return
    if state.dry_run:
        return
    partial = Path(str(step.run.extravars["out"]))
    shutil.rmtree(partial, ignore_errors=True)
    started = time.perf_counter()
    try:
        result = run_playbook(step.run, progress=lambda task: _say(state, f"build: {task}"))
        state.timings.update({f"build: {k}": v for k, v in result.seconds.items()})
        state.manifest = _manifest(state, partial, step.recipe)
        _save_manifest(partial, state.manifest)
        (partial / "build.json").unlink(missing_ok=True)
        # The entry appears whole or not at all.
        old = cache.with_name(cache.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if cache.exists():
            cache.rename(old)
        partial.rename(cache)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(Path(str(step.run.extravars["work"])), ignore_errors=True)
    state.timings["build"] = time.perf_counter() - started


def handle_verify(step: Verify, state: ImageState) -> None:
    """Boot the built formats; the results go into the manifest."""
    from engine.image_boot import boot_checks

    if state.dry_run or state.cache is None:
        return
    done = state.manifest.get("boot", {})
    if state.cached and not state.force and all(fmt in done for fmt in step.formats):
        return  # this very build booted before: its figures are in the cache entry
    with _entry_lock(state.cache):
        manifest = state.cache / MANIFEST
        if manifest.is_file() and not state.force:  # booted by another run meanwhile?
            state.manifest = json.loads(manifest.read_text(encoding="utf-8"))
            done = state.manifest.get("boot", {})
            if all(fmt in done for fmt in step.formats):
                return
        started = time.perf_counter()
        results = boot_checks(
            state.cache, step.formats, state.spec, progress=lambda t: _say(state, f"verify: {t}")
        )
        state.manifest["boot"] = {**done, **results}
        _save_manifest(state.cache, state.manifest)
    state.timings["verify"] = time.perf_counter() - started


def _previous_files(folder: Path) -> set[str]:
    """The files an earlier run wrote into ``folder``, as its manifest lists them."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        names = {*manifest["artefacts"], "packages.tsv", MANIFEST}
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    # Only plain names: a manifest edited by hand must not reach out of the folder.
    return {
        name
        for name in names
        if isinstance(name, str) and name == Path(name).name and not name.startswith(".")
    }


def handle_write(step: WriteOutputs, state: ImageState) -> None:
    """Put the cache entry's files and the manifest into the output folder, in the run's commit.

    The files are hard links to the cache entry where it shares the output's
    file system; files of an earlier run that this recipe no longer makes (a
    format dropped) are removed in the same commit.
    """
    if state.dry_run or state.cache is None:
        return
    if state.transaction is None:  # called outside execute(): a commit of its own
        with OutputTransaction() as own:
            state.transaction = own
            try:
                handle_write(step, state)
                own.commit()
            finally:
                state.transaction = None
        return
    folder = Path(step.folder)
    try:
        for name in step.files:
            if name == MANIFEST:
                handle = state.transaction.open_text(folder / MANIFEST, newline="\n")
                handle.write(json.dumps(state.manifest, indent=2) + "\n")
            else:
                state.transaction.place(state.cache / name, folder / name)
        for name in sorted(_previous_files(folder) - set(step.files)):
            state.transaction.remove(folder / name)
    except OSError as exc:
        raise DataError(str(folder), f"cannot write the image outputs: {exc}") from None
    state.written = [str(folder / name) for name in step.files]


def handle_upload(step: Upload, state: ImageState) -> None:
    """Upload through playbooks/image-upload.yml (idempotent: same name and checksum reused)."""
    from engine.image_upload import upload

    if state.dry_run or state.cache is None:
        return
    started = time.perf_counter()
    upload(state, state.cache)
    state.timings["upload"] = time.perf_counter() - started


def plan_text(steps_: tuple[Any, ...], state: ImageState, spec_file: str) -> str:
    """What a run would do: the steps, the artefacts, whether the build is cached."""
    spec = state.spec
    lines = [f"plan for image '{spec.name}' ({spec_file})"]
    for number, step in enumerate(steps_, 1):
        if isinstance(step, Build):
            status = "cached, not built again" if state.cached else "to build"
            if state.cached and state.force:
                status = "cached, built again (--force)"
            lines.append(
                f"{number}. build Debian {spec.debian.suite}/{spec.debian.arch}"
                f" ({', '.join(spec.formats)}) with {step.run.playbook}"
                f" on {step.run.host}: {status}"
            )
            lines.append(f"   recipe {step.recipe[:16]}, cache {step.cache}")
            lines.append(f"   packages: {', '.join(packages(spec))}")
            if spec.hooks:
                lines.append(f"   {len(spec.hooks)} customisation hook(s)")
        elif isinstance(step, Verify):
            lines.append(
                f"{number}. boot under QEMU: {', '.join(step.formats)}"
                f" (login prompt and SSH within {spec.verify.timeout_s:g} s each)"
            )
        elif isinstance(step, WriteOutputs):
            lines.append(f"{number}. write into {step.folder}: {', '.join(step.files)}")
        elif isinstance(step, Upload):
            lines.append(f"{number}. upload to Glance {step.url}: {', '.join(step.names)}")
    return "\n".join(lines)


def summary_text(state: ImageState, seconds: float) -> str:
    """The end-of-run summary."""
    spec = state.spec
    lines = [f"image '{spec.name}': " + ("reused the cached build" if state.cached else "built")]
    for name, facts in state.manifest.get("artefacts", {}).items():
        lines.append(
            f"  {name}: {facts['size'] / (1 << 20):,.1f} MiB sha256 {facts['sha256'][:16]}"
        )
    for fmt, facts in state.manifest.get("boot", {}).items():
        lines.append(
            f"  boot {fmt}: login prompt after {facts['login_s']} s, SSH after {facts['ssh_s']} s"
        )
    lines.extend(f"uploaded {name} ({image_id})" for name, image_id in state.uploaded.items())
    lines.extend(f"reused {name} (same name and checksum in Glance)" for name in state.reused)
    if state.written:
        lines.append(f"wrote {Path(state.written[0]).parent}")
    lines.append(f"done in {seconds:.1f} s")
    return "\n".join(lines)


HANDLERS: dict[type, Any] = {
    Build: handle_build,
    Verify: handle_verify,
    WriteOutputs: handle_write,
    Upload: handle_upload,
}
