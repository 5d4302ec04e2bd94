"""engine/image/recipe.py: the spec, the recipe hash, mmdebstrap's command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import image
from engine.errors import SpecError
from engine.loader import load_spec
from schemas.image import ImageSpec, parse_size

RECIPE = """\
kind: image
name: demo
packages: [curl, vim-tiny]
hostname: demo-host
formats: [uec, qcow2]
output: out/demo
cache: cache
hooks:
  - echo hello > "$1/etc/motd"
"""


def _spec(tmp_path: Path, text: str = RECIPE) -> ImageSpec:
    path = tmp_path / "image.yaml"
    path.write_text(text, encoding="utf-8")
    spec = load_spec(path)
    assert isinstance(spec, ImageSpec)
    return spec


def test_sizes() -> None:
    assert parse_size("2G") == 2 << 30
    assert parse_size("512M") == 512 << 20
    assert parse_size("1.5GiB") == 3 << 29
    with pytest.raises(ValueError, match="is not a size"):
        parse_size("big")


def test_paths_resolve_against_the_spec_folder(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    assert spec.output == tmp_path / "out" / "demo"
    assert spec.cache == tmp_path / "cache"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("packages: [curl, 'rm -rf /']", "is not a Debian package name"),
        ("hostname: Not_A_Host", "is not a host name"),
        ("formats: [uec, uec]", "a format is listed twice"),
        ("formats: [vmdk]", "formats[0]"),
        ("debian: {mirror: 'ftp://x'}", "is not an http(s):// or file:// URL"),
        ("root: {disk_size: huge}", "is not a size"),
        ("colour: blue", "unknown key 'colour'"),
    ],
)
def test_bad_recipes_are_reported_at_their_line(tmp_path: Path, change: str, message: str) -> None:
    key = change.split(":")[0]
    lines = [line for line in RECIPE.splitlines() if not line.startswith(key + ":")]
    text = "\n".join([*lines, change]) + "\n"
    with pytest.raises(SpecError) as caught:
        _spec(tmp_path, text)
    assert any(message in str(p) for p in caught.value.problems), caught.value.problems
    assert all(p.line > 1 for p in caught.value.problems)


def test_the_recipe_hash_follows_what_shapes_the_image(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    same = image.recipe_hash(spec)
    assert image.recipe_hash(spec) == same
    # Checks and uploads do not change the files: same hash, no rebuild.
    assert image.recipe_hash(spec.model_copy(update={"name": "other"})) == same
    verified = spec.model_copy(update={"verify": spec.verify.model_copy(update={"boot": True})})
    assert image.recipe_hash(verified) == same
    assert image.recipe_hash(spec.model_copy(update={"packages": ["curl"]})) != same
    assert image.recipe_hash(spec.model_copy(update={"hostname": "other"})) != same


def test_mmdebstrap_installs_the_base_and_the_recipe_packages(tmp_path: Path) -> None:
    argv = image.mmdebstrap_argv(_spec(tmp_path), "/work/root")
    assert argv[:2] == ["mmdebstrap", "--variant=apt"]
    include = next(a for a in argv if a.startswith("--include="))
    assert include == "--include=" + ",".join([*image.BASE_PACKAGES, "curl", "vim-tiny"])
    assert argv[-2:] == ["bookworm", "/work/root"]  # no mirror: mmdebstrap's default
    # The initramfs needs FSTYPE=ext4 before the kernel is installed.
    assert any(a.startswith("--essential-hook=") and "FSTYPE=ext4" in a for a in argv)
    hooks = [a.removeprefix("--customize-hook=") for a in argv if a.startswith("--customize-hook=")]
    assert 'echo hello > "$1/etc/motd"' in hooks
    text = "\n".join(hooks)
    assert "LABEL=cloudimg-rootfs\\t/\\text4" in text  # root by label, no swap line
    assert "ssh-keygen -A" in text and 'rm -f "$1"/etc/ssh/ssh_host_*' in text
    assert "console=ttyS0" in text  # GRUB's serial console for the bare disk
    assert "169.254.169.254" in text  # the metadata key, without cloud-init


def test_cloud_init_brings_a_utf8_locale(tmp_path: Path) -> None:
    spec = _spec(tmp_path, RECIPE + "cloud_init: true\n")
    argv = image.mmdebstrap_argv(spec, "/r")
    assert "cloud-init" in next(a for a in argv if a.startswith("--include="))
    text = "\n".join(argv)
    assert "en_US.UTF-8 UTF-8" in text and "locale-gen" in text
    assert "169.254.169.254" not in text
