"""Options shared by several commands, as decorators (one definition, one help text)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import click

from llid_cli.core.settings import Declared, declared, group_type


class Finite(click.FloatRange):
    """A float option's type: a range, and never NaN or infinity (click's FloatRange lets NaN
    through every bound, since no comparison with it is true, and `1e400` parses as infinity).
    Every float option of every command uses it, so a non-finite value is refused in one place."""

    name = "float"

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)


def _compose(*decorators):
    def apply(func):
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def _parse_tile(ctx, param, value: str) -> int | None:
    """auto -> None; 0 -> 0, the whole photo in one pass (Real-ESRGAN's convention); else pixels."""
    if value == "auto":
        return None
    try:
        size = int(value)
    except ValueError:
        raise click.BadParameter(f"expected auto, 0 (no tiling) or a size in pixels, got {value!r}") from None
    if size != 0 and size < 64:
        raise click.BadParameter("tiles must be at least 64 pixels (or 0 for no tiling)")
    return size


def machine_threads() -> int:
    """CPU threads this process may run on (its affinity, where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _within_machine(ctx, param, value: int) -> int:
    """More threads than the machine has only slow a run down (1024 threads took a 128x96 photo
    109 s): refused rather than obeyed."""
    if value > machine_threads():
        raise click.BadParameter(f"this machine runs {machine_threads()} CPU threads; ask for at most that (0: all)")
    return value


def _parse_white_balance(ctx, param, value: str) -> str:
    from llid_cli.rendering.colour import parse_white_balance

    try:
        return parse_white_balance(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _parse_grid(ctx, param, value: str) -> tuple[int, int]:
    try:
        parts = [int(v) for v in value.lower().split("x")]
        if len(parts) == 1:
            parts = parts * 2
        if len(parts) != 2 or min(parts) < 1 or max(parts) > 64:
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"expected ROWSxCOLS from 1x1 to 64x64 such as 8x8, got {value!r}") from None
    return parts[0], parts[1]


def _option(name: str, field, spec: Declared):
    """The click option of one declared setting (`llid_cli.core.settings`)."""
    flags = [spec.short, spec.option(name)] if spec.short else [spec.option(name)]
    flags.append(name)  # the parameter's name: the field's
    default = field.default if spec.typed is None else spec.typed
    extra: dict = {}
    if spec.kind == "flag":
        return click.option(*flags, is_flag=True, help=spec.help)
    if spec.kind == "night_look":
        return click.option(*flags, default=None, help=spec.help)
    if spec.kind == "choice":
        extra["type"] = click.Choice(list(spec.choices))
    elif spec.kind == "path":
        extra["type"] = click.Path(exists=True, dir_okay=False)
    elif spec.kind == "tile":
        extra["callback"] = _parse_tile
    elif spec.kind == "grid":
        extra["callback"] = _parse_grid
    elif spec.kind == "white_balance":
        extra["callback"] = _parse_white_balance
    elif spec.kind == "threads":
        extra.update(type=click.IntRange(min=0), callback=_within_machine)
    elif spec.bounds is not None:
        extra["type"] = Finite(*spec.bounds) if spec.number is float else click.IntRange(*spec.bounds)
    show = spec.show_default and default is not None
    return click.option(*flags, default=default, show_default=show, metavar=spec.metavar, envvar=spec.envvar,
                        help=spec.help, **extra)


def _options_of(cls) -> list:
    """The click options of every setting `cls` declares, groups flattened, in declaration order."""
    made = []
    for field, spec in declared(cls):
        made.extend(_options_of(group_type(field)) if spec.kind == "group" else [_option(field.name, field, spec)])
    return made


def _value(field, spec: Declared, typed):
    """A field's value from what the command line gave."""
    if spec.kind == "night_look":
        return {None: "auto", True: "on", False: "off"}[typed]
    if spec.typed is not None and typed == spec.typed and field.default is None:
        return None  # a word that stands for None: --pre none, --bit-depth same
    if spec.kind == "choice" and spec.number is int and typed is not None:
        return int(typed)
    return typed


def options_from(cls, kwargs: dict):
    """Pop the settings `cls` declares out of a command's kwargs into a `cls`."""
    values = {}
    for field, spec in declared(cls):
        if spec.kind == "group":
            values[field.name] = options_from(group_type(field), kwargs)
        else:
            values[field.name] = _value(field, spec, kwargs.pop(field.name))
    try:
        return cls(**values)
    except ValueError as exc:  # a dataclass's own check of its values (ClaheSettings)
        raise click.BadParameter(str(exc)) from exc


def _enhance_options_type():
    from llid_cli.rendering.pipeline import EnhanceOptions

    return EnhanceOptions


def _write_options_type():
    from llid_cli.io import WriteOptions

    return WriteOptions


def _removed(message: str):
    """A flag llid no longer has, kept hidden so that a script that still passes it is told why."""

    def refuse(ctx, param, value):
        if value:
            raise click.UsageError(message)

    return refuse


model_options = _compose(
    *_options_of(_enhance_options_type()),
    click.option("--light-colours", is_flag=True, hidden=True, expose_value=False, callback=_removed(
        "--light-colours was removed: it painted hard-edged orange blobs on reflections and facades, and no "
        "version of it was safe (docs/colour.md); --white-balance keep keeps a scene's light as it was")),
)

write_options = _compose(
    *_options_of(_write_options_type()),
    click.option("--max-pixels", type=Finite(min=1), default=None, envvar="LLID_MAX_PIXELS",
                 help="Refuse images with more pixels than this (decompression-bomb guard) [default: 250e6]."),
)


def enhance_options_from(kwargs: dict):
    """Pop the shared model options out of a command's kwargs into an `EnhanceOptions`."""
    _refuse_classical_brightening_without_classical_step(kwargs.get("model"), kwargs.get("pre"))
    return options_from(_enhance_options_type(), kwargs)


def _refuse_classical_brightening_without_classical_step(model: str | None, pre: str) -> None:
    """--gain/--target-luma steer only the CLAHE path; silently ignoring them misleads."""
    from click.core import ParameterSource

    context = click.get_current_context(silent=True)
    if context is None or model == "clahe" or pre == "clahe":
        return
    given = [f"--{name.replace('_', '-')}" for name in ("gain", "target_luma")
             if context.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)]
    if given:
        raise click.UsageError(f"{' and '.join(given)} set the brightening of the classical clahe path "
                               "(--model clahe or --pre clahe); learned models take --exposure EV")


