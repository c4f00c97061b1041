"""Tiled versus whole-image output for every zoo model on one real photo (the engine's acceptance).

    python benchmarks/tiling_check.py PHOTO [--tile 512] [--overlap 32] [--weights-dir DIR]

For each learned model (shipped weights when present, else the default preset with seeded random
weights) the photo is enhanced whole and tiled; printed: PSNR between the two, the largest mean
jump across a tile border, and the 99th percentile of the same jump measured inside tiles.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from llid_cli.engine.runner import EngineOptions, build_model_runner
from llid_cli.engine.tiling import positions
from llid_cli.io import read_image
from llid_cli.metrics import psnr
from llid_cli.models import all_specs
from llid_cli.models.locations import default_weights_path
from llid_cli.models.weights import save_weights


def border_jumps(out: np.ndarray, cuts: list[int]) -> tuple[float, float]:
    """Mean |difference| between neighbouring columns, at tile borders vs. elsewhere."""
    diff = np.abs(np.diff(out.astype(np.float64), axis=1)).mean(axis=(0, 2))  # one value per column gap
    at_cuts = [diff[c - 1] for c in cuts if 0 < c < len(diff) + 1]
    inside = np.delete(diff, [c - 1 for c in cuts if 0 < c < len(diff) + 1])
    return float(max(at_cuts)) if at_cuts else 0.0, float(np.percentile(inside, 99))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("photo")
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--models", default="")
    args = parser.parse_args()
    pixels = read_image(args.photo).pixels
    print(f"{args.photo}: {pixels.shape[1]}x{pixels.shape[0]}, tile {args.tile}, overlap {args.overlap}, backend {args.backend}")
    print(f"{'model':<10} {'weights':<8} {'PSNR tiled/whole':>17} {'max border jump':>16} {'p99 inside jump':>16} {'s':>6}")
    for spec in all_specs():
        if not spec.learned or (args.models and spec.name not in args.models.split(",")):
            continue
        path = default_weights_path(spec.name)
        source = "shipped"
        if not path.is_file():
            torch.manual_seed(0)
            path = f"/tmp/llid-random-{spec.name}.safetensors"
            save_weights(spec.build(), path, spec.name, spec.presets["default"])
            source = "random"
        start = time.perf_counter()
        whole = build_model_runner(spec.name, str(path), EngineOptions(backend=args.backend, tile=4096))(pixels)
        tiled_fn = build_model_runner(spec.name, str(path),
                                      EngineOptions(backend=args.backend, tile=args.tile, overlap=args.overlap))
        tiled = tiled_fn(pixels)
        tile = tiled_fn.tiler.tile
        multiple = tiled_fn.descriptor.input_multiple
        cuts = [s for s, _ in positions(pixels.shape[1], tile, min(args.overlap, tile // 4), multiple)][1:]
        jump, inside = border_jumps(tiled, cuts)
        print(f"{spec.name:<10} {source:<8} {psnr(tiled, whole):>17.2f} {jump:>16.3f} {inside:>16.3f} {time.perf_counter() - start:>6.1f}")


if __name__ == "__main__":
    main()
