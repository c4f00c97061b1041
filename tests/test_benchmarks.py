"""The benchmark scripts run as their docstrings say, at sizes small enough for a test.

Why: nothing else runs them, and `train_speed.py` had stopped working for lynx's configs (its
exposure loss needs the network to be told an exposure) without any test noticing. What is
checked is that each prints a row with a positive figure per configuration, not the figure.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import gradient_rgb

pytestmark = pytest.mark.slow  # Slow tier: each benchmark runs as a script in a subprocess.

ROOT = Path(__file__).parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_train_speed_measures_exposure_conditioned_configs():
    done = _run("benchmarks/train_speed.py", "--threads", "1", "--steps", "1",
                "--configs", "lynx-fast,lynx-fast-exposure,resse")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[2:]}
    assert set(rows) == {"lynx-fast", "lynx-fast-exposure", "resse"}
    for row in rows.values():
        assert row[-2] == "cpu" and float(row[-1]) > 0


def test_train_speed_refuses_an_unknown_config():
    done = _run("benchmarks/train_speed.py", "--configs", "lynx,nope")
    assert done.returncode == 2 and "no committed config nope" in done.stderr


def test_engine_speed_prints_a_row_per_model_and_backend(tmp_path):
    from llid_cli.io import Image, write_image

    photo = tmp_path / "dark.png"
    write_image(Image(pixels=gradient_rgb(96, 128, dark=0.2)), photo)
    done = _run("benchmarks/engine_speed.py", str(photo), "--megapixels", "0.05", "--models", "lynx-fast,resse",
                "--backends", "torch,onnx", "--threads", "1")
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if re.match(r"(lynx-fast|resse) ", line)]
    assert [row[:2] for row in rows] == [["lynx-fast", "torch"], ["lynx-fast", "onnx"], ["resse", "torch"],
                                         ["resse", "onnx"]]
    for row in rows:
        assert "failed:" not in row and float(row[3]) > 0  # MP/s
    refused = _run("benchmarks/engine_speed.py", str(photo), "--models", "lynx,clahe")
    assert refused.returncode == 2 and "not a network of the zoo: clahe" in refused.stderr


def test_startup_times_whole_commands_per_size_and_backend(tmp_path):
    from llid_cli.io import Image, write_image

    photo = tmp_path / "dark.png"
    write_image(Image(pixels=gradient_rgb(96, 128, dark=0.2)), photo)
    done = _run("benchmarks/startup.py", str(photo), "--megapixels", "0.02,0.05", "--backends", "auto,onnx",
                "--model", "lynx-fast", "--rounds", "1", "--threads", "1")
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[2:]]
    assert [row[:2] for row in rows] == [["0.02", "auto"], ["0.02", "onnx"], ["0.05", "auto"], ["0.05", "onnx"]]
    for row in rows:
        assert "failed:" not in row and float(row[2]) > 0 and float(row[3]) > 0  # seconds, MiB
    refused = _run("benchmarks/startup.py", str(tmp_path / "none.png"))
    assert refused.returncode == 1 and "not a photo OpenCV can read" in refused.stderr


def test_night_look_prints_each_photo_with_exposure_settings(tmp_path):
    from conftest import DAYLIGHT_EXIF, NIGHT_EXIF, write_jpeg

    dark = gradient_rgb(64, 80, seed=4, dark=0.12)
    write_jpeg(tmp_path / "night.jpg", dark, exif=NIGHT_EXIF)
    write_jpeg(tmp_path / "day.jpg", dark, exif=DAYLIGHT_EXIF)
    write_jpeg(tmp_path / "plain.jpg", dark)  # no settings: not a row
    done = _run("benchmarks/night_look.py", str(tmp_path), "--model", "lynx-fast")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:]}
    assert set(rows) == {"day.jpg", "night.jpg", "mean,"}
    assert float(rows["night.jpg"][2]) == -1.5 and float(rows["day.jpg"][2]) == 0.0
    night_luma = [float(v) for v in rows["night.jpg"][3].split("/")]  # in / without / with the look
    assert night_luma[2] < night_luma[1]
    day_luma = [float(v) for v in rows["day.jpg"][3].split("/")]
    assert day_luma[2] == day_luma[1]
    # --strip: without their settings and with --night-look, judged from the picture (this dark:
    # the night one lands where its settings put it; the day one is taken for a dim scene).
    done = _run("benchmarks/night_look.py", str(tmp_path), "--model", "lynx-fast", "--strip")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:]}
    assert float(rows["night.jpg"][3]) == -1.5 and abs(float(rows["night.jpg"][4])) < 0.05
    assert float(rows["day.jpg"][3]) == -1.5 and float(rows["day.jpg"][4]) < -1.0
    assert "within 0.5 EV 1" in done.stdout


def test_write_formats_prints_a_row_per_format(tmp_path):
    from PIL import features

    from llid_cli.io import Image, write_image

    formats = ["jpeg", "png", "heic"] + (["avif"] if features.check("avif") else [])
    photo = tmp_path / "out.png"
    write_image(Image(pixels=gradient_rgb(96, 128)), photo)
    done = _run("benchmarks/write_formats.py", str(photo), "--formats", ",".join(f"{f}:95" for f in formats), "--repeat", "1")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[2:]}
    assert set(rows) == set(formats)
    for row in rows.values():
        assert float(row[2]) >= 0 and float(row[3]) > 0  # seconds, MiB
    assert rows["png"][4] == "inf" and 35 < float(rows["jpeg"][4]) < 80  # lossless; lossy at q95


def test_shadow_colour_prints_casts_and_whites_per_folder(tmp_path):
    from PIL import Image as PILImage
    from test_whites import high_key

    (tmp_path / "f").mkdir()
    PILImage.fromarray(gradient_rgb(64, 80, seed=1, dark=0.1)).save(tmp_path / "f" / "dark.png")
    PILImage.fromarray(high_key()).save(tmp_path / "f" / "white.png")
    done = _run("benchmarks/shadow_colour.py", str(tmp_path / "f"), "--model", "lynx-fast", "--each")
    assert done.returncode == 0, done.stderr
    import re

    last = done.stdout.strip().splitlines()[-1]
    summary = last.split()
    assert summary[0] == "f" and summary[1] == "2" and float(summary[2]) >= 0 and float(summary[3]) >= 0
    photos, level_in, level_out = re.search(r"\|\s+(\d+)\s+([\d.]+)->\s*([\d.]+)", last).groups()
    assert photos == "1" and float(level_out) >= float(level_in) - 1  # the white photo kept white


def test_chroma_blotches_scores_synthetic_night_pairs(tmp_path):
    from PIL import Image as PILImage

    for i in range(2):
        PILImage.fromarray(gradient_rgb(96, 128, seed=i, dark=0.3)).save(tmp_path / f"c{i}.png")
    done = _run("benchmarks/chroma_blotches.py", str(tmp_path), "--models", "lynx-fast", "--count", "2")
    assert done.returncode == 0, done.stderr
    row = done.stdout.strip().splitlines()[-1].split()
    assert row[0] == "lynx-fast" and 0 <= float(row[1]) <= float(row[2]) and row[3] == "2"


def test_pixel_grid_finds_a_planted_pattern_and_not_noise(tmp_path):
    """benchmarks/pixel_grid.py: a pattern repeating every 4 pixels, 2 levels deep, in a smooth
    noisy sky reads as about 2 levels mod 4 (and mod 8); the noise alone as a small fraction."""
    from PIL import Image as PILImage

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from pixel_grid import grid, night_sky
    finally:
        sys.path.pop(0)
    rng = np.random.default_rng(1)
    sky = 60 + np.linspace(0, 20, 256)[:, None, None] + rng.normal(0, 1.0, (256, 320, 3))
    planted = sky.copy()
    planted[::4, ::4] += 2.0  # one sub-pixel of every 4x4 cell
    clean_figure = grid(np.clip(np.rint(sky), 0, 255).astype(np.uint8))
    planted_figure = grid(np.clip(np.rint(planted), 0, 255).astype(np.uint8))
    assert clean_figure[0] < 0.3 and 1.5 < planted_figure[0] < 2.5 and planted_figure[1] > 1.5
    PILImage.fromarray(night_sky(96, 128)).save(tmp_path / "sky.png")
    done = _run("benchmarks/pixel_grid.py", str(tmp_path / "sky.png"), "--models", "lynx-fast")
    assert done.returncode == 0, done.stderr
    row = done.stdout.strip().splitlines()[-1].split()
    assert row[0] == "lynx-fast" and float(row[1]) >= 0 and row[2] == "/" and float(row[3]) >= float(row[1]) - 1e-9


def test_render_digest_proves_identical_renderings_and_names_a_changed_one(tmp_path):
    """scripts/render_digest.py: the same code renders the same digests; a digest that differs
    (as after a change of behaviour) is named and fails the check."""
    import json

    digests = tmp_path / "d.json"
    done = _run("scripts/render_digest.py", "--models", "lynx-fast,clahe", "--write", str(digests))
    assert done.returncode == 0, done.stderr
    written = json.loads(digests.read_text())
    assert "lynx-fast/onnx/tiles64/16bit/exposure+1" in written and "clahe/torch/whole/8bit-night/night" in written
    done = _run("scripts/render_digest.py", "--models", "lynx-fast,clahe", "--check", str(digests))
    assert done.returncode == 0 and f"{len(written)} renderings identical, 0 changed" in done.stdout, done.stdout
    key = "lynx-fast/torch/whole/8bit/plain"
    digests.write_text(json.dumps({**written, key: "0" * 64}))
    done = _run("scripts/render_digest.py", "--models", "lynx-fast,clahe", "--check", str(digests))
    assert done.returncode == 1 and f"changed: {key}" in done.stdout


def test_compare_speed_runs_two_checkouts_in_one_run():
    """Here against itself: one line per configuration, a ratio near 1 from the same code."""
    root = Path(__file__).resolve().parents[1]
    done = _run("benchmarks/compare_speed.py", "--other", str(root), "--rounds", "1", "--repeats", "1",
                "--configs", "lynx-fast/torch")
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("lynx-fast/torch") and "this/other" in line
    assert 0.3 < float(line.rsplit(" ", 1)[1]) < 3.0


def test_video_speed_prints_fps_and_memory():
    done = _run("benchmarks/video_speed.py", "--sizes", "240p", "--models", "lynx-fast", "--frames", "4",
                "--precisions", "fp32,bf16")
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.strip().splitlines()[1:]]
    assert [row[:4] for row in rows] == [["240p", "lynx-fast", "fp32", "4"], ["240p", "lynx-fast", "bf16", "4"]]
    assert all(float(row[4]) > 0 and float(row[5]) >= 0 for row in rows)


def test_video_quality_prints_flicker_and_denoising(tmp_path):
    from PIL import Image as PILImage

    photo = tmp_path / "p.png"
    PILImage.fromarray(gradient_rgb(96, 128, seed=4)).save(photo)
    done = _run("benchmarks/video_quality.py", str(photo), "--model", "lynx-fast", "--frames", "12")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in done.stdout.splitlines()[2:]}
    assert set(rows) == {"static", "lamp", "patch", "pan", "moving"}
    assert rows["static"][3] > rows["static"][2]  # the temporal filter gains on a still clip


def test_video_ray_compares_the_joined_video_with_a_single_run():
    pytest.importorskip("ray")
    done = _run("benchmarks/video_ray.py", "--size", "240p", "--seconds", "3", "--segment", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("240p, 90 frames, lynx-fast, 2 workers")
    assert "same frames and timestamps: True" in lines[3]
    assert float(lines[3].split("largest exposure difference: ")[1].split()[0]) < 0.01
