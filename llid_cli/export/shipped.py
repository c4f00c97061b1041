"""Writing the ONNX graphs that ship beside a zoo model's weights (`scripts/ship_graphs.py`).

The description is the network's descriptor plus the graph files (`llid_cli.models.graphs`); each
fp16 tensor of the weights file becomes an external-data initializer at its offset in that file,
so the graphs add kilobytes and cannot drift from the weights.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from llid_cli.core.errors import ModelError
from llid_cli.export.onnx import DEFAULT_OPSET, export_onnx
from llid_cli.models.graphs import DESCRIPTION, ShippedGraphs, description_json


def write_graphs(name: str, weights: Path, folder: Path | None = None, description_only: bool = False) -> Path:
    """Export zoo model `name` with `weights` as ONNX into `folder` (default: the weights' own),
    its initializers pointing into the weights file, and write `NAME.graphs.json`; returns that path.

    The weights file must sit in `folder`: ONNX Runtime reads external data only from beside the graph.
    `description_only`: write the description again for the graphs already there (made from these
    weights), keeping their recorded activation memory: the descriptor's format changed, not the graphs.
    """
    from llid_cli.io.atomic import atomic_write_bytes
    from llid_cli.models.load import load_network, probe_bytes_per_pixel
    from llid_cli.models.registry import get_spec
    from llid_cli.models.weights import file_sha256

    weights = Path(weights).resolve()
    folder = Path(folder).resolve() if folder else weights.parent
    if weights.parent != folder:
        raise ModelError(f"the weights must sit beside the graphs, in {folder}", weights)
    module, _, _ = load_network(name, weights)
    descriptor = module.describe(get_spec(name))
    if description_only:
        from llid_cli.models.graphs import find_graphs, made_from

        before = find_graphs(name, [folder])
        if before is None or not made_from(before, weights, file_sha256(weights)):
            raise ModelError(f"no graphs of '{name}' made from these weights to describe again", weights)
        shipped = ShippedGraphs(replace(descriptor, bytes_per_pixel=before.descriptor.bytes_per_pixel),
                                weights, before.weights_sha256, before.graphs)
        path = folder / DESCRIPTION.format(name=name)
        atomic_write_bytes(path, (json.dumps(description_json(shipped, DEFAULT_OPSET), indent=2) + "\n").encode())
        return path
    descriptor = replace(descriptor, bytes_per_pixel=round(probe_bytes_per_pixel(module), 1))
    modes = ("capture", "replay") if descriptor.global_stats else ("plain",)
    graphs = {}
    for mode in modes:
        file = folder / (f"{name}.onnx" if mode == "plain" else f"{name}.{mode}.onnx")
        export_onnx(module, file, mode, DEFAULT_OPSET, fold=False)
        _point_into_weights(file, weights)
        graphs[mode] = file
    shipped = ShippedGraphs(descriptor, weights, file_sha256(weights), graphs)
    path = folder / DESCRIPTION.format(name=name)
    atomic_write_bytes(path, (json.dumps(description_json(shipped, DEFAULT_OPSET), indent=2) + "\n").encode())
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
