"""Low-frequency colour blotches in flat dark areas, on synthetic pairs with realistic noise.

    python benchmarks/chroma_blotches.py [CLEAN_FOLDER] [--models lynx,lynx-fast] [--count 12]
        [--weights FILE]   (one model: a run's checkpoint of its architecture)

Each clean photo (default: the Kodak set, held out of lynx's training) is made dark and noisy by
llid's own degradation (`llid_cli.training.synthetic.degrade`, seeded): 3-8 % of the light,
300-1000 photons at white, read noise, a drift of white balance, and JPEG at quality 75-90 with
OpenCV's 4:2:0 chroma, as a phone's night shot is. The output is brought to the reference's
exposure (one gain in linear light, so the figure is about colour, not brightness), and both
are converted to CIELAB. Over the reference's flat dark areas (luma under 0.35, small gradient),
the a*b* error is smoothed by a Gaussian of sigma 8 pixels (what is left is blotches and casts,
not grain) and printed as two RMS figures, in a*b* units:
- blotches: the smoothed error less its mean over those areas (what varies across a wall or a sky);
- with cast: the smoothed error as it is (a cast over the whole area counts too).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shadow_colour import lab  # noqa: E402

from llid_cli.io import Image, read_image  # noqa: E402
from llid_cli.io.image import to_float  # noqa: E402
from llid_cli.rendering.pipeline import EnhanceOptions, Pipeline, discover  # noqa: E402
from llid_cli.rendering.tone import LINEAR_LUMA, srgb_to_linear  # noqa: E402
from llid_cli.training.synthetic import LowLightSettings, degrade  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NIGHT_PHONE = LowLightSettings(exposure=(0.03, 0.08), photons_at_white=(300.0, 1000.0), read_noise=(0.002, 0.006),
                               jpeg_probability=1.0, jpeg_quality=(75, 90))
SIGMA = 8.0


def flat_dark(reference: np.ndarray) -> np.ndarray:
    """Pixels of a clean sRGB photo that are dark (luma < 0.35) and flat (smoothed gradient small)."""
    luma = reference @ np.float32([0.299, 0.587, 0.114])
    gradient = np.hypot(cv2.Sobel(luma, cv2.CV_32F, 1, 0), cv2.Sobel(luma, cv2.CV_32F, 0, 1))
    return (luma < 0.35) & (cv2.GaussianBlur(gradient, (0, 0), 3.0) < 0.08)


def blotches(output: np.ndarray, reference: np.ndarray) -> tuple[float, float] | None:
    """(blotches, with cast) for float sRGB photos of one size; None without flat dark areas."""
    where = flat_dark(reference)
    if where.mean() < 0.02:
        return None
    out_linear, ref_linear = srgb_to_linear(output), srgb_to_linear(reference)
    gain = float((ref_linear @ LINEAR_LUMA).mean() / max((out_linear @ LINEAR_LUMA).mean(), 1e-6))
    error = lab(out_linear * gain)[..., 1:] - lab(ref_linear)[..., 1:]
    smooth = np.stack([cv2.GaussianBlur(error[..., c].astype(np.float32), (0, 0), SIGMA) for c in range(2)], axis=-1)
    inside = smooth[where]
    varying = inside - inside.mean(axis=0)
    return float(np.sqrt((varying**2).sum(axis=1).mean())), float(np.sqrt((inside**2).sum(axis=1).mean()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=DATA / "clean" / "kodak24")
    parser.add_argument("--models", default="lynx,lynx-fast")
    parser.add_argument("--count", type=int, default=12, help="photos used (the first, sorted)")
    parser.add_argument("--weights", default=None, help="weights of the (one) model's architecture, e.g. a checkpoint")
    args = parser.parse_args()
    photos = discover(args.folder, recursive=False)[: args.count]
    pairs = []
    for index, path in enumerate(photos):
        clean = to_float(read_image(path).pixels)[:, :, :3]
        dark = degrade(clean, np.random.default_rng(1000 + index), NIGHT_PHONE)
        pairs.append((np.rint(dark * 255).astype(np.uint8), clean))
    print(f"{len(pairs)} synthetic night pairs from {args.folder}: a*b* RMS of the smoothed error (sigma {SIGMA:g} px) "
          "over flat dark areas")
    print(f"{'model':<12}{'blotches':>10}{'with cast':>11}{'photos':>8}")
    for name in [m for m in args.models.split(",") if m]:
        pipeline = Pipeline(EnhanceOptions(model=name, weights=args.weights))
        rows = [blotches(to_float(pipeline.enhance_image(Image(pixels=dark)).pixels), clean) for dark, clean in pairs]
        rows = [r for r in rows if r is not None]
        print(f"{name:<12}{np.mean([r[0] for r in rows]):>10.2f}{np.mean([r[1] for r in rows]):>11.2f}{len(rows):>8}")


if __name__ == "__main__":
    main()
