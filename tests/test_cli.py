"""The command line: exit codes, messages, batch resume and failure reports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import gradient_rgb, write_jpeg

from llid_cli.cli import cli
from llid_cli.io import read_image


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_version_and_help():
    from llid_cli import __version__

    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.output
    result = run("-h")
    assert result.exit_code == 0
    for name in ("enhance", "batch", "eval", "train", "export", "models", "info"):
        assert name in result.output


def test_help_does_not_import_torch():
    code = "import sys; from llid_cli.cli import main; sys.argv=['llid','--help']\ntry: main()\nexcept SystemExit: pass\nprint('torch' in sys.modules, 'cv2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False False"


def test_enhance_one_file(tmp_path, dark_jpeg):
    out = tmp_path / "out.png"
    result = run("enhance", dark_jpeg, "-o", out)
    assert result.exit_code == 0, result.output
    assert read_image(out).pixels.mean() > read_image(dark_jpeg).pixels.mean() * 2


def test_enhance_several_into_folder_with_suffix(tmp_path, dark_jpeg):
    second = write_jpeg(tmp_path / "second.jpg", gradient_rgb(20, 30, dark=0.2))
    result = run("enhance", dark_jpeg, second, "-o", tmp_path / "outs", "--suffix", "_x", "--format", "png")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "outs").iterdir()) == ["dark_x.png", "second_x.png"]


def test_enhance_into_a_new_folder_named_with_a_slash(tmp_path, dark_jpeg):
    """`-o NAME/` is a folder even for one photo and even before it exists; a name without an
    extension (and no --format) is refused with the way out, before anything is done."""
    result = run("enhance", dark_jpeg, "-o", f"{tmp_path / 'new'}/")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["dark.jpg"]
    result = run("enhance", dark_jpeg, "-o", tmp_path / "plain")
    assert result.exit_code == 2 and not (tmp_path / "plain").exists()
    message = " ".join(result.output.split())
    assert "no extension to choose a format by" in message and "plain.jpg" in message and "end it with /" in message
    assert run("enhance", dark_jpeg, "-o", tmp_path / "plain", "--format", "png").exit_code == 0
    assert (tmp_path / "plain").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # --format decides

def test_enhance_without_output_writes_beside_input(tmp_path, dark_jpeg):
    result = run("enhance", dark_jpeg)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "dark_llid.jpg").exists()


def test_enhance_refuses_to_overwrite_input_unless_asked(tmp_path, dark_jpeg):
    before = dark_jpeg.read_bytes()
    result = run("enhance", dark_jpeg, "-o", dark_jpeg)
    assert result.exit_code == 1
    assert "overwrite the input" in result.output and str(dark_jpeg) in result.output
    assert dark_jpeg.read_bytes() == before
    assert run("enhance", dark_jpeg, "-o", dark_jpeg, "--overwrite").exit_code == 0
    assert dark_jpeg.read_bytes() != before


@pytest.mark.parametrize("kind", ["empty", "truncated", "text", "huge", "unsupported"])
def test_enhance_bad_file_is_one_line_error(tmp_path, bad_files, kind):
    result = run("enhance", bad_files[kind], "-o", tmp_path / "o.png")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and str(bad_files[kind]) in lines[0]
    assert not (tmp_path / "o.png").exists()


def test_usage_error_exits_2(dark_jpeg):
    assert run("enhance", dark_jpeg, "--quality", "500").exit_code == 2
    assert run("enhance").exit_code == 2
    assert run("nonsense").exit_code == 2


def test_unknown_model_is_a_clean_error(tmp_path, dark_jpeg):
    result = run("enhance", dark_jpeg, "-o", tmp_path / "o.jpg", "--model", "no-such-model")
    assert result.exit_code == 1 and "unknown model 'no-such-model'" in result.output


def test_debug_shows_the_traceback(tmp_path, bad_files):
    from llid_cli.core.errors import ImageReadError

    with pytest.raises(ImageReadError):
        CliRunner().invoke(cli, ["--debug", "enhance", str(bad_files["empty"]), "-o", str(tmp_path / "o.png")],
                           catch_exceptions=False)


def test_info_lists_runtimes():
    result = run("info")
    assert result.exit_code == 0
    assert "torch" in result.output and "onnxruntime" in result.output


def test_info_says_which_photo_formats_this_installation_handles(monkeypatch):
    """`llid info` names the formats read and written here, and how to add a missing one."""
    import json
    import sys

    everything = json.loads(run("info", "--json").output)
    assert everything["reads"].split() == ["JPEG", "PNG", "TIFF", "WEBP", "BMP", "HEIC", "AVIF", "RAW"]
    assert everything["writes"].split() == ["JPEG", "PNG", "TIFF", "WEBP", "BMP", "HEIC", "AVIF"]
    assert "to add" not in everything
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as without the heic extra
    without = json.loads(run("info", "--json").output)
    assert "HEIC" not in without["reads"] and "HEIC" not in without["writes"]
    hint = "HEIC: pip install 'llid[heic]' (in a checkout of llid: pip install '.[heic]')"
    assert without["to add"] == hint
    table = run("info").output  # the table, where rich once took "[heic]" for markup and dropped it
    assert " ".join(hint.split()) in " ".join(table.split())


def _photo_folder(root, count=3):
    (root / "sub").mkdir(parents=True)
    for i in range(count):
        write_jpeg(root / f"p{i}.jpg", gradient_rgb(30, 40, seed=i, dark=0.2))
    write_jpeg(root / "sub" / "deep.jpg", gradient_rgb(30, 40, seed=9, dark=0.2))
    return root


def test_batch_recursive_keeps_layout_and_resumes(tmp_path):
    src = _photo_folder(tmp_path / "in")
    out = tmp_path / "out"
    result = run("batch", src, "-o", out, "--recursive", "--quiet")
    assert result.exit_code == 0, result.output
    assert (out / "sub" / "deep.jpg").exists() and len(list(out.rglob("*.jpg"))) == 4
    assert "4 enhanced, 0 skipped" in result.output
    # A re-run resumes: nothing is redone unless --overwrite.
    stamp = (out / "p0.jpg").stat().st_mtime_ns
    result = run("batch", src, "-o", out, "--recursive", "--quiet")
    assert "0 enhanced, 4 skipped" in result.output and (out / "p0.jpg").stat().st_mtime_ns == stamp
    result = run("batch", src, "-o", out, "--recursive", "--quiet", "--overwrite")
    assert "4 enhanced, 0 skipped" in result.output


def test_batch_carries_on_past_bad_files_and_reports_them(tmp_path, bad_files):
    folder = bad_files["empty"].parent
    for i in range(2):
        write_jpeg(folder / f"good{i}.jpg", gradient_rgb(30, 40, seed=i, dark=0.2))
    out, report = tmp_path / "out", tmp_path / "summary.json"
    result = run("batch", folder, "-o", out, "--report", report, "--quiet")
    assert result.exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == [".llid-batch.json", "good0.jpg", "good1.jpg"]
    for kind in ("empty", "truncated", "text", "huge"):
        assert bad_files[kind].name in result.output
    summary = json.loads(report.read_text())
    assert summary["done"] == 2 and summary["failed"] == 4
    failed = {os.path.basename(f["input"]): f["error"] for f in summary["files"] if f["status"] == "failed"}
    assert "empty file" in failed["empty.jpg"] and "100000x100000" in failed["huge.png"]


def test_batch_into_its_own_folder_needs_a_suffix(tmp_path):
    src = _photo_folder(tmp_path / "in", count=1)
    result = run("batch", src, "-o", src)
    assert result.exit_code == 1 and "overwrite its input" in result.output
    assert run("batch", src, "-o", src, "--suffix", "_bright", "--quiet").exit_code == 0
    assert (src / "p0_bright.jpg").exists()


def test_batch_16bit_png_stays_16bit(tmp_path):
    from llid_cli.io import Image, write_image

    src = tmp_path / "in"
    write_image(Image(pixels=gradient_rgb(20, 20, dtype=np.uint16, dark=0.1)), src / "a.png")
    assert run("batch", src, "-o", tmp_path / "out", "--quiet").exit_code == 0
    assert read_image(tmp_path / "out" / "a.png").pixels.dtype == np.uint16


@pytest.mark.slow
def test_killed_batch_leaves_only_complete_outputs(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(40):
        write_jpeg(src / f"p{i:02d}.jpg", gradient_rgb(400, 600, seed=i, dark=0.2))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "llid_cli", "batch", str(src), "-o", str(out), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and not (out.exists() and any(out.glob("*.jpg"))):
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    files = [f for f in out.iterdir() if f.name != ".llid-batch.json"]  # the batch's record (made_with.py)
    assert all(not f.name.startswith(".") for f in files), files  # no temporary files left
    for f in files:
        assert read_image(f).pixels.shape == (400, 600, 3)  # every output is complete
    assert len(files) < 40
    # Resuming finishes the job.
    done = subprocess.run([sys.executable, "-m", "llid_cli", "batch", str(src), "-o", str(out), "--quiet"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and len(list(out.glob("*.jpg"))) == 40


def test_a_resume_with_other_settings_is_refused_and_overwrite_redoes(tmp_path):
    """`llid batch` resumes by skipping outputs that exist; outputs made with other settings are not
    taken for finished ones: the run is refused, naming the difference, and nothing is touched."""
    src = _photo_folder(tmp_path / "in", count=2)
    out = tmp_path / "out"
    assert run("batch", src, "-o", out, "--model", "clahe", "--gain", "2", "--quiet").exit_code == 0
    first = {p.name: p.read_bytes() for p in out.glob("*.jpg")}
    assert (out / ".llid-batch.json").is_file() and len(first) == 2
    result = run("batch", src, "-o", out, "--model", "clahe", "--gain", "3", "--quiet")
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert f"{out} holds 2 outputs of this batch made with other settings" in message
    assert "(CLAHE settings gain=2 there, gain=3 now)" in message
    assert "--overwrite" in message
    assert {p.name: p.read_bytes() for p in out.glob("*.jpg")} == first
    # The same settings resume; --overwrite redoes them, and then they resume under the new ones.
    assert "0 enhanced, 2 skipped" in run("batch", src, "-o", out, "--model", "clahe", "--gain", "2", "--quiet").output
    result = run("batch", src, "-o", out, "--model", "clahe", "--gain", "3", "--quiet", "--overwrite")
    assert "2 enhanced, 0 skipped" in result.output
    assert {p.name: p.read_bytes() for p in out.glob("*.jpg")} != first
    assert "0 enhanced, 2 skipped" in run("batch", src, "-o", out, "--model", "clahe", "--gain", "3", "--quiet").output
    # Another model: named, without its weights (another model has other weights anyway).
    result = run("batch", src, "-o", out, "--model", "lynx-fast", "--exposure", "-1", "--quiet")
    message = " ".join(result.output.split())
    assert result.exit_code == 2 and "--model clahe there, lynx-fast now; --exposure 0 there, -1 now" in message
    assert "weights" not in message and "CLAHE" not in message
    # ... nor its --denoise default, which the user never set (clahe 0, lynx 1).
    result = run("batch", src, "-o", out, "--model", "lynx", "--gain", "3", "--pre", "clahe", "--quiet")
    message = " ".join(result.output.split())
    assert result.exit_code == 2 and "--model clahe there, lynx now" in message and "--denoise" not in message


def test_light_colours_is_gone_with_its_reason_and_its_old_outputs_are_not_resumed(tmp_path):
    """--light-colours was removed (docs/colour.md): passing it says why; a folder made with it by
    an older llid is not taken for finished outputs of a run without it."""
    import json

    src = _photo_folder(tmp_path / "in", count=1)
    out = tmp_path / "out"
    result = run("enhance", next(src.iterdir()), "-o", tmp_path / "x.jpg", "--light-colours")
    assert result.exit_code == 2 and "--light-colours was removed" in result.output
    assert not (tmp_path / "x.jpg").exists()
    assert run("batch", src, "-o", out, "--model", "lynx-fast", "--quiet").exit_code == 0
    records = json.loads((out / ".llid-batch.json").read_text())
    assert "light_colours" not in next(iter(records.values()))
    for settings in records.values():
        settings["light_colours"] = True  # as an llid with the flag recorded a run that used it
    (out / ".llid-batch.json").write_text(json.dumps(records))
    result = run("batch", src, "-o", out, "--model", "lynx-fast", "--quiet")
    assert result.exit_code == 2 and "--light-colours on there, removed now" in " ".join(result.output.split())


def test_a_resume_record_is_kept_per_naming_and_a_folder_without_one_resumes(tmp_path):
    src = _photo_folder(tmp_path / "in", count=1)
    out = tmp_path / "out"
    assert run("batch", src, "-o", out, "--model", "lynx-fast", "--quiet").exit_code == 0
    # A setting given as its default is no difference (lynx-fast ships without a noise filter).
    assert "0 enhanced, 1 skipped" in run("batch", src, "-o", out, "--model", "lynx-fast", "--denoise", "0").output
    result = run("batch", src, "-o", out, "--model", "lynx-fast", "--denoise", "1")
    assert result.exit_code == 2 and "(--denoise 0 there, 1 now)" in " ".join(result.output.split())
    # Outputs of another suffix or format are other files: no conflict, each naming has its record.
    assert run("batch", src, "-o", out, "--model", "lynx-fast", "--exposure", "1", "--suffix", "_up", "--quiet").exit_code == 0
    assert run("batch", src, "-o", out, "--model", "lynx-fast", "--exposure", "1", "--format", "png", "--quiet").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [".llid-batch.json", "p0.jpg", "p0.png", "p0_up.jpg"]
    assert run("batch", src, "-o", out, "--model", "lynx-fast", "--exposure", "1", "--suffix", "_up", "--quiet").exit_code == 0
    assert run("batch", src, "-o", out, "--model", "lynx-fast", "--exposure", "1", "--quiet").exit_code == 2
    # Other weights for the same model are a difference too (a fine-tune of the shipped ones).
    import torch

    from llid_cli.models.locations import weights_dir
    from llid_cli.models.weights import load_model, save_weights

    model, info = load_model(weights_dir() / "lynx-fast.safetensors")
    with torch.no_grad():
        model.head.bias.add_(0.01)
    tuned = save_weights(model, tmp_path / "tuned.safetensors", info.architecture, info.arch_args, fp16=True)
    result = run("batch", src, "-o", out, "--model", "lynx-fast", "--weights", tmp_path / "tuned.safetensors",
                 "--exposure", "1", "--suffix", "_up", "--quiet")
    message = " ".join(result.output.split())
    assert result.exit_code == 2 and "(weights sha256 " in message and f"sha256 {tuned.file_sha256[:12]} now" in message
    # An unreadable record, or none (a folder made by hand or by an older llid), resumes as before.
    (out / ".llid-batch.json").write_text("{not json")
    result = run("batch", src, "-o", out, "--model", "lynx-fast", "--exposure", "1", "--quiet")
    assert result.exit_code == 0 and "0 enhanced, 1 skipped" in result.output
    (out / ".llid-batch.json").unlink()
    assert "0 enhanced, 1 skipped" in run("batch", src, "-o", out, "--model", "lynx-fast", "--exposure", "2", "--quiet").output
