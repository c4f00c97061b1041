"""A fixed pattern on the pixel grid: how far the output's smooth areas step with position mod 4 and 8.

    python benchmarks/pixel_grid.py [PHOTOS ...] [--models lynx,lynx-fast] [--weights FILE]

A network that predicts its full-resolution detail through pixel-shuffle (`lynx-fast`: 4x4
sub-pixels from each cell) can leave each sub-pixel position a little brighter or darker than
its neighbours: a faint grid in smooth skies. For each output, the luma (8-bit levels) less its
9x9 mean is averaged per position modulo 4 (and modulo 8, the JPEG block) over the smooth areas
(where the output's 9x9 standard deviation is under 4 levels); the figure is the spread of those
16 (64) means, peak to peak, in levels. Noise averages out over a large area, a fixed pattern
does not. Without PHOTOS: a synthetic smooth night sky (a dark gradient with sensor noise, JPEG
90) and DICM 01, 08, 12 when the shared data is there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from llid_cli.io import Image, read_image
from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SMOOTH = 4.0  # levels: the 9x9 standard deviation under which an area is smooth


def night_sky(height: int = 480, width: int = 640, seed: int = 0) -> np.ndarray:
    """A dark sky: a smooth vertical gradient (levels 6-20), sensor noise, JPEG at quality 90."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    sky = (6 + 14 * rows) * np.float32([0.8, 0.9, 1.1]) + np.zeros((height, width, 3), np.float32)
    noisy = np.clip(np.rint(sky + rng.normal(0, 1.5, sky.shape)), 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", noisy[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def grid(output: np.ndarray) -> tuple[float, float] | None:
    """(spread mod 4, spread mod 8) in 8-bit levels over the smooth areas; None if there are few."""
    rgb = output.astype(np.float32) * (255.0 / (65535.0 if output.dtype == np.uint16 else 255.0))
    luma = rgb[..., :3] @ np.float32([0.299, 0.587, 0.114])
    mean = cv2.blur(luma, (9, 9))
    deviation = np.sqrt(np.maximum(cv2.blur(luma * luma, (9, 9)) - mean * mean, 0.0))
    detail = luma - mean
    smooth = deviation < SMOOTH
    smooth[:8], smooth[-8:], smooth[:, :8], smooth[:, -8:] = False, False, False, False  # the box's edges
    if smooth.mean() < 0.05:
        return None
    rows, cols = np.nonzero(smooth)
    spreads = []
    for period in (4, 8):
        phase = (rows % period) * period + cols % period
        sums = np.bincount(phase, weights=detail[rows, cols], minlength=period * period)
        counts = np.bincount(phase, minlength=period * period)
        means = sums / np.maximum(counts, 1)
        spreads.append(float(means.max() - means.min()))
    return spreads[0], spreads[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", type=Path)
    parser.add_argument("--models", default="lynx,lynx-fast")
    parser.add_argument("--weights", default=None, help="weights of the (one) model's architecture, e.g. a checkpoint")
    args = parser.parse_args()
    inputs = [(p.name, read_image(p).pixels[..., :3]) for p in args.photos]
    if not inputs:
        inputs = [("night sky (synthetic)", night_sky())]
        dicm = DATA / "real-unpaired" / "dicm"
        inputs += [(f"DICM {n}", read_image(dicm / f"{n}.jpg").pixels[..., :3]) for n in ("01", "08", "12")
                   if (dicm / f"{n}.jpg").exists()]
    print("spread of the smooth areas' detail by position, peak to peak, 8-bit levels: mod 4 / mod 8")
    print(f"{'model':<12}" + "".join(f"{name[:22]:>24}" for name, _ in inputs))
    for model in [m for m in args.models.split(",") if m]:
        pipeline = Pipeline(EnhanceOptions(model=model, weights=args.weights))
        cells = []
        for _, pixels in inputs:
            figure = grid(pipeline.enhance_image(Image(pixels=pixels)).pixels)
            cells.append("-" if figure is None else f"{figure[0]:.2f} / {figure[1]:.2f}")
        print(f"{model:<12}" + "".join(f"{cell:>24}" for cell in cells), flush=True)


if __name__ == "__main__":
    main()
