"""`--light-colours`: coloured lights the camera exposed well keep their colour when a learned
model brightens the photo around them."""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image as PILImage

from llid_cli.cli import cli
from llid_cli.io import read_image
from llid_cli.rendering.lights import keep_light_colours, light_weights

ORANGE = (240, 150, 10)  # an orange lampshade, well exposed: brightest channel 0.94, saturation 0.96


def hue(rgb) -> float:
    return colorsys.rgb_to_hsv(*(np.asarray(rgb, np.float64) / 255))[0] * 360


def saturation(rgb) -> float:
    return colorsys.rgb_to_hsv(*(np.asarray(rgb, np.float64) / 255))[1]


def dark_room_with_a_lamp(height: int = 160, width: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A dim, noisy room (levels 12-26) with an orange lamp in it; and the lamp's mask."""
    rows, cols = np.mgrid[:height, :width]
    room = np.stack([18 + 8 * cols / width, 16 + 6 * rows / height, 12 + 0 * cols], axis=-1)
    room += np.random.default_rng(0).normal(0, 1.5, room.shape)
    lamp = (rows - 60) ** 2 + (cols - 100) ** 2 < 25**2
    room[lamp] = ORANGE
    return np.clip(room, 0, 255).astype(np.uint8), lamp


def test_a_lit_coloured_pixel_keeps_its_colour_at_the_brightness_the_model_chose():
    original = np.array([[ORANGE, (20, 20, 20), (230, 230, 230), (110, 40, 10)]], np.uint8)
    # What a model does to them: the lamp goes yellow, the rest is brightened or recoloured.
    enhanced = np.array([[(255, 245, 80), (120, 120, 120), (200, 220, 240), (200, 120, 60)]], np.uint8)
    out = keep_light_colours(original, enhanced)
    lamp = out[0, 0]
    assert lamp.max() == 255  # the model's brightness (its brightest channel)...
    assert abs(hue(lamp) - hue(ORANGE)) < 1.0  # ... in the lamp's own colour
    assert saturation(lamp) == pytest.approx(saturation(ORANGE), abs=0.02)
    assert abs(hue(enhanced[0, 0]) - hue(ORANGE)) > 15  # (the model's had moved 20 degrees)
    # A dark pixel, a bright grey one and a dim coloured one are the model's, bit for bit.
    np.testing.assert_array_equal(out[0, 1:], enhanced[0, 1:])
    np.testing.assert_array_equal(original, np.array([[ORANGE, (20, 20, 20), (230, 230, 230), (110, 40, 10)]], np.uint8))


def test_weights_ramp_in_smoothly_with_brightness_and_saturation():
    levels = np.arange(256, dtype=np.uint8)
    # Orange at every brightness: nothing below half, all above 0.8, monotone, no step between.
    ramp = np.stack([levels, (levels * 0.6).astype(np.uint8), (levels * 0.05).astype(np.uint8)], axis=-1)[None]
    weights = light_weights(ramp)[0]
    assert weights[:128].max() == 0 and weights[205:].min() == pytest.approx(1.0)
    assert np.all(np.diff(weights) >= 0) and np.diff(weights).max() < 0.03
    # Grey to fully coloured at one bright level: nothing under 0.3 saturation, all from 0.6.
    greys = np.stack([np.full(256, 230), 230 - levels * 0.9, 230 - levels * 0.9], axis=-1).astype(np.uint8)[None]
    sat = 1 - greys[0, :, 1] / 230
    weights = light_weights(greys)[0]
    assert weights[sat <= 0.3].max() == 0 and weights[sat >= 0.6].min() == pytest.approx(1.0)
    assert np.diff(weights).max() < 0.05
    # The output follows the weights: where they ramp in, the change from the model's grows smoothly.
    enhanced = np.stack([np.full(256, 255), np.full(256, 245), np.full(256, 80)], axis=-1).astype(np.uint8)[None]
    change = np.abs(keep_light_colours(ramp, enhanced).astype(int) - enhanced).max(axis=2)[0]
    assert change[:128].max() == 0 and np.abs(np.diff(change)).max() <= 6


def test_sixteen_bit_photos_get_the_same_colours():
    original, _ = dark_room_with_a_lamp(40, 50)
    enhanced = np.clip(original.astype(int) * 4 + 20, 0, 255).astype(np.uint8)
    eight = keep_light_colours(original, enhanced)
    sixteen = keep_light_colours(original.astype(np.uint16) * 257, enhanced.astype(np.uint16) * 257)
    assert sixteen.dtype == np.uint16
    assert np.abs(sixteen / 257 - eight).max() <= 0.51


def test_a_photo_without_lights_is_returned_as_the_model_rendered_it():
    original = np.full((20, 30, 3), 40, np.uint8)
    enhanced = np.full((20, 30, 3), 120, np.uint8)
    assert keep_light_colours(original, enhanced) is enhanced


def test_the_flag_keeps_the_lamp_orange_where_lynx_turns_it_yellow(tmp_path: Path):
    pixels, lamp = dark_room_with_a_lamp()
    source = tmp_path / "room.png"
    PILImage.fromarray(pixels).save(source)
    runner = CliRunner()
    for name, flags in (("plain.png", []), ("kept.png", ["--light-colours"])):
        result = runner.invoke(cli, ["enhance", str(source), "-o", str(tmp_path / name), "--model", "lynx", *flags])
        assert result.exit_code == 0, result.output
    plain, kept = (read_image(tmp_path / n).pixels for n in ("plain.png", "kept.png"))
    core = np.zeros_like(lamp)
    core[45:75, 85:115] = True  # inside the lamp, away from its rim
    assert lamp[core].all()
    plain_lamp, kept_lamp = plain[core].mean(axis=0), kept[core].mean(axis=0)
    assert hue(plain_lamp) - hue(ORANGE) > 8  # lynx pales it towards yellow...
    assert abs(hue(kept_lamp) - hue(ORANGE)) < 2  # ... the flag keeps it orange
    assert saturation(kept_lamp) > saturation(plain_lamp) + 0.1
    # The room around it is lynx's own, and was brightened.
    unlit = light_weights(pixels) == 0
    np.testing.assert_array_equal(kept[unlit], plain[unlit])
    assert kept[~lamp].mean() > 3 * pixels[~lamp].mean()


def test_the_classical_path_refuses_the_flag(tmp_path: Path):
    source = tmp_path / "room.png"
    PILImage.fromarray(dark_room_with_a_lamp(40, 50)[0]).save(source)
    result = CliRunner().invoke(cli, ["enhance", str(source), "-o", str(tmp_path / "o.png"), "--model", "clahe",
                                      "--light-colours"])
    assert result.exit_code == 1
    assert "--light-colours is for learned models" in result.output
    assert not (tmp_path / "o.png").exists()
