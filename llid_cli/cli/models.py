"""`llid models list` and `llid models info NAME`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click


@click.group("models")
def command() -> None:
    """List the model zoo and show model cards."""


def _shipped(spec):
    """(path, WeightsInfo) of the weights `--model NAME` uses, or (path, None) when there are none."""
    from llid_cli.models.locations import default_weights_path
    from llid_cli.models.weights import read_weights

    path = default_weights_path(spec.name) if spec.learned else None
    if path is None or not path.is_file():
        return path, None
    return path, read_weights(path)[1]


def _row(name: str, default: str, path: Path | None, info, learned: bool, description: str) -> dict:
    """What `models list` says of one model: enough to choose one."""
    from llid_cli.models.weights import read_header

    validation = (info.metadata.get("validation") or {}) if info else {}
    params = sum(math.prod(shape) for _, shape, _, _ in read_header(path)[1].values()) if info else None
    return {
        "name": name, "default": name == default, "learned": learned,
        "val_psnr": round(validation["psnr"], 2) if "psnr" in validation else None,
        "val_ssim": round(validation["ssim"], 4) if "ssim" in validation else None,
        "parameters": params, "weights": path.name if info else None,
        "weights_mb": round(path.stat().st_size / 2**20, 2) if info else None,
        "description": description,
    }


def _rows(default: str) -> list[dict]:
    """Every registered model; without torch (the registry builds networks), the models whose
    shipped ONNX graphs run here."""
    from llid_cli.core.extras import installed

    if installed("torch"):
        from llid_cli.models import all_specs

        return [_row(spec.name, default, *_shipped(spec), spec.learned, spec.description) for spec in all_specs()]
    from llid_cli.models.graphs import described_in
    from llid_cli.models.locations import weights_dir
    from llid_cli.models.weights import read_info

    rows = []
    for graphs in described_in(weights_dir()):
        rows.append(_row(graphs.name, default, graphs.weights, read_info(graphs.weights), True,
                         f"{graphs.architecture}: runs from its ONNX graphs (model cards need torch)"))
    return rows


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout instead of the table.")
def list_models(as_json: bool) -> None:
    """The registered models, with what helps choose one: quality on sice/val and size."""
    from rich.console import Console
    from rich.table import Table

    from llid_cli.rendering.pipeline import DEFAULT_MODEL

    # What to pick first: the default, then the others from the best measured quality down.
    rows = sorted(_rows(DEFAULT_MODEL), key=lambda r: (not r["default"], r["val_psnr"] is None, -(r["val_psnr"] or 0)))
    if as_json:
        click.echo(json.dumps({"default": DEFAULT_MODEL, "models": rows}, indent=2))
        return
    table = Table(title="llid model zoo (quality: PSNR / SSIM on sice/val at checkpoint selection)")
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("quality", justify="right", no_wrap=True)
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("weights", justify="right", no_wrap=True)
    table.add_column("description", overflow="fold", ratio=2)
    for row in rows:
        quality = f"{row['val_psnr']:.2f} / {row['val_ssim']:.3f}" if row["val_psnr"] is not None else "-"
        params = f"{row['parameters'] / 1e6:.2f} M" if row["parameters"] else "-"
        size = f"{row['weights_mb']:.1f} MB" if row["weights_mb"] is not None else (
            "none needed" if not row["learned"] else "not trained yet")
        table.add_row(row["name"] + (" (default)" if row["default"] else ""), quality, params, size, row["description"],
                      style="green" if row["default"] else None)
    Console().print(table)
    Console().print("Quality as shipped (with rendering steps added after a checkpoint was chosen), on held-out "
                    "scenes, and speed at 12 MP: the README's models table.")


@command.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout instead of the card.")
@click.option("--full", is_flag=True, help="Also show the whole training config and data recorded in the weights.")
def info(name: str, as_json: bool, full: bool) -> None:
    """The model card of NAME: its design, and the shipped weights' real arguments and history."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from llid_cli.core.extras import require

    require("torch", "a model card")
    from llid_cli.models import get_spec

    spec = get_spec(name)
    path, meta = _shipped(spec)
    card: dict[str, object] = {"description": spec.description, "design": spec.origin}
    if spec.variant_of:
        card["variant of"] = f"{spec.variant_of} (the same network with other trained weights)"
    card["learned"] = "yes" if spec.learned else "no (classical)"
    if spec.pre:
        card["pre-processing"] = spec.pre
    if spec.learned:
        card["input multiple"] = f"{spec.describe().input_multiple} (the network pads and crops by itself)"
    card["global operations"] = ", ".join(spec.global_ops) or "none (tiles are exact)"
    if meta is not None:
        from llid_cli.engine.loaded import open_network

        loaded = open_network(name)  # the network with these weights: the card reads its facts off it
        card.update(_loaded_facts(loaded))
        params = sum(p.numel() for p in loaded.module.parameters())
        card["weights"] = f"{path} (sha256 {meta.file_sha256[:16]}...)"
        card["architecture args"] = meta.arch_args
        card["parameters"] = f"{params:,} (of the shipped weights)"
        hidden = () if full else ("training_config", "data")
        # The training record, as the weights file holds it; "validation" is named for when it was
        # measured: the rendering the model runs with now (lynx's bracket, shoulder, filter) may
        # score otherwise (docs/models.md has the current figures).
        card.update({("validation when trained" if key == "validation" else key): value
                     for key, value in meta.metadata.items() if key not in hidden})
    elif spec.learned:
        card["weights"] = f"not trained yet (expected {path})"
    for preset, args in spec.presets.items():
        card[f"preset '{preset}'"] = f"{spec.parameter_count(preset):,} parameters: {_plain(args)}"
    if as_json:
        click.echo(json.dumps({"name": spec.name, **card}, indent=2, default=str))
        return
    table = Table(show_header=False, title=f"model card: {spec.name}", title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in _readable_card(card, meta.metadata if meta is not None else {}).items():
        table.add_row(key, Text(value))
    Console().print(table)
    if meta is not None and not full:
        Console().print(f"The training config and data recorded in the weights: llid models info {name} --full")


def _readable_card(card: dict[str, object], record: dict) -> dict[str, str]:
    """The card as a person reads it: the training record in a sentence or two, validation as
    figures, arguments as name=value (`--json` keeps the raw record)."""
    card = dict(card)
    steps, seconds = card.pop("steps", None), card.pop("train_seconds", None)
    hardware, ema, config = card.pop("hardware", None), card.pop("ema", None), record.get("training_config")
    if steps is not None:
        said = f"{steps} steps" + (f" in {float(seconds):.0f} s" if seconds is not None else "")
        said += f" on {hardware}" if hardware else ""
        said += ", with EMA weights" if ema else ""
        model = (config or {}).get("model", {}) if isinstance(config, dict) else {}
        if model.get("init"):
            only = model.get("train_only")
            said += (f"; the last stage of several: fine-tuned from {model['init']}"
                     + (f" (training only {', '.join(only)})" if only else "")
                     + "; the earlier stages' records are in docs/models.md")
        card["training"] = said
    validation = card.get("validation when trained")
    if isinstance(validation, dict) and "psnr" in validation:
        card["validation when trained"] = (
            f"PSNR {validation['psnr']:.2f} / SSIM {validation.get('ssim', float('nan')):.4f} on "
            f"{validation.get('source', '?')} ({validation.get('images', '?')} images) at step {validation.get('step', '?')}")
    return {key: _plain(value) for key, value in card.items()}


def _plain(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_plain(v) for v in value) + ")"
    return str(value)


def _loaded_facts(loaded) -> dict[str, object]:
    """What the model loaded with its shipped weights needs and supports, read off the loaded
    network (`llid_cli.engine.loaded.LoadedModel`), not the registry: its own input multiple, how
    the shared controls act on it, how it renders outside training, whether ONNX graphs ship for it."""
    described = loaded.descriptor
    facts: dict[str, object] = {
        "input multiple": f"{described.input_multiple} (its own; the network pads and crops by itself)",
        "controls": "; ".join([
            "--exposure: rendered by the network" if described.renders("exposure")
            else "--exposure: its output re-rendered in linear light",
            "--denoise: its filter for the grain brightening lifts (1 by default)" if described.renders("denoise")
            else "--denoise X: adds lynx's filter for that grain (off by default, for speed)"
            if described.noise_filter_arguments is not None else "--denoise: no noise filter (0 only)",
            "--strength: mixed with the input in linear light",
        ]),
    }
    if described.rendering:
        facts["renders with"] = dict(described.rendering)
    facts["onnx graphs"] = "shipped (a torch-free install runs them)" if loaded.graphs else "exported on first use"
    return facts


@command.command("pull")
@click.argument("name")
@click.option("--repo", default=None, help="Hugging Face Hub repository [default: LLID_HUB_REPO or llid/weights].")
@click.option("--revision", default="main", show_default=True, help="Branch, tag or commit.")
@click.option("--sha256", default=None, help="Expected sha256 of the file (else llid's record or the hub's).")
def pull(name: str, repo: str | None, revision: str, sha256: str | None) -> None:
    """Download NAME's weights into the user cache, verified by sha256 (the only networked command).

    With torch and onnx installed, the weights' ONNX graphs are written beside them, as for
    shipped weights: `--backend auto` then runs a small job without starting PyTorch, and a
    torch-free install sharing the cache can run them."""
    from rich.console import Console

    from llid_cli.core.extras import installed
    from llid_cli.models.hub import pull as pull_weights

    console = Console(stderr=True)
    path = pull_weights(name, repo, revision, sha256)
    console.print(f"{name}: verified and saved to {path}")
    if installed("torch") and installed("onnx"):
        from llid_cli.export.shipped import write_graphs

        described = write_graphs(name, path)
        console.print(f"{name}: ONNX graphs written beside it ({described.name})")
