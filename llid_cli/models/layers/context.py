"""Global statistics that tiling must not break.

Every layer that pools over the whole image (squeeze-and-excitation, channel attention, selective
kernel fusion, a global airlight, a subspace projection) computes its statistics through
`GlobalStats.stats(...)`. Normally they come from the layer's input ("live"). The engine can instead
*record* them during one pass over the whole (down-scaled) photo and *replay* them in every tile,
so that each tile is enhanced with the statistics of the photo rather than of the tile. Statistics
are means, so they do not depend on the resolution they were measured at.

For ONNX, `ContextCapture` returns the recorded statistics as extra outputs and `ContextReplay`
takes them as extra inputs: two graphs that do in ONNX Runtime what record/replay do in PyTorch.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import torch
from torch import nn


class GlobalStats(nn.Module):
    """Mixin for layers with global statistics; each such layer must run once per forward."""

    # "live", "record", "replay", or "measure": record in a pass whose output nobody reads (the
    # engine's context pass), so a network may skip what comes after its last statistic.
    _stats_mode: str = "live"
    _recorded: tuple[torch.Tensor, ...] | None = None

    @property
    def measuring(self) -> bool:
        """True in a pass that only records statistics: its output is thrown away."""
        return self._stats_mode == "measure"

    def stats(self, compute: Callable[[], tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
        if self._stats_mode == "replay":
            if self._recorded is None:
                raise RuntimeError(f"{type(self).__name__}: no recorded global statistics to replay")
            return self._recorded
        values = compute()
        if self._stats_mode in ("record", "measure"):
            self._recorded = tuple(v.detach() for v in values)
        return values


def global_layers(model: nn.Module) -> list[GlobalStats]:
    return [m for m in model.modules() if isinstance(m, GlobalStats)]


def has_global_stats(model: nn.Module) -> bool:
    return bool(global_layers(model))


def _set_mode(model: nn.Module, mode: str) -> None:
    for layer in global_layers(model):
        layer._stats_mode = mode


@contextmanager
def recorded_context(model: nn.Module, whole: torch.Tensor, controls=None):
    """Record the statistics of `whole` (1 x 3 x h x w) rendered with `controls`, then replay them
    inside the block. The recording pass's output is not used (`GlobalStats.measuring`)."""
    _set_mode(model, "measure")
    try:
        with torch.inference_mode():
            model(whole, controls)
        _set_mode(model, "replay")
        yield
    finally:
        _set_mode(model, "live")
        for layer in global_layers(model):
            layer._recorded = None


def recorded_stats(model: nn.Module) -> list[torch.Tensor]:
    return [t for layer in global_layers(model) for t in (layer._recorded or ())]


class ContextCapture(nn.Module):
    """image -> (output, *statistics): the graph that measures the photo's global statistics."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, controls=None):
        _set_mode(self.model, "record")
        try:
            out = self.model(image, controls)
            return (out, *recorded_stats(self.model))
        finally:
            _set_mode(self.model, "live")


class ContextReplay(nn.Module):
    """(tiles, *statistics) -> output: the graph that enhances tiles with given statistics."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.layout = []  # how many tensors each global layer takes, in call order

    def set_layout(self, sample: torch.Tensor) -> list[tuple[int, ...]]:
        """Run once to learn the statistics' count and shapes; returns their shapes."""
        with torch.no_grad():
            _set_mode(self.model, "record")
            try:
                self.model(sample)
                self.layout = [len(layer._recorded or ()) for layer in global_layers(self.model)]
                shapes = [tuple(t.shape) for t in recorded_stats(self.model)]
            finally:
                _set_mode(self.model, "live")
        return shapes

    def forward(self, tiles: torch.Tensor, *stats: torch.Tensor, controls=None):
        layers = global_layers(self.model)
        index = 0
        for layer, count in zip(layers, self.layout):
            layer._recorded = tuple(stats[index : index + count])
            index += count
        _set_mode(self.model, "replay")
        try:
            return self.model(tiles, controls)
        finally:
            _set_mode(self.model, "live")
