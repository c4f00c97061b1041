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
    import numpy as np
    import torch
    from rich.console import Console

    from llid_cli.engine.export import export_onnx
    from llid_cli.engine.onnx_backend import session
    from llid_cli.engine.runner import default_weights_path
    from llid_cli.errors import LlidError, ModelError
    from llid_cli.io import read_image
    from llid_cli.models import get_spec
    from llid_cli.models.context import has_global_stats
    from llid_cli.models.weights import example_photo, load_model, read_weights

    console = Console(stderr=True)
    if name is None and weights is None:
        raise click.UsageError("give --model NAME or --weights FILE")
    if name is None:
        name = read_weights(weights)[1].architecture
    path = Path(weights) if weights else default_weights_path(name)
    if path is None or not path.is_file():
        raise ModelError(f"model '{name}' has no trained weights here (looked for {path}); pass --weights FILE")
    model, info = load_model(path, architecture=get_spec(name).architecture)
    export_onnx(model, output, "plain", opset, fp16)
    written = [output]
    if tiling and has_global_stats(model):
        for mode in ("capture", "replay"):
            extra = output.with_name(f"{output.stem}.{mode}.onnx")
            export_onnx(model, extra, mode, opset, fp16)
            written.append(extra)

    photo = check_photo or example_photo()
    if photo.is_file():
        pixels = read_image(photo).to_float_rgb()[:256, :256]  # a crop keeps the check quick
        image = np.ascontiguousarray(pixels.transpose(2, 0, 1))[None]
        with torch.inference_mode():
            expected = model(torch.from_numpy(image)).numpy()
        sess = session(output, "auto", 0)
        got = sess.run(None, {"image": image.astype(np.float16 if fp16 else np.float32)})[0].astype(np.float32)
        diff = float(np.abs(got - expected).max())
        limit = 1e-2 if fp16 else 1e-3
        console.print(f"ONNX Runtime vs PyTorch on {photo.name} (256x256 crop): max |difference| {diff:.2e} (limit {limit:g})")
        if diff > limit:
            raise LlidError(f"the export disagrees with PyTorch (max difference {diff:.2e} > {limit:g})", output)
    for item in written:
        console.print(f"wrote {item} ({item.stat().st_size / 1e6:.1f} MB, onnx.checker passed)")
