"""Whole `llid enhance` runs, start-up included: wall seconds and peak memory per size x backend.

    python benchmarks/startup.py PHOTO [--megapixels 0.3,2,12] [--backends auto,torch,onnx]
                                 [--model lynx] [--threads 2] [--rounds 2]

`engine_speed.py` times the engine once the model is loaded; a user waits for the whole command,
where importing torch and building the network cost about 2.4 s. This is the figure that decides
what `--backend auto` does for a small job (`GRAPHS_UP_TO_MEGAPIXELS` in llid_cli/engine/plan.py).
PHOTO is resized to each size and saved as JPEG; the output is a JPEG too (a 12 MP PNG takes
seconds to encode, which would hide the difference). Each run is a fresh process; rounds alternate
the backends, so a machine that slows down meanwhile slows every backend alike.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(args: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak resident MiB of the child, and its last line of stderr."""
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    error = child.stderr.read().strip().splitlines()
    child.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, "" if code == 0 else (error[-1] if error else f"exit {code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photo", type=Path)
    parser.add_argument("--megapixels", default="0.3,2,12")
    parser.add_argument("--backends", default="auto,torch,onnx")
    parser.add_argument("--model", default="lynx")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()

    import cv2

    source = cv2.imread(str(options.photo), cv2.IMREAD_COLOR)
    if source is None:
        raise SystemExit(f"{options.photo}: not a photo OpenCV can read")
    sizes = [float(x) for x in options.megapixels.split(",")]
    backends = options.backends.split(",")
    with tempfile.TemporaryDirectory(prefix="llid-startup-") as folder:
        photos = {}
        for megapixels in sizes:
            scale = (megapixels * 1e6 / (source.shape[0] * source.shape[1])) ** 0.5
            size = (max(8, round(source.shape[1] * scale)), max(8, round(source.shape[0] * scale)))
            photos[megapixels] = Path(folder) / f"{megapixels}.jpg"
            cv2.imwrite(str(photos[megapixels]), cv2.resize(source, size, interpolation=cv2.INTER_AREA),
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
        print(f"model {options.model}, threads {options.threads}, {options.rounds} round(s) alternating backends")
        print(f"{'MP':>5} {'backend':8} {'seconds':>8} {'peak MiB':>9}")
        for megapixels in sizes:
            for _ in range(options.rounds):
                for backend in backends:
                    out = Path(folder) / f"out-{backend}.jpg"
                    wall, peak, error = run_once([
                        sys.executable, "-m", "llid_cli", "enhance", str(photos[megapixels]), "-o", str(out),
                        "--overwrite", "--model", options.model, "--backend", backend,
                        "--threads", str(options.threads)])
                    if error:
                        print(f"{megapixels:5g} {backend:8} failed: {error}")
                        continue
                    print(f"{megapixels:5g} {backend:8} {wall:8.2f} {peak:9.0f}", flush=True)


if __name__ == "__main__":
    main()
