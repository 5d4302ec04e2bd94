"""The ``kind: volume-pool`` spec model (schemas/volume_pool.py), field by field.

What validates here ends up in the commands the storage host's wrapper
accepts (engine/hosts/wrapper.py, generated with this module's patterns), so
every pattern matches whole values:
a trailing newline, which ``re.match(... + "$")`` would let through, is
refused everywhere. The spec's name is recorded on what the engine makes
(``org.specengine:spec``) and so is a plain ZFS name of at most 64 characters.
"""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from pydantic import ValidationError

from schemas.volume_pool import IQN_MAX_LENGTH, IQN_PATTERN, NAME_PATTERN, VolumePoolSpec

ROOT = Path(__file__).resolve().parents[2]


def _data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "volume-pool",
        "name": "lab",
        "host": {"address": "192.0.2.9", "user": "specengine", "key": "/k", "known_hosts": "/kh"},
        "zfs": {"base": "tank/openstack/volume"},
        "iscsi": {"portal": "192.0.2.9:3260", "initiators": ["ALL"]},
        "volumes": [
            {"name": "vol-db", "size": "20G", "snapshots": ["old"]},
            {"name": "vol-test", "clone_of": "vol-db@old", "initiators": ["10.0.2.2"]},
        ],
        "setup": {
            "admin_key": "/admin",
            "from_addresses": ["192.0.2.4"],
            "devices": ["/dev/vdb"],
        },
    }
    data.update(changes)
    return data


def _spec(data: dict[str, Any]) -> VolumePoolSpec:
    return VolumePoolSpec.model_validate(data, context={"check_files": False})


