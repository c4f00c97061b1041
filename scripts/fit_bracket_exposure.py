"""Fit lynx's `bracket_exposure`: the reference's exposure as a straight line of the simulated bracket's.

    python scripts/fit_bracket_exposure.py ../shared/data/sice/train \
        --check ../shared/data/sice/val ../shared/data/sice-holdout

For every input of the training split (less the scenes `configs/lynx.yaml` holds out), the
exposure of a fusion of its simulated bracket (`llid_cli.models.layers.fusion.BracketFusion`, measured
as lynx measures it) and the exposure of its reference (log2 mean linear luminance) are paired,
and a least-squares line is fitted. Prints the line, and how far it, the learned head of the
shipped lynx and a constant (the training references' mean) miss the references' exposures on
each split given with `--check`, in stops.

`--mirrors` asks what the line reads: the bracket is also fused from each input mirrored left to
right, top to bottom and both, a line is fitted to each (and to the mean of the four), and their
misses are printed, with how far a mirror moves the fused exposure. A mirror shows the same scene,
so a decision that reads the scene's light should survive it.
"""

from __future__ import annotations

import argparse
import json
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from holdout_split import held_out_patterns  # noqa: E402

from llid_cli.io import read_image  # noqa: E402
from llid_cli.io.image import convert_depth  # noqa: E402
from llid_cli.models.layers.blocks import exposure_of  # noqa: E402
from llid_cli.models.locations import default_weights_path  # noqa: E402
from llid_cli.models.weights import load_model  # noqa: E402


def tensor(path: Path) -> torch.Tensor:
    return torch.from_numpy(convert_depth(read_image(path).pixels, np.float32)).permute(2, 0, 1)[None]


MIRRORS = {"left-right": (-1,), "top-bottom": (-2,), "both": (-2, -1)}


def measure(lynx, split: Path, skip: list[str], mirrors: bool = False) -> np.ndarray:
    """Rows of (fused exposure, reference exposure, the learned head's choice) for every input of
    `split`, then with `mirrors` the fused exposure of each of `MIRRORS`; `lynx` is the shipped
    lynx with `bracket_exposure` off, so that the head decides."""
    rows = []
    for scene in json.loads((split / "manifest.json").read_text()):
        if any(fnmatchcase(scene["scene"], p) for p in skip):
            continue
        folder = split / scene["scene"]
        reference = float(exposure_of(tensor(folder / scene["ref"]))[0])
        for low in scene["low"]:
            x = tensor(folder / low["file"])
            with torch.no_grad():
                lynx(x)
                row = [float(lynx.tone.fused_exposure(x)[0]), reference, float(lynx.predicted_exposure[0])]
                if mirrors:
                    row += [float(lynx.tone.fused_exposure(x.flip(dims))[0]) for dims in MIRRORS.values()]
            rows.append(row)
    return np.array(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", type=Path)
    parser.add_argument("--check", type=Path, nargs="*", default=[])
    parser.add_argument("--config", type=Path, default=Path(__file__).resolve().parents[1] / "configs" / "lynx.yaml")
    parser.add_argument("--mirrors", action="store_true",
                        help="also fit lines to the fusions of the mirrored inputs, and print how far a mirror moves them")
    args = parser.parse_args()
    torch.set_num_threads(2)
    # The learned head's own choice, for comparison; what renders the output after it (the
    # highlight shoulder, the noise filter) is left out: only the choice is read.
    lynx, _ = load_model(default_weights_path("lynx"),
                         arguments={"bracket_exposure": None, "highlights": None, "denoise": None})
    train = measure(lynx, args.train, held_out_patterns(args.config), args.mirrors)
    slope, intercept = np.polyfit(train[:, 0], train[:, 1], 1)
    constant = train[:, 1].mean()
    print(f"{len(train)} training inputs: bracket_exposure = ({slope:.2f}, {intercept:.2f}); "
          f"in-sample miss {np.abs(slope * train[:, 0] + intercept - train[:, 1]).mean():.3f} stops")
    for split in args.check:
        rows = measure(lynx, split, [], args.mirrors)
        line = np.abs(slope * rows[:, 0] + intercept - rows[:, 1]).mean()
        print(f"{split}: {len(rows)} inputs, mean miss in stops: fitted line {line:.3f}, "
              f"learned head {np.abs(rows[:, 2] - rows[:, 1]).mean():.3f}, constant {np.abs(constant - rows[:, 1]).mean():.3f}")
        if args.mirrors:
            report_mirrors(train, rows)


def report_mirrors(train: np.ndarray, rows: np.ndarray) -> None:
    """For each mirror (and the mean of the photo and its three mirrors): the line fitted to that
    fusion on `train` and its miss on `rows`; and how far the mirrors move the fused exposure."""
    features = {"as shot": 0, **{name: 3 + i for i, name in enumerate(MIRRORS)}}
    four = np.c_[train[:, [0, 3, 4, 5]].mean(axis=1)], np.c_[rows[:, [0, 3, 4, 5]].mean(axis=1)]
    for name, fit, check in [(n, train[:, [c]], rows[:, [c]]) for n, c in features.items()] + [("mean of the four", *four)]:
        slope, intercept = np.polyfit(fit[:, 0], train[:, 1], 1)
        miss = np.abs(slope * check[:, 0] + intercept - rows[:, 1]).mean()
        print(f"    fusion {name}: line ({slope:.2f}, {intercept:.2f}), miss {miss:.3f}")
    fused = rows[:, [0, 3, 4, 5]]
    print(f"    a mirror moves the fused exposure by {np.abs(fused[:, 1:] - fused[:, :1]).mean():.3f} stops on average "
          f"(largest {np.abs(fused[:, 1:] - fused[:, :1]).max():.3f}); range over the four {np.ptp(fused, axis=1).mean():.3f}")


if __name__ == "__main__":
    main()
