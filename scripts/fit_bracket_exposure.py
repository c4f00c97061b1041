"""Fit lynx's `bracket_exposure`: the reference's exposure as a straight line of the simulated bracket's.

    python scripts/fit_bracket_exposure.py ../shared/data/sice/train \
        --check ../shared/data/sice/val ../shared/data/sice-holdout

For every input of the training split (less the scenes `configs/lynx.yaml` holds out), the
exposure of a fusion of its simulated bracket (`llid_cli.models.fusion.BracketFusion`, measured
as lynx measures it) and the exposure of its reference (log2 mean linear luminance) are paired,
and a least-squares line is fitted. Prints the line, and how far it, the learned head of the
shipped lynx and a constant (the training references' mean) miss the references' exposures on
each split given with `--check`, in stops.
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
from llid_cli.locations import default_weights_path  # noqa: E402
from llid_cli.models.blocks import exposure_of  # noqa: E402
from llid_cli.models.weights import load_model  # noqa: E402


def tensor(path: Path) -> torch.Tensor:
    return torch.from_numpy(convert_depth(read_image(path).pixels, np.float32)).permute(2, 0, 1)[None]


def measure(lynx, split: Path, skip: list[str]) -> np.ndarray:
    """Rows of (fused exposure, reference exposure, the learned head's choice) for every input of
    `split`; `lynx` is the shipped lynx with `bracket_exposure` off, so that the head decides."""
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
                rows.append([float(lynx.tone.fused_exposure(x)[0]), reference, float(lynx.predicted_exposure[0])])
    return np.array(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", type=Path)
    parser.add_argument("--check", type=Path, nargs="*", default=[])
    parser.add_argument("--config", type=Path, default=Path(__file__).resolve().parents[1] / "configs" / "lynx.yaml")
    args = parser.parse_args()
    torch.set_num_threads(2)
    # The learned head's own choice, for comparison; what renders the output after it (the
    # highlight shoulder, the noise filter) is left out: only the choice is read.
    lynx, _ = load_model(default_weights_path("lynx"),
                         arguments={"bracket_exposure": None, "highlights": None, "denoise": None})
    train = measure(lynx, args.train, held_out_patterns(args.config))
    slope, intercept = np.polyfit(train[:, 0], train[:, 1], 1)
    constant = train[:, 1].mean()
    print(f"{len(train)} training inputs: bracket_exposure = ({slope:.2f}, {intercept:.2f}); "
          f"in-sample miss {np.abs(slope * train[:, 0] + intercept - train[:, 1]).mean():.3f} stops")
    for split in args.check:
        rows = measure(lynx, split, [])
        line = np.abs(slope * rows[:, 0] + intercept - rows[:, 1]).mean()
        print(f"{split}: {len(rows)} inputs, mean miss in stops: fitted line {line:.3f}, "
              f"learned head {np.abs(rows[:, 2] - rows[:, 1]).mean():.3f}, constant {np.abs(constant - rows[:, 1]).mean():.3f}")


if __name__ == "__main__":
    main()
