"""A loaded model: its descriptor plus a runtime handle (its network, or its shipped graphs).

The facts come from the model itself, never from a registry-wide table: read off the network that
was built (`Network.describe`) or, without torch, from its shipped graphs' description, which
records the same descriptor. `model_facts` is what is known before anything loads, for the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from llid_cli.core.errors import ModelError
from llid_cli.core.extras import require
from llid_cli.engine.plan import ModelFacts, Plan
from llid_cli.models import locations
from llid_cli.models.controls import Controls
from llid_cli.models.descriptor import ModelDescriptor
from llid_cli.models.graphs import ShippedGraphs, described_in, find_graphs, made_from
from llid_cli.models.weights import WeightsInfo, file_sha256

if TYPE_CHECKING:
    from llid_cli.models.network import Network


@dataclass(eq=False)
class LoadedModel:
    descriptor: ModelDescriptor
    info: WeightsInfo
    module: Network | None = None  # in eval mode, on the CPU, fp32; None: the shipped graphs are the model
    graphs: ShippedGraphs | None = None  # its shipped ONNX graphs, made from exactly these weights

    @property
    def name(self) -> str:
        return self.descriptor.name

    @cached_property
    def pre(self) -> Callable[[np.ndarray], np.ndarray] | None:
        from llid_cli.classical import model_pre_step

        return model_pre_step(self.descriptor.pre, self.descriptor.pre_settings)

    @cached_property
    def bytes_per_pixel(self) -> float:
        """Activation memory per input pixel on the CPU in fp32: as the shipped graphs' description
        recorded it, else measured on the network (`probe_bytes_per_pixel`)."""
        if self.graphs is not None:
            return self.graphs.descriptor.bytes_per_pixel
        from llid_cli.models.load import probe_bytes_per_pixel

        return probe_bytes_per_pixel(self.module)


def model_facts(name: str, weights: str | Path | None, controls: Controls = Controls()) -> ModelFacts:
    """What the plan needs to know of model `name` before it loads, from its shipped graphs."""
    graphs = _usable_graphs(name, weights)
    if graphs is None:
        from llid_cli.core.extras import installed

        cpu_backend = "torch"
        if installed("torch"):  # without torch, only graphs can run: the plan says so
            from llid_cli.models.registry import get_spec

            cpu_backend = get_spec(name).cpu_backend
        return ModelFacts(graphs=False, cpu_backend=cpu_backend)
    return ModelFacts(graphs=True, cpu_backend=graphs.descriptor.cpu_backend,
                      graphs_cannot_render=_filter_to_add(graphs.descriptor, controls) is not None)


def open_model(name: str, weights: str | Path | None, plan: Plan, controls: Controls = Controls()) -> LoadedModel:
    """Zoo model `name` as `plan` says: its shipped graphs alone, or its network, built able to
    render `controls` (the controls the job will ask for) where it can be."""
    if plan.source == "graphs":
        return _open_graphs(name, weights)
    return open_network(name, weights, controls)


def _filter_to_add(descriptor: ModelDescriptor, controls: Controls) -> dict | None:
    """The rendering arguments that give a network a noise filter the job asks for, or None."""
    if controls.denoise and not descriptor.renders("denoise"):
        return descriptor.noise_filter_arguments
    return None


def _shipped(name: str) -> ShippedGraphs | None:
    return find_graphs(name, [locations.weights_dir(), locations.pulled_dir()])


def _graphs_for(name: str, weights: str | Path | None) -> ShippedGraphs | None:
    """The graphs of `name`; with `weights`, the graphs that read this very file, whatever name
    they were shipped under."""
    graphs = _shipped(name)
    if weights is not None:
        graphs = next((g for g in described_in(locations.weights_dir())
                       if g.weights.resolve() == Path(weights).resolve()), graphs)
    return graphs


def _usable_graphs(name: str, weights: str | Path | None) -> ShippedGraphs | None:
    graphs = _graphs_for(name, weights)
    if graphs is None:
        return None
    path = Path(weights) if weights else graphs.weights
    return graphs if path.is_file() and made_from(graphs, path, file_sha256(path)) else None


def open_network(name: str, weights: str | Path | None = None, controls: Controls = Controls()) -> LoadedModel:
    """Zoo model `name`'s network (needs torch), with its shipped graphs where they were made
    from these weights."""
    require("torch", f"adding a noise filter to '{name}' (--denoise on a model shipped without one)"
            if controls.denoise else "running a model from its weights")
    from llid_cli.models.load import load_network
    from llid_cli.models.registry import get_spec

    spec = get_spec(name)
    module, info, path = load_network(name, weights)
    descriptor = module.describe(spec)
    rendering = _filter_to_add(descriptor, controls)
    if rendering is not None:
        module, info, path = load_network(name, weights, rendering)
        descriptor = module.describe(spec)
    graphs = None if rendering else _shipped(name)  # the shipped graphs render as the file says
    if graphs is not None and not made_from(graphs, path, info.file_sha256):
        graphs = None
    return LoadedModel(descriptor, info, module, graphs)


def _open_graphs(name: str, weights: str | Path | None) -> LoadedModel:
    """Without torch: the model is its shipped graphs, which must have been made from `weights`."""
    from llid_cli.models.weights import read_info

    graphs = _graphs_for(name, weights)
    if graphs is None:
        shipped = sorted(g.name for g in described_in(locations.weights_dir()))
        raise ModelError(f"model '{name}' has no ONNX graphs here (these do: {', '.join(shipped) or 'none'}); "
                         "other models run from their weights, which needs torch: pip install 'llid[cpu]'")
    path = Path(weights) if weights else graphs.weights
    if not path.is_file():
        raise ModelError("weights file not found", path)
    info = read_info(path)
    if not made_from(graphs, path, info.file_sha256):
        raise ModelError("these weights are not the ones the shipped ONNX graphs were made from; running "
                         "other weights needs torch: pip install 'llid[cpu]'", path)
    from dataclasses import replace

    return LoadedModel(replace(graphs.descriptor, name=name), info, None, graphs)
