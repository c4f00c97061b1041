"""`llid eval`: score outputs against references (or enhance first with --model), and report."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click

from llid_cli.cli.options import enhance_options_from, max_pixels_from, model_options


@click.command("eval")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--ref", "ref_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="References: a folder (matched by relative path or name) or a SICE-style folder with manifest.json. "
                   "Without it, no-reference statistics are reported.")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --model/--weights: keep the enhanced outputs here (PNG) [default: a temporary folder].")
@click.option("--gt-mean", is_flag=True, help="Also report metrics after scaling each output's mean to its reference's.")
@click.option("--lpips/--no-lpips", "want_lpips", default=None,
              help="Require LPIPS (fail if its weights are missing) or skip it [default: when available].")
@click.option("--lpips-backbone", type=click.Path(dir_okay=False), default=None, envvar="LLID_LPIPS_BACKBONE",
              help="AlexNet weights for LPIPS (torchvision's alexnet-owt-*.pth or safetensors).")
@click.option("--lpips-linear", type=click.Path(dir_okay=False), default=None, envvar="LLID_LPIPS_LINEAR",
              help="LPIPS linear-layer weights (the lpips package's weights/v0.1/alex.pth).")
@click.option("--report", "reports", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write a report: .json, .csv, .md or .html (repeatable).")
@click.option("--max-pixels", type=click.FloatRange(min=1), default=None, envvar="LLID_MAX_PIXELS", hidden=True)
@model_options
def command(folder, ref_dir, out_dir, gt_mean, want_lpips, lpips_backbone, lpips_linear, reports, **kwargs) -> None:
    """Score the photos in FOLDER against --ref, or enhance FOLDER first with --model.

    \b
    llid eval enhanced/ --ref references/ --report report.html
    llid eval ../shared/data/sice/val --ref ../shared/data/sice/val --model unet --gt-mean
    """
    from rich.console import Console

    from llid_cli.evaluation.pairing import images_under, pair
    from llid_cli.evaluation.scoring import score, score_no_reference, summarize

    console = Console(stderr=True)
    max_pixels = max_pixels_from(kwargs)
    enhance = kwargs["model"] is not None or kwargs["weights"] is not None
    options = enhance_options_from(kwargs)
    temporary = None
    try:
        inputs, failed_inputs = {}, []
        pred_dir = folder
        if enhance:
            if out_dir is None:
                temporary = out_dir = Path(tempfile.mkdtemp(prefix="llid-eval-"))
            inputs, failed_inputs, model_name = _enhance_all(folder, out_dir, options, max_pixels, console)
            pred_dir = out_dir
        if ref_dir is None:
            results = score_no_reference(images_under(pred_dir), pred_dir, max_pixels)
            lpips_state = "not applicable"
        else:
            lpips_model, lpips_state = _lpips(want_lpips, lpips_backbone, lpips_linear)
            results = score(pair(pred_dir, ref_dir, inputs), lpips_model, gt_mean, max_pixels)
        results = failed_inputs + results
        payload = {
            "title": (f"{folder} enhanced by {model_name}" if enhance else f"{folder}")
                     + (f" vs {ref_dir}" if ref_dir else " (no reference)"),
            "lpips": lpips_state, "summary": summarize(results),
            "cases": [r.as_dict() for r in results], "failed": sum(r.error is not None for r in results),
        }
        if gt_mean and ref_dir is not None:
            payload["gt_mean_summary"] = summarize(results, "gt_mean")
        _print(results, payload, console)
        from llid_cli.evaluation.report import write_report

        for path in reports:
            write_report(path, payload, results)
            console.print(f"report: {path}")
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    if payload["failed"]:
        raise SystemExit(1)


def _enhance_all(folder: Path, out_dir: Path, options, max_pixels, console):
    from llid_cli.evaluation.pairing import inputs_of
    from llid_cli.evaluation.scoring import CaseResult
    from llid_cli.io import WriteOptions
    from llid_cli.pipeline import Pipeline

    sources = inputs_of(folder)
    # PNG outputs: the metrics judge the model, not a JPEG encoder.
    pipeline = Pipeline(options, WriteOptions(format="png", overwrite=True), max_pixels)
    jobs = [(s, out_dir / s.relative_to(folder).with_suffix(".png")) for s in sources]
    inputs, failed = {}, []
    from llid_cli.cli.progress import file_progress

    with file_progress(console, quiet=False) as progress:
        task = progress.add_task(f"enhancing with {pipeline.model_name}", total=len(jobs), mps=0.0)
        megapixels = busy = 0.0
        for result in pipeline.run_many(jobs, skip_existing=False):
            megapixels, busy = megapixels + result.megapixels, busy + result.seconds
            progress.update(task, advance=1, mps=megapixels / busy if busy else 0.0)
            name = result.source.relative_to(folder).with_suffix("").as_posix()
            inputs[name] = result.source
            if result.status == "failed":
                failed.append(CaseResult(name, None, None, result.source, error=f"{result.source}: {result.error}"))
    return inputs, failed, pipeline.model_name


def _lpips(want: bool | None, backbone: str | None, linear: str | None):
    from llid_cli.errors import NotAvailableError
    from llid_cli.metrics.lpips import load_lpips

    if want is False:
        return None, "not asked for"
    try:
        return load_lpips(backbone, linear), "alexnet"
    except NotAvailableError:
        if want:
            raise
        return None, "unavailable"


def _print(results, payload, console) -> None:
    from rich.table import Table

    from llid_cli.evaluation.report import columns, fmt

    names = columns(results)
    table = Table(title=payload["title"], title_justify="left")
    table.add_column("image", overflow="fold")
    for name in names:
        table.add_column(name.upper(), justify="right")
    # LPIPS asked for but not available is shown as such, never left out silently.
    unavailable = ["unavailable"] if payload["lpips"] == "unavailable" else []
    if unavailable:
        table.add_column("LPIPS", justify="right")
    for r in results:
        if r.error is None:
            table.add_row(r.name, *[fmt(n, r.metrics.get(n)) for n in names], *unavailable)
    table.add_section()
    for label in ("mean", "median"):
        table.add_row(f"[bold]{label}", *[fmt(n, payload["summary"][label].get(n)) for n in names], *unavailable)
    console.print(table)
    if "gt_mean_summary" in payload:
        gm = payload["gt_mean_summary"]
        console.print("[bold]after GT-mean scaling[/] (output mean set to the reference's; not comparable with the above): "
                      + ", ".join(f"{n.upper()} {fmt(n, gm['mean'].get(n))}" for n in names))
    failed = [r for r in results if r.error]
    ok = len(results) - len(failed)
    console.print(f"{ok} scored, {len(failed)} failed")
    for r in failed:
        console.print(f"  [red]failed[/] {r.error}")
