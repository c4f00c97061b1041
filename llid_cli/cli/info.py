"""`llid info`: what llid will run on."""

from __future__ import annotations

import os
import platform

import click


@click.command("info")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout instead of the table.")
def command(as_json: bool) -> None:
    """Show versions, CPU threads, CUDA devices, ONNX Runtime providers and photo formats."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from llid_cli import __version__

    rows = [("llid", __version__), ("python", platform.python_version()), ("platform", platform.platform()),
            ("cpu threads", str(os.cpu_count()))] + _torch_rows() + _ort_rows() + _library_rows() + _format_rows()
    if as_json:
        import json

        click.echo(json.dumps(dict(rows), indent=2))
        return
    table = Table(show_header=False, box=None)
    for row in rows:  # as text, not markup: rich would take "[heic]" in an install hint for a style
        table.add_row(*(Text(cell) for cell in row))
    Console().print(table)


def _torch_rows() -> list[tuple[str, str]]:
    try:
        import torch
    except ImportError:
        return [("torch", "not installed")]
    rows = [("torch", torch.__version__), ("torch threads", str(torch.get_num_threads()))]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            rows.append((f"cuda:{index}", f"{props.name}, {props.total_memory / 2**30:.1f} GiB"))
    else:
        rows.append(("cuda", "not available"))
    return rows


def _ort_rows() -> list[tuple[str, str]]:
    try:
        import onnxruntime as ort
    except ImportError:
        return [("onnxruntime", "not installed (pip install 'llid[onnx]', 'llid[cpu]' or 'llid[gpu]')")]
    return [("onnxruntime", ort.__version__), ("ort providers", ", ".join(ort.get_available_providers()))]


def _library_rows() -> list[tuple[str, str]]:
    rows = []
    for name, module in (("opencv", "cv2"), ("numpy", "numpy"), ("pillow", "PIL"), ("tifffile", "tifffile"),
                         ("pillow-heif", "pillow_heif"), ("rawpy", "rawpy")):
        try:
            mod = __import__(module)
            rows.append((name, getattr(mod, "__version__", "installed")))
        except ImportError:
            rows.append((name, "not installed"))
    return rows


def _format_rows() -> list[tuple[str, str]]:
    """The photo formats this installation reads and writes, and what would add the others."""
    from llid_cli.io.formats import INSTALL, READ_FORMATS, WRITE_FORMATS, available

    def names(table: dict[str, str]) -> list[str]:
        return list(dict.fromkeys(table.values()))

    missing = [fmt for fmt in names(READ_FORMATS) if not available(fmt)]
    rows = [("reads", " ".join(f.upper() for f in names(READ_FORMATS) if f not in missing)),
            ("writes", " ".join(f.upper() for f in names(WRITE_FORMATS) if f not in missing))]
    if missing:
        rows.append(("to add", "; ".join(f"{f.upper()}: {INSTALL[f]}" for f in missing if f in INSTALL)))
    return rows
