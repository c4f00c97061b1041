"""Which file extensions llid reads and writes, and what each needs."""

from __future__ import annotations

from pathlib import Path

from llid_cli.core.errors import UnsupportedFormatError
from llid_cli.core.extras import install_hint

READ_FORMATS: dict[str, str] = {
    ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg",
    ".png": "png",
    ".tif": "tiff", ".tiff": "tiff",
    ".webp": "webp",
    ".bmp": "bmp",
    ".heic": "heic", ".heif": "heic",
    ".avif": "avif",
    ".dng": "raw", ".cr2": "raw", ".cr3": "raw", ".nef": "raw", ".arw": "raw",
    ".raf": "raw", ".orf": "raw", ".rw2": "raw", ".pef": "raw", ".srw": "raw",
}

WRITE_FORMATS: dict[str, str] = {
    ".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".tif": "tiff", ".tiff": "tiff",
    ".webp": "webp", ".bmp": "bmp", ".heic": "heic", ".heif": "heic", ".avif": "avif",
}

# The extension a `--format NAME` produces.
FORMAT_EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "tiff": ".tif", "webp": ".webp", "bmp": ".bmp", "heic": ".heic",
                     "avif": ".avif"}

# What an input in a format llid reads but cannot write is written as when its output is named
# after it and no format is asked for: a camera RAW becomes a TIFF, which keeps its 16 bits.
WRITTEN_AS = {"raw": "tiff"}

# Formats that can hold more than 8 bits per channel; the rest are written as 8-bit. HEIC holds
# 10 (a 16-bit photo is written in its top 10 bits).
HIGH_DEPTH_FORMATS = {"png", "tiff", "heic"}


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


# What installs the codec of a format that is not always there: said in its read and write
# errors and by `llid info`.
INSTALL = {"heic": install_hint("heic"), "raw": install_hint("raw"), "avif": "pip install -U Pillow"}


def enable_pillow_codec(fmt: str, path: str | Path) -> None:
    """Make Pillow able to read and write `fmt`, or say in one line what to install: HEIC comes
    from pillow-heif (the 'heic' extra), AVIF from Pillow itself (11.3 and newer, in its wheels)."""
    if fmt == "heic":
        try:
            import pillow_heif
        except ImportError as exc:
            raise UnsupportedFormatError(f"HEIC needs the 'heic' extra: {INSTALL['heic']}", path) from exc
        pillow_heif.register_heif_opener()
    elif fmt == "avif":
        from PIL import features

        if not features.check("avif"):
            raise UnsupportedFormatError(f"AVIF needs a Pillow built with it (11.3 or newer): {INSTALL['avif']}", path)


def available(fmt: str) -> bool:
    """Whether this installation reads (and, but for RAW, writes) `fmt`: its codec is there."""
    if fmt == "raw":
        from importlib.util import find_spec

        return find_spec("rawpy") is not None
    try:
        enable_pillow_codec(fmt, fmt)
    except UnsupportedFormatError:
        return False
    return True


def default_extension(source: str | Path) -> str:
    """The extension of an output named after `source` when no format is asked for: the input's
    own where llid writes that format, else the one `WRITTEN_AS` gives (photo.CR2 -> photo.tif)."""
    suffix = Path(source).suffix
    read_as = READ_FORMATS.get(suffix.lower())
    if suffix.lower() in WRITE_FORMATS or read_as not in WRITTEN_AS:
        return suffix
    return FORMAT_EXTENSIONS[WRITTEN_AS[read_as]]


def is_readable_name(path: str | Path) -> bool:
    return Path(path).suffix.lower() in READ_FORMATS
