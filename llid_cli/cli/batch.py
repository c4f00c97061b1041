"""`llid batch DIR -o OUTDIR`: a folder, resumable, with a progress bar and a failure report."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import click

from llid_cli.cli.options import (
    check_report_path,
    enhance_options_from,
    max_pixels_from,
    model_options,
    ray_options,
    ray_options_from,
    write_options,
    write_options_from,
)
from llid_cli.cli.progress import file_progress
from llid_cli.io.atomic import remove_stale


@click.command("batch")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder; the input's relative layout is kept.")
@click.option("-r", "--recursive", is_flag=True, help="Descend into sub-folders.")
@click.option("--suffix", default="", help="Added to each output file name.")
@click.option("--include", multiple=True, metavar="PATTERN",
              help="Only files whose path in the folder (or name) matches this glob, such as '*.jpg' or "
                   "'2024/*'; repeatable [default: every photo].")
@click.option("--exclude", multiple=True, metavar="PATTERN",
              help="Leave out files whose path in the folder (or name) matches this glob; repeatable.")
@click.option("--overwrite", is_flag=True, help="Redo outputs that exist (default: skip them, so a re-run resumes).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a JSON summary of every file here.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary (as --report writes it) as JSON on stdout.")
@ray_options("Spread the files over Ray workers")
@model_options
@write_options
def command(folder: Path, out_dir: Path, recursive: bool, suffix: str, include: tuple[str, ...],
            exclude: tuple[str, ...], overwrite: bool, report: Path | None,
            quiet: bool, as_json: bool, ray_address: str | None, workers: int, gpus_per_worker: float,
            **kwargs) -> None:
    """Enhance every photo in FOLDER into OUTPUT.

    Existing outputs are skipped, so running the same command again resumes an interrupted batch;
    a run with other settings (model, --exposure, ...) is refused over them, until --overwrite.
    A bad file is reported and the batch carries on; the exit code is 1 if any file failed.

    \b
    llid batch photos/ -o enhanced/
    llid batch photos/ -o enhanced/ --ray --workers 2           # a local Ray instance
    llid batch /shared/in -o /shared/out --ray auto             # the Ray cluster this node belongs to
    """
    from rich.console import Console

    from llid_cli.rendering.pipeline import (
        plan_batch,
        resolve_model_name,
        workload_megapixels,
    )

    options = enhance_options_from(kwargs)
    ray = ray_options_from(ray_address, workers, gpus_per_worker, options.engine.threads)
    write = write_options_from(kwargs, overwrite)
    max_pixels = max_pixels_from(kwargs)
    if report is not None:
        check_report_path(report)
    jobs = plan_batch(folder, out_dir, recursive, suffix, write.format, allow_inplace=overwrite,
                      include=include, exclude=exclude)
    console = Console(stderr=True)
    videos = _videos_in(folder, recursive)
    if videos:
        console.print(f"{len(videos)} video{'s' if len(videos) > 1 else ''} left out (first: {videos[0].name}): "
                      "enhance each with `llid video IN -o OUT`")
    if not jobs:
        console.print(f"No images found in {folder}" + ("" if recursive else " (try --recursive)"))
        return
    model_name = resolve_model_name(options)
    record_run = _check_resume(out_dir, jobs, options, write, model_name, suffix, overwrite)

    start = time.perf_counter()
    results = []
    workload = workload_megapixels(options, (source for source, target in jobs if overwrite or not target.exists()))
    with _runner(ray, options, write, max_pixels, workload) as (run, where), \
            ExitStack() as held:
        if where:
            console.print(where)
        record_run(held)
        # What a killed run left half-written beside outputs it had not finished (a resume skips
        # the finished ones and would never look again).
        remove_stale(target for _, target in jobs)
        try:
            with file_progress(console, quiet) as progress:
                task = progress.add_task("enhancing", total=len(jobs), mps=0.0)
                megapixels = 0.0
                for result in run(jobs, skip_existing=not overwrite):
                    results.append(result)
                    megapixels += result.megapixels
                    wall = time.perf_counter() - start
                    progress.update(task, advance=1, mps=megapixels / wall if wall else 0.0)
        except KeyboardInterrupt:
            # Stopped by Ctrl-C or SIGTERM: the report still says what finished (a re-run resumes).
            if report is not None:
                _write_report(report, folder, out_dir, model_name, _in_plan_order(results, jobs),
                              time.perf_counter() - start, interrupted=True)
            raise
    elapsed = time.perf_counter() - start
    results = _in_plan_order(results, jobs)

    counts = _counts(results)
    console.print(f"{counts['done']} enhanced, {counts['skipped']} skipped (already there), "
                  f"{counts['failed']} failed in {elapsed:.1f} s")
    night = sum(bool(r.night_ev) for r in results)
    if night:
        console.print(f"night look: {night} photo{'s' if night > 1 else ''} of a dim scene brightened less "
                      "(--no-night-look: as bright as by day)")
    failed = [r for r in results if r.status == "failed"]
    if failed:
        _failure_table(console, failed, folder)
    if report is not None:
        _write_report(report, folder, out_dir, model_name, results, elapsed)
    if as_json:
        click.echo(json.dumps(_summary(folder, out_dir, model_name, results, elapsed), indent=2))
    if failed:
        raise SystemExit(1)


def _check_resume(out_dir: Path, jobs, options, write, model_name: str, suffix: str, overwrite: bool):
    """Refuse to resume over outputs made with other settings (llid_cli.rendering.made_with); else return
    what starts the run (takes the folder's lock, checks again and records this run's settings),
    to call once the run can start, before any file is written."""
    from llid_cli.rendering import made_with

    settings = made_with.settings_of(options, write, model_name)
    key = made_with.naming(suffix, write.format)

    def check() -> None:
        existing = 0 if overwrite else sum(target.exists() for _, target in jobs)
        changed = made_with.differences(out_dir, key, settings) if existing else []
        if changed:
            raise click.UsageError(
                f"{out_dir} holds {existing} output{'s' if existing > 1 else ''} of this batch made with other "
                f"settings ({'; '.join(changed)}), which resuming would keep as they are: pass --overwrite to "
                "redo them, or choose another -o")

    def start(held: ExitStack) -> None:
        # One batch at a time per folder, for its whole life: two at once with other settings
        # each wrote part of the photos under one record. The record is checked again under
        # the lock: another batch may have written it since the first check.
        held.enter_context(made_with.holding(out_dir))
        check()
        made_with.record(out_dir, key, settings)

    check()
    return start


def _videos_in(folder: Path, recursive: bool) -> list[Path]:
    from llid_cli.io.video import is_video_name

    found = folder.rglob("*") if recursive else folder.glob("*")
    return sorted(p for p in found if is_video_name(p) and not p.name.startswith("."))


@contextmanager
def _runner(ray, options, write, max_pixels, workload):
    """(run, what to say first): this process's pipeline, or a pool of Ray workers."""
    if ray is None:
        from llid_cli.rendering.pipeline import Pipeline

        yield Pipeline(options, write, max_pixels, workload).run_many, ""
        return
    from llid_cli.distributed.ray_batch import RayBatch

    with RayBatch(ray, options, write, max_pixels, workload) as pool:
        yield pool.run, f"Ray: {pool.workers} worker(s) on {ray.address or 'a local instance'}"


