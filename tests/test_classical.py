"""The classical path: CLAHE on LAB L, then linear brightening."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import gradient_rgb

from llid_cli.classical import (
    ClaheSettings,
    auto_gain,
    clahe_lab,
    enhance_clahe,
    mean_luma,
)
from llid_cli.io import Image, read_image, write_image
from llid_cli.io.image import from_float, to_float
from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline


def _dark(dtype=np.uint8):
    return Image(pixels=gradient_rgb(64, 96, dtype=dtype, seed=7, dark=0.12))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_mean_luma_moves_toward_target(dtype):
    image = _dark(dtype)
    before = mean_luma(image.to_float_rgb())
    out = Pipeline(EnhanceOptions(model="clahe")).enhance_image(image)
    after = mean_luma(out.to_float_rgb())
    assert out.pixels.dtype == dtype
    assert before < 0.15
    assert abs(after - 0.45) < abs(before - 0.45) / 2


def test_16bit_output_uses_more_than_256_levels(tmp_path):
    out = Pipeline().enhance_image(_dark(np.uint16))
    back = read_image(write_image(out, tmp_path / "o.png"))
    assert back.pixels.dtype == np.uint16
    assert len(np.unique(back.pixels)) > 1024


def test_fixed_gain_is_linear():
    rgb = np.full((16, 16, 3), 0.1, np.float32)
    out = enhance_clahe(rgb, ClaheSettings(gain=2.0))
    np.testing.assert_allclose(out, np.clip(clahe_lab(rgb) * 2.0, 0, 1), atol=1e-6)


def test_auto_gain_never_darkens_and_is_capped():
    bright = np.full((8, 8, 3), 0.9, np.float32)
    assert auto_gain(bright, 0.45, 8.0) == 1.0
    black = np.full((8, 8, 3), 0.001, np.float32)
    assert auto_gain(black, 0.45, 8.0) == 8.0


def test_clahe_increases_local_contrast_and_keeps_gray_neutral():
    rng = np.random.default_rng(0)
    flat = (0.2 + 0.02 * rng.random((64, 64))).astype(np.float32)
    gray = np.repeat(flat[:, :, None], 3, axis=2)
    out = clahe_lab(gray)
    assert out[:, :, 0].std() > 2 * gray[:, :, 0].std()
    assert np.abs(out[:, :, 0] - out[:, :, 2]).max() < 0.02  # no colour cast on a gray image


def test_gray_image_stays_gray():
    image = Image(pixels=gradient_rgb(32, 32, seed=2, dark=0.2)[:, :, 0].copy())
    out = Pipeline().enhance_image(image)
    assert out.is_gray and out.pixels.shape == (32, 32)
    assert out.pixels.mean() > image.pixels.mean()


def test_pre_clahe_then_classical_is_applied_twice_in_order():
    image = _dark()
    once = Pipeline(EnhanceOptions(model="clahe")).enhance_image(image)
    twice = Pipeline(EnhanceOptions(model="clahe", pre="clahe")).enhance_image(image)
    assert not np.array_equal(once.pixels, twice.pixels)


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError):
        ClaheSettings(clip_limit=0)
    with pytest.raises(ValueError):
        ClaheSettings(target_luma=1.5)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_heavily_clipped_tiles_keep_their_lightness(dtype):
    # A flat grey tile has its whole histogram clipped and handed out again; that mass must land on
    # real L levels. (With the 4096 levels packed into the bottom of the 16-bit histogram, 15/16 of it
    # went above them and this grey came out at 0.03.)
    rng = np.random.default_rng(1)
    grey = np.repeat((0.2 + 0.02 * rng.random((96, 96)))[:, :, None], 3, axis=2).astype(np.float32)
    pixels = from_float(grey, dtype)
    out = to_float(enhance_clahe(pixels, ClaheSettings(gain=1.0)))
    assert abs(float(out.mean()) - float(grey.mean())) < 0.03
