"""`clahe-cnn`: the classical CLAHE-on-L step followed by a small CNN denoiser.

Design followed (seed design 5): CLAHE on CIELAB L with linear brightening, then a CNN of
conv 64, 64, 128 with ReLU and a final linear conv to 3 channels.

Interpretations:
- The classical step is not part of the network: it is declared as the model's pre-processing
  (`pre="clahe"`) and applied by the pipeline (and by training to the inputs), so this network stays
  exportable to ONNX and CLAHE's exact OpenCV behaviour is kept.
- The CNN denoises the brightened image by predicting the noise, which is subtracted
  (DnCNN-style residual learning: the noise is easier to model than the clean image). The output is
  clamped to [0, 1].
- All 3x3 convolutions; no global operation, so tiling is exact after the classical step.
"""

from __future__ import annotations

import torch
from torch import nn

from llid_cli.models.blocks import conv3x3
from llid_cli.models.registry import register


@register(
    "clahe-cnn",
    description="Classical CLAHE-on-L + brightening, then a small CNN denoiser (64-64-128, linear out).",
    origin="CLAHE (Zuiderveld 1994) followed by a DnCNN-style denoiser (seed design 5)",
    presets={"default": {"widths": (64, 64, 128)}, "tiny": {"widths": (8, 8, 16)}},
    input_multiple=1,
    global_ops=(),
    weights="clahe-cnn.safetensors",
    pre="clahe",
)
class ClaheCNN(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (64, 64, 128)):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for width in widths:
            layers += [conv3x3(cin, width), nn.ReLU(inplace=True)]
            cin = width
        layers.append(conv3x3(cin, 3))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.body(x)).clamp(0.0, 1.0)
