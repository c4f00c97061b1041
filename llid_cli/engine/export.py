"""ONNX export: dynamic height and width, checked with onnx.checker.

Models with global statistics can also be exported as a pair of graphs for tiled inference in
ONNX Runtime: a *capture* graph (image -> output and the photo's statistics) and a *replay* graph
(tiles and statistics -> output); see `llid_cli.models.context`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from llid_cli.errors import LlidError, NotAvailableError
from llid_cli.models.context import ContextCapture, ContextReplay, global_layers

DEFAULT_OPSET = 17
# An odd example size, so that no size-dependent branch could be frozen at a convenient value.
_SAMPLE = (1, 3, 67, 91)


def cache_dir() -> Path:
    """llid's user cache: LLID_CACHE_DIR, else $XDG_CACHE_HOME/llid, else ~/.cache/llid."""
    if os.environ.get("LLID_CACHE_DIR"):
        return Path(os.environ["LLID_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llid"


def export_onnx(model: torch.nn.Module, path: str | Path, mode: str = "plain", opset: int = DEFAULT_OPSET,
                fp16: bool = False) -> Path:
    """Write `model` as ONNX: mode "plain" (image -> output), "capture" or "replay"."""
    try:
        import onnx
    except ImportError as exc:
        raise NotAvailableError("ONNX export needs the onnx package: pip install 'llid[cpu]'") from exc
    from llid_cli.io.atomic import atomic_write_bytes

    import copy

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
    if fp16:
        module, args = module.half(), tuple(a.half() for a in args)
    dynamic = {"image": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch", 2: "height", 3: "width"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.export")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, str(tmp), input_names=inputs, output_names=outputs,
                              dynamic_axes=dynamic, opset_version=opset, dynamo=False)
        proto = onnx.load(str(tmp))
        onnx.checker.check_model(proto)
        atomic_write_bytes(path, tmp.read_bytes())
    finally:
        tmp.unlink(missing_ok=True)
    return path


def cached_export(model: torch.nn.Module, weights_sha256: str, mode: str, opset: int = DEFAULT_OPSET,
                  fp16: bool = False, tag: str = "") -> Path:
    """An export in the user cache, keyed by the weights' sha256 (and `tag`: what else the graph
    bakes in, such as an exposure shift), made once."""
    name = f"{weights_sha256[:24]}{'-' + tag if tag else ''}-{mode}-opset{opset}{'-fp16' if fp16 else ''}.onnx"
    path = cache_dir() / "onnx" / name
    if not path.is_file():
        export_onnx(model, path, mode, opset, fp16)
    return path
