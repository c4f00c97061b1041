"""Encoding an `Image` to a file: format from the extension, bit depth kept, EXIF and ICC re-attached."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llid_cli.core.errors import ImageWriteError
from llid_cli.core.settings import setting
from llid_cli.io.atomic import atomic_write_bytes
from llid_cli.io.formats import (
    FORMAT_EXTENSIONS,
    HIGH_DEPTH_FORMATS,
    enable_pillow_codec,
    write_format,
)
from llid_cli.io.image import Image, convert_depth
from llid_cli.io.iptc import TIFF_TAG as IPTC_TIFF_TAG
from llid_cli.io.iptc import jpeg_segment
from llid_cli.io.metadata import add_png_metadata
from llid_cli.io.tiff_exif import attach_directories, tiff_tags_for
from llid_cli.io.xmp import JPEG_MAX_BYTES


@dataclass(frozen=True)
class WriteOptions:
    # None: from the extension. Not recorded as a setting: the format is part of an output's name.
    format: str | None = setting(None, kind="choice", choices=tuple(sorted(FORMAT_EXTENSIONS)), show_default=False,
                                 help="Output format [default: from the output's extension; for a camera RAW "
                                      "named after its input, tiff].")
    quality: int = setting(95, short="-q", bounds=(1, 100), number=int, recorded=True,
                           help="JPEG/WebP/HEIC/AVIF quality.")
    bit_depth: int | None = setting(None, kind="choice", choices=("same", "8", "16"), typed="same", number=int,
                                    recorded=True, help="Output bit depth (16 for PNG/TIFF; HEIC keeps 10 of them).")
    overwrite: bool = False  # allow replacing an *input* file (each command says when)


def resolved(path: str | os.PathLike) -> Path | None:
    """`path` with its links followed; None for one that cannot be (a link that points at itself:
    RuntimeError up to Python 3.12, OSError after)."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):
        return None


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file; a path that cannot be resolved (a link loop) names no
    file that another path could: reading or writing it says why."""
    a, b = Path(a), Path(b)
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    target = resolved(a)
    return target is not None and target == resolved(b)


def write_image(image: Image, path: str | os.PathLike, options: WriteOptions = WriteOptions()) -> Path:
    """Encode and atomically write `image` to `path`; refuse to replace its own source file."""
    path = Path(path)
    if image.path and not options.overwrite and same_file(image.path, path):
        raise ImageWriteError("output would overwrite the input file (pass --overwrite to allow it)", path)
    data = encode_image(image, path, options)
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise ImageWriteError(f"cannot write ({exc.strerror or exc})", path) from exc
    return path


def output_dtype(image: Image, fmt: str, bit_depth: int | None) -> np.dtype:
    if fmt not in HIGH_DEPTH_FORMATS:
        return np.dtype(np.uint8)
    if bit_depth == 8:
        return np.dtype(np.uint8)
    if bit_depth == 16:
        return np.dtype(np.uint16)
    if image.pixels.dtype == np.float32:
        # Float survives only in TIFF; PNG has no float samples, so 16-bit is the faithful choice.
        return np.dtype(np.float32 if fmt == "tiff" else np.uint16)
    return image.pixels.dtype


def encode_image(image: Image, path: Path, options: WriteOptions) -> bytes:
    fmt = write_format(path, options.format)
    if not 1 <= options.quality <= 100:
        raise ImageWriteError(f"quality must be 1-100, got {options.quality}", path)
    dtype = output_dtype(image, fmt, options.bit_depth)
    pixels = convert_depth(image.pixels, dtype)
    alpha = None if image.alpha is None else convert_depth(image.alpha, dtype)
    if fmt == "png":
        return _encode_png(pixels, alpha, image, path)
    if fmt == "tiff":
        return _encode_tiff(pixels, alpha, image)
    enable_pillow_codec(fmt, path)
    if fmt == "heic" and pixels.dtype == np.uint16:
        return _encode_deep_heic(pixels, alpha, image, options.quality)
    return _encode_pillow(pixels, alpha, image, fmt, options.quality)


def _encode_deep_heic(pixels: np.ndarray, alpha: np.ndarray | None, image: Image, quality: int) -> bytes:
    """A 16-bit photo as a 10-bit HEIC (pillow-heif keeps the top 10 bits): 4x the gradations of
    8 bits, which the lifted shadows of a dark photo need. Settings as for 8-bit HEIC."""
    import pillow_heif

    if alpha is not None and pixels.ndim == 2:  # HEIC has no gray + alpha: widened to RGBA
        pixels = np.dstack([pixels] * 3)
    data = pixels if alpha is None else np.dstack([pixels, alpha])
    mode = "L;16" if data.ndim == 2 else ("RGB;16" if data.shape[2] == 3 else "RGBA;16")
    heif = pillow_heif.from_bytes(mode=mode, size=(data.shape[1], data.shape[0]), data=np.ascontiguousarray(data).tobytes())
    buf = io.BytesIO()
    heif.save(buf, **_metadata(image, "heic"), **_heic_settings(quality))
    return buf.getvalue()


def _heic_settings(quality: int) -> dict:
    """pillow-heif's encoder settings: 4:4:4 at high quality, as for JPEG, and x265's fastest
    preset: a third of the time of its default, a little larger at the same quality
    (`benchmarks/write_formats.py`)."""
    return {"quality": quality, "chroma": 444 if quality >= 90 else 420, "enc_params": {"preset": "ultrafast"}}


def _metadata(image: Image, fmt: str) -> dict:
    """The save arguments that carry `image`'s ICC, EXIF and XMP, for Pillow and pillow-heif alike."""
    kwargs: dict = {}
    if image.icc:
        kwargs["icc_profile"] = image.icc
    if image.exif and fmt in ("jpeg", "webp", "png", "heic", "avif"):
        kwargs["exif"] = image.exif
    if image.xmp and (fmt in ("webp", "heic", "avif") or (fmt == "jpeg" and len(image.xmp) <= JPEG_MAX_BYTES)):
        kwargs["xmp"] = image.xmp  # a JPEG holds one APP1 segment of it: a longer packet is left out
    return kwargs


