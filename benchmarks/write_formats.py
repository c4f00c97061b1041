"""Time, size and fidelity of writing one photo in each output format llid offers.

    python benchmarks/write_formats.py PHOTO [--formats jpeg:95,heic:95,heic:75,avif:95,avif:85] [--repeat 2]

PHOTO is read as llid reads it (an enhanced output makes the realistic case) and encoded with
llid's own writer (`llid_cli.io.write.encode_image`, the settings `llid enhance --format F
--quality Q` uses), in this process and on the threads the encoders choose. Each row: the best
of `--repeat` encodings, the file's size, and the PSNR of the decoded file against the photo (8-bit).
A format whose codec is missing prints its one-line reason instead of a row.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np

from llid_cli.core.errors import LlidError
from llid_cli.io import WriteOptions, read_image
from llid_cli.io.formats import FORMAT_EXTENSIONS, enable_pillow_codec
from llid_cli.io.image import convert_depth
from llid_cli.io.write import encode_image
from llid_cli.metrics import psnr


def decoded(data: bytes, fmt: str) -> np.ndarray:
    """The encoded bytes decoded back to 8-bit RGB."""
    from PIL import Image as PILImage

    enable_pillow_codec(fmt, "decoded")
    return np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", type=Path)
    parser.add_argument("--formats", default="jpeg:95,heic:95,heic:75,avif:95,avif:85",
                        help="FORMAT:QUALITY, comma-separated")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    image = read_image(args.photo)
    image.pixels = convert_depth(image.pixels if image.pixels.ndim == 3 else np.dstack([image.pixels] * 3), np.uint8)
    image.alpha = None
    print(f"{args.photo.name}: {image.width}x{image.height}")
    print(f"{'format':8s} {'quality':>7s} {'seconds':>8s} {'MiB':>7s} {'PSNR dB':>8s}")
    for item in args.formats.split(","):
        fmt, quality = item.split(":")
        if fmt not in FORMAT_EXTENSIONS:
            parser.error(f"unknown format {fmt} (one of {', '.join(FORMAT_EXTENSIONS)})")
        target = Path("photo" + FORMAT_EXTENSIONS[fmt])
        try:
            times = []
            for _ in range(max(1, args.repeat)):
                start = time.perf_counter()
                data = encode_image(image, target, WriteOptions(quality=int(quality)))
                times.append(time.perf_counter() - start)
            fidelity = psnr(decoded(data, fmt), image.pixels)
        except LlidError as exc:
            print(f"{fmt:8s} {quality:>7s}  {exc}")
            continue
        print(f"{fmt:8s} {quality:>7s} {min(times):8.2f} {len(data) / 2**20:7.2f} {fidelity:8.1f}")


if __name__ == "__main__":
    main()
