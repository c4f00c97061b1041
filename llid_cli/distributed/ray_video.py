"""`llid video --ray`: one long video cut at its keyframes into segments that Ray workers render
side by side, then joined without encoding anything twice.

- **Where to cut**: at the input's keyframes, the only places a worker can start decoding
  (`plan_segments`), into segments of at least `segment_seconds`, twice as many as workers where
  the video is long enough, so that a slow segment does not leave the others idle.
- **The exposure stays continuous across a cut.** A segment's worker starts decoding a lead-in
  before its first frame (`lead_in_seconds`: five time constants of the smoothing and the
  temporal filter's frames) and takes those frames into the exposure and the temporal filter
  without rendering them; at the segment's first frame both are within a percent of where a
  run over the whole video has them (`tests/test_video_ray.py` measures the difference).
- **Joined without re-encoding**: each segment is encoded into a file of the output's format that
  opens with a keyframe; `io.video_segments.join` copies the packets one after the other with the
  input's audio and subtitles. The segments live in a hidden folder beside the output, removed
  at the end, whether the run finishes or not.

Inputs and outputs must be on a filesystem that every node sees at the same path.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from llid_cli import __version__
from llid_cli.core.errors import LlidError
from llid_cli.distributed.pool import RayOptions, RayPool, import_ray
from llid_cli.rendering.pipeline import EnhanceOptions
from llid_cli.rendering.video import Segment, VideoOptions, VideoResult

SEGMENT_SECONDS = 60.0


def plan_segments(keyframes: tuple[int, ...], end: int, time_base: Fraction, workers: int,
                  segment_seconds: float = SEGMENT_SECONDS, lead_in_seconds: float = 0.0) -> list[Segment]:
    """Segments that start at keyframes, each at least `segment_seconds` long (but the last may
    be shorter than that, never than a keyframe interval), about `2 * workers` of them where the
    video is long enough; each decoded from the last keyframe `lead_in_seconds` before its start."""
    if not keyframes:
        return [Segment(None, None, None)]
    first, seconds = keyframes[0], float((end - keyframes[0]) * time_base)
    length = max(segment_seconds, seconds / max(1, 2 * workers))
    starts = [first]
    for key in keyframes[1:]:
        if float((key - starts[-1]) * time_base) >= length and float((end - key) * time_base) >= length / 2:
            starts.append(key)
    ends = [*starts[1:], None]
    segments = [Segment(None, ends[0], None)]  # the first from the video's first frame, without a lead-in
    for start, stop in zip(starts[1:], ends[1:]):
        wanted = start - lead_in_seconds / time_base
        segments.append(Segment(start, stop, max((k for k in keyframes if k <= wanted), default=first)))
    return segments


class VideoWorker:
    """One Ray actor: a `Pipeline` built once, then one segment per call."""

    def __init__(self, options: EnhanceOptions):
        from llid_cli.rendering.pipeline import Pipeline

        self.error: str | None = None
        try:
            self.pipeline = Pipeline(options)
        except LlidError as exc:
            self.error = str(exc)

    def ready(self) -> tuple[str, str | None]:
        return __version__, self.error

    def segment(self, source: str, target: str, segment: Segment, options: VideoOptions, codec: str | None,
                crf: int) -> VideoResult:
        from llid_cli.rendering.video import enhance_video

        return enhance_video(source, target, self.pipeline, options, codec, crf, segment=segment)


@dataclass(frozen=True)
class Probe:
    """What the driver knows of a video before any worker starts: its stream (`VideoReader`'s
    checks passed: a video, not HDR, not larger than 8K) and where its keyframes lie."""

    source: Path
    info: object  # io.video.VideoInfo
    stream: object  # io.video_segments.StreamIndex


def probe(source: Path) -> Probe:
    """Read `source` as a local run would first, so that a file it would refuse is refused in
    one line before Ray starts; then index its keyframes (packets only, nothing decoded)."""
    from llid_cli.io.video import VideoReader
    from llid_cli.io.video_segments import index

    reader = VideoReader(source, others=False)
    info = reader.info
    reader.close()
    return Probe(Path(source), info, index(source))


class RayVideo(RayPool):
    """The pool of `VideoWorker`s; `run` renders one video over them. A context manager."""

    worker_class = VideoWorker

    def __init__(self, ray_options: RayOptions, options: EnhanceOptions):
        super().__init__(ray_options, options)
        self.folders: list[Path] = []  # the segments' folders, removed when the pool stops

    def run(self, video: Probe, target: Path, options: VideoOptions = VideoOptions(), codec: str | None = None,
            crf: int = 20, progress=None, segment_seconds: float = SEGMENT_SECONDS) -> VideoResult:
        """Like `enhance_video` for the probed video, on the pool. `progress(frames done, frames
        in the video)` as each segment finishes. Nothing is left at `target`, nor beside it, on failure."""
        from llid_cli.io.video_segments import join
        from llid_cli.rendering.video import lead_in_seconds

        ray = import_ray()
        started = time.perf_counter()
        source, info, stream = video.source, video.info, video.stream
        rate = float(info.rate) if info.rate else 30.0
        segments = plan_segments(stream.keyframes, stream.end, stream.time_base, self.workers, segment_seconds,
                                 lead_in_seconds(options, rate))
        folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.segments-", dir=os.path.abspath(target.parent)))
        self.folders.append(folder)
        try:
            files = [folder / f"{number:05d}{target.suffix}" for number in range(len(segments))]
            results = self._render(ray, os.path.abspath(source), files, segments, options, codec, crf,
                                   stream.frames, progress)
            join(source, files, target, info.rotation)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return VideoResult(str(source), str(target), sum(r.frames for r in results), time.perf_counter() - started,
                           sum(r.cuts for r in results), sum(r.skipped for r in results))

    def _render(self, ray, source, files, segments, options, codec, crf, total, progress) -> list[VideoResult]:
        def call(actor, job):
            file, segment = job
            return actor.segment.remote(source, str(file), segment, options, codec, crf)

        results: dict = {}
        done = 0
        for (file, _), ref in self.spread(zip(files, segments), call):
            try:
                results[file] = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                cause = getattr(exc, "cause", None)
                raise (cause if isinstance(cause, LlidError) else LlidError(str(exc).strip().splitlines()[-1]))
            except ray.exceptions.RayActorError:
                raise LlidError(f"a worker process died {self.ray_options.retries + 1} time(s) while "
                                f"enhancing a segment of {Path(source).name} (out of memory?)") from None
            done += results[file].frames
            if progress is not None:
                progress(done, total)
        return [results[file] for file in files]

    def _abandon(self, ray) -> None:
        super()._abandon(ray)
        for folder in self.folders:  # nothing the segments' workers wrote is left
            shutil.rmtree(folder, ignore_errors=True)


__all__ = ["Probe", "RayOptions", "RayVideo", "VideoWorker", "plan_segments", "probe"]
