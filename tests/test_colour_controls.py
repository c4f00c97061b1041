"""`--white-balance`, `--saturation`, `--black-colour`: a photographer's colour controls, after any model."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image as PILImage

from llid_cli.cli import cli
from llid_cli.io import Image, read_image
from llid_cli.models.controls import Controls
from llid_cli.rendering.colour import (
    apply_black_colour,
    apply_saturation,
    apply_white_balance,
    parse_white_balance,
    planckian_rgb,
    white_balance_gains,
)
from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline
from llid_cli.rendering.tone import LINEAR_LUMA, srgb_to_linear


def scene(tint=(1.0, 1.0, 1.0), level: float = 0.5, seed: int = 0, size=(60, 80)) -> np.ndarray:
    """A textured, colourful scene (8-bit) under a light of colour `tint` (linear gains)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[: size[0], : size[1]] / np.array(size).reshape(2, 1, 1)
    linear = np.stack([0.3 + 0.4 * cols, 0.3 + 0.4 * rows, 0.6 - 0.3 * cols], axis=-1) * level
    linear = linear * np.asarray(tint) + rng.normal(0, 0.004, linear.shape)
    encoded = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.clip(linear, 0, 1) ** (1 / 2.4) - 0.055)
    return np.clip(np.rint(encoded * 255), 0, 255).astype(np.uint8)


def balance(pixels: np.ndarray) -> np.ndarray:
    """The mean of each pixel's colour over its luminance (every pixel counted once), luminance 1."""
    linear = srgb_to_linear(pixels / 255.0).reshape(-1, 3)
    mean = (linear / np.maximum(linear @ LINEAR_LUMA, 1e-6)[:, None]).mean(axis=0)
    return mean / float(mean @ LINEAR_LUMA)


def luminance(pixels: np.ndarray) -> float:
    return float((srgb_to_linear(pixels / 255.0) @ LINEAR_LUMA).mean())


TUNGSTEN = tuple(planckian_rgb(3200) / planckian_rgb(6504))  # a scene lit by tungsten, as daylight film sees it


def test_keep_gives_the_output_the_inputs_own_balance():
    warm_input = scene(TUNGSTEN, level=0.08)  # dark and warm, as the camera recorded it
    neutralised = scene(level=0.45)  # what a model that neutralises would make of it
    kept = apply_white_balance(warm_input, neutralised, "keep")
    assert np.abs(balance(kept) - balance(warm_input)).max() < 0.03
    assert np.abs(balance(neutralised) - balance(warm_input)).max() > 0.3  # there was a difference to undo
    assert luminance(kept) == pytest.approx(luminance(neutralised), rel=0.03)  # the exposure stays


def test_auto_is_grey_world_and_a_temperature_corrects_that_light():
    fluorescent = scene(tuple(planckian_rgb(4300) / planckian_rgb(6504)), level=0.45)
    auto = apply_white_balance(fluorescent, fluorescent, "auto")
    assert np.abs(balance(auto) - 1.0).max() < 0.07  # grey over the pixels it measures (not the darkest)
    warm = scene(TUNGSTEN, level=0.45)
    neutral_mean = balance(scene(level=0.45))
    # Told the light was 3200 K, the warm rendering comes back to the scene's own colours.
    corrected = apply_white_balance(warm, warm, "3200")
    assert np.abs(balance(corrected) - neutral_mean).max() < 0.05
    assert np.abs(balance(warm) - neutral_mean).max() > 0.3
    # Daylight is no correction at all.
    assert np.allclose(white_balance_gains(warm, warm, "6504"), 1.0, atol=0.01)


def test_grey_world_does_not_grey_a_photo_of_one_colour():
    """A red wall is red: the gains are bounded, so it stays clearly red."""
    red = np.zeros((40, 40, 3), np.uint8)
    red[...] = (200, 40, 30)
    out = apply_white_balance(red, red, "auto")
    r, g, b = out.reshape(-1, 3).mean(axis=0)
    assert r > g + 60 and r > b + 60


def test_model_and_saturation_one_leave_the_pixels_alone():
    photo = scene(TUNGSTEN)
    assert apply_white_balance(photo, photo, "model") is photo
    assert apply_saturation(photo, 1.0) is photo


def test_saturation_scales_colourfulness_and_keeps_luminance():
    photo = scene(level=0.5)
    grey = apply_saturation(photo, 0.0)
    assert np.abs(grey.astype(int) - grey[..., :1].astype(int)).max() <= 1
    richer = apply_saturation(photo, 1.8)

    def spread(p):
        linear = srgb_to_linear(p / 255.0)
        return float(np.abs(linear - (linear @ LINEAR_LUMA)[..., None]).mean())

    assert spread(richer) > 1.5 * spread(photo)
    for out in (grey, richer):
        assert luminance(out) == pytest.approx(luminance(photo), rel=0.03)
    # A colour already at the gamut's edge is not pushed past it (its hue would turn).
    edge = np.array([[[250, 20, 10]]], np.uint8)
    pushed = apply_saturation(edge, 2.0)[0, 0].astype(int)
    assert pushed[0] >= 245 and pushed[1] <= 20 and pushed[2] <= 10


def test_sixteen_bit_photos_stay_sixteen_bit():
    photo = scene(TUNGSTEN).astype(np.uint16) * 257
    assert apply_white_balance(photo, photo, "auto").dtype == np.uint16
    assert apply_saturation(photo, 1.3).dtype == np.uint16


