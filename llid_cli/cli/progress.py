"""The progress bars of commands that work through many photos or frames (batch, eval, video)."""

from __future__ import annotations


def file_progress(console, quiet: bool):
    return _counted(console, quiet, "{task.fields[mps]:.2f} MP/s")


def frame_progress(console, quiet: bool):
    """A video's frames: count, frames per second, ETA."""
    return _counted(console, quiet, "{task.fields[fps]:.1f} fps")


def _counted(console, quiet: bool, rate: str):
    """A bar of items done, their `rate` (a template of the task's fields), time and ETA."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn(rate), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=console, disable=quiet, transient=False,
    )


class TileProgress:
    """Tiles done and ETA for one large photo, shown on a terminal while the engine works.

    The bar appears with the first tile (photos processed in one pass never show it) and is taken
    down after each photo, so the one-line result printed next is not drawn over.
    """

    def __init__(self, console):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(TextColumn("[bold]tiles"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True)
        self.task = self.bar.add_task("tiles", total=None)
        self.live = False

    def __call__(self, done: int, planned: int) -> None:
        if not self.live:
            self.bar.reset(self.task)
            self.bar.start()
            self.live = True
        self.bar.update(self.task, completed=done, total=planned)

    def finish_photo(self) -> None:
        if self.live:
            self.bar.stop()
            self.live = False
