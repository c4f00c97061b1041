"""`--tile auto` against the same model run whole (`--tile 0`): time and agreement.

    python benchmarks/auto_vs_whole.py PHOTO MODELS BACKENDS     # e.g. frame.png lynx,resse torch,onnx
    python benchmarks/auto_vs_whole.py PHOTO lynx,unet auto      # the runtime --backend auto picks

Each model x backend runs once with automatic tiles and once whole, 2 threads, after a warm-up on
a 256x256 crop (which also makes a backend's cached ONNX export); printed: each time, the tile
chosen, the time ratio and the PSNR of the tiled output against the whole one.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from llid_cli.engine.runner import EngineOptions, build_model_runner
from llid_cli.io import read_image


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean()
    return 10 * np.log10(255**2 / max(mse, 1e-12))


def main() -> None:
    photo = read_image(sys.argv[1]).pixels
    torch.set_num_threads(2)
    for model in sys.argv[2].split(","):
        for backend in sys.argv[3].split(","):
            outputs, seconds = {}, {}
            for label, tile in (("auto", None), ("whole", 0)):
                run = build_model_runner(model, None, EngineOptions(tile=tile, threads=2, backend=backend))
                run(photo[:256, :256])
                start = time.perf_counter()
                outputs[label] = run(photo)
                seconds[label] = time.perf_counter() - start
                tiles = run.tiler.stats.tiles or 1
                print(f"{model:10} {run.backend.name:5} {label:5} tile {run.tiler.tile:10} ({tiles} run) "
                      f"{seconds[label]:7.2f} s", flush=True)
            print(f"{model:10} {backend:5} auto/whole time {seconds['auto'] / seconds['whole']:.2f}, "
                  f"auto vs whole {psnr(outputs['auto'], outputs['whole']):.1f} dB", flush=True)


if __name__ == "__main__":
    main()
