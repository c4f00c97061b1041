"""The in-memory photo: pixels in their own bit depth plus what must survive a round trip."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llid_cli.io.metadata import ExposureSettings

# Rec. 601 luma weights: used to fold RGB back to gray and to measure brightness.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)

_MAX_VALUE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(np.float32): 1.0}


@dataclass
class Image:
    """A decoded photo.

    `pixels` is HxW (gray) or HxWx3 (RGB order), dtype uint8, uint16 or float32 (float TIFF, in
    [0, 1]). The dtype *is* the bit depth: it comes from the file, never from pixel values, so a
    dark 16-bit frame stays 16-bit. `alpha` (HxW, same dtype) is carried through untouched.
    `exif` is the raw EXIF block with the orientation already applied to the pixels and reset to 1.
    `xmp` is the XMP packet (rating, keywords, rights...) as an output should carry it (`io.xmp`);
    `iptc` the IPTC-IIM records of a JPEG's Photoshop segment or a TIFF's tag 33723 (`io.iptc`).
    `exposure` is what the camera recorded of its exposure (read from EXIF, or a TIFF's EXIF
    directory), for the night look; None when the file does not say.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    exif: bytes | None = None
    icc: bytes | None = None
    xmp: bytes | None = None
    iptc: bytes | None = None
    source_format: str | None = None
    path: str | None = None
    exposure: ExposureSettings | None = None

    def __post_init__(self) -> None:
        if self.pixels.dtype not in _MAX_VALUE:
            raise ValueError(f"unsupported pixel dtype {self.pixels.dtype}")
        if self.pixels.ndim not in (2, 3) or (self.pixels.ndim == 3 and self.pixels.shape[2] != 3):
            raise ValueError(f"pixels must be HxW or HxWx3, got {self.pixels.shape}")

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def megapixels(self) -> float:
        return self.height * self.width / 1e6

    @property
    def is_gray(self) -> bool:
        return self.pixels.ndim == 2

    @property
    def bit_depth(self) -> int:
        return {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16, np.dtype(np.float32): 32}[self.pixels.dtype]

    def to_float_rgb(self) -> np.ndarray:
        """HxWx3 float32 in [0, 1]; gray is replicated to three channels."""
        rgb = to_float(self.pixels)
        if rgb.ndim == 2:
            rgb = np.repeat(rgb[:, :, None], 3, axis=2)
        return rgb


def to_float(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float32) / np.float32(_MAX_VALUE[pixels.dtype])


def from_float(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """[0, 1] floats -> `dtype`, clipped and rounded half to even."""
    dtype = np.dtype(dtype)
    if dtype == np.uint8 and values.dtype == np.float32 and values.ndim <= 3 and values.shape[-1] <= 4:
        # OpenCV scales, rounds (half to even) and saturates in one SIMD, multi-threaded pass, with
        # the same bytes as the numpy lines below. It takes absolute values, so negatives are zeroed
        # first, in a copy made only when there are any (a tiled photo's bands have none): a 12 MP
        # copy costs more in page faults than the conversion itself.
        import cv2

        return cv2.convertScaleAbs(np.maximum(values, 0.0) if values.min() < 0 else values, alpha=255.0)
    clipped = np.clip(values, 0.0, 1.0)
    if dtype == np.float32:
        return clipped.astype(np.float32)
    return np.rint(clipped * _MAX_VALUE[dtype]).astype(dtype)


def convert_depth(pixels: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Exact where possible: 8 -> 16 multiplies by 257, 16 -> 8 rounds."""
    dtype = np.dtype(dtype)
    if pixels.dtype == dtype:
        return pixels
    if pixels.dtype == np.uint8 and dtype == np.uint16:
        return pixels.astype(np.uint16) * np.uint16(257)
    return from_float(to_float(pixels), dtype)
