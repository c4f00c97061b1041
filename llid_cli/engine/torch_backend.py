"""Running a PyTorch network on one HxWx3 float image."""

from __future__ import annotations

import numpy as np
import torch

from llid_cli.errors import LlidError


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise LlidError("--device cuda was asked for, but PyTorch sees no CUDA device (see `llid info`)")
    return torch.device(device)


class TorchRunner:
    """Holds a network on its device; calling it enhances a whole image."""

    def __init__(self, model: torch.nn.Module, device: str = "auto"):
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        if self.device.type == "cpu":
            # NHWC lets oneDNN pick its faster convolution kernels on CPU.
            self.model = self.model.to(memory_format=torch.channels_last)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        tensor = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None].to(self.device)
        if self.device.type == "cpu":
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            out = self.model(tensor)
        return out[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
