"""`llid export`: ONNX export (built by the engine issue)."""

import click

from llid_cli.cli.options import not_yet


@click.command("export", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@not_yet("issue #5: ONNX export")
def export(args) -> None:
    """Export a model to ONNX (not available yet)."""


command = export
