"""EXIF orientation, the exposure settings a camera recorded, and the metadata blocks (EXIF, ICC,
XMP in PNG) that llid carries from input to output."""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass

import numpy as np

ORIENTATION_TAG = 0x0112
EXIF_IFD = 0x8769  # the sub-directory that holds the exposure settings
EXPOSURE_TIME, F_NUMBER, ISO_SPEED = 0x829A, 0x829D, 0x8827
# Bounds on values read from an untrusted file: anything outside is a broken tag, not a photo.
_SECONDS = (1e-6, 3600.0)
_F_NUMBERS = (0.5, 256.0)
_ISO = (1.0, 1e7)


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


def icc_describing(icc: bytes | None, pixels: np.ndarray) -> bytes | None:
    """`icc` if its header says it describes pixels like these (colour space 'RGB ' for colour,
    'GRAY' for gray), else None. Why: a CMYK photo becomes RGB when it is read, and its CMYK
    profile no longer describes the pixels; colour-managed viewers show an RGB file tagged with
    one wrongly or not at all. Without a profile, sRGB is assumed, as for any untagged photo."""
    if not icc or len(icc) < 20:
        return None
    return icc if icc[16:20] == (b"GRAY" if pixels.ndim == 2 else b"RGB ") else None


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def add_png_metadata(png: bytes, icc: bytes | None, exif: bytes | None, xmp: bytes | None = None) -> bytes:
    """Insert iCCP, eXIf and XMP's iTXt chunks right after IHDR (OpenCV's encoder, used for
    16-bit, writes none)."""
    if not icc and not exif and not xmp:
        return png
    ihdr_end = 8 + 4 + 4 + 13 + 4  # signature, IHDR length, type, data, CRC
    extra = b""
    if icc:
        extra += _png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc))
    if exif:
        # Pillow's EXIF bytes start with the JPEG APP1 marker text; the PNG chunk holds the TIFF body.
        body = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
        extra += _png_chunk(b"eXIf", body)
    if xmp:
        # iTXt: keyword, then no compression, no language tag, no translated keyword, then the text.
        extra += _png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp)
    return png[:ihdr_end] + extra + png[ihdr_end:]


@dataclass(frozen=True)
class ExposureSettings:
    """What the camera did: shutter time (s), aperture (f-number) and sensitivity (ISO)."""

    seconds: float
    f_number: float
    iso: float

    @property
    def ev100(self) -> float:
        """The settings as an exposure value at ISO 100: log2(N^2 / t) - log2(ISO / 100). A frame
        exposed as a light meter asks is a scene whose mean luminance is 2^EV100 x 0.125 cd/m^2
        (ISO 2720's reflected-light constant, 12.5)."""
        return math.log2(self.f_number**2 / self.seconds) - math.log2(self.iso / 100.0)


def exposure_settings(exif: bytes | None) -> ExposureSettings | None:
    """The exposure settings recorded in an EXIF block (as Pillow reads it), or None: see
    `exposure_settings_from`."""
    if not exif:
        return None
    import warnings

    from PIL import Image as PILImage

    try:
        with warnings.catch_warnings():  # Pillow warns of a corrupt block: None says it all
            warnings.simplefilter("ignore")
            block = PILImage.Exif()
            block.load(exif)
            tags = block.get_ifd(EXIF_IFD)
            return exposure_settings_from(tags.get(EXPOSURE_TIME), tags.get(F_NUMBER), tags.get(ISO_SPEED))
    except Exception:  # a malformed block costs the settings, never the photo
        return None


def exposure_settings_from(seconds, f_number, iso) -> ExposureSettings | None:
    """Settings from the three tags' values as a reader gives them (numbers, Pillow's rationals,
    (numerator, denominator) pairs; ISO may be a list, of which the first counts), or None when any
    is missing, unreadable or out of any camera's range (a photo without them is still a photo)."""
    values = (_number(seconds, rational=True), _number(f_number, rational=True), _number(iso))
    for value, (low, high) in zip(values, (_SECONDS, _F_NUMBERS, _ISO)):
        if value is None or not low <= value <= high:
            return None
    return ExposureSettings(*values)


def _number(value, rational: bool = False) -> float | None:
    """A tag's value as a float; None for anything that is not a number."""
    if isinstance(value, (tuple, list)):
        if rational and len(value) == 2:  # a TIFF RATIONAL as a (numerator, denominator) pair
            value = value[0] / value[1] if value[1] else None
        else:
            value = value[0] if value else None
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None
