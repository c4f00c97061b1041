"""The user's cache of ONNX exports, bounded in size.

An export's name carries the weights' hash and the networks' code hash, so every new checkpoint
and every upgrade of llid makes new files and leaves the old ones unused for good. Without a bound
the folder only grows (a developer's reached 614 files, 149 MB). Each hit refreshes a file's time,
and after an export is written the least recently used files go until the folder is under its
limit: LLID_ONNX_CACHE_MB (default 512). Files used in the last few minutes are never removed,
so another llid process that has just found its export can still open it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from llid_cli.models.locations import onnx_cache_dir

DEFAULT_LIMIT_MB = 512
RECENT_SECONDS = 600.0


def cached(name: str, make: Callable[[Path], object]) -> Path:
    """The cached file `name`, made by `make(path)` if absent; the cache is pruned after a make."""
    path = onnx_cache_dir() / name
    if path.is_file():
        _touch(path)
        return path
    make(path)
    prune(path.parent, limit_bytes(), keep={path})
    return path


def limit_bytes() -> int:
    """LLID_ONNX_CACHE_MB in bytes (a bad value falls back to the default: a cache never fails a run)."""
    try:
        megabytes = float(os.environ.get("LLID_ONNX_CACHE_MB", DEFAULT_LIMIT_MB))
    except ValueError:
        megabytes = DEFAULT_LIMIT_MB
    return max(0, int(megabytes * 1024 * 1024))


def prune(folder: Path, limit: int, keep: set[Path] = frozenset(), now: float | None = None) -> list[Path]:
    """Remove the least recently used .onnx files of `folder` until their total is at most `limit`
    bytes; never `keep` nor files used in the last RECENT_SECONDS. Returns what was removed."""
    now = time.time() if now is None else now
    entries = []
    for path in folder.glob("*.onnx"):
        try:
            stat = path.stat()
        except OSError:  # removed meanwhile by another process
            continue
        entries.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in entries)
    removed = []
    for mtime, size, path in sorted(entries):
        if total <= limit:
            break
        if path in keep or now - mtime < RECENT_SECONDS:
            continue
        try:
            path.unlink()
        except OSError:
            continue
        total -= size
        removed.append(path)
    return removed


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:  # a read-only cache still serves its files
        pass
