"""PSNR, SSIM and MAE on 8-bit RGB, the way low-light papers report them.

SSIM follows Wang et al. (2004) as `skimage.metrics.structural_similarity(a, b, channel_axis=2,
data_range=255)` computes it by default: 7x7 uniform windows, sample covariances, K1 = 0.01,
K2 = 0.03, the mean over each channel's map with the 3-pixel border left out, then the mean
over channels.
"""

from __future__ import annotations

import numpy as np

from llid_cli.io.image import convert_depth, from_float


def to_uint8(image: np.ndarray) -> np.ndarray:
    """8-bit version of a uint8/uint16/float-in-[0,1] image (rounded)."""
    if image.dtype.kind == "f":
        return from_float(image, np.uint8)
    return convert_depth(image, np.uint8)


def psnr(pred: np.ndarray, ref: np.ndarray) -> float:
    mse = np.mean((pred.astype(np.float64) - ref.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def mae(pred: np.ndarray, ref: np.ndarray) -> float:
    """Mean absolute error in [0, 1] units."""
    return float(np.mean(np.abs(pred.astype(np.float64) - ref.astype(np.float64))) / 255.0)


def level_error(pred: np.ndarray, ref: np.ndarray) -> float:
    """Absolute difference of the two images' mean levels in [0, 1] units: how far the output's
    exposure lands from the reference's, whatever the detail (GT-mean scaling sets it to ~0)."""
    return float(abs(pred.astype(np.float64).mean() - ref.astype(np.float64).mean()) / 255.0)


def ssim(pred: np.ndarray, ref: np.ndarray, win: int = 7) -> float:
    import cv2

    if pred.shape != ref.shape:
        raise ValueError(f"shapes differ: {pred.shape} vs {ref.shape}")
    if min(pred.shape[:2]) < win:
        raise ValueError(f"image smaller than the {win}x{win} SSIM window")
    a = pred.astype(np.float64)
    b = ref.astype(np.float64)
    if a.ndim == 2:
        a, b = a[:, :, None], b[:, :, None]
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    n = win * win
    cov_norm = n / (n - 1)
    pad = (win - 1) // 2
    scores = []
    for ch in range(a.shape[2]):
        x, y = a[:, :, ch], b[:, :, ch]

        def mean(img):
            return cv2.blur(img, (win, win), borderType=cv2.BORDER_REFLECT_101)

        ux, uy = mean(x), mean(y)
        vx = cov_norm * (mean(x * x) - ux * ux)
        vy = cov_norm * (mean(y * y) - uy * uy)
        vxy = cov_norm * (mean(x * y) - ux * uy)
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
        scores.append(s[pad:-pad, pad:-pad].mean())
    return float(np.mean(scores))
