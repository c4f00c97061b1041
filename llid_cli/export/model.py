"""`llid export`: a zoo model (or a weights file) as ONNX, compared with PyTorch before it is kept."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llid_cli.core.errors import LlidError
from llid_cli.export.onnx import DEFAULT_OPSET, export_onnx


@dataclass
class ExportResult:
    written: list[Path]
    check_photo: Path | None = None  # the photo the export was compared with PyTorch on (None: no check)
    max_difference: float = 0.0
    limit: float = 0.0


def export_model(name: str | None, weights: str | Path | None, output: Path, fp16: bool = False,
                 opset: int = DEFAULT_OPSET, tiling: bool = False, check_photo: Path | None = None) -> ExportResult:
    """A zoo model (or a weights file) as ONNX, plus the capture/replay pair for tiled inference
    with `tiling`, compared with PyTorch on a 256x256 crop of `check_photo` (default: the shipped
    example) at every control's neutral value; raises `LlidError` if they disagree."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from llid_cli.io import read_image
    from llid_cli.models.controls import NEUTRAL
    from llid_cli.models.layers.context import has_global_stats
    from llid_cli.models.load import load_network
    from llid_cli.models.locations import example_photo
    from llid_cli.models.weights import read_weights

    if name is None:
        if weights is None:
            raise LlidError("give a model name or a weights file")
        name = read_weights(weights)[1].architecture
    model, _, _ = load_network(name, weights)
    export_onnx(model, output, "plain", opset, fp16)
    result = ExportResult([output])
    if tiling and has_global_stats(model):
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
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        runtime, dtype = ort.InferenceSession(str(output), providers=providers), np.float16 if fp16 else np.float32
        feeds = {"image": image.astype(dtype)}
        for control in {i.name for i in runtime.get_inputs()} & set(NEUTRAL):
            feeds[control] = np.full(1, NEUTRAL[control], dtype)
        got = runtime.run(None, feeds)[0]
        result.check_photo, result.limit = photo, 1e-2 if fp16 else 1e-3
        result.max_difference = float(np.abs(got.astype(np.float32) - expected).max())
        if result.max_difference > result.limit:
            raise LlidError(f"the export disagrees with PyTorch (max difference {result.max_difference:.2e} > "
                            f"{result.limit:g})", output)
    return result
