"""The engine: tiling, global context, out-of-memory back-off, PyTorch and ONNX Runtime backends, export."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import gradient_rgb, learned_architectures, write_jpeg

from llid_cli.cli import cli
from llid_cli.core.errors import LlidError
from llid_cli.engine.runner import EngineOptions, build_model_runner
from llid_cli.engine.tiling import TileOutOfMemory, Tiler, positions, weights_1d
from llid_cli.metrics import psnr
from llid_cli.models import get_spec
from llid_cli.models.weights import save_weights

LEARNED = learned_architectures()
GLOBAL = [name for name in LEARNED if get_spec(name).global_ops]


def tiny_weights(tmp_path, name: str, seed: int = 0, **args):
    torch.manual_seed(seed)
    spec = get_spec(name)
    path = tmp_path / f"{name}.safetensors"
    args = {**spec.presets["tiny"], **args}
    save_weights(spec.build("tiny", **args), path, name, args)
    return str(path)


def photo(height=157, width=211, dtype=np.uint8):
    return gradient_rgb(height, width, dtype=dtype, seed=4, dark=0.3)


@pytest.mark.parametrize("length,tile,overlap,multiple", [(1080, 256, 32, 16), (1000, 200, 32, 1), (517, 128, 16, 8),
                                                     (90, 128, 16, 8), (1080, 1040, 32, 16), (2160, 1024, 32, 8)])
def test_tile_positions_cover_evenly_without_slivers_or_waste(length, tile, overlap, multiple):
    spans = positions(length, tile, overlap, multiple)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(s % multiple == 0 for s, _ in spans)
    assert all((e - s) % multiple == 0 for s, e in spans[:-1])  # only the last tile needs padding
    sizes = [e - s for s, e in spans]
    assert max(sizes[:-1], default=0) <= tile and sizes[-1] < tile + multiple
    assert min(sizes) >= length / len(spans)  # no sliver at the border
    # As few tiles as `tile` allows, and they cover the photo once plus the overlaps (two full
    # 1040-pixel rows over 1080 pixels would cover it 1.9 times).
    assert (len(spans) - 1) * (tile - overlap - multiple + 1) < length
    assert sum(sizes) <= length + (len(spans) - 1) * (overlap + 2 * multiple)
    for (s0, e0), (s1, e1) in zip(spans, spans[1:]):
        assert s1 <= e0 - overlap  # neighbours overlap by at least `overlap`
    # The blending weights add up to one everywhere.
    total = np.zeros(length, np.float32)
    for i, (s, e) in enumerate(spans):
        total[s:e] += weights_1d(spans, i)
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_identity_tiling_is_exact_for_16bit():
    pixels = photo(dtype=np.uint16)
    tiler = Tiler(lambda batch: batch, tile=64, overlap=16, multiple=4, batch_size=3)
    assert np.array_equal(tiler(pixels), pixels)
    assert tiler.stats.tiles > 6


def test_convolutional_model_tiles_exactly_at_odd_sizes(tmp_path):
    weights = tiny_weights(tmp_path, "clahe-cnn", context=False)  # all 3x3 convolutions, no gate
    pixels = photo(131, 179)
    whole = build_model_runner("clahe-cnn", weights, EngineOptions(tile=1024))(pixels)
    tiled_fn = build_model_runner("clahe-cnn", weights, EngineOptions(tile=64, overlap=16, batch_size=2))
    tiled = tiled_fn(pixels)
    assert tiled_fn.tiler.stats.tiles >= 9
    assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 1  # at most a rounding step


@pytest.mark.parametrize("name", GLOBAL)
def test_global_context_keeps_tiles_consistent(tmp_path, name):
    weights = tiny_weights(tmp_path, name, seed=2)
    # A photo whose halves differ a lot: per-tile statistics would differ from the photo's.
    pixels = photo(144, 200)
    pixels[:, 100:] = (pixels[:, 100:] * 0.3).astype(np.uint8)
    whole = build_model_runner(name, weights, EngineOptions(tile=1024))(pixels)
    options = EngineOptions(tile=64, overlap=16)
    tiled = build_model_runner(name, weights, options)(pixels)
    assert psnr(tiled, whole) >= 45


def test_without_the_global_context_tiles_would_disagree():
    """A network whose gain depends on the photo's mean: per-tile means would give every tile its
    own gain (seams); the recorded context gives every tile the photo's gain."""
    from llid_cli.engine.torch_backend import TorchBackend
    from llid_cli.io.image import from_float, to_float
    from llid_cli.models.layers.context import GlobalStats

    class GlobalGain(GlobalStats):
        def forward(self, x, controls=None):
            (mean,) = self.stats(lambda: (x.mean(dim=(1, 2, 3), keepdim=True),))
            return (x * 0.25 / (mean + 1e-3)).clamp(0, 1)

    pixels = photo(144, 200)
    pixels[:, 100:] = (pixels[:, 100:] * 0.3).astype(np.uint8)
    backend = TorchBackend(GlobalGain(), "cpu")
    whole = from_float(backend.run_batch(to_float(pixels)[None])[0], np.uint8)
    tiler = Tiler(backend.run_batch, tile=64, overlap=16, multiple=1)
    with backend.global_context(to_float(pixels)):
        with_context = tiler(pixels)
    without = tiler(pixels)
    assert psnr(with_context, whole) >= 60
    assert psnr(without, whole) < 35


