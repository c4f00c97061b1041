"""One evaluation, start to finish: enhance a folder first (optional), pair, score, summarise.

`llid eval` is a thin command over this module: it builds the options, shows progress through the
iterator of `EnhancedFolder` and prints what `evaluate` returns; scripts and notebooks can do the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from llid_cli.evaluation.pairing import images_under, inputs_of, pair
from llid_cli.evaluation.scoring import CaseResult, score, score_no_reference, summarize
from llid_cli.io import WriteOptions
from llid_cli.rendering.pipeline import (
    EnhanceOptions,
    FileResult,
    Pipeline,
    workload_megapixels,
)


@dataclass(frozen=True)
class EvalOptions:
    ref_dir: Path | None = None  # None: no-reference statistics only
    gt_mean: bool = False  # also score after scaling each output's mean to its reference's
    lpips: bool | None = None  # True: required, False: skipped, None: when its weights are available
    lpips_backbone: str | None = None
    lpips_linear: str | None = None
    max_pixels: int | None = None


class EnhancedFolder:
    """A folder's photos enhanced into `out_dir` as PNG (the metrics judge the model, not a JPEG
    encoder). Iterate to do the work, one `FileResult` per photo; failures become failed cases."""

    def __init__(self, folder: Path, out_dir: Path, options: EnhanceOptions, max_pixels: int | None = None):
        self.folder, self.out_dir = folder, out_dir
        self.jobs = [(s, out_dir / s.relative_to(folder).with_suffix(".png")) for s in inputs_of(folder)]
        workload = workload_megapixels(options, [source for source, _ in self.jobs])
        self.pipeline = Pipeline(options, WriteOptions(format="png", overwrite=True), max_pixels, workload)
        self.inputs: dict[str, Path] = {}
        self.failed: list[CaseResult] = []

    @property
    def model_name(self) -> str:
        return self.pipeline.model_name

    def __iter__(self) -> Iterator[FileResult]:
        for result in self.pipeline.run_many(self.jobs, skip_existing=False):
            name = result.source.relative_to(self.folder).with_suffix("").as_posix()
            self.inputs[name] = result.source
            if result.status == "failed":
                self.failed.append(CaseResult(name, None, None, result.source, error=f"{result.source}: {result.error}"))
            yield result


@dataclass
class Evaluation:
    results: list[CaseResult]
    payload: dict = field(default_factory=dict)  # what reports are written from

    @property
    def failed(self) -> int:
        return self.payload["failed"]


def evaluate(pred_dir: Path, options: EvalOptions, enhanced: EnhancedFolder | None = None,
             title: str | None = None) -> Evaluation:
    """Score the photos in `pred_dir` (the outputs of `enhanced`, when given, which must have run)."""
    if options.ref_dir is None:
        results = score_no_reference(images_under(pred_dir), pred_dir, options.max_pixels)
        lpips_state = "not applicable"
    else:
        lpips_model, lpips_state = _lpips(options)
        inputs = enhanced.inputs if enhanced is not None else {}
        results = score(pair(pred_dir, options.ref_dir, inputs), lpips_model, options.gt_mean, options.max_pixels)
    results = (enhanced.failed if enhanced is not None else []) + results
    if title is None:
        source = enhanced.folder if enhanced is not None else pred_dir
        title = f"{source} enhanced by {enhanced.model_name}" if enhanced is not None else f"{source}"
        title += f" vs {options.ref_dir}" if options.ref_dir else " (no reference)"
    lpips_state, _, why = lpips_state.partition(": ")  # "unavailable: why" -> the state, and why apart
    payload = {
        "title": title, "lpips": lpips_state, **({"lpips_why": why} if why else {}), "summary": summarize(results),
        "cases": [r.as_dict() for r in results], "failed": sum(r.error is not None for r in results),
    }
    if options.gt_mean and options.ref_dir is not None:
        payload["gt_mean_summary"] = summarize(results, "gt_mean")
    return Evaluation(results, payload)


def _lpips(options: EvalOptions):
    from llid_cli.core.errors import NotAvailableError
    from llid_cli.core.extras import require

    if options.lpips is False:
        return None, "not asked for"
    try:
        require("torch", "LPIPS")
        from llid_cli.metrics.lpips import load_lpips

        return load_lpips(options.lpips_backbone, options.lpips_linear), "alexnet"
    except NotAvailableError as exc:
        if options.lpips:
            raise
        return None, f"unavailable: {exc}"
