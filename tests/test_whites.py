"""Whites stay white: a high-key photo is not darkened, and near-white comes out no darker or
more tinted than the camera recorded it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image as PILImage

from llid_cli.cli import cli
from llid_cli.io import read_image
from llid_cli.metrics import psnr
from llid_cli.rendering.whites import keep_whites, white_pixels


def high_key(height: int = 160, width: int = 224) -> np.ndarray:
    """Flowers on white paper: a white ground at 250-254 with a red and a green blossom and a
    grey stem, a little sensor noise; most of the photo is white."""
    rng = np.random.default_rng(3)
    rows, cols = np.mgrid[:height, :width]
    photo = np.full((height, width, 3), 252.0) + rng.normal(0, 1.0, (height, width, 3))
    photo[(rows - 60) ** 2 + (cols - 70) ** 2 < 28**2] = (200, 40, 60)
    photo[(rows - 90) ** 2 + (cols - 150) ** 2 < 22**2] = (70, 160, 60)
    photo[100:150, 68:72] = (90, 110, 80)
    return np.clip(photo, 0, 255).astype(np.uint8)


def test_near_white_is_raised_to_the_input_and_nothing_else_moves():
    original = np.array([[(250, 250, 250), (240, 244, 246), (120, 90, 60), (250, 250, 250), (210, 230, 255)]], np.uint8)
    enhanced = np.array([[(215, 216, 219), (236, 250, 240), (140, 100, 70), (255, 252, 254), (180, 190, 200)]], np.uint8)
    out = keep_whites(original, enhanced)
    assert out[0, 0].tolist() == [250, 250, 250]  # darkened and tinted white: back to the input
    assert out[0, 1].tolist() == [240, 250, 246]  # each channel raised only where it came out lower
    assert out[0, 2].tolist() == [140, 100, 70]  # not white: the model's, bit for bit
    assert out[0, 3].tolist() == [255, 252, 254]  # brighter than the input: kept
    assert out[0, 4].tolist() == [180, 190, 200]  # a pale blue (smallest channel 0.82) is not white
    assert original[0, 0].tolist() == [250, 250, 250]  # inputs untouched


def test_the_ramp_is_smooth_and_eight_and_sixteen_bit_agree():
    levels = np.arange(200, 256, dtype=np.uint8)
    grey = np.repeat(levels[None, :, None], 3, axis=2)
    where, weights = white_pixels(grey)
    full = np.zeros(levels.size, np.float32)
    full[where] = weights
    assert full[levels <= 224].max() == 0 and full[levels >= 240].min() == 1
    assert np.all(np.diff(full) >= 0) and np.abs(np.diff(full)).max() < 0.2  # no step where it starts
    dark = (grey // 2).astype(np.uint8)
    out8 = keep_whites(grey, dark)
    out16 = keep_whites(grey.astype(np.uint16) * 257, dark.astype(np.uint16) * 257)
    assert np.abs(out16 / 257.0 - out8).max() <= 1.0


def test_a_requested_darker_exposure_still_darkens_whites():
    white = np.full((4, 4, 3), 250, np.uint8)
    darker = np.full((4, 4, 3), 180, np.uint8)  # what the model made of it at --exposure -1
    assert keep_whites(white, darker)[0, 0, 0] == 250
    floor = keep_whites(white, darker, darker_by=-1.0)[0, 0, 0]
    assert 180 <= floor < 200  # half the light of 250 is about 184 in sRGB: held at that, no higher


@pytest.mark.parametrize("model", ["lynx", "lynx-fast"])
def test_a_high_key_photo_comes_back_white(tmp_path: Path, model: str):
    photo = high_key()
    source, target = tmp_path / "flowers.png", tmp_path / "out.png"
    PILImage.fromarray(photo).save(source)
    result = CliRunner().invoke(cli, ["enhance", str(source), "-o", str(target), "--model", model])
    assert result.exit_code == 0, result.output
    out = read_image(target).pixels
    white = (photo >= 240).all(axis=2)
    assert out[white].mean() >= 250
    assert psnr(out, photo) >= 30
