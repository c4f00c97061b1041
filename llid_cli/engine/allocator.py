"""The host allocator: keep freed memory for the next tile instead of handing it back.

A network's activations are large, short-lived buffers. glibc serves any allocation over its
mmap threshold (at most 32 MiB, raised only as big blocks are freed) with fresh pages from the
kernel and unmaps them on free, so every tile's activations were faulted in page by page again,
a third of a run's time. With the threshold and the trim threshold at 1 GiB the freed blocks stay
in the heap and are reused, and later photos fault no pages at all (docs/lab/code-measurements.md). The peak does not grow (the same blocks are live at once);
what the process keeps after a photo is at most that peak, reused by the next one.

PyTorch's own tuning guide recommends jemalloc or tcmalloc for the same reason; this gets the
effect without preloading another allocator. Linux with glibc only; elsewhere nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEEP = 1 << 30  # largest block served from the heap, and free memory kept at its top
_GLIBC_MMAP_MAX = 32 << 20  # what glibc before 2.35 accepts as a fixed mmap threshold

_done = False


def reuse_freed_memory() -> bool:
    """Set glibc's thresholds once per process; whether they were set."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries: leave their defaults
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    if not (mallopt(_M_MMAP_THRESHOLD, _KEEP) or mallopt(_M_MMAP_THRESHOLD, _GLIBC_MMAP_MAX)):
        return False
    mallopt(_M_TRIM_THRESHOLD, _KEEP)
    _done = True
    return True
