"""A zoo model's network, built from its shipped (or pulled) weights or from a weights file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from llid_cli.core.errors import ModelError
from llid_cli.models.locations import default_weights_path
from llid_cli.models.registry import get_spec
from llid_cli.models.weights import WeightsInfo, load_model

if TYPE_CHECKING:
    from llid_cli.models.network import Network


def weights_path(name: str, weights: str | Path | None) -> Path:
    """`weights`, else the model's shipped or pulled file; refused where there is none."""
    path = Path(weights) if weights else default_weights_path(name)
    if path is None or not path.is_file():
        raise ModelError(
            f"model '{name}' has no trained weights here (looked for {path}); "
            "train them with `llid train` and pass --weights FILE"
        )
    return path


def load_network(name: str, weights: str | Path | None = None,
                 rendering: dict | None = None) -> tuple[Network, WeightsInfo, Path]:
    """Zoo model `name`'s network in eval mode, fp32 on the CPU, its weights' info and path.
    `rendering`: rendering arguments instead of the file's (a noise filter added to lynx-fast)."""
    spec = get_spec(name)
    path = weights_path(name, weights)
    module, info = load_model(path, architecture=spec.architecture, arguments=spec.arguments, rendering=rendering)
    return module, info, path


def probe_bytes_per_pixel(module: Network) -> float:
    """Activation memory per input pixel of a probe forward (128x128, on the module's device and
    dtype). Inference frees activations as it goes; a third of the sum of all leaf outputs is a
    conservative peak for these convolutional networks. Sizes tiles for any runtime (ONNX Runtime
    does not report its own)."""
    import torch

    side, sizes = 128, []
    hooks = [m.register_forward_hook(lambda _m, _i, o: sizes.append(o.numel() * o.element_size())
                                     if isinstance(o, torch.Tensor) else None)
             for m in module.modules() if not list(m.children())]
    parameter = next(module.parameters(), None)  # a backend may have moved or cast it
    like = {"device": parameter.device, "dtype": parameter.dtype} if parameter is not None else {}
    try:
        with torch.inference_mode():
            module(torch.rand(1, 3, side, side, **like))
    finally:
        for hook in hooks:
            hook.remove()
    return max(sum(sizes) / 3, 1.0) / side**2
