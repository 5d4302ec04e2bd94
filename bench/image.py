"""Benchmark of an image build against mmdebstrap alone, and of the boots.

    .venv/bin/python bench/image.py [SPEC]   (default specs/images/debian-bookworm-uec.yaml)

Runs, in a temporary folder: mmdebstrap alone with the recipe's package set
into a folder (the floor of any build), then the whole engine build of the
recipe (``--force``, no cache), then the boot checks; prints a Markdown table
with the times, the ratio to mmdebstrap, and the sizes of the minimised root
filesystem and of its content (the figures of docs/benchmarks.md).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import build_plan, image, load_spec, run  # noqa: E402


def main() -> None:
    spec_path = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "specs/images/debian-bookworm-uec.yaml"
    )
    work = Path(tempfile.mkdtemp(prefix="bench-image-"))
    try:
        spec = load_spec(spec_path)
        argv = [
            "mmdebstrap",
            "--variant=apt",
            f"--include={','.join(image.packages(spec))}",
            spec.debian.suite,
            str(work / "alone"),
        ]
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        alone = time.perf_counter() - started
        shutil.rmtree(work / "alone", ignore_errors=True)

        quiet = spec.model_copy(
            update={
                "output": work / "out",
                "cache": work / "cache",
                "upload": None,
                "verify": spec.verify.model_copy(update={"boot": False}),
            }
        )
        plan = build_plan(quiet, spec_path)
        started = time.perf_counter()
        run(plan, quiet, force=True)
        whole = time.perf_counter() - started

        booted = quiet.model_copy(update={"verify": spec.verify.model_copy(update={"boot": True})})
        plan = build_plan(booted, spec_path)
        started = time.perf_counter()
        state = run(plan, booted)
        boots = time.perf_counter() - started
        manifest = json.loads((work / "out" / "manifest.json").read_text())
        rows = [
            "| measure | value |",
            "|---|---|",
            f"| mmdebstrap alone, same packages | {alone:.1f} s |",
            f"| whole build (engine, --force) | {whole:.1f} s ({whole / alone:.2f}x mmdebstrap) |",
        ]
        if "rootfs.img" in manifest["artefacts"]:
            size = manifest["artefacts"]["rootfs.img"]["size"] / (1 << 20)
            used = manifest["root"]["used_mib"]
            rows.append(
                f"| minimised root filesystem | {size:.1f} MiB for {used} MiB of content"
                f" ({size / used:.3f}x) |"
            )
        for fmt, facts in state.manifest.get("boot", {}).items():
            rows.append(
                f"| boot {fmt} under TCG | login prompt {facts['login_s']} s, SSH {facts['ssh_s']} s |"
            )
        rows.append(f"| boot checks in all | {boots:.1f} s |")
        print("\n".join(rows))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
