"""Faults found by a fault drill and a newcomer's trial (issue 31): each ends in one line, with
nothing lost."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image as PILImage

from llid_cli.cli import cli


def small_photo(path: Path, level: int = 20) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.new("RGB", (64, 48), (level, level + 4, level - 4)).save(path)
    return path


def run(*args, input: bytes | None = None, env: dict | None = None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, env=env)


def test_a_photo_piped_in_without_o_comes_out_through_the_pipe(tmp_path):
    photo = small_photo(tmp_path / "a.jpg")
    result = CliRunner().invoke(cli, ["enhance", "-", "--model", "clahe"], input=photo.read_bytes())
    assert result.exit_code == 0, result.output
    out = PILImage.open(io.BytesIO(result.stdout_bytes))
    assert out.format == "JPEG" and out.size == (64, 48)  # the format it came in
    assert np.asarray(out).mean() > 25  # enhanced, not the input echoed


@pytest.mark.parametrize("option, value", [
    ("--exposure", "nan"), ("--exposure", "inf"), ("--strength", "nan"), ("--denoise", "nan"),
    ("--gain", "inf"), ("--gain", "nan"), ("--clip-limit", "nan"), ("--target-luma", "nan"),
    ("--max-pixels", "nan"), ("--max-pixels", "inf"), ("--max-pixels", "1e400"),
])
def test_non_finite_numbers_are_refused_in_one_line(tmp_path, option, value):
    photo = small_photo(tmp_path / "a.png")
    result = run("enhance", photo, "-o", tmp_path / "out.png", "--model", "clahe", option, value)
    assert result.exit_code == 2
    assert "not a finite number" in result.output and option in result.output
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_non_finite_max_pixels_from_the_environment_is_refused(tmp_path, value):
    photo = small_photo(tmp_path / "a.png")
    result = run("enhance", photo, "-o", tmp_path / "out.png", "--model", "clahe", env={"LLID_MAX_PIXELS": value})
    assert result.exit_code == 2 and "not a finite number" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_more_threads_than_the_machine_has_are_refused(tmp_path):
    photo = small_photo(tmp_path / "a.png")
    result = run("enhance", photo, "-o", tmp_path / "out.png", "--threads", (os.cpu_count() or 1) * 64 + 1)
    assert result.exit_code == 2 and "CPU threads" in result.output
    assert run("enhance", photo, "-o", tmp_path / "out.png", "--model", "clahe", "--threads", 1).exit_code == 0


def test_a_symlink_loop_in_a_batch_is_that_entry_s_failure(tmp_path):
    small_photo(tmp_path / "in" / "a.jpg")
    (tmp_path / "in" / "self.jpg").symlink_to("self.jpg")
    result = run("batch", tmp_path / "in", "-o", tmp_path / "out", "--model", "clahe")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert (tmp_path / "out" / "a.jpg").is_file()
    assert "self.jpg: a link that leads back to itself" in result.output


@pytest.mark.parametrize("kind", ["folder", "deep", "fifo", "huge"])
def test_a_batch_record_that_is_no_record_neither_hangs_nor_breaks_the_batch(tmp_path, kind):
    """A record that is a folder, JSON nested 100,000 deep, a FIFO (a plain read blocks forever)
    or a huge file counts as no record when read; one that cannot be replaced is a one-line error."""
    from llid_cli.rendering import made_with

    small_photo(tmp_path / "in" / "a.png")
    record = tmp_path / "out" / made_with.RECORD
    record.parent.mkdir()
    if kind == "folder":
        record.mkdir()
    elif kind == "deep":
        record.write_text("[" * 100_000 + "]" * 100_000)
    elif kind == "fifo":
        os.mkfifo(record)
    else:
        record.write_text('{"x": "' + "y" * (made_with.MAX_RECORD_BYTES + 10) + '"}')
    assert made_with.differences(tmp_path / "out", "key", {"model": "clahe"}) == []
    result = run("batch", tmp_path / "in", "-o", tmp_path / "out", "--model", "clahe")
    if kind == "folder":  # nothing can replace a folder: refused in one line, before any photo
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
        assert "cannot write the batch's record" in result.output and "\n" not in result.output.strip()
        assert not (tmp_path / "out" / "a.png").exists()
    else:
        assert result.exit_code == 0, result.output
        assert (tmp_path / "out" / "a.png").is_file()


@pytest.mark.parametrize("what", ["record", "report"])
def test_a_full_disk_is_a_one_line_error(tmp_path, monkeypatch, what):
    """ENOSPC while writing the batch's record (before any photo) or its --report (after all of
    them): one line naming the file, no traceback; the finished outputs stay."""
    import errno

    from llid_cli.io import atomic

    real = atomic.atomic_write_bytes

    def full(path, data):
        if Path(path).name == (".llid-batch.json" if what == "record" else "r.json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(atomic, "atomic_write_bytes", full)
    monkeypatch.setattr("llid_cli.rendering.made_with.atomic_write_bytes", full)
    small_photo(tmp_path / "in" / "a.png")
    result = run("batch", tmp_path / "in", "-o", tmp_path / "out", "--model", "clahe", "--report", tmp_path / "r.json")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "No space left on device" in result.output
    assert (tmp_path / "out" / "a.png").is_file() == (what == "report")


def test_a_killed_writer_s_temporary_file_goes_at_the_next_resume_whatever_its_age(tmp_path):
    """A process killed mid-write (kill -9) leaves its hidden temporary file; a resume started
    seconds later removes it (its writer is gone), while a live writer's file is kept."""
    import signal
    import subprocess
    import sys

    small_photo(tmp_path / "in" / "a.png")
    small_photo(tmp_path / "in" / "big.png")
    out = tmp_path / "out"
    assert run("batch", tmp_path / "in", "-o", out, "--model", "clahe").exit_code == 0
    # A writer that is killed while writing big.png again: its temporary file stays.
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys, time, os, tempfile\n"
        "from llid_cli.io import atomic\n"
        "real = os.replace\n"
        "def stuck(*a):\n"
        "    print('writing', flush=True); time.sleep(60)\n"
        "os.replace = stuck\n"
        f"atomic.atomic_write_bytes({str(out / 'big.png')!r}, b'x' * 1000)\n")], stdout=subprocess.PIPE)
    assert writer.stdout.readline().strip() == b"writing"
    live = subprocess.Popen([sys.executable, "-c", (
        "import os, time\nfrom llid_cli.io import atomic\n"
        f"open(os.path.join({str(out)!r}, '.a.png.' + atomic._WRITER + 'live' + atomic.TEMP_SUFFIX), 'w').close()\n"
        "print('ready', flush=True); time.sleep(60)\n")], stdout=subprocess.PIPE)
    assert live.stdout.readline().strip() == b"ready"
    try:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        leftovers = sorted(p.name for p in out.glob(".*.llid-tmp"))
        assert len(leftovers) == 2 and any(n.startswith(".big.png.") for n in leftovers)
        result = run("batch", tmp_path / "in", "-o", out, "--model", "clahe")  # resumes: both outputs exist
        assert result.exit_code == 0 and "2 skipped" in result.output
        assert [p.name for p in out.glob(".*.llid-tmp")] == [n for n in leftovers if n.startswith(".a.png.")]
    finally:
        live.kill()
        live.wait()


