"""Does a model leave alone what needs no help? Figures for issue-style "do no harm" checks.

- Well-exposed photos (default: the Kodak set, held out of every lynx training run): each is
  enhanced and scored against itself (PSNR, dB); an enhancer that does no harm returns it nearly
  unchanged.
- Real photos of mixed exposure (default: DICM): the share of clipped pixels (any channel >= 250
  of 255) before and after, and how much it grows on average, in percentage points: over all
  photos, and apart for the dark ones (mean sqrt(linear luminance) below 0.25, the photos an
  enhancer brightens, whose lamps and windows it may clip) and the others (which it may darken).

    python benchmarks/do_no_harm.py --models resse,lynx,lynx-fast
    python benchmarks/do_no_harm.py --models lynx,lynx:runs/lynx-exposure/best.safetensors   # NAME:WEIGHTS
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from llid_cli.io import read_image
from llid_cli.io.image import convert_depth
from llid_cli.metrics import psnr
from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline
from llid_cli.rendering.tone import brightness_of

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DARK = 0.25


def clipped(pixels: np.ndarray) -> float:
    """Percentage of pixels with any channel at 250 or more (of 255)."""
    pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
    return float((pixels >= 250).any(axis=2).mean() * 100)


def brightness(pixels: np.ndarray) -> float:
    """Mean sqrt(linear luminance) of 8-bit RGB: a perceptual level in [0, 1] (lynx's keep_exposure scale)."""
    return brightness_of(pixels.astype(np.float32) / 255)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resse,lynx,lynx-fast")
    parser.add_argument("--clean", type=Path, default=DATA / "clean" / "kodak24")
    parser.add_argument("--mixed", type=Path, default=DATA / "real-unpaired" / "dicm")
    args = parser.parse_args()
    clean = [read_image(p) for p in sorted(args.clean.iterdir())]
    mixed = [read_image(p) for p in sorted(args.mixed.iterdir())]
    dark = np.array([brightness(convert_depth(im.pixels, np.uint8)) < DARK for im in mixed])
    print(f"{len(clean)} well-exposed photos ({args.clean}), {len(mixed)} mixed photos ({args.mixed}), "
          f"{dark.sum()} of them dark (brightness < {DARK})")
    entries = args.models.split(",")
    width = max(12, *map(len, entries))
    print(f"{'model':<{width}} {'PSNR vs itself':>15} {'worst':>7} {'clipped before':>15} {'after':>7} {'growth (pts)':>13} {'dark':>7} {'others':>7}")
    for entry in entries:
        name, _, weights = entry.partition(":")
        pipeline = Pipeline(EnhanceOptions(model=name, weights=weights or None))
        scores = [psnr(convert_depth(pipeline.enhance_image(im).pixels, np.uint8), convert_depth(im.pixels, np.uint8))
                  for im in clean]
        before = [clipped(convert_depth(im.pixels, np.uint8)) for im in mixed]
        after = [clipped(convert_depth(pipeline.enhance_image(im).pixels, np.uint8)) for im in mixed]
        growth = np.subtract(after, before)
        print(f"{entry:<{width}} {np.mean(scores):>15.2f} {np.min(scores):>7.2f} {np.mean(before):>14.2f}% "
              f"{np.mean(after):>6.2f}% {growth.mean():>+13.2f} {growth[dark].mean():>+7.2f} {growth[~dark].mean():>+7.2f}")


if __name__ == "__main__":
    main()
