"""LPIPS (Zhang et al., CVPR 2018), AlexNet variant, computed as the `lpips` package computes it.

The `lpips` package itself cannot be imported next to every torch build (it needs torchvision),
so llid runs the same computation: AlexNet's five ReLU outputs for both images, each unit-normalised
over channels, squared differences weighted by LPIPS's learned 1x1 layers, averaged over space and
summed over layers. Inputs are scaled to [-1, 1] and shifted/scaled as LPIPS does.

Nothing is downloaded. Two weight files must be on this machine:
- the AlexNet backbone: LLID_LPIPS_BACKBONE, or torchvision's cache
  ($TORCH_HOME/hub/checkpoints/alexnet-*.pth, TORCH_HOME defaulting to ~/.cache/torch);
- the LPIPS linear layers: LLID_LPIPS_LINEAR, or `weights/v0.1/alex.pth` of an installed `lpips`
  package (found on disk, not imported).
`.pth` files are read with torch's weights-only loader (tensors only, no arbitrary unpickling);
`.safetensors` files work too.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from llid_cli.core.errors import NotAvailableError

# torchvision's AlexNet `features`: (index, in, out, kernel, stride, padding); ReLU after each conv.
_ALEX_CONVS = [(0, 3, 64, 11, 4, 2), (3, 64, 192, 5, 1, 2), (6, 192, 384, 3, 1, 1), (8, 384, 256, 3, 1, 1), (10, 256, 256, 3, 1, 1)]
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
HOW_TO = ("LPIPS needs AlexNet and LPIPS weights on this machine: set LLID_LPIPS_BACKBONE to torchvision's "
          "alexnet-owt-7be5be79.pth (or put it in ~/.cache/torch/hub/checkpoints/) and LLID_LPIPS_LINEAR to "
          "the lpips package's weights/v0.1/alex.pth (or pip install lpips --no-deps)")


class LPIPS(nn.Module):
    def __init__(self, backbone: dict[str, torch.Tensor], linear: dict[str, torch.Tensor]):
        super().__init__()
        self.convs = nn.ModuleList()
        for index, cin, cout, kernel, stride, padding in _ALEX_CONVS:
            conv = nn.Conv2d(cin, cout, kernel, stride, padding)
            conv.weight.data.copy_(backbone[f"features.{index}.weight"])
            conv.bias.data.copy_(backbone[f"features.{index}.bias"])
            self.convs.append(conv)
        self.lins = nn.ParameterList([nn.Parameter(linear[f"lin{k}.model.1.weight"].clone()) for k in range(5)])
        self.register_buffer("shift", torch.tensor(_SHIFT)[None, :, None, None])
        self.register_buffer("scale", torch.tensor(_SCALE)[None, :, None, None])
        self.requires_grad_(False).eval()

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        h = (x - self.shift) / self.scale
        for k, conv in enumerate(self.convs):
            if k in (1, 2):  # max-pools before the 2nd and 3rd convs, as in AlexNet
                h = nn.functional.max_pool2d(h, 3, 2)
            h = torch.relu(conv(h))
            out.append(h)
        return out

    @torch.no_grad()
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """a, b: B x 3 x H x W in [0, 1]; returns B distances."""
        total = torch.zeros(a.shape[0], device=a.device)
        for fa, fb, w in zip(self._features(a * 2 - 1), self._features(b * 2 - 1), self.lins):
            fa = fa / (fa.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
            fb = fb / (fb.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
            total = total + nn.functional.conv2d((fa - fb) ** 2, w).mean(dim=(1, 2, 3))
        return total

    def distance(self, pred8: np.ndarray, ref8: np.ndarray) -> float:
        def tensor(img):
            return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float()[None] / 255.0

        return float(self(tensor(pred8), tensor(ref8))[0])


def _load(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)


def _backbone_path(explicit: str | None) -> Path | None:
    value = explicit or os.environ.get("LLID_LPIPS_BACKBONE")
    if value:
        return Path(value)
    torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
    found = sorted((torch_home / "hub" / "checkpoints").glob("alexnet-*.pth"))
    return found[0] if found else None


def _linear_path(explicit: str | None) -> Path | None:
    value = explicit or os.environ.get("LLID_LPIPS_LINEAR")
    if value:
        return Path(value)
    spec = importlib.util.find_spec("lpips")
    if spec and spec.origin:
        candidate = Path(spec.origin).parent / "weights" / "v0.1" / "alex.pth"
        return candidate if candidate.is_file() else None
    return None


def load_lpips(backbone: str | None = None, linear: str | None = None) -> LPIPS:
    """LPIPS from local weights; `NotAvailableError` (saying how to provide them) otherwise."""
    backbone_path, linear_path = _backbone_path(backbone), _linear_path(linear)
    for path in (backbone_path, linear_path):
        if path is None or not path.is_file():
            raise NotAvailableError(HOW_TO + (f" (not found: {path})" if path else ""))
    try:
        return LPIPS(_load(backbone_path), _load(linear_path))
    except (KeyError, RuntimeError, OSError) as exc:
        raise NotAvailableError(f"LPIPS weights could not be used ({exc}); " + HOW_TO) from exc
