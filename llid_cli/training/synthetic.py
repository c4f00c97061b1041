"""Physically based low-light degradation, to synthesise dark/clean pairs from clean photos.

The same steps with an exposure factor of 1 or more give identity and over-exposed pairs, which
teach a model to leave a well-exposed photo alone. The steps follow how a dark photo is made: sRGB is decoded to linear light, the exposure is cut,
white balance drifts, the sensor adds Poisson shot noise (photon counting) and Gaussian read noise,
the camera encodes back to sRGB, quantises to 8 bits and often JPEG-compresses. Every range is a
setting so that training configs can describe their degradation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llid_cli.rendering.tone import linear_to_srgb, srgb_to_linear


@dataclass(frozen=True)
class LowLightSettings:
    # Linear-light factor, drawn log-uniformly. Above 1 the input is over-exposed (clipped) and the
    # clean photo is the target; exactly 1 with no noise makes identity pairs ("do no harm").
    exposure: tuple[float, float] = (0.03, 0.3)
    wb_drift: float = 0.08  # each channel's gain drawn in [1 - drift, 1 + drift]
    photons_at_white: tuple[float, float] = (300.0, 5000.0)  # electrons for a white pixel at full exposure; log-uniform
    read_noise: tuple[float, float] = (0.0005, 0.006)  # std of read noise, linear units
    jpeg_probability: float = 0.7
    jpeg_quality: tuple[int, int] = (70, 97)

    def __post_init__(self) -> None:
        if not 0 < self.exposure[0] <= self.exposure[1] <= 8:
            raise ValueError("exposure must satisfy 0 < low <= high <= 8")
        if not 0 < self.photons_at_white[0] <= self.photons_at_white[1]:
            raise ValueError("photons_at_white must satisfy 0 < low <= high")
        if not 0 <= self.read_noise[0] <= self.read_noise[1]:
            raise ValueError("read_noise must satisfy 0 <= low <= high")
        if not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100:
            raise ValueError("jpeg_quality must satisfy 1 <= low <= high <= 100")


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def degrade(clean: np.ndarray, rng: np.random.Generator, settings: LowLightSettings = LowLightSettings()) -> np.ndarray:
    """A dark, noisy version of `clean` (HxWx3 float32 sRGB in [0, 1]); same shape and dtype."""
    linear = srgb_to_linear(clean)
    exposure = _log_uniform(rng, *settings.exposure)
    wb = rng.uniform(1 - settings.wb_drift, 1 + settings.wb_drift, size=3).astype(np.float32)
    signal = np.clip(linear * exposure * wb, 0.0, 1.0)

    photons = _log_uniform(rng, *settings.photons_at_white)
    noisy = rng.poisson(signal * photons).astype(np.float32) / np.float32(photons)
    read_sigma = rng.uniform(*settings.read_noise)
    noisy += rng.normal(0.0, read_sigma, size=noisy.shape).astype(np.float32)

    srgb = linear_to_srgb(noisy)
    quantised = np.rint(srgb * 255.0).astype(np.uint8)
    if rng.random() < settings.jpeg_probability:
        quantised = _jpeg(quantised, int(rng.integers(settings.jpeg_quality[0], settings.jpeg_quality[1] + 1)))
    return quantised.astype(np.float32) / 255.0


def _jpeg(rgb8: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    ok, buf = cv2.imencode(".jpg", rgb8[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV's JPEG encoder does not fail on valid arrays
        return rgb8
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
