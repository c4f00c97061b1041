"""The classical path: CLAHE on the L channel of CIELAB, then linear brightening.

CLAHE equalises local contrast on lightness only, so hues are not shifted; the linear gain then
lifts the whole photo so that its mean luma reaches a target (or by a factor the user gives).

Bit depth: OpenCV's CLAHE takes 8- or 16-bit samples. L is quantised to 12 bits (4096 levels) and
spread over the whole 16-bit range (level k at 16k), so 16-bit photos keep 16x finer gradations
than an 8-bit L would give. The clip limit is scaled by 16 so that it means what it means on 8-bit
images (OpenCV normalises it by the 65536 bins of a 16-bit histogram, of which one in 16 is used).
The spread matters: CLAHE hands the clipped counts out evenly over all 65536 bins, and with the
levels packed into the bottom 4096 bins 15/16 of them went above any real level, so heavily clipped
(dark, flat) tiles came out far too dark (docs/models.md, the classical path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from llid_cli.core.settings import setting
from llid_cli.io.image import LUMA_WEIGHTS, from_float, to_float

_L_LEVELS = 4096
_STEP = 65536 // _L_LEVELS  # L levels sit every 16th of the 65536 histogram bins


@dataclass(frozen=True)
class ClaheSettings:
    clip_limit: float = setting(2.0, bounds=(0.01, None), help="CLAHE clip limit of --model clahe and --pre clahe "
                                "(clahe-cnn's own step uses the settings saved with its weights).")
    tile_grid: tuple[int, int] = setting((8, 8), kind="grid", typed="8x8", help="CLAHE tile grid, ROWSxCOLS.")
    gain: float | None = setting(None, bounds=(0.01, None),  # None: automatic, from target_luma
                                 help="Linear brightening factor of the classical step [default: automatic].")
    target_luma: float = setting(0.45, bounds=(0.01, 1.0), help="Mean luma the automatic brightening aims for.")
    max_gain: float = 8.0  # an automatic gain never exceeds this (noise grows with it)

    def __post_init__(self) -> None:
        if self.clip_limit <= 0:
            raise ValueError("clip limit must be > 0")
        if min(self.tile_grid) < 1:
            raise ValueError("tile grid must be at least 1x1")
        if not 0 < self.target_luma <= 1:
            raise ValueError("target luma must be in (0, 1]")
        if self.gain is not None and self.gain <= 0:
            raise ValueError("gain must be > 0")


def mean_luma(rgb: np.ndarray) -> float:
    """Mean Rec. 601 luma of an HxWx3 float image in [0, 1]."""
    return float(np.tensordot(rgb, LUMA_WEIGHTS, axes=([-1], [0])).mean())


def _bands(height: int, rows: int = 256):
    for top in range(0, height, rows):
        yield top, min(height, top + rows)


def _equalised_lightness(pixels: np.ndarray, clip_limit: float, tile_grid: tuple[int, int]) -> np.ndarray:
    """CLAHE of CIELAB L as 16-bit levels (0..65535), built band by band from `pixels`."""
    import cv2

    levels = np.empty(pixels.shape[:2], np.uint16)
    for top, bottom in _bands(pixels.shape[0]):
        lab = cv2.cvtColor(to_float(pixels[top:bottom]), cv2.COLOR_RGB2Lab)
        levels[top:bottom] = np.rint(np.clip(lab[:, :, 0], 0, 100) * ((_L_LEVELS - 1) / 100.0)).astype(np.uint16) * _STEP
    clahe = cv2.createCLAHE(clipLimit=float(clip_limit) * _STEP, tileGridSize=tuple(int(t) for t in tile_grid))
    return clahe.apply(levels)


def _rebuild(pixels: np.ndarray, equalised: np.ndarray, top: int, bottom: int) -> np.ndarray:
    """RGB float of rows top..bottom with L replaced by the equalised lightness (a and b kept)."""
    import cv2

    lab = cv2.cvtColor(to_float(pixels[top:bottom]), cv2.COLOR_RGB2Lab)
    lab[:, :, 0] = equalised[top:bottom].astype(np.float32) * (100.0 / 65535.0)
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), 0.0, 1.0)


def clahe_lab(rgb: np.ndarray, clip_limit: float = 2.0, tile_grid: tuple[int, int] = (8, 8)) -> np.ndarray:
    """CLAHE on CIELAB L of an HxWx3 float32 sRGB image in [0, 1]; a and b are kept."""
    rgb = np.asarray(rgb, dtype=np.float32)
    equalised = _equalised_lightness(rgb, clip_limit, tile_grid)
    return _rebuild(rgb, equalised, 0, rgb.shape[0])


def auto_gain(rgb: np.ndarray, target_luma: float, max_gain: float) -> float:
    """The factor that brings mean luma to `target_luma`, within [1, max_gain] (never darkens)."""
    return _gain_for(mean_luma(rgb), target_luma, max_gain)


def _gain_for(current: float, target_luma: float, max_gain: float) -> float:
    if current <= 1e-6:
        return max_gain
    return float(np.clip(target_luma / current, 1.0, max_gain))


def enhance_clahe(pixels: np.ndarray, settings: ClaheSettings = ClaheSettings()) -> np.ndarray:
    """CLAHE on L, then linear brightening (auto or fixed gain).

    HxWx3 in any of the photo dtypes (uint8, uint16, float32 in [0, 1]) and the same dtype out.
    Works in bands of rows: beyond the input and output, memory is about 4 bytes per pixel.
    """
    equalised = _equalised_lightness(pixels, settings.clip_limit, settings.tile_grid)
    gain = settings.gain
    if gain is None:
        total = sum(float((_rebuild(pixels, equalised, t, b) @ LUMA_WEIGHTS).sum()) for t, b in _bands(pixels.shape[0]))
        gain = _gain_for(total / (pixels.shape[0] * pixels.shape[1]), settings.target_luma, settings.max_gain)
    out = np.empty_like(pixels)
    for top, bottom in _bands(pixels.shape[0]):
        out[top:bottom] = from_float(_rebuild(pixels, equalised, top, bottom) * np.float32(gain), pixels.dtype)
    return out


def model_pre_step(name: str | None, settings: dict) -> Callable[[np.ndarray], np.ndarray] | None:
    """The classical step a learned model declares (`ModelSpec.pre`), with the settings it was built for.

    The settings come from the network (`model.pre_settings`, constructor arguments saved with its
    weights, or their copy in its shipped graphs' description), never from the command line: the
    network only knows inputs prepared as in training.
    """
    if name is None:
        return None
    if name != "clahe":
        raise ValueError(f"unknown pre-processing step '{name}'")
    clahe = ClaheSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()})
    return lambda pixels: enhance_clahe(pixels, clahe)
