"""Whites stay white: what the camera recorded as white comes out no darker and no more tinted.

Why: a learned model renders near-white through the same tone curve, residual and highlight
shoulder as everything else. Flowers on white paper (DICM 46, 47, 66) came out of `lynx` at 216
instead of 253 with a lavender tint, and over the DICM photos with at least 1 % white pixels those
pixels averaged 241 (`benchmarks/shadow_colour.py`). Two causes: the automatic exposure darkened
bright photos (removed at its root, in `lynx`'s `keep_exposure`), and the network and the shoulder
pull near-white a few levels down and towards a tint even where the exposure is kept. White is
the brightest a photo can hold; an enhancer that brightens has no reason to make it darker.

What it does, per pixel: where every channel of the input is near white (its smallest channel
from `WHITE[0]`, fully at `WHITE[1]`), each output channel is raised towards the input's where it
came out lower. An output brighter than the input is kept (a brightened photo's whites were
clipped in the input and stay so). Only the pixels the ramp selects are computed, a few per cent
of most photos. Every other pixel is the model's, bit for bit; `--exposure` below 0 still darkens,
since it is applied inside the model before this step only raises what is under the input.
"""

from __future__ import annotations

import numpy as np

from llid_cli.io.image import from_float, to_float

WHITE = (0.88, 0.94)  # the input's smallest channel (sRGB, 0-1): from where a pixel starts to count as white, to fully


def white_pixels(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices (into H*W) of the near-white pixels of a photo (HxWx3, own dtype), and their
    weights in (0, 1] (a smoothstep of the smallest channel, so no edge shows where it starts)."""
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    low = np.minimum(np.minimum(r, g), b).ravel()
    floor = from_float(np.float32([WHITE[0]]), pixels.dtype)[0]
    where = np.flatnonzero(low > floor)
    t = np.clip((to_float(low[where]) - np.float32(WHITE[0])) / np.float32(WHITE[1] - WHITE[0]), 0.0, 1.0)
    return where, t * t * (3.0 - 2.0 * t)


def keep_whites(original: np.ndarray, enhanced: np.ndarray, darker_by: float = 0.0) -> np.ndarray:
    """`enhanced` (HxWx3, the dtype of `original`) with the near-white pixels of `original` no
    darker than they were; `darker_by` (stops, from `--exposure` and the night look, 0 or below)
    lowers that floor by as much, so that a requested darkening still darkens whites.
    A photo without near-white pixels is returned as it is."""
    where, weights = white_pixels(original)
    if not where.size:
        return enhanced
    before = to_float(original.reshape(-1, 3)[where])
    after = to_float(enhanced.reshape(-1, 3)[where])
    if darker_by < 0:  # the floor in linear light, scaled by the requested exposure
        from llid_cli.rendering.tone import linear_to_srgb, srgb_to_linear

        before = linear_to_srgb(srgb_to_linear(before) * np.float32(2.0**darker_by))
    raised = after + np.maximum(before - after, 0.0) * weights[:, None]
    out = enhanced.copy()
    out.reshape(-1, 3)[where] = from_float(raised, enhanced.dtype)
    return out
