"""The night look: a photo taken in little light is brightened less, so that night still looks like night.

Why: every learned model here learned its exposure from SICE, whose references are exposure
fusions of daylight and indoor brackets. Given a night street or a city at night it renders the
same brightness as a dim daylight scene: `lynx` took the 16 DICM photos whose EXIF puts the
scene below 6 EV to a mean luma of 0.38-0.50 (0.45 on average), the level of its daylight photos,
and their black skies came out a murky grey-yellow. A photographer expects a night photo to be
brighter and cleaner, not turned into day (the eye itself sees a night scene dim: below a few
cd/m^2 its vision is mesopic).

What decides is the light of the scene, which the camera recorded: its exposure settings give the
light that reached the sensor (EV100, `llid_cli.io.metadata.ExposureSettings`, which the readers
take from EXIF, a TIFF's EXIF directory or a camera RAW into `Image.exposure`) and the photo's
own exposure says how far from a metered exposure the frame is, so

    scene EV = EV100 + (exposure of the photo - log2(0.18))

(0.18: the mean linear level of a frame exposed as a light meter asks; a daylight frame shot two
stops under still reads as daylight). Scene EV is log2 of the mean luminance over 0.125 cd/m^2:
DICM's night and dim indoor photos measure -2.6 to 6.3, its daylight ones 10.1 to 16.1.

The automatic exposure is lowered by `STOPS_PER_EV` per EV below `DIM_EV`, at most `MOST` stops
(at scene EV 3, about 1 cd/m^2, and below). It only ever holds back brightening:

- it fades out between the bounds below which lynx brightens a photo at all (`HELP`: the mean of
  sqrt(luminance), lynx's `keep_exposure`), so a photo that needs no help is left as it was;
- the pipeline checks that the output is not darker than the input, and enhances again without
  the night look if it is (`llid_cli.rendering.pipeline.Pipeline`).

A photo without exposure settings (a PNG, a screenshot, an edited file, a video frame, SICE's
frames) is enhanced as without the look, unless `--night-look` asks for it: then it is judged
from the picture, taken as shot at `NO_SETTINGS_EV100`, the exposure value DICM's night photos
were shot at (EV100 2-7; its daylight ones 6.9-15.6: in dim light a camera opens up to its limits
and the frame still comes out dark), so the darker the frame, the dimmer the scene. With their
settings stripped, the 16 DICM photos the look changes then land within 0.41 EV of their
rendering with them (`benchmarks/night_look.py --strip`). It is not the default because the
picture cannot tell a night scene from a daylight one under-exposed as much: SICE's dark frames
of daylight scenes would be rendered 1.07 EV darker on average; global cues (a dark top third,
the lights' range over the median) that spare them find only 8 of those 16 (docs/models.md).

`--night-look` (`on`): the settings decide, else the picture; `--no-night-look` (`off`): never;
by default (`auto`) the settings alone. `--exposure` adds to it.
"""

from __future__ import annotations

import math

import numpy as np

from llid_cli.io import Image
from llid_cli.io.image import to_float
from llid_cli.rendering.tone import brightness_of, exposure_of

DIM_EV = 6.0  # scene EV (8 cd/m^2) from which a scene is lit enough to be rendered as it is
STOPS_PER_EV = 0.5  # how much less brightening per EV of scene light below DIM_EV
MOST = 1.5  # the most it holds back, in stops (reached at scene EV 3, 1 cd/m^2)
METERED = math.log2(0.18)  # the exposure of a frame exposed as a light meter asks
HELP = (0.25, 0.30)  # lynx's keep_exposure: mean sqrt(luminance) up to which a photo is brightened
NO_SETTINGS_EV100 = 6.25  # with --night-look, a photo without settings is taken as shot at this EV100
_SAMPLES = 1 << 18  # pixels measured (a regular subsample): the means are what matter


def scene_ev(image: Image) -> float | None:
    """The scene's light as an exposure value (log2 of its mean luminance over 0.125 cd/m^2), from
    the photo's EXIF exposure settings and its own exposure; None without settings."""
    return None if image.exposure is None else _scene_ev(image, sample(image.pixels))


def night_shift(scene: float | None) -> float:
    """EV (0 or below) added to the automatic exposure of a photo of a scene this light."""
    if scene is None:
        return 0.0
    return -min(MOST, max(0.0, DIM_EV - scene) * STOPS_PER_EV)


def night_look(image: Image, mode: str = "auto") -> float:
    """The EV by which the night look lowers this photo's automatic exposure (0: it does not);
    `mode`: "auto" (the settings decide), "on" (the settings, else the picture) or "off"."""
    if mode == "off" or (mode == "auto" and image.exposure is None):
        return 0.0
    measured = sample(image.pixels)  # measured once for the scene's light and the photo's need
    shift = night_shift(_scene_ev(image, measured))
    return shift * _needs_help(measured) if shift else 0.0


def _scene_ev(image: Image, sample: np.ndarray) -> float:
    """From the exposure settings the camera recorded, else as if shot at `NO_SETTINGS_EV100`."""
    ev100 = image.exposure.ev100 if image.exposure is not None else NO_SETTINGS_EV100
    return ev100 + exposure_of(sample) - METERED


def _needs_help(sample: np.ndarray) -> float:
    """1 for a photo dark enough that a model brightens it, 0 for one it leaves alone (`HELP`)."""
    low, high = HELP
    return min(1.0, max(0.0, (high - brightness_of(sample)) / (high - low)))


def darker(output: np.ndarray, pixels: np.ndarray) -> bool:
    """Whether `output` holds less light than `pixels` (photos' pixels in their own dtype)."""
    return exposure_of(sample(output)) < exposure_of(sample(pixels))


def sample(pixels: np.ndarray) -> np.ndarray:
    """A regular subsample of a photo's pixels (HxW or HxWxC, any dtype) as HxWx3 float in [0, 1]."""
    step = max(1, math.ceil(math.sqrt(pixels.shape[0] * pixels.shape[1] / _SAMPLES)))
    small = to_float(pixels[::step, ::step])
    return np.repeat(small[:, :, None], 3, axis=2) if small.ndim == 2 else small[:, :, :3]
