"""The ``kind: volume-pool`` spec: ZFS volumes of a storage host, exported over iSCSI.

Desired state: the volumes (size, snapshots, clones, export), the storage
host reached over SSH with a restricted key, and ``prune`` (default false:
nothing the spec no longer lists is ever destroyed unless it says so).

Not yet a spec kind of the loader: the engine's plan and apply over SSH come
with the rest of the volume-pools issue; the diff logic already uses it.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from schemas.base import StrictModel
from schemas.image import Size, parse_size

__all__ = ["Host", "Iscsi", "Volume", "VolumePoolSpec", "Zfs"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_DATASET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)+$")
_IQN = re.compile(r"^iqn\.[0-9]{4}-[0-9]{2}\.[a-z0-9.-]+(:[A-Za-z0-9._:-]*)?$")


def _name(value: str, what: str) -> str:
    if not _NAME.match(value) or ".." in value:
        raise PydanticCustomError(
            "name",
            "'{value}' is not a valid {what} (letters, digits, _ . -)",
            {"value": value, "what": what},
        )
    return value


class Host(StrictModel):
    """The storage host and how to reach it."""

    address: str = Field(min_length=1)
    port: int = Field(22, ge=1, le=65535)
    user: str = "root"
    key: str = Field(description="the private key of the restricted account")
    known_hosts: str = Field(description="a known_hosts file pinning the host's key")
    trust_on_first_use: bool = Field(
        False, description="accept and record an unknown host key (never a changed one)"
    )


class Zfs(StrictModel):
    """Where the volumes live."""

    base: str = Field(description="the dataset holding the volumes, e.g. tank/openstack/volume")
    thin: bool = Field(False, description="sparse volumes (zfs create -s): no reservation")

    @field_validator("base")
    @classmethod
    def _base(cls, value: str) -> str:
        if not _DATASET.match(value) or ".." in value:
            raise PydanticCustomError(
                "dataset",
                "'{value}' is not a dataset under a pool (POOL/NAME...)",
                {"value": value},
            )
        return value


class Iscsi(StrictModel):
    """How volumes are exported."""

    helper: str = Field("tgtadm", pattern=r"^tgtadm$")
    portal: str = Field(description="ADDRESS:PORT initiators connect to")
    iqn_prefix: str = Field("iqn.2010-10.org.openstack:")
    initiators: list[str] = Field(
        default_factory=list, description="initiator IQNs or IPv4 addresses allowed on every volume"
    )

    @field_validator("iqn_prefix")
    @classmethod
    def _iqn(cls, value: str) -> str:
        if not _IQN.match(value):
            raise PydanticCustomError(
                "iqn", "'{value}' is not an iSCSI qualified name prefix", {"value": value}
            )
        return value


class Volume(StrictModel):
    """One zvol: its size, snapshots, origin, export."""

    name: str
    size: Size | None = Field(None, description="e.g. 20G; grown, never shrunk")
    snapshots: list[str] = Field(default_factory=list)
    clone_of: str | None = Field(None, description="VOLUME@SNAPSHOT of this pool")
    promote: bool = False
    export: bool = True
    initiators: list[str] | None = Field(None, description="instead of the pool's")

    @field_validator("name")
    @classmethod
    def _volume_name(cls, value: str) -> str:
        return _name(value, "volume name")

    @field_validator("snapshots")
    @classmethod
    def _snapshot_names(cls, value: list[str]) -> list[str]:
        for snapshot in value:
            _name(snapshot, "snapshot name")
        if len(set(value)) != len(value):
            raise PydanticCustomError("snapshots", "a snapshot is listed twice")
        return value

    @field_validator("clone_of")
    @classmethod
    def _origin(cls, value: str | None) -> str | None:
        if value is not None:
            volume, at, snapshot = value.partition("@")
            if not at:
                raise PydanticCustomError(
                    "clone_of", "clone_of is VOLUME@SNAPSHOT, got '{value}'", {"value": value}
                )
            _name(volume, "volume name")
            _name(snapshot, "snapshot name")
        return value

    @model_validator(mode="after")
    def _sized(self) -> Volume:
        if self.size is None and self.clone_of is None:
            raise PydanticCustomError("size", "a volume needs a size unless it is a clone")
        if self.promote and self.clone_of is None:
            raise PydanticCustomError("promote", "only a clone can be promoted")
        return self

    @property
    def bytes(self) -> int | None:
        """The size in bytes, when given."""
        return None if self.size is None else parse_size(self.size)


class VolumePoolSpec(StrictModel):
    """A pool of volumes on one storage host."""

    kind: str = Field("volume-pool", pattern=r"^volume-pool$")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    host: Host
    zfs: Zfs
    iscsi: Iscsi
    volumes: list[Volume] = Field(default_factory=list)
    prune: bool = Field(False, description="destroy what the spec no longer lists")

    @model_validator(mode="after")
    def _consistent(self) -> VolumePoolSpec:
        names = [v.name for v in self.volumes]
        if len(set(names)) != len(names):
            raise PydanticCustomError("volumes", "a volume is listed twice")
        known = {v.name: v for v in self.volumes}
        for volume in self.volumes:
            if volume.clone_of is None:
                continue
            origin, _, snapshot = volume.clone_of.partition("@")
            if origin in known and snapshot not in known[origin].snapshots:
                raise PydanticCustomError(
                    "clone_of",
                    "volume '{name}' is a clone of {origin}@{snapshot}, which the spec does not list",
                    {"name": volume.name, "origin": origin, "snapshot": snapshot},
                )
        return self
