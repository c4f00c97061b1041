"""The progress bar of commands that work through many photos (batch, eval): count, MP/s, ETA."""

from __future__ import annotations


def file_progress(console, quiet: bool):
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
        TextColumn("{task.fields[mps]:.2f} MP/s"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
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


def frame_progress(console, quiet: bool):
    """A video's frames: count, frames per second, ETA."""
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
        TextColumn("{task.fields[fps]:.1f} fps"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=console, disable=quiet, transient=False,
    )
