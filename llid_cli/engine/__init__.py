"""Running models on photos: backends (PyTorch, ONNX Runtime) and tiling."""

from __future__ import annotations

from llid_cli.errors import ModelError


def build_model_runner(name: str, weights: str | None, device: str, clahe_settings):
    """An HxWx3 float32 -> HxWx3 float32 function running a zoo model (filled in by the model zoo)."""
    raise ModelError(f"unknown model '{name}' (available: clahe)")
