"""End-to-end speed of `llid video` (decode + enhance + encode) and its added memory.

    python benchmarks/video_speed.py [--sizes 720p,1080p,4k] [--models lynx,lynx-fast] [--frames 48]
        [--precisions fp32,bf16]

Makes an H.264 clip of a dark, noisy scene at each size (with an AAC track), enhances it with each
model into H.264 as `llid video` does, and prints frames per second and the peak resident memory
the run added (ru_maxrss of a fresh process per run, less that process's after loading).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

SIZES = {"240p": (240, 320), "720p": (720, 1280), "1080p": (1080, 1920), "4k": (2160, 3840)}


def make_clip(path: Path, size: tuple[int, int], frames: int, fps: int = 30, keyint: int | None = None) -> None:
    import av

    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[: size[0], : size[1]].astype(np.float32)
    scene = np.stack([14 + 10 * cols / size[1], 12 + 8 * rows / size[0], 10 + 6 * np.sin(rows / 50)], axis=-1)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = size[1], size[0], "yuv420p"
        video.codec_context.options = {"crf": "18", "preset": "ultrafast", **({"g": str(keyint)} if keyint else {})}
        audio = out.add_stream("aac", rate=44100)
        audio.layout = "stereo"
        for index in range(frames):
            pixels = np.clip(scene + rng.normal(0, 2.5, scene.shape), 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        tone = np.zeros((2, 44100 * frames // fps), np.float32)
        chunk = __import__("av").AudioFrame.from_ndarray(tone, format="fltp", layout="stereo")
        chunk.sample_rate, chunk.pts = 44100, 0
        for packet in audio.encode(chunk):
            out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)


def one_run(source: str, target: str, model: str, threads: int, precision: str = "fp32") -> dict:
    """In this process: load, note memory, enhance, note the peak."""
    from llid_cli.engine.runner import EngineOptions
    from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline
    from llid_cli.rendering.video import enhance_video

    pipeline = Pipeline(EnhanceOptions(model=model, engine=EngineOptions(backend="auto", threads=threads, precision=precision)))
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = enhance_video(source, target, pipeline)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"frames": result.frames, "seconds": seconds, "added_mib": (peak - loaded) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="720p,1080p,4k")
    parser.add_argument("--models", default="lynx-fast,lynx")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precisions", default="fp32", help="e.g. fp32,bf16 (`--precision` of llid video)")
    parser.add_argument("--run", nargs=5, help=argparse.SUPPRESS)  # SOURCE TARGET MODEL THREADS PRECISION, in a child
    args = parser.parse_args()
    if args.run:
        print(json.dumps(one_run(args.run[0], args.run[1], args.run[2], int(args.run[3]), args.run[4])))
        return
    with tempfile.TemporaryDirectory() as folder:
        print(f"{'size':6} {'model':10} {'precision':>9} {'frames':>6} {'fps':>7} {'added MiB':>10}")
        for size in args.sizes.split(","):
            source = Path(folder) / f"{size}.mp4"
            make_clip(source, SIZES[size], args.frames)
            for model in args.models.split(","):
                for precision in args.precisions.split(","):
                    done = subprocess.run([sys.executable, __file__, "--run", str(source), str(Path(folder) / "out.mp4"),
                                           model, str(args.threads), precision], capture_output=True, text=True, check=True)
                    row = json.loads(done.stdout.strip().splitlines()[-1])
                    print(f"{size:6} {model:10} {precision:>9} {row['frames']:>6} {row['frames'] / row['seconds']:>7.2f} "
                          f"{row['added_mib']:>10.0f}", flush=True)


if __name__ == "__main__":
    main()
