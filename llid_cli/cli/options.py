"""Options shared by several commands, as decorators (one definition, one help text)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import click

from llid_cli.io.formats import FORMAT_EXTENSIONS


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


model_options = _compose(
    click.option("-m", "--model", default=None, metavar="NAME",
                 help="Zoo model (see `llid models list`) [default: the one --weights names, else the recommended model]."),
    click.option("--weights", type=click.Path(exists=True, dir_okay=False), default=None,
                 help="A safetensors weights file to use instead of the model's shipped weights."),
    click.option("--exposure", type=Finite(-4.0, 4.0), default=0.0, show_default=True, metavar="EV",
                 help="Shift the automatic exposure by EV stops (+1: twice the light, -1: half)."),
    click.option("--strength", type=Finite(0.0, 1.0), default=1.0, show_default=True,
                 help="How much of the enhancement to apply, mixed in linear light (0: the input unchanged)."),
    click.option("--denoise", type=Finite(0.0, 4.0), default=None, metavar="X",
                 help="Strength of the model's filter for the grain brightening lifts into the shadows: "
                      "0 off, 2 twice the noise assumed [default: 1 for lynx; other models have none]."),
    click.option("--night-look/--no-night-look", default=None,
                 help="Brighten a photo of a dim scene up to 1.5 stops less, so that night still looks like night "
                      "[default: judged from the exposure settings its camera recorded]; --night-look: also a photo "
                      "without them (a PNG, an edited file, a frame), judged from the picture; --no-night-look: never."),
    click.option("--light-colours", is_flag=True,
                 help="Keep the colour of lights the camera exposed well (lamps, signs, sunsets) as a learned "
                      "model brightens the photo around them [default: the model's colours, which pale them "
                      "towards white, as SICE's references do]."),
    click.option("--pre", type=click.Choice(["none", "clahe"]), default="none", show_default=True,
                 help="Classical step applied before the model."),
    click.option("--backend", type=click.Choice(["auto", "torch", "onnx"]), default="auto", show_default=True,
                 help="Run learned models with PyTorch or ONNX Runtime (exported once, cached); auto: the "
                      "faster one for the model on this device, as measured."),
    click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
                 help="Where learned models run (auto: CUDA when available)."),
    click.option("--precision", type=click.Choice(["fp32", "fp16", "bf16"]), default="fp32", show_default=True,
                 help="Arithmetic of learned models (fp16/bf16 on CUDA)."),
    click.option("--tile", default="auto", show_default=True, callback=_parse_tile,
                 help="Tile size in pixels for large photos, auto (from free memory), or 0 (no tiling)."),
    click.option("--overlap", type=click.IntRange(0, 512), default=32, show_default=True,
                 help="Minimum overlap between tiles, blended with a smooth ramp."),
    click.option("--threads", type=click.IntRange(min=0), default=0, callback=_within_machine,
                 help="CPU threads for the backend, at most this machine's [default: all]."),
    click.option("--batch-size", type=click.IntRange(1, 256), default=1, show_default=True,
                 help="Tiles per forward pass."),
    click.option("--clip-limit", type=Finite(min=0.01), default=2.0, show_default=True,
                 help="CLAHE clip limit of --model clahe and --pre clahe (clahe-cnn's own step uses the settings saved with its weights)."),
    click.option("--tile-grid", default="8x8", show_default=True, callback=_parse_grid,
                 help="CLAHE tile grid, ROWSxCOLS."),
    click.option("--gain", type=Finite(min=0.01), default=None,
                 help="Linear brightening factor of the classical step [default: automatic]."),
    click.option("--target-luma", type=Finite(0.01, 1.0), default=0.45, show_default=True,
                 help="Mean luma the automatic brightening aims for."),
)

write_options = _compose(
    click.option("--format", "fmt", type=click.Choice(sorted(FORMAT_EXTENSIONS)), default=None,
                 help="Output format [default: from the output's extension; for a camera RAW named after its input, tiff]."),
    click.option("-q", "--quality", type=click.IntRange(1, 100), default=95, show_default=True,
                 help="JPEG/WebP/HEIC/AVIF quality."),
    click.option("--bit-depth", type=click.Choice(["same", "8", "16"]), default="same", show_default=True,
                 help="Output bit depth (16 for PNG/TIFF; HEIC keeps 10 of them)."),
    click.option("--max-pixels", type=Finite(min=1), default=None, envvar="LLID_MAX_PIXELS",
                 help="Refuse images with more pixels than this (decompression-bomb guard) [default: 250e6]."),
)


def enhance_options_from(kwargs: dict):
    """Pop the shared model options out of a command's kwargs into an `EnhanceOptions`."""
    from llid_cli.classical import ClaheSettings
    from llid_cli.engine.runner import EngineOptions
    from llid_cli.pipeline import EnhanceOptions

    try:
        clahe = ClaheSettings(
            clip_limit=kwargs.pop("clip_limit"), tile_grid=kwargs.pop("tile_grid"),
            gain=kwargs.pop("gain"), target_luma=kwargs.pop("target_luma"),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    pre = kwargs.pop("pre")
    _refuse_classical_brightening_without_classical_step(kwargs.get("model"), pre)
    return EnhanceOptions(
        model=kwargs.pop("model"), weights=kwargs.pop("weights"),
        pre=None if pre == "none" else pre, clahe=clahe,
        exposure=kwargs.pop("exposure"), strength=kwargs.pop("strength"), denoise=kwargs.pop("denoise"),
        night_look={None: "auto", True: "on", False: "off"}[kwargs.pop("night_look")],
        light_colours=kwargs.pop("light_colours"),
        engine=EngineOptions(
            backend=kwargs.pop("backend"), device=kwargs.pop("device"), precision=kwargs.pop("precision"),
            tile=kwargs.pop("tile"), overlap=kwargs.pop("overlap"), threads=kwargs.pop("threads"),
            batch_size=kwargs.pop("batch_size"),
        ),
    )


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
    from llid_cli.io import WriteOptions

    depth = kwargs.pop("bit_depth")
    return WriteOptions(
        format=kwargs.pop("fmt"), quality=kwargs.pop("quality"),
        bit_depth=None if depth == "same" else int(depth), overwrite=overwrite,
    )


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
