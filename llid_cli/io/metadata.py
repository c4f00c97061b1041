"""EXIF orientation and the metadata blocks (EXIF, ICC) that llid carries from input to output."""

from __future__ import annotations

import struct
import zlib

import numpy as np

ORIENTATION_TAG = 0x0112


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn pixels stored with EXIF `orientation` (1-8) upright, as a viewer shows them."""
    if orientation == 2:
        out = pixels[:, ::-1]
    elif orientation == 3:
        out = pixels[::-1, ::-1]
    elif orientation == 4:
        out = pixels[::-1]
    elif orientation == 5:
        out = np.swapaxes(pixels, 0, 1)
    elif orientation == 6:
        out = np.rot90(pixels, k=-1)
    elif orientation == 7:
        out = np.swapaxes(pixels, 0, 1)[::-1, ::-1]
    elif orientation == 8:
        out = np.rot90(pixels, k=1)
    else:
        return pixels
    return np.ascontiguousarray(out)


def exif_upright(pil_image) -> tuple[int, bytes | None]:
    """(orientation, EXIF bytes with orientation reset to 1) of a Pillow image; (1, None) if none."""
    try:
        exif = pil_image.getexif()
    except Exception:  # a malformed EXIF block must not cost the user their photo
        return 1, None
    if not exif:
        return 1, None
    orientation = _orientation(exif.get(ORIENTATION_TAG, 1))
    if ORIENTATION_TAG in exif:
        exif[ORIENTATION_TAG] = 1
    try:
        return orientation, exif.tobytes()
    except Exception:
        return orientation, None


def _orientation(value) -> int:
    """The orientation tag as 1-8; anything else (text, a tuple, out of range) means upright.

    Cameras and editors have written the tag as ASCII or with other types; a photo is still a
    photo, so an unreadable tag is ignored as a viewer would, not turned into a failure.
    """
    try:
        orientation = int(value)
    except (TypeError, ValueError):
        return 1
    return orientation if 1 <= orientation <= 8 else 1


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def add_png_metadata(png: bytes, icc: bytes | None, exif: bytes | None) -> bytes:
    """Insert iCCP and eXIf chunks right after IHDR (OpenCV's encoder, used for 16-bit, writes none)."""
    if not icc and not exif:
        return png
    ihdr_end = 8 + 4 + 4 + 13 + 4  # signature, IHDR length, type, data, CRC
    extra = b""
    if icc:
        extra += _png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc))
    if exif:
        # Pillow's EXIF bytes start with the JPEG APP1 marker text; the PNG chunk holds the TIFF body.
        body = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
        extra += _png_chunk(b"eXIf", body)
    return png[:ihdr_end] + extra + png[ihdr_end:]
