"""The model zoo: one file per architecture, registered by name.

Architecture modules import torch, so one is imported when a name of its is first resolved, and
only that one: running lynx does not import MIRNet.
"""

from __future__ import annotations

from llid_cli.models.registry import (
                                     ARCHITECTURES,
                                     ModelSpec,
                                     all_specs,
                                     get_spec,
                                     load_architecture,
                                     load_architectures,
                                     register,
)

__all__ = ["ARCHITECTURES", "ModelSpec", "all_specs", "get_spec", "load_architecture", "load_architectures",
           "register"]
