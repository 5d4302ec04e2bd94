"""An image recipe: what shapes the built files, and the mmdebstrap command line that makes them.

The recipe's hash names its content-addressed cache entry (everything that
shapes the image: Debian, packages, customisation, formats, the playbook
itself and the engine version), so an unchanged recipe is never built twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from engine.hosts.ansible import PLAYBOOKS
from engine.version import __version__
from schemas.image import ImageSpec

__all__ = [
    "ARTEFACTS",
    "BASE_PACKAGES",
    "MANIFEST",
    "cache_root",
    "customize_hooks",
    "mmdebstrap_argv",
    "packages",
    "recipe_hash",
]

#: Files of each format, as the build playbook names them.
ARTEFACTS: dict[str, tuple[str, ...]] = {
    "uec": ("kernel", "initrd", "rootfs.img"),
    "qcow2": ("disk.qcow2",),
    "raw": ("disk.raw",),
}
#: Packages every image needs: a kernel, an init, SSH, DHCP (systemd-networkd).
BASE_PACKAGES = ("linux-image-amd64", "systemd-sysv", "udev", "openssh-server", "e2fsprogs")
#: The cache entry's (and the output folder's) description of the build.
MANIFEST = "manifest.json"


def cache_root(spec: ImageSpec) -> Path:
    """Where the recipe's cache entries are: ``cache:``, else the user's cache folder."""
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
