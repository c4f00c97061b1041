"""Digests of what every shipped model renders, to prove a change leaves the pixels as they were.

    python scripts/render_digest.py --write before.json      # at the commit before the change
    python scripts/render_digest.py --check before.json      # after it: exit 1 on any difference
    python scripts/render_digest.py --models lynx,clahe --write quick.json

A refactoring that claims "behaviour unchanged" runs this on the same machine before and after:
floating-point results depend on the CPU and the thread count, so digests are compared within
one machine, not across. Every shipped model (and `clahe`) renders a fixed set of photos made
here, seeded: 8- and 16-bit, one run whole and one in 64-pixel tiles, on PyTorch and on ONNX
Runtime, plain and with `--exposure`, `--denoise`, `--strength` and the night look (its EXIF).
Each output's sha256 is recorded under `model/backend/photo/settings`; the time per backend is
printed, so speed can be compared in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from llid_cli.engine.runner import EngineOptions
from llid_cli.io import Image
from llid_cli.io.metadata import exposure_settings_from
from llid_cli.models.controls import Controls
from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline

SETTINGS = {
    "plain": {},
    "exposure+1": {"controls": Controls(exposure=1.0)},
    "denoise2": {"controls": Controls(denoise=2.0)},
    "strength0.5": {"strength": 0.5},
    "night": {},  # the photo with a night's exposure settings: the night look by default
}


def photos() -> dict[str, Image]:
    """A dark, noisy, colourful photo in 8 and 16 bits, and the same with a night's EXIF."""
    rng = np.random.default_rng(7)
    rows, cols = np.mgrid[:120, :168].astype(np.float32)
    base = np.stack([cols / 167, rows / 119, 0.5 + 0.5 * np.sin((rows + cols) / 9)], axis=2) * 0.18
    base = np.clip(base + rng.normal(0, 0.01, base.shape), 0, 1)
    eight = np.rint(base * 255).astype(np.uint8)
    sixteen = np.rint(base * 65535).astype(np.uint16)
    return {"8bit": Image(pixels=eight), "16bit": Image(pixels=sixteen),
            "8bit-night": Image(pixels=eight, exposure=_night())}


def _night():
    return exposure_settings_from(0.25, 2.8, 800)  # 1/4 s, f/2.8, ISO 800: a street at night


def shipped_models() -> list[str]:
    from llid_cli.models.locations import weights_dir

    return sorted(p.name.removesuffix(".graphs.json") for p in weights_dir().glob("*.graphs.json")) + ["clahe"]


def render(models: list[str]) -> tuple[dict[str, str], dict[str, float]]:
    digests, seconds = {}, {}
    images = photos()
    for backend in ("torch", "onnx"):
        start = time.perf_counter()
        for model in models:
            if model == "clahe" and backend == "onnx":
                continue  # no network: one runtime
            for tiling, tile in (("whole", 0), ("tiles64", 64)):
                base = EnhanceOptions(model=model, engine=EngineOptions(backend=backend, tile=tile, overlap=16, threads=2))
                for label, changes in SETTINGS.items():
                    if label == "denoise2" and model not in ("lynx", "lynx-fast"):
                        continue  # only lynx's filter takes a strength
                    pipeline = Pipeline(replace(base, **changes))
                    for name, image in images.items():
                        if (name == "8bit-night") != (label == "night"):
                            continue
                        pixels = pipeline.enhance_image(image).pixels
                        key = f"{model}/{backend}/{tiling}/{name}/{label}"
                        digests[key] = hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()
        seconds[backend] = time.perf_counter() - start
    return digests, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--write", type=Path, help="write the digests here")
    what.add_argument("--check", type=Path, help="compare with the digests written here")
    parser.add_argument("--models", default="", help="comma-separated [default: every shipped model, and clahe]")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m] or shipped_models()
    digests, seconds = render(models)
    print("seconds: " + ", ".join(f"{backend} {s:.1f}" for backend, s in seconds.items()))
    if args.write:
        args.write.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
        print(f"{len(digests)} renderings written to {args.write}")
        return
    before = json.loads(args.check.read_text())
    changed = sorted(k for k in before.keys() & digests.keys() if before[k] != digests[k])
    missing, new = sorted(before.keys() - digests.keys()), sorted(digests.keys() - before.keys())
    for key in changed:
        print(f"changed: {key}")
    for key in missing:
        print(f"not rendered now: {key}")
    for key in new:
        print(f"not rendered before: {key}")
    same = len(before.keys() & digests.keys()) - len(changed)
    print(f"{same} renderings identical, {len(changed)} changed, {len(missing)} missing, {len(new)} new")
    sys.exit(1 if changed or missing else 0)


if __name__ == "__main__":
    main()
