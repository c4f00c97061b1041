"""Tracing a network to ONNX: dynamic height and width, checked with onnx.checker.

Each control the network renders (`Network.controls`) is a graph input of the same name (one
value), so one graph serves every setting. Models with global statistics can also be exported as
a pair of graphs for tiled inference in ONNX Runtime: a *capture* graph (image -> output and the
photo's statistics) and a *replay* graph (tiles and statistics -> output); see
`llid_cli.models.layers.context`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import warnings
from pathlib import Path

import torch

from llid_cli.core.errors import LlidError, NotAvailableError
from llid_cli.export.cache import cached
from llid_cli.models.controls import NAMES, NEUTRAL, Controls
from llid_cli.models.layers.context import ContextCapture, ContextReplay, global_layers
from llid_cli.models.network import Network

DEFAULT_OPSET = 17
# Bumped when exported graphs change their inputs or outputs, so that stale cached exports are not reused.
# 3: models that render an exposure take it as the input "exposure" (1 value, EV; 0: automatic);
# 4: models with a noise filter take its strength as the input "denoise" (1 value; 1: as built, 0: off).
# Since 4, every control a network renders is an input named after its field in `Controls`.
GRAPH_FORMAT = 4
# An odd example size, so that no size-dependent branch could be frozen at a convenient value.
_SAMPLE = (1, 3, 67, 91)


def export_onnx(model: Network, path: str | Path, mode: str = "plain", opset: int = DEFAULT_OPSET,
                fp16: bool = False, fold: bool = True) -> Path:
    """Write `model` as ONNX: mode "plain" (image -> output), "capture" or "replay".

    `fold=False` keeps the weights exactly as the network holds them (no batch norm folded into
    convolutions, no weight transposed ahead of time), as shipped graphs need to read them from
    the weights file; ONNX Runtime folds them itself when it makes a session."""
    try:
        import onnx
    except ImportError as exc:
        raise NotAvailableError("ONNX export needs the onnx package: pip install 'llid[cpu]'") from exc
    import copy

    from llid_cli.io.atomic import atomic_write_bytes

    path = Path(path)
    model = copy.deepcopy(model).eval().float()  # the caller's model stays as it was (fp16 converts)
    sample = torch.rand(*_SAMPLE)
    if mode == "plain":
        module, args = model, (sample,)
        inputs, outputs = ["image"], ["output"]
    elif mode == "capture":
        module, args = ContextCapture(model), (sample,)
        with torch.no_grad():
            count = len(module(sample)) - 1
        inputs, outputs = ["image"], ["output"] + [f"stat{i}" for i in range(count)]
    elif mode == "replay":
        module = ContextReplay(model)
        shapes = module.set_layout(sample)
        stats = tuple(torch.rand(*shape) for shape in shapes)
        args = (sample, *stats)
        inputs, outputs = ["image"] + [f"stat{i}" for i in range(len(stats))], ["output"]
    else:
        raise LlidError(f"unknown export mode '{mode}'")
    if mode != "plain" and not global_layers(model):
        raise LlidError("this model has no global statistics: export it in plain mode")
    controls = [name for name in NAMES if name in model.controls]
    if controls:  # traced at their neutral values: nothing size- or value-dependent may be frozen
        module, args, inputs = _ControlInputs(module, controls), \
            (*args, *(torch.full((1,), NEUTRAL[name]) for name in controls)), [*inputs, *controls]
    if fp16:
        module, args = module.half(), tuple(a.half() for a in args)
    dynamic = {"image": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch", 2: "height", 3: "width"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.export")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, str(tmp), input_names=inputs, output_names=outputs,
                              dynamic_axes=dynamic, opset_version=opset, dynamo=False, do_constant_folding=fold)
        onnx.checker.check_model(onnx.load(str(tmp)))
        atomic_write_bytes(path, tmp.read_bytes())
    finally:
        tmp.unlink(missing_ok=True)
    return path


class _ControlInputs(torch.nn.Module):
    """(graph inputs..., one value per control) -> outputs: the values reach the network's forward
    as its `Controls`, so the traced graph takes them as inputs."""

    def __init__(self, graph: torch.nn.Module, names: list[str]):
        super().__init__()
        self.graph, self.names = graph, names

    def forward(self, *args: torch.Tensor):
        inputs, values = args[:-len(self.names)], args[-len(self.names):]
        return self.graph(*inputs, controls=Controls(**dict(zip(self.names, values))))


def cached_export(model: Network, weights_sha256: str, mode: str, opset: int = DEFAULT_OPSET,
                  fp16: bool = False) -> Path:
    """An export in the user cache, keyed by the weights' sha256, the networks' code and the
    network's rendering arguments, made once.

    The code is part of the key because a network can change what it computes without new
    weights (lynx's highlight shoulder and bracket exposure did): an export cached before
    would silently render the old way, or no longer fit the engine's recorded statistics. So are
    the rendering arguments: lynx-fast's weights run with or without the noise filter."""
    rendering = hashlib.sha256(json.dumps(model.rendering, sort_keys=True).encode()).hexdigest()[:8]
    name = (f"{weights_sha256[:24]}-{_models_code()}-r{rendering}-{mode}-opset{opset}-g{GRAPH_FORMAT}"
            f"{'-fp16' if fp16 else ''}.onnx")
    return cached(name, lambda path: export_onnx(model, path, mode, opset, fp16))


@functools.lru_cache(maxsize=1)
def _models_code() -> str:
    """A short hash of the source of every network (`llid_cli/models/**.py`)."""
    folder = Path(__file__).resolve().parents[1] / "models"
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]
