"""`llid video --ray` against one process: wall time, and how far the joined video's exposure is
from the single run's, frame by frame.

    python benchmarks/video_ray.py [--size 720p] [--seconds 10] [--model lynx-fast] [--workers 2] [--segment 2]

Makes a dark, noisy H.264 clip with a keyframe each second (`video_speed.make_clip`), enhances it
with `llid video` in one process (`--threads` = workers) and with `--ray` (a local Ray instance
started by the command, one thread per worker), each in a fresh process timed from launch to
exit (Ray's start-up included), and prints both times, the frames and timestamps compared, and the
largest per-frame difference of log2 mean luminance between the two outputs (stops).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from video_speed import SIZES, make_clip


def frames(path: Path) -> tuple[list[float], list[float]]:
    import av

    from llid_cli.rendering.tone import LINEAR_LUMA, srgb_to_linear

    times, exposures = [], []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            times.append(float(frame.time))
            pixels = frame.to_ndarray(format="rgb24") / 255.0
            exposures.append(float(np.log2((srgb_to_linear(pixels) @ LINEAR_LUMA).mean())))
    return times, exposures


def timed(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "llid_cli", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="720p", choices=sorted(SIZES))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--model", default="lynx-fast")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--segment", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        source = folder / "in.mp4"
        make_clip(source, SIZES[args.size], 30 * args.seconds, keyint=30)
        common = ("--model", args.model, "-q")
        single = timed("video", str(source), "-o", str(folder / "single.mp4"), *common, "--threads", str(args.workers))
        ray = timed("video", str(source), "-o", str(folder / "ray.mp4"), *common, "--threads", "1", "--ray",
                    "--workers", str(args.workers), "--segment", str(args.segment))
        (t1, e1), (t2, e2) = frames(folder / "single.mp4"), frames(folder / "ray.mp4")
        count = len(t1)
        print(f"{args.size}, {count} frames, {args.model}, {args.workers} workers, segments >= {args.segment:g} s")
        print(f"one process, {args.workers} threads: {single:.1f} s ({count / single:.2f} fps)")
        print(f"--ray, {args.workers} x 1 thread:  {ray:.1f} s ({count / ray:.2f} fps)")
        print(f"same frames and timestamps: {t1 == t2}; largest exposure difference: "
              f"{np.abs(np.subtract(e1, e2)).max():.4f} stops (mean {np.abs(np.subtract(e1, e2)).mean():.4f})")


if __name__ == "__main__":
    main()
