"""`llid video`: every frame through the photo pipeline, with what a video needs on top.

- **Exposure decided over time.** A model decides each frame's exposure from that frame alone, so
  fresh noise makes it flicker, and a lamp entering the picture darkens everything else. Here each
  frame's decision is taken on a thumbnail with its lights painted out (`decide`), smoothed with a
  time constant (`smoothing` seconds) and re-taken at once at a scene cut; the frame is then rendered
  at the smoothed exposure through the exposure control (per call: lynx renders it itself, other
  models are shifted after). Away from lights, the output's exposure follows the smoothed decision.
  With `--night-look` the night look, judged from each frame's picture, joins the decision.
- **Temporal denoising.** Noise that changes every frame is averaged over the frames before it
  where the scene is still (`TemporalDenoiser`: a recursive filter gated per pixel by how far the
  frame moved from the running average, in units of its noise), before the model brightens it.
  Moving areas are not averaged, so nothing ghosts behind them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from llid_cli.io.image import Image, from_float, to_float
from llid_cli.rendering.night import night_look
from llid_cli.rendering.tone import (
    LINEAR_LUMA,
    linear_to_srgb,
    shift_pixels,
    srgb_to_linear,
)

THUMBNAIL = 256  # the longer side of the frame a decision is taken on
LIGHT = 0.85  # a thumbnail pixel whose brightest channel is above this is a light (painted out)
TOLERANCE = 0.002  # stops: how close a frame's gain is brought to the decided one, on the thumbnail
RESIDUAL = 0.004  # stops: what is left on the full frame is shifted away above this
CUT = 0.45  # half the L1 distance between two frames' luma histograms above which a scene cut is seen


@dataclass(frozen=True)
class VideoOptions:
    smoothing: float = 1.0  # seconds: the time constant of the exposure (0: every frame decides alone)
    denoise_frames: float = 4.0  # how many past frames the temporal filter averages at most (0: off)


def thumbnail(pixels: np.ndarray) -> np.ndarray:
    """The frame (HxWx3, own dtype) at THUMBNAIL pixels on its longer side, float in [0, 1]."""
    height, width = pixels.shape[:2]
    scale = min(1.0, THUMBNAIL / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return to_float(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA) if scale < 1 else pixels)


def lights(small: np.ndarray) -> np.ndarray:
    """Mask of a thumbnail's lights: bright pixels, and a few pixels around them (their glow)."""
    bright = (small.max(axis=2) > LIGHT).astype(np.uint8)
    return cv2.dilate(bright, np.ones((5, 5), np.uint8)).astype(bool)


def exposure_over(small: np.ndarray, keep: np.ndarray) -> float:
    """log2 of the mean linear luminance of a thumbnail over the pixels `keep` (all if none)."""
    luminance = srgb_to_linear(small) @ LINEAR_LUMA
    chosen = luminance[keep] if keep.any() else luminance.ravel()
    return math.log2(max(float(chosen.mean()), 1e-6))


def histogram(small: np.ndarray) -> np.ndarray:
    luma = small @ np.array([0.299, 0.587, 0.114], np.float32)
    counts, _ = np.histogram(luma, bins=32, range=(0.0, 1.0))
    return counts / max(1, counts.sum())


