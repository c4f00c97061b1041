"""`llid train --config`: training (built by the training issue)."""

import click

from llid_cli.cli.options import not_yet


@click.command("train", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@not_yet("issue #4: `llid train --config`")
def train(args) -> None:
    """Train a model from a YAML config (not available yet)."""


command = train
