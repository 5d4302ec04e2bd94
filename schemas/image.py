"""The ``kind: image`` spec: a minimal Debian image for OpenStack, built rootless.

Formats: ``uec`` is the triplet OpenStack boots with ``-kernel``/``-initrd``
(kernel ``aki``, ramdisk ``ari``, minimised root filesystem ``ami``);
``qcow2`` and ``raw`` are bare disks with a boot loader.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from schemas.base import InputPath, OutputDir, StrictModel
from schemas.units import MemorySize, Size, Wait, parse_size

__all__ = ["Debian", "Glance", "ImageSpec", "Root", "Upload", "Verify", "parse_size"]

Component = Literal["main", "contrib", "non-free", "non-free-firmware"]
Format = Literal["uec", "qcow2", "raw"]
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.\-]+(?:[=:][A-Za-z0-9.+~:\-]+)?$")
_HOSTNAME = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class Debian(StrictModel):
    """Which Debian: suite, architecture, archive areas, mirror."""

    suite: str = Field("bookworm", pattern=r"^[a-z][a-z0-9\-]*$")
    arch: Literal["amd64"] = Field("amd64", description="QEMU boot checks are x86-64 only")
    components: list[Component] = Field(
        default_factory=lambda: list[Component](["main"]), min_length=1
    )
    mirror: str | None = Field(
        None, description="an apt mirror URL; default: the build host's apt configuration"
    )

    @field_validator("mirror")
    @classmethod
    def _mirror_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(https?|file)://\S+$", value):
            raise PydanticCustomError(
                "mirror", "'{value}' is not an http(s):// or file:// URL", {"value": value}
            )
        return value


class Root(StrictModel):
    """The root filesystem."""

    filesystem: Literal["ext4"] = "ext4"
    label: str = Field("cloudimg-rootfs", pattern=r"^[A-Za-z0-9_\-]{1,16}$")
    minimise: bool = Field(True, description="shrink to its content (resize2fs -M)")
    disk_size: Size = Field("2G", description="size of the bare disks (qcow2, raw)")


class Verify(StrictModel):
    """Boot checks under QEMU after the build."""

    boot: bool = False
    timeout_s: Wait = Field(
        "5min",
        gt=0,
        validate_default=True,
        validation_alias="timeout",
        description="per boot, until the login prompt and SSH",
    )
    flavour_size: Size = Field(
        "2G", description="the root filesystem is grown to this (as Nova does) for the boot"
    )
    memory_mb: MemorySize = Field(
        "1G",
        ge=256,
        validate_default=True,
        validation_alias="memory",
        description="the boot check's memory (at least 256M)",
    )


class Glance(StrictModel):
    """An OpenStack Image service (API v2)."""

    url: str = Field(description="the image API endpoint, e.g. http://glance:9292")
    token_env: str | None = Field(
        None, description="environment variable holding a Keystone token (none: no auth)"
    )
    visibility: Literal["private", "shared", "community", "public"] = "private"
    name: str | None = Field(None, description="image name prefix; default: the spec's name")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise PydanticCustomError(
                "url", "'{value}' is not an http:// or https:// URL", {"value": value}
            )
        return value.rstrip("/")


class Upload(StrictModel):
    """Where the built images go."""

    glance: Glance


class BuildHost(StrictModel):
    """Where the build runs: this machine, or a host of an Ansible inventory."""

    inventory: InputPath | None = Field(
        None, description="an Ansible inventory file; default: this machine (local)"
    )
    host: str = Field("localhost", description="the inventory host that builds")


class ImageSpec(StrictModel):
    """A Debian image recipe: packages, customisation, formats, checks, upload."""

    kind: Literal["image"]
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    description: str | None = None
    debian: Debian = Field(default_factory=Debian)
    packages: list[str] = Field(default_factory=list)
    hostname: str = "debian"
    root: Root = Field(default_factory=Root)
    formats: list[Format] = Field(default_factory=lambda: list[Format](["uec"]), min_length=1)
    cloud_init: bool = Field(False, description="install cloud-init (and a UTF-8 locale)")
    hooks: list[str] = Field(
        default_factory=list,
        description="shell commands run on the build host after the packages are installed;"
        ' "$1" is the root directory (mmdebstrap --customize-hook)',
    )
    output: OutputDir = Field(description="the folder receiving the artefacts and manifest")
    cache: OutputDir | None = Field(
        None,
        description="build cache folder (default: ~/.cache/specengine/images); an unchanged"
        " recipe is not built again",
    )
    build: BuildHost = Field(default_factory=BuildHost)
    verify: Verify = Field(default_factory=Verify)
    upload: Upload | None = None

    @field_validator("packages")
    @classmethod
    def _packages(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _PACKAGE.match(name):
                raise PydanticCustomError(
                    "package", "'{name}' is not a Debian package name", {"name": name}
                )
        return value

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, value: str) -> str:
        if not _HOSTNAME.match(value):
            raise PydanticCustomError(
                "hostname", "'{value}' is not a host name (a-z, 0-9, -)", {"value": value}
            )
        return value

    @field_validator("formats")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("formats", "a format is listed twice")
        return value

    @model_validator(mode="after")
    def _sizes(self) -> ImageSpec:
        if self.verify.boot and parse_size(self.verify.flavour_size) < (256 << 20):
            raise PydanticCustomError("size", "verify.flavour_size must be at least 256M")
        return self
