"""Make the second test split: the SICE scenes that the lynx configs hold back from training.

Checkpoints are chosen on `sice/val`, so a gain measured there is partly selection; these scenes
were seen by neither training nor selection. The split is a folder of links to the scene folders
plus a `manifest.json` listing only them, so `llid eval` reads it like any SICE split:

    python scripts/holdout_split.py ../shared/data/sice/train ../shared/data/sice-holdout
    llid eval ../shared/data/sice-holdout --ref ../shared/data/sice-holdout --model lynx --gt-mean

The patterns default to those of `configs/lynx.yaml` (read from it, so the two cannot drift).
(The seed models trained on all of `sice/train`, these scenes included: on this split they are
favoured, not handicapped.)
"""

from __future__ import annotations

import argparse
import json
from fnmatch import fnmatchcase
from pathlib import Path

import yaml


def held_out_patterns(config: Path) -> list[str]:
    raw = yaml.safe_load(config.read_text())
    for source in raw["data"]["train"]:
        if source.get("type", "manifest") == "manifest":
            return list(source.get("exclude", []))
    raise SystemExit(f"{config}: no manifest source with held-out scenes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", type=Path, help="the sice/train folder")
    parser.add_argument("target", type=Path, help="folder to create")
    parser.add_argument("--config", type=Path, default=Path(__file__).resolve().parents[1] / "configs" / "lynx.yaml")
    args = parser.parse_args()
    patterns = held_out_patterns(args.config)
    scenes = [s for s in json.loads((args.train / "manifest.json").read_text())
              if any(fnmatchcase(s["scene"], p) for p in patterns)]
    args.target.mkdir(parents=True, exist_ok=True)
    for scene in scenes:
        link = args.target / scene["scene"]
        if not link.exists():
            link.symlink_to((args.train / scene["scene"]).resolve(), target_is_directory=True)
    (args.target / "manifest.json").write_text(json.dumps(scenes, indent=1))
    pairs = sum(len(s["low"]) for s in scenes)
    print(f"{len(scenes)} scenes, {pairs} pairs held out ({', '.join(patterns)}) -> {args.target}")


if __name__ == "__main__":
    main()
