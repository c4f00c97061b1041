"""ONNX export: dynamic height and width, checked with onnx.checker.

Models with global statistics can also be exported as a pair of graphs for tiled inference in
ONNX Runtime: a *capture* graph (image -> output and the photo's statistics) and a *replay* graph
(tiles and statistics -> output); see `llid_cli.models.context`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from llid_cli.errors import LlidError, NotAvailableError
from llid_cli.engine.onnx_cache import cached
from llid_cli.models.context import ContextCapture, ContextReplay, global_layers
from llid_cli.models.denoise import has_noise_filter

DEFAULT_OPSET = 17
# Bumped when exported graphs change their inputs or outputs, so that stale cached exports are not reused.
# 3: models that render an exposure take it as the input "exposure" (1 value, EV; 0: automatic);
# 4: models with a noise filter take its strength as the input "denoise" (1 value; 1: as built, 0: off).
GRAPH_FORMAT = 4
# An odd example size, so that no size-dependent branch could be frozen at a convenient value.
_SAMPLE = (1, 3, 67, 91)


def export_onnx(model: torch.nn.Module, path: str | Path, mode: str = "plain", opset: int = DEFAULT_OPSET,
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
    settings = {name: value for name, (attribute, value) in RENDERING_INPUTS.items()
                if _renders(model, name)}
    if settings:
        module, args, inputs = _RenderingInputs(module, model, list(settings)), \
            (*args, *(torch.full((1,), value) for value in settings.values())), [*inputs, *settings]
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


# Graph inputs that choose how a network renders, so that one graph serves every setting:
# name -> (the module attribute the engine sets in PyTorch, the value an export is traced with).
RENDERING_INPUTS = {"exposure": ("exposure_shift", 0.0), "denoise": ("denoise_strength", 1.0)}


def _renders(model: torch.nn.Module, name: str) -> bool:
    """Whether `model` takes the rendering input `name`: the EV shift of a network that renders
    exposure itself (lynx), the strength of a noise filter it carries (lynx, not lynx-fast)."""
    if name == "exposure":
        return bool(getattr(model, "conditions_on_exposure", False))
    return has_noise_filter(model)


class _RenderingInputs(torch.nn.Module):
    """(graph inputs..., rendering settings...) -> outputs: each setting (`RENDERING_INPUTS`) is set
    on the network for the traced forward, then put back."""

    def __init__(self, graph: torch.nn.Module, model: torch.nn.Module, names: list[str]):
        super().__init__()
        self.graph, self.model, self.names = graph, model, names

    def forward(self, *args: torch.Tensor):
        inputs, values = args[:-len(self.names)], args[-len(self.names):]
        attributes = [RENDERING_INPUTS[name][0] for name in self.names]
        before = [getattr(self.model, attribute) for attribute in attributes]
        for attribute, value in zip(attributes, values):
            setattr(self.model, attribute, value)
        try:
            return self.graph(*inputs)
        finally:
            for attribute, value in zip(attributes, before):
                setattr(self.model, attribute, value)


def cached_export(model: torch.nn.Module, weights_sha256: str, mode: str, opset: int = DEFAULT_OPSET,
                  fp16: bool = False) -> Path:
    """An export in the user cache, keyed by the weights' sha256, the networks' code and the
    network's rendering arguments, made once.

    The code is part of the key because a network can change what it computes without new
    weights (lynx's highlight shoulder and bracket exposure did): an export cached before
    would silently render the old way, or no longer fit the engine's recorded statistics. So are
    the rendering arguments: lynx-fast's weights run with or without the noise filter."""
    rendering = hashlib.sha256(json.dumps(getattr(model, "rendering", None), sort_keys=True).encode()).hexdigest()[:8]
    name = (f"{weights_sha256[:24]}-{_models_code()}-r{rendering}-{mode}-opset{opset}-g{GRAPH_FORMAT}"
            f"{'-fp16' if fp16 else ''}.onnx")
    return cached(name, lambda path: export_onnx(model, path, mode, opset, fp16))


@functools.lru_cache(maxsize=1)
def _models_code() -> str:
    """A short hash of the source of every network (`llid_cli/models/*.py`)."""
    folder = Path(__file__).resolve().parents[1] / "models"
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


@dataclass
class ExportResult:
    written: list[Path]
    check_photo: Path | None = None  # the photo the export was compared with PyTorch on (None: no check)
    max_difference: float = 0.0
    limit: float = 0.0


def export_model(name: str | None, weights: str | Path | None, output: Path, fp16: bool = False,
                 opset: int = DEFAULT_OPSET, tiling: bool = False, check_photo: Path | None = None) -> ExportResult:
    """`llid export`: a zoo model (or a weights file) as ONNX, plus the capture/replay pair for tiled
    inference with `tiling`, compared with PyTorch on a 256x256 crop of `check_photo` (default: the
    shipped example); raises `LlidError` if they disagree."""
    import numpy as np

    from llid_cli.engine.loaded import load
    from llid_cli.engine.onnx_backend import session
    from llid_cli.io import read_image
    from llid_cli.locations import example_photo
    from llid_cli.models.weights import read_weights

    if name is None:
        if weights is None:
            raise LlidError("give a model name or a weights file")
        name = read_weights(weights)[1].architecture
    loaded = load(name, weights)
    model = loaded.module
    export_onnx(model, output, "plain", opset, fp16)
    result = ExportResult([output])
    if tiling and loaded.global_stats:
        for mode in ("capture", "replay"):
            extra = output.with_name(f"{output.stem}.{mode}.onnx")
            export_onnx(model, extra, mode, opset, fp16)
            result.written.append(extra)

    photo = check_photo or example_photo()
    if photo.is_file():
        pixels = read_image(photo).to_float_rgb()[:256, :256]  # a crop keeps the check quick
        image = np.ascontiguousarray(pixels.transpose(2, 0, 1))[None]
        with torch.inference_mode():
            expected = model(torch.from_numpy(image)).numpy()
        runtime, dtype = session(output, "auto", 0), np.float16 if fp16 else np.float32
        feeds = {"image": image.astype(dtype)}
        for name in {i.name for i in runtime.get_inputs()} & set(RENDERING_INPUTS):
            feeds[name] = np.full(1, RENDERING_INPUTS[name][1], dtype)
        got = runtime.run(None, feeds)[0]
        result.check_photo, result.limit = photo, 1e-2 if fp16 else 1e-3
        result.max_difference = float(np.abs(got.astype(np.float32) - expected).max())
        if result.max_difference > result.limit:
            raise LlidError(f"the export disagrees with PyTorch (max difference {result.max_difference:.2e} > "
                            f"{result.limit:g})", output)
    return result
