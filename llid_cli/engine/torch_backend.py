"""The PyTorch backend: runs batches of tiles on CPU or CUDA."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

from llid_cli.core.errors import LlidError
from llid_cli.engine.backend import available_host_memory
from llid_cli.engine.tiling import TileOutOfMemory
from llid_cli.models.controls import Controls
from llid_cli.models.layers.context import has_global_stats, recorded_context

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise LlidError("--device cuda was asked for, but PyTorch sees no CUDA device (see `llid info`)")
    return torch.device(device)


class TorchBackend:
    name = "torch"
    # Tiles whose activations stay near the caches run fastest; the whole photo in one pass was
    # slowest of all (benchmarks/auto_vs_whole.py).
    cpu_tile_bytes = 64 << 20

    def __init__(self, model: torch.nn.Module, device: str = "auto", precision: str = "fp32", threads: int = 0):
        self.device = resolve_device(device)
        if precision not in _DTYPES:
            raise LlidError(f"unknown precision '{precision}' (fp32, fp16 or bf16)")
        if precision == "fp16" and self.device.type != "cuda":
            raise LlidError("--precision fp16 needs a CUDA device; use fp32 (or bf16) on the CPU")
        if threads:
            torch.set_num_threads(threads)
        self.dtype = _DTYPES[precision]
        self.model = model.eval().to(self.device, self.dtype)
        self.global_stats = has_global_stats(self.model)
        if self.device.type == "cpu":
            # NHWC lets oneDNN pick its faster convolution kernels on the CPU.
            self.model = self.model.to(memory_format=torch.channels_last)

    def _tensor(self, batch: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).to(self.device, self.dtype)
        return tensor.contiguous(memory_format=torch.channels_last) if self.device.type == "cpu" else tensor

    def run_batch(self, batch: np.ndarray, controls: Controls = Controls()) -> np.ndarray:
        """(B, h, w, 3) float32 in [0, 1] -> the same shape enhanced."""
        try:
            with torch.inference_mode():
                # In place: the output is the network's own tensor (a clamped copy was another pass).
                out = self.model(self._tensor(batch), controls).float().clamp_(0, 1)
                # NHWC in memory, so the array the tiler blends is contiguous (a strided one took
                # 20x as long to add up); a no-op for a network that kept the CPU's channels-last.
                out = out.contiguous(memory_format=torch.channels_last)
            return out.permute(0, 2, 3, 1).cpu().numpy()
        except torch.OutOfMemoryError:
            # Free what the failed batch held before the tiler retries with smaller tiles.
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            raise TileOutOfMemory from None

    @contextmanager
    def global_context(self, whole: np.ndarray, controls: Controls = Controls()):
        """Record the global statistics of `whole` (h, w, 3) and use them for every tile inside.

        An out-of-memory while recording is a `TileOutOfMemory`, so that the runner can measure the
        context at a smaller size."""
        try:
            with recorded_context(self.model, self._tensor(whole[None]), controls):
                yield
        except torch.OutOfMemoryError:  # only the recording pass: tiles report theirs as TileOutOfMemory
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            raise TileOutOfMemory from None

    def free_memory(self) -> int:
        """Bytes this backend may use for activations."""
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            return int(free * 0.6)
        return min(available_host_memory() // 4, 3 << 30)

    @property
    def on_cuda(self) -> bool:
        return self.device.type == "cuda"

    def bytes_per_pixel(self) -> float | None:
        """On CUDA, the peak memory of a probe forward (128x128); None on the CPU (the model's estimate)."""
        if self.device.type != "cuda":
            return None
        side = 128
        probe = torch.rand(1, 3, side, side, device=self.device, dtype=self.dtype)
        torch.cuda.synchronize(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        before = torch.cuda.memory_allocated(self.device)
        with torch.inference_mode():
            self.model(probe)
        peak = torch.cuda.max_memory_allocated(self.device) - before
        return max(peak, 1) / side**2
