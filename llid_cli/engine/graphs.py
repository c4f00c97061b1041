"""ONNX graphs shipped next to the weights: every zoo model runs in ONNX Runtime without torch.

For a model NAME, `weights/NAME.graphs.json` names its graphs (`NAME.onnx`, or `NAME.capture.onnx`
and `NAME.replay.onnx` for a model with global statistics) and the facts the engine needs about the
network, which a torch-free install cannot learn by building it: its input multiple, whether it
has global statistics or renders exposure itself, its classical pre-step, its activation memory.

A graph file holds the network's structure only. Its weights stay in the safetensors file: each
fp16 tensor there is an ONNX external-data initializer at its byte offset in that file, cast to
fp32 inside the graph (ONNX Runtime folds the cast once, when the session is made). So the graphs
add kilobytes, not a second copy of the weights, and cannot drift from them: the description
records the weights file's sha256, and graphs whose weights changed are not used.

Reading needs only the standard library (and onnxruntime to run them); writing (`write_graphs`,
run by `scripts/ship_graphs.py` after training) needs torch and onnx.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from llid_cli.errors import ModelError

DESCRIPTION = "{name}.graphs.json"
_MAX_DESCRIPTION = 1 << 20  # bytes: a description is a few hundred


@dataclass(frozen=True)
class ShippedGraphs:
    """What `NAME.graphs.json` says; graph paths are absolute, resolved next to the description."""

    name: str
    architecture: str
    weights: Path
    weights_sha256: str
    graphs: dict[str, Path]  # mode ("plain", "capture", "replay") -> graph file
    input_multiple: int
    global_stats: bool
    native_exposure: bool
    bytes_per_pixel: float
    noise_filter: bool = False  # takes the filter's strength as the input "denoise" (absent before it existed)
    pre: str | None = None
    pre_settings: dict = field(default_factory=dict)
    # The runtime its network runs faster on a CPU (`ModelSpec.cpu_backend`); descriptions written
    # before it was recorded say nothing, and their graphs ran on ONNX Runtime.
    cpu_backend: str = "onnx"
    noise_filter_arguments: dict | None = None  # what would add a noise filter to its network (lynx-fast)


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
            name=str(raw["name"]), architecture=str(raw["architecture"]), weights=folder / raw["weights"],
            weights_sha256=str(raw["weights_sha256"]),
            graphs={str(mode): folder / file for mode, file in raw["graphs"].items()},
            input_multiple=int(raw["input_multiple"]), global_stats=bool(raw["global_stats"]),
            native_exposure=bool(raw["native_exposure"]), bytes_per_pixel=float(raw["bytes_per_pixel"]),
            pre=raw.get("pre"), pre_settings=dict(raw.get("pre_settings") or {}),
            noise_filter=bool(raw.get("noise_filter", False)), cpu_backend=str(raw.get("cpu_backend", "onnx")),
            noise_filter_arguments=_optional_dict(raw.get("noise_filter_arguments")),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelError(f"unreadable graph description ({exc})", path) from exc


def _optional_dict(value) -> dict | None:
    if value is not None and not isinstance(value, dict):
        raise TypeError("noise_filter_arguments must be an object or null")
    return value


def made_from(graphs: ShippedGraphs, weights: Path, sha256: str) -> bool:
    """Whether the graphs were made from exactly this weights file (their initializers read it),
    given the file's sha256 (which loading it has already computed)."""
    return weights.resolve() == graphs.weights.resolve() and sha256 == graphs.weights_sha256


