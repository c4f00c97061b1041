"""A photographer's colour controls: `--white-balance`, `--saturation`, `--black-colour`, for every model.

Both work in linear light on the enhanced photo, after the model (any model, on any runtime, with
or without torch), before whites are kept white and before `--strength` mixes in the input.

White balance (`--white-balance`):
- `model`: as the model renders it (the learned models neutralise much of a tungsten or sodium
  cast: they learned from SICE's references, fused from daylight-balanced brackets).
- `keep`: the input's own colour balance, as the camera recorded it: the output's mean colour is
  moved onto the input's (a diagonal gain in linear light that keeps luminance). A street at night
  stays warm, and a global cast the model painted goes with it.
- `auto`: grey world: the output's mean colour made neutral.
- KELVIN (1667-25000): the scene was lit by a light of that colour temperature: the input's balance
  corrected from it to daylight (6504 K), as a camera's white-balance setting would; 3200 for
  tungsten, 2000 for sodium street lights.

The means leave out clipped pixels (a lamp says nothing about the light on the scene) and the
darkest (their colour is mostly noise and the camera's black level). Gains are bounded: by
`MAX_GAIN` (tungsten to daylight needs about 3.4 on blue), and grey world, a guess, by
`AUTO_MAX_GAIN`, so that a photo of one colour (a red wall) is not turned grey.

Saturation (`--saturation S`): every pixel's distance from its own luminance, in linear light,
times S (0: grey, 1: unchanged, 2: twice); luminance is kept and nothing clips.

Black colour (`--black-colour K`): where every channel of the input is within `BLACK` (8-bit)
levels of 0, it holds no colour (DICM's darkest quarter is mostly (1, 1, 0): rounding, not a
hue), yet the models paint their surroundings' colour into it as they brighten it: khaki on DICM
12's grey floor, olive round DICM 01's tower. There the output's distance from its luminance is
scaled by K, fading back to as rendered by `COLOURED` levels (the input's brightest channel over
3x3 pixels, a smoothstep, so no edge shows). 0 renders black grey; real colour above a few levels
is kept. Not the default: dark foliage that the models rightly paint green turns grey too
(`docs/colour.md`).
"""

from __future__ import annotations

import numpy as np

from llid_cli.io.image import from_float, to_float
from llid_cli.rendering.tone import LINEAR_LUMA, linear_to_srgb, srgb_to_linear

MODES = ("model", "keep", "auto")
KELVIN_RANGE = (1667.0, 25000.0)  # where the Planckian-locus fit below holds
DAYLIGHT = 6504.0  # sRGB's white point, D65
MAX_GAIN = 4.0  # no channel is scaled by more than this, or less than its inverse
AUTO_MAX_GAIN = 2.0  # ... and by grey world no more than this
_CLIPPED = 0.98  # linear value of a channel the camera clipped
_DARKEST = 0.10  # the darkest share of pixels left out of a mean (noise and black level)
BLACK = 2.0  # 8-bit levels: an input pixel whose every channel is within this holds no colour
COLOURED = 4.0  # ... and from this up it keeps the colour rendered
_XYZ_TO_RGB = np.array([[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]])


def parse_white_balance(value: str) -> str:
    """`model`, `keep`, `auto`, or a colour temperature in kelvin (as text, e.g. "3200"); raises
    ValueError with the reason."""
    text = str(value).strip().lower().removesuffix("k")
    if text in MODES:
        return text
    try:
        kelvin = float(text)
    except ValueError:
        raise ValueError(f"expected model, keep, auto or a colour temperature in kelvin, got {value!r}") from None
    if not KELVIN_RANGE[0] <= kelvin <= KELVIN_RANGE[1]:
        raise ValueError(f"a colour temperature from {KELVIN_RANGE[0]:g} to {KELVIN_RANGE[1]:g} K, got {value!r}")
    return f"{kelvin:g}"


def planckian_rgb(kelvin: float) -> np.ndarray:
    """Linear sRGB of a black body at `kelvin`, luminance 1 (Kim et al.'s fit of the Planckian
    locus in CIE xy, 1667-25000 K)."""
    t = float(kelvin)
    if t <= 4000:
        x = -0.2661239e9 / t**3 - 0.2343589e6 / t**2 + 0.8776956e3 / t + 0.179910
    else:
        x = -3.0258469e9 / t**3 + 2.1070379e6 / t**2 + 0.2226347e3 / t + 0.240390
    if t <= 2222:
        y = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    elif t <= 4000:
        y = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
    xyz = np.array([x / y, 1.0, (1.0 - x - y) / y])
    return np.clip(_XYZ_TO_RGB @ xyz, 1e-3, None)


