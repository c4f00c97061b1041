"""What the runner and the tiler need from a runtime (PyTorch, ONNX Runtime)."""

from __future__ import annotations

from pathlib import Path
from typing import ContextManager, Protocol

import numpy as np

from llid_cli.models.controls import Controls


class Backend(Protocol):
    name: str  # "torch" or "onnx"
    global_stats: bool  # runs a model whose statistics can be recorded and replayed into tiles
    # On the CPU, the activation bytes of the tile this runtime runs fastest (`--tile auto`).
    cpu_tile_bytes: int

    @property
    def on_cuda(self) -> bool:
        """Runs on a GPU (tiles are then sized from the GPU's free memory)."""

    def run_batch(self, batch: np.ndarray, controls: Controls = Controls()) -> np.ndarray:
        """(B, h, w, 3) float32 in [0, 1] -> the same shape, enhanced with `controls` (only those
        the model renders itself). Raises `TileOutOfMemory`."""

    def global_context(self, whole: np.ndarray, controls: Controls = Controls()) -> ContextManager[None]:
        """Record the statistics of `whole` (h, w, 3); every `run_batch` inside uses them."""

    def free_memory(self) -> int:
        """Bytes this backend may use for activations."""

    def bytes_per_pixel(self) -> float | None:
        """Activation bytes per pixel measured by the runtime itself, or None: the model's estimate."""


def available_host_memory() -> int:
    """Memory the OS can give this process now (MemAvailable), for sizing tiles on the CPU."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


def gpu_possible() -> bool:
    """Whether this machine could have a GPU that PyTorch runs on, asked without importing torch
    (half of an `llid enhance` of a phone photo: benchmarks/startup.py). On Linux a CUDA or ROCm GPU needs its driver's
    device files; PyTorch has no CUDA on macOS (llid does not use MPS); elsewhere, the CUDA driver's
    library. When in doubt: True, and torch is asked as before."""
    import sys

    if sys.platform.startswith("linux"):
        return any(Path(p).exists() for p in ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/kfd", "/dev/dxg"))
    if sys.platform == "darwin":
        return False
    if sys.platform == "win32":
        import ctypes.util

        return ctypes.util.find_library("nvcuda") is not None
    return True
