"""Colour a photographer judges: casts in brightened shadows, and what happens to whites.

    python benchmarks/shadow_colour.py ../shared/data/real-unpaired/dicm ../shared/data/real-unpaired/lime \
        ../shared/data/real-unpaired/dark-mixed [--model lynx-fast] [--weights FILE] [--white-balance keep] [--black-colour 0] [--save OUTDIR]

Per folder (real photos, no references), each photo enhanced by the pipeline as `llid enhance`
renders it:
- cast at 10 % and at 25 %: the darkest 10 % (25 %) of the input's pixels by luminance; their mean
  linear colour in the input and in the output, each scaled to CIELAB L* 50, and the a*b* distance
  between the two. A gain that keeps the shadows' colour balance scores 0, whatever it brightens;
  a model that turns a black sky olive scores 10 or more.
- whites: over the photos with at least 1 % white pixels (>= 240 in every channel of the input),
  the output's mean 8-bit level there and the a*b* chroma of its mean colour (the input's are
  shown beside), and the PSNR of the whole output against the input for those photos.
- where the input holds colour, and where it holds none: the input's darkest pixels are often
  black or 1-2 levels above it (DICM 12's darkest quarter averages (0.7, 0.7, 0) in 8 bits, a
  yellow the camera's rounding made), so the cast above asks the output to keep a balance that
  is quantisation, not colour, and scores a neutral rendering of them worse than a khaki one.
  Two more figures therefore: the cast over the darkest 10 % / 25 % of the pixels whose every
  channel is at least `MEASURABLE` levels ("measurable"), and the a*b* chroma at L* 50 of the
  output's mean colour where the input's every channel is at most `COLOURLESS` levels ("black
  tint": nothing to keep there, so a photographer expects grey; 0 is neutral).
The last row of each folder gives the means (of the photos that have such pixels); `--each`
prints every photo.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from llid_cli.io import read_image, write_image
from llid_cli.io.image import convert_depth
from llid_cli.models.controls import Controls
from llid_cli.rendering.colour import parse_white_balance
from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline, discover
from llid_cli.rendering.tone import LINEAR_LUMA, srgb_to_linear

WHITE = 240  # an input pixel at or above this in every channel is white
MEASURABLE = 3  # 8-bit levels: an input pixel whose every channel reaches this holds a colour
COLOURLESS = 2  # 8-bit levels: an input pixel whose every channel is at most this holds none
_D65 = np.array([0.95047, 1.0, 1.08883])
_RGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])


def lab(linear_rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of linear sRGB colours (... x 3)."""
    xyz = linear_rgb @ _RGB_TO_XYZ.T / _D65
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def at_mid_lightness(linear_rgb: np.ndarray) -> np.ndarray:
    """a*b* of a linear colour scaled to L* 50 (luminance 0.1842): its balance, whatever its level."""
    luminance = max(float(linear_rgb @ LINEAR_LUMA), 1e-9)
    return lab(linear_rgb * (0.18419 / luminance))[1:]


def cast(x: np.ndarray, y: np.ndarray, share: float) -> float:
    """a*b* distance, at L* 50, between the mean linear colour of the darkest `share` of `x`'s
    pixels in `x` and in `y` (8-bit RGB photos of one size)."""
    lx, ly = srgb_to_linear(x / 255.0).reshape(-1, 3), srgb_to_linear(y / 255.0).reshape(-1, 3)
    luminance = lx @ LINEAR_LUMA
    darkest = luminance <= np.quantile(luminance, share)
    return float(np.linalg.norm(at_mid_lightness(lx[darkest].mean(0)) - at_mid_lightness(ly[darkest].mean(0))))


def measurable_cast(x: np.ndarray, y: np.ndarray, share: float) -> float:
    """`cast` over the darkest `share` of the pixels whose every channel is at least MEASURABLE
    levels in `x`; NaN if there are none."""
    holds = (x >= MEASURABLE).all(axis=2)
    if holds.sum() < 16:
        return float("nan")
    return cast(x[holds][None], y[holds][None], share)


