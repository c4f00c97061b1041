"""Files/s of `llid batch` in this process against `llid batch --ray` with 1 and 2 workers.

    python benchmarks/ray_batch.py FOLDER [--count 200] [--model lynx]

The first COUNT photos under FOLDER (sorted) are copied to a scratch folder; each configuration
runs as its own `llid batch` command into a fresh output folder, timed from launch to exit, so
the figures include what a user waits for: Python and model start-up, and for --ray starting a
local Ray instance and its workers. The outputs of every configuration are checked to be equal.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--model", default="lynx")
    args = parser.parse_args()

    photos = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[: args.count]
    with tempfile.TemporaryDirectory(prefix="llid-ray-bench-") as scratch:
        src = Path(scratch) / "in"
        src.mkdir()
        megapixels = 0.0
        from PIL import Image

        for index, photo in enumerate(photos):
            target = src / f"{index:04d}{photo.suffix.lower()}"
            shutil.copyfile(photo, target)
            with Image.open(target) as image:
                megapixels += image.width * image.height / 1e6
        print(f"{len(photos)} photos, {megapixels:.1f} MP, model {args.model}")
        configurations = {
            "local, all threads": [],
            "local, 1 thread": ["--threads", "1"],
            "ray, 1 worker x 1 thread": ["--ray", "--workers", "1"],
            "ray, 2 workers x 1 thread": ["--ray", "--workers", "2"],
        }
        outputs = {}
        print(f"{'configuration':28} {'seconds':>8} {'files/s':>8} {'MP/s':>6}")
        for name, extra in configurations.items():
            out = Path(scratch) / name.replace(" ", "").replace(",", "-")
            command = [sys.executable, "-m", "llid_cli", "batch", str(src), "-o", str(out), "--quiet",
                       "--model", args.model, *extra]
            start = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if result.returncode != 0:
                raise SystemExit(f"{name} failed:\n{result.stderr}")
            outputs[name] = {p.name: p.read_bytes() for p in out.iterdir()}
            print(f"{name:28} {seconds:8.1f} {len(photos) / seconds:8.2f} {megapixels / seconds:6.2f}", flush=True)
        one_thread = [outputs[n] for n in configurations if "1 thread" in n]
        print("1-thread outputs identical across local and Ray:", all(o == one_thread[0] for o in one_thread))


if __name__ == "__main__":
    main()
