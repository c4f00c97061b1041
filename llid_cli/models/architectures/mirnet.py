"""`mirnet`: MIRNet, multi-scale residual learning with attention.

Design followed: Zamir et al., "Learning Enriched Features for Real Image Restoration and
Enhancement", ECCV 2020. A head conv, Recursive Residual Groups (RRG) of Multi-scale Residual Blocks
(MRB), a tail conv and a global residual. Each MRB keeps `height` resolutions in parallel (channels
x`chan_factor` per halving), runs a Dual Attention Unit (DAU: spatial + channel attention) on each,
exchanges information between the resolutions with Selective Kernel Feature Fusion (SKFF), repeats
this for `width` columns, and fuses everything back to full resolution with a last SKFF.

Interpretations:
- Down-sampling is the paper's residual module with anti-aliased (blur-pool) stride-2 sampling;
  up-sampling mirrors it with bilinear interpolation in both branches (instead of a transposed
  convolution, to avoid checkerboard artefacts).
- The paper's configuration is preset "paper" (64 features, 3 RRGs x 2 MRBs, 3 scales, 2 columns);
  "default" is sized for a CPU. The output is clamp(input + residual, 0, 1).
- Every column of an MRB has its own DAUs, fusions and resamplers, as the paper's figure draws
  them. The authors' code builds a scale's DAUs as `[DAU(...)] * width` (one module repeated, so
  shared across columns) and keys resamplers in dictionaries, which is why its published count is
  31.8 M parameters while preset "paper" here has 44.5 M.
- Channel attention (DAU) and SKFF pool over the whole image: global operations for tiling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llid_cli.models.controls import Controls
from llid_cli.models.layers.blocks import conv3x3, crop_to, pad_to_multiple
from llid_cli.models.layers.context import GlobalStats
from llid_cli.models.network import Network
from llid_cli.models.registry import register


class SpatialAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 5, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


class ChannelAttention(GlobalStats):
    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.fc = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.PReLU(), nn.Conv2d(hidden, channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (pooled,) = self.stats(lambda: (x.mean(dim=(2, 3), keepdim=True),))
        return x * self.fc(pooled)


class DualAttentionUnit(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv3x3(channels, channels), nn.PReLU(), conv3x3(channels, channels))
        self.spatial = SpatialAttention()
        self.channel = ChannelAttention(channels)
        self.merge = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.body(x)
        return x + self.merge(torch.cat([self.spatial(features), self.channel(features)], dim=1))


class SelectiveKernelFusion(GlobalStats):
    """Fuse same-shaped streams with softmax weights computed from their pooled sum."""

    def __init__(self, channels: int, streams: int, reduction: int = 8):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.squeeze = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.PReLU())
        self.excite = nn.ModuleList([nn.Conv2d(hidden, channels, 1) for _ in range(streams)])

    def forward(self, streams: list[torch.Tensor]) -> torch.Tensor:
        stacked = torch.stack(streams, dim=1)  # B x S x C x H x W
        (pooled,) = self.stats(lambda: (stacked.sum(dim=1).mean(dim=(2, 3), keepdim=True),))
        descriptor = self.squeeze(pooled)
        weights = torch.stack([excite(descriptor) for excite in self.excite], dim=1).softmax(dim=1)
        return (stacked * weights).sum(dim=1)


class BlurPool(nn.Module):
    """Anti-aliased stride-2 sampling: a [1 2 1] binomial blur per channel, then every other pixel."""

    def __init__(self, channels: int):
        super().__init__()
        # Written out rather than computed: arithmetic and copies on PyTorch's meta device (where
        # the registry's size check builds networks) import sympy, seconds of every load.
        kernel = [[a * b / 16.0 for b in (1.0, 2.0, 1.0)] for a in (1.0, 2.0, 1.0)]
        self.register_buffer("kernel", torch.tensor([[kernel]] * channels), persistent=False)
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.kernel, stride=2, groups=self.channels)


class ResidualDownsample(nn.Module):
    def __init__(self, channels: int, factor: int):
        super().__init__()
        out = channels * factor
        self.top = nn.Sequential(
            nn.Conv2d(channels, channels, 1), nn.PReLU(), conv3x3(channels, channels), nn.PReLU(),
            BlurPool(channels), nn.Conv2d(channels, out, 1),
        )
        self.bottom = nn.Sequential(BlurPool(channels), nn.Conv2d(channels, out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.top(x) + self.bottom(x)


class ResidualUpsample(nn.Module):
    def __init__(self, channels: int, factor: int):
        super().__init__()
        out = channels // factor
        self.top_in = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.PReLU())
        self.top_out = nn.Sequential(conv3x3(channels, channels), nn.PReLU(), nn.Conv2d(channels, out, 1))
        self.bottom = nn.Conv2d(channels, out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        top = self.top_out(F.interpolate(self.top_in(x), scale_factor=2.0, mode="bilinear", align_corners=False))
        return top + self.bottom(up)


def _resampler(channels: int, source: int, target: int, factor: int) -> nn.Module:
    """Steps of x2 sampling from scale `source` to scale `target` (0 = full resolution)."""
    steps: list[nn.Module] = []
    for level in range(source, target):
        steps.append(ResidualDownsample(channels * factor**level, factor))
    for level in range(source, target, -1):
        steps.append(ResidualUpsample(channels * factor**level, factor))
    return nn.Sequential(*steps) if steps else nn.Identity()


class MultiScaleResidualBlock(nn.Module):
    def __init__(self, channels: int, height: int, width: int, factor: int):
        super().__init__()
        self.height, self.width = height, width
        widths = [channels * factor**i for i in range(height)]
        self.enter = nn.ModuleList([_resampler(channels, 0, i, factor) for i in range(height)])
        self.attention = nn.ModuleList(
            [nn.ModuleList([DualAttentionUnit(w) for w in widths]) for _ in range(width)]
        )
        # exchange[j][target][source]: resampling for the fusion after column j.
        self.exchange = nn.ModuleList([
            nn.ModuleList([nn.ModuleList([_resampler(channels, s, t, factor) for s in range(height)])
                           for t in range(height)])
            for _ in range(width - 1)
        ])
        self.fuse = nn.ModuleList([
            nn.ModuleList([SelectiveKernelFusion(w, height) for w in widths]) for _ in range(width - 1)
        ])
        self.leave = nn.ModuleList([_resampler(channels, i, 0, factor) for i in range(height)])
        self.final_fuse = SelectiveKernelFusion(channels, height)
        self.out = conv3x3(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        streams = [enter(x) for enter in self.enter]
        for column in range(self.width):
            streams = [dau(s) for dau, s in zip(self.attention[column], streams)]
            if column < self.width - 1:
                streams = [
                    self.fuse[column][t]([self.exchange[column][t][s](streams[s]) for s in range(self.height)])
                    for t in range(self.height)
                ]
        fused = self.final_fuse([leave(s) for leave, s in zip(self.leave, streams)])
        return x + self.out(fused)


class RecursiveResidualGroup(nn.Module):
    def __init__(self, channels: int, blocks: int, height: int, width: int, factor: int):
        super().__init__()
        self.body = nn.Sequential(
            conv3x3(channels, channels),
            *[MultiScaleResidualBlock(channels, height, width, factor) for _ in range(blocks)],
            conv3x3(channels, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register(
    "mirnet",
    description="MIRNet: recursive residual groups of multi-scale residual blocks with dual attention and SKFF.",
    origin="Zamir et al., 'Learning Enriched Features for Real Image Restoration and Enhancement', ECCV 2020",
    presets={
        "default": {"channels": 16, "groups": 2, "blocks": 2, "height": 3, "width": 2, "chan_factor": 2},
        "paper": {"channels": 64, "groups": 3, "blocks": 2, "height": 3, "width": 2, "chan_factor": 2},
        "tiny": {"channels": 4, "groups": 1, "blocks": 1, "height": 2, "width": 2, "chan_factor": 2},
    },
    global_ops=("channel attention (DAU)", "selective kernel fusion"),
    weights="mirnet.safetensors",
)
class MIRNet(Network):
    def __init__(self, channels: int = 16, groups: int = 2, blocks: int = 2, height: int = 3, width: int = 2,
                 chan_factor: int = 2):
        super().__init__()
        self.multiple = 2 ** (height - 1)
        self.head = conv3x3(3, channels)
        self.body = nn.Sequential(
            *[RecursiveResidualGroup(channels, blocks, height, width, chan_factor) for _ in range(groups)]
        )
        self.tail = conv3x3(channels, 3)

    def forward(self, x: torch.Tensor, controls: Controls | None = None) -> torch.Tensor:
        padded, size = pad_to_multiple(x, self.multiple)
        residual = self.tail(self.body(self.head(padded)))
        return crop_to((padded + residual).clamp(0.0, 1.0), size)
