"""Physically based low-light degradation, to synthesise dark/clean pairs from clean photos.

The same steps with an exposure factor of 1 or more give identity and over-exposed pairs, which
teach a model to leave a well-exposed photo alone. The steps follow how a dark photo is made: sRGB is decoded to linear light, the exposure is cut,
white balance drifts, the sensor adds Poisson shot noise (photon counting) and Gaussian read noise,
the camera encodes back to sRGB, quantises to 8 bits and often JPEG-compresses. Every range is a
setting so that training configs can describe their degradation.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

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
    # A phone's processed night shot: demosaicing and its noise reduction leave colour noise that is
    # spatially correlated (blotches of `chroma_noise_scale` pixels), drawn here in proportion to the
    # shot noise (0 = off); and readout adds a per-row offset (banding), std in linear units.
    chroma_noise: tuple[float, float] = (0.0, 0.0)
    chroma_noise_scale: tuple[float, float] = (4.0, 16.0)
    row_noise: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        for item in fields(self):  # every range is (low, high): a config may give one number or three
            value = getattr(self, item.name)
            if isinstance(item.default, tuple) and not (isinstance(value, tuple) and len(value) == 2):
                raise ValueError(f"{item.name} needs two values [low, high], got {value!r}")
        if not 0 < self.exposure[0] <= self.exposure[1] <= 8:
            raise ValueError("exposure must satisfy 0 < low <= high <= 8")
        if not 0 < self.photons_at_white[0] <= self.photons_at_white[1]:
            raise ValueError("photons_at_white must satisfy 0 < low <= high")
        if not 0 <= self.read_noise[0] <= self.read_noise[1]:
            raise ValueError("read_noise must satisfy 0 <= low <= high")
        if not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100:
            raise ValueError("jpeg_quality must satisfy 1 <= low <= high <= 100")
        if not 0 <= self.chroma_noise[0] <= self.chroma_noise[1]:
            raise ValueError("chroma_noise must satisfy 0 <= low <= high")
        if not 1 <= self.chroma_noise_scale[0] <= self.chroma_noise_scale[1]:
            raise ValueError("chroma_noise_scale must satisfy 1 <= low <= high")
        if not 0 <= self.row_noise[0] <= self.row_noise[1]:
            raise ValueError("row_noise must satisfy 0 <= low <= high")


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
    # Drawn only when configured, so that configs without them keep their exact sample stream.
    if settings.chroma_noise[1] > 0:
        noisy += _blotches(signal, photons, rng, settings)
    if settings.row_noise[1] > 0:
        rows = rng.normal(0.0, rng.uniform(*settings.row_noise), size=(noisy.shape[0], 1, 1))
        noisy += rows.astype(np.float32)

    srgb = linear_to_srgb(noisy)
    quantised = np.rint(srgb * 255.0).astype(np.uint8)
    if rng.random() < settings.jpeg_probability:
        quantised = _jpeg(quantised, int(rng.integers(settings.jpeg_quality[0], settings.jpeg_quality[1] + 1)))
    return quantised.astype(np.float32) / 255.0


def _blotches(signal: np.ndarray, photons: float, rng: np.random.Generator, settings: LowLightSettings) -> np.ndarray:
    """Colour-only noise, smooth over `chroma_noise_scale` pixels, scaled like the shot noise."""
    import cv2

    height, width = signal.shape[:2]
    scale = rng.uniform(*settings.chroma_noise_scale)
    small = (max(2, round(width / scale)), max(2, round(height / scale)))
    field = rng.normal(0.0, 1.0, size=(small[1], small[0], 3)).astype(np.float32)
    field = cv2.resize(field, (width, height), interpolation=cv2.INTER_CUBIC)
    field -= field.mean(axis=2, keepdims=True)  # chroma only: the channels' mean is left alone
    shot = np.sqrt(signal.mean(axis=2, keepdims=True) / photons).astype(np.float32)
    return field * shot * np.float32(rng.uniform(*settings.chroma_noise))


def _jpeg(rgb8: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    ok, buf = cv2.imencode(".jpg", rgb8[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV's JPEG encoder does not fail on valid arrays
        return rgb8
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
