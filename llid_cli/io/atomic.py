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