def _in_plan_order(results, jobs):
    """Workers finish in any order; reports list files as the plan does, like a local batch."""
    order = {source: index for index, (source, _) in enumerate(jobs)}
    return sorted(results, key=lambda result: order[result.source])


def _counts(results) -> dict[str, int]:
    return {status: sum(r.status == status for r in results) for status in ("done", "skipped", "failed")}


def _summary(folder: Path, out_dir: Path, model_name: str, results, elapsed: float, interrupted: bool = False) -> dict:
    return {"input": str(folder), "output": str(out_dir), "model": model_name, **_counts(results),
            "interrupted": interrupted, "seconds": round(elapsed, 3), "files": [r.as_dict() for r in results]}


def _write_report(report: Path, folder: Path, out_dir: Path, model_name: str, results, elapsed: float,
                  interrupted: bool = False) -> None:
    from llid_cli.core.errors import LlidError
    from llid_cli.io.atomic import atomic_write_bytes

    summary = _summary(folder, out_dir, model_name, results, elapsed, interrupted)
    try:
        atomic_write_bytes(report, json.dumps(summary, indent=2).encode())
    except OSError as exc:  # a disk that filled up while the batch ran: the outputs are there
        raise LlidError(f"cannot write the report ({exc.strerror or exc}); the batch's outputs are written",
                        report) from exc


def _failure_table(console, failed, folder: Path) -> None:
    from rich.table import Table
    from rich.text import Text

    from llid_cli.core.errors import printable

    if not console.is_terminal:  # a log or a pipe: one plain line per file, never wrapped
        console.print(f"{len(failed)} file(s) failed in {folder}:", soft_wrap=True)
        for result in failed:
            console.print(f"{printable(result.source)}: {printable(result.error or 'unknown error')}", soft_wrap=True,
                          markup=False, highlight=False)
        return

    table = Table(title=f"{len(failed)} file(s) failed in {folder}", title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("reason", overflow="fold")
    for result in failed:
        table.add_row(Text(printable(result.source.relative_to(folder))), Text(printable(result.error or "unknown error")))
    console.print(table)
