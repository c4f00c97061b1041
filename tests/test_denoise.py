"""Grain that brightening added to the shadows is smoothed, and nothing else: lynx's noise filter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llid_cli.engine.loaded import open_network
from llid_cli.engine.runner import EngineOptions, build_model_runner
from llid_cli.models import get_spec
from llid_cli.models.controls import Controls
from llid_cli.models.layers.denoise import AmplifiedNoiseFilter
from llid_cli.models.weights import save_weights

SETTINGS = (1.5, 0.3, 6.0)  # lynx's defaults


def night_scene(seed: int = 0) -> np.ndarray:
    """A dark photo (float, 0-255 scale): a black sky with coloured noise of 1.5 levels over a lit
    facade with fine coloured texture (a checkerboard of warm and cool stone, +-3 levels of red and
    blue at 25), as a camera's JPEG holds them."""
    rng = np.random.default_rng(seed)
    pixels = 4.0 + rng.normal(0.0, 1.5, (96, 128, 3))
    rows, cols = np.mgrid[0:48, 0:128]
    sign = np.where((rows // 2 + cols // 2) % 2 == 0, 1.0, -1.0)[..., None]
    pixels[48:] = 25.0 + 3.0 * sign * np.array([1.0, 0.0, -1.0])
    return np.clip(pixels, 0, 255)


def tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy((pixels / 255.0).astype(np.float32)).permute(2, 0, 1)[None]


def brightened(gain: float = 8.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(output, input): the scene brightened `gain` times, its noise with it."""
    x = tensor(night_scene(seed))
    return (x * gain).clamp(0.0, 1.0), x


def ycbcr(image: torch.Tensor) -> np.ndarray:
    from llid_cli.models.layers.blocks import rgb_to_ycbcr

    return rgb_to_ycbcr(image)[0].numpy() * 255.0


def test_the_grain_brightening_added_to_a_night_sky_is_smoothed_and_the_lit_facade_kept():
    y, x = brightened()
    with torch.no_grad():
        out = AmplifiedNoiseFilter(*SETTINGS)(y, x)
    sky = (slice(None), slice(4, 40), slice(4, 124))  # away from the facade's edge
    before, after = ycbcr(y)[sky], ycbcr(out)[sky]
    assert before[1:].std() > 4.0  # coloured speckle: 8 x 1.5 levels spread over Cb and Cr
    assert after[1:].std() < 0.4 * before[1:].std()  # chroma speckle mostly gone ...
    assert after[0].std() < 0.8 * before[0].std()  # ... luma grain softened ...
    assert abs(after[0].mean() - before[0].mean()) < 1.0  # ... and the sky no brighter or darker
    # The facade (output level 0.78: not a shadow) keeps its texture exactly, and its edge stays sharp.
    facade = (..., slice(52, 96), slice(0, 128))
    assert torch.equal(out[facade], y[facade])
    step = lambda image: image[0, :, 50:54].mean() - image[0, :, 42:46].mean()  # noqa: E731
    assert float(step(out)) > 0.95 * float(step(y))


def test_no_pixel_moves_by_more_than_three_sigmas_of_the_added_noise():
    """A clipped lamp next to a flat sky: the enlarged coefficients would repaint its rim."""
    x = torch.full((1, 3, 64, 64), 8 / 255)
    x[..., 24:32, 24:34] = 1.0
    y = (x * 6.0).clamp(0.0, 1.0)  # unlimited, its rim came down to 222
    with torch.no_grad():
        out = AmplifiedNoiseFilter(*SETTINGS)(y, x)
    assert float(out[..., 24:32, 24:34].min()) > 245 / 255


@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_a_photo_that_was_not_brightened_comes_back_exactly(gain):
    x = tensor(night_scene() * 4)
    with torch.no_grad():
        assert torch.equal(AmplifiedNoiseFilter(*SETTINGS)(x * gain, x), x * gain)


def brightening_lynx(denoise):
    """A tiny lynx whose residual follows the input's noise eight times over, as a network that
    lifts a night sky by three stops does."""
    torch.manual_seed(0)
    model = get_spec("lynx").build("tiny", denoise=denoise, highlights=None).eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.fill_(0.1)
    return model


def run(model, pixels: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = model(tensor(pixels))
    return (out[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def test_lynx_filters_outside_training_only():
    noisy = night_scene()
    filtered, plain = brightening_lynx(SETTINGS), brightening_lynx(None)
    sky = (slice(4, 40), slice(4, 124))
    assert run(filtered, noisy)[sky].std() < run(plain, noisy)[sky].std()
    assert np.array_equal(run(filtered.train(), noisy), run(plain.train(), noisy))  # the loss sees its own output


def test_tiles_agree_with_the_whole_photo_on_both_runtimes(tmp_path):
    """The filter is local (no recorded statistic): tiles overlapping by 32 pixels meet without seams."""
    model = brightening_lynx(SETTINGS)
    args = {**get_spec("lynx").presets["tiny"], "denoise": SETTINGS, "highlights": None}
    path = tmp_path / "lynx.safetensors"
    save_weights(model, path, "lynx", args)
    pixels = np.tile(night_scene(), (2, 2, 1)).round().astype(np.uint8)
    whole = build_model_runner("lynx", str(path), EngineOptions(tile=1024))(pixels)
    assert np.array_equal(whole, run(model, pixels.astype(float)))
    for backend in ("torch", "onnx"):
        runner = build_model_runner("lynx", str(path), EngineOptions(backend=backend, tile=96, overlap=32))
        tiled = runner(pixels)
        assert runner.tiler.stats.tiles > 1
        assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 2


def test_lynx_fast_runs_without_it_unless_its_weights_say_otherwise(tmp_path):
    """The variant's own arguments: the filter would cost lynx-fast a third of its speed."""
    assert isinstance(open_network("lynx").module.denoise, AmplifiedNoiseFilter)
    assert open_network("lynx-fast").module.denoise is None
    args = {**get_spec("lynx").presets["tiny"], "denoise": SETTINGS}
    path = tmp_path / "fast.safetensors"
    save_weights(get_spec("lynx").build("tiny", denoise=SETTINGS), path, "lynx", args)
    assert isinstance(open_network("lynx-fast", path).module.denoise, AmplifiedNoiseFilter)


@pytest.mark.parametrize("value", [(0.0, 0.3, 6.0), (1.5, -1.0, 6.0), (1.5, 0.3, -2.0)])
def test_bad_denoise_settings_are_refused(value):
    with pytest.raises(Exception, match="denoise must be"):
        get_spec("lynx").build("tiny", denoise=value)


def test_it_works_in_float32_whatever_precision_the_network_runs_at(tmp_path):
    """bf16 on the CPU (and fp16 on CUDA) cast the buffers; variances of a few levels squared are
    below half precision's resolution, so the filter computes in float32."""
    model = brightening_lynx(SETTINGS)
    args = {**get_spec("lynx").presets["tiny"], "denoise": SETTINGS, "highlights": None}
    path = tmp_path / "lynx.safetensors"
    save_weights(model, path, "lynx", args)
    pixels = night_scene().round().astype(np.uint8)
    full = build_model_runner("lynx", str(path), EngineOptions(backend="torch"))(pixels)
    half = build_model_runner("lynx", str(path), EngineOptions(backend="torch", precision="bf16"))(pixels)
    assert np.abs(half.astype(int) - full.astype(int)).mean() < 2.0
    # In half precision a flat lit area (no variance, no added noise) gave 0 / 0 there: NaN.
    x = torch.full((1, 3, 32, 32), 0.02)
    x[..., 8:16, 8:16] = 1.0
    out = AmplifiedNoiseFilter(*SETTINGS).half()((x * 6).clamp(0, 1).half(), x.half())
    assert out.dtype == torch.float16 and bool(torch.isfinite(out).all())


def test_its_strength_is_a_setting_of_every_runtime(tmp_path):
    """`--denoise`: 0 is the network without the filter, 1 as built, 2 smooths harder; ONNX
    Runtime's graphs take it as an input and agree with PyTorch."""
    model = brightening_lynx(SETTINGS)
    args = {**get_spec("lynx").presets["tiny"], "denoise": SETTINGS, "highlights": None}
    path = tmp_path / "lynx.safetensors"
    save_weights(model, path, "lynx", args)
    pixels = night_scene().round().astype(np.uint8)
    sky = (slice(4, 40), slice(4, 124))
    chroma = lambda image: ycbcr(tensor(image.astype(float)))[1:, 4:40, 4:124].std()  # noqa: E731
    outs = {}
    for strength in (None, 0.0, 1.0, 2.0):
        asked = Controls(denoise=strength)
        outs[strength] = build_model_runner("lynx", str(path), EngineOptions(backend="torch"), asked)(pixels, asked)
    assert np.array_equal(outs[None], outs[1.0])
    assert np.array_equal(outs[0.0], run(brightening_lynx(None), pixels.astype(float)))
    assert chroma(outs[0.0]) > 1.5 * chroma(outs[1.0]) > 1.5 * chroma(outs[2.0])
    assert abs(float(outs[2.0][sky].mean()) - float(outs[0.0][sky].mean())) < 1.0  # no darker or brighter
    for strength in (0.0, 2.0):
        asked = Controls(denoise=strength)
        onnx = build_model_runner("lynx", str(path), EngineOptions(backend="onnx"), asked)(pixels, asked)
        assert np.abs(onnx.astype(int) - outs[strength].astype(int)).max() <= 1


def test_the_shipped_lynx_graphs_take_the_strength(tmp_path):
    from llid_cli.models.graphs import find_graphs
    from llid_cli.models.locations import weights_dir

    assert find_graphs("lynx", [weights_dir()]).descriptor.renders("denoise")
    assert not find_graphs("lynx-fast", [weights_dir()]).descriptor.renders("denoise")  # added when asked for
    pixels = night_scene().round().astype(np.uint8)
    twice = Controls(denoise=2.0)
    torch_out = build_model_runner("lynx", None, EngineOptions(backend="torch"), twice)(pixels, twice)
    onnx_out = build_model_runner("lynx", None, EngineOptions(backend="onnx"), twice)(pixels, twice)
    assert np.abs(onnx_out.astype(int) - torch_out.astype(int)).max() <= 1


def test_a_network_that_cannot_carry_the_filter_refuses_a_strength():
    from llid_cli.core.errors import LlidError

    with pytest.raises(LlidError, match="model 'resse' runs without a noise filter"):
        build_model_runner("resse", None, EngineOptions(backend="torch"), Controls(denoise=1.0))
    assert build_model_runner("resse", None, EngineOptions(backend="torch"), Controls(denoise=0.0)) is not None  # off: it is


@pytest.mark.parametrize("backend", ["torch", "onnx", "auto"])
def test_a_strength_adds_the_filter_to_lynx_fast_which_ships_without_it(tmp_path, monkeypatch, backend):
    """lynx-fast leaves the filter out for speed; asking for a strength adds lynx's, on every runtime.
    Without a strength (or with 0) it runs as shipped, from its own graphs."""
    monkeypatch.setenv("LLID_CACHE_DIR", str(tmp_path / "cache"))
    pixels = np.tile(night_scene(), (2, 2, 1)).round().astype(np.uint8)
    plain = build_model_runner("lynx-fast", None, EngineOptions(backend="torch"))
    assert plain.loaded.module.denoise is None and not plain.descriptor.renders("denoise")
    assert plain.descriptor.noise_filter_arguments == {"denoise": list(SETTINGS)}  # as JSON holds it
    off = plain(pixels)
    off_asked = Controls(denoise=0.0)
    assert np.array_equal(build_model_runner("lynx-fast", None, EngineOptions(backend="torch"), off_asked)(pixels, off_asked),
                          off)
    runners = {strength: build_model_runner("lynx-fast", None, EngineOptions(backend=backend), Controls(denoise=strength))
               for strength in (1.0, 2.0)}
    assert all(runner.descriptor.renders("denoise") and runner.loaded.graphs is None for runner in runners.values())
    chroma = {0.0: ycbcr(tensor(off))[1:]}
    chroma.update({strength: ycbcr(tensor(runner(pixels, Controls(denoise=strength))))[1:]
                   for strength, runner in runners.items()})
    grain = {strength: float(c[:, 8:40, 8:248].std(axis=(1, 2)).mean()) for strength, c in chroma.items()}  # the sky's
    # 1 already leaves this sky flat (measured 3.3 -> 0.8 levels); 2 cannot make it worse.
    assert grain[1.0] < grain[0.0] / 1.5 and grain[2.0] <= grain[1.0] * 1.05, grain
    one = Controls(denoise=1.0)
    lynx_filter = build_model_runner("lynx-fast", None, EngineOptions(backend="torch"), one)(pixels, one)
    assert np.abs(runners[1.0](pixels, one).astype(int) - lynx_filter.astype(int)).max() <= 1  # torch, onnx, auto agree


def test_graphs_made_before_the_strength_existed_refuse_one(tmp_path):
    """An export without the input (an older cached or shipped graph) cannot honour --denoise."""
    from llid_cli.core.errors import LlidError
    from llid_cli.engine.onnx_backend import OnnxBackend
    from llid_cli.export.onnx import export_onnx

    model = brightening_lynx(SETTINGS)
    model.controls = frozenset({"exposure"})  # as lynx was before the filter's strength was a control
    capture = export_onnx(model, tmp_path / "old.capture.onnx", "capture")
    replay = export_onnx(model, tmp_path / "old.replay.onnx", "replay")
    backend = OnnxBackend(None, capture, replay)
    whole = np.full((1, 32, 32, 3), 0.1, np.float32)
    assert backend.run_batch(whole).shape == whole.shape
    with pytest.raises(LlidError, match="no denoise input"):
        backend.run_batch(whole, Controls(denoise=2.0))


def test_the_denoise_option_at_the_command_line(tmp_path):
    """lynx (the default) takes any strength; a model or path without the filter refuses one with a
    one-line error and writes nothing; out of range is a usage error."""
    from click.testing import CliRunner
    from PIL import Image as PILImage

    from llid_cli.cli import cli

    source = tmp_path / "night.png"
    PILImage.fromarray(np.tile(night_scene(), (2, 2, 1)).round().astype(np.uint8)).save(source)
    runner = CliRunner()
    outs = {}
    for strength in ("0", "2"):
        out = tmp_path / f"d{strength}.png"
        result = runner.invoke(cli, ["enhance", str(source), "-o", str(out), "--denoise", strength])
        assert result.exit_code == 0, result.output
        outs[strength] = np.asarray(PILImage.open(out)).astype(float)
    assert outs["2"][8:80, 8:248].std() < outs["0"][8:80, 8:248].std()  # the sky's grain
    refusals = ((["--model", "resse", "--denoise", "1"], 1, "model 'resse' runs without a noise filter"),
                (["--model", "clahe", "--denoise", "1"], 1, "'clahe' path runs without a noise filter"),
                (["--denoise", "5"], 2, "Invalid value for '--denoise'"))
    for args, code, message in refusals:
        result = runner.invoke(cli, ["enhance", str(source), "-o", str(tmp_path / "o.png"), *args])
        assert result.exit_code == code and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1 or code == 2
    assert not (tmp_path / "o.png").exists()