# ----------------------------------------------------------------------------- writing (torch, onnx)
def write_graphs(name: str, weights: Path, folder: Path | None = None) -> Path:
    """Export zoo model `name` with `weights` as ONNX into `folder` (default: the weights' own),
    its initializers pointing into the weights file, and write `NAME.graphs.json`; returns that path.

    The weights file must sit in `folder`: ONNX Runtime reads external data only from beside the graph.
    """
    from llid_cli.engine.export import DEFAULT_OPSET, export_onnx
    from llid_cli.engine.loaded import load
    from llid_cli.io.atomic import atomic_write_bytes
    from llid_cli.models.weights import file_sha256

    weights = Path(weights).resolve()
    folder = Path(folder).resolve() if folder else weights.parent
    if weights.parent != folder:
        raise ModelError(f"the weights must sit beside the graphs, in {folder}", weights)
    loaded = load(name, weights)
    modes = ("capture", "replay") if loaded.global_stats else ("plain",)
    graphs = {}
    for mode in modes:
        file = f"{name}.onnx" if mode == "plain" else f"{name}.{mode}.onnx"
        export_onnx(loaded.module, folder / file, mode, DEFAULT_OPSET, fold=False)
        _point_into_weights(folder / file, weights)
        graphs[mode] = file
    description = {
        "name": name, "architecture": loaded.info.architecture, "weights": weights.name,
        "weights_sha256": file_sha256(weights), "graphs": graphs, "opset": DEFAULT_OPSET,
        "input_multiple": loaded.input_multiple, "global_stats": loaded.global_stats,
        "native_exposure": loaded.native_exposure, "noise_filter": loaded.noise_filter,
        "bytes_per_pixel": round(loaded.bytes_per_pixel, 1),
        "pre": loaded.pre_name, "pre_settings": dict(loaded.pre_settings), "cpu_backend": loaded.cpu_backend,
        "noise_filter_arguments": loaded.noise_filter_arguments,
    }
    path = folder / DESCRIPTION.format(name=name)
    atomic_write_bytes(path, (json.dumps(description, indent=2) + "\n").encode())
    return path


def _point_into_weights(graph: Path, weights: Path) -> None:
    """Replace each fp32 initializer that is exactly an fp16 tensor of `weights` by that tensor as
    external data (its offset in the file) plus a Cast to fp32; others stay in the graph."""
    import hashlib

    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    from llid_cli.models.weights import read_header

    def by_value(half: np.ndarray) -> tuple:
        # Loading flushes -0.0 to +0.0 (weights.flush_denormals): compare values, not zero signs.
        return half.shape, hashlib.sha256((half + np.float16(0)).tobytes()).digest()

    stored = {}
    with open(weights, "rb") as handle:
        for dtype, shape, offset, length in read_header(weights)[1].values():
            if dtype == "F16":
                handle.seek(offset)
                stored[by_value(np.frombuffer(handle.read(length), "<f2").reshape(shape))] = (offset, length)
    proto = onnx.load(str(graph))
    kept, casts = [], []
    for tensor in proto.graph.initializer:
        array = numpy_helper.to_array(tensor)
        half = array.astype(np.float16)
        found = None
        if array.dtype == np.float32 and array.size and np.array_equal(half.astype(np.float32), array):
            found = stored.get(by_value(half))
        if found is None:
            kept.append(tensor)
            continue
        external = onnx.TensorProto(name=f"{tensor.name}.fp16", data_type=onnx.TensorProto.FLOAT16,
                                    dims=list(array.shape), data_location=onnx.TensorProto.EXTERNAL)
        for key, value in (("location", weights.name), ("offset", str(found[0])), ("length", str(found[1]))):
            external.external_data.add(key=key, value=value)
        kept.append(external)
        casts.append(helper.make_node("Cast", [external.name], [tensor.name], to=onnx.TensorProto.FLOAT,
                                      name=f"{tensor.name}.cast"))
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(kept)
    nodes = casts + list(proto.graph.node)
    del proto.graph.node[:]
    proto.graph.node.extend(nodes)
    # Checked as a file beside the weights: the checker resolves external data from the graph's folder.
    checking = graph.with_name(f".{graph.name}.check")
    try:
        checking.write_bytes(proto.SerializeToString())
        onnx.checker.check_model(str(checking))
        os.replace(checking, graph)
    finally:
        checking.unlink(missing_ok=True)
