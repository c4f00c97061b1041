"""`llid train --config X.yaml`: train a zoo model; `--resume RUN_DIR` continues a run exactly."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import click


@click.command("train")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="YAML training config (see configs/).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config field, e.g. --set train.steps=2000 (repeatable).")
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the run is written [default: runs/CONFIG-TIMESTAMP].")
@click.option("--resume", "resume_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Continue the run in this folder from its last checkpoint.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--nproc", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="Train with this many processes on this machine (DistributedDataParallel via torchrun; "
                   "one per GPU on CUDA). data.batch_size stays the global batch.")
@click.option("--quiet", is_flag=True, help="No progress line.")
def command(config_path, overrides, run_dir, resume_dir, device, nproc, quiet) -> None:
    """Train a model from a YAML config.

    \b
    llid train --config configs/unet.yaml
    llid train --config configs/unet.yaml --set train.steps=200 --set data.batch_size=4
    llid train --resume runs/unet-20261122-101500
    llid train --config configs/lynx.yaml --nproc 4         # or: torchrun --nproc_per_node 4 -m llid_cli train ...
    """
    from rich.console import Console

    from llid_cli.core.extras import require

    require("torch", "llid train")
    from llid_cli.distributed import ddp
    from llid_cli.training.config import load_config
    from llid_cli.training.loop import Trainer

    if resume_dir is None and config_path is None:
        raise click.UsageError("give --config FILE (or --resume RUN_DIR)")
    if run_dir is None and resume_dir is None:  # named once, here, so that every process agrees on it
        run_dir = Path("runs") / f"{config_path.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    group = ddp.from_environment()
    if nproc > 1 and group is None:
        raise SystemExit(ddp.launch(nproc, _argv(config_path, overrides, run_dir, resume_dir, device, quiet)))
    main = group is None or group.is_main
    console = Console(stderr=True, quiet=not main)
    progress, on_event = _progress(console, quiet or not main)
    try:
        with progress:
            if resume_dir is not None:
                with _naming(resume_dir / "config.yaml"):
                    trainer = Trainer.resume(resume_dir, device, on_event, overrides, group)
                console.print(f"resuming {resume_dir} at step {trainer.step}" + _processes(group))
            else:
                config = load_config(config_path, overrides)
                with _naming(config_path):
                    trainer = Trainer(config, run_dir, device, on_event, group)
                console.print(f"training {config.model.type} into {run_dir} on {trainer.device}" + _processes(group))
            try:
                best = trainer.fit()
            except KeyboardInterrupt:
                console.print(f"stopped at step {trainer.step}; checkpoint saved. Continue with: "
                              f"llid train --resume {trainer.run_dir}")
                raise SystemExit(130) from None
    finally:
        ddp.leave()
    if not main:
        return
    summary = f"done: {trainer.step} steps in {trainer.train_seconds:.0f} s"
    if trainer.best.get("step") is not None:
        summary += f"; best validation {trainer.best['psnr']:.2f} dB / SSIM {trainer.best['ssim']:.4f} at step {trainer.best['step']}"
    console.print(summary)
    console.print(f"weights: {best}   (use: llid enhance PHOTO --weights {best})")


def _processes(group) -> str:
    return "" if group is None else f" ({group.world} processes)"


def _argv(config_path, overrides, run_dir, resume_dir, device, quiet) -> list[str]:
    """This command line again, without --nproc, for each process torchrun starts."""
    argv = ["train", "--device", device]
    if resume_dir is not None:
        argv += ["--resume", str(resume_dir)]
    else:
        argv += ["--config", str(config_path), "--run-dir", str(run_dir)]
    for override in overrides:
        argv += ["--set", override]
    return argv + (["--quiet"] if quiet else [])


@contextmanager
def _naming(config_path: Path):
    """A config problem found while building the trainer (model.args, say) names the config file."""
    from llid_cli.core.errors import ConfigError

    try:
        yield
    except ConfigError as exc:
        if exc.path is not None:
            raise
        raise ConfigError(exc.reason, config_path) from exc


def _progress(console, quiet: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("{task.fields[rate]:.2f} it/s"),
        TextColumn("val {task.fields[val]}"), TextColumn("ETA"), TimeRemainingColumn(),
        console=console, disable=quiet,
    )
    state: dict = {}

    def on_event(event) -> None:
        if "task" not in state:
            state["task"] = progress.add_task("train", total=event.total, completed=event.step,
                                              loss=float("nan"), rate=0.0, val="-")
        task = state["task"]
        if event.kind == "train":
            progress.update(task, completed=event.step, loss=event.loss, rate=event.it_per_s)
        elif event.kind == "val":
            progress.update(task, val=f"{event.val_psnr:.2f} dB")

    return progress, on_event
