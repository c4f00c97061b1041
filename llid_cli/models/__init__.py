"""The model zoo: one file per architecture, registered by name.

Architecture modules import torch, so they are loaded on first use of the registry, not when
`llid_cli.models` is imported.
"""

from __future__ import annotations

import importlib

# One entry per architecture file in this package.
ARCHITECTURES = ["classical", "two_stage", "mirnet", "resse", "unet", "clahe_cnn", "lynx"]

_loaded = False


def load_architectures() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in ARCHITECTURES:
        importlib.import_module(f"llid_cli.models.{module}")


from llid_cli.models.registry import ModelSpec, all_specs, get_spec, register  # noqa: E402

__all__ = ["ARCHITECTURES", "ModelSpec", "all_specs", "get_spec", "load_architectures", "register"]
