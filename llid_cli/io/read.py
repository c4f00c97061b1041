"""Decoding photos into `Image`, keeping bit depth, alpha, EXIF and ICC.

Pillow reads the container (size, mode, EXIF, ICC) for every format because it does so without
decoding pixels, which lets the pixel limit be checked first. Pixels come from the decoder that
keeps the file's depth: OpenCV for PNG (Pillow folds 16-bit RGB PNG to 8 bits), tifffile for TIFF,
Pillow for the 8-bit formats, rawpy for camera RAW.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from llid_cli.core.errors import (
    ImageReadError,
    ImageTooLargeError,
    UnsupportedFormatError,
)
from llid_cli.io.formats import INSTALL, READ_FORMATS, enable_pillow_codec, read_format
from llid_cli.io.image import Image, from_float, to_float
from llid_cli.io.iptc import TIFF_TAG as TIFF_IPTC_TAG
from llid_cli.io.iptc import bounded, iptc_of_pillow
from llid_cli.io.metadata import (
    apply_orientation,
    exif_upright,
    exposure_settings,
    exposure_settings_from,
    icc_describing,
)
from llid_cli.io.native import LIBPNG_MAX_SIDE, native_stderr
from llid_cli.io.tiff_exif import DESCRIPTIVE_TAGS, exif_of_tiff
from llid_cli.io.xmp import xmp_for_output, xmp_of_pillow

DEFAULT_MAX_PIXELS = 250_000_000


def default_max_pixels() -> int:
    value = os.environ.get("LLID_MAX_PIXELS")
    return int(float(value)) if value else DEFAULT_MAX_PIXELS


def _broken_link(path: Path) -> str:
    """Why a symbolic link leads to no file: a loop, or a missing target."""
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a link that leads back to itself (a loop of symbolic links)"
    return "broken link (its target does not exist)"


def read_image(path: str | os.PathLike, max_pixels: int | None = None) -> Image:
    """Decode `path`. Raises a typed `LlidError` naming the file and the reason."""
    path = Path(path)
    fmt = read_format(path)
    limit = default_max_pixels() if max_pixels is None else max_pixels
    if not path.exists():
        if path.is_symlink():
            raise ImageReadError(_broken_link(path), path)
        raise ImageReadError("no such file", path)
    if path.is_dir():
        raise ImageReadError("is a folder, not an image", path)
    if not stat.S_ISREG(path.stat().st_mode):
        # A FIFO would block forever and /dev/zero would read until memory runs out.
        raise ImageReadError("not a regular file (a device, pipe or socket)", path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"cannot read file ({exc.strerror or exc})", path) from exc
    if not data:
        raise ImageReadError("empty file (0 bytes)", path)

    if fmt == "raw":
        image = _read_raw(path, limit)
    elif fmt == "tiff":
        image = _read_tiff(path, data, limit)
    else:
        image = _read_with_pillow(path, data, fmt, limit)
    image.path = str(path)
    return image


def header_megapixels(path: str | os.PathLike) -> float | None:
    """A photo's size in megapixels from its header alone, without decoding pixels; None when the
    header cannot tell (not a regular file, unreadable, a format whose codec is not installed).
    HEIC and AVIF headers are read with their codecs, a camera RAW's by LibRaw."""
    from PIL import Image as PILImage

    path = Path(path)
    fmt = READ_FORMATS.get(path.suffix.lower())
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None
        if fmt == "raw":
            return _raw_megapixels(path)
        enable_pillow_codec(fmt, path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a decompression-bomb warning is read_image's to give
            with PILImage.open(path) as image:
                return image.width * image.height / 1e6
    except (OSError, ValueError, PILImage.DecompressionBombError, UnsupportedFormatError):
        return None


def _raw_megapixels(path: Path) -> float | None:
    """The sensor's size as LibRaw reads it from the RAW's header (rawpy unpacks nothing before
    its pixels are asked for); None without rawpy or for a file LibRaw refuses."""
    try:
        import rawpy
    except ImportError:
        return None
    try:
        with rawpy.imread(str(path)) as raw:
            return raw.sizes.width * raw.sizes.height / 1e6
    except Exception:  # LibRaw's errors have no common base class in every rawpy release
        return None


def _megapixels(pixels: int) -> str:
    """1000 pixels is not '0 MP'."""
    if pixels >= 10e6:
        return f"{pixels / 1e6:.0f} MP"
    if pixels >= 0.1e6:
        return f"{pixels / 1e6:.1f} MP"
    return f"{pixels:,} pixels"


def _check_size(path: Path, width: int, height: int, limit: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageReadError(f"invalid image size {width}x{height}", path)
    if width * height > limit:
        raise ImageTooLargeError(
            f"{width}x{height} is {_megapixels(width * height)}, over the limit of {_megapixels(limit)} "
            "(raise it with --max-pixels or LLID_MAX_PIXELS if the file is trusted)",
            path,
        )


def _open_pillow(path: Path, data: bytes, fmt: str):
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    enable_pillow_codec(fmt, path)
    # The pixel limit is checked by llid itself (with a clearer message), so Pillow's own bomb
    # check is switched off for this read.
    PILImage.MAX_IMAGE_PIXELS = None
    try:
        return PILImage.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"not a valid {fmt.upper()} image (the data is not a picture Pillow recognises)", path) from exc
    except Exception as exc:
        raise ImageReadError(f"truncated or corrupt {fmt.upper()} data ({exc})", path) from exc


def _read_with_pillow(path: Path, data: bytes, fmt: str, limit: int) -> Image:
    pil = _open_pillow(path, data, fmt)
    _check_size(path, pil.width, pil.height, limit)
    orientation, exif = exif_upright(pil)
    icc = pil.info.get("icc_profile") or None
    actual = (pil.format or fmt).lower()
    try:
        if actual == "png":
            pixels, alpha = _decode_png(path, data, pil)
        elif fmt == "heic" and (pil.info.get("bit_depth") or 8) > 8:
            pixels, alpha = _deep_heif_pixels(data, int(pil.info["bit_depth"]))
        else:
            pixels, alpha = _pillow_pixels(pil)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"truncated or corrupt {actual.upper()} data ({exc})", path) from exc
    pixels = apply_orientation(pixels, orientation)
    if alpha is not None:
        alpha = apply_orientation(alpha, orientation)
    return Image(pixels=pixels, alpha=alpha, exif=exif, icc=icc_describing(icc, pixels), xmp=xmp_of_pillow(pil),
                 iptc=iptc_of_pillow(pil), source_format=actual, exposure=exposure_settings(exif))


