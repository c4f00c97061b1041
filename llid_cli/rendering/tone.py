"""Exposure as a quantity, and the two user controls built on it: `--exposure EV` and `--strength`.

Exposure is measured in linear light, where light adds up: a photo's *exposure* is log2 of its mean
linear luminance (Rec. 709 weights on linearised sRGB), so +1 EV is twice the light. The shift
that renders a photo `ev` stops brighter or darker (`--exposure` for models that are not
conditioned on exposure) works in linear light as well and never clips.

NumPy here (the engine's pixels); `llid_cli.models.layers.blocks` has the torch twins of the sRGB curves
and of the exposure measure, and the shift that training applies to references.
"""

from __future__ import annotations

import numpy as np

# Rec. 709 / sRGB primaries: luminance of linear RGB.
LINEAR_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
_FLOOR = 1e-6  # mean linear luminance of a black frame, so that its exposure is finite
_KNEE = np.float32(0.8)  # linear light above which a brightening rolls off instead of clipping


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)


def exposure_of(rgb: np.ndarray) -> float:
    """log2 of the mean linear luminance of HxWx3 sRGB in [0, 1]."""
    mean = float(np.mean(srgb_to_linear(rgb) @ LINEAR_LUMA))
    return float(np.log2(max(mean, _FLOOR)))


def brightness_of(rgb: np.ndarray) -> float:
    """Mean sqrt(linear luminance) of HxWx3 sRGB in [0, 1]: a perceptual level in [0, 1], the
    scale of lynx's `keep_exposure` (the photos a model brightens are below 0.25-0.30)."""
    return float(np.sqrt(np.maximum(srgb_to_linear(rgb) @ LINEAR_LUMA, 0.0)).mean())


def shift_linear(linear: np.ndarray, ev: float) -> np.ndarray:
    """Linear light `ev` stops brighter or darker, without clipping.

    Darker is an exact gain of 2**ev. Brighter is an exact gain up to a knee at 0.8 (about 0.91 in
    sRGB), above which values roll off smoothly towards 1 (tanh, so the curve's slope stays
    continuous): a +1 EV photo has twice the light in every shadow and mid-tone, and the highlights
    that were not clipped stay unclipped.
    """
    gain = np.float32(2.0**ev)
    scaled = (linear * gain).astype(np.float32)
    if ev <= 0:
        return scaled
    over = np.maximum(scaled - _KNEE, 0.0) / (1.0 - _KNEE)
    return np.where(scaled <= _KNEE, scaled, _KNEE + (1.0 - _KNEE) * np.tanh(over)).astype(np.float32)


def shift_exposure(rgb: np.ndarray, ev: float) -> np.ndarray:
    """sRGB in [0, 1] rendered `ev` stops brighter; ev = 0 returns the same values."""
    if ev == 0:
        return rgb
    return linear_to_srgb(shift_linear(srgb_to_linear(rgb), ev))


def shift_pixels(pixels: np.ndarray, ev: float) -> np.ndarray:
    """`shift_exposure` for a photo's pixels in their own dtype (uint8, uint16 or float32).

    The shift maps each channel value alone, so 8- and 16-bit pixels go through a table of their
    levels, made by the same arithmetic: the same values, without the power laws over every pixel
    (a twelfth of a 1080p video frame's time, `benchmarks/video_speed.py`)."""
    from llid_cli.io.image import from_float, to_float

    if pixels.dtype in (np.uint8, np.uint16) and ev != 0:
        levels = np.arange(np.iinfo(pixels.dtype).max + 1, dtype=pixels.dtype)
        return from_float(shift_exposure(to_float(levels), ev), pixels.dtype)[pixels]
    return from_float(shift_exposure(to_float(pixels), ev), pixels.dtype)


def blend_pixels(original: np.ndarray, enhanced: np.ndarray, strength: float) -> np.ndarray:
    """`blend` for a photo's pixels in their own dtype; strength 0 returns `original` itself."""
    from llid_cli.io.image import from_float, to_float

    if strength <= 0:
        return original
    if strength >= 1:
        return enhanced
    return from_float(blend(to_float(original), to_float(enhanced), strength), original.dtype)


def blend(original: np.ndarray, enhanced: np.ndarray, strength: float) -> np.ndarray:
    """Mix two sRGB images in linear light: 0 gives `original`, 1 gives `enhanced`.

    Mixing light rather than sRGB code values is what a half-strength exposure looks like: a dark
    pixel brightened 8x comes out at 4.5x, not at the gamma-distorted midpoint of the codes.
    """
    if strength >= 1:
        return enhanced
    if strength <= 0:
        return original
    mixed = (1 - strength) * srgb_to_linear(original) + strength * srgb_to_linear(enhanced)
    return linear_to_srgb(mixed)
