"""What the engine needs to know about a model, as one frozen value built by its network.

Like spandrel's model descriptors: the facts that depend on a model's own arguments (a `unet`
with `depth: 5` pads to 32) travel with the loaded model, read off the network that was built,
not from a registry-wide table. A model's shipped ONNX graphs carry the same value as JSON
(`NAME.graphs.json`), so an install without torch knows exactly what one with torch would.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from llid_cli.models.controls import NAMES


@dataclass(frozen=True)
class ModelDescriptor:
    name: str  # the zoo name (a variant keeps its own name)
    architecture: str  # the name its weights files record
    input_multiple: int  # tile origins are aligned to it (the network pads to it by itself)
    global_stats: bool  # has layers that see the whole photo (context recorded once, replayed in tiles)
    controls: frozenset[str] = frozenset()  # the `Controls` it renders itself
    pre: str | None = None  # the classical step it was trained after (clahe-cnn: "clahe")
    pre_settings: dict = field(default_factory=dict)  # ... and that step's settings
    cpu_backend: str = "torch"  # its faster runtime on a CPU (`--backend auto`)
    # The rendering arguments that would give a network built without its noise filter one
    # (lynx-fast); None where it has one already, or none can be added.
    noise_filter_arguments: dict | None = None
    rendering: dict | None = None  # the rendering arguments in effect (`llid models info`)
    bytes_per_pixel: float = 0.0  # activation memory per input pixel on the CPU, fp32 (0: not measured)

    def __post_init__(self) -> None:
        # Settings as JSON holds them (tuples as lists), so a descriptor read off a network equals
        # the one its shipped graphs recorded.
        for name in ("pre_settings", "noise_filter_arguments", "rendering"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, json.loads(json.dumps(value)))

    def renders(self, control: str) -> bool:
        return control in self.controls

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["controls"] = sorted(self.controls)
        return data

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ModelDescriptor:
        """From `to_json`'s dict; also reads descriptions written before controls were one list
        (`native_exposure`, `noise_filter`), as graphs pulled from a hub may be."""
        controls = raw.get("controls")
        if controls is None:
            controls = [name for name, key in (("exposure", "native_exposure"), ("denoise", "noise_filter"))
                        if raw.get(key)]
        unknown = set(controls) - set(NAMES)
        if unknown:
            raise ValueError(f"controls this llid does not know: {', '.join(sorted(unknown))}")
        arguments = raw.get("noise_filter_arguments")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError("noise_filter_arguments must be an object or null")
        rendering = raw.get("rendering")
        return cls(
            name=str(raw["name"]), architecture=str(raw["architecture"]), input_multiple=int(raw["input_multiple"]),
            global_stats=bool(raw["global_stats"]), controls=frozenset(controls), pre=raw.get("pre"),
            pre_settings=dict(raw.get("pre_settings") or {}), cpu_backend=str(raw.get("cpu_backend", "onnx")),
            noise_filter_arguments=arguments, rendering=dict(rendering) if rendering else None,
            bytes_per_pixel=float(raw.get("bytes_per_pixel", 0.0)),
        )