class TemporalExposure:
    """The exposure shift each frame is rendered with, so that away from its lights the output
    follows a smoothed decision. `enhance(pixels, ev)` is the photo pipeline's enhancer."""

    def __init__(self, enhance, smoothing: float, user_ev: float = 0.0, settling: int = 0, night: bool = False):
        """`night`: the night look judged from each frame's picture (`--night-look`; frames carry
        no exposure settings), its shift added to `user_ev` before the decision is smoothed."""
        self.enhance, self.smoothing, self.user_ev, self.settling = enhance, smoothing, user_ev, settling
        self.night = night
        self.ev = user_ev  # the present frame's EV before smoothing: the user's, and the night look's
        self.since_cut = 0
        # The present frame's thumbnail pixels that are not lights, and its exposure over them.
        self.keep: np.ndarray | None = None
        self.before = 0.0
        self.level: float | None = None  # the smoothed gain (stops) the model gives the scene, lights left out
        self.seconds: float | None = None
        self.previous: np.ndarray | None = None
        self.cuts = 0

    def decide(self, small: np.ndarray, keep: np.ndarray) -> tuple[float, float]:
        """(the gain the model gives this frame's scene with its lights painted out, the gain it
        gives the frame as it is), both in stops, measured away from the lights."""
        painted = small.copy()
        if keep.any() and not keep.all():
            painted[~keep] = np.median(small[keep], axis=0)  # the scene without its lamps
        scene = self._gain(painted, keep, self.ev)
        as_is = self._gain(small, keep, self.ev) if not keep.all() else scene
        if self.ev < self.user_ev:  # the night look only holds back brightening, as for photos
            scene = max(scene, min(0.0, self._gain(painted, keep, self.user_ev)))
        return scene, as_is

    def _gain(self, small: np.ndarray, keep: np.ndarray, ev: float) -> float:
        """Stops the rendering of `small` at `ev` adds to the frame's exposure, away from its lights."""
        return exposure_over(to_float(self.enhance(np.ascontiguousarray(small, np.float32), ev)), keep) - self.before

    def solve(self, small: np.ndarray, keep: np.ndarray, wanted: float, ev: float, gain: float) -> float:
        """The EV at which the frame's gain away from its lights is `wanted`, from `gain` at `ev`.
        Not one to one where lights take much of the frame's light (the model's exposure is the
        whole frame's), so a few secant steps on the thumbnail."""
        step = wanted - gain
        for _ in range(3):
            if abs(wanted - gain) < TOLERANCE:
                break
            next_ev = ev + step
            next_gain = self._gain(small, keep, next_ev)
            slope = (next_gain - gain) / (next_ev - ev) if next_ev != ev else 1.0
            ev, gain = next_ev, next_gain
            step = (wanted - gain) / min(3.0, max(0.3, slope))
        return ev + (step if abs(wanted - gain) >= TOLERANCE else 0.0)

    def follow(self, pixels: np.ndarray, seconds: float) -> tuple[np.ndarray, np.ndarray, float]:
        """Take this frame's decision into the smoothed level (a cut decides anew); returns its
        thumbnail, the pixels that are not lights and the gain the frame gets as it is."""
        small = thumbnail(pixels)
        keep = ~lights(small)
        self.keep, self.before = keep, exposure_over(small, keep)
        self.ev = self.user_ev + (night_look(Image(pixels=small), "on") if self.night else 0.0)
        scene, as_is = self.decide(small, keep)
        counts = histogram(small)
        cut = self.previous is not None and 0.5 * float(np.abs(counts - self.previous).sum()) > CUT
        self.cuts += cut
        self.since_cut = 0 if cut or self.level is None else self.since_cut + 1
        if self.since_cut <= self.settling or self.smoothing <= 0:
            # At the start and after a cut, follow the decisions while the temporal filter fills
            # (they change as the frames get cleaner); smoothing from a noisy first frame's
            # decision drifted for seconds.
            self.level = scene
        else:
            step = max(0.0, seconds - (self.seconds if self.seconds is not None else seconds)) or 1 / 30
            self.level += (1.0 - math.exp(-step / self.smoothing)) * (scene - self.level)
        self.previous, self.seconds = counts, seconds
        return small, keep, as_is

    def shift(self, pixels: np.ndarray, seconds: float) -> float:
        """The EV this frame is rendered with (the user's `--exposure` included)."""
        small, keep, as_is = self.follow(pixels, seconds)
        if keep.all():  # no lights: EV and gain go one to one (what is left is shifted after)
            return self.ev + (self.level - as_is)
        return self.solve(small, keep, self.level, self.ev, as_is)