def test_outputs_written_beside_their_inputs_are_not_enhanced_again(tmp_path):
    same = tmp_path / "same"
    for name in ("a.jpg", "b.png"):
        small_photo(same / name)
    for _ in range(2):
        assert run("batch", same, "-o", same, "--suffix", "_e", "--model", "clahe").exit_code == 0
    assert sorted(p.name for p in same.iterdir() if not p.name.startswith(".")) == ["a.jpg", "a_e.jpg", "b.png", "b_e.png"]
    m = tmp_path / "m"
    small_photo(m / "05.jpg")
    for _ in range(2):
        assert run("enhance", *sorted(m.iterdir()), "--model", "clahe").exit_code == 0
    assert sorted(p.name for p in m.iterdir()) == ["05.jpg", "05_llid.jpg"]


def test_batch_include_and_exclude_choose_files_by_path_or_name(tmp_path):
    for name in ("a.jpg", "b.png", "sub/c.jpg", "sub/skip-d.jpg"):
        small_photo(tmp_path / "in" / name)
    result = run("batch", tmp_path / "in", "-o", tmp_path / "out", "-r", "--model", "clahe",
                 "--include", "*.jpg", "--exclude", "skip-*")
    assert result.exit_code == 0, result.output
    made = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*")
                  if not p.name.startswith("."))
    assert made == ["a.jpg", "sub/c.jpg"]


