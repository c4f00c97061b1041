"""Everyday failures: each becomes one file's clean failure, and the rest of the work goes on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner
from conftest import gradient_rgb, write_jpeg

from llid_cli.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def exif_with_ascii_orientation() -> bytes:
    """An EXIF block whose Orientation (tag 274) is the ASCII string "abc", as some tools write it."""
    import struct

    entry = struct.pack("<HHI4s", 274, 2, 4, b"abc\x00")  # type 2 = ASCII, 4 bytes inline
    ifd = struct.pack("<H", 1) + entry + struct.pack("<I", 0)
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd


def test_ascii_orientation_tag_is_ignored_not_fatal(tmp_path):
    from llid_cli.io import read_image

    photos = tmp_path / "in"
    photos.mkdir()
    odd = write_jpeg(photos / "odd.jpg", gradient_rgb(40, 56, dark=0.2), exif=exif_with_ascii_orientation())
    write_jpeg(photos / "plain.jpg", gradient_rgb(40, 56, seed=2, dark=0.2))
    assert read_image(odd).pixels.shape == (40, 56, 3)  # upright as stored
    result = run("batch", photos, "-o", tmp_path / "out", "--model", "lynx-fast")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.jpg")) == ["odd.jpg", "plain.jpg"]


def test_an_unexpected_exception_is_one_files_failure(tmp_path, monkeypatch):
    from llid_cli.rendering import pipeline

    photos = tmp_path / "in"
    photos.mkdir()
    for name in ("a", "b", "c"):
        write_jpeg(photos / f"{name}.jpg", gradient_rgb(32, 48, seed=ord(name), dark=0.2))
    real_read = pipeline.read_image

    def flaky_read(path, *args, **kwargs):
        if Path(path).name == "b.jpg":
            raise ValueError("invalid literal for int() with base 10: 'abc'")
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "read_image", flaky_read)
    result = run("batch", photos, "-o", tmp_path / "out", "--model", "lynx-fast")
    assert result.exit_code == 1
    assert "b.jpg" in result.output and "unexpected ValueError" in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.jpg")) == ["a.jpg", "c.jpg"]


def test_enhance_carries_on_past_a_bad_photo(tmp_path, bad_files):
    good = write_jpeg(tmp_path / "good.jpg", gradient_rgb(32, 48, dark=0.2))
    good2 = write_jpeg(tmp_path / "good2.jpg", gradient_rgb(32, 48, seed=3, dark=0.2))
    out = tmp_path / "out"
    result = run("enhance", good, bad_files["truncated"], good2, "-o", f"{out}/", "--model", "lynx-fast")
    assert result.exit_code == 1
    assert (out / "good.jpg").is_file() and (out / "good2.jpg").is_file()
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and str(bad_files["truncated"]) in errors[0]
    assert "1 of 3 photos failed" in result.output
    from llid_cli.io import read_image

    assert read_image(out / "good2.jpg").pixels.shape == (32, 48, 3)


def test_two_inputs_that_would_share_an_output_are_refused_before_any_work(tmp_path):
    photos = tmp_path / "in"
    photos.mkdir()
    write_jpeg(photos / "x.jpg", gradient_rgb(32, 48, dark=0.2))
    from PIL import Image

    Image.fromarray(gradient_rgb(32, 48, seed=4, dark=0.2)).save(photos / "x.png")
    for extra in ([], ["--overwrite"]):
        result = run("batch", photos, "-o", tmp_path / "out", "--format", "png", "--model", "lynx-fast", *extra)
        assert result.exit_code == 1
        assert "x.jpg" in result.output and "x.png" in result.output and "both" in result.output
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    (tmp_path / "p").mkdir()
    (tmp_path / "q").mkdir()
    first = write_jpeg(tmp_path / "p" / "x.jpg", gradient_rgb(32, 48, dark=0.2))
    second = write_jpeg(tmp_path / "q" / "x.jpg", gradient_rgb(32, 48, seed=5, dark=0.2))
    result = run("enhance", first, second, "-o", f"{tmp_path / 'two'}/", "--model", "lynx-fast")
    assert result.exit_code == 1 and str(first) in result.output and str(second) in result.output
    assert not (tmp_path / "two" / "x.jpg").exists()


def test_eval_refuses_to_score_a_folder_against_itself(tmp_path):
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(gradient_rgb(32, 48)).save(folder / "a.png")
    result = run("eval", folder, "--ref", folder)
    assert result.exit_code == 1
    assert "both the output to score and its reference" in result.output and "inf" not in result.output


def test_enhance_output_names_that_contradict_the_request_are_usage_errors(tmp_path):
    photo = write_jpeg(tmp_path / "a.jpg", gradient_rgb(32, 48, dark=0.2))
    other = write_jpeg(tmp_path / "b.jpg", gradient_rgb(32, 48, seed=6, dark=0.2))
    result = run("enhance", photo, "-o", tmp_path / "out.png", "--format", "jpeg")
    assert result.exit_code == 2 and "out.jpg" in result.output and not (tmp_path / "out.png").exists()
    result = run("enhance", photo, other, "-o", tmp_path / "two.jpg")
    assert result.exit_code == 2 and "output folder" in result.output and not (tmp_path / "two.jpg").exists()
    result = run("enhance", tmp_path)
    assert result.exit_code == 2 and "llid batch" in result.output
    assert run("enhance", photo, "-o", tmp_path / "same.jpeg", "--format", "jpeg", "--model", "lynx-fast").exit_code == 0


def test_batch_leaves_its_own_output_folder_and_odd_entries_are_reported(tmp_path):
    import os

    photos = tmp_path / "in"
    photos.mkdir()
    write_jpeg(photos / "a.jpg", gradient_rgb(32, 48, dark=0.2))
    (photos / "gone.jpg").symlink_to(photos / "missing.jpg")
    (photos / "folder.jpg").mkdir()
    os.mkfifo(photos / "pipe.jpg")
    (photos / "zero.png").symlink_to("/dev/zero")
    for attempt in range(2):
        result = run("batch", photos, "-o", photos / "out", "--recursive", "--model", "lynx-fast")
        assert result.exit_code == 1
        out_files = sorted(p.relative_to(photos / "out").as_posix() for p in (photos / "out").rglob("*") if p.is_file())
        assert out_files == [".llid-batch.json", "a.jpg"]  # never out/out/a.jpg: its outputs are not inputs
    text = " ".join(result.output.split())
    for name, reason in (("gone.jpg", "broken link"), ("folder.jpg", "folder"), ("pipe.jpg", "not a regular file"),
                         ("zero.png", "not a regular file")):
        assert name in text and reason in text, (name, text)


def test_an_unwritable_report_is_refused_before_any_work(tmp_path):
    photos = tmp_path / "in"
    photos.mkdir()
    write_jpeg(photos / "a.jpg", gradient_rgb(32, 48, dark=0.2))
    result = run("batch", photos, "-o", tmp_path / "out", "--report", tmp_path / "no-such-folder" / "r.json")
    assert result.exit_code == 2 and "no-such-folder" in result.output
    assert not (tmp_path / "out").exists()


def test_failures_are_plain_unwrapped_lines_when_not_on_a_terminal(tmp_path, bad_files):
    result = run("batch", bad_files["text"].parent, "-o", tmp_path / "out")
    assert result.exit_code == 1
    for path in bad_files.values():
        if path.suffix != ".xyz":
            assert any(line.startswith(f"{path}: ") for line in result.output.splitlines()), path


import pytest  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("signum,code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_interrupted_batch_exits_128_plus_signal_and_reports_what_finished(tmp_path, signum, code):
    import json
    import signal
    import subprocess
    import sys
    import time

    src = tmp_path / "in"
    src.mkdir()
    for i in range(30):
        write_jpeg(src / f"p{i:02d}.jpg", gradient_rgb(400, 600, seed=i, dark=0.2))
    out, report = tmp_path / "out", tmp_path / "report.json"
    # A shell without job control starts background commands with SIGINT ignored, and Python then
    # keeps it ignored: give the child the default disposition, as a terminal's Ctrl-C would find.
    proc = subprocess.Popen([sys.executable, "-m", "llid_cli", "batch", str(src), "-o", str(out), "--quiet",
                             "--model", "resse", "--report", str(report)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    # Wait for a finished output: a hidden temporary file is a write still in flight.
    while time.time() < deadline and not (out.exists() and any(not p.name.startswith(".") for p in out.iterdir())):
        time.sleep(0.02)
    proc.send_signal(getattr(signal, signum))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Aborted" not in err and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("llid: "), err
    summary = json.loads(report.read_text())
    assert summary["interrupted"] is True
    done = {Path(f["output"]).name for f in summary["files"] if f["status"] == "done"}
    present = {p.name for p in out.iterdir() if p.name != ".llid-batch.json"}  # not the batch's record
    # Every reported file is there; at most the one in flight may have landed after the last report line.
    assert done <= present and len(present - done) <= 1 and 0 < len(present) < 30, (sorted(done), sorted(present))


def test_absurd_sizes_are_one_line_errors_before_allocating(tmp_path):
    photo = write_jpeg(tmp_path / "a.jpg", gradient_rgb(32, 48, dark=0.2))
    result = run("enhance", photo, "-o", tmp_path / "o.jpg", "--model", "clahe", "--tile-grid", "1000x1000")
    assert result.exit_code == 2 and "64x64" in result.output
    config = Path(__file__).parents[1] / "configs" / "resse.yaml"
    for setting, message in (("model.args.channels=200000", "between 0 and 4096"),
                             ("model.args.channels=-4", "between 0 and 4096"),
                             ("model.args.blocks=1000000", "between 0 and 4096"),
                             ("model.args.channels=4000", "parameters, over the limit")):
        result = run("train", "--config", config, "--run-dir", tmp_path / "run", "--set", setting)
        assert result.exit_code == 1 and message in result.output, (setting, result.output)
        assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_a_config_that_is_not_utf8_is_a_clear_error(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_bytes("model: {type: unet}\n# caf\xe9\n".encode("latin-1"))
    result = run("train", "--config", config, "--run-dir", tmp_path / "run")
    assert result.exit_code == 1 and "not UTF-8" in result.output and str(config) in result.output


def test_max_pixels_message_names_pixels_not_zero_megapixels(tmp_path):
    photo = write_jpeg(tmp_path / "a.jpg", gradient_rgb(40, 50, dark=0.2))
    result = run("enhance", photo, "-o", tmp_path / "o.jpg", "--max-pixels", "1000")
    assert result.exit_code == 1 and "2,000 pixels, over the limit of 1,000 pixels" in result.output


def test_tile_zero_means_one_pass_over_the_whole_photo(tmp_path):
    from llid_cli.engine.runner import EngineOptions, build_model_runner

    pixels = gradient_rgb(300, 420, seed=8, dark=0.2)
    runner = build_model_runner("lynx-fast", None, EngineOptions(tile=0))
    whole = runner(pixels)
    assert runner.tiler.stats.tiles == 0  # never went through the tiler
    tiled = build_model_runner("lynx-fast", None, EngineOptions(tile=128, overlap=32))(pixels)
    assert whole.shape == pixels.shape and np.abs(whole.astype(int) - tiled.astype(int)).mean() < 2
    photo = write_jpeg(tmp_path / "a.jpg", pixels)
    assert run("enhance", photo, "-o", tmp_path / "o.png", "--tile", "0", "--model", "lynx-fast").exit_code == 0
    assert run("enhance", photo, "-o", tmp_path / "o.png", "--tile", "10").exit_code == 2


def test_a_killed_writes_temporary_file_is_removed_by_the_next_write(tmp_path):
    import os
    import time

    from llid_cli.io.atomic import atomic_write_bytes

    stale = tmp_path / ".out.png.abc123.llid-tmp"
    stale.write_bytes(b"half a photo")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh = tmp_path / ".out.png.def456.llid-tmp"  # another write in progress: left alone
    fresh.write_bytes(b"")
    other = tmp_path / "unrelated.llid-tmp"
    other.write_bytes(b"")
    os.utime(other, (old, old))
    atomic_write_bytes(tmp_path / "out.png", b"done")
    assert not stale.exists() and fresh.exists() and other.exists()


def test_json_results_on_stdout(tmp_path):
    import json

    photos = tmp_path / "in"
    photos.mkdir()
    write_jpeg(photos / "a.jpg", gradient_rgb(32, 48, dark=0.2))
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2 mixes stderr into stdout unless told not to
    except TypeError:
        runner = CliRunner()  # click >= 8.2 keeps them apart
    result = runner.invoke(cli, ["batch", str(photos), "-o", str(tmp_path / "out"), "--json", "--quiet", "--model", "lynx-fast"])
    summary = json.loads(result.stdout)
    assert result.exit_code == 0 and summary["done"] == 1 and summary["files"][0]["status"] == "done"
    result = runner.invoke(cli, ["enhance", str(photos / "a.jpg"), "-o", str(tmp_path / "b.png"), "--json", "--model", "lynx-fast"])
    assert json.loads(result.stdout)["files"][0]["output"] == str(tmp_path / "b.png")
    listing = json.loads(runner.invoke(cli, ["models", "list", "--json"]).stdout)
    assert listing["default"] == "lynx" and {m["name"] for m in listing["models"]} >= {"lynx", "lynx-fast", "resse", "clahe"}
    card = json.loads(runner.invoke(cli, ["models", "info", "resse", "--json"]).stdout)
    assert card["architecture args"] == {"blocks": 8, "channels": 32} and "training_config" not in card
    machine = json.loads(runner.invoke(cli, ["info", "--json"]).stdout)
    assert machine["llid"] and machine["cpu threads"] == str(__import__("os").cpu_count())


def test_photos_through_pipes(tmp_path):
    import subprocess
    import sys

    from llid_cli.io import read_image

    photo = write_jpeg(tmp_path / "a.jpg", gradient_rgb(40, 56, dark=0.2))
    done = subprocess.run([sys.executable, "-m", "llid_cli", "enhance", "-", "-o", "-", "--format", "png",
                           "--model", "lynx-fast"], input=photo.read_bytes(), capture_output=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"\x89PNG") and done.stderr.decode().startswith("- -> -")
    (tmp_path / "b.png").write_bytes(done.stdout)
    assert read_image(tmp_path / "b.png").pixels.shape == (40, 56, 3)
    refused = subprocess.run([sys.executable, "-m", "llid_cli", "enhance", "-", "-o", "-"], input=b"not a photo",
                             capture_output=True)
    assert refused.returncode == 2 and refused.stdout == b""
