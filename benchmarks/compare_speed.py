"""Speed of the pipeline in this checkout against another, alternating in one run on one machine.

    git worktree add /tmp/before HEAD~1
    python benchmarks/compare_speed.py --other /tmp/before --rounds 3

A refactoring that claims "behaviour unchanged" shows here that it did not slow anything down
(scripts/render_digest.py shows the pixels). Each round runs the other checkout, then this one,
each in a fresh process (PYTHONPATH chooses the code), enhancing a 1920x1080 photo made here with
each model and backend; prints each configuration's median seconds and the ratio this / other.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CONFIGS = [("lynx", "torch"), ("lynx", "onnx"), ("lynx-fast", "torch"), ("resse", "onnx")]


def measure(repeats: int, configs: list[tuple[str, str]]) -> dict[str, float]:
    """Median seconds per configuration, with whatever llid_cli is importable (one process)."""
    import time

    import numpy as np

    try:
        from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline
    except ImportError:  # a checkout from before the layered tree
        from llid_cli.pipeline import EnhanceOptions, Pipeline
    from llid_cli.engine.runner import EngineOptions
    from llid_cli.io import Image

    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[:1080, :1920].astype(np.float32)
    base = np.stack([cols / 1919, rows / 1079, 0.5 + 0.5 * np.sin((rows + cols) / 37)], axis=2) * 0.2
    image = Image(pixels=np.rint(np.clip(base + rng.normal(0, 0.01, base.shape), 0, 1) * 255).astype(np.uint8))
    medians = {}
    for model, backend in configs:
        pipeline = Pipeline(EnhanceOptions(model=model, engine=EngineOptions(backend=backend, threads=2)))
        pipeline.enhance_image(image)  # warm: sessions made, caches filled
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            pipeline.enhance_image(image)
            seconds.append(time.perf_counter() - start)
        medians[f"{model}/{backend}"] = statistics.median(seconds)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", type=Path, help="the other checkout (a git worktree)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration in each process")
    parser.add_argument("--configs", default=",".join(f"{m}/{b}" for m, b in CONFIGS),
                        help="MODEL/BACKEND,... [default: %(default)s]")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # one process's part
    args = parser.parse_args()
    configs = [tuple(item.split("/")) for item in args.configs.split(",")]
    if args.measure:
        print(json.dumps(measure(args.repeats, configs)))
        return
    if args.other is None:
        parser.error("--other is required")
    here = Path(__file__).resolve().parents[1]
    runs: dict[str, dict[str, list[float]]] = {"other": {}, "this": {}}
    for _ in range(args.rounds):
        for label, root in (("other", args.other.resolve()), ("this", here)):
            done = subprocess.run([sys.executable, __file__, "--measure", "--repeats", str(args.repeats),
                                   "--configs", args.configs],
                                  env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True,
                                  check=True)
            for key, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
                runs[label].setdefault(key, []).append(value)
    for key in runs["this"]:
        other, this = statistics.median(runs["other"][key]), statistics.median(runs["this"][key])
        print(f"{key:16} other {other:.3f} s  this {this:.3f} s  this/other {this / other:.3f}")


if __name__ == "__main__":
    main()
