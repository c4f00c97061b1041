"""Smooth the grain a network amplified in the shadows, and only that: a gain-aware guided filter.

Why: brightening a night photo by several stops brightens its noise as much. `lynx` lifts a black
night sky (a few 8-bit levels of JPEG noise in the input) to a dark grey whose grain is several
times stronger, and its chroma part reads as coloured speckle. A photographer expects a clean
dark sky. The references it learned from (exposure fusions) have clean shadows, taken from the
bracket's brighter frames, yet the network keeps grain there, and `sice/val` hardly sees it. So:

- the local gain is how much brighter the output is than the input (8x8 means, interpolated);
- the noise the gain added is `noise` x sqrt(gain^2 - 1): none where the output is no brighter
  than the input, so a photo that needed no help (gain <= 1) comes back exactly as it was;
- only shadows are treated (output level below 0.25 fully, fading out by 0.5): in brighter areas
  the same threshold flattened real texture (a lit lattice lost its detail and colour);
- luma and chroma are each smoothed by a self-guided filter (He et al., 2010) with that noise as
  the edge threshold: where local variance is well above it (edges, texture) the pixel is kept,
  where it is noise-sized the window mean replaces it. Chroma is smoothed much harder than luma
  (`chroma` against `luma` times the noise): colour speckle carries no detail a photo needs.

Cost: the filter's coefficients are computed at half resolution and enlarged (He and Sun's fast
guided filter), and applied without converting the full photo to YCbCr
(docs/lab/code-measurements.md). Everything is local (support under 16
pixels, inside the engine's tile overlap), so tiles agree with the whole photo without a
recorded statistic. Applied outside training only, like `HighlightShoulder`.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from llid_cli.io.image import LUMA_WEIGHTS
from llid_cli.models.layers.blocks import rgb_to_ycbcr, ycbcr_to_rgb

SCALE = 2  # the filter's coefficients are computed at half resolution (He and Sun's fast guided filter)
GAIN_POOL = 8  # the gain is measured on 8x8 means, interpolated: the noise itself must not set it
SHADOWS = (0.25, 0.5)  # output levels (8x8 means) filtered fully up to the first, not from the second
LIMIT = 3.0  # no pixel moves by more than this many sigmas of the added noise
FLOOR = 2.0 / 255.0  # added to both means: the gain of a black area is bounded, not 0/0


class AmplifiedNoiseFilter(torch.nn.Module):
    def __init__(self, noise: float, luma: float, chroma: float, radius: int = 1):
        """`noise`: the input's noise sigma in 8-bit levels; `luma`, `chroma`: the edge threshold of
        luma and of chroma in multiples of the amplified noise; `radius`: the filter's window is
        (2 radius + 1)^2 at half resolution."""
        super().__init__()
        if not (noise > 0 and luma >= 0 and chroma >= 0 and 1 <= int(radius) <= 8):
            raise ValueError("denoise must be (noise, luma, chroma) with noise > 0, luma and chroma >= 0")
        self.noise, self.radius = float(noise) / 255.0, int(radius)
        self.luma, self.chroma = float(luma) ** 2, float(chroma) ** 2
        side = 2 * self.radius + 1
        self.register_buffer("rows", torch.full((3, 1, 1, side), 1.0 / side), persistent=False)
        self.register_buffer("columns", torch.full((3, 1, side, 1), 1.0 / side), persistent=False)
        # Means over 2x2 (the half-resolution photo) and over 4x4 of all three channels (the 8x8
        # level, from the half-resolution photo) as strided convolutions: much faster on the CPU
        # than avg_pool2d.
        self.register_buffer("halve", torch.full((3, 1, SCALE, SCALE), 1.0 / SCALE**2), persistent=False)
        quarter = GAIN_POOL // SCALE
        self.register_buffer("level_kernel", torch.full((1, 3, quarter, quarter), 1.0 / (3 * quarter**2)),
                             persistent=False)
        self.register_buffer("offset", torch.tensor([0.0, 0.5, 0.5]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("luma_weights", torch.tensor(LUMA_WEIGHTS, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, y: torch.Tensor, x: torch.Tensor, strength: float | torch.Tensor = 1.0) -> torch.Tensor:
        """`y`: the output in [0, 1]; `x`: the input it was made from (same size, a multiple of 8);
        `strength` (`llid enhance --denoise`): the input's noise is taken as `strength` times
        `noise`, which scales every threshold and the per-pixel limit (0: off, `y` returned as is).
        Computed in float32 whatever the network's precision: variances of a few levels squared
        are below half precision's resolution."""
        if not torch.is_tensor(strength) and strength == 0:
            return y  # off (`--denoise 0`): nothing to measure either
        dtype = y.dtype
        y, x = y.float(), x.float()
        halve = partial(F.conv2d, weight=self.halve.float(), stride=SCALE, groups=3)
        coarse = partial(_coarse, kernel=self.level_kernel.float())
        small = halve(y)
        level = coarse(small)  # measured as the input is: equal photos, gain exactly 1
        gain = level / coarse(halve(x))
        # The variance of the noise the gain added.
        added = (gain * gain - 1.0).clamp_min(0.0) * (self.noise**2 * strength * strength)
        # ... in the shadows: brighter areas keep their texture (lit facades, lamps' surroundings).
        added = added * ((SHADOWS[1] - level) / (SHADOWS[1] - SHADOWS[0])).clamp(0.0, 1.0)
        if not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()) and not bool((added > 0).any()):
            return y.to(dtype)  # nothing was brightened: nothing to smooth
        # Three-channel depthwise convolutions run far faster channels-last on the CPU than planar.
        ycc = rgb_to_ycbcr(small).contiguous(memory_format=torch.channels_last)
        box = partial(_box, rows=self.rows.float(), columns=self.columns.float(), radius=self.radius)
        mean = box(ycc)
        variance = (box(ycc * ycc) - mean * mean).clamp_min(0.0)
        luma, chroma = variance[:, :1], 0.5 * (variance[:, 1:2] + variance[:, 2:3])
        keep_luma = luma / (luma + added * self.luma + 1e-12)  # 1: edge or texture, 0: noise
        keep_chroma = chroma / (chroma + added * self.chroma + 1e-12)
        keep = torch.cat([keep_luma, keep_chroma, keep_chroma], dim=1)
        # In YCbCr the filtered photo is a * ycc + b, a and b smooth (computed small, enlarged).
        # With one `a` for both chroma channels that is, in RGB and without converting the full
        # photo: a_chroma * y + (a_luma - a_chroma) * luma(y) + rgb(a * offset + b).
        a, b = box(keep), box(mean - keep * mean)
        # Each pixel moves by at most LIMIT times the noise the gain added there: grain goes, but
        # an edge between a flat lamp and a flat sky is not repainted by the enlarged coefficients.
        limit = LIMIT * added.sqrt()
        constant = ycbcr_to_rgb(a * self.offset.float() + b)
        coefficients = torch.cat([constant, a[:, 1:2] - 1.0, a[:, :1] - a[:, 1:2], limit], dim=1)
        coefficients = F.interpolate(coefficients.contiguous(), scale_factor=float(SCALE), mode="bilinear",
                                     align_corners=False)  # one call for all six planes
        constant, a_chroma_less_1, a_luma, limit = (coefficients[:, :3], coefficients[:, 3:4],
                                                    coefficients[:, 4:5], coefficients[:, 5:6])
        # luma(y) as `blocks.luma` computes it, written as one 1x1 convolution: twice as fast on
        # channels-last tiles as the weighted sum of three strided channel slices.
        change = torch.addcmul(constant, a_chroma_less_1, y).add_(a_luma * F.conv2d(y, self.luma_weights.float()))
        return torch.clamp(change, min=-limit, max=limit).add_(y).to(dtype)


def _box(image: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor, radius: int) -> torch.Tensor:
    """Per-channel mean over the (2 radius + 1)^2 window (`rows`, `columns`: the separable
    kernels); at the borders over the part of the window inside the photo."""
    summed = F.conv2d(F.conv2d(image, rows, padding=(0, radius), groups=3), columns, padding=(radius, 0), groups=3)
    # The share of the window inside the photo, as a row and a column factor (1 inside).
    inside = torch.ones_like(image[:1, :1])
    share_w = F.conv2d(inside[:, :, :1, :], rows[:1], padding=(0, radius))
    share_h = F.conv2d(inside[:, :, :, :1], columns[:1], padding=(radius, 0))
    return summed * (1.0 / (share_w * share_h))


def _coarse(small: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Mean level over 8x8 blocks of the full photo (`small` is it at half size; `kernel` averages
    the channels over the matching blocks of `small`), interpolated back to the size of `small`
    (plus `FLOOR`)."""
    pooled = F.conv2d(small, kernel, stride=kernel.shape[-1]) + FLOOR
    return F.interpolate(pooled, size=small.shape[-2:], mode="bilinear", align_corners=False)
