"""`llid models`: the zoo (filled in by the model-zoo issue)."""

import click

from llid_cli.cli.options import not_yet


@click.command("models", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@not_yet("issue #3: the model zoo")
def models(args) -> None:
    """List the model zoo and show model cards (not available yet)."""


command = models
