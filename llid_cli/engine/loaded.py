"""A loaded model and what the engine needs to know about it, learned from the network itself.

Like spandrel's model descriptors: the facts that depend on a model's own arguments (a `unet` with
`depth: 5` pads to 32, not the 16 of its default) travel with the loaded network instead of living
in a registry-wide table. Built once per run; the tiler and every backend read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from llid_cli.errors import ModelError
from llid_cli.locations import default_weights_path
from llid_cli.models.weights import WeightsInfo


@dataclass(eq=False)
class LoadedModel:
    name: str  # the zoo name asked for (a variant keeps its own name)
    module: torch.nn.Module  # in eval mode, on the CPU, fp32
    info: WeightsInfo
    input_multiple: int  # tile origins are aligned to it, so tiles see the whole photo's pooling grid
    global_stats: bool  # has layers that see the whole photo (context record/replay when tiled)
    pre: Callable[[np.ndarray], np.ndarray] | None  # the classical step it was trained after (clahe-cnn)
    native_exposure: bool  # renders a requested exposure itself (--exposure); others are re-rendered
    cpu_backend: str = "torch"  # the faster runtime for it on a CPU (`--backend auto`)

    @cached_property
    def bytes_per_pixel(self) -> float:
        """Activation memory per input pixel on the CPU in fp32, from a probe forward (128x128).

        Inference frees activations as it goes; a third of the sum of all leaf outputs is a
        conservative peak for these convolutional networks. Used to size tiles for any backend
        (ONNX Runtime does not report its own)."""
        side, sizes = 128, []
        hooks = [m.register_forward_hook(lambda _m, _i, o: sizes.append(o.numel() * o.element_size())
                                         if isinstance(o, torch.Tensor) else None)
                 for m in self.module.modules() if not list(m.children())]
        parameter = next(self.module.parameters(), None)  # a backend may have moved or cast it
        like = {"device": parameter.device, "dtype": parameter.dtype} if parameter is not None else {}
        try:
            with torch.inference_mode():
                self.module(torch.rand(1, 3, side, side, **like))
        finally:
            for hook in hooks:
                hook.remove()
        return max(sum(sizes) / 3, 1.0) / side**2


def load(name: str, weights: str | Path | None = None) -> LoadedModel:
    """Zoo model `name` with its shipped (or pulled) weights, or with the weights file `weights`."""
    from llid_cli.classical import model_pre_step
    from llid_cli.models import get_spec
    from llid_cli.models.context import has_global_stats
    from llid_cli.models.weights import load_model

    spec = get_spec(name)
    path = Path(weights) if weights else default_weights_path(name)
    if path is None or not path.is_file():
        raise ModelError(
            f"model '{name}' has no trained weights here (looked for {path}); "
            "train them with `llid train` and pass --weights FILE"
        )
    module, info = load_model(path, architecture=spec.architecture)
    return LoadedModel(
        name=name, module=module, info=info,
        input_multiple=int(getattr(module, "multiple", spec.input_multiple)),
        global_stats=has_global_stats(module), pre=model_pre_step(spec.pre, module),
        native_exposure=bool(getattr(module, "conditions_on_exposure", False)), cpu_backend=spec.cpu_backend,
    )
