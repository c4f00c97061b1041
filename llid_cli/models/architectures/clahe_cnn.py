"""`clahe-cnn`: the classical CLAHE-on-L step followed by a small CNN denoiser.

Design followed (seed design 5): CLAHE on CIELAB L with linear brightening, then a CNN of
conv 64, 64, 128 with ReLU and a final linear conv to 3 channels.

Interpretations:
- The classical step is not part of the network: it is declared as the model's pre-processing
  (`pre="clahe"`) and applied by the pipeline (and by training to the inputs), so this network stays
  exportable to ONNX and CLAHE's exact OpenCV behaviour is kept. The CLAHE grid and clip limit are
  constructor arguments (`pre_grid`, `pre_clip`) so they travel in the weights' metadata: the
  network only works on inputs prepared exactly as in training, whatever the CLI's CLAHE options.
- The classical step must keep what the network needs: a coarse 2x2 CLAHE grid loses less of it
  than 8x8, and the network trained after it scores higher, so the default preset uses 2x2
  (docs/models.md).
- The CNN denoises the brightened image by predicting the noise, which is subtracted
  (DnCNN-style residual learning: the noise is easier to model than the clean image). The output is
  clamped to [0, 1].
- `context=True` adds a Squeeze-and-Excitation gate on the last hidden features: the classical
  step's automatic gain fixes exposure only roughly, and the gate lets the correction depend on
  the whole scene. Defaults to False so that weights saved before the option existed still load.
"""

from __future__ import annotations

import torch
from torch import nn

from llid_cli.models.controls import Controls
from llid_cli.models.layers.blocks import SqueezeExcitation, conv3x3
from llid_cli.models.network import Network
from llid_cli.models.registry import register


@register(
    "clahe-cnn",
    description="Classical CLAHE-on-L + brightening, then a small CNN denoiser (64-64-128, linear out).",
    origin="CLAHE (Zuiderveld 1994) followed by a DnCNN-style denoiser (seed design 5)",
    presets={
        "default": {"widths": (64, 64, 128), "context": True, "pre_grid": (2, 2)},
        "tiny": {"widths": (8, 8, 16), "context": True},
    },
    cpu_backend="onnx",
    global_ops=("squeeze-and-excitation on the last hidden features (context=True)",),
    weights="clahe-cnn.safetensors",
    pre="clahe",
)
class ClaheCNN(Network):
    def __init__(self, widths: tuple[int, ...] = (64, 64, 128), context: bool = False,
                 pre_grid: tuple[int, int] = (8, 8), pre_clip: float = 2.0):
        super().__init__()
        self.pre_settings = {"tile_grid": tuple(int(g) for g in pre_grid), "clip_limit": float(pre_clip)}
        layers: list[nn.Module] = []
        cin = 3
        for width in widths:
            layers += [conv3x3(cin, width), nn.ReLU(inplace=True)]
            cin = width
        if context:
            layers.append(SqueezeExcitation(cin))
        layers.append(conv3x3(cin, 3))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, controls: Controls | None = None) -> torch.Tensor:
        return (x - self.body(x)).clamp(0.0, 1.0)
