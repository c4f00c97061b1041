"""Classical (non-learned) enhancement."""

from llid_cli.classical.clahe import (
    ClaheSettings,
    auto_gain,
    clahe_lab,
    enhance_clahe,
    mean_luma,
    model_pre_step,
)

__all__ = ["ClaheSettings", "auto_gain", "clahe_lab", "enhance_clahe", "mean_luma", "model_pre_step"]
