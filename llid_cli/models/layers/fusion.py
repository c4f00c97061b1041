"""The exposure a multi-exposure fusion of the scene would have, from one photo: a simulated bracket.

Why: the references llid learns from (SICE) are exposure fusions (Mertens et al., 2007) of real
brackets, and the exposure of a fusion is set by the whole bracket, not by the one dark frame a
model sees. Learned heads did no better than a constant guess on unseen scenes, yet told the
reference's exposure lynx scores far higher (docs/models.md). So the photo's own bracket is
simulated: its linear light scaled so that its brightest area is just white, then 17 frames one
stop apart (each clipped and encoded as a camera would), fused with Mertens's weights (contrast,
saturation, well-exposedness; the first two floored, so that neutral and flat areas are weighed by
their exposure rather than by rounding noise) by Laplacian-pyramid blending. What is measured is the fused
photo's exposure (log2 of its mean linear luminance). It does not depend on the photo's own
exposure (the bracket starts from its brightest area), as the references of one scene do not
depend on which frame was the input, and it sees what fusion sees: how much of the scene is
shadow, how much light, where the contrast is.

What makes it predict, measured (`scripts/fit_bracket_exposure.py --mirrors`, docs/models.md):
the pyramid's halvings keep even samples, as OpenCV's `pyrDown` does, so the coarsest levels that
set the fusion's level lean on the top-left corner, as the references' do. Fused from a mirrored
photo it predicts no better than a constant; the halving is kept as it is for that reason.

Everything runs on a 128x128 thumbnail of the (already pooled) photo, a fixed size so that the
pyramid's depth is fixed and the ONNX graph serves any photo size; once per photo (tiles replay
the result).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llid_cli.models.layers.blocks import (
    exposure_of,
    linear_to_srgb,
    luma,
    srgb_to_linear,
)

SIDE = 128  # thumbnail side: pyramid depth log2(128) = 7, as for a 128-pixel photo in OpenCV's fusion
STOPS = 16  # the bracket: 17 frames, 0 to +16 stops from "brightest area at white"
SIGMA = 0.2  # Mertens's well-exposedness width around mid-grey
CONTRAST_FLOOR = 1e-3
SATURATION_FLOOR = 1e-2


class BracketFusion(nn.Module):
    def __init__(self):
        super().__init__()
        # Built from lists, not torch.arange / outer products: on the meta device those import sympy.
        binomial = [1.0, 4.0, 6.0, 4.0, 1.0]
        blur = [[a * b / 256.0 for b in binomial] for a in binomial]
        self.register_buffer("blur", torch.tensor(blur).view(1, 1, 5, 5), persistent=False)
        laplacian = [[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]
        self.register_buffer("laplacian", torch.tensor(laplacian).view(1, 1, 3, 3), persistent=False)
        # 1-D (viewed as 5-D where used): the engine turns a model channels-last, which a 5-D buffer refuses.
        self.register_buffer("gains", torch.tensor([2.0**k for k in range(STOPS + 1)]), persistent=False)

    def forward(self, small: torch.Tensor) -> torch.Tensor:
        """B x 3 x h x w sRGB (any size; it is resampled to 128 x 128) -> B fused exposures."""
        return exposure_of(self.fuse(small))

    def fuse(self, small: torch.Tensor) -> torch.Tensor:
        """The fusion of the simulated bracket: B x 3 x 128 x 128 sRGB."""
        thumb = F.interpolate(small, size=(SIDE, SIDE), mode="bilinear", align_corners=False)
        linear = srgb_to_linear(thumb)
        top = linear.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-4)
        batch = thumb.shape[0]
        frames = linear_to_srgb((linear / top).unsqueeze(1) * self.gains.view(1, -1, 1, 1, 1))  # B x K x 3 x S x S, clipped
        frames = frames.reshape(batch * (STOPS + 1), 3, SIDE, SIDE)
        weights = self._weights(frames).reshape(batch, STOPS + 1, 1, SIDE, SIDE)
        weights = (weights / weights.sum(dim=1, keepdim=True)).reshape(batch * (STOPS + 1), 1, SIDE, SIDE)
        fused = None
        image, weight = frames, weights
        levels = []
        for _ in range(SIDE.bit_length() - 1):  # 7 halvings: 128 -> 1
            smaller_image, smaller_weight = self._down(image), self._down(weight)
            levels.append((image - _up(smaller_image), weight))
            image, weight = smaller_image, smaller_weight
        levels.append((image, weight))
        for detail, weight in reversed(levels):  # blend each level, then collapse the pyramid
            blended = (detail * weight).reshape(batch, STOPS + 1, 3, *detail.shape[-2:]).sum(dim=1)
            fused = blended if fused is None else _up(fused) + blended
        return fused.clamp(0.0, 1.0)

    def _weights(self, frames: torch.Tensor) -> torch.Tensor:
        contrast = F.conv2d(F.pad(luma(frames), (1, 1, 1, 1), mode="reflect"), self.laplacian).abs()
        saturation = ((frames - frames.mean(dim=1, keepdim=True)) ** 2).mean(dim=1, keepdim=True).sqrt()  # not torch.std: slower
        exposed = torch.exp(-((frames - 0.5) ** 2).sum(dim=1, keepdim=True) / (2 * SIGMA**2))
        # Floors on contrast and saturation: a neutral or flat area has (near) zero of either in
        # every frame, and Mertens's product then leaves its weights to rounding noise; with them,
        # well-exposedness decides.
        return (contrast + CONTRAST_FLOOR) * (saturation + SATURATION_FLOOR) * exposed + 1e-12

    def _down(self, x: torch.Tensor) -> torch.Tensor:
        """Blur and halve each channel (one-channel images: the kernel's shape stays fixed for ONNX)."""
        n, c, h, w = x.shape
        padded = F.pad(x.reshape(n * c, 1, h, w), (2, 2, 2, 2), mode="replicate" if w < 3 else "reflect")
        return F.conv2d(padded, self.blur, stride=2).reshape(n, c, (h + 1) // 2, (w + 1) // 2)


def _up(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
