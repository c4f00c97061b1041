"""`resse`: a residual network with Squeeze-and-Excitation blocks.

Design followed: the residual learning network of the seed list: constant feature size (no
down-scaling anywhere), Leaky ReLU activations, Squeeze-and-Excitation blocks, and a global skip so
that the network predicts the residual added to the input.

Interpretations:
- Each block is conv3x3 -> LeakyReLU(0.2) -> conv3x3 -> SE, added to the block's input (EDSR-style
  blocks without batch norm, which hurts the colour fidelity of restoration networks).
- The output is clamp(input + residual, 0, 1); the residual has to carry the whole brightening, so
  the last conv starts small (default init x 0.1) so that the untrained network is close to the
  identity while gradients still reach every layer.
- SE pools over the whole image: a global operation that tiling must respect.
"""

from __future__ import annotations

import torch
from torch import nn

from llid_cli.models.controls import Controls
from llid_cli.models.layers.blocks import SqueezeExcitation, conv3x3
from llid_cli.models.network import Network
from llid_cli.models.registry import add_variant, register


class SEResidualBlock(nn.Module):
    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.body = nn.Sequential(
            conv3x3(channels, channels), nn.LeakyReLU(0.2, inplace=True), conv3x3(channels, channels),
            SqueezeExcitation(channels, reduction),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register(
    "resse",
    description="Residual network with Squeeze-and-Excitation blocks at constant resolution; predicts a residual.",
    origin="residual learning + Squeeze-and-Excitation (Hu et al., CVPR 2018) low-light network (seed design 3)",
    presets={"default": {"channels": 48, "blocks": 8}, "tiny": {"channels": 8, "blocks": 2}},
    cpu_backend="onnx",
    global_ops=("squeeze-and-excitation",),
    weights="resse.safetensors",
)
class ResSE(Network):
    def __init__(self, channels: int = 48, blocks: int = 8, reduction: int = 8):
        super().__init__()
        self.head = nn.Sequential(conv3x3(3, channels), nn.LeakyReLU(0.2, inplace=True))
        self.body = nn.Sequential(*[SEResidualBlock(channels, reduction) for _ in range(blocks)])
        self.tail = conv3x3(channels, 3)
        with torch.no_grad():
            self.tail.weight.mul_(0.1)
            self.tail.bias.zero_()

    def forward(self, x: torch.Tensor, controls: Controls | None = None) -> torch.Tensor:
        features = self.head(x)
        residual = self.tail(self.body(features) + features)
        return (x + residual).clamp(0.0, 1.0)


# The same network trained a stage further on very dark, codec-compressed pairs (configs/resse-night.yaml):
# smoother on night video frames, where `resse` brightens the codec's 8x8 blocks into a visible grid.
add_variant(
    "resse-night",
    of="resse",
    weights="resse-night.safetensors",
    description="resse trained further on very dark, compressed frames: for night video stills (less 8x8 blocking).",
)