def test_a_second_batch_into_a_folder_in_use_is_refused_and_the_first_finishes(tmp_path):
    """Two batches into one folder with other settings: the one that starts second is refused in
    one line while the first holds the folder; the first's record and outputs agree."""
    import subprocess
    import sys

    from llid_cli.rendering import made_with

    for i in range(3):
        small_photo(tmp_path / "in" / f"{i}.png")
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time\nfrom pathlib import Path\nfrom llid_cli.rendering import made_with\n"
        f"with made_with.holding(Path({str(out)!r})):\n"
        "    print('held', flush=True); time.sleep(60)\n")], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"held"
        result = run("batch", tmp_path / "in", "-o", out, "--model", "clahe", "--gain", "3")
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
        assert "another llid batch is writing into this folder" in result.output
        assert not list(out.glob("*.png"))
    finally:
        holder.kill()
        holder.wait()
    result = run("batch", tmp_path / "in", "-o", out, "--model", "clahe")  # the lock went with its process
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("*.png")) == ["0.png", "1.png", "2.png"]
    import json

    recorded = json.loads((out / made_with.RECORD).read_text())[made_with.naming("", None)]
    assert recorded["clahe"]["gain"] is None  # the batch that ran, not the refused --gain 3


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_a_float_tiff_with_non_finite_pixels_is_enhanced(tmp_path, backend):
    import tifffile

    pixels = np.full((48, 64, 3), 0.05, np.float32)
    pixels[3, 4] = np.nan
    pixels[5, 6, 1] = np.inf
    pixels[7, 8, 2] = -np.inf
    tifffile.imwrite(tmp_path / "f.tif", pixels, photometric="rgb")
    result = run("enhance", tmp_path / "f.tif", "-o", tmp_path / "out.tif", "--backend", backend)
    assert result.exit_code == 0, result.output
    out = tifffile.imread(tmp_path / "out.tif")
    assert np.isfinite(out).all() and out.mean() > 0.1