class TemporalDenoiser:
    """A recursive average over past frames, per pixel, where the scene has not moved.

    Each pixel's running average takes the new frame with weight 1/n (n frames so far, at most
    `frames + 1`); where the frame differs from the average by more than its noise would explain
    (the difference averaged over 5x5 pixels, against `GATE` times the noise left after that),
    the count starts again: a moving object is taken from the new frame alone. Averages in linear
    light: an average of gamma-encoded noise is darker than the light was (more so as more frames
    are averaged), and that changed each frame's exposure as the counts changed."""

    GATE = 3.0

    def __init__(self, frames: float):
        self.frames = frames
        self.average: np.ndarray | None = None
        self.count: np.ndarray | None = None

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """The frame averaged over time, as 16-bit sRGB (the frame itself when off)."""
        if self.frames <= 0:
            return pixels
        frame = _linear(pixels)
        if self.average is None or self.average.shape != frame.shape:
            self.average, self.count = frame, np.ones(frame.shape[:2] + (1,), np.float32)
            return _encoded(frame)
        noise = _noise(frame)
        # In place where an array is not needed again (fresh 1080p arrays cost a quarter of the
        # filter's time); the same arithmetic, in the same order.
        delta = np.subtract(frame, self.average, out=frame)
        # The signed difference averaged over 5x5 pixels and the three channels (summed here, so
        # the bound is three times as large): its noise is the frame's over sqrt(75), about a
        # ninth (a little more, for the average's own noise).
        summed = np.add(delta[..., 0], delta[..., 1])
        np.add(summed, delta[..., 2], out=summed)
        difference = np.abs(cv2.blur(summed, (5, 5), dst=summed), out=summed)[..., None]
        still = difference < 3.0 * (self.GATE * noise / 7.5 + 1e-4)
        count = np.minimum(np.add(self.count, np.float32(1.0), out=self.count), np.float32(self.frames + 1.0),
                           out=self.count)
        count[~still] = np.float32(1.0)
        self.average += np.divide(delta, count, out=delta)
        # 16-bit, not rounded back to the frame's 8 bits: in a dark frame (levels 2-10) that
        # would undo much of the average.
        return _encoded(self.average)


_DECODE = {np.dtype(np.uint8): srgb_to_linear(np.arange(256, dtype=np.float32) / 255),
           np.dtype(np.uint16): srgb_to_linear(np.arange(65536, dtype=np.float32) / 65535)}
_ENCODE = np.rint(linear_to_srgb(np.arange(65536, dtype=np.float32) / 65535) * 65535).astype(np.uint16)


def _linear(pixels: np.ndarray) -> np.ndarray:
    """A frame's linear light, float32: a table lookup per level (the power law took a tenth of a
    1080p frame's time, twice over)."""
    if pixels.dtype == np.uint8:  # OpenCV's table lookup: the same values, a third of the time
        return cv2.LUT(np.ascontiguousarray(pixels), _DECODE[pixels.dtype])
    table = _DECODE.get(pixels.dtype)
    return table[pixels] if table is not None else srgb_to_linear(to_float(pixels))


def _encoded(linear: np.ndarray) -> np.ndarray:
    """Linear light -> 16-bit sRGB through a table of 65536 linear levels (sRGB's steepest slope,
    12.92 at black, keeps its error under a fifth of an 8-bit level)."""
    index = np.clip(linear * 65535.0 + 0.5, 0, 65535).astype(np.uint16)
    return _ENCODE[index]


def _noise(frame: np.ndarray) -> float:
    """The frame's noise (standard deviation, [0, 1] units), from the median absolute Laplacian of
    its green channel: robust to edges (Immerkaer's estimator, with a median)."""
    green = np.ascontiguousarray(frame[::2, ::2, 1])  # a quarter of the pixels tell it as well
    laplacian = cv2.Laplacian(green, cv2.CV_32F, ksize=1)
    return float(np.median(np.abs(laplacian[::2, ::2]))) * 1.4826 / math.sqrt(20.0)


