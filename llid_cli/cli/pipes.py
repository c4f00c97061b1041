"""`-` as input and output: photos through pipes (`cat a.jpg | llid enhance - -o - --format png`).

The pipeline reads and writes files (formats come from extensions, writes are atomic), so standard
input is saved to a private temporary file named after the format its first bytes show, and
standard output receives the finished file's bytes, once, after the write succeeded.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

# First bytes -> extension, for the formats llid reads.
_SIGNATURES = [
    (b"\xff\xd8\xff", ".jpg"), (b"\x89PNG\r\n\x1a\n", ".png"), (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"),
    (b"BM", ".bmp"),
]


def sniff(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return next((ext for magic, ext in _SIGNATURES if data.startswith(magic)), None)


def stdin_to_file(folder: Path) -> Path:
    data = sys.stdin.buffer.read()
    if not data:
        raise click.UsageError("-: standard input is empty (pipe a photo in, or name a file)")
    extension = sniff(data)
    if extension is None:
        raise click.UsageError("-: standard input is not a JPEG, PNG, TIFF, WebP or BMP image")
    path = folder / f"stdin{extension}"
    path.write_bytes(data)
    return path


def stdout_target(folder: Path, fmt: str | None, inputs: int) -> Path:
    from llid_cli.io.formats import FORMAT_EXTENSIONS

    if inputs != 1:
        raise click.UsageError("standard output takes one photo: give -o FOLDER for several")
    if fmt is None:
        raise click.UsageError("-o -: give --format (jpeg, png, tiff, webp or bmp) for standard output")
    return folder / f"stdout{FORMAT_EXTENSIONS[fmt]}"
