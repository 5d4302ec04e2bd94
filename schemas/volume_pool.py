"""The ``kind: volume-pool`` spec: ZFS volumes of a storage host, exported over iSCSI.

Desired state: the volumes (size, snapshots, clones, export), the storage
host reached over SSH with a restricted key, and ``prune`` (default false:
nothing the spec no longer lists is ever destroyed unless it says so).

``setup`` says how ``engine setup`` prepares the host once, with admin
rights (playbooks/storage-host.yml): packages, the pool, tgt persistence, the
wrapper and the restricted key. Routine runs never use the admin key.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from schemas.base import InputPath, OutputPath, StrictModel
from schemas.units import Size, Wait, parse_size

__all__ = [
    "IQN_MAX_LENGTH",
    "IQN_PATTERN",
    "NAME_PATTERN",
    "Host",
    "Iscsi",
    "Setup",
    "Volume",
    "VolumePoolSpec",
    "Zfs",
]

#: One component of a dataset or snapshot name, and a spec's name (".." is refused too).
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
#: An iSCSI qualified name, as the engine names its targets and initiators.
IQN_PATTERN = r"iqn\.[0-9]{4}-[0-9]{2}\.[a-z0-9.-]+(:[A-Za-z0-9._:-]+)?"
#: The longest IQN (RFC 3720: 223 bytes).
IQN_MAX_LENGTH = 223

# The storage host's wrapper is generated with these same patterns (the
# volume-pool kind passes them to engine/hosts/wrapper.py): what validates
# here is what the host accepts.
# fullmatch throughout: re.match with "$" would let a trailing newline through.
_NAME = re.compile(NAME_PATTERN)
_DATASET = re.compile(f"{NAME_PATTERN}(/{NAME_PATTERN})+")
_IQN = re.compile(IQN_PATTERN)


def _initiators(value: list[str] | None) -> list[str] | None:
    for entry in value or []:
        if entry == "ALL" or (len(entry) <= IQN_MAX_LENGTH and _IQN.fullmatch(entry)):
            continue
        try:
            ipaddress.IPv4Address(entry)
        except ValueError:
            raise PydanticCustomError(
                "initiator",
                "'{entry}' is not an initiator: an IQN (at most {longest} characters),"
                " an IPv4 address or ALL",
                {"entry": entry, "longest": IQN_MAX_LENGTH},
            ) from None
    return value


def _name(value: str, what: str) -> str:
    if not _NAME.fullmatch(value) or ".." in value:
        raise PydanticCustomError(
            "name",
            "'{value}' is not a valid {what} (letters, digits, _ . -)",
            {"value": value, "what": what},
        )
    return value


class Host(StrictModel):
    """The storage host and how to reach it."""

    address: str = Field(min_length=1, pattern=r"^[A-Za-z0-9.:_-]+$")
    port: int = Field(22, ge=1, le=65535)
    user: str = Field("root", pattern=r"^[a-z_][a-z0-9_-]*$")
    key: InputPath = Field(description="the private key of the restricted account")
    known_hosts: OutputPath = Field(description="a known_hosts file pinning the host's key")
    timeout_s: Wait = Field(
        "20s",
        gt=0,
        validate_default=True,
        validation_alias="timeout",
        description="to connect, and for each command's answer",
    )
    trust_on_first_use: bool = Field(
        False, description="accept and record an unknown host key (never a changed one)"
    )


class Setup(StrictModel):
    """How ``engine setup`` prepares the storage host, with admin rights."""

    admin_user: str = Field("root", pattern=r"^[a-z_][a-z0-9_-]*$")
    admin_key: InputPath = Field(description="a private key the admin account accepts")
    public_key: InputPath | None = Field(
        None, description="the restricted key's public half; default: host.key + '.pub'"
    )
    from_addresses: list[str] = Field(
        min_length=1,
        description="addresses or networks the engine connects from (authorized_keys from=)",
    )
    devices: list[str] = Field(
        default_factory=list,
        description="disks for a new pool (zpool create); empty: the pool must exist",
    )
    packages: bool = Field(True, description="install zfsutils-linux, tgt, python3")

    @field_validator("from_addresses")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for address in value:
            try:
                ipaddress.ip_network(address, strict=True)
            except ValueError as error:
                raise PydanticCustomError(
                    "address", "'{address}': {error}", {"address": address, "error": str(error)}
                ) from None
        return value

    @field_validator("devices")
    @classmethod
    def _devices(cls, value: list[str]) -> list[str]:
        for device in value:
            if not re.fullmatch(r"/dev/[A-Za-z0-9_./:-]+", device) or ".." in device:
                raise PydanticCustomError(
                    "device", "'{device}' is not a /dev/... path", {"device": device}
                )
        return value


class Zfs(StrictModel):
    """Where the volumes live."""

    base: str = Field(description="the dataset holding the volumes, e.g. tank/openstack/volume")
    thin: bool = Field(False, description="sparse volumes (zfs create -s): no reservation")

    @field_validator("base")
    @classmethod
    def _base(cls, value: str) -> str:
        if not _DATASET.fullmatch(value) or ".." in value:
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
    # 223 characters make an IQN; a volume name may take 64 of them.
    iqn_prefix: str = Field("iqn.2010-10.org.openstack:", max_length=IQN_MAX_LENGTH - 64)
    initiators: list[str] = Field(
        default_factory=list, description="initiator IQNs or IPv4 addresses allowed on every volume"
    )

    _acl = field_validator("initiators")(_initiators)

    @field_validator("iqn_prefix")
    @classmethod
    def _iqn(cls, value: str) -> str:
        # The prefix and a volume name make the target's IQN.
        if not _IQN.fullmatch(value + "v"):
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

    _acl = field_validator("initiators")(_initiators)

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

    kind: Literal["volume-pool"]
    description: str | None = None
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$",
        description="recorded on what the engine makes (ZFS property org.specengine:spec)",
    )
    host: Host
    zfs: Zfs
    iscsi: Iscsi
    volumes: list[Volume] = Field(default_factory=list)
    prune: bool = Field(False, description="destroy what the spec no longer lists")
    setup: Setup | None = None

    @model_validator(mode="after")
    def _consistent(self) -> VolumePoolSpec:
        names = [v.name for v in self.volumes]
        if len(set(names)) != len(names):
            raise PydanticCustomError("volumes", "a volume is listed twice")
        known = {v.name: v for v in self.volumes}
        for volume in self.volumes:
            chain = [volume.name]
            current = volume
            while current.clone_of is not None:
                origin = current.clone_of.partition("@")[0]
                if origin in chain:
                    raise PydanticCustomError(
                        "clone_of",
                        "clone_of makes a cycle: {chain}",
                        {"chain": " -> ".join([*chain, origin])},
                    )
                if origin not in known:
                    break
                chain.append(origin)
                current = known[origin]
        for volume in self.volumes:
            acl = volume.initiators if volume.initiators is not None else self.iscsi.initiators
            if volume.export and not acl:
                raise PydanticCustomError(
                    "initiators",
                    "volume '{name}' is exported to no initiator: list some under"
                    " iscsi.initiators or the volume's initiators (ALL allows any)",
                    {"name": volume.name},
                )
            if volume.clone_of is None:
                continue
            origin, _, snapshot = volume.clone_of.partition("@")
            # A promoted clone takes the origin's snapshots up to its own (ZFS
            # moves them), so it may list the snapshot it was cloned from.
            moved = volume.promote and snapshot in volume.snapshots
            if origin in known and snapshot not in known[origin].snapshots and not moved:
                raise PydanticCustomError(
                    "clone_of",
                    "volume '{name}' is a clone of {origin}@{snapshot}, which the spec does not list",
                    {"name": volume.name, "origin": origin, "snapshot": snapshot},
                )
        return self
