"""Atomic file writes: a hidden temporary file in the target folder, then one rename.

A reader (or a resumed batch) therefore sees either no output or a complete one, also after
Ctrl-C or a kill; only the hidden `.*.llid-tmp` file of a SIGKILLed process can be left behind.
Its name carries the writer's host and process id, so a later write of the same file, or a
batch starting over its targets (`remove_stale`), removes it as soon as that process is gone,
not after an age: a batch resumed a few seconds after a kill -9 had kept a 35 MB leftover for
good, since it skips the finished output and never writes that file again. A temporary file of
another host (a shared disk) or of an older llid is removed once it is `STALE_SECONDS` old.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

TEMP_SUFFIX = ".llid-tmp"
STALE_SECONDS = 60  # a temporary file this old is no write in progress: its writer was killed


def temporary_beside(path: Path) -> tuple[int, str]:
    """(an open descriptor, the name) of a new hidden temporary file beside `path`, named after it
    and after this writer (host and pid), so that `remove_stale` knows whose it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix=f".{path.name}.{_WRITER}", suffix=TEMP_SUFFIX, dir=path.parent)


def publish(tmp: str | os.PathLike, path: Path) -> None:
    """Give the finished temporary file `tmp` the mode a new file gets, and rename it onto `path`."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)
    remove_stale((path,))  # earlier, killed writes of this file


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    fd, tmp = temporary_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        publish(tmp, path)
    except BaseException:
        # BaseException: KeyboardInterrupt and SystemExit must not leave the temporary file either.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def remove_stale(targets) -> int:
    """Remove the temporary files that killed writers left beside `targets` (one listing per
    folder); returns how many. Safe while other processes write: a live writer's file is kept."""
    now = time.time()
    return _remove(entry for entry in _temporaries_of(targets)
                   if _abandoned(_split(entry.name)[1], now, Path(entry.path)))


def _temporaries_of(targets):
    """The temporary files of `targets` that exist now, one listing per folder."""
    names_by_folder: dict[Path, set[str]] = {}
    for target in targets:
        target = Path(target)
        names_by_folder.setdefault(target.parent, set()).add(target.name)
    for folder, names in names_by_folder.items():
        yield from (entry for entry in _temporaries(folder) if _split(entry.name)[0] in names)


def _remove(entries) -> int:
    removed = 0
    for entry in entries:
        try:
            os.unlink(entry.path)
            removed += 1
        except OSError:
            pass  # gone already, or not ours to remove
    return removed


def _temporaries(folder: Path) -> list[os.DirEntry]:
    try:
        return [e for e in os.scandir(folder) if e.name.startswith(".") and e.name.endswith(TEMP_SUFFIX)]
    except OSError:
        return []


def _split(name: str) -> tuple[str, str]:
    """A temporary file's name -> (its target's name, the rest: writer and random part).
    mkstemp names: "." + target + "." + [host "-" pid "-"] + random part (no dots) + suffix."""
    target, _, rest = name[1 : -len(TEMP_SUFFIX)].rpartition(".")
    return target, rest


def _abandoned(rest: str, now: float, path: Path) -> bool:
    """Whether the writer of a temporary file (`rest`: what follows its target's name) is gone:
    a process of this host that no longer runs, or, for other hosts and older names, an age."""
    host, _, tail = rest.partition("-")
    pid, _, _ = tail.partition("-")
    if host == _HOST and pid.isdigit():
        return not _running(int(pid))
    try:
        return now - path.stat().st_mtime > STALE_SECONDS
    except OSError:  # gone meanwhile (its writer renamed it), or not ours to look at
        return False


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True  # this process: another thread may be writing it now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, another user's
    return True


def _host() -> str:
    """This machine's name without dots or dashes (temporary names split on both)."""
    import socket

    return "".join(c for c in socket.gethostname() if c.isalnum())[:32] or "host"


_HOST = _host()
_WRITER = f"{_HOST}-{os.getpid()}-"  # reset in a forked child (see below)


def _after_fork() -> None:
    global _WRITER
    _WRITER = f"{_HOST}-{os.getpid()}-"


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_leftovers(targets) -> int:
    """Remove llid's hidden temporary files of `targets`, whatever their age; returns how many.

    Only for a caller that knows no write of these targets is still going on: a distributed batch
    whose workers have all finished or been killed. One listing per folder, not one per file.
    """
    return _remove(_temporaries_of(targets))
