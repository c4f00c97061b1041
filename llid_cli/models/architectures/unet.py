"""`unet`: a U-Net with residual blocks.

Design followed (seed design 4): residual blocks of two conv + batch-norm + ReLU with a 1x1
shortcut; a max-pool encoder; an up-sampling decoder with skip concatenations; a sigmoid output.

Interpretations:
- Block: conv3x3-BN-ReLU-conv3x3-BN, plus a 1x1 conv (+BN) shortcut, then ReLU after the sum.
- Decoder up-sampling is bilinear x2 followed by the block (no transposed convs: no checkerboard).
- The sigmoid output is the enhanced image itself (not a residual), as in the seed.
- Batch norm is per-channel affine at inference. Without `context` the network has no global
  operation, and its output exposure follows the input's: a 3x3 network cannot tell a dark scene from
  a dark corner. `context=True` adds a Squeeze-and-Excitation gate after the bottleneck (an addition
  to the seed), so the whole photo's statistics reach the decoder. It pads its input to 2**depth.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llid_cli.models.controls import Controls
from llid_cli.models.layers.blocks import (
    SqueezeExcitation,
    conv3x3,
    crop_to,
    pad_to_multiple,
)
from llid_cli.models.network import Network
from llid_cli.models.registry import register


class ResidualConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(
            conv3x3(cin, cout, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            conv3x3(cout, cout, bias=False), nn.BatchNorm2d(cout),
        )
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


@register(
    "unet",
    description="Residual U-Net: conv+BN+ReLU blocks, max-pool encoder, skip concatenations, sigmoid output, SE gate.",
    origin="U-Net (Ronneberger et al., MICCAI 2015) with residual blocks (seed design 4)",
    presets={"default": {"base": 24, "depth": 4, "context": True}, "tiny": {"base": 4, "depth": 2, "context": True}},
    cpu_backend="onnx",
    global_ops=("squeeze-and-excitation at the bottleneck (context=True)",),
    weights="unet.safetensors",
)
class ResUNet(Network):
    # context defaults to False so that weights saved before the option existed still load.
    def __init__(self, base: int = 24, depth: int = 4, context: bool = False):
        super().__init__()
        self.multiple = 2**depth
        widths = [base * 2**i for i in range(depth + 1)]
        self.encoders = nn.ModuleList([ResidualConvBlock(3 if i == 0 else widths[i - 1], widths[i]) for i in range(depth)])
        self.bottleneck = ResidualConvBlock(widths[depth - 1], widths[depth])
        self.context = SqueezeExcitation(widths[depth]) if context else nn.Identity()
        self.decoders = nn.ModuleList(
            [ResidualConvBlock(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(depth))]
        )
        self.out = nn.Conv2d(widths[0], 3, 1)

    def forward(self, x: torch.Tensor, controls: Controls | None = None) -> torch.Tensor:
        x, size = pad_to_multiple(x, self.multiple)
        skips = []
        h = x
        for encoder in self.encoders:
            h = encoder(h)
            skips.append(h)
            h = F.max_pool2d(h, 2)
        h = self.context(self.bottleneck(h))
        for decoder, skip in zip(self.decoders, reversed(skips)):
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = decoder(torch.cat([h, skip], dim=1))
        return crop_to(torch.sigmoid(self.out(h)), size)
