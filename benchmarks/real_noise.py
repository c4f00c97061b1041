"""No-reference noise and blockiness figures for enhanced real photos (which have no reference).

    python benchmarks/real_noise.py OUTPUT.png [OUTPUT2.png ...] [--crop 1024]

Printed per photo:
- noise sigma: Immerkaer's estimate (Computer Vision and Image Understanding, 1996) on luma, in
  8-bit levels: the mean |3x3 Laplacian-difference response| scaled to a Gaussian sigma. Edges add
  to it, so compare outputs of the same photo, not different photos.
- blockiness: the mean |luma difference| across 8-pixel block borders (rows and columns) divided by
  the same across all other neighbours. 1.0 is no grid; the dark video frames in real-unpaired show
  their codec's 8x8 blocks once brightened.
- shadow noise: the same estimate over the shadows only (where the photo's 8x8 means of luma are
  under 0.25), for luma and for chroma (the mean of Cb's and Cr's, in 8-bit levels): the grain a
  brightened night sky shows, with few edges to inflate it.
- mean luma and the share of clipped pixels, so a smoother result is not simply a darker one.
With several photos a last row gives the means.
"""

from __future__ import annotations

import argparse

import numpy as np

from llid_cli.io import read_image
from llid_cli.io.image import LUMA_WEIGHTS, to_float


def immerkaer_sigma(luma: np.ndarray, where: np.ndarray | None = None) -> float:
    """Immerkaer's sigma over the whole plane, or over the pixels `where` is true."""
    import cv2

    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = np.abs(cv2.filter2D(luma.astype(np.float32), -1, kernel)[1:-1, 1:-1])
    chosen = response if where is None else response[where[1:-1, 1:-1]]
    return float(np.sqrt(np.pi / 2.0) * chosen.mean() / 6.0) if chosen.size else float("nan")


def shadows(luma: np.ndarray, level: float = 0.25, block: int = 8) -> np.ndarray:
    """Pixels whose 8x8 block's mean luma (0-255 plane) is under `level`."""
    height, width = luma.shape
    h, w = height // block * block, width // block * block
    means = luma[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))
    mask = np.zeros(luma.shape, bool)
    mask[:h, :w] = np.repeat(np.repeat(means < level * 255.0, block, 0), block, 1)
    return mask


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
    dark = shadows(luma)
    cb, cr = (rgb[..., 2] * 255.0 - luma) / 1.772, (rgb[..., 0] * 255.0 - luma) / 1.402
    return {"noise_sigma": immerkaer_sigma(luma), "blockiness": blockiness(luma),
            "shadow_luma": immerkaer_sigma(luma, dark),
            "shadow_chroma": (immerkaer_sigma(cb, dark) + immerkaer_sigma(cr, dark)) / 2.0,
            "shadow_share": float(dark.mean()),
            "mean_luma": float(luma.mean() / 255.0), "clipped": float((rgb >= 1.0).any(-1).mean())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("photos", nargs="+")
    parser.add_argument("--crop", type=int, default=0, help="measure only the top-left CROP x CROP pixels")
    args = parser.parse_args()
    print(f"{'photo':48s} {'sigma':>7s} {'block':>7s} {'shadow':>7s} {'luma':>7s} {'chroma':>7s} {'luma':>6s} {'clip %':>7s}")
    rows = []
    for path in args.photos:
        m = measure(path, args.crop)
        rows.append(m)
        print(f"{path[-48:]:48s} {m['noise_sigma']:7.2f} {m['blockiness']:7.3f} {100 * m['shadow_share']:6.1f}% "
              f"{m['shadow_luma']:7.2f} {m['shadow_chroma']:7.2f} {m['mean_luma']:6.3f} {100 * m['clipped']:7.2f}")
    if len(rows) > 1:
        mean = {key: float(np.nanmean([r[key] for r in rows])) for key in rows[0]}
        print(f"{f'mean of {len(rows)}':48s} {mean['noise_sigma']:7.2f} {mean['blockiness']:7.3f} "
              f"{100 * mean['shadow_share']:6.1f}% {mean['shadow_luma']:7.2f} {mean['shadow_chroma']:7.2f} "
              f"{mean['mean_luma']:6.3f} {100 * mean['clipped']:7.2f}")


if __name__ == "__main__":
    main()
