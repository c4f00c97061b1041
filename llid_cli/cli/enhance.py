"""`llid enhance IN... -o OUT`."""

from __future__ import annotations

from pathlib import Path

import click

from llid_cli.cli.options import (
    enhance_options_from,
    max_pixels_from,
    model_options,
    write_options,
    write_options_from,
)
from llid_cli.io.formats import FORMAT_EXTENSIONS, WRITE_FORMATS


@click.command("enhance")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Output file (one input) or folder (several, or a name ending in /) [default: next to each "
                   "input, with --suffix].")
@click.option("--suffix", default=None,
              help="Added to output names in folder mode [default: none in another folder, '_llid' beside the input].")
@click.option("--overwrite", is_flag=True, help="Allow the output to replace its input file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result (every file's outcome) on stdout.")
@model_options
@write_options
@click.pass_context
def command(ctx: click.Context, inputs: tuple[Path, ...], output: str | None, suffix: str | None, overwrite: bool,
            as_json: bool, **kwargs) -> None:
    """Enhance one photo or several.

    \b
    llid enhance photo.jpg -o photo-bright.jpg
    llid enhance a.jpg b.png -o enhanced/
    cat dark.jpg | llid enhance - -o - --format png > bright.png
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="llid-pipe-") as pipe_dir:
        _enhance(ctx, inputs, output, suffix, overwrite, as_json, Path(pipe_dir), kwargs)


def _enhance(ctx, inputs, output, suffix, overwrite, as_json, pipe_dir: Path, kwargs) -> None:
    import sys
    from dataclasses import replace

    from rich.console import Console

    from llid_cli.cli.pipes import stdin_to_file, stdout_target
    from llid_cli.cli.progress import TileProgress
    from llid_cli.core.errors import printable
    from llid_cli.rendering.pipeline import Pipeline, workload_megapixels

    options = enhance_options_from(kwargs)
    console = Console(stderr=True)
    tiles = TileProgress(console) if console.is_terminal else None  # a large photo's tiles and ETA
    write = write_options_from(kwargs, overwrite)
    if sum(str(source) == "-" for source in inputs) > 1:
        raise click.UsageError("-: standard input can be read once")
    # A trailing slash asks for a folder; a Path would drop it, so it is read off the text first.
    as_folder = output is not None and output.endswith(("/", "\\"))
    output = Path(output) if output is not None else None
    piped_in = any(str(source) == "-" for source in inputs)
    # A photo piped in with no -o goes out through the pipe: "beside its input" would be a
    # temporary folder that is deleted on exit, and the photo lost.
    to_stdout = (output is not None and str(output) == "-") or (output is None and piped_in)
    if to_stdout and as_json:
        raise click.UsageError("-o - and --json both want standard output (a photo piped in without -o goes "
                               "out through standard output: give -o FILE)")
    if to_stdout and sys.stdout.isatty():
        raise click.UsageError("standard output is a terminal, not a file: redirect it (> out.jpg) or give -o FILE")
    inputs = tuple(stdin_to_file(pipe_dir) if str(source) == "-" else source for source in inputs)
    if to_stdout:
        fmt = write.format
        if fmt is None and output is None:  # piped in, piped out: the format it came in
            fmt = WRITE_FORMATS.get(inputs[0].suffix.lower())
            write = replace(write, format=fmt)
        output = stdout_target(pipe_dir, fmt, len(inputs))
    jobs = _targets(inputs, output, suffix, write.format, as_folder)
    pipeline = Pipeline(options, write, max_pixels_from(kwargs), workload_megapixels(options, inputs), tiles)
    if ctx.obj and ctx.obj.get("debug"):  # the first failure stops with its traceback
        results = (pipeline.enhance_file(source, target) for source, target in jobs)
    else:  # a photo that fails is reported, and the next one goes on
        results = pipeline.run_many(jobs, skip_existing=False)

    def shown(path) -> str:  # the pipe's temporary files are "-" to the user; one line each
        return "-" if path is not None and Path(path).parent == pipe_dir else printable(str(path))

    failed, done = 0, []
    for result in results:
        if tiles is not None:
            tiles.finish_photo()
        done.append(result)
        if result.status == "failed":
            failed += 1
            click.echo(f"Error: {shown(result.source)}: {printable(result.error or 'unknown error')}", err=True)
        else:
            night = f", night look {result.night_ev:+.1f} EV" if result.night_ev else ""
            click.echo(f"{shown(result.source)} -> {shown(result.target)} ({result.megapixels:.1f} MP, "
                       f"{result.seconds:.2f} s{night})", err=True)
    if as_json:
        import json

        click.echo(json.dumps({"model": pipeline.model_name, "files": [r.as_dict() for r in done],
                               "failed": failed}, indent=2))
    if failed:
        if len(jobs) > 1:
            click.echo(f"{failed} of {len(jobs)} photos failed", err=True)
        ctx.exit(1)
    if to_stdout:
        sys.stdout.buffer.write(output.read_bytes())
        sys.stdout.buffer.flush()


def _targets(inputs, output: Path | None, suffix: str | None, fmt: str | None, as_folder: bool = False):
    from llid_cli.rendering.pipeline import (
        output_name,
        refuse_collisions,
        without_own_outputs,
    )

    for source in inputs:
        if source.is_dir():
            raise click.UsageError(f"{source} is a folder: use `llid batch {source} -o OUTDIR` to enhance a folder")
    folder_mode = output is None or len(inputs) > 1 or output.is_dir() or as_folder
    if len(inputs) > 1 and output is not None and not output.is_dir() and output.suffix.lower() in WRITE_FORMATS:
        raise click.UsageError(f"{output}: {len(inputs)} inputs need an output folder, not a file name "
                               f"(end it with / to make a folder of that name)")
    if not folder_mode:
        if not output.suffix and not fmt:
            raise click.UsageError(f"{output}: no extension to choose a format by; name the file (such as "
                                   f"{output.name}.jpg), or end it with / for a folder of that name")
        written_as = WRITE_FORMATS.get(output.suffix.lower())
        if fmt and written_as and written_as != fmt:
            raise click.UsageError(f"{output}: the name says {output.suffix} but --format is {fmt}; "
                                   f"name it {output.with_suffix(FORMAT_EXTENSIONS[fmt]).name} or drop --format")
        return [(inputs[0], output)]
    if output is not None and output.exists() and not output.is_dir():
        raise click.UsageError(f"{output}: several inputs need an output folder, not a file")
    targets = []
    for source in inputs:
        folder = source.parent if output is None else output
        name_suffix = suffix if suffix is not None else ("_llid" if output is None else "")
        targets.append((source, folder / output_name(source, name_suffix, fmt)))
    # `llid enhance m/*` run again lists the first run's m/x_llid.jpg: not a photo to enhance again.
    return refuse_collisions(without_own_outputs(targets))
