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
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from holdout_split import held_out_patterns  # noqa: E402

from llid_cli.io import read_image  # noqa: E402
from llid_cli.io.image import convert_depth  # noqa: E402
from llid_cli.models.blocks import exposure_of  # noqa: E402
from llid_cli.models.fusion import BracketFusion  # noqa: E402
from llid_cli.models.lynx import BRACKET_SHRINK  # noqa: E402


def tensor(path: Path) -> torch.Tensor:
    return torch.from_numpy(convert_depth(read_image(path).pixels, np.float32)).permute(2, 0, 1)[None]


def measure(split: Path, skip: list[str], head=None) -> np.ndarray:
    """Rows of (fused exposure, reference exposure[, head's choice]) for every input of `split`."""
    fusion, rows = BracketFusion(), []
    for scene in json.loads((split / "manifest.json").read_text()):
        if any(fnmatchcase(scene["scene"], p) for p in skip):
            continue
        folder = split / scene["scene"]
        reference = float(exposure_of(tensor(folder / scene["ref"]))[0])
        for low in scene["low"]:
            x = tensor(folder / low["file"])
            with torch.no_grad():
                row = [float(fusion(F.avg_pool2d(x, BRACKET_SHRINK))[0]), reference]
                if head is not None:
                    head(x)
                    row.append(float(head.predicted_exposure[0]))
            rows.append(row)
    return np.array(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", type=Path)
    parser.add_argument("--check", type=Path, nargs="*", default=[])
    parser.add_argument("--config", type=Path, default=Path(__file__).resolve().parents[1] / "configs" / "lynx.yaml")
    args = parser.parse_args()
    torch.set_num_threads(2)
    train = measure(args.train, held_out_patterns(args.config))
    slope, intercept = np.polyfit(train[:, 0], train[:, 1], 1)
    constant = train[:, 1].mean()
    print(f"{len(train)} training inputs: bracket_exposure = ({slope:.2f}, {intercept:.2f}); "
          f"in-sample miss {np.abs(slope * train[:, 0] + intercept - train[:, 1]).mean():.3f} stops")

    from llid_cli.locations import default_weights_path
    from llid_cli.models.weights import load_model

    head, _ = load_model(default_weights_path("lynx"))
    head.bracket_exposure = None  # the learned head's own choice, for comparison
    for split in args.check:
        rows = measure(split, [], head)
        line = np.abs(slope * rows[:, 0] + intercept - rows[:, 1]).mean()
        print(f"{split}: {len(rows)} inputs, mean miss in stops: fitted line {line:.3f}, "
              f"learned head {np.abs(rows[:, 2] - rows[:, 1]).mean():.3f}, constant {np.abs(constant - rows[:, 1]).mean():.3f}")


if __name__ == "__main__":
    main()
