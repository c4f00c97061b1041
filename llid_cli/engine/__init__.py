"""Running models on photos: backends (PyTorch, ONNX Runtime) and tiling."""

from __future__ import annotations

from pathlib import Path

from llid_cli.errors import ModelError


def default_weights_path(name: str) -> Path | None:
    from llid_cli.models import get_spec
    from llid_cli.models.weights import weights_dir

    spec = get_spec(name)
    return None if spec.weights is None else weights_dir() / spec.weights


def build_model_runner(name: str, weights: str | None, device: str, clahe_settings):
    """An HxWx3 float32 -> HxWx3 float32 function running zoo model `name` (with its pre-step)."""
    from llid_cli.classical import enhance_clahe
    from llid_cli.engine.torch_backend import TorchRunner
    from llid_cli.models import get_spec
    from llid_cli.models.weights import load_model

    spec = get_spec(name)
    path = Path(weights) if weights else default_weights_path(name)
    if path is None or not path.is_file():
        raise ModelError(
            f"model '{name}' has no trained weights here (looked for {path}); "
            "train them with `llid train` and pass --weights FILE"
        )
    model, _ = load_model(path, architecture=name)
    runner = TorchRunner(model, device)
    if spec.pre == "clahe":
        return lambda rgb: runner(enhance_clahe(rgb, clahe_settings))
    return runner
