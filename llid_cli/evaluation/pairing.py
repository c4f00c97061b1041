"""Which output goes with which reference.

Three ways, tried in this order: a SICE-style `manifest.json` in the reference folder (an output
`scene/low_0064.*` pairs with that scene's reference); the same relative path (any extension);
the same file stem, when it is unique in the reference folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from llid_cli.core.errors import LlidError
from llid_cli.io import is_readable_name


@dataclass
class Case:
    name: str  # relative path of the output, without extension
    pred: Path | None
    ref: Path | None
    input: Path | None = None  # the dark input, when known (for the HTML report)
    error: str | None = None


def images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_readable_name(p)
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def manifest_lows(folder: Path) -> dict[tuple[str, str], tuple[Path, Path]] | None:
    """(scene, low stem) -> (low file, reference file), or None without a manifest."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return None
    table = {}
    for scene in json.loads(manifest.read_text()):
        for low in scene["low"]:
            low_path = folder / scene["scene"] / low["file"]
            table[(scene["scene"], Path(low["file"]).stem)] = (low_path, folder / scene["scene"] / scene["ref"])
    return table


def inputs_of(folder: Path) -> list[Path]:
    """The images to enhance in `folder`: a manifest's dark captures, or every image."""
    table = manifest_lows(folder)
    if table is not None:
        return sorted(low for low, _ in table.values())
    return images_under(folder)


def pair(pred_dir: Path, ref_dir: Path, inputs: dict[str, Path] | None = None) -> list[Case]:
    table = manifest_lows(ref_dir)
    preds = inputs_of(pred_dir) if pred_dir.resolve() == ref_dir.resolve() else images_under(pred_dir)
    by_relative: dict[str, Path] = {}
    by_stem: dict[str, list[Path]] = {}
    if table is None:
        for ref in images_under(ref_dir):
            rel = ref.relative_to(ref_dir).with_suffix("").as_posix()
            by_relative[rel] = ref
            by_stem.setdefault(ref.stem, []).append(ref)
    cases = []
    for pred in preds:
        name = pred.relative_to(pred_dir).with_suffix("").as_posix()
        source = (inputs or {}).get(name)
        if table is not None:
            key = (pred.parent.name, pred.stem)
            if key in table:
                low, ref = table[key]
                cases.append(Case(name, pred, ref, source or low))
            else:
                cases.append(Case(name, pred, None, source, "no reference in the manifest for this scene/file"))
            continue
        if name in by_relative:
            cases.append(Case(name, pred, by_relative[name], source))
        elif len(by_stem.get(pred.stem, [])) == 1:
            cases.append(Case(name, pred, by_stem[pred.stem][0], source))
        elif pred.stem in by_stem:
            cases.append(Case(name, pred, None, source, f"{len(by_stem[pred.stem])} references share the name '{pred.stem}'"))
        else:
            cases.append(Case(name, pred, None, source, "no reference with this name"))
    for case in cases:
        if case.ref is not None and case.pred.resolve() == case.ref.resolve():
            raise LlidError("is both the output to score and its reference (did you mean --model NAME to "
                            "enhance the folder first, or another --ref?)", case.pred)
    return cases
