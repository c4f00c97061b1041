"""Which file extensions llid reads and writes, and what each needs."""

from __future__ import annotations

from pathlib import Path

from llid_cli.errors import UnsupportedFormatError

READ_FORMATS: dict[str, str] = {
    ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg",
    ".png": "png",
    ".tif": "tiff", ".tiff": "tiff",
    ".webp": "webp",
    ".bmp": "bmp",
    ".heic": "heic", ".heif": "heic",
    ".dng": "raw", ".cr2": "raw", ".cr3": "raw", ".nef": "raw", ".arw": "raw",
    ".raf": "raw", ".orf": "raw", ".rw2": "raw", ".pef": "raw", ".srw": "raw",
}

WRITE_FORMATS: dict[str, str] = {
    ".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".tif": "tiff", ".tiff": "tiff",
    ".webp": "webp", ".bmp": "bmp",
}

# The extension a `--format NAME` produces.
FORMAT_EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "tiff": ".tif", "webp": ".webp", "bmp": ".bmp"}

# Formats that can hold 16 bits per channel; the rest are written as 8-bit.
HIGH_DEPTH_FORMATS = {"png", "tiff"}


def read_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in READ_FORMATS:
        known = " ".join(sorted({s for s in READ_FORMATS}))
        raise UnsupportedFormatError(f"unsupported extension '{suffix or '(none)'}' (llid reads {known})", path)
    return READ_FORMATS[suffix]


def write_format(path: str | Path, fmt: str | None = None) -> str:
    if fmt is not None:
        if fmt not in FORMAT_EXTENSIONS:
            raise UnsupportedFormatError(f"unknown output format '{fmt}' (one of {', '.join(FORMAT_EXTENSIONS)})", path)
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in WRITE_FORMATS:
        known = " ".join(sorted(WRITE_FORMATS))
        raise UnsupportedFormatError(f"cannot write extension '{suffix or '(none)'}' (llid writes {known})", path)
    return WRITE_FORMATS[suffix]


def is_readable_name(path: str | Path) -> bool:
    return Path(path).suffix.lower() in READ_FORMATS
