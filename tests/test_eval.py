"""`llid eval`: metrics, pairing, per-file errors, LPIPS plumbing and reports."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import gradient_rgb
from skimage.metrics import structural_similarity

from llid_cli.cli import cli
from llid_cli.io import Image, write_image
from llid_cli.metrics import level_error, mae, psnr, ssim
from llid_cli.metrics.noref import noise_sigma


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.parametrize("shape", [(48, 64, 3), (37, 53, 3), (64, 64)])
def test_ssim_agrees_with_skimage(shape):
    rng = np.random.default_rng(1)
    a = gradient_rgb(shape[0], shape[1], seed=2)
    a = a if len(shape) == 3 else a[:, :, 0]
    b = np.clip(a.astype(int) + rng.integers(-30, 30, a.shape), 0, 255).astype(np.uint8)
    expected = structural_similarity(a, b, channel_axis=2 if a.ndim == 3 else None, data_range=255)
    assert abs(ssim(a, b) - expected) < 1e-4


def test_psnr_and_mae_known_values():
    a = np.full((8, 8, 3), 100, np.uint8)
    b = a + np.uint8(10)
    assert psnr(a, b) == pytest.approx(20 * np.log10(255 / 10))
    assert mae(a, b) == pytest.approx(10 / 255)
    assert psnr(a, a) == float("inf")
    # The level error sees only the means: a brighter half and a darker half cancel out.
    assert level_error(a, b) == pytest.approx(10 / 255)
    c = a.copy()
    c[:4] += 20
    c[4:] -= 20
    assert level_error(a, c) == pytest.approx(0.0) and mae(a, c) == pytest.approx(20 / 255)


def test_noise_estimate_tracks_added_noise():
    rng = np.random.default_rng(0)
    flat = np.full((128, 128), 0.5)
    assert noise_sigma(flat) < 1e-6
    for sigma in (0.01, 0.05):
        estimate = noise_sigma(flat + rng.normal(0, sigma, flat.shape))
        assert estimate == pytest.approx(sigma, rel=0.1)


def _pairs(root, count=3, size=(40, 48)):
    for i in range(count):
        ref = gradient_rgb(*size, seed=i)
        noisy = np.clip(ref.astype(int) + (i + 1) * 8, 0, 255).astype(np.uint8)
        write_image(Image(pixels=ref), root / "ref" / f"img{i}.png")
        write_image(Image(pixels=noisy), root / "pred" / f"img{i}.png")


def test_eval_pairs_by_name_and_reports_every_format(tmp_path):
    _pairs(tmp_path)
    reports = [tmp_path / f"r.{ext}" for ext in ("json", "csv", "md", "html")]
    result = run("eval", tmp_path / "pred", "--ref", tmp_path / "ref", "--gt-mean", *sum((["--report", r] for r in reports), []))
    assert result.exit_code == 0, result.output
    data = json.loads(reports[0].read_text())
    assert len(data["cases"]) == 3 and data["failed"] == 0
    psnrs = [c["metrics"]["psnr"] for c in data["cases"]]
    assert psnrs == sorted(psnrs, reverse=True)  # larger offsets, lower PSNR
    assert data["summary"]["mean"]["psnr"] == pytest.approx(np.mean(psnrs))
    assert data["lpips"] in ("unavailable", "alexnet")
    # GT-mean figures are separate and, for a pure brightness offset, better than the plain ones.
    assert data["gt_mean_summary"]["mean"]["psnr"] > data["summary"]["mean"]["psnr"]
    assert "gt_mean" in data["cases"][0] and "psnr" in data["cases"][0]["metrics"]
    assert reports[1].read_text().splitlines()[0].startswith("name,psnr,ssim,mae")
    assert "**mean**" in reports[2].read_text() and "GT-mean" in reports[2].read_text()
    assert reports[3].read_text().startswith("<!doctype html>") and "data:image/jpeg;base64," in reports[3].read_text()


def test_eval_per_file_errors_count_and_exit_1(tmp_path):
    _pairs(tmp_path)
    write_image(Image(pixels=gradient_rgb(20, 20)), tmp_path / "pred" / "img0.png")  # size mismatch
    (tmp_path / "pred" / "orphan.png").write_bytes((tmp_path / "pred" / "img1.png").read_bytes())  # no reference
    (tmp_path / "pred" / "broken.png").write_bytes(b"not a png")  # unreadable
    (tmp_path / "ref" / "broken.png").write_bytes((tmp_path / "ref" / "img1.png").read_bytes())
    result = run("eval", tmp_path / "pred", "--ref", tmp_path / "ref", "--report", tmp_path / "r.json")
    assert result.exit_code == 1
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["failed"] == 3
    errors = " ".join(c["error"] or "" for c in data["cases"])
    assert "differs from the reference" in errors and "no reference" in errors and "broken.png" in errors
    assert "2 scored, 3 failed" in result.output


def test_eval_with_model_enhances_a_manifest_set_first(tmp_path, tiny_datasets):
    root = tiny_datasets["manifest"]
    identity = run("eval", root, "--ref", root, "--report", tmp_path / "id.json")
    assert identity.exit_code == 0, identity.output
    enhanced = run("eval", root, "--ref", root, "--model", "clahe", "-o", tmp_path / "out", "--report", tmp_path / "cl.json")
    assert enhanced.exit_code == 0, enhanced.output
    before = json.loads((tmp_path / "id.json").read_text())
    after = json.loads((tmp_path / "cl.json").read_text())
    assert len(before["cases"]) == len(after["cases"]) == 6  # the manifest's dark captures only
    assert after["summary"]["mean"]["psnr"] > before["summary"]["mean"]["psnr"]
    assert (tmp_path / "out" / "scene0" / "low_0.png").is_file()


def test_eval_without_reference_gives_no_reference_statistics(tmp_path):
    _pairs(tmp_path)
    result = run("eval", tmp_path / "pred", "--report", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert set(data["cases"][0]["metrics"]) == {"mean_luma", "contrast", "noise_sigma"}


def _fake_lpips_weights(tmp_path):
    """Random AlexNet and linear weights: LPIPS's properties hold for any backbone."""
    from safetensors.torch import save_file

    from llid_cli.metrics.lpips import _ALEX_CONVS

    gen = torch.Generator().manual_seed(0)
    backbone = {}
    for index, cin, cout, k, _, _ in _ALEX_CONVS:
        backbone[f"features.{index}.weight"] = torch.randn(cout, cin, k, k, generator=gen) * (2 / (cin * k * k)) ** 0.5
        backbone[f"features.{index}.bias"] = torch.zeros(cout)
    linear = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=gen) for i, c in enumerate((64, 192, 384, 256, 256))}
    save_file(backbone, tmp_path / "alex.safetensors")
    save_file(linear, tmp_path / "lin.safetensors")
    return tmp_path / "alex.safetensors", tmp_path / "lin.safetensors"