def _balance(linear: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """The mean colour of the `chosen` pixels, each pixel counted once whatever its brightness (its
    linear colour over its luminance), luminance 1. A mean of the light itself would be the
    lamps' colour in a night photo, where most pixels are shadow."""
    flat = linear.reshape(-1, 3)[chosen] if chosen.any() else np.ones((1, 3), np.float32)
    each = flat / np.maximum(flat @ LINEAR_LUMA, 1e-6)[:, None]
    mean = each.mean(axis=0)
    return mean / max(float(mean @ LINEAR_LUMA), 1e-9)


def _measured(original_linear: np.ndarray) -> np.ndarray:
    """The pixels whose colour says something about the light: not clipped, not the darkest."""
    flat = original_linear.reshape(-1, 3)
    luminance = flat @ LINEAR_LUMA
    return (flat.max(axis=1) < _CLIPPED) & (luminance > np.quantile(luminance, _DARKEST))


def white_balance_gains(original: np.ndarray, enhanced: np.ndarray, mode: str) -> np.ndarray:
    """Per-channel gains in linear light (luminance kept) that give `enhanced` (HxWx3, own dtype)
    the balance `mode` asks for; ones for `model`."""
    if mode == "model":
        return np.ones(3, np.float32)
    return _gains(srgb_to_linear(to_float(original)), srgb_to_linear(to_float(enhanced)), mode)


def _gains(source: np.ndarray, output: np.ndarray, mode: str) -> np.ndarray:
    """`white_balance_gains` of the input's and the output's linear light."""
    chosen = _measured(source)
    now = _balance(output, chosen)
    if mode == "auto":
        wanted = np.ones(3)
    else:
        wanted = _balance(source, chosen)
        if mode != "keep":  # a colour temperature: the input's balance, corrected from that light to daylight
            correction = planckian_rgb(DAYLIGHT) / planckian_rgb(float(mode))
            wanted = wanted * correction / float((wanted * correction) @ LINEAR_LUMA)
    bound = AUTO_MAX_GAIN if mode == "auto" else MAX_GAIN
    gains = np.clip(wanted / now, 1.0 / bound, bound)
    # Luminance of the mean colour kept: the exposure the model chose does not move.
    gains = gains / float((gains * now) @ LINEAR_LUMA)
    return gains.astype(np.float32)


def apply_white_balance(original: np.ndarray, enhanced: np.ndarray, mode: str) -> np.ndarray:
    """`enhanced` with the white balance `mode` asks for, in its own dtype."""
    if mode == "model":
        return enhanced
    output = srgb_to_linear(to_float(enhanced))  # once: the gains are measured on it, then applied
    gains = _gains(srgb_to_linear(to_float(original)), output, mode)
    if np.allclose(gains, 1.0):
        return enhanced
    linear = output * gains
    # A channel pushed past white takes the pixel's others down with it, in proportion: its hue stays.
    peak = linear.max(axis=2, keepdims=True)
    linear = np.where(peak > 1.0, linear / np.maximum(peak, 1e-9), linear)
    return from_float(linear_to_srgb(linear), enhanced.dtype)


def _luminance_and_chroma(enhanced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's linear luminance (HxWx1) and its colour's distance from it (HxWx3)."""
    linear = srgb_to_linear(to_float(enhanced))
    luminance = (linear @ LINEAR_LUMA)[..., None]
    return luminance, linear - luminance


def _scaled(luminance: np.ndarray, chroma: np.ndarray, factor, dtype: np.dtype) -> np.ndarray:
    """Pixels of `dtype` whose colour is `factor` (one, or one per pixel) times `chroma` from `luminance`."""
    return from_float(linear_to_srgb(luminance + chroma * factor), dtype)


def apply_saturation(enhanced: np.ndarray, factor: float) -> np.ndarray:
    """Every pixel's distance from its luminance times `factor`, in linear light, within [0, 1]."""
    if factor == 1.0:
        return enhanced
    luminance, chroma = _luminance_and_chroma(enhanced)
    if factor > 1.0:
        # As far as the gamut allows: a pixel whose scaled colour would leave [0, 1] is scaled less.
        with np.errstate(divide="ignore", invalid="ignore"):
            room_up = np.where(chroma > 0, (1.0 - luminance) / chroma, np.inf).min(axis=2, keepdims=True)
            room_down = np.where(chroma < 0, -luminance / chroma, np.inf).min(axis=2, keepdims=True)
        factor_here = np.minimum(float(factor), np.maximum(np.minimum(room_up, room_down), 1.0))
    else:
        factor_here = float(factor)
    return _scaled(luminance, chroma, factor_here, enhanced.dtype)


def apply_black_colour(original: np.ndarray, enhanced: np.ndarray, keep: float) -> np.ndarray:
    """`enhanced` with its colour scaled by `keep` where `original` is black (see the module)."""
    if keep >= 1.0:
        return enhanced
    import cv2

    peak = to_float(original).max(axis=2) * np.float32(255.0)  # 8-bit levels, any depth
    peak = cv2.blur(np.ascontiguousarray(peak, np.float32), (3, 3))
    t = np.clip((COLOURED - peak) / (COLOURED - BLACK), 0.0, 1.0)
    scale = (1.0 - (1.0 - float(keep)) * t * t * (3.0 - 2.0 * t))[..., None]
    return _scaled(*_luminance_and_chroma(enhanced), scale, enhanced.dtype)
