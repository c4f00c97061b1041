"""`Network`: what every zoo network is, and the descriptor it gives of itself.

A network states its own facts as attributes set from its arguments (`multiple`, `controls`,
`pre_settings`, `rendering`); `describe` turns them into the `ModelDescriptor` the engine reads,
so nothing outside this package inspects a network's attributes. `forward(x, controls)` takes the
`Controls` of this call; a network that renders none ignores them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from llid_cli.models.descriptor import ModelDescriptor
from llid_cli.models.layers.context import has_global_stats

if TYPE_CHECKING:
    from llid_cli.models.controls import Controls
    from llid_cli.models.registry import ModelSpec


class Network(nn.Module):
    multiple: int = 1  # the network pads its input to a multiple of this itself (and crops back)
    controls: frozenset[str] = frozenset()  # the `Controls` it renders itself
    # Constructor arguments that choose how the output is rendered outside training, not what the
    # weights learn (no parameter depends on them): they may differ between a file and a run.
    rendering_arguments: frozenset[str] = frozenset()
    # Rendering arguments that would add a noise filter to a network built without one.
    noise_filter_arguments: dict[str, Any] | None = None
    pre_settings: dict[str, Any] = {}  # settings of the classical step it expects before it
    rendering: dict[str, Any] | None = None  # the rendering arguments in effect
    predicted_exposure: torch.Tensor | None = None  # the last exposure estimate, for a training loss

    def forward(self, x: torch.Tensor, controls: Controls | None = None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def describe(self, spec: ModelSpec) -> ModelDescriptor:
        """This network's facts under zoo entry `spec` (activation memory measured apart: `probe`)."""
        filtered = "denoise" in self.controls
        return ModelDescriptor(
            name=spec.name, architecture=spec.architecture, input_multiple=int(self.multiple),
            global_stats=has_global_stats(self), controls=frozenset(self.controls), pre=spec.pre,
            pre_settings=dict(self.pre_settings), cpu_backend=spec.cpu_backend,
            noise_filter_arguments=None if filtered else self.noise_filter_arguments,
            rendering=dict(self.rendering) if self.rendering else None,
        )