class FrameRenderer:
    """One video's frames, in order: denoised over time, rendered at the exposure decided over time."""

    def __init__(self, pipeline, options: VideoOptions = VideoOptions()):
        self.pipeline = pipeline
        settings = pipeline.options
        self.exposure = TemporalExposure(pipeline.enhance_pixels, options.smoothing, settings.controls.exposure,
                                         settling=math.ceil(options.denoise_frames),
                                         night=settings.night_look == "on" and bool(settings.strength))
        self.denoise = TemporalDenoiser(options.denoise_frames)

    def warm(self, pixels: np.ndarray, seconds: float) -> None:
        """Take a frame into the state over time without rendering it: a segment's lead-in."""
        self.exposure.follow(self.denoise(pixels), seconds)

    def __call__(self, pixels: np.ndarray, seconds: float) -> np.ndarray:
        clean = self.denoise(pixels)
        out = self.pipeline.enhance_pixels(clean, self.exposure.shift(clean, seconds))
        # The shift was found on a thumbnail; the full frame's own decision differs from it a
        # little, with the noise of each frame: what is left is measured and shifted away.
        got = exposure_over(thumbnail(out), self.exposure.keep) - self.exposure.before
        left = self.exposure.level - got
        out = shift_pixels(out, left) if abs(left) > RESIDUAL else out
        return out if out.dtype == pixels.dtype else from_float(to_float(out), pixels.dtype)


@dataclass
class VideoResult:
    source: str
    target: str
    frames: int
    seconds: float
    cuts: int  # scene cuts seen (the exposure decided anew)
    skipped: int  # packets that could not be decoded


@dataclass(frozen=True)
class Segment:
    """The frames of a video with timestamps in [start, end) (None: from the first, to the last),
    decoded from the keyframe at `lead_in` (at or before `start`; None: the first): the frames
    before `start` only bring the exposure and the temporal filter to where they would be in a run
    over the whole video."""

    start: int | None
    end: int | None
    lead_in: int | None


def lead_in_seconds(options: VideoOptions, frames_per_second: float) -> float:
    """Seconds of video before a frame that bring the state over time to within a percent of where
    it would be had the video been rendered from its start: five time constants of the exposure's
    smoothing (e^-5), and the frames the temporal filter averages with a margin."""
    return 5.0 * options.smoothing + (math.ceil(options.denoise_frames) + 2) / max(frames_per_second, 1.0)


def enhance_video(source, target, pipeline, options: VideoOptions = VideoOptions(), codec: str | None = None,
                  crf: int = 20, progress=None, segment: Segment | None = None) -> VideoResult:
    """Enhance the video `source` into `target` with `pipeline` (a `Pipeline`), frame by frame in
    a bounded window (memory flat in the video's length); other streams copied as packets.
    `progress(frames done, frames in the video or 0)`. Nothing is left at `target` on failure.
    With `segment`, only that part of the video is written, as a video stream alone (for `join`)."""
    import time

    from llid_cli.io.video import VideoReader, VideoWriter

    start = time.perf_counter()
    whole = segment is None
    reader = VideoReader(source, others=whole)
    try:
        writer = VideoWriter(target, reader, codec, crf, others=whole)
        try:
            render = FrameRenderer(pipeline, options)
            from_start = whole or segment.lead_in is None
            frames = reader.frames() if from_start else reader.frames_from(segment.lead_in)
            done, cuts_before = 0, 0
            for frame in frames:
                if not whole:
                    if segment.start is not None and frame.pts is not None and frame.pts < segment.start:
                        render.warm(frame.pixels, frame.seconds)
                        cuts_before = render.exposure.cuts
                        continue
                    if segment.end is not None and frame.pts is not None and frame.pts >= segment.end:
                        break
                writer.write(render(frame.pixels, frame.seconds), frame.pts)
                writer.copy(reader.take_other_packets())
                done += 1
                if progress is not None:
                    progress(done, reader.info.frames)
            writer.copy(reader.take_other_packets())
            writer.finish()
        except BaseException:
            writer.abort()
            raise
    finally:
        reader.close()
    return VideoResult(str(source), str(target), done, time.perf_counter() - start,
                       render.exposure.cuts - cuts_before, reader.corrupt)
