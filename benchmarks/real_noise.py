"""No-reference noise and blockiness figures for enhanced real photos (which have no reference).

    python benchmarks/real_noise.py OUTPUT.png [OUTPUT2.png ...] [--crop 1024]

Printed per photo:
- noise sigma: Immerkaer's estimate (Computer Vision and Image Understanding, 1996) on luma, in
  8-bit levels: the mean |3x3 Laplacian-difference response| scaled to a Gaussian sigma. Edges add
  to it, so compare outputs of the same photo, not different photos.
- blockiness: the mean |luma difference| across 8-pixel block borders (rows and columns) divided by
  the same across all other neighbours. 1.0 is no grid; the dark video frames in real-unpaired show
  their codec's 8x8 blocks once brightened.
- mean luma and the share of clipped pixels, so a smoother result is not simply a darker one.
"""

from __future__ import annotations

import argparse

import numpy as np

from llid_cli.io import read_image
from llid_cli.io.image import LUMA_WEIGHTS, to_float


def immerkaer_sigma(luma: np.ndarray) -> float:
    import cv2

    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = cv2.filter2D(luma.astype(np.float32), -1, kernel)[1:-1, 1:-1]
    height, width = luma.shape
    return float(np.sqrt(np.pi / 2.0) * np.abs(response).sum() / (6.0 * (width - 2) * (height - 2)))


def blockiness(luma: np.ndarray, block: int = 8) -> float:
    ratios = []
    for axis in (0, 1):
        diff = np.abs(np.diff(luma.astype(np.float64), axis=axis)).mean(axis=1 - axis)  # one per gap
        border = np.arange(block - 1, len(diff), block)
        ratios.append(diff[border].mean() / np.delete(diff, border).mean())
    return float(np.mean(ratios))


def measure(path: str, crop: int) -> dict[str, float]:
    rgb = to_float(read_image(path).pixels)
    if crop:
        rgb = rgb[:crop, :crop]  # top-left keeps the codec's block grid aligned
    luma = rgb @ LUMA_WEIGHTS * 255.0
    return {"noise_sigma": immerkaer_sigma(luma), "blockiness": blockiness(luma),
            "mean_luma": float(luma.mean() / 255.0), "clipped": float((rgb >= 1.0).any(-1).mean())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("photos", nargs="+")
    parser.add_argument("--crop", type=int, default=0, help="measure only the top-left CROP x CROP pixels")
    args = parser.parse_args()
    print(f"{'photo':48s} {'sigma':>7s} {'block':>7s} {'luma':>6s} {'clip %':>7s}")
    for path in args.photos:
        m = measure(path, args.crop)
        print(f"{path[-48:]:48s} {m['noise_sigma']:7.2f} {m['blockiness']:7.3f} {m['mean_luma']:6.3f} {100 * m['clipped']:7.2f}")


if __name__ == "__main__":
    main()