def _encode_png(pixels: np.ndarray, alpha: np.ndarray | None, image: Image, path: Path) -> bytes:
    import cv2

    from llid_cli.io.native import LIBPNG_MAX_SIDE, native_stderr

    if max(pixels.shape[:2]) > LIBPNG_MAX_SIDE:
        # Beyond libpng's limit (inside OpenCV): Pillow writes 8-bit and 16-bit gray PNGs of any size.
        if pixels.dtype == np.uint8:
            return _encode_pillow(pixels, alpha, image, "png", 95)
        raise ImageWriteError(f"a 16-bit colour PNG of {pixels.shape[1]}x{pixels.shape[0]} is beyond the 16-bit "
                              f"PNG encoder's limit of {LIBPNG_MAX_SIDE:,} pixels a side: use --bit-depth 8 or TIFF",
                              path)
    if pixels.ndim == 3:
        stacked = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
        if alpha is not None:
            stacked = np.dstack([stacked, alpha])
    elif alpha is not None:
        # OpenCV cannot write gray+alpha; Pillow can, for 8 bits. A 16-bit gray+alpha is widened
        # to RGBA rather than dropping the alpha.
        if pixels.dtype == np.uint8:
            return _encode_pillow(pixels, alpha, image, "png", 95)
        gray = np.repeat(pixels[:, :, None], 3, axis=2)
        stacked = np.dstack([gray, alpha])
    else:
        stacked = pixels
    try:
        with native_stderr() as complaints:
            ok, buf = cv2.imencode(".png", stacked, [cv2.IMWRITE_PNG_COMPRESSION, 4])
    except cv2.error as exc:
        ok, complaints = False, [str(exc).strip().splitlines()[-1]]
    if not ok:
        said = "; ".join(line.strip() for line in complaints if "error" in line.lower())
        raise ImageWriteError(f"the PNG encoder failed{f' ({said})' if said else ''}", path)
    return add_png_metadata(buf.tobytes(), image.icc, image.exif, image.xmp)


def _encode_tiff(pixels: np.ndarray, alpha: np.ndarray | None, image: Image) -> bytes:
    import tifffile

    data = pixels if alpha is None else np.dstack([pixels, alpha])
    kwargs = {}
    if alpha is not None:
        kwargs["extrasamples"] = ["unassalpha"]
    # EXIF as a TIFF holds it: descriptive tags in the image's directory, the EXIF and GPS
    # directories appended after it (tifffile writes neither pointer itself).
    extratags, directories = tiff_tags_for(image.exif)
    if image.xmp:
        extratags = [*extratags, (700, "B", len(image.xmp), image.xmp, True)]  # XMLPacket
    if image.iptc:
        extratags = [*extratags, (IPTC_TIFF_TAG, "B", len(image.iptc), image.iptc, True)]
    buf = io.BytesIO()
    tifffile.imwrite(
        buf,
        data,
        photometric="rgb" if pixels.ndim == 3 else "minisblack",
        compression="zlib",
        iccprofile=image.icc,
        metadata=None,
        extratags=extratags,
        **kwargs,
    )
    return attach_directories(buf.getvalue(), directories)


def _encode_pillow(pixels, alpha, image: Image, fmt: str, quality: int) -> bytes:
    from PIL import Image as PILImage

    if alpha is not None and fmt in ("webp", "png", "heic", "avif"):
        pil = PILImage.fromarray(np.dstack([pixels, alpha]), "RGBA" if pixels.ndim == 3 else "LA")
    else:
        # JPEG and BMP have no alpha channel: the photo is written opaque.
        pil = PILImage.fromarray(pixels, "RGB" if pixels.ndim == 3 else "L")
    kwargs = _metadata(image, fmt)
    if fmt == "jpeg":
        # Full-resolution chroma at high quality: colour edges matter more than a few kilobytes.
        kwargs.update(quality=quality, subsampling=0 if quality >= 90 else 2, optimize=True)
        if image.iptc:
            kwargs["extra"] = jpeg_segment(image.iptc)  # Pillow writes it after its own APP segments
    elif fmt == "webp":
        # exact: keep the colour under fully transparent pixels instead of zeroing it.
        kwargs.update(quality=quality, lossless=quality == 100, method=4, exact=True)
    elif fmt == "heic":
        kwargs.update(_heic_settings(quality))
    elif fmt == "avif":
        # libavif's speed 8 of 10: a third of the time of its default (6), a little larger at the
        # same quality (benchmarks/write_formats.py).
        kwargs.update(quality=quality, subsampling="4:4:4" if quality >= 90 else "4:2:0", speed=8)
    buf = io.BytesIO()
    pil.save(buf, format={"jpeg": "JPEG", "webp": "WEBP", "bmp": "BMP", "png": "PNG", "heic": "HEIF",
                          "avif": "AVIF"}[fmt], **kwargs)
    if fmt == "png":
        return add_png_metadata(buf.getvalue(), None, None, image.xmp)
    return buf.getvalue()
