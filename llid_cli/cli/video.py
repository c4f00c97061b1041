"""`llid video IN -o OUT`: a video enhanced frame by frame, without flicker, audio kept."""

from __future__ import annotations

from pathlib import Path

import click

from llid_cli.cli.options import (
    Finite,
    enhance_options_from,
    model_options,
    ray_options,
    ray_options_from,
)


@click.command("video")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The enhanced video (.mp4, .mov, .mkv, .webm, ...); container and codec from its extension.")
@click.option("--codec", type=click.Choice(["h264", "h265", "av1", "vp9", "prores", "ffv1"]), default=None,
              help="Video codec [default: h264; vp9 in .webm].")
@click.option("--crf", type=click.IntRange(0, 51), default=20, show_default=True,
              help="Quality of h264/h265/av1/vp9 (lower: better and larger).")
@click.option("--smoothing", type=Finite(0.0, 60.0), default=1.0, show_default=True, metavar="SECONDS",
              help="Time constant of the automatic exposure (0: each frame decides alone); scene cuts decide anew.")
@click.option("--temporal-denoise", type=Finite(0.0, 16.0), default=4.0, show_default=True, metavar="FRAMES",
              help="How many past frames still areas are averaged over (0: off); moving areas are not.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@ray_options("Cut the video at keyframes into segments rendered by Ray workers, joined without re-encoding")
@click.option("--segment", "segment_seconds", type=Finite(0.0, 86400.0), default=60.0, show_default=True,
              metavar="SECONDS", help="With --ray: the shortest segment (cut at the next keyframe after it).")
@model_options
def command(source: Path, output: Path, codec, crf, smoothing, temporal_denoise, quiet, ray_address, workers,
            gpus_per_worker, segment_seconds, **kwargs) -> None:
    """Enhance a video: every frame through the photo pipeline (any model, --exposure, --strength,
    the colour controls), exposure smoothed over time, noise averaged over still frames; audio and
    subtitles copied untouched, timestamps, rotation and colour tags kept.

    \b
    llid video night.mp4 -o night-bright.mp4
    llid video clip.mov -o clip.mkv --codec ffv1 --model lynx-fast
    llid video long.mp4 -o long-bright.mp4 --ray --workers 4    # segments over a local Ray instance
    """
    import time

    from rich.console import Console

    from llid_cli.cli.progress import frame_progress
    from llid_cli.core.errors import printable
    from llid_cli.io.video import is_video_name
    from llid_cli.io.write import same_file
    from llid_cli.rendering.pipeline import Pipeline
    from llid_cli.rendering.video import VideoOptions, enhance_video

    options = enhance_options_from(kwargs)
    if not is_video_name(output):
        raise click.BadParameter(f"{output}: not a video name (.mp4, .mov, .mkv, .webm, .avi, .ts)", param_hint="-o")
    if same_file(source, output):
        raise click.BadParameter(f"{output} is the input: choose another name", param_hint="-o")
    ray = ray_options_from(ray_address, workers, gpus_per_worker, options.engine.threads)
    if ray is not None:
        from llid_cli.distributed.ray_video import RayVideo, probe

        video = probe(source)  # a file a local run would refuse is refused before Ray starts
    console = Console(stderr=True)
    video_options = VideoOptions(smoothing, temporal_denoise)
    with frame_progress(console, quiet or not console.is_terminal) as bar:
        task = bar.add_task("frames", total=None, fps=0.0)
        started = time.perf_counter()

        def progress(done: int, total: int) -> None:
            elapsed = time.perf_counter() - started
            bar.update(task, completed=done, total=total or None, fps=done / elapsed if elapsed else 0.0)

        if ray is None:
            result = enhance_video(source, output, Pipeline(options), video_options, codec, crf, progress)
        else:
            with RayVideo(ray, options) as pool:
                result = pool.run(video, output, video_options, codec, crf, progress, segment_seconds)
    skipped = f", {result.skipped} broken packets skipped" if result.skipped else ""
    click.echo(f"{printable(str(source))} -> {printable(str(output))} ({result.frames} frames, "
               f"{result.frames / max(result.seconds, 1e-9):.1f} fps, {result.cuts} scene cuts{skipped})", err=True)
