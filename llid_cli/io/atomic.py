"""Atomic file writes: a hidden temporary file in the target folder, then one rename.

A reader (or a resumed batch) therefore sees either no output or a complete one, also after
Ctrl-C or a kill; only the hidden `.*.llid-tmp` file of a SIGKILLed process can be left behind, and
the next successful write of the same file removes it.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

TEMP_SUFFIX = ".llid-tmp"
STALE_SECONDS = 60  # a temporary file this old is no write in progress: its writer was killed


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        _remove_stale(path)
    except BaseException:
        # BaseException: KeyboardInterrupt and SystemExit must not leave the temporary file either.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _remove_stale(path: Path) -> None:
    """Remove temporary files of earlier, killed writes of `path` (llid's own names only)."""
    now = time.time()
    for stale in path.parent.glob(f".{path.name}.*{TEMP_SUFFIX}"):
        try:
            if now - stale.stat().st_mtime > STALE_SECONDS:
                stale.unlink()
        except OSError:
            pass  # gone already, or not ours to remove


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_leftovers(targets) -> int:
    """Remove llid's hidden temporary files of `targets`, whatever their age; returns how many.

    Only for a caller that knows no write of these targets is still going on: a distributed batch
    whose workers have all finished or been killed. One listing per folder, not one per file.
    """
    names_by_folder: dict[Path, set[str]] = {}
    for target in targets:
        target = Path(target)
        names_by_folder.setdefault(target.parent, set()).add(target.name)
    removed = 0
    for folder, names in names_by_folder.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not (entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX)):
                continue
            # mkstemp names: "." + target name + "." + random part (no dots) + suffix.
            if entry.name[1 : -len(TEMP_SUFFIX)].rsplit(".", 1)[0] in names:
                try:
                    os.unlink(entry.path)
                    removed += 1
                except OSError:
                    pass
    return removed
