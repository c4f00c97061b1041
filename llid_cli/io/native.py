"""Living with the C libraries under OpenCV: libpng's limits, and what it prints on stderr."""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager

# libpng's default user limit on either side of a PNG, for reading and for writing: wider (or
# taller) PNGs go through Pillow instead.
LIBPNG_MAX_SIDE = 1_000_000
# Lines that libpng and OpenCV's own logger print; anything else is passed on.
_COMPLAINTS = ("libpng ", "[ERROR:", "[ WARN:")


@contextmanager
def native_stderr():
    """Catch what C libraries print on the process's stderr while coding an image (libpng's
    "libpng error: ..." lines name no file): their complaints come back in the list, to become part
    of the file's one-line error; anything else written meanwhile (a progress bar) is passed on."""
    complaints: list[str] = []
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield complaints
        return
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        try:
            yield complaints
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            others = []
            for line in sink.read().decode(errors="replace").splitlines(keepends=True):
                (complaints if line.startswith(_COMPLAINTS) else others).append(line)
            if others:
                os.write(2, "".join(others).encode())