def test_the_example_is_valid() -> None:
    spec = _spec(_data())
    assert [v.name for v in spec.volumes] == ["vol-db", "vol-test"]


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``data`` with the value at ``path`` (keys and list indices, dot-separated) replaced."""
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("name", "lab\n"),
        ("host.address", "192.0.2.9\n"),
        ("host.user", "specengine\n"),
        ("zfs.base", "tank/openstack/volume\n"),
        ("zfs.base", "tank\n/openstack"),
        ("iscsi.iqn_prefix", "iqn.2010-10.org.openstack:\n"),
        ("iscsi.initiators.0", "ALL\n"),
        ("iscsi.initiators.0", "iqn.1993-08.org.debian:01:abc\n"),
        ("iscsi.initiators.0", "10.0.2.2\n"),
        ("volumes.0.name", "vol-db\n"),
        ("volumes.0.snapshots.0", "old\n"),
        ("volumes.1.clone_of", "vol-db@old\n"),
        ("volumes.1.clone_of", "vol-db\n@old"),
        ("volumes.1.initiators.0", "10.0.2.2\n"),
        ("setup.admin_user", "root\n"),
        ("setup.from_addresses.0", "192.0.2.4\n"),
        ("setup.devices.0", "/dev/vdb\n"),
    ],
)
def test_a_trailing_newline_is_refused_everywhere(path: str, value: str) -> None:
    data = _set(_data(), path, value)
    if path.startswith("volumes.0.snapshots"):
        data["volumes"][1]["clone_of"] = f"vol-db@{value}"
    with pytest.raises(ValidationError):
        _spec(data)
    # Without the newline, the same value is valid.
    _spec(_set(_data(), path, value.replace("\n", "")))


@pytest.mark.parametrize("length", [1, 63, 64])
def test_a_spec_name_of_up_to_64_characters_is_valid(length: int) -> None:
    name = "l" + "a" * (length - 1)
    assert _spec(_data(name=name)).name == name
    # As the wrapper accepts it in -o org.specengine:spec=NAME.
    assert re.fullmatch(NAME_PATTERN, name)


@pytest.mark.parametrize(
    "name",
    ["l" + "a" * 64, "", "-lab", ".lab", "lab/x", "lab x", "lab;id", "la=b", "läb", "lab@s"],
)
def test_a_spec_name_the_wrapper_would_refuse_is_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="name"):
        _spec(_data(name=name))


@pytest.mark.parametrize(
    "prefix",
    [
        "iqn.2010-10.org.openstack:",
        "iqn.2024-05.org.example:pool.",
        "iqn.2024-05.org.example:pool-",
        "iqn.2024-05.org.example.",
    ],
)
def test_an_iqn_prefix_makes_iqns_the_wrapper_accepts(prefix: str) -> None:
    spec = _spec(_data(iscsi={**_data()["iscsi"], "iqn_prefix": prefix}))
    for volume in spec.volumes:
        assert re.fullmatch(IQN_PATTERN, spec.iscsi.iqn_prefix + volume.name)


@pytest.mark.parametrize(
    "prefix",
    [
        "",
        "iqn.",
        "IQN.2010-10.org.openstack:",
        "iqn.2010-1.org.openstack:",
        "iqn.2010-10.Org.Openstack:",
        "iqn.2010-10.org.openstack: ",
        "iqn.2010-10.org.openstack:a b:",
        "iqn.2010-10.org.openstack:/",
        "eui.02004567A425678D",
        "iqn.2010-10.org.openstack:;id;",
    ],
)
def test_an_iqn_prefix_that_makes_no_iqn_is_refused(prefix: str) -> None:
    with pytest.raises(ValidationError, match="is not an iSCSI qualified name prefix"):
        _spec(_data(iscsi={**_data()["iscsi"], "iqn_prefix": prefix}))


def test_an_iqn_prefix_too_long_for_the_wrapper_is_refused() -> None:
    prefix = "iqn.2010-10.org." + "a" * 210 + ":"
    with pytest.raises(ValidationError):
        _spec(_data(iscsi={**_data()["iscsi"], "iqn_prefix": prefix}))


def test_the_longest_prefix_and_name_make_an_iqn_of_at_most_223_characters() -> None:
    prefix = "iqn.2010-10.org." + "a" * (IQN_MAX_LENGTH - 64 - 17) + ":"
    name = "v" * 64
    spec = _spec(
        _data(
            iscsi={**_data()["iscsi"], "iqn_prefix": prefix},
            volumes=[{"name": name, "size": "1G"}],
        )
    )
    assert len(spec.iscsi.iqn_prefix + name) == IQN_MAX_LENGTH == 223
    with pytest.raises(ValidationError):
        _spec(_data(iscsi={**_data()["iscsi"], "iqn_prefix": prefix + "a"}))


def test_an_initiator_iqn_longer_than_223_characters_is_refused() -> None:
    # The wrapper refuses it in a bind: the spec says so first, at its line.
    longest = "iqn.1993-08.org.debian:" + "a" * (IQN_MAX_LENGTH - 23)
    assert len(longest) == IQN_MAX_LENGTH
    _spec(_data(iscsi={**_data()["iscsi"], "initiators": [longest]}))
    with pytest.raises(ValidationError, match="is not an initiator: an IQN \\(at most 223"):
        _spec(_data(iscsi={**_data()["iscsi"], "initiators": [longest + "a"]}))


def test_the_schema_imports_nothing_of_the_engine() -> None:
    # The layering (schemas -> renderers, hosts -> kinds): the wrapper gets
    # this module's patterns from the volume-pool kind, never the reverse.
    tree = ast.parse((ROOT / "schemas" / "volume_pool.py").read_text(encoding="utf-8"))
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    assert [name for name in imported if name.split(".")[0] == "engine"] == []


def _clones(*volumes: dict[str, Any]) -> dict[str, Any]:
    return _data(volumes=[{"name": "vol-db", "size": "20G", "snapshots": ["new"]}, *volumes])


def test_a_promoted_clone_may_list_the_snapshot_it_was_cloned_from() -> None:
    # After zfs promote, vol-db@old is vol-copy@old: the origin need not list it.
    spec = _spec(
        _clones(
            {"name": "vol-copy", "clone_of": "vol-db@old", "promote": True, "snapshots": ["old"]}
        )
    )
    assert spec.volumes[1].snapshots == ["old"]
    # Not a clone that is not promoted: the snapshot stays the origin's.
    with pytest.raises(ValidationError, match="which the spec does not list"):
        _spec(_clones({"name": "vol-copy", "clone_of": "vol-db@old", "snapshots": ["old"]}))
    # Nor a promoted clone that lists some other snapshot only.
    with pytest.raises(ValidationError, match="vol-copy' is a clone of vol-db@old"):
        _spec(
            _clones(
                {
                    "name": "vol-copy",
                    "clone_of": "vol-db@old",
                    "promote": True,
                    "snapshots": ["mine"],
                }
            )
        )
    # A clone of a volume the spec does not list is the host's to check.
    _spec(_clones({"name": "vol-copy", "clone_of": "elsewhere@s"}))


def test_the_engine_requires_an_ansible_core_it_is_tested_with() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (requirement,) = [
        Requirement(line) for line in project["dependencies"] if line.startswith("ansible-core")
    ]
    assert str(requirement.specifier) == ">=2.18"
    assert requirement.specifier.contains(version("ansible-core"))