def _deep_heif_pixels(data: bytes, bits: int) -> tuple[np.ndarray, np.ndarray | None]:
    """A 10- or 12-bit HEIC as 16-bit pixels: the depth comes from the file (Pillow's view of it,
    through pillow-heif, is rounded to 8 bits). libheif applies the same rotation as for Pillow;
    its 16-bit samples hold the file's bits at the top, spread here over the full 16-bit range."""
    import pillow_heif

    heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=False)
    samples = np.asarray(heif)
    if samples.dtype != np.uint16:  # the primary image is 8-bit after all
        return _pillow_pixels(heif.to_pillow())
    top = (1 << bits) - 1
    deep = ((samples >> (16 - bits)).astype(np.uint32) * 65535 + top // 2) // top
    deep = deep.astype(np.uint16)
    if deep.ndim == 3 and deep.shape[2] == 4:
        return np.ascontiguousarray(deep[:, :, :3]), np.ascontiguousarray(deep[:, :, 3])
    return np.ascontiguousarray(deep), None


# What OpenCV's PNG decoder accepts besides libpng's limit per side: CV_IO_MAX_IMAGE_PIXELS.
# Larger PNGs are decoded by Pillow instead.
_OPENCV_MAX_PIXELS = 1 << 30


def _decode_png(path: Path, data: bytes, pil) -> tuple[np.ndarray, np.ndarray | None]:
    """16-bit PNGs need OpenCV (Pillow folds 16-bit colour to 8 bits); within its limits it decodes
    every PNG, so that one decoder defines the pixels. Beyond them, Pillow does (8-bit or gray)."""
    import cv2

    width, height = pil.width, pil.height
    if max(width, height) > LIBPNG_MAX_SIDE or width * height > _OPENCV_MAX_PIXELS:
        depth, colour = (data[24], data[25]) if len(data) > 25 else (8, 0)
        if depth == 16 and colour in (2, 6):
            raise UnsupportedFormatError(
                f"a 16-bit colour PNG of {width}x{height} is beyond what the 16-bit PNG decoder (OpenCV) "
                f"accepts: at most {LIBPNG_MAX_SIDE:,} pixels a side and {_megapixels(_OPENCV_MAX_PIXELS)}", path)
        return _pillow_pixels(pil)
    try:
        with native_stderr() as complaints:
            decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise OSError(str(exc).strip().splitlines()[-1]) from None
    if decoded is None:
        said = "; ".join(line.removeprefix("libpng error: ").strip() for line in complaints if "error" in line)
        raise OSError(f"libpng: {said}" if said else "the PNG decoder gave up")
    gray_source = pil.mode in ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L")
    alpha = None
    if decoded.ndim == 3 and decoded.shape[2] == 4:
        alpha = np.ascontiguousarray(decoded[:, :, 3])
        decoded = decoded[:, :, :3]
    if decoded.ndim == 3:
        # OpenCV widens gray+alpha to BGRA; a gray source stays gray.
        decoded = decoded[:, :, 0] if gray_source else cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(decoded), alpha


def _pillow_pixels(pil) -> tuple[np.ndarray, np.ndarray | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pil.load()  # raises OSError on a truncated file (LOAD_TRUNCATED_IMAGES stays False)
    mode = pil.mode
    if mode in ("P", "PA"):
        pil = pil.convert("RGBA" if ("transparency" in pil.info or mode == "PA") else "RGB")
    elif mode == "1":
        pil = pil.convert("L")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        pil = pil.convert("RGB")
    elif mode == "La":
        pil = pil.convert("LA")
    elif mode == "RGBa":
        pil = pil.convert("RGBA")
    mode = pil.mode
    if mode.startswith("I;16"):
        return np.asarray(pil).astype(np.uint16), None
    if mode == "I":
        return np.clip(np.asarray(pil), 0, 65535).astype(np.uint16), None
    if mode == "F":
        return _unit_floats(np.asarray(pil, dtype=np.float32)), None
    arr = np.asarray(pil)
    if mode == "L":
        return arr.copy(), None
    if mode == "LA":
        return arr[:, :, 0].copy(), arr[:, :, 1].copy()
    if mode == "RGB":
        return arr.copy(), None
    if mode == "RGBA":
        return arr[:, :, :3].copy(), arr[:, :, 3].copy()
    raise OSError(f"unsupported pixel mode {mode}")


def _read_tiff(path: Path, data: bytes, limit: int) -> Image:
    import tifffile

    try:
        with _quiet_tifffile(), tifffile.TiffFile(io.BytesIO(data)) as tif:
            page = tif.pages[0]
            shape = page.shape
            axes = page.axes
            height = shape[axes.index("Y")] if "Y" in axes else shape[0]
            width = shape[axes.index("X")] if "X" in axes else shape[1]
            _check_size(path, int(width), int(height), limit)
            arr = page.asarray()
            photometric = int(page.photometric)
            tags = page.tags
            icc_tag = tags.get(34675)
            icc = bytes(icc_tag.value) if icc_tag is not None else None
            xmp = _xmp_packet(tags.get(700))  # XMLPacket
            iptc_tag = tags.get(TIFF_IPTC_TAG)
            iptc = bounded(_tag_bytes(iptc_tag.value)) if iptc_tag is not None else None
            orient_tag = tags.get(274)
            orientation = int(orient_tag.value) if orient_tag is not None else 1
            exposure = _tiff_exposure(tags.get(34665))
            exif = _tiff_exif(data) if 34665 in tags or any(tag in tags for tag in DESCRIPTIVE_TAGS) else None
            extra = page.extrasamples or ()
    except (ImageTooLargeError, ImageReadError):
        raise
    except Exception as exc:
        raise ImageReadError(f"truncated or corrupt TIFF data ({exc})", path) from exc

    pixels, alpha = _tiff_channels(path, arr, photometric, len(extra))
    pixels = apply_orientation(pixels, orientation)
    if alpha is not None:
        alpha = apply_orientation(alpha, orientation)
    return Image(pixels=pixels, alpha=alpha, exif=exif, icc=icc_describing(icc, pixels), xmp=xmp, iptc=iptc,
                 source_format="tiff", exposure=exposure)


@contextmanager
def _quiet_tifffile():
    """tifffile logs what it skips in a damaged directory (several lines on stderr for one bad
    EXIF pointer); the photo still reads, and what is lost is only metadata."""
    import logging

    logger = logging.getLogger("tifffile")
    level = logger.level
    logger.setLevel(logging.ERROR + 10)
    try:
        yield
    finally:
        logger.setLevel(level)


def _tiff_exif(data: bytes) -> bytes | None:
    """The TIFF's photo metadata as an EXIF block (`exif_of_tiff`), from Pillow's reading of its
    header (Pillow decodes no pixels here: tifffile does)."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(data)) as pil:
            return exif_of_tiff(pil)
    except Exception:  # a TIFF Pillow cannot parse still has pixels: only its metadata is lost
        return None


def _tiff_exposure(exif_tag):
    """The exposure settings in a TIFF's EXIF directory (tifffile reads it as a dict), or None."""
    tags = exif_tag.value if exif_tag is not None else None
    if not isinstance(tags, dict):
        return None
    iso = tags.get("ISOSpeedRatings", tags.get("PhotographicSensitivity"))
    return exposure_settings_from(tags.get("ExposureTime"), tags.get("FNumber"), iso)


def _tiff_channels(path: Path, arr: np.ndarray, photometric: int, n_extra: int):
    if arr.dtype == np.float64 or arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    if arr.dtype == np.float32:
        arr = _unit_floats(arr)
    elif arr.dtype not in (np.uint8, np.uint16):
        raise UnsupportedFormatError(f"TIFF sample type {arr.dtype} is not supported (8/16-bit or float)", path)
    if arr.ndim == 2:
        if photometric == 0:  # MINISWHITE: 0 is white
            arr = _invert(arr)
        return np.ascontiguousarray(arr), None
    if arr.ndim != 3:
        raise UnsupportedFormatError(f"multi-dimensional TIFF {arr.shape} is not supported", path)
    channels = arr.shape[2]
    alpha = None
    if photometric == 5:  # SEPARATED (CMYK)
        cmyk = to_float(np.ascontiguousarray(arr[:, :, :4]))
        rgb = (1 - cmyk[:, :, :3]) * (1 - cmyk[:, :, 3:4])
        return from_float(rgb, arr.dtype), None
    if channels in (2, 4) and n_extra:
        alpha = np.ascontiguousarray(arr[:, :, -1])
        arr = arr[:, :, :-1]
    if arr.shape[2] == 1:
        return np.ascontiguousarray(arr[:, :, 0]), alpha
    if arr.shape[2] != 3:
        raise UnsupportedFormatError(f"TIFF with {channels} channels is not supported", path)
    return np.ascontiguousarray(arr), alpha


def _unit_floats(arr: np.ndarray) -> np.ndarray:
    """Float samples in [0, 1]: NaN is read as 0 and infinities as 0 or 1, so that one bad pixel
    of a float TIFF is one dark or white pixel, not an error deep inside a network."""
    return np.clip(np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


def _invert(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.float32:
        return 1.0 - arr
    return np.iinfo(arr.dtype).max - arr


def _xmp_packet(tag) -> bytes | None:
    """A TIFF's XMLPacket tag as XMP bytes, as an output should carry it; None if it is unusable."""
    return xmp_for_output(_tag_bytes(tag.value)) if tag is not None else None


def _tag_bytes(value) -> bytes | None:
    """A TIFF tag's value as bytes, whatever type the file gave it (text, bytes, a tuple or array
    of integers); None if it is none of those: metadata never makes a photo unreadable."""
    try:
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, (np.ndarray, np.generic)) and value.dtype.itemsize != 1:
            return None  # words, not bytes: not a packet
        return bytes(value)
    except (TypeError, ValueError, UnicodeError, OverflowError):
        return None


def _libraw_reason(exc: Exception) -> str:
    """LibRaw's reason as text. rawpy passes it as bytes (`b'Input/output error'`), and LibRaw
    says "Input/output error" for a file whose data ends early."""
    reason = exc.args[0] if exc.args else exc
    reason = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    if reason.lower() == "input/output error":
        return "its data is truncated or damaged: LibRaw reports an input/output error"
    return reason


def _read_raw(path: Path, limit: int) -> Image:
    try:
        import rawpy
    except ImportError as exc:
        raise UnsupportedFormatError(f"camera RAW needs the 'raw' extra: {INSTALL['raw']}", path) from exc
    try:
        with rawpy.imread(str(path)) as raw:
            _check_size(path, raw.sizes.width, raw.sizes.height, limit)
            # No auto-brightening: the dark frame stays dark so that the model sees what the
            # camera saw; 16 bits keep the shadows' gradations.
            rgb = raw.postprocess(output_bps=16, use_camera_wb=True, no_auto_bright=True)
            exposure = _raw_exposure(raw)
    except ImageTooLargeError:
        raise
    except Exception as exc:
        raise ImageReadError(f"cannot decode camera RAW ({_libraw_reason(exc)})", path) from exc
    return Image(pixels=np.ascontiguousarray(rgb), source_format="raw", exposure=exposure)


def _raw_exposure(raw):
    """The exposure settings LibRaw read from a RAW file (it gives 0 for what was not recorded),
    or None; older rawpy releases do not expose them."""
    other = getattr(raw, "other", None)
    if other is None:
        return None
    return exposure_settings_from(other.shutter_speed, other.aperture, other.iso_speed)
