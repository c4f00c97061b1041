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
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["odd.jpg", "plain.jpg"]


def test_an_unexpected_exception_is_one_files_failure(tmp_path, monkeypatch):
    from llid_cli import pipeline

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
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg", "c.jpg"]


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
