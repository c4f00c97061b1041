"""A loaded model and what the engine needs to know about it, learned from the network itself.

Like spandrel's model descriptors: the facts that depend on a model's own arguments (a `unet` with
`depth: 5` pads to 32, not the 16 of its default) travel with the loaded network instead of living
in a registry-wide table. Built once per run; the tiler and every backend read it.

With torch installed, the network is built from its weights and the facts are read off it; its
shipped ONNX graphs come along when they were made from these very weights. Without torch (the
`llid[onnx]` install) the shipped graphs are the model, and their description supplies the facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from llid_cli import locations
from llid_cli.engine.graphs import ShippedGraphs, described_in, find_graphs, made_from
from llid_cli.errors import ModelError
from llid_cli.extras import installed, require
from llid_cli.models.weights import WeightsInfo

if TYPE_CHECKING:
    import torch


@dataclass(eq=False)
class LoadedModel:
    name: str  # the zoo name asked for (a variant keeps its own name)
    module: torch.nn.Module | None  # in eval mode, on the CPU, fp32; None without torch (graphs only)
    info: WeightsInfo
    input_multiple: int  # tile origins are aligned to it, so tiles see the whole photo's pooling grid
    global_stats: bool  # has layers that see the whole photo (context record/replay when tiled)
    native_exposure: bool  # renders a requested exposure itself (--exposure); others are re-rendered
    noise_filter: bool = False  # carries a filter for the grain brightening adds, with a strength (--denoise)
    # The rendering arguments that would give a network built without that filter one (lynx-fast:
    # `load(..., rendering=these)`); None where there is a filter already or none can be added.
    noise_filter_arguments: dict | None = None
    pre_name: str | None = None  # the classical step it was trained after (clahe-cnn: "clahe")
    pre_settings: dict = field(default_factory=dict)  # ... and that step's settings
    cpu_backend: str = "torch"  # the faster runtime for it on a CPU (`--backend auto`)
    graphs: ShippedGraphs | None = None  # its shipped ONNX graphs, made from exactly these weights

    @cached_property
    def pre(self) -> Callable[[np.ndarray], np.ndarray] | None:
        from llid_cli.classical import model_pre_step

        return model_pre_step(self.pre_name, self.pre_settings)

    @cached_property
    def bytes_per_pixel(self) -> float:
        """Activation memory per input pixel on the CPU in fp32, from a probe forward (128x128), or
        as its shipped graphs' description recorded it (measured the same way when they were made).

        Inference frees activations as it goes; a third of the sum of all leaf outputs is a
        conservative peak for these convolutional networks. Used to size tiles for any backend
        (ONNX Runtime does not report its own)."""
        return self.graphs.bytes_per_pixel if self.graphs else _probe(self.module)


def _probe(module: torch.nn.Module) -> float:
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


def load(name: str, weights: str | Path | None = None, graphs_first: bool = False,
         rendering: dict | None = None) -> LoadedModel:
    """Zoo model `name` with its shipped (or pulled) weights, or with the weights file `weights`.

    `graphs_first`: the caller will run it on ONNX Runtime in fp32, so its shipped graphs serve
    when they were made from these weights, even with torch installed: importing torch and
    building the network cost more than enhancing a small photo (2.4 s of a 4.5 s run on a 0.3 MP
    photo, two threads).

    `rendering`: rendering arguments instead of the weights file's (`load_model`), such as
    `noise_filter_arguments`. It needs the network: shipped graphs render as the file says."""
    if rendering:
        require("torch", f"adding a noise filter to '{name}' (--denoise on a model shipped without one)")
        return _load_network(name, weights, rendering)
    if installed("torch") and graphs_first:
        try:
            return _load_graphs(name, weights)
        except ModelError:
            pass  # no such graphs, or made from other weights: the network exports its own
    return _load_network(name, weights) if installed("torch") else _load_graphs(name, weights)


def _shipped(name: str) -> ShippedGraphs | None:
    return find_graphs(name, [locations.weights_dir(), locations.pulled_dir()])


def _all_shipped() -> list[ShippedGraphs]:
    return described_in(locations.weights_dir())


def _load_network(name: str, weights: str | Path | None, rendering: dict | None = None) -> LoadedModel:
    from llid_cli.locations import default_weights_path
    from llid_cli.models import get_spec
    from llid_cli.models.context import has_global_stats
    from llid_cli.models.denoise import has_noise_filter
    from llid_cli.models.weights import load_model

    spec = get_spec(name)
    path = Path(weights) if weights else default_weights_path(name)
    if path is None or not path.is_file():
        raise ModelError(
            f"model '{name}' has no trained weights here (looked for {path}); "
            "train them with `llid train` and pass --weights FILE"
        )
    module, info = load_model(path, architecture=spec.architecture, arguments=spec.arguments, rendering=rendering)
    graphs = None if rendering else _shipped(name)  # the shipped graphs render as the file says
    filtered = has_noise_filter(module)
    return LoadedModel(
        name=name, module=module, info=info,
        input_multiple=int(getattr(module, "multiple", spec.input_multiple)), global_stats=has_global_stats(module),
        native_exposure=bool(getattr(module, "conditions_on_exposure", False)),
        noise_filter=filtered,
        noise_filter_arguments=None if filtered else getattr(module, "noise_filter_arguments", None),
        pre_name=spec.pre, pre_settings=dict(getattr(module, "pre_settings", {})), cpu_backend=spec.cpu_backend,
        graphs=graphs if graphs is not None and made_from(graphs, path, info.file_sha256) else None,
    )


def _load_graphs(name: str, weights: str | Path | None) -> LoadedModel:
    """Without torch: the model is its shipped graphs, which must have been made from `weights`."""
    from llid_cli.models.weights import read_info

    graphs = _shipped(name)
    if weights is not None:  # the graphs that read this very file, whatever name it was given under
        graphs = next((g for g in _all_shipped() if g.weights.resolve() == Path(weights).resolve()), graphs)
    if graphs is None:
        shipped = sorted(g.name for g in _all_shipped())
        raise ModelError(f"model '{name}' has no ONNX graphs here (these do: {', '.join(shipped) or 'none'}); "
                         "other models run from their weights, which needs torch: pip install 'llid[cpu]'")
    path = Path(weights) if weights else graphs.weights
    if not path.is_file():
        raise ModelError("weights file not found", path)
    info = read_info(path)
    if not made_from(graphs, path, info.file_sha256):
        raise ModelError("these weights are not the ones the shipped ONNX graphs were made from; running "
                         "other weights needs torch: pip install 'llid[cpu]'", path)
    return LoadedModel(
        name=name, module=None, info=info, input_multiple=graphs.input_multiple,
        global_stats=graphs.global_stats, native_exposure=graphs.native_exposure, noise_filter=graphs.noise_filter,
        noise_filter_arguments=graphs.noise_filter_arguments,
        pre_name=graphs.pre, pre_settings=dict(graphs.pre_settings), cpu_backend=graphs.cpu_backend, graphs=graphs,
    )
