"""`llid eval`: score outputs against references (or enhance first with --model), and report."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click

from llid_cli.cli.options import (
    Finite,
    check_report_path,
    enhance_options_from,
    max_pixels_from,
    model_options,
)


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
@click.option("--max-pixels", type=Finite(min=1), default=None, envvar="LLID_MAX_PIXELS", hidden=True)
@model_options
def command(folder, ref_dir, out_dir, gt_mean, want_lpips, lpips_backbone, lpips_linear, reports, **kwargs) -> None:
    """Score the photos in FOLDER against --ref, or enhance FOLDER first with --model.

    \b
    llid eval enhanced/ --ref references/ --report report.html
    llid eval ../shared/data/sice/val --ref ../shared/data/sice/val --model unet --gt-mean
    """
    from rich.console import Console

    from llid_cli.core.errors import LlidError
    from llid_cli.evaluation.report import write_report
    from llid_cli.evaluation.run import EnhancedFolder, EvalOptions, evaluate

    console = Console(stderr=True)
    for path in reports:
        check_report_path(path)
    max_pixels = max_pixels_from(kwargs)
    enhance = kwargs["model"] is not None or kwargs["weights"] is not None
    options = enhance_options_from(kwargs)
    settings = EvalOptions(ref_dir=ref_dir, gt_mean=gt_mean, lpips=want_lpips, lpips_backbone=lpips_backbone,
                           lpips_linear=lpips_linear, max_pixels=max_pixels)
    temporary = None
    try:
        enhanced, pred_dir = None, folder
        if enhance:
            if out_dir is None:
                temporary = out_dir = Path(tempfile.mkdtemp(prefix="llid-eval-"))
            enhanced, pred_dir = EnhancedFolder(folder, out_dir, options, max_pixels), out_dir
            _with_progress(enhanced, console)
        evaluation = evaluate(pred_dir, settings, enhanced)
        if not evaluation.results:  # an empty table and exit 0 would read as a pass
            raise LlidError("no photos to score here" + (f" with a reference in {ref_dir}" if ref_dir else ""), folder)
        _print(evaluation.results, evaluation.payload, console)
        for path in reports:
            write_report(path, evaluation.payload, evaluation.results)
            console.print(f"report: {path}")
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    if evaluation.failed:
        raise SystemExit(1)


def _with_progress(enhanced, console) -> None:
    from llid_cli.cli.progress import file_progress

    with file_progress(console, quiet=False) as progress:
        task = progress.add_task(f"enhancing with {enhanced.model_name}", total=len(enhanced.jobs), mps=0.0)
        megapixels = busy = 0.0
        for result in enhanced:
            megapixels, busy = megapixels + result.megapixels, busy + result.seconds
            progress.update(task, advance=1, mps=megapixels / busy if busy else 0.0)


def _print(results, payload, console) -> None:
    from rich.table import Table

    from llid_cli.evaluation.table import columns, fmt

    names = columns(results)
    table = Table(title=payload["title"], title_justify="left")
    table.add_column("image", overflow="fold")
    for name in names:
        table.add_column(name.upper(), justify="right")
    for r in results:
        if r.error is None:
            table.add_row(r.name, *[fmt(n, r.metrics.get(n)) for n in names])
    table.add_section()
    for label in ("mean", "median"):
        table.add_row(f"[bold]{label}", *[fmt(n, payload["summary"][label].get(n)) for n in names])
    console.print(table)
    if payload["lpips"] == "unavailable":  # left out of the table, and said why once
        console.print(f"LPIPS left out: {payload.get('lpips_why', 'its weights are not on this machine')}",
                      markup=False, highlight=False)
    if "gt_mean_summary" in payload:
        gm = payload["gt_mean_summary"]
        console.print("[bold]after GT-mean scaling[/] (output mean set to the reference's; not comparable with the above): "
                      + ", ".join(f"{n.upper()} {fmt(n, gm['mean'].get(n))}" for n in names))
    failed = [r for r in results if r.error]
    ok = len(results) - len(failed)
    console.print(f"{ok} scored, {len(failed)} failed")
    for r in failed:
        console.print(f"  [red]failed[/] {r.error}")
