"""Make the README's before/after strip from real dark photos (no references exist for them).

    python examples/make_strip.py OUT.jpg --models resse,lynx PHOTO [PHOTO ...]
    python examples/make_strip.py OUT.jpg --night-look-rows PHOTO [PHOTO ...]
    python examples/make_strip.py OUT.jpg --black-colour-rows PHOTO [PHOTO ...]

Each photo is enhanced at full resolution (large ones are tiled by the engine) by each model, then
the input (top row) and each model's output (one row per model, in order) are scaled to the same
height and laid side by side. With --night-look-rows each model gives two rows: without the night
look, then with it (as llid enhances by default); with --black-colour-rows, as rendered, then
with `--black-colour 0`.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from llid_cli.io import Image, WriteOptions, read_image, write_image
from llid_cli.metrics import to_uint8
from llid_cli.models.controls import Controls
from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    parser.add_argument("photos", nargs="+")
    parser.add_argument("--models", default="", help="comma-separated [default: the default model]")
    parser.add_argument("--weights", default=None, help="with one model: its weights file")
    parser.add_argument("--height", type=int, default=200)
    parser.add_argument("--night-look-rows", action="store_true", help="each model without, then with the night look")
    parser.add_argument("--black-colour-rows", action="store_true", help="each model as rendered, then --black-colour 0")
    args = parser.parse_args()
    names = [n for n in args.models.split(",") if n] or [None]
    looks = ["off", "auto"] if args.night_look_rows else ["auto"]  # the night look of each row of a model
    blacks = [None, 0.0] if args.black_colour_rows else [None]  # the black colour of each row of a model
    pipelines = [Pipeline(EnhanceOptions(model=name, weights=args.weights, night_look=night,
                                         controls=Controls(black_colour=black)))
                 for name in names for night in looks for black in blacks]
    columns = []
    for path in args.photos:
        image = read_image(path)
        rows = [to_uint8(image.pixels)] + [to_uint8(p.enhance_image(image).pixels) for p in pipelines]
        scale = args.height / rows[0].shape[0]
        size = (round(rows[0].shape[1] * scale), args.height)
        columns.append(np.vstack([cv2.resize(r, size, interpolation=cv2.INTER_AREA) for r in rows]))
    gap = np.full((len(columns[0]), 4, 3), 255, np.uint8)
    strip = np.hstack([c if i == 0 else np.hstack([gap, c]) for i, c in enumerate(columns)])
    write_image(Image(pixels=strip), args.out, WriteOptions(quality=85))


if __name__ == "__main__":
    main()
