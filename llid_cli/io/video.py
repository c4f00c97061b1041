"""Video files through PyAV (FFmpeg's libraries, in its wheel): frames in, frames out, and every
other stream (audio, subtitles) copied as packets, never re-encoded.

What is kept: each frame's timestamp in the input's time base (variable frame rates stay as they
were), the rotation, the colour tags (primaries, transfer, matrix, range) and the container's
metadata (creation time, location). The output is written to a hidden temporary file beside the
target and renamed at the end: an interrupted run leaves no partial video.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from llid_cli.core.errors import ImageReadError, ImageWriteError, first_line
from llid_cli.core.extras import require
from llid_cli.io.atomic import publish, remove_stale, temporary_beside

VIDEO_EXTENSIONS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm",
                    ".avi": "avi", ".mts": "mpegts", ".ts": "mpegts"}
# --codec NAME -> (FFmpeg encoder, pixel format for 8-bit input, for 10-bit input)
CODECS = {"h264": ("libx264", "yuv420p", "yuv420p10le"), "h265": ("libx265", "yuv420p", "yuv420p10le"),
          "av1": ("libsvtav1", "yuv420p", "yuv420p10le"), "vp9": ("libvpx-vp9", "yuv420p", "yuv420p10le"),
          "prores": ("prores_ks", "yuv422p10le", "yuv422p10le"), "ffv1": ("ffv1", "yuv444p", "yuv444p10le")}
DEFAULT_CODEC = {"webm": "vp9"}  # else h264
HDR_TRANSFERS = {16: "PQ (SMPTE 2084)", 18: "HLG (ARIB STD-B67)"}
MAX_VIDEO_PIXELS = 8192 * 4352  # a frame larger than 8K is refused before anything is allocated


def is_video_name(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    time_base: Fraction
    rate: Fraction | None  # the average frame rate, where the container knows it
    frames: int  # 0: unknown
    rotation: int  # degrees, as the display matrix says
    ten_bit: bool
    colour: dict  # color_primaries, color_trc, colorspace, color_range of the first frame


@dataclass
class Frame:
    """One decoded frame: RGB pixels (uint8, or uint16 for a 10-bit source) and its timestamp."""

    pixels: np.ndarray
    pts: int | None
    seconds: float


class VideoReader:
    """Decodes the first video stream of `path`; the other streams' packets met on the way are kept
    for the writer (`take_other_packets`)."""

    def __init__(self, path: str | os.PathLike, others: bool = True):
        """`others`: keep the audio and subtitle packets met while decoding (off for a segment of a
        video split over workers: the join copies them from the input)."""
        require("av", "llid video")
        import av

        self.path = Path(path)
        self.others = others
        if not self.path.is_file():
            raise ImageReadError("no such file", self.path)
        try:
            self.container = av.open(str(self.path))
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise ImageReadError(f"not a video FFmpeg can read ({first_line(exc)})", self.path) from None
        if not self.container.streams.video:
            self.container.close()
            raise ImageReadError("no video stream in this file", self.path)
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"  # FFmpeg decodes on its own threads, beside the model
        context = self.stream.codec_context
        if context.width * context.height > MAX_VIDEO_PIXELS:
            self.container.close()
            raise ImageReadError(f"frames of {context.width}x{context.height} are larger than 8K", self.path)
        self._first = None
        self._first_raw = None
        self.other_packets: list = []  # audio and subtitle packets met while decoding, for the writer
        self.corrupt = 0  # packets that could not be decoded, skipped
        self._frames = self._decode()
        try:
            self._first = next(self._frames)
        except StopIteration:
            self.container.close()
            raise ImageReadError("no frame could be decoded", self.path) from None
        transfer = int(self._first_raw.color_trc or 0)
        if transfer in HDR_TRANSFERS:
            self.container.close()
            raise ImageReadError(f"HDR video ({HDR_TRANSFERS[transfer]}) is not supported yet: llid renders SDR "
                                 "(tone-map it to SDR first)", self.path)
        self.info = VideoInfo(
            width=self._first.pixels.shape[1], height=self._first.pixels.shape[0],
            time_base=self.stream.time_base, rate=self.stream.average_rate, frames=int(self.stream.frames or 0),
            rotation=int(self._first_raw.rotation or 0), ten_bit=self._first.pixels.dtype == np.uint16,
            colour={name: getattr(self._first_raw, name) for name in
                    ("color_primaries", "color_trc", "colorspace", "color_range")},
        )

    @property
    def other_streams(self) -> list:
        return [s for s in self.container.streams if s.type in ("audio", "subtitle")]

    def _decode(self) -> Iterator[Frame]:
        import av

        wanted = [self.stream, *(self.other_streams if self.others else [])]
        try:
            for packet in self.container.demux(wanted):
                if packet.stream is not self.stream:
                    if packet.dts is not None:
                        self.other_packets.append(packet)
                    continue
                try:
                    decoded = packet.decode()
                except av.InvalidDataError:
                    self.corrupt += 1  # a broken packet is a counted skip, not the end of the video
                    continue
                for raw in decoded:
                    if self._first_raw is None:
                        self._first_raw = raw
                    ten_bit = raw.format.name.endswith(("10le", "10be", "12le", "16le"))
                    pixels = raw.to_ndarray(format="rgb48le" if ten_bit else "rgb24")
                    yield Frame(pixels, raw.pts, float(raw.time) if raw.time is not None else 0.0)
        except av.FFmpegError as exc:
            raise ImageReadError(f"the video stream breaks off ({first_line(exc)})", self.path) from None

    def frames(self) -> Iterator[Frame]:
        yield self._first
        yield from self._frames

    def frames_from(self, pts: int) -> Iterator[Frame]:
        """The frames from the keyframe at `pts` (the stream's time base) on: a segment's start."""
        import av

        try:
            self.container.seek(pts, stream=self.stream, backward=True, any_frame=False)
        except av.FFmpegError as exc:
            raise ImageReadError(f"cannot seek to {float(pts * self.stream.time_base):.3f} s "
                                 f"({first_line(exc)})", self.path) from None
        self.other_packets = []
        return self._decode()

    def take_other_packets(self) -> list:
        taken, self.other_packets = self.other_packets, []
        return taken

    def close(self) -> None:
        self.container.close()


class VideoWriter:
    """Encodes frames into a hidden temporary file beside `target`, copies the reader's other
    streams' packets, and renames the file onto `target` in `finish()`; `abort()` removes it."""

    def __init__(self, target: str | os.PathLike, reader: VideoReader, codec: str | None = None, crf: int = 20,
                 others: bool = True):
        """`others`: copy the reader's audio and subtitle streams (off for a segment: see `join`)."""
        import av

        self.target = Path(target)
        self._worker, self._queue, self._error = None, None, None
        container_format = VIDEO_EXTENSIONS.get(self.target.suffix.lower())
        if container_format is None:
            raise ImageWriteError(f"not a video name (one of {', '.join(sorted(VIDEO_EXTENSIONS))})", self.target)
        codec = codec or DEFAULT_CODEC.get(container_format, "h264")
        encoder, pix8, pix10 = CODECS[codec]
        remove_stale((self.target,))
        fd, tmp = temporary_beside(self.target)
        os.close(fd)
        self.tmp = Path(tmp)
        info = reader.info
        try:
            self.container = av.open(str(self.tmp), "w", format=container_format)
            self.container.metadata.update({k: v for k, v in reader.container.metadata.items()
                                            if k not in ("encoder", "major_brand", "minor_version", "compatible_brands")})
            self.stream = self.container.add_stream(encoder, rate=info.rate or Fraction(30))
            self.stream.width, self.stream.height = info.width, info.height
            self.stream.pix_fmt = pix10 if info.ten_bit else pix8
            self.stream.time_base = info.time_base
            self.stream.codec_context.time_base = info.time_base
            self.stream.thread_type = "AUTO"
            options = {"crf": str(crf)} if codec in ("h264", "h265", "av1", "vp9") else {}
            if codec == "h264":
                options["preset"] = "veryfast"
            if codec == "vp9":
                options.update({"b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "5"})
            if codec == "av1":
                options["preset"] = "10"
            self.stream.codec_context.options = options
            for name, value in info.colour.items():
                if value is not None:
                    setattr(self.stream.codec_context, name, value)
            if info.rotation:
                self.stream.set_display_rotation(info.rotation)
            self.copied = {s.index: self.container.add_stream_from_template(s)
                           for s in (reader.other_streams if others else [])}
        except (av.FFmpegError, ValueError, OSError) as exc:
            self.abort()
            raise ImageWriteError(f"cannot write this video ({first_line(exc)})", self.target) from None
        self.colour = info.colour

    # Encoding and muxing run on a thread of their own, fed through a short queue, so that x264
    # (and the conversion to YUV) work while the model renders the next frame; the queue bounds
    # the frames held at once.
    QUEUE = 3

    def write(self, pixels: np.ndarray, pts: int | None) -> None:
        self._put(("frame", pixels, pts))

    def copy(self, packets: list) -> None:
        if packets:
            self._put(("packets", packets, None))

    def _put(self, item) -> None:
        import queue
        import threading

        if self._worker is None:
            self._queue = queue.Queue(maxsize=self.QUEUE)
            self._worker = threading.Thread(target=self._work, name="llid-video-encoder", daemon=True)
            self._worker.start()
        while True:
            self._raise_error()
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _work(self) -> None:
        try:
            while True:
                kind, payload, pts = self._queue.get()
                if kind == "stop":
                    return
                if kind == "frame":
                    self._encode(payload, pts)
                else:
                    self._mux_copies(payload)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            self._error = exc

    def _raise_error(self) -> None:
        """The encoder thread's failure, as the caller's: the writer is done for, its file removed."""
        if self._error is not None:
            import av

            self.abort()

            if isinstance(self._error, (av.FFmpegError, ValueError, OSError)):
                raise ImageWriteError(f"cannot write this video ({first_line(self._error)})", self.target)
            raise self._error

    def _encode(self, pixels: np.ndarray, pts: int | None) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(pixels, format="rgb48le" if pixels.dtype == np.uint16 else "rgb24")
        frame.pts = pts
        frame.time_base = self.stream.time_base
        for name, value in self.colour.items():
            if value is not None:
                setattr(frame, name, value)
        for packet in self.stream.encode(frame.reformat(format=self.stream.pix_fmt)):
            self.container.mux(packet)

    def _mux_copies(self, packets: list) -> None:
        for packet in packets:
            out = self.copied.get(packet.stream.index)
            if out is not None:
                packet.stream = out
                self.container.mux(packet)

    def _stop(self) -> None:
        """Let the encoder thread finish what is queued, and wait for it."""
        if self._worker is not None:
            import queue

            while self._worker.is_alive():  # a thread that failed reads no more: no waiting on it
                try:
                    self._queue.put(("stop", None, None), timeout=0.1)
                    break
                except queue.Full:
                    continue
            self._worker.join()
            self._worker = None

    def finish(self) -> Path:
        try:
            self._stop()
            self._raise_error()
            for packet in self.stream.encode():
                self.container.mux(packet)
            self.container.close()
            publish(self.tmp, self.target)
        except BaseException:
            self.abort()
            raise
        return self.target

    def abort(self) -> None:
        if self._worker is not None:  # drop what is queued: nothing of it is kept
            try:
                while True:
                    self._queue.get_nowait()
            except Exception:  # noqa: BLE001 - queue.Empty
                pass
            self._stop()
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - closing a half-written file may fail; it is removed anyway
            pass
        self.tmp.unlink(missing_ok=True)
