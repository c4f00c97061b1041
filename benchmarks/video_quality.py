"""Flicker and temporal denoising of `llid video`, on clips made from clean photos.

    python benchmarks/video_quality.py [../shared/data/clean/kodak24/kodim23.jpg] [--model lynx] [--frames 48]

Clips (frames in memory, 30 fps, rendered exactly as `llid video` renders them):
- static: a clean photo made dark (linear light x 1/12) with fresh sensor-like noise every frame
  (Poisson-Gaussian in linear light, then sRGB, 8-bit);
- lamp: the static clip, where a lamp lights up in a corner half way through, bright in the dark
  frame (near white, as a lamp is in a night video);
- patch: the same corner turning white half way through, darkened with the scene (a white object
  appearing rather than a light: what `lamp` measured before 2026-12-07);
- pan: the dark photo moving 2 pixels a frame;
- moving: the static clip with a bright object crossing it.
Flicker: the standard deviation over frames of the output's exposure (log2 mean linear
luminance; for `lamp` and `patch`, away from the corner), each frame enhanced on its own (as a photo tool does)
and as `llid video` renders it by default. Denoising: PSNR against the same clip rendered without noise, per
frame against with the temporal filter (the moving object's area on its own for `moving`).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from llid_cli.io import read_image
from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline
from llid_cli.rendering.tone import LINEAR_LUMA, linear_to_srgb, srgb_to_linear
from llid_cli.rendering.video import FrameRenderer, VideoOptions


def dark(clean: np.ndarray, rng, noisy: bool = True) -> np.ndarray:
    linear = srgb_to_linear(clean / 255.0) / 12.0
    if noisy:
        linear = rng.poisson(linear * 400.0) / 400.0 + rng.normal(0, 0.002, linear.shape)
    return np.clip(np.rint(linear_to_srgb(np.clip(linear, 0, 1)) * 255), 0, 255).astype(np.uint8)


def clip(kind: str, photo: np.ndarray, frames: int, noisy: bool, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    height, width = photo.shape[:2]
    out = []
    for index in range(frames):
        scene = photo.astype(np.float32).copy()
        if kind == "pan":
            scene = np.roll(scene, 2 * index, axis=1)
        if kind == "patch" and index >= frames // 2:
            scene[: height // 6, -width // 6:] = (255, 245, 220)
        if kind == "moving":
            left = (index * width) // frames
            scene[height // 3: height // 3 + height // 6, left: left + width // 8] = (250, 250, 250)
        frame = dark(scene, rng, noisy)
        if kind == "lamp" and index >= frames // 2:
            frame[: height // 6, -width // 6:] = (255, 245, 220)
        out.append(frame)
    return out


def render(frames: list[np.ndarray], pipeline: Pipeline, options: VideoOptions | None) -> list[np.ndarray]:
    """As `llid video` renders them, or (None) each frame on its own, as a photo tool would."""
    if options is None:
        return [pipeline.enhance_pixels(frame) for frame in frames]
    renderer = FrameRenderer(pipeline, options)
    return [renderer(frame, index / 30.0) for index, frame in enumerate(frames)]


def exposures(frames, keep=None) -> np.ndarray:
    values = []
    for frame in frames:
        luminance = srgb_to_linear(frame / 255.0) @ LINEAR_LUMA
        values.append(math.log2(float((luminance[keep] if keep is not None else luminance).mean())))
    return np.array(values)


def psnr(a, b, where=None) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if where is not None:
        a, b = a[:, where], b[:, where]
    return 10 * math.log10(255**2 / max(float(((a - b) ** 2).mean()), 1e-10))


def write_strip(path: Path, *rows: list[np.ndarray]) -> None:
    """Four frames of each row (the input brightened 4 stops to be seen), side by side, half size."""
    import cv2

    from llid_cli.io import Image, write_image
    from llid_cli.rendering.tone import shift_pixels

    picks = np.linspace(len(rows[0]) // 2, len(rows[0]) - 1, 4).astype(int)
    lines = []
    for index, frames in enumerate(rows):
        chosen = [shift_pixels(frames[i], 4.0) if index == 0 else frames[i] for i in picks]
        lines.append(np.concatenate([cv2.resize(f, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
                                     for f in chosen], axis=1))
    write_image(Image(pixels=np.concatenate(lines, axis=0)), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", type=Path, nargs="?", default=Path("../shared/data/clean/kodak24/kodim23.jpg"))
    parser.add_argument("--model", default="lynx")
    parser.add_argument("--frames", type=int, default=72)
    parser.add_argument("--clips", default="static,lamp,patch,pan,moving")
    parser.add_argument("--strip", type=Path, help="write the moving clip's frames here (JPEG): input, each "
                        "frame on its own, llid video; to look for ghosts")
    args = parser.parse_args()
    photo = read_image(args.photo).pixels[..., :3]
    pipeline = Pipeline(EnhanceOptions(model=args.model))
    per_frame, default = None, VideoOptions()
    height, width = photo.shape[:2]
    away = np.ones((height, width), bool)
    away[: height // 3, -width // 3:] = False
    print(f"{args.model}, {args.frames} frames of {width}x{height}")
    print(f"{'clip':8} {'flicker per frame':>18} {'flicker llid video':>19} {'PSNR per frame':>15} {'PSNR llid video':>16}")
    for kind in args.clips.split(","):
        noisy = clip(kind, photo, args.frames, noisy=True)
        clean = clip(kind, photo, args.frames, noisy=False)
        keep = away if kind in ("lamp", "patch") else None
        rows = []
        for options in (per_frame, default):
            out = np.stack(render(noisy, pipeline, options))
            reference = np.stack(render(clean, pipeline, options))
            skip = min(30, len(noisy) // 2)  # the first second: the filter fills, the smoothing settles
            flicker = float(exposures(out[skip:], keep).std())
            where = None
            if kind == "moving":
                where = np.zeros((height, width), bool)
                where[height // 3: height // 3 + height // 6] = True
            rows.append((flicker, psnr(out[skip:], reference[skip:], where)))
        print(f"{kind:8} {rows[0][0]:>18.4f} {rows[1][0]:>19.4f} {rows[0][1]:>15.2f} {rows[1][1]:>16.2f}")
        if kind == "moving" and args.strip:
            write_strip(args.strip, noisy, render(noisy, pipeline, per_frame), render(noisy, pipeline, default))


if __name__ == "__main__":
    main()
