"""The night look: photos of dim scenes (from their EXIF exposure settings) are brightened less."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import DAYLIGHT_EXIF, NIGHT_EXIF, exif_block, gradient_rgb, write_jpeg
from PIL import Image as PILImage

from llid_cli.cli import cli
from llid_cli.io import read_image
from llid_cli.io.metadata import (
    ExposureSettings,
    exposure_settings,
    exposure_settings_from,
)
from llid_cli.rendering.night import METERED, MOST, night_look, night_shift
from llid_cli.rendering.tone import LINEAR_LUMA, srgb_to_linear


def light(path: Path) -> float:
    pixels = read_image(path).pixels.astype(np.float32) / 255.0
    return float((srgb_to_linear(pixels) @ LINEAR_LUMA).mean())


def test_exposure_settings_are_read_from_exif_and_bounded():
    settings = exposure_settings(exif_block(0.25, 2.8, 100))
    assert settings == ExposureSettings(0.25, 2.8, 100.0)
    assert settings.ev100 == pytest.approx(math.log2(2.8**2 / 0.25))
    assert exposure_settings(exif_block(0.25, 2.8, 400)).ev100 == pytest.approx(settings.ev100 - 2)
    # What a camera cannot have recorded, or did not record, gives no settings (and no failure).
    for broken in (exif_block(0.25, 2.8), exif_block(0.0, 2.8, 100), exif_block(0.25, 0.0, 100),
                   exif_block(0.25, 2.8, 10**9), exif_block(1e5, 2.8, 100), b"Exif\x00\x00II*\x00garbage", b"", None):
        assert exposure_settings(broken) is None


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif", ".webp"])
def test_readers_take_the_settings_from_every_format_that_records_them(tmp_path, suffix):
    from PIL import Image as PILImage

    path = tmp_path / f"night{suffix}"
    PILImage.fromarray(gradient_rgb(20, 30)).save(path, exif=NIGHT_EXIF)
    assert read_image(path).exposure == ExposureSettings(0.25, 2.8, 800.0)
    PILImage.fromarray(gradient_rgb(20, 30)).save(path)
    assert read_image(path).exposure is None


def test_tag_values_are_read_as_readers_give_them():
    # TIFF rationals as (numerator, denominator) pairs, ISO as a list: 1/500 s, f/2.8, ISO 100.
    assert exposure_settings_from((1, 500), (28, 10), [100]) == ExposureSettings(0.002, 2.8, 100.0)
    assert exposure_settings_from((1, 0), 2.8, 100) is None
    assert exposure_settings_from("fast", 2.8, 100) is None
    assert exposure_settings_from(float("nan"), 2.8, 100) is None


def test_night_shift_grows_as_the_scene_darkens_and_is_bounded():
    assert night_shift(None) == 0.0 and night_shift(12.0) == 0.0 and night_shift(6.0) == 0.0
    assert night_shift(5.0) == pytest.approx(-0.5)
    assert night_shift(3.0) == pytest.approx(-MOST) == night_shift(-6.0)
    shifts = [night_shift(ev) for ev in np.linspace(-4, 10, 57)]
    assert all(a <= b for a, b in zip(shifts, shifts[1:]))


@pytest.mark.parametrize("model,backend", [("lynx", "torch"), ("lynx", "onnx"), ("resse", "auto")])
def test_a_night_photo_is_brightened_less_and_a_daylight_one_as_before(tmp_path, model, backend):
    dark = gradient_rgb(96, 128, seed=5, dark=0.12)
    # The night photo first: the photos after it must not inherit its exposure.
    sources = [write_jpeg(tmp_path / name, dark, exif=block)
               for name, block in (("night.jpg", NIGHT_EXIF), ("day.jpg", DAYLIGHT_EXIF), ("plain.jpg", None))]
    runner = CliRunner()
    common = ["--model", model, "--backend", backend, "--format", "png"]
    result = runner.invoke(cli, ["enhance", *map(str, sources), "-o", str(tmp_path / "on"), "--json", *common])
    assert result.exit_code == 0, result.output
    ev = {Path(f["input"]).stem: f["night_look_ev"] for f in json.loads(result.stdout)["files"]}
    assert ev == {"night": -MOST, "day": 0.0, "plain": 0.0}
    assert "night look -1.5 EV" in result.stderr
    on = {stem: read_image(tmp_path / "on" / f"{stem}.png").pixels for stem in ev}
    assert np.array_equal(on["day"], on["plain"])  # daylight settings change nothing
    # 1.5 stops less light, within 15 % (as --exposure -1.5 renders it).
    ratio = light(tmp_path / "on" / "night.png") / light(tmp_path / "on" / "plain.png")
    assert 2**-MOST * 0.85 <= ratio <= 2**-MOST * 1.15
    off = runner.invoke(cli, ["enhance", str(sources[0]), "-o", str(tmp_path / "off.png"), "--no-night-look", *common])
    assert off.exit_code == 0, off.output
    assert np.array_equal(read_image(tmp_path / "off.png").pixels, on["plain"])
    # --night-look: the photo without settings judged from the picture (this dark, a dim scene);
    # the daylight one still by its settings.
    asked = runner.invoke(cli, ["enhance", str(sources[2]), str(sources[1]), "-o", str(tmp_path / "asked"),
                                "--night-look", "--json", *common])
    assert [f["night_look_ev"] for f in json.loads(asked.stdout)["files"]] == [-MOST, 0.0]
    assert np.array_equal(read_image(tmp_path / "asked" / "plain.png").pixels, on["night"])


def test_a_photo_that_needs_no_help_is_left_as_it_would_be(tmp_path):
    bright = gradient_rgb(96, 128, seed=2)
    sources = [write_jpeg(tmp_path / "night.jpg", bright, exif=NIGHT_EXIF), write_jpeg(tmp_path / "plain.jpg", bright)]
    result = CliRunner().invoke(cli, ["enhance", *map(str, sources), "-o", str(tmp_path / "out"), "--json",
                                      "--format", "png"])
    assert result.exit_code == 0, result.output
    assert [f["night_look_ev"] for f in json.loads(result.stdout)["files"]] == [0.0, 0.0]
    assert np.array_equal(read_image(tmp_path / "out" / "night.png").pixels,
                          read_image(tmp_path / "out" / "plain.png").pixels)


def test_the_night_look_never_darkens_a_photo(tmp_path):
    # A photo just dark enough for lynx to brighten it a little (its keep_exposure fades the
    # brightening out, as the night look fades itself): the night look's shift would take it
    # below its own light, so it is enhanced again without it.
    source = write_jpeg(tmp_path / "night.jpg", gradient_rgb(96, 128, seed=3, dark=0.56), exif=NIGHT_EXIF)
    shift = night_look(read_image(source))
    assert shift < 0
    runner = CliRunner()
    shifted = runner.invoke(cli, ["enhance", str(source), "-o", str(tmp_path / "shifted.png"), "--no-night-look",
                                  "--exposure", f"{shift:.6f}"])
    assert shifted.exit_code == 0, shifted.output
    assert light(tmp_path / "shifted.png") < light(source)  # what the shift would have made
    result = runner.invoke(cli, ["enhance", str(source), "-o", str(tmp_path / "on.png"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"][0]["night_look_ev"] == 0.0
    off = runner.invoke(cli, ["enhance", str(source), "-o", str(tmp_path / "off.png"), "--no-night-look"])
    assert off.exit_code == 0, off.output
    assert np.array_equal(read_image(tmp_path / "on.png").pixels, read_image(tmp_path / "off.png").pixels)
    assert light(tmp_path / "on.png") > light(source)


def test_batch_says_how_many_photos_took_the_night_look(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    dark = gradient_rgb(64, 80, seed=4, dark=0.12)
    write_jpeg(folder / "a.jpg", dark, exif=NIGHT_EXIF)
    write_jpeg(folder / "b.jpg", dark)
    result = CliRunner().invoke(cli, ["batch", str(folder), "-o", str(tmp_path / "out"), "--model", "lynx-fast"])
    assert result.exit_code == 0, result.output
    assert "night look: 1 photo of a dim scene brightened less" in result.output


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_without_exposure_settings_the_picture_decides_when_asked(tmp_path, suffix):
    """A photo with no settings has no night look by default; with --night-look ("on") it is taken
    as shot at NO_SETTINGS_EV100: the darker the frame, the dimmer the scene; a bright one needs
    no help, so no look."""
    from llid_cli.rendering.night import NO_SETTINGS_EV100, _needs_help, sample
    from llid_cli.rendering.tone import exposure_of

    shifts = []
    for dark in (0.12, 0.3, 0.45, 1.0):
        path = tmp_path / f"p{dark}{suffix}"
        PILImage.fromarray(gradient_rgb(64, 80, seed=4, dark=dark)).save(path)
        image = read_image(path)
        assert image.exposure is None
        assert night_look(image) == 0.0 and night_look(image, "off") == 0.0
        measured = sample(image.pixels)
        scene = NO_SETTINGS_EV100 + exposure_of(measured) - METERED
        shifts.append(night_look(image, "on"))
        assert shifts[-1] == pytest.approx(night_shift(scene) * _needs_help(measured))
    assert shifts[0] == -MOST and shifts[-1] == 0.0
    assert shifts == sorted(shifts)  # darker frames, dimmer scenes
