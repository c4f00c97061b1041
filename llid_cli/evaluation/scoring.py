"""Scoring cases: full-reference metrics (optionally after GT-mean scaling) and no-reference stats."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from llid_cli.core.errors import LlidError
from llid_cli.evaluation.pairing import Case
from llid_cli.io import read_image
from llid_cli.metrics import level_error, mae, psnr, ssim, to_uint8
from llid_cli.metrics.noref import no_reference_stats

FULL_REFERENCE = ("psnr", "ssim", "mae", "level", "lpips")  # level: |mean out - mean ref|, the exposure miss
NO_REFERENCE = ("mean_luma", "contrast", "noise_sigma")
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "mae": False, "level": False, "lpips": False}


@dataclass
class CaseResult:
    name: str
    pred: Path | None
    ref: Path | None
    input: Path | None
    metrics: dict[str, float] = field(default_factory=dict)
    gt_mean: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict:
        return {"name": self.name, "output": _str(self.pred), "reference": _str(self.ref), "input": _str(self.input),
                "metrics": self.metrics, "gt_mean": self.gt_mean or None, "error": self.error}


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def load_rgb8(path: Path, max_pixels: int | None = None) -> np.ndarray:
    pixels = read_image(path, max_pixels).pixels
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    return to_uint8(pixels)


def gt_mean_scaled(pred8: np.ndarray, ref8: np.ndarray) -> np.ndarray:
    """The output scaled so that its mean equals the reference's (the 'GT-mean' correction)."""
    mean = pred8.astype(np.float64).mean()
    scale = ref8.astype(np.float64).mean() / mean if mean > 0 else 1.0
    return np.clip(np.rint(pred8.astype(np.float64) * scale), 0, 255).astype(np.uint8)


def _metrics(pred8: np.ndarray, ref8: np.ndarray, lpips_model) -> dict[str, float]:
    out = {"psnr": psnr(pred8, ref8), "ssim": ssim(pred8, ref8), "mae": mae(pred8, ref8),
           "level": level_error(pred8, ref8)}
    if lpips_model is not None:
        out["lpips"] = lpips_model.distance(pred8, ref8)
    return out


def score(cases: list[Case], lpips_model=None, gt_mean: bool = False, max_pixels: int | None = None) -> list[CaseResult]:
    results = []
    for case in cases:
        result = CaseResult(case.name, case.pred, case.ref, case.input, error=case.error)
        if case.error is None:
            try:
                pred8, ref8 = load_rgb8(case.pred, max_pixels), load_rgb8(case.ref, max_pixels)
                if pred8.shape != ref8.shape:
                    raise LlidError(f"size {pred8.shape[1]}x{pred8.shape[0]} differs from the reference's "
                                    f"{ref8.shape[1]}x{ref8.shape[0]}", case.pred)
                result.metrics = _metrics(pred8, ref8, lpips_model)
                if gt_mean:
                    result.gt_mean = _metrics(gt_mean_scaled(pred8, ref8), ref8, lpips_model)
            except LlidError as exc:
                result.error = str(exc)
            except ValueError as exc:  # e.g. smaller than the SSIM window
                result.error = f"{case.pred}: {exc}"
        elif case.pred is not None:
            result.error = f"{case.pred}: {case.error}"
        results.append(result)
    return results


def score_no_reference(files: list[Path], root: Path, max_pixels: int | None = None) -> list[CaseResult]:
    results = []
    for path in files:
        result = CaseResult(path.relative_to(root).with_suffix("").as_posix(), path, None, None)
        try:
            result.metrics = no_reference_stats(load_rgb8(path, max_pixels))
        except LlidError as exc:
            result.error = str(exc)
        results.append(result)
    return results


def summarize(results: list[CaseResult], key: str = "metrics") -> dict[str, dict[str, float]]:
    ok = [getattr(r, key) for r in results if r.error is None and getattr(r, key)]
    names = sorted({m for metrics in ok for m in metrics}, key=lambda m: (FULL_REFERENCE + NO_REFERENCE).index(m))
    summary: dict[str, dict[str, float]] = {"mean": {}, "median": {}}
    for name in names:
        values = np.array([metrics[name] for metrics in ok if name in metrics], dtype=np.float64)
        finite = values[np.isfinite(values)]
        summary["mean"][name] = float(finite.mean()) if finite.size else math.inf
        summary["median"][name] = float(np.median(values))
    return summary
