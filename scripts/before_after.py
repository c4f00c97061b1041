"""A before/after strip of named photos: each photo as it came (top) and as `llid enhance` renders it
(bottom), scaled to one height, side by side; the README's picture.

    python scripts/before_after.py -o docs/before-after.jpg \\
        ../shared/data/real-unpaired/dicm/01.jpg ../shared/data/real-unpaired/lime/9.png ...

The photos go through the same `Pipeline` as `llid enhance` (default settings unless told: --model,
--white-balance); nothing is cropped, so what the strip shows is the whole photo.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from llid_cli.io import Image, WriteOptions, read_image, write_image
from llid_cli.io.image import from_float, to_float
from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline

GAP = 4  # pixels of white between photos and rows


def scaled(pixels: np.ndarray, height: int) -> np.ndarray:
    width = round(pixels.shape[1] * height / pixels.shape[0])
    return from_float(cv2.resize(to_float(pixels)[..., :3], (width, height), interpolation=cv2.INTER_AREA), np.uint8)


def row(photos: list[np.ndarray]) -> np.ndarray:
    gap = np.full((photos[0].shape[0], GAP, 3), 255, np.uint8)
    parts = []
    for photo in photos:
        parts += [photo, gap]
    return np.concatenate(parts[:-1], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--model", default=None)
    parser.add_argument("--white-balance", default="model")
    parser.add_argument("--height", type=int, default=150)
    args = parser.parse_args()
    pipeline = Pipeline(EnhanceOptions(model=args.model, white_balance=args.white_balance))
    before, after = [], []
    for path in args.photos:
        image = read_image(path)
        before.append(scaled(image.pixels, args.height))
        after.append(scaled(pipeline.enhance_image(image).pixels, args.height))
    top, bottom = row(before), row(after)
    strip = np.concatenate([top, np.full((GAP, top.shape[1], 3), 255, np.uint8), bottom], axis=0)
    write_image(Image(pixels=strip), args.output, WriteOptions(quality=85))
    print(f"{args.output}: {strip.shape[1]}x{strip.shape[0]}, {len(args.photos)} photos")


if __name__ == "__main__":
    main()
