"""What `--light-colours` does to lit areas, and what it costs.

For each folder, every photo is enhanced twice (the model's colours, then `--light-colours`), and
the lit, coloured pixels of the input (brightest channel 0.6-0.98, saturation over 0.5) are
compared:
- a folder of real photos: how far their hue moved from the input's (degrees) and how much of
  their saturation was kept;
- a SICE-style folder (with manifest.json): the same against the scene's reference, and the PSNR
  on the pixels the step changes (any with weight above 0), where the references say what is right.
Then the step alone is timed on a 12 MP copy of the first photo.

    python benchmarks/light_colours.py ../shared/data/real-unpaired/dicm ../shared/data/real-unpaired/lime
    python benchmarks/light_colours.py ../shared/data/sice/val --model lynx-fast
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from llid_cli.io import read_image
from llid_cli.io.image import convert_depth
from llid_cli.rendering.lights import keep_light_colours, light_weights
from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline, discover


def hue_saturation(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """HSV hue (degrees), saturation and value of 8-bit RGB."""
    x = rgb.astype(np.float32) / 255
    top, bottom = x.max(axis=2), x.min(axis=2)
    spread = np.maximum(top - bottom, 1e-6)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    hue = np.where(top == r, ((g - b) / spread) % 6, np.where(top == g, (b - r) / spread + 2, (r - g) / spread + 4)) * 60
    return hue, (top - bottom) / np.maximum(top, 1e-6), top


def hue_gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    gap = np.abs(a - b)
    return np.minimum(gap, 360 - gap)


def pairs(folder: Path) -> list[tuple[Path, Path | None]]:
    """(photo, its reference or None)."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return [(path, None) for path in discover(folder, recursive=False)]
    scenes = json.loads(manifest.read_text())
    return [(folder / s["scene"] / low["file"], folder / s["scene"] / s["ref"]) for s in scenes for low in s["low"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--model", default="lynx")
    args = parser.parse_args()
    plain = Pipeline(EnhanceOptions(model=args.model))
    kept = Pipeline(EnhanceOptions(model=args.model, light_colours=True))
    print(f"{args.model}: lit, coloured input pixels (brightest channel 0.6-0.98, saturation > 0.5)")
    print(f"{'folder':<34} {'photos':>6} {'lit px':>7} {'':<16} {'hue moved':>10} {'saturation':>10} {'PSNR there':>11}")
    for folder in args.folders:
        rows: dict[str, list] = {"model": [], "--light-colours": []}
        lit_pixels, photos = 0, 0
        for source, reference in pairs(folder):
            image = read_image(source)
            if image.is_gray:
                continue
            x = convert_depth(image.pixels, np.uint8)
            hue, sat, top = hue_saturation(x)
            lit = (top > 0.6) & (top < 0.98) & (sat > 0.5)
            if lit.sum() < 50:
                continue
            photos += 1
            lit_pixels += int(lit.sum())
            target = convert_depth(read_image(reference).pixels, np.uint8) if reference else x
            t_hue, t_sat, _ = hue_saturation(target)
            changed = light_weights(x) > 0
            for label, pipeline in (("model", plain), ("--light-colours", kept)):
                out = convert_depth(pipeline.enhance_image(image).pixels, np.uint8)
                o_hue, o_sat, _ = hue_saturation(out)
                error = float(np.mean((out[changed].astype(np.float64) - target[changed]) ** 2)) if reference else None
                rows[label].append((hue_gap(o_hue, t_hue)[lit].mean(), o_sat[lit].mean() / max(t_sat[lit].mean(), 1e-6),
                                    error))
        against = "reference" if any(r for _, r in pairs(folder)) else "input"
        for label, values in rows.items():
            if not values:
                continue
            hue_moved, kept_sat = np.mean([v[0] for v in values]), np.mean([v[1] for v in values])
            errors = [v[2] for v in values if v[2] is not None]
            there = f"{10 * np.log10(255**2 / np.mean(errors)):.2f} dB" if errors else "-"
            print(f"{str(folder)[-34:]:<34} {photos:>6} {lit_pixels:>7} {label:<16} {hue_moved:>6.1f} deg "
                  f"{kept_sat:>10.2f} {there:>11}   (against the {against})")
    first = next(source for folder in args.folders for source, _ in pairs(folder))
    photo = convert_depth(read_image(first).pixels, np.uint8)
    photo = cv2.resize(photo, (4000, 3000), interpolation=cv2.INTER_LINEAR)
    out = cv2.resize(convert_depth(plain.enhance_image(read_image(first)).pixels, np.uint8), (4000, 3000))
    best = min(_timed(keep_light_colours, photo, out) for _ in range(3))
    share = float((light_weights(photo) > 0).mean() * 100)
    print(f"the step alone at 12 MP ({first.name} enlarged, {share:.1f} % of its pixels lit): {best:.3f} s, best of 3")


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