def test_a_file_name_with_a_newline_fails_in_one_line(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad\nname.jpg").write_bytes(b"not a photo")
    small_photo(tmp_path / "in" / "good.jpg")
    result = run("batch", tmp_path / "in", "-o", tmp_path / "out", "--model", "clahe")
    assert result.exit_code == 1
    failure = [line for line in result.output.splitlines() if "bad" in line]
    assert len(failure) == 1 and "bad\\nname.jpg" in failure[0] and "name.jpg" in failure[0]
    alone = run("enhance", tmp_path / "in" / "bad\nname.jpg", "-o", tmp_path / "x.jpg")
    assert alone.exit_code == 1 and len(alone.output.strip().splitlines()) == 1


def test_library_warnings_about_a_file_stay_out_of_a_batch(tmp_path):
    """A JPEG whose EXIF is corrupt makes Pillow warn; the batch enhances it without the warning."""
    import warnings

    photo = small_photo(tmp_path / "in" / "a.jpg")
    data = photo.read_bytes()
    exif = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05\x01\x0f\x00\x02\xff\xff\xff\xff"
    segment = b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif
    photo.write_bytes(data[:2] + segment + data[2:])
    from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = Pipeline(EnhanceOptions(model="clahe")).run_one(photo, tmp_path / "out.jpg", skip_existing=False)
    assert result.status == "done", result.error
    assert caught == []


def test_without_any_runtime_a_learned_model_names_the_extra_in_one_line(tmp_path, monkeypatch):
    """A plain `pip install .` has neither torch nor ONNX Runtime: enhancing says which extra to
    add (and how from a checkout), where it ended in a ModuleNotFoundError traceback."""
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # as if not installed: find_spec says None
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    photo = small_photo(tmp_path / "a.png")
    result = run("enhance", photo, "-o", tmp_path / "out.png")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "needs onnxruntime: pip install 'llid[onnx]' (in a checkout of llid: pip install '.[onnx]')" in result.output
    assert run("enhance", photo, "-o", tmp_path / "c.png", "--model", "clahe").exit_code == 0  # no runtime needed


def test_eval_of_nothing_fails_and_a_report_folder_is_never_made_up(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty2").mkdir()
    result = run("eval", tmp_path / "empty", "--ref", tmp_path / "empty2")
    assert result.exit_code == 1 and "no photos to score" in result.output
    small_photo(tmp_path / "a" / "p.png")
    small_photo(tmp_path / "b" / "p.png")
    result = run("eval", tmp_path / "a", "--ref", tmp_path / "b", "--report", tmp_path / "missing" / "r.json")
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not (tmp_path / "missing").exists()


def test_eval_leaves_lpips_out_and_says_why_once_when_its_weights_are_missing(tmp_path, monkeypatch):
    for name in ("LLID_LPIPS_BACKBONE", "LLID_LPIPS_LINEAR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no torch hub cache
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    small_photo(tmp_path / "a" / "p.png")
    small_photo(tmp_path / "a" / "q.png", 30)
    small_photo(tmp_path / "b" / "p.png", 25)
    small_photo(tmp_path / "b" / "q.png", 35)
    result = run("eval", tmp_path / "a", "--ref", tmp_path / "b", "--report", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    assert "unavailable" not in result.output and "LPIPS" not in result.output.split("LPIPS left out")[0]
    assert result.output.count("LPIPS left out:") == 1 and "LLID_LPIPS_BACKBONE" in result.output
    import json

    report = json.loads((tmp_path / "r.json").read_text())
    assert report["lpips"] == "unavailable" and "LLID_LPIPS_BACKBONE" in report["lpips_why"]


def test_models_list_leads_with_the_default_and_cards_read_as_text():
    import json

    listed = json.loads(run("models", "list", "--json").output)
    assert listed["models"][0]["name"] == listed["default"] and listed["models"][0]["default"]
    quality = [m["val_psnr"] for m in listed["models"][1:] if m["val_psnr"] is not None]
    assert quality == sorted(quality, reverse=True)
    table = run("models", "list").output
    assert table.index(f"{listed['default']} (default)") < min(table.index(m["name"]) for m in listed["models"][1:]
                                                               if m["name"] != "lynx-fast")
    card = " ".join(run("models", "info", "lynx").output.split())
    assert "{" not in card and "keep_exposure=(0.25, 0.3)" in card  # name=value, not a dict's repr
    from llid_cli.models.locations import weights_dir
    from llid_cli.models.weights import read_info

    validation = read_info(weights_dir() / "lynx.safetensors").metadata["validation"]  # what training recorded
    assert f"PSNR {validation['psnr']:.2f} / SSIM {validation['ssim']:.4f} on" in card and "fine-tuned from" in card


def test_json_says_the_exposure_the_model_chose(tmp_path):
    import json

    photo = small_photo(tmp_path / "a.png", 12)
    result = CliRunner().invoke(cli, ["enhance", str(photo), "-o", str(tmp_path / "o.png"), "--json"])
    chosen = json.loads(result.stdout)["files"][0]["exposure_ev"]
    assert chosen["output"] > chosen["input"] + 1  # a dark photo, brightened by more than a stop
    shifted = CliRunner().invoke(cli, ["enhance", str(photo), "-o", str(tmp_path / "d.png"), "--json", "--exposure", "-1"])
    assert json.loads(shifted.stdout)["files"][0]["exposure_ev"]["output"] < chosen["output"] - 0.5


def test_decoders_log_records_stay_out_of_a_batch(tmp_path):
    """Pillow logs "More samples per pixel than can be decoded" for a TIFF that claims 9999
    samples; Python printed it to stderr, between the batch's own lines."""
    import struct
    import subprocess
    import sys

    buffer = io.BytesIO()
    PILImage.new("RGB", (16, 16), (20, 20, 20)).save(buffer, "TIFF")
    data = bytearray(buffer.getvalue())
    start = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[start:start + 2])[0]):
        entry = start + 2 + 12 * i
        if struct.unpack("<H", data[entry:entry + 2])[0] == 277:  # SamplesPerPixel
            data[entry + 8:entry + 10] = struct.pack("<H", 9999)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.tif").write_bytes(bytes(data))
    small_photo(tmp_path / "in" / "good.png")
    done = subprocess.run([sys.executable, "-m", "llid_cli", "batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                           "--model", "clahe", "--quiet"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "More samples" not in done.stderr and "bad.tif: " in done.stderr
    assert len(done.stderr.strip().splitlines()) == 3  # the summary, the failure table's title, its one line


def test_a_record_from_before_the_three_way_night_look_still_resumes(tmp_path):
    """Records written when --night-look was on/off (true/false) read as auto/off, so an
    upgrade does not refuse to resume a batch made with the defaults."""
    import json

    from llid_cli.rendering import made_with

    small_photo(tmp_path / "in" / "a.png")
    out = tmp_path / "out"
    assert run("batch", tmp_path / "in", "-o", out, "--model", "clahe").exit_code == 0
    record = json.loads((out / made_with.RECORD).read_text())
    (key, settings), = record.items()
    assert settings["night_look"] == "auto"
    (out / made_with.RECORD).write_text(json.dumps({key: {**settings, "night_look": True}}))
    assert "1 skipped" in run("batch", tmp_path / "in", "-o", out, "--model", "clahe").output
    (out / made_with.RECORD).write_text(json.dumps({key: {**settings, "night_look": False}}))
    refused = run("batch", tmp_path / "in", "-o", out, "--model", "clahe")
    assert refused.exit_code == 2 and "--night-look off there, auto now" in " ".join(refused.output.split())


def test_without_a_suffix_a_photo_is_never_taken_for_an_output(tmp_path):
    """a.jpg and a.png in one folder, enhanced in place as PNG with no suffix: a.png is a photo
    of its own, not a.jpg's output, so the two collide and the batch is refused (nothing lost)."""
    small_photo(tmp_path / "in" / "a.jpg")
    small_photo(tmp_path / "in" / "a.png", 40)
    before = (tmp_path / "in" / "a.png").read_bytes()
    result = run("batch", tmp_path / "in", "-o", tmp_path / "in", "--format", "png", "--overwrite", "--model", "clahe")
    assert result.exit_code == 1 and "would both be written to" in result.output
    assert (tmp_path / "in" / "a.png").read_bytes() == before