def write_options_from(kwargs: dict, overwrite: bool):
    from dataclasses import replace

    return replace(options_from(_write_options_type(), kwargs), overwrite=overwrite)


def max_pixels_from(kwargs: dict) -> int | None:
    value = kwargs.pop("max_pixels")
    return None if value is None else int(value)


def check_report_path(report: Path) -> None:
    """Refuse a report path that cannot be written before the work runs, not after; a missing
    folder is refused too, never created (a typo in it would otherwise go unnoticed)."""
    folder = report.parent if str(report.parent) else Path(".")
    if report.is_dir():
        raise click.BadParameter(f"{report} is a folder", param_hint="--report")
    if not folder.is_dir():
        raise click.BadParameter(f"{report}: the folder {folder} does not exist", param_hint="--report")
    if not os.access(folder, os.W_OK) or (report.exists() and not os.access(report, os.W_OK)):
        raise click.BadParameter(f"{report}: not writable here", param_hint="--report")


def ray_options(spreads: str):
    """--ray [ADDRESS], --workers, --gpus-per-worker: one set for every command that runs on Ray;
    `spreads` says what the workers take (the start of --ray's help)."""
    return _compose(
        click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
                     help=f"{spreads}: alone, a local Ray instance; with auto, HOST:PORT or ray://HOST:10001, that "
                          "cluster (files on a disk every node sees). --threads is then each worker's CPUs (default 1)."),
        click.option("--workers", type=click.IntRange(0, 100000), default=0,
                     help="With --ray: worker processes, each loading the model once [default: as many as fit]."),
        click.option("--gpus-per-worker", type=Finite(0, 64), default=0.0,
                     help="With --ray: GPUs each worker reserves (0.5: two workers share a card)."),
    )


def ray_options_from(ray_address: str | None, workers: int, gpus_per_worker: float, threads: int | None):
    """The RayOptions the --ray options ask for (None without --ray); --workers and
    --gpus-per-worker alone are a usage error."""
    if ray_address is None:
        if workers or gpus_per_worker:
            raise click.UsageError("--workers and --gpus-per-worker go with --ray")
        return None
    from llid_cli.distributed.pool import RayOptions

    return RayOptions(address=None if ray_address == "local" else ray_address, workers=workers,
                      gpus_per_worker=gpus_per_worker, cpus_per_worker=threads or 1)