def test_lpips_properties_hold(tmp_path):
    from llid_cli.metrics.lpips import load_lpips

    model = load_lpips(*[str(p) for p in _fake_lpips_weights(tmp_path)])
    rng = np.random.default_rng(0)
    x = gradient_rgb(64, 64, seed=5)
    mild = np.clip(x + rng.normal(0, 5, x.shape), 0, 255).astype(np.uint8)
    strong = np.clip(x + rng.normal(0, 40, x.shape), 0, 255).astype(np.uint8)
    assert model.distance(x, x) == pytest.approx(0.0, abs=1e-6)
    assert model.distance(x, mild) == pytest.approx(model.distance(mild, x), rel=1e-5)
    assert 0 < model.distance(x, mild) < model.distance(x, strong)


def test_lpips_in_the_cli_when_given_and_a_clear_error_when_missing(tmp_path, monkeypatch):
    _pairs(tmp_path)
    for var in ("LLID_LPIPS_BACKBONE", "LLID_LPIPS_LINEAR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no-torch-home"))
    missing = run("eval", tmp_path / "pred", "--ref", tmp_path / "ref", "--lpips", "--lpips-linear", tmp_path / "nope.pth")
    assert missing.exit_code == 1 and "LLID_LPIPS_BACKBONE" in missing.output
    backbone, linear = _fake_lpips_weights(tmp_path)
    result = run("eval", tmp_path / "pred", "--ref", tmp_path / "ref", "--lpips-backbone", backbone,
                 "--lpips-linear", linear, "--report", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["lpips"] == "alexnet" and data["summary"]["mean"]["lpips"] > 0


@pytest.mark.slow
def test_html_report_renders_in_headless_chromium(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    _pairs(tmp_path)
    report = tmp_path / "r.html"
    assert run("eval", tmp_path / "pred", "--ref", tmp_path / "ref", "--report", report).exit_code == 0
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900", f"--screenshot={shot}",
                    report.as_uri()], capture_output=True, timeout=120)
    import cv2

    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (900, 1200)
    assert image.std() > 10  # not a blank page: text, thumbnails and the table rendered
