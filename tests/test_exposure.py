"""Exposure as a quantity: `--exposure EV`, `--strength`, the exposure-conditioned lynx, held-out data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import gradient_rgb

from llid_cli.cli import cli
from llid_cli.core.errors import ConfigError
from llid_cli.io import Image, read_image
from llid_cli.models.controls import Controls
from llid_cli.models.locations import weights_dir
from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline
from llid_cli.rendering.tone import (
    LINEAR_LUMA,
    blend,
    exposure_of,
    shift_exposure,
    shift_pixels,
    srgb_to_linear,
)


def light_map(pixels: np.ndarray) -> np.ndarray:
    """Linear luminance of uint8/uint16 RGB, per pixel."""
    top = 65535.0 if pixels.dtype == np.uint16 else 255.0
    return srgb_to_linear(pixels.astype(np.float32) / top) @ LINEAR_LUMA


def light(pixels: np.ndarray) -> float:
    """Mean linear luminance of uint8/uint16 RGB."""
    return float(light_map(pixels).mean())


def dark_photo(dtype=np.uint8) -> np.ndarray:
    return gradient_rgb(96, 128, dtype=dtype, seed=5, dark=0.12)


def test_shift_exposure_doubles_the_light_and_keeps_white_white():
    rgb = dark_photo().astype(np.float32) / 255
    rgb[0, 0] = 1.0
    for ev, factor in ((1, 2.0), (-1, 0.5), (2, 4.0)):
        shifted = shift_exposure(rgb, ev)
        assert exposure_of(shifted) - exposure_of(rgb) == pytest.approx(np.log2(factor), abs=0.05)
        assert shifted.max() <= 1.0 and (ev < 0 or np.all(shifted[0, 0] > 0.99))  # rolled off, not clipped
    mid = np.full((2, 2, 3), 0.5, np.float32)  # 0.21 in linear light: below the knee, exactly doubled
    assert srgb_to_linear(shift_exposure(mid, 1)) == pytest.approx(2 * srgb_to_linear(mid), rel=1e-4)
    bright = np.linspace(0.0, 1.0, 256, dtype=np.float32)[None, :, None].repeat(3, axis=2)
    assert np.all(np.diff(shift_exposure(bright, 2)[0, :, 0]) >= 0) and shift_exposure(bright, 2).max() < 1.0
    assert shift_exposure(rgb, 0) is rgb


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_shift_pixels_in_their_own_dtype_is_the_float_shift_rounded(dtype):
    """8- and 16-bit pixels are shifted through a table of their levels: every value comes out as
    the float shift of it, rounded, whether brighter, darker or by a hair."""
    from llid_cli.io.image import from_float, to_float

    top = np.iinfo(dtype).max
    pixels = np.random.default_rng(2).integers(0, top + 1, (40, 56, 3)).astype(dtype)
    for ev in (1.3, -0.7, 0.004):
        shifted = shift_pixels(pixels, ev)
        assert shifted.dtype == dtype
        assert np.array_equal(shifted, from_float(shift_exposure(to_float(pixels), ev), dtype))
    assert (shift_pixels(pixels, 1.0).astype(np.int64) >= pixels).all()
    assert np.array_equal(shift_pixels(pixels, 0.0), pixels)


def test_blend_mixes_light_not_code_values():
    dark, bright = np.full((4, 4, 3), 0.1, np.float32), np.full((4, 4, 3), 0.8, np.float32)
    half = blend(dark, bright, 0.5)
    assert srgb_to_linear(half) == pytest.approx((srgb_to_linear(dark) + srgb_to_linear(bright)) / 2, abs=1e-4)
    assert half.mean() > 0.45 + 0.05  # the sRGB midpoint would be 0.45; half the light is brighter
    assert blend(dark, bright, 0) is dark and blend(dark, bright, 1) is bright


@pytest.mark.parametrize("model", ["lynx", "resse", "clahe"])
def test_exposure_option_shifts_the_automatic_choice(model):
    image = Image(pixels=dark_photo())
    auto = light(Pipeline(EnhanceOptions(model=model)).enhance_image(image).pixels)
    brighter = light(Pipeline(EnhanceOptions(model=model, controls=Controls(exposure=1))).enhance_image(image).pixels)
    darker = light(Pipeline(EnhanceOptions(model=model, controls=Controls(exposure=-1))).enhance_image(image).pixels)
    # Within 15 % of twice / half the light (the shoulder that keeps highlights unclipped costs a
    # little of the doubling where the output is already bright).
    assert 2 * 0.85 <= brighter / auto <= 2 * 1.15
    assert 0.5 * 0.85 <= darker / auto <= 0.5 * 1.15


def test_lynx_renders_the_exposure_it_is_told():
    from llid_cli.models.layers.blocks import exposure_of as exposure_t
    from llid_cli.models.locations import default_weights_path
    from llid_cli.models.weights import load_model

    model, _ = load_model(default_weights_path("lynx"))
    x = torch.from_numpy(dark_photo().astype(np.float32) / 255).permute(2, 0, 1)[None]
    for told in (-3.5, -2.5, -1.5):
        with torch.no_grad():
            out = model(x, exposure=torch.tensor([told]))
        assert float(exposure_t(out)[0]) == pytest.approx(told, abs=0.25)
    with torch.no_grad():
        auto = model(x)
        shifted = model(x, exposure=model.predicted_exposure + 1)
    assert float(exposure_t(shifted)[0] - exposure_t(auto)[0]) == pytest.approx(1.0, abs=0.2)


@pytest.mark.parametrize("keep", [(0.25, 0.30), None])
def test_lynx_does_not_brighten_a_photo_that_is_already_bright(keep):
    """`keep_exposure`: a head that would brighten every photo by 2 stops brightens only dark
    ones, and a head that would darken darkens none (it greys what was clipped); None turns both
    limits off.
    (The head alone: with `bracket_exposure` a dark photo's exposure is the bracket's.)"""
    from llid_cli.models import get_spec

    torch.manual_seed(0)
    model = get_spec("lynx").build("tiny", keep_exposure=keep, bracket_exposure=None).eval()
    photos = {"dark": gradient_rgb(64, 96, seed=5, dark=0.15), "bright": gradient_rgb(64, 96, seed=5)}
    for name, pixels in photos.items():
        x = torch.from_numpy(pixels.astype(np.float32) / 255).permute(2, 0, 1)[None]
        brightness = float(np.sqrt(light_map(pixels)).mean())
        chosen = {}
        for bias in (0.0, 2.0, -1.0):  # the head's whole output: its change in stops
            with torch.no_grad():
                model.exposure_head[-1].weight.zero_()
                model.exposure_head[-1].bias.fill_(bias)
                model(x)
            chosen[bias] = float(model.predicted_exposure[0])
        assert chosen[-1.0] - chosen[0.0] == pytest.approx(-1.0 if keep is None else 0.0, abs=1e-4)
        if name == "bright" and keep is not None:
            assert brightness > 0.30 and chosen[2.0] == pytest.approx(chosen[0.0], abs=1e-4)
        else:
            assert brightness < 0.25 or keep is None
            assert chosen[2.0] - chosen[0.0] == pytest.approx(2.0, abs=1e-4)


@pytest.mark.parametrize("dtype,suffix", [(np.uint8, ".png"), (np.uint16, ".png"), (np.uint8, ".tif")])
def test_strength_zero_returns_the_input_and_half_is_in_between(tmp_path, dtype, suffix):
    import tifffile
    from PIL import Image as PILImage

    pixels = dark_photo(dtype)
    source = tmp_path / f"in{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(source, pixels)
    elif dtype == np.uint16:
        import cv2

        cv2.imwrite(str(source), pixels[:, :, ::-1])
    else:
        PILImage.fromarray(pixels).save(source)
    runner = CliRunner()
    for strength in ("0", "0.5", "1"):
        result = runner.invoke(cli, ["enhance", str(source), "-o", str(tmp_path / f"s{strength}{suffix}"), "--strength", strength])
        assert result.exit_code == 0, result.output
    zero, half, full = (read_image(tmp_path / f"s{s}{suffix}").pixels for s in ("0", "0.5", "1"))
    assert zero.dtype == dtype and np.array_equal(zero, pixels)
    assert light(half) == pytest.approx((light(pixels) + light(full)) / 2, rel=0.03)


def test_bad_strength_and_exposure_are_usage_errors(tmp_path):
    source = tmp_path / "in.png"
    from PIL import Image as PILImage

    PILImage.fromarray(dark_photo()).save(source)
    for args in (["--strength", "1.5"], ["--exposure", "9"]):
        result = CliRunner().invoke(cli, ["enhance", str(source), "-o", str(tmp_path / "o.png"), *args])
        assert result.exit_code == 2 and "Invalid value" in result.output
    assert not (tmp_path / "o.png").exists()


def test_onnx_backend_renders_the_same_exposure_shift(tmp_path, monkeypatch):
    from llid_cli.engine.runner import EngineOptions, build_model_runner
    from llid_cli.models.controls import Controls

    monkeypatch.setenv("LLID_CACHE_DIR", str(tmp_path / "cache"))
    pixels = dark_photo()
    brighter = Controls(exposure=1.0)
    torch_out = build_model_runner("lynx", None, EngineOptions(tile=1024))(pixels, brighter)
    onnx_out = build_model_runner("lynx", None, EngineOptions(backend="onnx", tile=1024))(pixels, brighter)
    plain = build_model_runner("lynx", None, EngineOptions(backend="onnx", tile=1024))(pixels)
    assert np.abs(torch_out.astype(int) - onnx_out.astype(int)).max() <= 1
    assert light(onnx_out) > 1.7 * light(plain)
    # The shipped graphs take the shift as an input: nothing was exported for it.
    assert not list((tmp_path / "cache").rglob("*.onnx"))
    # Weights without shipped graphs are exported once (capture and replay) for every shift.
    other = tmp_path / "lynx-copy.safetensors"
    shutil.copy(weights_dir() / "lynx.safetensors", other)
    runner = build_model_runner("lynx", str(other), EngineOptions(backend="onnx", tile=1024))
    shifted = [runner(pixels, Controls(exposure=ev)) for ev in (0.0, 1.0)]  # one runner, a shift per call
    for got, shipped in zip(shifted, (plain, onnx_out)):
        assert np.abs(got.astype(int) - shipped.astype(int)).max() <= 1
    assert len(list((tmp_path / "cache" / "onnx").glob("*.onnx"))) == 2


def test_exposure_loss_needs_an_exposure_conditioned_model(tmp_path, tiny_datasets):
    from llid_cli.training.config import parse_config
    from llid_cli.training.loop import Trainer

    raw = {"model": {"type": "resse", "preset": "tiny"},
           "data": {"train": [{"type": "manifest", "root": str(tiny_datasets["manifest"])}], "patch_size": 24,
                    "batch_size": 2, "workers": 0},
           "loss": [{"type": "l1"}, {"type": "exposure", "weight": 0.1}], "train": {"steps": 1, "threads": 1}}
    with pytest.raises(ConfigError, match="estimates exposure"):
        Trainer(parse_config(raw), tmp_path / "run", device="cpu").fit()
    raw["model"]["type"] = "lynx"
    raw["train"]["exposure_jitter"] = 1.0
    trainer = Trainer(parse_config(raw), tmp_path / "run2", device="cpu")
    trainer.fit()
    assert trainer.step == 1 and all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_exclude_holds_scenes_and_photos_out_of_training(tiny_datasets):
    from llid_cli.training.data import clean_images, manifest_pairs

    root = Path(tiny_datasets["manifest"])
    scenes = [s["scene"] for s in json.loads((root / "manifest.json").read_text())]
    kept = manifest_pairs(root, [scenes[0]]).pairs
    assert kept and all(low.parent.name != scenes[0] for low, _ in kept)
    assert len(kept) < len(manifest_pairs(root).pairs)
    clean = Path(tiny_datasets["clean"])
    everything = clean_images(clean)
    first = everything[0].relative_to(clean).as_posix()
    assert first not in [p.relative_to(clean).as_posix() for p in clean_images(clean, [first])]


def test_classical_brightening_options_are_refused_where_they_would_be_ignored(tmp_path):
    from PIL import Image as PILImage

    source = tmp_path / "in.png"
    PILImage.fromarray(dark_photo()).save(source)
    result = CliRunner().invoke(cli, ["enhance", str(source), "-o", str(tmp_path / "o.png"), "--gain", "3"])
    assert result.exit_code == 2 and "--exposure" in result.output
    assert not (tmp_path / "o.png").exists()
    for args in (["--model", "clahe", "--gain", "3"], ["--pre", "clahe", "--model", "lynx", "--target-luma", "0.3"]):
        result = CliRunner().invoke(cli, ["enhance", str(source), "-o", str(tmp_path / "o.png"), "--overwrite", *args])
        assert result.exit_code == 0, result.output


def _scene(scale: float, seed: int = 1, shadows: float = 0.5) -> torch.Tensor:
    """A textured scene in linear light (a share `shadows` of it 16x darker), scaled, as sRGB."""
    from llid_cli.models.layers.blocks import linear_to_srgb

    rng = np.random.default_rng(seed)
    light = rng.uniform(0.05, 1.0, (1, 3, 96, 128)).astype(np.float32)
    light[..., : int(128 * shadows)] /= 16
    return linear_to_srgb(torch.from_numpy(light) * scale)


def test_bracket_fusion_does_not_depend_on_the_photos_own_exposure():
    """The references of one scene share one exposure whatever frame was the input: so does the
    simulated bracket's fusion (it starts from the photo's brightest area), and a scene with more
    shadow fuses darker."""
    from llid_cli.models.layers.blocks import exposure_of
    from llid_cli.models.layers.fusion import BracketFusion

    fusion = BracketFusion()
    with torch.no_grad():
        bright, dark = fusion(_scene(1.0)), fusion(_scene(1 / 8))
        assert float(exposure_of(_scene(1.0)) - exposure_of(_scene(1 / 8))) == pytest.approx(3.0, abs=0.05)
        assert float(bright) == pytest.approx(float(dark), abs=0.05)
        assert float(fusion(_scene(1 / 8, shadows=0.9))) < float(dark) - 0.3
        both = fusion(torch.cat([_scene(1.0), _scene(1 / 8, shadows=0.9)]))  # one photo never leaks into another
        assert torch.allclose(both, torch.cat([bright, fusion(_scene(1 / 8, shadows=0.9))]), atol=1e-5)
        fused = fusion.fuse(_scene(1 / 8))
    assert fused.shape == (1, 3, 128, 128) and 0.3 < float(fused.mean()) < 0.7  # a well-exposed rendering


def test_bracket_fusion_is_stable_on_neutral_areas():
    """A grey scene has no saturation in any frame: Mertens's bare product leaves its weights to
    rounding noise, so a change far below one code value must not move the result."""
    from llid_cli.models.layers.fusion import BracketFusion

    grey = _scene(1 / 8)[:, :1].repeat(1, 3, 1, 1)
    nudged = grey + 1e-6 * torch.from_numpy(np.random.default_rng(2).standard_normal(grey.shape).astype(np.float32))
    with torch.no_grad():
        assert float(BracketFusion()(grey)) == pytest.approx(float(BracketFusion()(nudged)), abs=1e-3)


def test_lynx_takes_a_dark_photos_exposure_from_its_bracket_and_leaves_bright_ones_to_its_head():
    import torch.nn.functional as F

    from llid_cli.models import get_spec
    from llid_cli.models.architectures.lynx import BRACKET_SHRINK
    from llid_cli.models.layers.fusion import BracketFusion

    torch.manual_seed(0)
    line = (0.5, -1.2)
    model = get_spec("lynx").build("tiny", bracket_exposure=line).eval()
    plain = get_spec("lynx").build("tiny", bracket_exposure=None).eval()
    plain.load_state_dict(model.state_dict())
    for scale in (1 / 16, 1 / 64):  # two exposures of one dark scene: one automatic exposure
        x = _scene(scale)
        with torch.no_grad():
            model(x)
            fused = BracketFusion()(F.avg_pool2d(x, BRACKET_SHRINK))
        assert float(model.predicted_exposure[0]) == pytest.approx(line[0] * float(fused[0]) + line[1], abs=1e-4)
    bright = torch.from_numpy(gradient_rgb(96, 128, seed=5).astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        model(bright)
        plain(bright)
    assert float(model.predicted_exposure[0]) == pytest.approx(float(plain.predicted_exposure[0]), abs=1e-5)
