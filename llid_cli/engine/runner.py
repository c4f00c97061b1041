"""From a zoo model name to a `ModelRunner`: a callable that enhances a photo's pixels, tiled as needed.

rendering -> here: `plan` (engine/plan.py) decides how the model runs before anything loads,
`open_model` (engine/loaded.py) opens it that way, `build_backend` makes the runtime the plan
names, and the runner decides how each photo goes through it: in one pass or in tiles, with the
model's global statistics measured once per photo, rendered with the controls of that call.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from llid_cli.core.errors import LlidError
from llid_cli.core.extras import installed, require
from llid_cli.core.settings import setting
from llid_cli.engine.allocator import reuse_freed_memory
from llid_cli.engine.backend import Backend, gpu_possible
from llid_cli.engine.loaded import LoadedModel, model_facts, open_model
from llid_cli.engine.plan import Machine, Plan, RunSettings, plan
from llid_cli.engine.tiling import MIN_TILE, TileOutOfMemory, Tiler
from llid_cli.io.image import from_float, to_float
from llid_cli.models.controls import REFUSAL, Controls

PixelFn = Callable[[np.ndarray], np.ndarray]  # HxWx3 uint8/uint16/float32 -> the same
WHOLE = 1 << 30  # a "tile" larger than any photo: `--tile 0`
# A photo whose activations are within this many of the runtime's preferred tile runs whole
# (benchmarks/auto_vs_whole.py).
WHOLE_WITHIN = 4
# The largest CPU tile side. A network that works at low resolution (lynx-fast: 1/16) has so few
# activations per pixel that its runtime's budget allowed tiles that ran slower and took far
# more memory (benchmarks/engine_speed.py).
CPU_MAX_TILE = 1024


@dataclass(frozen=True)
class EngineOptions:
    """How a model runs: never recorded, since none of it changes what a viewer sees."""

    backend: str = setting("torch", kind="choice", choices=("auto", "torch", "onnx"), typed="auto",
                           help="Run learned models with PyTorch or ONNX Runtime (exported once, cached); auto: "
                                "the faster one for the model on this device, as measured.")
    device: str = setting("auto", kind="choice", choices=("auto", "cpu", "cuda"),
                          help="Where learned models run (auto: CUDA when available).")
    precision: str = setting("fp32", kind="choice", choices=("fp32", "fp16", "bf16"),
                             help="Arithmetic of learned models: fp16 on CUDA; bf16 on CUDA or a CPU with native bf16 (AVX512-BF16, AMX).")
    # None: automatic, from free memory and the model's footprint; 0: no tiling.
    tile: int | None = setting(None, kind="tile", typed="auto",
                               help="Tile size in pixels for large photos, auto (from free memory), or 0 (no tiling).")
    overlap: int = setting(32, bounds=(0, 512), number=int, help="Minimum overlap between tiles, blended with a smooth ramp.")
    threads: int = setting(0, kind="threads", show_default=False,
                           help="CPU threads for the backend, at most this machine's [default: all].")
    batch_size: int = setting(1, bounds=(1, 256), number=int, help="Tiles per forward pass.")
    # Models with global statistics measure them on the photo down-scaled to at most this many
    # pixels, whether the photo is then run whole or tiled: the output then depends neither on the
    # tile size nor on the machine's memory (benchmarks/tiling_check.py). Halved only if it does not fit.
    context_pixels: int = 1_000_000

    def run_settings(self) -> RunSettings:
        return RunSettings(self.backend, self.device, self.precision)


def machine(settings: RunSettings) -> Machine:
    """This machine, as the plan sees it. PyTorch is asked about CUDA only where a GPU is possible
    and the answer matters: importing torch costs seconds a small job on the CPU does not pay."""
    torch, possible = installed("torch"), gpu_possible()
    cuda = False
    if torch and possible and settings.device == "auto" and settings.backend == "auto":
        import torch as _torch

        cuda = _torch.cuda.is_available()
    return Machine(torch=torch, onnxruntime=installed("onnxruntime"), onnx=installed("onnx"),
                   gpu_possible=possible, cuda=cuda)


def build_backend(loaded: LoadedModel, chosen: Plan, options: EngineOptions) -> Backend:
    """The runtime `chosen` names, for `loaded`."""
    if chosen.runtime == "torch":
        require("torch", "--backend torch")
        from llid_cli.engine.torch_backend import TorchBackend

        return TorchBackend(loaded.module, chosen.device, chosen.precision, options.threads)
    if chosen.runtime != "onnx":
        raise LlidError(f"unknown backend '{chosen.runtime}' (auto, torch or onnx)")
    require("onnxruntime", "enhancing with a learned model" if loaded.module is None else "--backend onnx")
    from llid_cli.engine.onnx_backend import OnnxBackend

    if chosen.precision == "bf16":
        raise LlidError("the ONNX backend runs fp32 or fp16")
    fp16 = chosen.precision == "fp16"
    graphs = _graphs(loaded, chosen)
    return OnnxBackend(graphs.get("plain"), graphs.get("capture"), graphs.get("replay"), chosen.device,
                       options.threads, fp16)


def _graphs(loaded: LoadedModel, chosen: Plan) -> dict[str, Path]:
    """mode -> ONNX graph: the shipped ones, else exports made once into the user cache."""
    if chosen.graphs == "shipped" and loaded.graphs is not None:
        return loaded.graphs.graphs
    purpose = "an fp16 ONNX graph" if chosen.precision == "fp16" else "running weights that ship no ONNX graphs"
    require("torch", purpose)
    require("onnx", purpose)
    from llid_cli.export.onnx import cached_export

    modes = ("capture", "replay") if loaded.descriptor.global_stats else ("plain",)
    return {mode: cached_export(loaded.module, loaded.info.file_sha256, mode, fp16=chosen.precision == "fp16")
            for mode in modes}


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
    return side - side % max(1, loaded.descriptor.input_multiple)


class ModelRunner:
    """Enhances a photo's pixels (HxWx3 uint8/uint16/float32 -> the same) with one loaded model,
    rendered with the `Controls` of each call that the model renders itself (its descriptor's
    `controls`); the rendering layer renders the others (an exposure shift after the network).

    `denoise` scales the strength of the filter a network carries for the grain brightening adds
    (lynx's `AmplifiedNoiseFilter`): None or 1 as built, 0 off, 2 twice the noise assumed. A
    network without one refuses a strength above 0: there is nothing to strengthen.
    """

    def __init__(self, loaded: LoadedModel, chosen: Plan, options: EngineOptions = EngineOptions(),
                 progress: Callable[[int, int], None] | None = None):
        self.loaded, self.options = loaded, options
        reuse_freed_memory()  # tiles' activations reuse the heap instead of faulting in fresh pages
        if options.tile is None:
            _ = loaded.bytes_per_pixel  # measured in fp32 on the CPU, before a backend moves or casts the module
        self.backend = build_backend(loaded, chosen, options)
        # None: automatic; 0: no tiling (one pass over the whole photo, whatever its size).
        tile = auto_tile(loaded, self.backend) if options.tile is None else (options.tile or WHOLE)
        # --tile auto on the CPU runs a photo whole when its activations are within WHOLE_WITHIN
        # times the runtime's preferred tile: split into a handful of tiles, it pays more in
        # per-tile work and overlap than the caches give back.
        self.whole_below = 0.0
        if options.tile is None and not self.backend.on_cuda:
            budget = min(WHOLE_WITHIN * self.backend.cpu_tile_bytes, self.backend.free_memory())
            # ...and within as many tiles' area: the activation estimate of a network that works at
            # low resolution undercounts what a runtime allocates for a whole photo
            # (benchmarks/auto_vs_whole.py).
            self.whole_below = min(budget / _bytes_per_pixel(loaded, self.backend), WHOLE_WITHIN * tile * tile)
        self.tiler = Tiler(self.backend.run_batch, tile, options.overlap, loaded.descriptor.input_multiple,
                           options.batch_size)
        self.tiler.on_progress = progress  # (tiles done, tiles planned) of a tiled photo

    @property
    def descriptor(self):
        return self.loaded.descriptor

    def check(self, controls: Controls) -> None:
        """Refuse a control outside its declared range, or one this model cannot render (the
        rendering layer renders an exposure shift after a model that cannot, and does not ask)."""
        controls.check()
        for name in controls.needed():
            if not self.descriptor.renders(name):
                raise LlidError(f"model '{self.loaded.name}' {REFUSAL[name]}")

    def __call__(self, pixels: np.ndarray, controls: Controls = Controls()) -> np.ndarray:
        self.check(controls)
        native = controls.only(self.descriptor.controls)
        if self.loaded.pre is not None:
            pixels = self.loaded.pre(pixels)
        height, width = pixels.shape[:2]
        if self.backend.global_stats and height * width > self.options.context_pixels:
            return self._with_context(pixels, native)
        # The photo is its own context (or the model has none): no separate pass.
        return self._one_pass_or_tiles(pixels, native, context_recorded=False)

    def _one_pass_or_tiles(self, pixels: np.ndarray, controls: Controls, context_recorded: bool) -> np.ndarray:
        """In one pass if the photo fits a tile (and memory), else in tiles; tiles of a model with
        global statistics need the photo's, so those are recorded first if they are not yet."""
        height, width = pixels.shape[:2]
        if (height <= self.tiler.tile and width <= self.tiler.tile) or height * width <= self.whole_below:
            try:
                return from_float(self.backend.run_batch(to_float(pixels)[None], controls)[0], pixels.dtype)
            except TileOutOfMemory:
                self._shrink_below(height, width)
        if self.backend.global_stats and not context_recorded:
            return self._with_context(pixels, controls)
        return self.tiler(pixels, partial(self.backend.run_batch, controls=controls))

    def _shrink_below(self, height: int, width: int) -> None:
        """The photo did not fit in one pass: tile it, starting from half its longer side."""
        tiler = self.tiler
        self.whole_below = 0.0  # and no more whole passes for this runner's later photos
        tiler.tile = max(MIN_TILE, min(tiler.tile, max(height, width) // 2))
        tiler.tile -= tiler.tile % tiler.multiple
        tiler.stats.oom_retries += 1

    def _with_context(self, pixels: np.ndarray, controls: Controls) -> np.ndarray:
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
                # photo first cost more than rounding the context's pixels by half a level.
                size = (max(1, round(width * scale)), max(1, round(height * scale)))
                whole = cv2.resize(whole, size, interpolation=cv2.INTER_AREA)
            whole = to_float(whole)
            try:
                with self.backend.global_context(whole, controls):
                    del whole
                    return self._one_pass_or_tiles(pixels, controls, context_recorded=True)
            except TileOutOfMemory:
                # Only the context pass can raise it here: the tiler retries its own tiles inside.
                if budget <= MIN_TILE * MIN_TILE:
                    raise
                budget = int(height * width * scale * scale) // 4  # measure it at half the side
                self.tiler.stats.oom_retries += 1


def build_model_runner(name: str, weights: str | None, options: EngineOptions = EngineOptions(),
                       controls: Controls = Controls(), workload_megapixels: float | None = None,
                       progress: Callable[[int, int], None] | None = None) -> ModelRunner:
    """Plan how zoo model `name` (shipped weights or `weights`) runs, open it that way and return
    its runner. `controls`: what the job will ask for, so that the model is opened able to render
    it (a strength for a noise filter lynx-fast was built without adds the filter, as lynx carries
    it: asking for one says the photo's grain matters more than a third of its speed) and a control
    it cannot render is refused before any photo. `workload_megapixels`: what the job will enhance,
    when known (the plan weighs PyTorch's start-up against its speed with it)."""
    settings = options.run_settings()
    chosen = plan(settings, model_facts(name, weights, controls), machine(settings), workload_megapixels)
    runner = ModelRunner(open_model(name, weights, chosen, controls), chosen, options, progress)
    runner.check(controls)
    return runner