def _out_of_memory_when(monkeypatch, runner, too_big) -> list[int]:
    """Make the runner's network raise a (simulated) CUDA out-of-memory whenever `too_big(x, seen)`;
    returns the widths of everything it was asked to run (`seen`)."""
    model = runner.backend.model
    real_forward = model.forward
    seen: list[int] = []

    def forward(x, controls=None):
        seen.append(x.shape[-1])
        if too_big(x, seen):
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_forward(x, controls)

    monkeypatch.setattr(model, "forward", forward)
    return seen


def test_out_of_memory_halves_the_tile_and_finishes_correctly(tmp_path, monkeypatch):
    weights = tiny_weights(tmp_path, "unet")
    pixels = photo(150, 230)
    runner = build_model_runner("unet", weights, EngineOptions(tile=128, overlap=16))
    reference = build_model_runner("unet", weights, EngineOptions(tile=64, overlap=16))(pixels)
    # The 3rd large tile "runs out of memory".
    seen = _out_of_memory_when(monkeypatch, runner, lambda x, seen: x.shape[-1] > 100 and len(seen) > 2)
    out = runner(pixels)
    assert runner.tiler.stats.oom_retries == 1 and runner.tiler.stats.final_tile == 64
    assert max(seen[3:]) <= 64 + 7  # after the error no large tile ran again
    assert psnr(out, reference) >= 45


def test_out_of_memory_in_one_whole_pass_falls_back_to_tiles(tmp_path, monkeypatch):
    weights = tiny_weights(tmp_path, "unet")
    pixels = photo(150, 230)
    runner = build_model_runner("unet", weights, EngineOptions(tile=0, overlap=16))
    reference = build_model_runner("unet", weights, EngineOptions(tile=112, overlap=16))(pixels)
    # The whole photo "runs out of memory"; tiles fit.
    _out_of_memory_when(monkeypatch, runner, lambda x, seen: x.shape[-1] > 200)
    out = runner(pixels)
    # Twice: the whole pass, then the context pass at full size (it is measured at half the side).
    assert runner.tiler.stats.oom_retries == 2 and runner.tiler.stats.tiles > 1
    assert psnr(out, reference) >= 40


def test_out_of_memory_at_the_smallest_tile_is_an_error():
    def always_oom(batch):
        raise TileOutOfMemory

    with pytest.raises(LlidError, match="out of memory"):
        Tiler(always_oom, tile=128, overlap=16, multiple=8)(photo())


@pytest.mark.parametrize("name", LEARNED)
def test_onnx_export_matches_pytorch(tmp_path, monkeypatch, name):
    monkeypatch.setenv("LLID_CACHE_DIR", str(tmp_path / "cache"))
    weights = tiny_weights(tmp_path, name, seed=1)
    pixels = photo(97, 131)
    torch_out = build_model_runner(name, weights, EngineOptions(tile=1024))(pixels)
    onnx_out = build_model_runner(name, weights, EngineOptions(backend="onnx", tile=1024))(pixels)
    assert np.abs(torch_out.astype(int) - onnx_out.astype(int)).max() <= 1
    # Tiled through ONNX Runtime too (capture/replay graphs for models with global statistics).
    tiled = build_model_runner(name, weights, EngineOptions(backend="onnx", tile=64, overlap=16))(pixels)
    assert psnr(tiled, torch_out) >= 45
    cached = list((tmp_path / "cache" / "onnx").glob("*.onnx"))
    assert cached and all(p.name[:24] for p in cached)


