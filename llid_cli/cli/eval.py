"""`llid eval`: metrics against references (built by the eval issue)."""

import click

from llid_cli.cli.options import not_yet


@click.command("eval", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@not_yet("issue #6: `llid eval`")
def eval(args) -> None:  # noqa: A001 - the command's name
    """Score enhanced photos against references (not available yet)."""


command = eval
