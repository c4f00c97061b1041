"""The inference-only install (`pip install 'llid[onnx]'`): enhance, batch and eval run every shipped
model from its ONNX graphs with torch absent, and what needs torch says so in one line.

Each run is the real CLI in a subprocess in which `import torch` (and `import onnx`) fail, as they do
where those packages are not installed; CI also runs the README's commands in a venv made without them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import gradient_rgb
from PIL import Image as PILImage

from llid_cli.engine.runner import EngineOptions, build_model_runner
from llid_cli.io import read_image
from llid_cli.models.controls import Controls
from llid_cli.models.locations import weights_dir

pytestmark = pytest.mark.slow  # Slow tier: the CLI in subprocesses without torch.

# Absent packages: their modules set to None in sys.modules make both `import` and find_spec fail.
_WITHOUT_TORCH = "import sys\nfor m in ('torch', 'onnx'): sys.modules[m] = None\nfrom llid_cli.cli import main\nsys.exit(main())"
SHIPPED = sorted(p.name.removesuffix(".graphs.json") for p in weights_dir().glob("*.graphs.json"))


def llid_without_torch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _WITHOUT_TORCH, *map(str, args)], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for index, (height, width) in enumerate([(120, 160), (97, 131)]):
        PILImage.fromarray(gradient_rgb(height, width, seed=10 + index, dark=0.15)).save(folder / f"p{index}.png")
    return folder


def test_every_shipped_model_has_graphs():
    assert {"lynx", "lynx-fast", "resse", "resse-night", "unet", "clahe-cnn", "two-stage", "mirnet"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_enhance_without_torch_renders_what_onnx_renders_with_it(tmp_path, photos, name):
    exposure = ["--exposure", "0.5"] if name.startswith("lynx") else []
    denoise = ["--denoise", "2"] if name == "lynx" else []  # the one with a noise filter
    result = llid_without_torch("enhance", photos / "p1.png", "-o", tmp_path / "out.png", "--model", name, *exposure,
                                *denoise)
    assert result.returncode == 0, result.stderr
    controls = Controls(exposure=0.5 if exposure else None, denoise=2.0 if denoise else None)
    with_torch = build_model_runner(name, None, EngineOptions(backend="onnx"), controls)
    expected = with_torch(read_image(photos / "p1.png").pixels, controls)
    got = read_image(tmp_path / "out.png").pixels
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_batch_and_eval_without_torch(tmp_path, photos):
    inputs = tmp_path / "in"
    shutil.copytree(photos, inputs)
    (inputs / "broken.png").write_bytes(b"not a picture")
    result = llid_without_torch("batch", inputs, "-o", tmp_path / "out", "--model", "lynx-fast")
    assert result.returncode == 1, result.stderr  # one file failed; the others were enhanced
    assert "broken.png" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.suffix == ".png") == ["p0.png", "p1.png"]
    # What the outputs were made with is recorded without torch, and a resume with other settings refused.
    record = json.loads((tmp_path / "out" / ".llid-batch.json").read_text())
    from llid_cli.models.graphs import find_graphs

    assert [r["weights"] for r in record.values()] == [find_graphs("lynx-fast", [weights_dir()]).weights_sha256]
    refused = llid_without_torch("batch", inputs, "-o", tmp_path / "out", "--model", "lynx-fast", "--saturation", "1.2")
    assert refused.returncode == 2 and "--saturation default there, 1.2 now" in " ".join(refused.stderr.split()), refused.stderr
    redone = llid_without_torch("batch", inputs, "-o", tmp_path / "out", "--model", "lynx-fast", "--saturation", "1.2",
                                "--overwrite")
    assert redone.returncode == 1 and "2 enhanced" in redone.stderr, redone.stderr  # the step needs no torch either

    shutil.copytree(photos, tmp_path / "ref")
    scored = llid_without_torch("eval", tmp_path / "out", "--ref", tmp_path / "ref", "--report", tmp_path / "r.json")
    assert scored.returncode == 0, scored.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["lpips"] == "unavailable" and len(report["cases"]) == 2
    assert all(np.isfinite(case["metrics"]["psnr"]) for case in report["cases"])
    # Enhanced and scored in one command: the same outputs, so the same scores.
    both = llid_without_torch("eval", tmp_path / "in", "--ref", tmp_path / "ref", "--model", "lynx-fast",
                              "--saturation", "1.2", "--report", tmp_path / "both.json")
    assert both.returncode == 1 and "broken.png" in both.stderr  # the unreadable input is that file's failure
    again = {c["name"]: c["metrics"]["psnr"] for c in json.loads((tmp_path / "both.json").read_text())["cases"]
             if c["error"] is None}
    assert again == pytest.approx({c["name"]: c["metrics"]["psnr"] for c in report["cases"]})


@pytest.mark.parametrize("args,needs", [
    (["train", "--config", "configs/lynx.yaml"], "llid train needs torch"),
    (["export", "--model", "lynx", "-o", "x.onnx"], "llid export needs torch"),
    (["enhance", "PHOTO", "-o", "OUT", "--backend", "torch"], "--backend torch needs torch"),
    (["enhance", "PHOTO", "-o", "OUT", "--precision", "fp16", "--backend", "onnx"], "an fp16 ONNX graph needs torch"),
    (["eval", "PHOTOS", "--ref", "PHOTOS", "--lpips"], "LPIPS needs torch"),
    (["enhance", "PHOTO", "-o", "OUT", "--model", "lynx-fast", "--denoise", "1"],
     "adding a noise filter to 'lynx-fast' (--denoise on a model shipped without one) needs torch"),
])
def test_what_needs_torch_says_so_in_one_line(tmp_path, photos, args, needs):
    args = [str(photos / "p0.png") if a == "PHOTO" else str(tmp_path / "o.png") if a == "OUT"
            else str(photos) if a == "PHOTOS" else a for a in args]
    result = llid_without_torch(*args)
    assert result.returncode != 0
    assert needs in result.stderr and "pip install 'llid[cpu]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o.png").exists()


def test_weights_the_graphs_were_not_made_from_are_refused(tmp_path, photos):
    copy = tmp_path / "lynx.safetensors"
    shutil.copy(weights_dir() / "lynx.safetensors", copy)
    result = llid_without_torch("enhance", photos / "p0.png", "-o", tmp_path / "o.png", "--weights", copy)
    assert result.returncode != 0 and "not the ones the shipped ONNX graphs were made from" in result.stderr
    unknown = llid_without_torch("enhance", photos / "p0.png", "-o", tmp_path / "o.png", "--model", "nosuch")
    assert unknown.returncode != 0 and "no ONNX graphs here" in unknown.stderr and "lynx" in unknown.stderr


_REPORTING_TORCH = ("import sys\nfrom llid_cli.cli import main\ntry:\n    main()\nfinally:\n"
                    "    print('torch imported' if 'torch' in sys.modules else 'torch not imported', file=sys.stderr)")


def llid_reporting_torch(*args: str) -> subprocess.CompletedProcess:
    """The CLI with torch installed, saying on stderr whether it imported torch."""
    return subprocess.run([sys.executable, "-c", _REPORTING_TORCH, *map(str, args)], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("name", ["lynx", "resse"])
def test_the_onnx_backend_runs_shipped_graphs_without_importing_torch(tmp_path, photos, name):
    """With torch installed, `--backend onnx` still loads the shipped graphs alone: importing torch
    and building the network took 2.4 s of a 4.5 s run on a small photo. Same output as before."""
    args = ["enhance", photos / "p1.png", "-o", tmp_path / "out.png", "--model", name, "--backend", "onnx"]
    done = llid_reporting_torch(*args)
    assert done.returncode == 0 and "torch not imported" in done.stderr, done.stderr
    expected = build_model_runner(name, None, EngineOptions(backend="onnx"))(read_image(photos / "p1.png").pixels)
    assert np.array_equal(read_image(tmp_path / "out.png").pixels, expected)
    # Weights no shipped graph was made from still run: the network exports its own graphs.
    other = tmp_path / "other.safetensors"
    shutil.copy(weights_dir() / "resse.safetensors", other)
    args = ["enhance", photos / "p1.png", "-o", tmp_path / "other.png", "--weights", other, "--backend", "onnx"]
    done = llid_reporting_torch(*args)
    assert done.returncode == 0 and "torch imported" in done.stderr, done.stderr


_AUTO = ("import sys\nimport llid_cli.engine.runner as runner\nimport llid_cli.engine.plan as plan\n"
         "runner.gpu_possible = lambda: {gpu}\nplan.GRAPHS_UP_TO_MEGAPIXELS = {bound}\n"
         + _REPORTING_TORCH.split("\n", 1)[1])


def llid_auto(*args: str, gpu: bool = False, bound: float = 16.0) -> subprocess.CompletedProcess:
    """The CLI with torch installed, on a machine with or without a possible GPU and with the
    workload bound of `--backend auto` set, saying whether it imported torch."""
    script = "import sys\n" + _AUTO.format(gpu=gpu, bound=bound)
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", ["lynx", "lynx-fast"])
def test_auto_runs_a_small_job_from_the_graphs_without_importing_torch(tmp_path, photos, name):
    """The default backend on a machine without a GPU: a phone photo is enhanced from the shipped
    graphs, as --backend onnx would (torch's start-up was half of a 4 s run)."""
    done = llid_auto("enhance", photos / "p1.png", "-o", tmp_path / "auto.png", "--model", name)
    assert done.returncode == 0 and "torch not imported" in done.stderr, done.stderr
    expected = build_model_runner(name, None, EngineOptions(backend="onnx"))(read_image(photos / "p1.png").pixels)
    assert np.array_equal(read_image(tmp_path / "auto.png").pixels, expected)


def test_auto_asks_torch_where_a_gpu_may_be(tmp_path, photos):
    done = llid_auto("enhance", photos / "p1.png", "-o", tmp_path / "auto.png", gpu=True)
    assert done.returncode == 0 and "torch imported" in done.stderr, done.stderr


def test_auto_gives_a_large_job_to_the_faster_runtime_and_counts_only_what_is_left(tmp_path, photos):
    """lynx's network runs faster than its graphs once started: a job above the bound imports torch
    (here the bound is set just under the two photos' 0.032 MP). A resumed batch counts only the
    photos still to do; resse's graphs are its faster runtime whatever the size."""
    out = tmp_path / "out"
    done = llid_auto("batch", photos, "-o", out, bound=0.03)
    assert done.returncode == 0 and "torch imported" in done.stderr, done.stderr
    (out / "p0.png").unlink()  # one photo (0.019 MP) left to do
    done = llid_auto("batch", photos, "-o", out, bound=0.03)
    assert done.returncode == 0 and "torch not imported" in done.stderr, done.stderr
    assert "1 enhanced, 1 skipped" in done.stderr
    done = llid_auto("batch", photos, "-o", tmp_path / "resse", "--model", "resse", bound=0.03)
    assert done.returncode == 0 and "torch not imported" in done.stderr, done.stderr


def test_a_job_is_sized_from_headers_only_for_auto_and_only_up_to_the_bound(tmp_path, photos, monkeypatch):
    from llid_cli.rendering import pipeline
    from llid_cli.rendering.pipeline import EnhanceOptions, workload_megapixels

    bad = tmp_path / "bad.jpg"
    bad.write_text("not a photo")
    sources = [photos / "p0.png", bad, photos / "p1.png"]
    auto = EnhanceOptions(engine=EngineOptions(backend="auto"))
    assert workload_megapixels(auto, sources) == pytest.approx((120 * 160 + 97 * 131) / 1e6)
    assert workload_megapixels(EnhanceOptions(engine=EngineOptions(backend="torch")), sources) is None
    monkeypatch.setattr(pipeline, "GRAPHS_UP_TO_MEGAPIXELS", 0.015)  # the first photo passes it: no more reading
    assert workload_megapixels(auto, sources) == pytest.approx(120 * 160 / 1e6)


def test_the_night_look_runs_without_torch(tmp_path):
    from conftest import NIGHT_EXIF, write_jpeg

    dark = gradient_rgb(96, 128, seed=5, dark=0.12)
    sources = [write_jpeg(tmp_path / "night.jpg", dark, exif=NIGHT_EXIF), write_jpeg(tmp_path / "plain.jpg", dark)]
    result = llid_without_torch("enhance", *sources, "-o", tmp_path / "out", "--format", "png")
    assert result.returncode == 0, result.stderr
    assert "night.jpg -> " in result.stderr and "night look -1.5 EV" in result.stderr
    # The shipped graphs render the shift themselves: as with torch present, on ONNX Runtime.
    expected = build_model_runner("lynx", None, EngineOptions(backend="onnx"))(read_image(sources[0]).pixels,
                                                                                Controls(exposure=-1.5))
    got = read_image(tmp_path / "out" / "night.png").pixels
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_the_colour_controls_run_without_torch(tmp_path, photos):
    from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline

    result = llid_without_torch("enhance", photos / "p1.png", "-o", tmp_path / "out.png", "--white-balance", "3200",
                                "--saturation", "1.2")
    assert result.returncode == 0, result.stderr
    options = EnhanceOptions(engine=EngineOptions(backend="onnx"), white_balance="3200", controls=Controls(saturation=1.2))
    expected = Pipeline(options).enhance_image(read_image(photos / "p1.png")).pixels
    got = read_image(tmp_path / "out.png").pixels
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1
