"""Small building blocks shared by several architectures."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llid_cli.io.image import LUMA_WEIGHTS
from llid_cli.models.layers.context import GlobalStats

# Rec. 601 weights, as used by the YCbCr conversion of JPEG (full range).
_LUMA = tuple(LUMA_WEIGHTS.tolist())


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad H and W at the bottom/right up to `multiple`; returns the padded tensor and the old size.

    While an ONNX graph is traced it is always one replicate pad, even of zero pixels: a branch
    on the size would be frozen into the graph at the example's size, and replication is valid
    for inputs of any size. Run eagerly, an input that is already a multiple (the engine's tiles)
    is returned as it is: the pad of zero pixels is a copy of the whole input.
    The padded pixels are cropped away afterwards.
    """
    height, width = x.shape[-2], x.shape[-1]
    pad_h = (multiple - height % multiple) % multiple
    pad_w = (multiple - width % multiple) % multiple
    if pad_h == pad_w == 0 and not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export():
        return x, (height, width)
    return F.pad(x, (0, pad_w, 0, pad_h), mode="replicate"), (height, width)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return x[..., : size[0], : size[1]]


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """B x 1 x H x W Rec. 601 luma of B x 3 x H x W RGB."""
    r, g, b = rgb[:, 0:1], rgb[:, 1:2], rgb[:, 2:3]
    return _LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    y = luma(rgb)
    cb = (rgb[:, 2:3] - y) / 1.772 + 0.5
    cr = (rgb[:, 0:1] - y) / 1.402 + 0.5
    return torch.cat([y, cb, cr], dim=1)


def ycbcr_to_rgb(ycbcr: torch.Tensor) -> torch.Tensor:
    y, cb, cr = ycbcr[:, 0:1], ycbcr[:, 1:2] - 0.5, ycbcr[:, 2:3] - 0.5
    r = y + 1.402 * cr
    b = y + 1.772 * cb
    g = (y - _LUMA[0] * r - _LUMA[2] * b) / _LUMA[1]
    return torch.cat([r, g, b], dim=1)


def conv3x3(cin: int, cout: int, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=bias)


class SqueezeExcitation(GlobalStats):
    """Channel reweighting from globally pooled statistics (Hu et al., CVPR 2018)."""

    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.fc = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (pooled,) = self.stats(lambda: (x.mean(dim=(2, 3), keepdim=True),))
        return x * self.fc(pooled)


# Linear light, for layers that measure or render exposure (twins of `llid_cli.rendering.tone`).
_LINEAR_LUMA = (0.2126, 0.7152, 0.0722)


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_luminance(rgb_linear: torch.Tensor) -> torch.Tensor:
    """B x 1 x H x W luminance of B x 3 x H x W linear RGB."""
    return _LINEAR_LUMA[0] * rgb_linear[:, 0:1] + _LINEAR_LUMA[1] * rgb_linear[:, 1:2] + _LINEAR_LUMA[2] * rgb_linear[:, 2:3]


def exposure_of(rgb: torch.Tensor) -> torch.Tensor:
    """Per image, log2 of the mean linear luminance of B x 3 x H x W sRGB (see `llid_cli.rendering.tone`)."""
    mean = linear_luminance(srgb_to_linear(rgb)).mean(dim=(1, 2, 3))
    return torch.log2(mean.clamp_min(1e-6))


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


def shift_exposure(rgb: torch.Tensor, ev: torch.Tensor) -> torch.Tensor:
    """B x 3 x H x W sRGB references re-rendered `ev` (B) stops brighter, for training.

    In linear light, 1 - (1 - x)^(2^ev): never clips, white stays white, dark tones gain about 2^ev.
    What the network is told is the exposure measured after this shift, so the curve's exact
    shape does not bias what it learns to render. (`llid_cli.rendering.tone.shift_linear`, the user-facing
    shift, keeps mid-tones exact instead.)
    """
    linear = srgb_to_linear(rgb)
    factor = torch.pow(2.0, ev).view(-1, 1, 1, 1)
    return linear_to_srgb(1.0 - torch.pow((1.0 - linear).clamp(0.0, 1.0), factor))
