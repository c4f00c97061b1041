"""Where llid's files live: the shipped weights and example, and the user cache (pulled weights,
ONNX exports, backend calibrations). Every other module asks here, so moving a location is a
change in one place.

- Shipped files: inside an installed wheel (`llid_cli/_weights`, `llid_cli/_examples`) or the
  checkout's `weights/` and `examples/`.
- The user cache: LLID_CACHE_DIR, else $XDG_CACHE_HOME/llid, else ~/.cache/llid.
"""

from __future__ import annotations

import os
from pathlib import Path


def weights_dir() -> Path:
    """Shipped weights: inside an installed wheel (llid_cli/_weights) or the checkout's weights/."""
    return _packaged("_weights", "weights")


def example_photo() -> Path:
    """The shipped example photo (the wheel carries a copy of examples/dark-kodim23.jpg)."""
    return _packaged("_examples", "examples") / "dark-kodim23.jpg"


def cache_dir() -> Path:
    if os.environ.get("LLID_CACHE_DIR"):
        return Path(os.environ["LLID_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llid"


def pulled_dir() -> Path:
    """Weights downloaded by `llid models pull`."""
    return cache_dir() / "weights"


def hub_cache_dir() -> Path:
    """huggingface-hub's own download cache, kept inside llid's."""
    return cache_dir() / "hub"


def onnx_cache_dir() -> Path:
    """ONNX exports made on first use of `--backend onnx`, keyed by the weights' sha256."""
    return cache_dir() / "onnx"


def default_weights_path(name: str) -> Path | None:
    """The model's shipped weights, else a copy pulled with `llid models pull`, else the shipped path
    (which does not exist: the caller says how to get weights). None for models without weights."""
    from llid_cli.models import get_spec

    spec = get_spec(name)
    if spec.weights is None:
        return None
    shipped = weights_dir() / spec.weights
    pulled = pulled_dir() / spec.weights
    return pulled if not shipped.is_file() and pulled.is_file() else shipped


def _packaged(installed_name: str, checkout_name: str) -> Path:
    package = Path(__file__).resolve().parents[1]  # llid_cli/
    installed = package / installed_name
    return installed if installed.is_dir() else package.parent / checkout_name
