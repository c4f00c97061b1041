"""Typed library errors.

Every error the library raises on purpose is an `LlidError`; the CLI turns them into one-line
`click.ClickException`s, so the message must stand on its own: name the file and the reason.
"""

from __future__ import annotations

import os


class LlidError(Exception):
    """Base class. `path` (when known) is prefixed to the message."""

    def __init__(self, reason: str, path: str | os.PathLike | None = None):
        self.reason = reason
        self.path = None if path is None else os.fspath(path)
        super().__init__(f"{printable(self.path)}: {reason}" if self.path else reason)


def printable(text: str | os.PathLike) -> str:
    """`text` (a file's name, most often) on one line: control characters such as a newline in a
    file name are shown escaped (a\\nb.jpg), so that each failure stays one line of a log."""
    text = os.fspath(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def first_line(exc: BaseException) -> str:
    """An exception's message as one line for an error of ours (a library's may run to a page);
    its type's name where it says nothing."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class ImageReadError(LlidError):
    """The file exists but cannot be decoded (empty, truncated, not an image)."""


class UnsupportedFormatError(LlidError):
    """The extension or codec is not one llid reads or writes (or needs an extra)."""


class ImageTooLargeError(LlidError):
    """The header claims more pixels than the configured limit (decompression-bomb guard)."""


class ImageWriteError(LlidError):
    """The output could not be written, or writing it would lose an input."""


class ConfigError(LlidError):
    """A configuration file or option value is invalid."""


class ModelError(LlidError):
    """Unknown model, missing or corrupt weights, incompatible architecture."""


class NotAvailableError(LlidError):
    """A feature that is planned but not built yet, or needs an optional dependency."""