def test_cached_exports_are_not_reused_after_the_networks_code_changed(tmp_path, monkeypatch):
    """Same weights, other code (a lynx that gained a highlight shoulder): a new export, not the
    stale one, which would render the old way or no longer fit the recorded statistics."""
    from llid_cli.export import onnx as export

    monkeypatch.setenv("LLID_CACHE_DIR", str(tmp_path / "cache"))
    weights = tiny_weights(tmp_path, "resse")
    cache = tmp_path / "cache" / "onnx"
    build_model_runner("resse", weights, EngineOptions(backend="onnx", tile=1024))(photo(40, 56))
    before = set(cache.glob("*.onnx"))
    monkeypatch.setattr(export, "_models_code", lambda: "another-version")
    build_model_runner("resse", weights, EngineOptions(backend="onnx", tile=1024))(photo(40, 56))
    after = set(cache.glob("*.onnx")) - before
    assert before and len(after) == len(before) and all("another-version" in p.name for p in after)


def test_export_cli_checks_against_pytorch(tmp_path):
    import onnx

    weights = tiny_weights(tmp_path, "mirnet")
    out = tmp_path / "m.onnx"
    result = CliRunner().invoke(cli, ["export", "--weights", weights, "-o", str(out), "--tiling"])
    assert result.exit_code == 0, result.output
    assert "max |difference|" in result.output
    onnx.checker.check_model(onnx.load(str(out)))
    graph = onnx.load(str(out)).graph
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[2].dim_param and dims[3].dim_param  # dynamic height and width
    assert (tmp_path / "m.capture.onnx").is_file() and (tmp_path / "m.replay.onnx").is_file()
    result = CliRunner().invoke(cli, ["export", "--model", "unet", "-o", str(out)])
    assert result.exit_code == 1 or "wrote" in result.output  # no shipped weights: a clear error


def test_enhance_cli_with_engine_options(tmp_path, monkeypatch):
    monkeypatch.setenv("LLID_CACHE_DIR", str(tmp_path / "cache"))
    weights = tiny_weights(tmp_path, "resse")
    src = write_jpeg(tmp_path / "dark.jpg", photo(120, 170))
    for extra in (["--tile", "64", "--overlap", "16"], ["--backend", "onnx", "--tile", "64"], ["--threads", "1"]):
        result = CliRunner().invoke(cli, ["enhance", str(src), "-o", str(tmp_path / "o.png"), "--weights", weights, *extra])
        assert result.exit_code == 0, (extra, result.output)
    result = CliRunner().invoke(cli, ["enhance", str(src), "-o", str(tmp_path / "o.png"), "--weights", weights, "--tile", "8"])
    assert result.exit_code == 2
    result = CliRunner().invoke(cli, ["enhance", str(src), "-o", str(tmp_path / "o.png"), "--weights", weights,
                                      "--precision", "fp16", "--device", "cpu"])
    assert result.exit_code == 1 and "fp16 needs a CUDA device" in result.output


def test_auto_tile_is_sane(tmp_path):
    weights = tiny_weights(tmp_path, "unet")  # depth 2: the network pads to 4
    runner = build_model_runner("unet", weights, EngineOptions())
    assert runner.descriptor.input_multiple == 4
    assert 256 <= runner.tiler.tile <= 2048 and runner.tiler.tile % 4 == 0


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_cpu_tiles_stay_within_the_cpu_bound_for_a_low_resolution_network(backend):
    """lynx-fast has few activations per pixel; its tiles still stop at CPU_MAX_TILE on the CPU."""
    from llid_cli.engine.runner import CPU_MAX_TILE

    runner = build_model_runner("lynx-fast", None, EngineOptions(backend=backend, device="cpu"))
    assert runner.tiler.tile <= CPU_MAX_TILE


def test_tiles_align_to_the_loaded_models_own_multiple_not_the_registrys(tmp_path):
    """A unet with depth 5 pads to 32 (its preset's 16 would misalign its pooling grid)."""
    weights = tiny_weights(tmp_path, "unet", depth=5)
    assert get_spec("unet").describe().input_multiple == 16  # the default preset's
    whole = build_model_runner("unet", weights, EngineOptions(tile=0))
    tiled = build_model_runner("unet", weights, EngineOptions(tile=128, overlap=32))
    assert tiled.descriptor.input_multiple == tiled.tiler.multiple == 32
    pixels = photo(200, 300)
    a, b = whole(pixels).astype(np.float64), tiled(pixels).astype(np.float64)
    assert tiled.tiler.stats.tiles > 1
    assert 10 * np.log10(255**2 / max(((a - b) ** 2).mean(), 1e-12)) > 40


