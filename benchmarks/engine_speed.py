"""Megapixels/s and peak host memory per model x backend x tile size.

    python benchmarks/engine_speed.py PHOTO [--megapixels 12] [--models unet,resse] [--backends torch,onnx,auto]
                                      [--tiles auto|512,1024] [--threads N] [--repeat N]

PHOTO is resized to the requested size (a real dark frame keeps the content realistic). Each
configuration runs in a fresh process, so its peak resident memory (ru_maxrss) is its own; the
photo's own size (8-bit RGB) is printed for scale. Models without shipped weights run with seeded
random weights of their default preset: speed and memory do not depend on the weights' values.

MP/s is the first run in the process, as one `llid enhance` sees it (the runtime still prepares
its kernels for each new tile shape). With `--repeat N` the photo runs N times more in the same
process and "warm" is the best of those: what every photo after the first of a `llid batch` sees.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one(photo: str, model: str, backend: str, tile: int | None, threads: int, repeat: int = 0) -> dict:
    import resource

    import torch

    from llid_cli.engine.runner import EngineOptions, build_model_runner
    from llid_cli.io import read_image
    from llid_cli.models import get_spec
    from llid_cli.models.locations import default_weights_path
    from llid_cli.models.weights import save_weights

    path = default_weights_path(model)
    if not path.is_file():
        torch.manual_seed(0)
        path = Path(tempfile.gettempdir()) / f"llid-bench-{model}.safetensors"
        spec = get_spec(model)
        save_weights(spec.build(), path, model, spec.presets["default"])
    pixels = read_image(photo).pixels
    runner = build_model_runner(model, str(path),
                                EngineOptions(backend=backend, tile=tile, threads=threads))
    base = _rss_mb()  # the runtime, the model and the decoded photo
    times = []
    for _ in range(1 + repeat):
        start = time.perf_counter()
        runner(pixels)
        times.append(time.perf_counter() - start)
    megapixels = pixels.shape[0] * pixels.shape[1] / 1e6
    return {"mp_s": megapixels / times[0], "seconds": times[0], "base_mb": base,
            "warm_mp_s": megapixels / min(times[1:]) if repeat else None,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "backend": runner.backend.name, "tile": runner.tiler.tile}


def _rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("photo")
    parser.add_argument("--megapixels", type=float, default=12)
    parser.add_argument("--models", default="clahe-cnn,resse,unet,two-stage,mirnet")
    parser.add_argument("--backends", default="torch,onnx", help="comma-separated: torch, onnx, auto")
    parser.add_argument("--tiles", default="auto", help="comma-separated tile sizes, or auto")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=0, help="runs after the first, for the warm figure")
    parser.add_argument("--one", nargs=3, metavar=("MODEL", "BACKEND", "TILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        tile = None if args.one[2] == "auto" else int(args.one[2])
        print(json.dumps(one(args.photo, args.one[0], args.one[1], tile, args.threads, args.repeat)))
        return

    import cv2

    from llid_cli.io import Image, read_image, write_image
    from llid_cli.models import all_specs

    networks = [spec.name for spec in all_specs() if spec.learned]
    others = [name for name in args.models.split(",") if name not in networks]
    if others:  # the classical path runs in the pipeline, not in the engine measured here
        parser.error(f"not a network of the zoo: {', '.join(others)} (those: {', '.join(networks)})")

    src = read_image(args.photo).pixels
    height = int((args.megapixels * 1e6 * 3 / 4) ** 0.5)
    width = int(height * 4 / 3)
    big = cv2.resize(src, (width, height), interpolation=cv2.INTER_CUBIC)
    photo = Path(tempfile.mkdtemp()) / "bench.png"
    write_image(Image(pixels=big), photo)
    print(f"photo {width}x{height} ({width * height / 1e6:.1f} MP, {big.nbytes / 2**20:.0f} MiB as 8-bit RGB), "
          f"threads {args.threads or 'all'}")
    print(f"{'model':<10} {'backend':<10} {'tile':>5} {'MP/s':>7} {'seconds':>8} {'base MiB':>9} {'peak MiB':>9} "
          f"{'peak-base':>9}{' warm MP/s' if args.repeat else ''}")
    for model in args.models.split(","):
        for backend in args.backends.split(","):
            for tile in args.tiles.split(","):
                cmd = [sys.executable, __file__, str(photo), "--one", model, backend, tile, "--threads", str(args.threads),
                       "--repeat", str(args.repeat)]
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode != 0:
                    print(f"{model:<10} {backend:<10} {tile:>5} failed: {done.stderr.strip().splitlines()[-1]}")
                    continue
                r = json.loads(done.stdout.strip().splitlines()[-1])
                ran = f"{backend}" if backend != "auto" else f"auto:{r['backend']}"
                print(f"{model:<10} {ran:<10} {r['tile']:>5} {r['mp_s']:>7.3f} {r['seconds']:>8.1f} {r['base_mb']:>9.0f} "
                      f"{r['peak_mb']:>9.0f} {r['peak_mb'] - r['base_mb']:>9.0f}"
                      + (f" {r['warm_mp_s']:>9.3f}" if r["warm_mp_s"] else ""), flush=True)


if __name__ == "__main__":
    main()
