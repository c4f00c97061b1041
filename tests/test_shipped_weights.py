"""Every weights file shipped in weights/ loads, says how it was made, and enhances a photo."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import gradient_rgb

from llid_cli.locations import weights_dir
from llid_cli.models import all_specs
from llid_cli.models.weights import load_model

SHIPPED = sorted(weights_dir().glob("*.safetensors"))


def shipping(path):
    """The one zoo model whose `--model NAME` finds this file."""
    [spec] = [s for s in all_specs() if s.weights == path.name]
    return spec


def test_shipped_files_stay_small():
    for path in SHIPPED:
        assert path.stat().st_size <= 20 * 2**20, path


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_weights_are_trained_and_documented(path):
    model, info = load_model(path)
    assert shipping(path).architecture == info.architecture
    meta = info.metadata
    assert meta["training_config"]["model"]["type"] == info.architecture  # came out of `llid train`
    assert meta["steps"] > 0 and meta["hardware"] and meta["commit"]
    assert np.isfinite(meta["validation"]["psnr"]) and 0 < meta["validation"]["ssim"] <= 1


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_weights_brighten_a_dark_photo(path):
    from llid_cli.io import Image
    from llid_cli.pipeline import EnhanceOptions, Pipeline

    dark = Image(pixels=gradient_rgb(96, 128, seed=3, dark=0.1))
    out = Pipeline(EnhanceOptions(model=shipping(path).name)).enhance_image(dark)
    assert out.pixels.shape == dark.pixels.shape
    assert out.pixels.mean() > 2 * dark.pixels.mean()
