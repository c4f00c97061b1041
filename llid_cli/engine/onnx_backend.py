"""The ONNX Runtime backend: providers CUDA -> CPU, full graph optimisation, thread control."""

from __future__ import annotations

from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import numpy as np

from llid_cli.core.errors import LlidError, NotAvailableError
from llid_cli.engine.backend import available_host_memory
from llid_cli.engine.tiling import TileOutOfMemory
from llid_cli.models.controls import NAMES, Controls


def providers_for(device: str) -> list[str]:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise NotAvailableError("the ONNX backend needs onnxruntime: pip install 'llid[cpu]' or 'llid[gpu]'") from exc
    available = ort.get_available_providers()
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise LlidError("--device cuda: this onnxruntime has no CUDA provider (pip install 'llid[gpu]')")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "auto" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def session(path: Path, device: str, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=providers_for(device))


def _shrink_arena_options():
    """Run options that hand a session's unused CPU arena memory back after the run.

    The capture session runs once per photo; without this its arena keeps a tile's worth of
    activations while the replay session grows its own (benchmarks/engine_speed.py: less peak
    memory at the same speed). Shrinking after every replay run as well saved more but cost
    speed, so the replay session keeps its arena.
    """
    import onnxruntime as ort

    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


class OnnxBackend:
    """`plain` runs whole images or tiles of models without global statistics; `capture` and
    `replay` carry a photo's statistics into its tiles."""

    name = "onnx"
    # ONNX Runtime prefers bigger tiles than PyTorch (benchmarks/auto_vs_whole.py).
    cpu_tile_bytes = 256 << 20

    def __init__(self, plain: Path | None, capture: Path | None, replay: Path | None, device: str = "auto",
                 threads: int = 0, fp16: bool = False):
        self.global_stats = capture is not None
        self.plain = session(plain, device, threads) if plain else None
        self.capture = session(capture, device, threads) if capture else None
        self._replay = (replay, device, threads) if replay else None
        self._after_capture = _shrink_arena_options() if capture else None
        self.dtype = np.float16 if fp16 else np.float32
        self._stats: list[np.ndarray] | None = None
        first = self.plain or self.capture
        self.providers = first.get_providers()
        # The graphs of a network take each control it renders (lynx: exposure, denoise) as an input.
        self._controls = [i.name for i in first.get_inputs() if i.name in NAMES]

    def _feed(self, batch: np.ndarray, controls: Controls) -> dict[str, np.ndarray]:
        missing = set(controls.asked()) - set(self._controls)
        if missing:
            name = sorted(missing)[0]
            raise LlidError(f"this ONNX graph has no {name} input (made before --{name} existed): "
                            "run it with torch, or export it again")
        values = {name: np.array([controls.value(name)], self.dtype) for name in self._controls}
        return {"image": np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=self.dtype), **values}

    def _run(self, sess, feeds: dict, run_options=None) -> list[np.ndarray]:
        try:
            return sess.run(None, feeds, run_options)
        except Exception as exc:  # onnxruntime's errors are not typed by cause
            if "allocate" in str(exc).lower() or "out of memory" in str(exc).lower():
                raise TileOutOfMemory from None
            raise LlidError(f"ONNX Runtime failed: {str(exc).splitlines()[0]}") from exc

    @cached_property
    def replay(self):
        """Made on the first tile: a photo that fits one pass never needs it, and making a session
        is a noticeable part of enhancing a small photo (benchmarks/startup.py)."""
        return session(*self._replay) if self._replay else None

    def run_batch(self, batch: np.ndarray, controls: Controls = Controls()) -> np.ndarray:
        if self._stats is not None:
            feeds = {**self._feed(batch, controls), **{f"stat{i}": s for i, s in enumerate(self._stats)}}
            out = self._run(self.replay, feeds)[0]
        else:
            out = self._run(self.plain or self.capture, self._feed(batch, controls))[0]
        return np.clip(out.astype(np.float32), 0, 1).transpose(0, 2, 3, 1)

    @contextmanager
    def global_context(self, whole: np.ndarray, controls: Controls = Controls()):
        outputs = self._run(self.capture, self._feed(whole[None], controls), self._after_capture)
        self._stats = outputs[1:]
        try:
            yield
        finally:
            self._stats = None

    def free_memory(self) -> int:
        return min(available_host_memory() // 4, 3 << 30)

    @property
    def on_cuda(self) -> bool:
        return self.providers[0] == "CUDAExecutionProvider"

    def bytes_per_pixel(self) -> float | None:
        return None  # ONNX Runtime does not report it: the runner uses the model's own estimate
