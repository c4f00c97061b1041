"""Highlights the camera did not clip are not clipped by the enhancer: lynx's highlight shoulder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llid_cli.engine.runner import EngineOptions, build_model_runner
from llid_cli.models import get_spec
from llid_cli.models.weights import save_weights

LANDING = 0.97


def lit_scene() -> np.ndarray:
    """A dark photo with a lit wall (a textured ramp up to 0.9, never clipped) and a lamp the
    camera did clip (255)."""
    rng = np.random.default_rng(0)
    pixels = np.full((96, 160, 3), 20, np.uint8)
    ramp = np.linspace(80, 230, 96)[None, :, None] + rng.integers(-6, 7, (48, 96, 1))
    pixels[24:72, 32:128] = np.clip(ramp, 0, 255).astype(np.uint8)
    pixels[8:16, 140:150] = 255
    return pixels


def overshooting_lynx(highlights):
    """A tiny lynx whose residual adds 0.4 everywhere: its lit wall goes past white, as the shipped
    models' does on night photos brightened by several stops."""
    torch.manual_seed(0)
    model = get_spec("lynx").build("tiny", highlights=highlights).eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.fill_(0.4)
    return model


def run(model, pixels: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(pixels.astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        out = model(x)
    return (out[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def test_lit_areas_roll_off_under_white_and_keep_their_texture():
    pixels = lit_scene()
    wall = (slice(24, 72), slice(32, 128))
    clamped, rolled = run(overshooting_lynx(None), pixels), run(overshooting_lynx((0.8, LANDING)), pixels)
    assert (clamped[wall] >= 250).mean() > 0.3  # without the shoulder a third of the wall is flat white
    # Its brightest 8x8 block lands at LANDING (a pixel above its block's mean a little higher).
    assert round(LANDING * 255) - 2 <= rolled[wall].max() < 250
    # Its texture survives: brighter input stays brighter (rank correlation along the ramp) ...
    column = lambda a: a[wall].astype(float).mean(axis=(0, 2))  # noqa: E731
    assert np.corrcoef(np.argsort(np.argsort(column(pixels))), np.argsort(np.argsort(column(rolled))))[0, 1] > 0.95
    assert len(np.unique(rolled[wall][..., 1])) > 30
    # ... the camera's clipped lamp is white either way, and what lay below the knee is untouched.
    assert rolled[8:16, 140:150].min() >= 250
    below = clamped.astype(int) < 0.8 * 255 - 1
    assert np.abs(rolled.astype(int) - clamped.astype(int))[below].max() <= 1


def test_a_photo_that_stays_under_white_is_returned_exactly_and_training_sees_no_shoulder():
    dim = (lit_scene() * 0.5).astype(np.uint8)  # the wall lands under white even with +0.4
    assert np.array_equal(run(overshooting_lynx((0.8, LANDING)), dim), run(overshooting_lynx(None), dim))
    model = overshooting_lynx((0.8, LANDING)).train()
    assert (run(model, lit_scene()) >= 250).mean() > 0.1  # the loss sees the network's own output


def test_the_shoulder_is_measured_on_the_whole_photo_so_tiles_agree(tmp_path):
    """Its top value is a global statistic: tiles replay the whole photo's, on both runtimes."""
    model = overshooting_lynx((0.8, LANDING))
    args = {**get_spec("lynx").presets["tiny"], "highlights": (0.8, LANDING)}
    path = tmp_path / "lynx.safetensors"
    save_weights(model, path, "lynx", args)
    pixels = lit_scene()
    whole = build_model_runner("lynx", str(path), EngineOptions(tile=1024))(pixels)
    assert np.array_equal(whole, run(model, pixels))
    for backend in ("torch", "onnx"):
        runner = build_model_runner("lynx", str(path), EngineOptions(backend=backend, tile=64, overlap=16))
        tiled = runner(pixels)
        assert runner.tiler.stats.tiles > 1
        # Per-tile top values would compress each tile's part of the wall differently (7 levels apart).
        assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 2 and tiled[24:72, 32:128].max() < 250


@pytest.mark.parametrize("value", [(0.9, 0.8), (0.0, 0.9), (0.8, 1.2)])
def test_bad_highlight_settings_are_refused(value):
    with pytest.raises(Exception, match="highlights must be"):
        get_spec("lynx").build("tiny", highlights=value)
