"""What a batch's outputs were made with, so that resuming it does not mix two renderings.

Why: `llid batch` resumes by skipping outputs that exist. A photographer who runs it, finds the
photos too bright and runs it again with `--exposure -1` got "64 skipped (already there)" and
the same photos. So the output folder keeps a hidden record (`.llid-batch.json`) of what shapes
the pixels and the files: the model and its weights, the rendering options, the file format. A
run that would skip existing outputs made with other settings is refused, naming the difference;
`--overwrite` redoes them. Engine settings (backend, tiles, threads) are not recorded: they change
nothing a viewer sees.

Records are kept per output naming (suffix and format), since outputs of another suffix are other
files, which a resume never skips in their place. A folder without a record (made by hand, or by
an older llid) is resumed as before.
"""

from __future__ import annotations

import json
import os
import stat
from contextlib import contextmanager
from pathlib import Path

from llid_cli.core.errors import LlidError
from llid_cli.core.settings import declared, recorded, recorded_values
from llid_cli.io.atomic import atomic_write_bytes
from llid_cli.models.weights import read_info

RECORD = ".llid-batch.json"  # hidden: a batch over the output folder does not take it for a photo
MAX_RECORD_BYTES = 1 << 20  # a record of every naming of a folder is a few kB

def _recorded() -> dict[str, str]:
    """Recorded setting -> how a user names it, in the order they are listed: what the option
    dataclasses declare as recorded (`llid_cli.core.settings`)."""
    from llid_cli.io import WriteOptions
    from llid_cli.rendering.pipeline import EnhanceOptions

    return {**recorded(EnhanceOptions), **recorded(WriteOptions)}


SETTINGS = _recorded()


def settings_of(options, write, model_name: str) -> dict:
    """What shapes a batch's outputs: `options` an `EnhanceOptions`, `write` a `WriteOptions`;
    each recorded setting as given, but for those whose meaning depends on the model."""
    values = {**recorded_values(options), **recorded_values(write)}
    classical = model_name == "clahe" or options.pre == "clahe"
    graphs = None if options.weights else _shipped_graphs(model_name)
    if options.controls.denoise is None and graphs is not None:  # the shipped model's own: 1 with a filter, else none
        values["denoise"] = 1.0 if graphs.descriptor.renders("denoise") else 0.0
    clahe = {item.name: getattr(options.clahe, item.name) for item, _ in declared(type(options.clahe))}
    return {**values, "model": model_name,
            "weights": read_info(options.weights).file_sha256 if options.weights else (
                graphs.weights_sha256 if graphs is not None else None),
            "clahe": _jsonable(clahe) if classical else None}


def naming(suffix: str, fmt: str | None) -> str:
    """The key of one output naming in a record."""
    return f"suffix={suffix!r} format={fmt or 'as the input'}"


def differences(out_dir: Path, key: str, settings: dict) -> list[str]:
    """How the outputs under `key` in `out_dir` were made otherwise than `settings`, one
    "SETTING THEN there, NOW now" each, as the user names them; empty when they agree, or when
    nothing is recorded. Weights, CLAHE settings and --denoise are compared only for the same model (another
    model has others)."""
    before = _read(out_dir).get(key)
    if not isinstance(before, dict):
        return []
    if isinstance(before.get("night_look"), bool):  # recorded by an llid whose look was on or off
        before = {**before, "night_look": "auto" if before["night_look"] else "off"}
    now = _jsonable(settings)
    fields = [f for f in SETTINGS if before.get(f) != now.get(f)]
    if "model" in fields:  # another model has other weights, CLAHE settings and its own --denoise default
        fields = [f for f in fields if f not in ("weights", "clahe", "denoise")]
    shown = []
    for f in fields:
        then, later = before.get(f), now.get(f)
        if isinstance(then, dict) and isinstance(later, dict):  # only the keys that changed
            keys = [k for k in later if then.get(k) != later.get(k)]
            then, later = {k: then.get(k) for k in keys}, {k: later[k] for k in keys}
        shown.append(f"{SETTINGS[f]} {_shown(f, then)} there, {_shown(f, later)} now")
    if before.get("light_colours") is True:  # made by an llid that had --light-colours (removed)
        shown.append("--light-colours on there, removed now")
    return shown


def _shown(field: str, value) -> str:
    if field == "weights":  # --weights, or another release's shipped weights
        return f"sha256 {value[:12]}" if isinstance(value, str) else "none"
    if field in ("clahe", "pre") and value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "default"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return " ".join(f"{k}={_shown(k, v)}" for k, v in value.items())
    return str(value)


def record(out_dir: Path, key: str, settings: dict) -> None:
    """Note that the outputs under `key` in `out_dir` are (now) made with `settings`; a record
    that cannot be written (a full or read-only disk, a folder in its place) is a one-line error
    before any photo is enhanced."""
    records = _read(out_dir)
    records[key] = _jsonable(settings)
    path = out_dir / RECORD
    try:
        atomic_write_bytes(path, (json.dumps(records, indent=2, sort_keys=True) + "\n").encode())
    except OSError as exc:
        raise LlidError(f"cannot write the batch's record of its settings ({exc.strerror or exc})", path) from exc


def _read(out_dir: Path) -> dict:
    """The folder's records; an unreadable record counts as none (it only ever protects).

    Read only from a regular file of at most `MAX_RECORD_BYTES` (a FIFO in its place would block
    a plain read forever), opened without blocking, and parsed with nesting bounded by Python's
    own recursion limit, whose error is caught."""
    try:
        with open(os.open(out_dir / RECORD, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_RECORD_BYTES:
                return {}
            records = json.loads(handle.read(MAX_RECORD_BYTES + 1).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return records if isinstance(records, dict) else {}


def _jsonable(value):
    return json.loads(json.dumps(value))


def _shipped_graphs(model_name: str):
    """The description of a shipped (or pulled) model's graphs, read without torch: its weights'
    sha256 and whether it carries a noise filter. None for the classical path."""
    from llid_cli.models import locations
    from llid_cli.models.graphs import find_graphs

    return find_graphs(model_name, [locations.weights_dir(), locations.pulled_dir()])


@contextmanager
def holding(out_dir: Path):
    """Hold `out_dir` for one batch: a second batch into it is refused in one line while this one
    runs. An advisory lock (flock) on the folder itself, so no file is added to it, released by
    the OS however the process ends: a killed batch leaves no lock behind. Where flock does not
    exist (Windows), no lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(out_dir, os.O_RDONLY)
    except OSError as exc:
        raise LlidError(f"cannot hold the folder for this batch ({exc.strerror or exc})", out_dir) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise LlidError("another llid batch is writing into this folder; wait for it to finish, "
                            "or choose another -o", out_dir) from None
        yield
    finally:
        os.close(fd)
