"""Lights keep their colour (`--light-colours`): a lamp, a neon sign, floodlit gold or a sunset
that the camera exposed well comes out in its own colour, not paled towards yellow-white.

Why: a learned model brightens a night photo channel by channel. A lamp the camera exposed well
is already near white in its brightest channel, so that channel can only stay while the weaker
ones rise: the orange lampshade of LIME's photo 9 (241, 152, 3 on average) came out of `lynx`
as (255, 245, 78). On the 8 LIME photos with such lights `lynx` moved their hue by 13 degrees
and kept 0.62 of their saturation.

Why it is off by default: SICE's references, the only ground truth here, pale lit areas about as
much as the models do (a Mertens fusion blends the bracket's brighter frames, where they clipped,
into them), and against them the pixels this changes score lower. It is a photographer's
choice, measured in docs/models.md.

What it does, per pixel and in linear light: where the input pixel is bright and coloured, the
output keeps the input's colour (its RGB ratios) at the brightness the model chose for it (its
brightest channel). Weights ramp smoothly in with the input's brightest channel (`LIT`) and its
saturation (`COLOURED`), so dim or grey areas, where the model's colour correction is what the
photo needs, are left exactly as the model rendered them; only the pixels the ramps select are
computed, which on a night photo is a few per cent of them.
"""

from __future__ import annotations

import numpy as np

from llid_cli.io.image import from_float, to_float
from llid_cli.rendering.tone import linear_to_srgb, srgb_to_linear

LIT = (0.5, 0.8)  # the input's brightest channel (sRGB, 0-1): from where a pixel starts to count as lit, to fully
COLOURED = (0.3, 0.6)  # its saturation, (max - min) / max: from where it starts to count as coloured, to fully


def _ramp(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """0 below `low`, 1 above `high`, smoothstep between (no visible edge where the ramp starts)."""
    t = np.clip((values - np.float32(low)) / np.float32(high - low), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def lit_pixels(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices (into H*W) of the pixels of a photo (HxWx3, own dtype) that are coloured
    lights, and their weights in (0, 1].

    Sparse, because they are few: the whole photo is only compared in its own dtype (numpy's max
    over the channel axis took ten times as long), and the ramps are computed where the
    comparisons pass."""
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    top = np.maximum(np.maximum(r, g), b).ravel()
    spread = (top - np.minimum(np.minimum(r, g), b).ravel()).astype(np.float32)
    floor = from_float(np.float32([LIT[0]]), pixels.dtype)[0]
    where = np.flatnonzero((top > floor) & (spread > np.float32(COLOURED[0]) * top))
    top = top[where]
    saturation = spread[where] / top.astype(np.float32)
    return where, _ramp(to_float(top), *LIT) * _ramp(saturation, *COLOURED)


def light_weights(pixels: np.ndarray) -> np.ndarray:
    """HxW weights in [0, 1]: how much each pixel of a photo (HxWx3, own dtype) is a coloured light."""
    weights = np.zeros(pixels.shape[0] * pixels.shape[1], np.float32)
    where, values = lit_pixels(pixels)
    weights[where] = values
    return weights.reshape(pixels.shape[:2])


def _linear(values: np.ndarray) -> np.ndarray:
    """Linear light of N x 3 values in a photo's dtype; through a table for 8- and 16-bit."""
    if values.dtype in (np.uint8, np.uint16):
        table = srgb_to_linear(to_float(np.arange(np.iinfo(values.dtype).max + 1, dtype=values.dtype)))
        return table[values]
    return srgb_to_linear(to_float(values))


def keep_light_colours(original: np.ndarray, enhanced: np.ndarray) -> np.ndarray:
    """`enhanced` (HxWx3, the dtype of `original`) with the coloured lights of `original` in their
    own colour at the enhanced brightness; a photo without any is returned as it is."""
    where, weights = lit_pixels(original)
    if not where.size:
        return enhanced
    before = _linear(original.reshape(-1, 3)[where])  # N x 3
    after = _linear(enhanced.reshape(-1, 3)[where])
    # The input's colour at the output's brightness: its RGB scaled so its brightest channel is
    # the output's. The input's brightest channel is at least 0.5 in sRGB here, 0.21 linear.
    kept = before * (after.max(axis=1, keepdims=True) / before.max(axis=1, keepdims=True))
    mixed = after + (kept - after) * weights[:, None]
    out = enhanced.copy()
    out.reshape(-1, 3)[where] = from_float(linear_to_srgb(mixed), enhanced.dtype)
    return out
