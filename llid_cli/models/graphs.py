"""ONNX graphs shipped next to the weights: every zoo model runs in ONNX Runtime without torch.

For a model NAME, `weights/NAME.graphs.json` is the model's descriptor (`ModelDescriptor`, what a
torch-free install cannot learn by building the network) plus its graph files (`NAME.onnx`, or
`NAME.capture.onnx` and `NAME.replay.onnx` for a model with global statistics), the weights file
they read and its sha256.

A graph file holds the network's structure only. Its weights stay in the safetensors file: each
fp16 tensor there is an ONNX external-data initializer at its byte offset in that file, cast to
fp32 inside the graph (ONNX Runtime folds the cast once, when the session is made). So the graphs
add kilobytes, not a second copy of the weights, and cannot drift from them: graphs whose weights
changed are not used. Reading needs only the standard library; `llid_cli.export.shipped` writes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from llid_cli.core.errors import ModelError
from llid_cli.models.descriptor import ModelDescriptor

DESCRIPTION = "{name}.graphs.json"
_MAX_DESCRIPTION = 1 << 20  # bytes: a description is a few hundred


@dataclass(frozen=True)
class ShippedGraphs:
    """What `NAME.graphs.json` says; paths are absolute, resolved next to the description."""

    descriptor: ModelDescriptor
    weights: Path
    weights_sha256: str
    graphs: dict[str, Path]  # mode ("plain", "capture", "replay") -> graph file

    @property
    def name(self) -> str:
        return self.descriptor.name


def find_graphs(name: str, folders: list[Path]) -> ShippedGraphs | None:
    """The graphs of zoo model `name` in the first of `folders` that describes them, or None."""
    for folder in folders:
        path = folder / DESCRIPTION.format(name=name)
        if path.is_file():
            return read_description(path)
    return None


def described_in(folder: Path) -> list[ShippedGraphs]:
    """Every model whose graphs `folder` describes, by name."""
    return [read_description(path) for path in sorted(folder.glob(DESCRIPTION.format(name="*")))]


def read_description(path: Path) -> ShippedGraphs:
    if path.stat().st_size > _MAX_DESCRIPTION:
        raise ModelError("graph description too large to be one", path)
    try:
        raw = json.loads(path.read_text())
        folder = path.parent
        return ShippedGraphs(
            descriptor=ModelDescriptor.from_json(raw), weights=folder / raw["weights"],
            weights_sha256=str(raw["weights_sha256"]),
            graphs={str(mode): folder / file for mode, file in raw["graphs"].items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelError(f"unreadable graph description ({exc})", path) from exc


def description_json(graphs: ShippedGraphs, opset: int) -> dict:
    """`NAME.graphs.json`'s content: the descriptor, then the files (named relative to it)."""
    return {**graphs.descriptor.to_json(), "weights": graphs.weights.name, "weights_sha256": graphs.weights_sha256,
            "graphs": {mode: path.name for mode, path in graphs.graphs.items()}, "opset": opset}


def made_from(graphs: ShippedGraphs, weights: Path, sha256: str) -> bool:
    """Whether the graphs were made from exactly this weights file (their initializers read it),
    given the file's sha256."""
    return weights.resolve() == graphs.weights.resolve() and sha256 == graphs.weights_sha256
