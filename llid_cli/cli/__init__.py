"""The `llid` command line. Commands live one per module and are imported only when used, so
`llid --help` and `llid --version` never pay for torch or OpenCV."""

from __future__ import annotations

import importlib
import signal
import sys

import click

from llid_cli import __version__
from llid_cli.core.errors import LlidError

COMMANDS = {
    "enhance": ("llid_cli.cli.enhance", "Enhance one photo or several."),
    "batch": ("llid_cli.cli.batch", "Enhance a folder of photos (resumable, with progress)."),
    "video": ("llid_cli.cli.video", "Enhance a video: no flicker, temporal denoising, audio kept."),
    "eval": ("llid_cli.cli.eval", "Score enhanced photos against references."),
    "train": ("llid_cli.cli.train", "Train a model from a YAML config."),
    "export": ("llid_cli.cli.export", "Export a model to ONNX."),
    "models": ("llid_cli.cli.models", "List the model zoo and show model cards."),
    "info": ("llid_cli.cli.info", "Show versions, threads, GPUs and ONNX Runtime providers."),
}


class LazyGroup(click.Group):
    """Imports a command's module on first use; turns library errors into one-line messages."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        return getattr(importlib.import_module(COMMANDS[name][0]), "command")

    def format_commands(self, ctx, formatter):
        # Short help comes from the table above, so `llid --help` imports no command module.
        rows = [(name, help_text) for name, (_, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except LlidError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise click.ClickException(str(exc)) from exc


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="llid")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """llid turns dark, noisy photos into clean, well-exposed ones."""
    ctx.ensure_object(dict)["debug"] = debug
    if not debug:
        _quiet_decoders()


# Decoders that log what they find wrong in a file (Pillow: "More samples per pixel than can be
# decoded: 9999"). llid says what went wrong with a file in its own line; their log records, which
# Python prints to stderr when nothing handles them, would split a batch's output.
DECODER_LOGGERS = ("PIL", "tifffile", "rawpy", "pillow_heif")


def _quiet_decoders() -> None:
    import logging

    for name in DECODER_LOGGERS:
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
        logger.propagate = False


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs; exits 143 instead of 130."""


_signalled: list[int] = []  # SIGTERM received: libraries that catch the exception (Ray's waits) raise a plain one


def _terminate(signum, frame):
    # Turn a kill into an exception so that pending atomic writes clean up their temporary files.
    _signalled.append(signum)
    raise Terminated


def main() -> None:
    """Run the CLI; Ctrl-C exits 130 and SIGTERM 143 (the shell's 128 + signal), with one line.

    Click's own handling would print "Aborted!" and exit 1 before llid could say what was kept,
    so the group runs outside click's standalone mode and its exceptions are rendered here.
    """
    signal.signal(signal.SIGTERM, _terminate)
    try:
        # Outside standalone mode click returns (not raises) the code of a `ctx.exit(code)`.
        code = cli.main(prog_name="llid", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except (KeyboardInterrupt, click.exceptions.Abort) as exc:
        # Click turns the interrupt into Abort, keeping it as the cause.
        terminated = isinstance(exc, Terminated) or isinstance(exc.__cause__, Terminated) or bool(_signalled)
        how = "terminated" if terminated else "interrupted"
        click.echo(f"llid: {how}; finished outputs are kept and no partial output was left behind", err=True)
        sys.exit(143 if terminated else 130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