def test_a_models_classical_step_uses_the_settings_saved_with_it(tmp_path):
    from llid_cli.classical import ClaheSettings, enhance_clahe
    from llid_cli.io.image import from_float, to_float
    from llid_cli.models.weights import load_model

    pixels = photo(96, 128)
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    coarse = tiny_weights(tmp_path / "a", "clahe-cnn", seed=3, pre_grid=(2, 2))
    fine = tiny_weights(tmp_path / "b", "clahe-cnn", seed=3, pre_grid=(8, 8))
    out_coarse = build_model_runner("clahe-cnn", coarse, EngineOptions(tile=1024))(pixels)
    out_fine = build_model_runner("clahe-cnn", fine, EngineOptions(tile=1024))(pixels)
    assert np.abs(out_coarse.astype(int) - out_fine.astype(int)).max() > 8  # same tensors, other pre-step
    model, _ = load_model(coarse)
    prepared = to_float(enhance_clahe(pixels, ClaheSettings(tile_grid=(2, 2))))
    with torch.no_grad():
        by_hand = model(torch.from_numpy(prepared.transpose(2, 0, 1)).unsqueeze(0))[0].numpy().transpose(1, 2, 0)
    assert np.abs(from_float(by_hand, np.uint8).astype(int) - out_coarse.astype(int)).max() <= 1


def test_cli_clahe_options_do_not_reach_a_models_own_classical_step(tmp_path):
    import cv2

    weights = tiny_weights(tmp_path, "clahe-cnn", seed=3)
    source = tmp_path / "in.png"
    cv2.imwrite(str(source), photo(64, 80))
    runner = CliRunner()
    outputs = []
    for extra in ([], ["--clip-limit", "6", "--tile-grid", "4x4"]):
        target = tmp_path / f"out{len(outputs)}.png"
        result = runner.invoke(cli, ["enhance", str(source), "-o", str(target), "--model", "clahe-cnn", "--weights", weights, *extra])
        assert result.exit_code == 0, result.output
        outputs.append(cv2.imread(str(target)))
    assert np.array_equal(outputs[0], outputs[1])


def test_tile_progress_counts_up_to_the_tiles_run(tmp_path):
    weights = tiny_weights(tmp_path, "unet")
    calls = []
    runner = build_model_runner("unet", weights, EngineOptions(tile=64, overlap=16), progress=lambda d, t: calls.append((d, t)))
    runner(photo(150, 230))
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == runner.tiler.stats.tiles == calls[-1][1] > 1
    calls.clear()
    build_model_runner("unet", weights, EngineOptions(tile=0), progress=lambda d, t: calls.append((d, t)))(photo(150, 230))
    assert calls == []  # one pass: nothing to count


@pytest.mark.parametrize("name", ["lynx", "lynx-fast"])
def test_global_statistics_do_not_depend_on_tiling(name):
    """Statistics are measured at `context_pixels` whether the photo then runs whole or tiled, so the
    two agree (shipped weights; measuring them at full size for the whole run gave 32-36 dB here)."""
    rng = np.random.default_rng(0)
    pixels = gradient_rgb(600, 800, seed=3, dark=0.25)
    pixels = np.clip(pixels.astype(int) + rng.integers(-12, 12, pixels.shape), 0, 255).astype(np.uint8)
    whole = build_model_runner(name, None, EngineOptions(tile=0, context_pixels=60_000))
    tiled = build_model_runner(name, None, EngineOptions(tile=256, context_pixels=60_000))
    a, b = whole(pixels).astype(np.float64), tiled(pixels).astype(np.float64)
    assert whole.tiler.stats.tiles == 0 and tiled.tiler.stats.tiles > 1
    assert 10 * np.log10(255**2 / max(((a - b) ** 2).mean(), 1e-12)) > 50