def black_tint(x: np.ndarray, y: np.ndarray) -> float:
    """a*b* chroma at L* 50 of the output's mean linear colour where every channel of `x` is at
    most COLOURLESS levels (what the output painted into black); NaN if under 0.1 % of pixels."""
    black = (x <= COLOURLESS).all(axis=2)
    if black.mean() < 0.001:
        return float("nan")
    mean = srgb_to_linear(y[black] / 255.0).mean(0)
    return float(np.hypot(*at_mid_lightness(mean))) if float(mean @ LINEAR_LUMA) > 1e-7 else 0.0


def whites(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float, float] | None:
    """(input level, output level, input chroma, output chroma, PSNR of y against x) where at
    least 1 % of `x` is white; else None."""
    white = (x >= WHITE).all(axis=2)
    if white.mean() < 0.01:
        return None
    chroma = [float(np.hypot(*lab(srgb_to_linear(p[white].mean(0) / 255.0))[1:])) for p in (x, y)]
    error = float(np.mean((x.astype(np.float64) - y) ** 2))
    return (float(x[white].mean()), float(y[white].mean()), chroma[0], chroma[1],
            10 * np.log10(255**2 / max(error, 1e-10)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--model", default="lynx")
    parser.add_argument("--weights", default=None, help="a weights file of --model's architecture (a run's checkpoint)")
    parser.add_argument("--white-balance", default="model", help="model, keep, auto or KELVIN (as llid enhance)")
    parser.add_argument("--saturation", type=float, default=None)
    parser.add_argument("--black-colour", type=float, default=None, help="as llid enhance --black-colour")
    parser.add_argument("--each", action="store_true", help="a row per photo")
    parser.add_argument("--save", type=Path, help="write each output here (FOLDER/NAME.png), to look at")
    args = parser.parse_args()
    pipeline = Pipeline(EnhanceOptions(model=args.model, weights=args.weights, white_balance=parse_white_balance(args.white_balance),
                                       controls=Controls(saturation=args.saturation, black_colour=args.black_colour)))
    print(f"{args.model}, white balance {args.white_balance}: cast = a*b* distance at L* 50 of the darkest pixels' mean colour, output against input")
    print(f"{'folder':<24} {'photos':>6} {'cast 10%':>9} {'cast 25%':>9} {'meas 10%':>9} {'meas 25%':>9} "
          f"{'black tint':>10} | {'white photos':>12} "
          f"{'level in->out':>14} {'chroma in->out':>15} {'PSNR':>6}")
    for folder in args.folders:
        casts, white_rows = [], []
        for source in discover(folder, recursive=False):
            image = read_image(source)
            if image.is_gray:
                continue
            out_image = pipeline.enhance_image(image)
            if args.save:
                write_image(out_image, args.save / folder.name / f"{source.stem}.png")
            x = convert_depth(image.pixels[:, :, :3], np.uint8).astype(np.float64)
            y = convert_depth(out_image.pixels[:, :, :3], np.uint8).astype(np.float64)
            row = (cast(x, y, 0.10), cast(x, y, 0.25), measurable_cast(x, y, 0.10), measurable_cast(x, y, 0.25),
                   black_tint(x, y))
            casts.append(row)
            white = whites(x, y)
            if white:
                white_rows.append(white)
            if args.each:
                extra = (f" | white {white[0]:.0f}->{white[1]:.0f}, chroma {white[2]:.1f}->{white[3]:.1f}, "
                         f"{white[4]:.1f} dB" if white else "")
                print(f"  {source.name:<22} {row[0]:>9.1f} {row[1]:>9.1f} {row[2]:>9.1f} {row[3]:>9.1f} "
                      f"{row[4]:>10.1f}{extra}")
        if not casts:
            continue
        c = np.nanmean(np.array(casts, dtype=np.float64), axis=0)
        w = np.mean(white_rows, axis=0) if white_rows else None
        white_text = (f"{len(white_rows):>12} {w[0]:>6.1f}->{w[1]:>6.1f} {w[2]:>6.2f}->{w[3]:>6.2f} {w[4]:>6.1f}"
                      if w is not None else f"{0:>12}")
        print(f"{folder.name[-24:]:<24} {len(casts):>6} {c[0]:>9.2f} {c[1]:>9.2f} {c[2]:>9.2f} {c[3]:>9.2f} "
              f"{c[4]:>10.2f} | {white_text}")


if __name__ == "__main__":
    main()
