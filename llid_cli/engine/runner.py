"""From a zoo model name to a function that enhances a photo's pixels, tiled as needed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from llid_cli.engine.tiling import MIN_TILE, TileOutOfMemory, Tiler
from llid_cli.errors import LlidError, ModelError
from llid_cli.io.image import from_float, to_float
from llid_cli.locations import default_weights_path
from llid_cli.tone import shift_pixels

PixelFn = Callable[[np.ndarray], np.ndarray]  # HxWx3 uint8/uint16/float32 -> the same
WHOLE = 1 << 30  # a "tile" larger than any photo: `--tile 0`


@dataclass(frozen=True)
class EngineOptions:
    backend: str = "torch"  # torch | onnx
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "fp32"  # fp32 | fp16 | bf16
    tile: int | None = None  # None: automatic, from free memory and the model's footprint; 0: no tiling
    overlap: int = 32
    threads: int = 0
    batch_size: int = 1
    # Global statistics are measured on the photo down-scaled to at most this many pixels, and never
    # more than one tile holds (so the context pass fits the same memory as a tile). Statistics are
    # means: on a real 1080p frame, 0.25 MP of context still matched the whole image at 57-92 dB.
    context_pixels: int = 1_000_000
    # Called as (tiles done, tiles planned) while a tiled photo is enhanced (the CLI's progress bar).
    progress: Callable[[int, int], None] | None = None


def build_backend(model, info, options: EngineOptions, exposure: float = 0.0):
    from llid_cli.engine.torch_backend import TorchBackend

    if options.backend == "torch":
        return TorchBackend(model, options.device, options.precision, options.threads)
    if options.backend != "onnx":
        raise LlidError(f"unknown backend '{options.backend}' (torch or onnx)")
    from llid_cli.engine.export import cached_export
    from llid_cli.engine.onnx_backend import OnnxBackend
    from llid_cli.models.context import has_global_stats

    if options.precision == "bf16":
        raise LlidError("the ONNX backend runs fp32 or fp16")
    fp16 = options.precision == "fp16"
    # The exposure shift is a constant of the exported graph: one cached export per shift.
    key, tag = info.file_sha256, (f"ev{exposure:+.3f}" if exposure else "")
    if has_global_stats(model):
        return OnnxBackend(None, cached_export(model, key, "capture", fp16=fp16, tag=tag),
                           cached_export(model, key, "replay", fp16=fp16, tag=tag), options.device, options.threads, fp16)
    return OnnxBackend(cached_export(model, key, "plain", fp16=fp16, tag=tag), None, None, options.device, options.threads, fp16)


def fitting_pixels(backend, model) -> float:
    """How many pixels of this model's activations fit the memory this backend may use."""
    from llid_cli.engine.torch_backend import TorchBackend

    probe = backend if isinstance(backend, TorchBackend) else TorchBackend(model, "cpu")
    return backend.free_memory() / max(probe.bytes_per_pixel(), 1.0)


def auto_tile(fit_pixels: float, on_cuda: bool, multiple: int) -> int:
    """The largest tile whose activations fit (256..2048 on CUDA, ..1024 on the CPU)."""
    side = int(fit_pixels**0.5)
    limit = 2048 if on_cuda else 1024
    side = max(256, min(limit, side))
    return side - side % max(1, multiple)


def build_model_runner(name: str, weights: str | None, options: EngineOptions = EngineOptions(),
                       exposure: float = 0.0) -> PixelFn:
    """Load zoo model `name` (shipped weights or `weights`) and return its PixelFn.

    `exposure` (EV) shifts the model's automatic exposure: a network conditioned on exposure
    (lynx) renders the shifted exposure itself; any other output is re-rendered with
    `llid_cli.tone.shift_exposure`.
    """
    import cv2

    from llid_cli.classical import model_pre_step
    from llid_cli.models import get_spec
    from llid_cli.models.weights import load_model

    spec = get_spec(name)
    path = Path(weights) if weights else default_weights_path(name)
    if path is None or not path.is_file():
        raise ModelError(
            f"model '{name}' has no trained weights here (looked for {path}); "
            "train them with `llid train` and pass --weights FILE"
        )
    model, info = load_model(path, architecture=spec.architecture)
    native_exposure = bool(getattr(model, "conditions_on_exposure", False))
    if native_exposure:
        model.exposure_shift = float(exposure)
    backend = build_backend(model, info, options, exposure if native_exposure else 0.0)
    fit = fitting_pixels(backend, model)
    on_cuda = getattr(backend, "device", None) is not None and backend.device.type == "cuda"
    # None: automatic; 0: no tiling (one pass over the whole photo, whatever its size).
    tile = auto_tile(fit, on_cuda, spec.input_multiple) if options.tile is None else (options.tile or WHOLE)
    # The context pass sees the photo down-scaled to what fits memory (at least one tile), up to
    # `context_pixels`: a light model's statistics are then measured at 1 MP even with small tiles
    # (lynx-fast, 1920x1080 in 512-pixel tiles: 40.1 dB tiled vs whole with a 0.26 MP context,
    # 47.9 dB with 1 MP).
    context_budget = int(min(options.context_pixels, max(min(tile, 1 << 15) ** 2, fit)))
    pre = model_pre_step(spec.pre, model)
    tiler = Tiler(backend.run_batch, tile, options.overlap, spec.input_multiple, options.batch_size)
    tiler.on_progress = options.progress

    def run(pixels: np.ndarray) -> np.ndarray:
        out = enhance(pixels)
        return shift_pixels(out, exposure) if exposure and not native_exposure else out

    def enhance(pixels: np.ndarray) -> np.ndarray:
        if pre is not None:
            pixels = pre(pixels)
        height, width = pixels.shape[:2]
        if height <= tiler.tile and width <= tiler.tile:
            try:
                return from_float(backend.run_batch(to_float(pixels)[None])[0], pixels.dtype)
            except TileOutOfMemory:
                # The photo did not fit in one pass: tile it, starting from half its longer side.
                tiler.tile = max(MIN_TILE, min(tiler.tile, max(height, width) // 2))
                tiler.tile -= tiler.tile % tiler.multiple
                tiler.stats.oom_retries += 1
        if not backend.global_stats:
            return tiler(pixels)
        budget = context_budget
        while True:
            scale = min(1.0, (budget / (height * width)) ** 0.5)
            whole = to_float(pixels)
            if scale < 1.0:
                size = (max(1, round(width * scale)), max(1, round(height * scale)))
                whole = cv2.resize(whole, size, interpolation=cv2.INTER_AREA)
            try:
                with backend.global_context(whole):
                    del whole
                    return tiler(pixels)
            except TileOutOfMemory:
                # Only the context pass can raise it here: the tiler retries its own tiles inside.
                if budget <= MIN_TILE * MIN_TILE:
                    raise
                budget = int(height * width * scale * scale) // 4  # measure it at half the side
                tiler.stats.oom_retries += 1

    run.tiler = tiler  # for benchmarks and tests
    run.backend = backend
    return run
