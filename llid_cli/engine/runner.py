"""From a zoo model name to a `ModelRunner`: a callable that enhances a photo's pixels, tiled as needed.

CLI -> pipeline -> here: `load` (engine/loaded.py) gives the model and its facts, `build_backend`
the runtime (a `Backend`), and the runner decides how the photo goes through it: in one pass or in
tiles, with the model's global statistics measured once per photo.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from llid_cli.engine.allocator import reuse_freed_memory
from llid_cli.engine.backend import Backend, gpu_possible
from llid_cli.engine.loaded import LoadedModel, load
from llid_cli.engine.tiling import MIN_TILE, TileOutOfMemory, Tiler
from llid_cli.errors import LlidError
from llid_cli.extras import installed, require
from llid_cli.io.image import from_float, to_float
from llid_cli.tone import shift_pixels

PixelFn = Callable[[np.ndarray], np.ndarray]  # HxWx3 uint8/uint16/float32 -> the same
WHOLE = 1 << 30  # a "tile" larger than any photo: `--tile 0`
# Measured on 1920x1080 (2 threads): lynx-fast, whose activations there are 2x its tile's, ran
# 1.25-1.33x slower in 4 tiles than whole; lynx (10x) and resse (9x) ran 0.89-0.99x in tiles, and
# at 3840x2160 every model ran 0.46-0.84x in tiles (lynx-fast 8x: 0.54).
WHOLE_WITHIN = 4
# The largest CPU tile side. A network that works at low resolution (lynx-fast: 1/16) has so few
# activations per pixel that its runtime's budget allowed 2048-pixel tiles, where ONNX Runtime
# ran a 12 MP photo at 2.6 MP/s with 2.4 GiB added; with 1024-pixel tiles 4.3 MP/s and +303 MiB.
CPU_MAX_TILE = 1024
# `auto` on a machine without a GPU runs a model's shipped graphs on ONNX Runtime, without
# importing torch, when they are its faster CPU runtime or the job is at most this many
# megapixels. Importing torch and building lynx cost about 2.4 s; its network then runs 12 MP
# about 1.6 s faster than its graphs (2 threads: 2.0-2.1 MP/s against 1.5-1.7). Whole
# `llid enhance` runs of lynx, graphs against network (benchmarks/startup.py, two rounds):
# 0.3 MP 1.13-1.18 s against 2.87-3.29, 2 MP 2.83-3.10 against 4.06-4.13, 12 MP 8.00-9.44
# against 9.12-9.94: even there, so the bound sits a little above.
GRAPHS_UP_TO_MEGAPIXELS = 16.0


@dataclass(frozen=True)
class EngineOptions:
    backend: str = "torch"  # torch | onnx | auto (the CLI's default: see choose_backend)
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "fp32"  # fp32 | fp16 | bf16
    tile: int | None = None  # None: automatic, from free memory and the model's footprint; 0: no tiling
    overlap: int = 32
    threads: int = 0
    batch_size: int = 1
    # Models with global statistics measure them on the photo down-scaled to at most this many
    # pixels, whether the photo is then run whole or tiled: the output does not depend on the tile
    # size or on the memory of the machine (lynx, 8.3 MP: measured at full size in one pass and
    # at 1 MP in tiles, the two differed at 34 dB; now they agree). Halved only if it does not fit.
    context_pixels: int = 1_000_000
    # Called as (tiles done, tiles planned) while a tiled photo is enhanced (the CLI's progress bar).
    progress: Callable[[int, int], None] | None = None
    # The megapixels this run will enhance, when the caller knows (None: unknown). `auto` weighs
    # PyTorch's start-up against its speed with it: see `_load_for`.
    workload_megapixels: float | None = None


def choose_backend(loaded: LoadedModel, options: EngineOptions) -> str:
    """`auto`: PyTorch on a GPU and for fp16/bf16 (ONNX Runtime's CUDA path is not verified here);
    on the CPU the model's faster runtime as measured (`LoadedModel.cpu_backend`), if ONNX Runtime
    is installed and the model has graphs (shipped, or exportable with onnx). Without torch: ONNX."""
    if options.backend != "auto":
        return options.backend
    if loaded.module is None:
        return "onnx"
    import torch

    on_gpu = options.device == "cuda" or (options.device == "auto" and torch.cuda.is_available())
    if on_gpu or options.precision != "fp32" or not installed("onnxruntime"):
        return "torch"
    if loaded.graphs is None and not installed("onnx"):
        return "torch"
    return loaded.cpu_backend


def build_backend(loaded: LoadedModel, options: EngineOptions, exposure: float = 0.0, denoise: float = 1.0) -> Backend:
    """The runtime for `loaded`; `exposure` is the EV shift a graph of a network that renders
    exposure itself is fed, `denoise` the strength of its noise filter (PyTorch reads both off the
    module instead)."""
    if options.backend == "auto":
        options = replace(options, backend=choose_backend(loaded, options))
    if options.backend == "torch":
        require("torch", "--backend torch")
        from llid_cli.engine.torch_backend import TorchBackend

        return TorchBackend(loaded.module, options.device, options.precision, options.threads)
    if options.backend != "onnx":
        raise LlidError(f"unknown backend '{options.backend}' (auto, torch or onnx)")
    require("onnxruntime", "enhancing with a learned model" if loaded.module is None else "--backend onnx")
    from llid_cli.engine.onnx_backend import OnnxBackend

    if options.precision == "bf16":
        raise LlidError("the ONNX backend runs fp32 or fp16")
    fp16 = options.precision == "fp16"
    graphs = _graphs(loaded, fp16)
    return OnnxBackend(graphs.get("plain"), graphs.get("capture"), graphs.get("replay"), options.device,
                       options.threads, fp16, exposure, denoise)


def _graphs(loaded: LoadedModel, fp16: bool) -> dict[str, Path]:
    """mode -> ONNX graph: the shipped ones (fp32), else exports made once into the user cache."""
    if loaded.graphs is not None and not fp16:
        return loaded.graphs.graphs
    purpose = "an fp16 ONNX graph" if fp16 else "running weights that ship no ONNX graphs"
    require("torch", purpose)
    require("onnx", purpose)
    from llid_cli.engine.export import cached_export

    modes = ("capture", "replay") if loaded.global_stats else ("plain",)
    return {mode: cached_export(loaded.module, loaded.info.file_sha256, mode, fp16=fp16) for mode in modes}


def _bytes_per_pixel(loaded: LoadedModel, backend: Backend) -> float:
    """Activation bytes per pixel: the runtime's own measure if it has one, else the model's."""
    return max(backend.bytes_per_pixel() or loaded.bytes_per_pixel, 1.0)


def auto_tile(loaded: LoadedModel, backend: Backend) -> int:
    """The tile side for `--tile auto`: on a GPU the largest whose activations fit (256..2048); on
    the CPU the one its runtime runs fastest (`Backend.cpu_tile_bytes`), if memory allows."""
    per_pixel = _bytes_per_pixel(loaded, backend)
    fit = backend.free_memory() / per_pixel
    side = fit**0.5 if backend.on_cuda else min(fit, backend.cpu_tile_bytes / per_pixel) ** 0.5
    side = int(max(256, min(2048 if backend.on_cuda else CPU_MAX_TILE, side)))
    return side - side % max(1, loaded.input_multiple)


class ModelRunner:
    """Enhances a photo's pixels (HxWx3 uint8/uint16/float32 -> the same) with one loaded model.

    `exposure` (EV) shifts the model's automatic exposure: a network conditioned on exposure
    (lynx) renders the shifted exposure itself; any other output is re-rendered with
    `llid_cli.tone.shift_exposure`.

    `denoise` scales the strength of the filter a network carries for the grain brightening adds
    (lynx's `AmplifiedNoiseFilter`): None or 1 as built, 0 off, 2 twice the noise assumed. A
    network without one refuses a strength above 0: there is nothing to strengthen.
    """

    def __init__(self, loaded: LoadedModel, options: EngineOptions = EngineOptions(), exposure: float = 0.0,
                 denoise: float | None = None):
        self.loaded, self.options, self.exposure = loaded, options, float(exposure)
        if denoise is not None and not denoise >= 0:
            raise LlidError(f"the noise filter's strength must be 0 or more, got {denoise}")
        if denoise and not loaded.noise_filter:
            raise LlidError(f"model '{loaded.name}' runs without a noise filter (the shipped lynx has one): "
                            "leave --denoise out or set it to 0")
        self.denoise = 1.0 if denoise is None else float(denoise)
        reuse_freed_memory()  # tiles' activations reuse the heap instead of faulting in fresh pages
        if loaded.module is not None:
            if loaded.native_exposure:
                loaded.module.exposure_shift = self.exposure
            if loaded.noise_filter:
                loaded.module.denoise_strength = self.denoise
        if options.tile is None:
            _ = loaded.bytes_per_pixel  # measured in fp32 on the CPU, before a backend moves or casts the module
        self._rendered_exposure = self.exposure if loaded.native_exposure else 0.0
        self.backend = build_backend(loaded, options, self._rendered_exposure,
                                     self.denoise if loaded.noise_filter else 1.0)
        # None: automatic; 0: no tiling (one pass over the whole photo, whatever its size).
        tile = auto_tile(loaded, self.backend) if options.tile is None else (options.tile or WHOLE)
        # --tile auto on the CPU runs a photo whole when its activations are within WHOLE_WITHIN
        # times the runtime's preferred tile: split into a handful of tiles, it pays more in
        # per-tile work and overlap than the caches give back.
        self.whole_below = 0.0
        if options.tile is None and not self.backend.on_cuda:
            budget = min(WHOLE_WITHIN * self.backend.cpu_tile_bytes, self.backend.free_memory())
            # ...and within as many tiles' area: the activation estimate of a network that works at
            # low resolution undercounts what a runtime allocates for a whole photo (lynx-fast on
            # ONNX Runtime: 12 MP run whole, +2.5 GiB and 2.9 MP/s; in 1024-pixel tiles +303 MiB).
            self.whole_below = min(budget / _bytes_per_pixel(loaded, self.backend), WHOLE_WITHIN * tile * tile)
        self.tiler = Tiler(self.backend.run_batch, tile, options.overlap, loaded.input_multiple, options.batch_size)
        self.tiler.on_progress = options.progress

    def __call__(self, pixels: np.ndarray, exposure: float | None = None) -> np.ndarray:
        """`exposure`: this photo's EV shift instead of the runner's (the pipeline's night look)."""
        ev = self.exposure if exposure is None else float(exposure)
        if self.loaded.native_exposure and ev != self._rendered_exposure:
            self.backend.set_exposure(ev)
            self._rendered_exposure = ev
        out = self._enhance(pixels)
        return shift_pixels(out, ev) if ev and not self.loaded.native_exposure else out

    def _enhance(self, pixels: np.ndarray) -> np.ndarray:
        if self.loaded.pre is not None:
            pixels = self.loaded.pre(pixels)
        height, width = pixels.shape[:2]
        if self.backend.global_stats and height * width > self.options.context_pixels:
            return self._with_context(pixels)
        # The photo is its own context (or the model has none): no separate pass.
        return self._one_pass_or_tiles(pixels, context_recorded=False)

    def _one_pass_or_tiles(self, pixels: np.ndarray, context_recorded: bool) -> np.ndarray:
        """In one pass if the photo fits a tile (and memory), else in tiles; tiles of a model with
        global statistics need the photo's, so those are recorded first if they are not yet."""
        height, width = pixels.shape[:2]
        if (height <= self.tiler.tile and width <= self.tiler.tile) or height * width <= self.whole_below:
            try:
                return from_float(self.backend.run_batch(to_float(pixels)[None])[0], pixels.dtype)
            except TileOutOfMemory:
                self._shrink_below(height, width)
        if self.backend.global_stats and not context_recorded:
            return self._with_context(pixels)
        return self.tiler(pixels)

    def _shrink_below(self, height: int, width: int) -> None:
        """The photo did not fit in one pass: tile it, starting from half its longer side."""
        tiler = self.tiler
        self.whole_below = 0.0  # and no more whole passes for this runner's later photos
        tiler.tile = max(MIN_TILE, min(tiler.tile, max(height, width) // 2))
        tiler.tile -= tiler.tile % tiler.multiple
        tiler.stats.oom_retries += 1

    def _with_context(self, pixels: np.ndarray) -> np.ndarray:
        """Measure the statistics on the photo down-scaled to `context_pixels`, then run it with
        them: in one pass if it fits a tile, else tiled."""
        import cv2

        height, width = pixels.shape[:2]
        budget = self.options.context_pixels
        while True:
            scale = min(1.0, (budget / (height * width)) ** 0.5)
            whole = pixels
            if scale < 1.0:
                # Shrunk in the photo's own depth, then made float: a float copy of the full
                # photo first cost 0.4 s of a 12 MP lynx-fast run, for rounding the context's
                # pixels by at most half a level.
                size = (max(1, round(width * scale)), max(1, round(height * scale)))
                whole = cv2.resize(whole, size, interpolation=cv2.INTER_AREA)
            whole = to_float(whole)
            try:
                with self.backend.global_context(whole):
                    del whole
                    return self._one_pass_or_tiles(pixels, context_recorded=True)
            except TileOutOfMemory:
                # Only the context pass can raise it here: the tiler retries its own tiles inside.
                if budget <= MIN_TILE * MIN_TILE:
                    raise
                budget = int(height * width * scale * scale) // 4  # measure it at half the side
                self.tiler.stats.oom_retries += 1


def build_model_runner(name: str, weights: str | None, options: EngineOptions = EngineOptions(),
                       exposure: float = 0.0, denoise: float | None = None) -> ModelRunner:
    """Load zoo model `name` (shipped weights or `weights`) and return its runner.

    A strength for a noise filter the network was built without (lynx-fast, for speed) adds the
    filter, as lynx carries it: asking for one says the photo's grain matters more than a third of
    lynx-fast's speed. Its dark DICM photos' shadows: noise 1.98 -> 1.32 levels in luma and 0.58
    -> 0.21 in chroma, mean level unchanged (benchmarks/real_noise.py)."""
    loaded = _load_for(name, weights, options)
    if denoise and not loaded.noise_filter and loaded.noise_filter_arguments is not None:
        loaded = load(name, weights, rendering=loaded.noise_filter_arguments)
    return ModelRunner(loaded, options, exposure, denoise)


def _load_for(name: str, weights: str | None, options: EngineOptions) -> LoadedModel:
    """The model as the chosen runtime needs it: its shipped graphs alone (no torch imported) for
    ONNX Runtime in fp32, and for `auto` on a CPU-only machine when the graphs are the model's
    faster CPU runtime or the job is small (`GRAPHS_UP_TO_MEGAPIXELS`); else its network."""
    if options.precision != "fp32" or options.backend not in ("onnx", "auto"):
        return load(name, weights)
    if options.backend == "onnx":
        return load(name, weights, graphs_first=True)
    if options.device == "cuda" or (options.device == "auto" and gpu_possible()):
        return load(name, weights)
    loaded = load(name, weights, graphs_first=True)
    small = options.workload_megapixels is not None and options.workload_megapixels <= GRAPHS_UP_TO_MEGAPIXELS
    if loaded.module is None and loaded.cpu_backend != "onnx" and not small and installed("torch"):
        return load(name, weights)  # a large job: the network runs it faster than the graphs
    return loaded
