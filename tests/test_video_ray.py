"""`llid video --ray`: a clip cut at its keyframes, rendered by workers of a real Ray cluster on
127.0.0.1 and joined without re-encoding: the same frames, timestamps, audio and rotation as the
input, and an exposure that does not jump where segments meet."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from test_video import dark_scene, make_clip, streams_of  # noqa: E402

from llid_cli.distributed.ray_video import plan_segments  # noqa: E402
from llid_cli.io.video_segments import index  # noqa: E402
from llid_cli.rendering.tone import LINEAR_LUMA, srgb_to_linear  # noqa: E402
from llid_cli.rendering.video import Segment  # noqa: E402


def test_segments_start_at_keyframes_cover_the_video_and_lead_in_from_a_keyframe():
    keyframes = tuple(range(0, 30000, 1000))  # one each second, time base 1/1000
    segments = plan_segments(keyframes, 30000, Fraction(1, 1000), workers=2, segment_seconds=4.0,
                             lead_in_seconds=2.5)
    assert segments[0] == Segment(None, segments[0].end, None)  # from the first frame, no lead-in
    assert segments[-1].end is None
    starts = [s.start for s in segments[1:]]
    assert starts == [s.end for s in segments[:-1]] and set(starts) <= set(keyframes)
    lengths = np.diff([0, *starts, 30000])
    assert len(segments) == 4 and lengths.min() >= 4000  # 2 per worker; none shorter than asked
    for segment in segments[1:]:
        assert segment.lead_in in keyframes and segment.lead_in <= segment.start - 2500
        assert segment.start - segment.lead_in < 2500 + 1000  # the last keyframe that early enough
    # A short video, or few keyframes: one segment; no keyframe at all: the whole video.
    assert len(plan_segments(keyframes, 30000, Fraction(1, 1000), 2, segment_seconds=60.0)) == 1
    assert plan_segments((0,), 30000, Fraction(1, 1000), 8, 1.0) == [Segment(None, None, None)]
    assert plan_segments((), 30000, Fraction(1, 1000), 8, 1.0) == [Segment(None, None, None)]


def test_a_file_a_local_run_refuses_is_refused_before_ray_starts(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import llid_cli.distributed.pool as pool
    from llid_cli.cli import cli

    def no_ray():
        raise AssertionError("Ray was started for a file that cannot be read")

    monkeypatch.setattr(pool, "import_ray", no_ray)
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    for name, said in (("bad.mp4", "not a video FFmpeg can read"), ("missing.mp4", "no such file")):
        result = CliRunner().invoke(cli, ["video", str(tmp_path / name), "-o", str(tmp_path / "out.mp4"), "--ray"])
        assert result.exit_code == 1 and said in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["bad.mp4"] and (tmp_path / "bad.mp4").read_bytes() == b"not a video"


def clip(path: Path, frames: int = 90, size=(64, 96), keyframe_every: int = 10) -> Path:
    """Noisy dark H.264 with a keyframe every `keyframe_every` frames, irregular timestamps, the
    light doubling half way (a scene change), an AAC tone and a rotation tag."""
    scene = dark_scene(*size)
    return make_clip(path, frames, size, vfr=True, rotation=90, noise=3.0, seed=1, keyframe_every=keyframe_every,
                     content=lambda index: scene * (2.0 if index >= frames // 2 else 1.0))


def decoded(path: Path) -> tuple[list[int], list[float], list[bool], int]:
    """(timestamps in seconds x 1000, log2 mean linear luminance, keyframe flags) of each frame, and
    the rotation of the first."""
    times, exposures, keys, rotation = [], [], [], None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            rotation = frame.rotation if rotation is None else rotation
            times.append(round(float(frame.time) * 1000))
            pixels = frame.to_ndarray(format="rgb24") / 255.0
            exposures.append(float(np.log2((srgb_to_linear(pixels) @ LINEAR_LUMA).mean())))
            keys.append(frame.key_frame)
    return times, exposures, keys, rotation


def llid(*args, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "llid_cli", *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


COMMON = ("--model", "lynx-fast", "--crf", "12", "--threads", "1", "-q")


@pytest.mark.slow
def test_ray_segments_join_into_the_video_a_single_run_makes(tmp_path, cluster):
    address, env = cluster
    source = clip(tmp_path / "in.mp4")
    single = llid("video", source, "-o", tmp_path / "single.mp4", *COMMON, env=env)
    assert single.wait(timeout=300) == 0, single.stderr.read()
    proc = llid("video", source, "-o", tmp_path / "ray.mp4", *COMMON, "--ray", address, "--workers", "2",
                "--segment", "0.5", env=env)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "90 frames" in err and "1 scene cuts" in err, err

    times, exposure, keys, rotation = decoded(tmp_path / "ray.mp4")
    original_times, _, _, original_rotation = decoded(source)
    single_times, single_exposure, single_keys, _ = decoded(tmp_path / "single.mp4")
    assert times == original_times == single_times and rotation == original_rotation == 90
    assert streams_of(tmp_path / "ray.mp4")["audio"] == streams_of(source)["audio"]
    stream = index(source)  # where the CLI cut it: each segment opens with a keyframe of its own
    starts = [round(float(s.start * stream.time_base) * 1000) for s in
              plan_segments(stream.keyframes, stream.end, stream.time_base, 2, 0.5, 5.0)[1:]]
    assert len(starts) == 2 and all(keys[times.index(start)] for start in starts)
    assert not any(single_keys[times.index(start)] for start in starts)
    # Where the segments meet, the exposure goes on as in the single run: its lead-in brought the
    # exposure and the temporal filter there (without one, the frames after a join differ by 0.02).
    difference = np.abs(np.subtract(exposure, single_exposure))
    assert difference.max() < 0.01, difference.round(4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "ray.mp4", "single.mp4"]


@pytest.mark.slow
def test_sigterm_leaves_neither_output_nor_segments(tmp_path, cluster):
    address, env = cluster
    source = clip(tmp_path / "in.mp4", frames=600, size=(128, 192), keyframe_every=30)
    proc = llid("video", source, "-o", tmp_path / "out.mp4", *COMMON, "--ray", address, "--workers", "2",
                "--segment", "2", env=env)
    deadline = time.monotonic() + 180
    while not any(p.name.startswith(".out.mp4.segments-") and any(p.iterdir()) for p in tmp_path.iterdir()
                  if p.is_dir()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "Traceback" not in err, err
    assert [p.name for p in tmp_path.iterdir()] == ["in.mp4"]