def test_the_context_pass_records_statistics_without_rendering_what_follows_them():
    """The context pass's output is thrown away: lynx's noise filter, which comes after its last
    statistic, runs once per photo (in the pass that renders), and the photo comes out as when the
    filter ran in both passes (the statistics it replays are the same)."""
    from llid_cli.models.architectures.lynx import Lynx
    from llid_cli.models.layers.context import GlobalStats

    pixels = gradient_rgb(300, 400, seed=4, dark=0.2)
    runner = build_model_runner("lynx", None, EngineOptions(tile=0, context_pixels=30_000))
    network = runner.backend.model
    assert isinstance(network, Lynx)
    calls = []
    handle = network.denoise.register_forward_hook(lambda *args: calls.append(network.tone._stats_mode))
    try:
        fast = runner(pixels)
        assert calls == ["replay"]  # not in the measuring pass
        calls.clear()
        original = GlobalStats.measuring
        GlobalStats.measuring = property(lambda self: False)  # as before: the filter in every pass
        try:
            slow = runner(pixels)
        finally:
            GlobalStats.measuring = original
        assert calls == ["measure", "replay"]
    finally:
        handle.remove()
    assert np.array_equal(fast, slow)


def test_backend_auto_picks_the_measured_faster_runtime(tmp_path, monkeypatch):
    """On the CPU: ONNX Runtime for the full-resolution networks, PyTorch for lynx; PyTorch for
    bf16, and whenever ONNX Runtime is not installed."""
    resse = build_model_runner("resse", tiny_weights(tmp_path, "resse"), EngineOptions(backend="auto", device="cpu"))
    lynx = build_model_runner("lynx", tiny_weights(tmp_path, "lynx"), EngineOptions(backend="auto", device="cpu"))
    assert (resse.backend.name, lynx.backend.name) == ("onnx", "torch")
    pixels = photo(64, 80)
    explicit = build_model_runner("resse", tiny_weights(tmp_path, "resse"), EngineOptions(backend="torch"))
    assert np.abs(resse(pixels).astype(int) - explicit(pixels).astype(int)).max() <= 1
    bf16 = build_model_runner("resse", tiny_weights(tmp_path, "resse"),
                              EngineOptions(backend="auto", device="cpu", precision="bf16"))
    assert bf16.backend.name == "torch"
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    without = build_model_runner("resse", tiny_weights(tmp_path, "resse"), EngineOptions(backend="auto", device="cpu"))
    assert without.backend.name == "torch"


def test_auto_runs_a_photo_whole_when_a_few_tiles_would_cost_more():
    """lynx-fast's automatic tile is 1040 pixels; a 1100x700 photo (activations well within
    WHOLE_WITHIN tiles) runs in one pass, while an explicit --tile still tiles it."""
    pixels = photo(700, 1100)
    auto = build_model_runner("lynx-fast", None, EngineOptions(tile=None, device="cpu", backend="torch"))
    assert auto.tiler.tile < 1100
    out = auto(pixels)
    assert auto.tiler.stats.tiles == 0
    tiled = build_model_runner("lynx-fast", None, EngineOptions(tile=512, device="cpu", backend="torch"))
    assert psnr(tiled(pixels), out) >= 45 and tiled.tiler.stats.tiles > 1


@pytest.mark.parametrize("name", LEARNED)
def test_cpu_tiles_come_back_contiguous_for_blending(tmp_path, name):
    """The tiler adds each tile into the photo in place; a strided (planar) tile took 20x as long."""
    runner = build_model_runner(name, tiny_weights(tmp_path, name), EngineOptions(backend="torch", tile=0))
    tile = np.random.default_rng(0).random((1, 48, 64, 3), dtype=np.float32)
    out = runner.backend.run_batch(tile)
    assert out.shape == tile.shape and out.flags["C_CONTIGUOUS"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_activations_are_reused_not_faulted_in_again():
    """After the engine sets the allocator up, a second photo's buffers come from the heap."""
    code = (
        "import ctypes, resource\n"
        "from llid_cli.engine.allocator import reuse_freed_memory\n"
        "assert reuse_freed_memory()\n"
        "libc = ctypes.CDLL('libc.so.6')\n"
        "libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]\n"
        "def faults():\n"
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "counts = []\n"
        "for _ in range(3):\n"
        "    start = faults()\n"
        "    blocks = [libc.malloc(40 << 20) for _ in range(3)]\n"
        "    for block in blocks: ctypes.memset(block, 1, 40 << 20)\n"
        "    for block in blocks: libc.free(block)\n"
        "    counts.append(faults() - start)\n"
        "print(counts[0], max(counts[1:]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    first, later = map(int, out.split())
    assert first > 25_000 and later < first / 10  # 120 MiB is 30,720 pages of 4 KiB
