"""A video cut at its keyframes and put back together: what `llid video --ray` needs of the files.

`index(path)` reads the video stream's packets (nothing is decoded) for the keyframes a segment can
start at. Workers encode their segments into files of the output's own format, each opening with a
keyframe of its own; `join` copies those packets one after the other into the output, with the
input's audio and subtitle packets between them, so no frame is encoded twice and the joins are
not re-encoded. The segments' encoders must have written the same stream header (the same codec
settings and frame size do): that is checked, not assumed.
"""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from llid_cli.core.errors import ImageReadError, ImageWriteError, first_line
from llid_cli.core.extras import require
from llid_cli.io.atomic import publish, remove_stale, temporary_beside
from llid_cli.io.video import VIDEO_EXTENSIONS


@dataclass(frozen=True)
class StreamIndex:
    """Where a video stream's keyframes lie, in its own time base."""

    keyframes: tuple[int, ...]  # presentation timestamps, ascending
    end: int  # the last frame's timestamp plus its duration: where the stream ends
    time_base: Fraction
    frames: int


def index(path: str | os.PathLike) -> StreamIndex:
    """The keyframes of `path`'s first video stream, from its packets' flags (nothing decoded)."""
    require("av", "llid video")
    import av

    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ImageReadError("no video stream in this file", path)
            stream = container.streams.video[0]
            time_base = stream.time_base
            keyframes, last, duration, frames = [], None, 0, 0
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                frames += 1
                if packet.is_keyframe:
                    keyframes.append(packet.pts)
                if last is None or packet.pts >= last:
                    last, duration = packet.pts, packet.duration or 0
    except av.FFmpegError as exc:
        raise ImageReadError(f"not a video FFmpeg can read ({first_line(exc)})", path) from None
    if last is None:
        raise ImageReadError("no video frame in this file", path)
    return StreamIndex(tuple(sorted(set(keyframes))), last + max(duration, 1), time_base, frames)


def join(source: str | os.PathLike, segments: list[Path], target: str | os.PathLike, rotation: int = 0) -> Path:
    """The segments' video packets, in order, with `source`'s audio, subtitles and metadata and
    the `rotation` its frames carry, written to `target` atomically. Nothing is decoded or encoded."""
    import av

    target = Path(target)
    container_format = VIDEO_EXTENSIONS[target.suffix.lower()]
    remove_stale((target,))
    fd, tmp = temporary_beside(target)
    os.close(fd)
    tmp = Path(tmp)
    parts = []
    try:
        original = av.open(str(source))
    except (av.FFmpegError, OSError) as exc:
        raise ImageReadError(f"not a video FFmpeg can read ({first_line(exc)})", Path(source)) from None
    try:
        parts = [av.open(str(segment)) for segment in segments]
        streams = [part.streams.video[0] for part in parts]
        header = streams[0].codec_context.extradata
        for segment, stream in zip(segments, streams):
            if stream.codec_context.extradata != header:
                raise ImageWriteError(f"segment {segment.name} was encoded with another stream header: "
                                      "cannot join without re-encoding", target)
        with av.open(str(tmp), "w", format=container_format) as out:
            out.metadata.update({k: v for k, v in original.metadata.items()
                                 if k not in ("encoder", "major_brand", "minor_version", "compatible_brands")})
            video = out.add_stream_from_template(streams[0])
            video.time_base = streams[0].time_base
            if rotation:
                video.set_display_rotation(rotation)
            kept = [s for s in original.streams if s.type in ("audio", "subtitle")]
            copied = {s.index: out.add_stream_from_template(s) for s in kept}

            def packets_of(container, streams_wanted, destination):
                for packet in container.demux(streams_wanted):
                    if packet.dts is None or packet.size == 0:
                        continue
                    yield float(packet.dts * packet.time_base), destination(packet), packet

            pictures = (item for part, stream in zip(parts, streams)
                        for item in packets_of(part, stream, lambda _: video))
            others = (packets_of(original, kept, lambda p: copied[p.stream.index])
                      if copied else iter(()))
            for _, stream, packet in heapq.merge(pictures, others, key=lambda item: item[0]):
                packet.stream = stream
                out.mux(packet)
        publish(tmp, target)
    except av.FFmpegError as exc:
        tmp.unlink(missing_ok=True)
        raise ImageWriteError(f"cannot join the segments ({first_line(exc)})", target) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        for part in parts:
            part.close()
        original.close()
    return target
