"""Bad inputs give one typed, one-line error naming the file and the reason."""

from __future__ import annotations

import sys

import pytest

from llid_cli.core.errors import (
    ImageReadError,
    ImageTooLargeError,
    UnsupportedFormatError,
)
from llid_cli.io import read_image

CASES = {
    "empty": (ImageReadError, "empty file"),
    "truncated": (ImageReadError, "truncated or corrupt"),
    "text": (ImageReadError, "not a valid JPEG"),
    "huge": (ImageTooLargeError, "100000x100000"),
    "unsupported": (UnsupportedFormatError, "unsupported extension '.xyz'"),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_bad_input_error_names_file_and_reason(bad_files, kind):
    error_type, reason = CASES[kind]
    path = bad_files[kind]
    with pytest.raises(error_type) as info:
        read_image(path)
    message = str(info.value)
    assert message.startswith(str(path) + ": ")
    assert reason in message
    assert "\n" not in message


def test_pixel_limit_is_configurable(tmp_path, dark_jpeg):
    with pytest.raises(ImageTooLargeError, match="4,800 pixels, over the limit of 100 pixels"):
        read_image(dark_jpeg, max_pixels=100)
    assert read_image(dark_jpeg, max_pixels=80 * 60).width == 80


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "nope.jpg")


def test_heic_without_extra_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if the extra were not installed
    path = tmp_path / "phone.heic"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64)
    with pytest.raises(UnsupportedFormatError, match=r"llid\[heic\].*pip install '\.\[heic\]'"):
        read_image(path)


def _png(width: int, height: int, rows: bytes, depth: int = 8, colour: int = 2) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_a_png_wider_than_libpng_allows_is_read_not_called_corrupt(tmp_path):
    import numpy as np

    width = 1_100_000  # libpng (inside OpenCV) refuses more than 1,000,000 pixels a side
    rgb = np.random.default_rng(0).integers(0, 256, (1, width, 3), dtype=np.uint8)
    path = tmp_path / "strip.png"
    path.write_bytes(_png(width, 1, b"\x00" + rgb.tobytes()))
    image = read_image(path)
    assert image.pixels.shape == (1, width, 3) and image.pixels.dtype == np.uint8
    assert np.array_equal(image.pixels, rgb)
    # 16-bit colour cannot go to Pillow (it would fold it to 8 bits): a clear refusal instead.
    path16 = tmp_path / "strip16.png"
    path16.write_bytes(_png(width, 1, b"\x00" + np.zeros(width * 6, np.uint8).tobytes(), depth=16))
    with pytest.raises(UnsupportedFormatError, match="16-bit colour PNG of 1100000x1"):
        read_image(path16)


def test_a_png_over_opencvs_pixel_limit_is_a_one_line_error_when_the_limit_is_raised(tmp_path):
    from conftest import png_with_huge_header

    path = tmp_path / "big.png"
    path.write_bytes(png_with_huge_header(40_000, 40_000))  # 1600 MP: over OpenCV's 1074 MP assertion
    with pytest.raises(ImageReadError) as info:
        read_image(path, max_pixels=2_000_000_000)
    assert str(info.value).startswith(f"{path}: truncated or corrupt PNG data") and "\n" not in str(info.value)


def test_libpng_complaints_become_part_of_the_files_error_not_bare_lines(tmp_path, capfd):
    import cv2
    import numpy as np

    good = cv2.imencode(".png", np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8))[1].tobytes()
    broken = bytearray(good)
    broken[60:80] = bytes(20)  # inside the first IDAT: its CRC no longer matches
    path = tmp_path / "crc.png"
    path.write_bytes(bytes(broken))
    with pytest.raises(ImageReadError, match=r"crc\.png: truncated or corrupt PNG data \(libpng: IDAT: CRC error\)"):
        read_image(path)
    assert "libpng" not in capfd.readouterr().err


def test_a_png_wider_than_libpng_allows_is_written_too(tmp_path, capfd):
    import numpy as np

    from llid_cli.core.errors import ImageWriteError
    from llid_cli.io import Image, write_image

    rgb = np.random.default_rng(2).integers(0, 256, (2, 1_100_000, 3), dtype=np.uint8)
    write_image(Image(pixels=rgb), tmp_path / "wide.png")
    assert np.array_equal(read_image(tmp_path / "wide.png").pixels, rgb)
    with pytest.raises(ImageWriteError, match="16-bit colour PNG of 1100000x2 .* use --bit-depth 8 or TIFF"):
        write_image(Image(pixels=rgb.astype(np.uint16) * 257), tmp_path / "wide16.png")
    assert "libpng" not in capfd.readouterr().err


def test_the_installed_command_exits_1_when_its_photo_fails(tmp_path):
    """Through `python -m llid_cli` (not CliRunner): the process's own exit status."""
    import subprocess

    (tmp_path / "bad.jpg").write_text("not a photo")
    result = subprocess.run([sys.executable, "-m", "llid_cli", "enhance", str(tmp_path / "bad.jpg"), "-o",
                             str(tmp_path / "out.png")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"Error: {tmp_path / 'bad.jpg'}: not a valid JPEG")
