"""`llid export --model NAME -o model.onnx`: ONNX export, checked and compared with PyTorch."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("export")
@click.option("-m", "--model", "name", default=None, help="Zoo model [default: the one --weights names].")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Weights file [default: the model's shipped weights].")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The .onnx file.")
@click.option("--fp16", is_flag=True, help="Half-precision graph (for GPUs).")
@click.option("--opset", type=click.IntRange(13, 23), default=17, show_default=True)
@click.option("--tiling", is_flag=True,
              help="For models with global statistics, also write OUTPUT.capture.onnx and OUTPUT.replay.onnx for tiled inference.")
@click.option("--check-photo", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Photo for the PyTorch/ONNX Runtime comparison [default: the shipped example].")
def command(name, weights, output, fp16, opset, tiling, check_photo) -> None:
    """Export a model to ONNX (dynamic height and width), check it, and compare it with PyTorch."""
    from rich.console import Console

    from llid_cli.core.extras import require

    require("torch", "llid export")
    require("onnx", "llid export")
    from llid_cli.export.model import export_model

    if name is None and weights is None:
        raise click.UsageError("give --model NAME or --weights FILE")
    console = Console(stderr=True)
    result = export_model(name, weights, output, fp16, opset, tiling, check_photo)
    if result.check_photo is not None:
        console.print(f"ONNX Runtime vs PyTorch on {result.check_photo.name} (256x256 crop): "
                      f"max |difference| {result.max_difference:.2e} (limit {result.limit:g})")
    for item in result.written:
        console.print(f"wrote {item} ({item.stat().st_size / 1e6:.1f} MB, onnx.checker passed)")
