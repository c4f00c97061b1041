"""No-reference statistics, to compare models on photos that have no ground truth."""

from __future__ import annotations

import numpy as np

from llid_cli.io.image import LUMA_WEIGHTS


def luma(rgb8: np.ndarray) -> np.ndarray:
    gray = rgb8.astype(np.float64) @ LUMA_WEIGHTS.astype(np.float64) if rgb8.ndim == 3 else rgb8.astype(np.float64)
    return gray / 255.0


def noise_sigma(gray: np.ndarray) -> float:
    """Gaussian noise std estimate (Immerkaer, 'Fast Noise Variance Estimation', CVIU 1996).

    A 3x3 Laplacian-difference kernel cancels smooth image structure; what is left is mostly
    noise. Returned in [0, 1] units.
    """
    import cv2

    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    response = cv2.filter2D(gray, cv2.CV_64F, kernel)[1:-1, 1:-1]
    height, width = gray.shape
    return float(np.sqrt(np.pi / 2) * np.abs(response).sum() / (6 * (width - 2) * (height - 2)))


def no_reference_stats(rgb8: np.ndarray) -> dict[str, float]:
    y = luma(rgb8)
    return {"mean_luma": float(y.mean()), "contrast": float(y.std()), "noise_sigma": noise_sigma(y)}
