"""`llid models list` and `llid models info NAME`."""

from __future__ import annotations

import click


@click.group("models")
def command() -> None:
    """List the model zoo and show model cards."""


def _weights_status(spec) -> str:
    from llid_cli.engine.runner import default_weights_path

    if not spec.learned:
        return "none needed"
    path = default_weights_path(spec.name)
    return path.name if path is not None and path.is_file() else "not trained yet"


def _parameters(spec) -> int:
    """Of the shipped weights' architecture when there are weights, else of the default preset."""
    from llid_cli.engine.runner import default_weights_path
    from llid_cli.models.weights import read_weights

    path = default_weights_path(spec.name)
    if path is not None and path.is_file():
        _, info = read_weights(path)
        return sum(p.numel() for p in spec.construct(info.arch_args).parameters())
    return spec.parameter_count()


@command.command("list")
def list_models() -> None:
    """The registered models as a table."""
    from rich.console import Console
    from rich.table import Table

    from llid_cli.models import all_specs
    from llid_cli.pipeline import DEFAULT_MODEL

    table = Table(title="llid model zoo")
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("pad to", justify="right", no_wrap=True)
    table.add_column("global ops", overflow="fold")
    table.add_column("weights", overflow="fold")
    table.add_column("description", overflow="fold", ratio=2)
    for spec in all_specs():
        name = spec.name + (" (default)" if spec.name == DEFAULT_MODEL else "")
        params = f"{_parameters(spec) / 1e6:.2f} M" if spec.learned else "-"
        table.add_row(name, params, str(spec.input_multiple), ", ".join(spec.global_ops) or "-",
                      _weights_status(spec), spec.description)
    Console().print(table)


@command.command("info")
@click.argument("name")
def info(name: str) -> None:
    """The model card of NAME."""
    from rich.console import Console
    from rich.table import Table

    from llid_cli.engine.runner import default_weights_path
    from llid_cli.models import get_spec
    from llid_cli.models.weights import read_weights

    spec = get_spec(name)
    card = Table(show_header=False, title=f"model card: {spec.name}", title_justify="left")
    card.add_column(style="bold")
    card.add_column(overflow="fold")
    card.add_row("description", spec.description)
    card.add_row("design", spec.origin)
    if spec.variant_of:
        card.add_row("variant of", f"{spec.variant_of} (the same network with other trained weights)")
    card.add_row("learned", "yes" if spec.learned else "no (classical)")
    if spec.pre:
        card.add_row("pre-processing", spec.pre)
    card.add_row("input multiple", f"{spec.input_multiple} (the network pads and crops by itself)")
    card.add_row("global operations", ", ".join(spec.global_ops) or "none (tiles are exact)")
    for preset, args in spec.presets.items():
        card.add_row(f"preset '{preset}'", f"{spec.parameter_count(preset):,} parameters: {args}")
    path = default_weights_path(spec.name)
    if path is not None and path.is_file():
        _, meta = read_weights(path)
        card.add_row("weights", f"{path} (sha256 {meta.file_sha256[:16]}...)")
        card.add_row("architecture args", str(meta.arch_args))
        for key, value in meta.metadata.items():
            card.add_row(key, str(value))
    elif spec.learned:
        card.add_row("weights", f"not trained yet (expected {path})")
    Console().print(card)


@command.command("pull")
@click.argument("name")
@click.option("--repo", default=None, help="Hugging Face Hub repository [default: LLID_HUB_REPO or llid/weights].")
@click.option("--revision", default="main", show_default=True, help="Branch, tag or commit.")
@click.option("--sha256", default=None, help="Expected sha256 of the file (else llid's record or the hub's).")
def pull(name: str, repo: str | None, revision: str, sha256: str | None) -> None:
    """Download NAME's weights into the user cache, verified by sha256 (the only networked command)."""
    from rich.console import Console

    from llid_cli.models.hub import pull as pull_weights

    path = pull_weights(name, repo, revision, sha256)
    Console(stderr=True).print(f"{name}: verified and saved to {path}")