def night_with_black() -> np.ndarray:
    """A dark photo: its left half black (channels 0-1, as a camera rounds a night sky), its
    right half a dim blue-green wall (levels 5-20) with grain."""
    rng = np.random.default_rng(7)
    photo = np.zeros((64, 96, 3), np.uint8)
    photo[:, :48] = rng.integers(0, 2, (64, 48, 3))
    photo[:, :48, 2] = 0  # (1, 1, 0) at most: "yellow" from rounding alone
    wall = np.array([5.0, 12.0, 18.0]) + rng.normal(0, 1.0, (64, 48, 3))
    photo[:, 48:] = np.clip(np.rint(wall), 0, 255).astype(np.uint8)
    return photo


@pytest.mark.parametrize("model", ["lynx-fast", "clahe"])
def test_black_colour_greys_what_was_black_and_leaves_real_colour(model):
    """`--black-colour 0`: where the input was black the output is grey at the luminance the model
    gave it; the dim wall, which holds a colour, comes out as rendered; 0.5 is in between; 1 is
    the model's own."""
    image = Image(pixels=night_with_black())
    plain = Pipeline(EnhanceOptions(model=model)).enhance_image(image).pixels
    grey = Pipeline(EnhanceOptions(model=model, controls=Controls(black_colour=0.0))).enhance_image(image).pixels
    half = Pipeline(EnhanceOptions(model=model, controls=Controls(black_colour=0.5))).enhance_image(image).pixels
    black, wall = (slice(None), slice(2, 44)), (slice(None), slice(52, 96))

    def colourfulness(pixels):
        linear = srgb_to_linear(pixels / 255.0)
        return float(np.abs(linear - (linear @ LINEAR_LUMA)[..., None]).mean())

    assert colourfulness(plain[black]) > 0.001  # the model painted a colour into black
    assert colourfulness(grey[black]) < 0.25 * colourfulness(plain[black])
    assert colourfulness(grey[black]) < colourfulness(half[black]) < colourfulness(plain[black])
    assert luminance(grey[black]) == pytest.approx(luminance(plain[black]), rel=0.03)
    assert np.array_equal(grey[wall], plain[wall])
    unchanged = Pipeline(EnhanceOptions(model=model, controls=Controls(black_colour=1.0))).enhance_image(image).pixels
    assert np.array_equal(unchanged, plain)


def test_black_colour_reads_levels_in_any_depth():
    """A 16-bit photo is judged in the same 8-bit levels, and keeps its depth."""
    photo = night_with_black()
    painted = np.full(photo.shape, 0.2, np.float32) * np.float32([1.2, 1.0, 0.5])
    eight = apply_black_colour(photo, (painted * 255).astype(np.uint8), 0.0)
    sixteen = apply_black_colour(photo.astype(np.uint16) * 257, (painted * 65535).astype(np.uint16), 0.0)
    assert sixteen.dtype == np.uint16
    assert np.abs(sixteen.astype(np.int64) // 257 - eight.astype(np.int64)).max() <= 1


@pytest.mark.parametrize("text, expected", [("keep", "keep"), ("AUTO", "auto"), ("3200", "3200"), ("5600K", "5600"),
                                            ("model", "model")])
def test_white_balance_values(text, expected):
    assert parse_white_balance(text) == expected


@pytest.mark.parametrize("text", ["warm", "900", "40000", ""])
def test_white_balance_refusals(text):
    with pytest.raises(ValueError):
        parse_white_balance(text)


@pytest.mark.parametrize("model", ["lynx-fast", "clahe"])
def test_every_model_takes_the_colour_controls(model):
    """The controls are rendered after the model: the same for a network and the classical path."""
    warm = scene(TUNGSTEN, level=0.06, seed=3)
    image = Image(pixels=warm)
    plain = Pipeline(EnhanceOptions(model=model)).enhance_image(image).pixels
    kept = Pipeline(EnhanceOptions(model=model, white_balance="keep")).enhance_image(image).pixels
    muted = Pipeline(EnhanceOptions(model=model, controls=Controls(saturation=0.0))).enhance_image(image).pixels
    assert np.abs(balance(kept) - balance(warm)).max() <= np.abs(balance(plain) - balance(warm)).max() + 0.01
    assert np.abs(balance(kept) - balance(warm)).max() < 0.05
    assert np.abs(muted.astype(int) - muted[..., 1:2].astype(int)).max() <= 2
    assert luminance(muted) == pytest.approx(luminance(plain), rel=0.05)


def test_the_command_line_and_the_batch_record(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    PILImage.fromarray(scene(TUNGSTEN, level=0.06)).save(folder / "a.png")
    runner = CliRunner()
    out = tmp_path / "out"
    done = runner.invoke(cli, ["batch", str(folder), "-o", str(out), "--model", "lynx-fast",
                               "--white-balance", "3200", "--saturation", "1.2", "--black-colour", "0.5", "--quiet"])
    assert done.exit_code == 0, done.output
    assert read_image(out / "a.png").pixels.shape == (60, 80, 3)
    again = runner.invoke(cli, ["batch", str(folder), "-o", str(out), "--model", "lynx-fast", "--quiet"])
    message = " ".join(again.output.split())
    assert again.exit_code == 2
    assert "--saturation 1.2 there, default now" in message and "--white-balance 3200 there, model now" in message
    assert "--black-colour 0.5 there, default now" in message
    refused = runner.invoke(cli, ["enhance", str(folder / "a.png"), "-o", str(tmp_path / "x.png"),
                                  "--white-balance", "candle"])
    assert refused.exit_code == 2 and "kelvin" in refused.output
    refused = runner.invoke(cli, ["enhance", str(folder / "a.png"), "-o", str(tmp_path / "x.png"), "--saturation", "3"])
    assert refused.exit_code == 2 and "--saturation" in refused.output
