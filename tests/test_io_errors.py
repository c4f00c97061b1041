"""Bad inputs give one typed, one-line error naming the file and the reason."""

from __future__ import annotations

import sys

import pytest

from llid_cli.errors import ImageReadError, ImageTooLargeError, UnsupportedFormatError
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
