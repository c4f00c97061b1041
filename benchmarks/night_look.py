"""What the night look does to real photos: each photo with EXIF exposure settings, enhanced with and without it.

    python benchmarks/night_look.py [FOLDER] [--model lynx]

FOLDER defaults to DICM (28 of its 64 photos carry exposure settings). Printed per photo: the
scene's light (scene EV, `llid_cli.rendering.night.scene_ev`), the night look's shift, and for the input,
the output without it (`off`) and with it (`on`): mean luma, the 10th percentile of luma (where a
night sky or a dark room's shadows lie), the grain there (Immerkaer's sigma of luma, in 8-bit
levels, as `real_noise.py`, over the input's darkest quarter of 8x8 blocks: the same pixels in
both outputs) and the share of clipped pixels (any channel >= 250). Last rows: the means over the photos the look changed, and
over the others, which must not change at all.

With --strip, each photo is also enhanced with its exposure settings removed (as a PNG, an edited
file or a video frame comes) and `--night-look`, which then judges the scene from the picture:
printed is that shift, and how far that rendering lands from the one with the settings, in EV
(log2 of the outputs' mean linear luminance).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_noise import immerkaer_sigma, shadows  # noqa: E402

from llid_cli.io import is_readable_name, read_image  # noqa: E402
from llid_cli.io.image import LUMA_WEIGHTS, convert_depth  # noqa: E402
from llid_cli.rendering.night import night_look, sample, scene_ev  # noqa: E402
from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def luma_of(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(8-bit RGB as float, its luma) of a photo's pixels."""
    rgb = convert_depth(pixels, np.uint8).astype(np.float32)
    rgb = np.repeat(rgb[:, :, None], 3, axis=2) if rgb.ndim == 2 else rgb[:, :, :3]
    return rgb, rgb @ LUMA_WEIGHTS


def darkest_quarter(pixels: np.ndarray) -> np.ndarray:
    """The pixels of the input's darkest quarter of 8x8 blocks (by mean luma)."""
    luma = luma_of(pixels)[1]
    block = 8
    h, w = luma.shape[0] // block * block, luma.shape[1] // block * block
    means = luma[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))
    return shadows(luma, level=(np.quantile(means, 0.25) + 1e-3) / 255.0, block=block)


def figures(pixels: np.ndarray, where: np.ndarray) -> tuple[float, float, float, float]:
    """(mean luma, 10th percentile of luma, luma grain over `where` in levels, clipped %) of a photo."""
    rgb, luma = luma_of(pixels)
    return (float(luma.mean() / 255), float(np.percentile(luma, 10) / 255), immerkaer_sigma(luma, where),
            float((rgb >= 250).any(axis=2).mean() * 100))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=DATA / "real-unpaired" / "dicm")
    parser.add_argument("--model", default="lynx")
    parser.add_argument("--strip", action="store_true", help="also without the exposure settings: see above")
    args = parser.parse_args()
    on = Pipeline(EnhanceOptions(model=args.model))
    off = Pipeline(replace(on.options, night_look="off"))
    if args.strip:
        return _stripped(args.folder, on, Pipeline(replace(on.options, night_look="on")))
    print(f"{'photo':<14}{'scene EV':>9}{'shift':>7}   mean luma in/off/on   p10 luma off/on   "
          "dark grain off/on   clipped % in/off/on")
    changed, unchanged = [], []
    for path in sorted(p for p in args.folder.iterdir() if is_readable_name(p)):
        image = read_image(path)
        scene = scene_ev(image)
        if scene is None:
            continue
        shift = night_look(image)
        where = darkest_quarter(image.pixels)
        row = tuple(figures(pixels, where) for pixels in (image.pixels, off.enhance_image(image).pixels,
                                                          on.enhance_image(image).pixels))
        (changed if shift else unchanged).append(row)
        _print(path.name, f"{scene:9.1f}", f"{shift:7.2f}", row)
    for label, rows in (("mean, changed", changed), ("mean, others", unchanged)):
        if rows:
            mean = tuple(tuple(float(np.mean([r[k][j] for r in rows])) for j in range(4)) for k in range(3))
            _print(f"{label} ({len(rows)})", "", "", mean)


def _stripped(folder: Path, pipeline: Pipeline, asked: Pipeline) -> None:
    from llid_cli.rendering.tone import exposure_of

    print(f"{'photo':<14}{'scene EV':>9}{'shift':>7}{'stripped':>9}{'EV apart':>9}")
    apart: dict[bool, list[float]] = {True: [], False: []}
    for path in sorted(p for p in folder.iterdir() if is_readable_name(p)):
        image = read_image(path)
        scene = scene_ev(image)
        if scene is None:
            continue
        bare = replace(image, exposure=None)
        shift, guessed = night_look(image), night_look(bare, "on")
        gap = exposure_of(sample(asked.enhance_image(bare).pixels)) - exposure_of(sample(pipeline.enhance_image(image).pixels))
        apart[bool(shift)].append(gap)
        print(f"{path.name:<14}{scene:9.1f}{shift:7.2f}{guessed:9.2f}{gap:9.2f}")
    for changed, gaps in apart.items():
        if gaps:
            label = "the look changes" if changed else "the others"
            print(f"{label} ({len(gaps)}): mean |EV apart| {np.mean(np.abs(gaps)):.2f}, "
                  f"most {np.max(np.abs(gaps)):.2f}, within 0.5 EV {sum(abs(g) <= 0.5 for g in gaps)}")


def _print(name: str, scene: str, shift: str, row) -> None:
    (luma_in, _, _, clip_in), (luma_off, p10_off, grain_off, clip_off), (luma_on, p10_on, grain_on, clip_on) = row
    print(f"{name:<14}{scene:>9}{shift:>7}   {luma_in:.3f}/{luma_off:.3f}/{luma_on:.3f}   "
          f"      {p10_off:.3f}/{p10_on:.3f}         {grain_off:.2f}/{grain_on:.2f}          "
          f"{clip_in:.2f}/{clip_off:.2f}/{clip_on:.2f}")


if __name__ == "__main__":
    main()
