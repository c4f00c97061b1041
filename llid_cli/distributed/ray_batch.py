"""`llid batch --ray`: one batch, its files spread over a pool of Ray actors.

The driver keeps what makes a batch a batch: the plan (`pipeline.plan_batch`, with its collision
checks), the progress bar and the report. Each actor loads the model once and does, per file,
exactly what a local batch does (`Pipeline.run_one`): skip an existing output, read, enhance,
write atomically, and turn any problem with the file into that file's failure.

Faults are Ray's to handle: an actor whose process dies is restarted (the model loads again) and
the files it held are retried on it, at most `retries` more times. A killed worker therefore costs
the files it held and nothing else; a file that kills its worker every time is reported as failed,
once. Hidden temporary files of writes cut short by a kill are removed when the batch ends.

Inputs and outputs must be on a filesystem that every node sees at the same path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

from llid_cli import __version__
from llid_cli.core.errors import LlidError
from llid_cli.distributed.pool import RayOptions, RayPool, import_ray
from llid_cli.io import WriteOptions, header_megapixels
from llid_cli.io.atomic import remove_leftovers
from llid_cli.rendering.pipeline import EnhanceOptions, FileResult

__all__ = ["EnhanceWorker", "RayBatch", "RayOptions"]


class EnhanceWorker:
    """One Ray actor: a `Pipeline` built once, then one file per call."""

    def __init__(self, options: EnhanceOptions, write: WriteOptions, max_pixels: int | None,
                 workload_megapixels: float | None = None):
        from llid_cli.rendering.pipeline import Pipeline

        self.error: str | None = None
        try:
            self.pipeline = Pipeline(options, write, max_pixels, workload_megapixels)
        except LlidError as exc:  # reported by ready(), as the one-line error a local batch gives
            self.error = str(exc)

    def ready(self) -> tuple[str, str | None]:
        return __version__, self.error

    def run(self, source: str, target: str, skip_existing: bool) -> FileResult:
        return self.pipeline.run_one(Path(source), Path(target), skip_existing)


class RayBatch(RayPool):
    """The pool of `EnhanceWorker`s for one batch; a context manager.

    Leaving it stops the actors, and the local Ray instance when it started one; on an interrupt the
    files in flight are abandoned (their workers killed) and no partial output is left.
    """

    worker_class = EnhanceWorker

    def __init__(self, ray_options: RayOptions, options: EnhanceOptions, write: WriteOptions,
                 max_pixels: int | None, workload_megapixels: float | None = None):
        super().__init__(ray_options, options)
        self.write = write
        self.max_pixels = max_pixels
        self.workload_megapixels = workload_megapixels  # the driver's, so workers plan as a local batch would
        self.targets: list[Path] = []

    def worker_args(self) -> tuple:
        return self.write, self.max_pixels, self.workload_megapixels

    # ------------------------------------------------------------------ the batch
    def run(self, jobs: Iterable[tuple[Path, Path]], skip_existing: bool) -> Iterator[FileResult]:
        """One result per job, in the order they finish."""
        ray = import_ray()
        jobs = list(jobs)
        self.targets = [target for _, target in jobs]
        there: dict[Path, bool] = {}  # each output, whether it was there before its call started

        def call(actor, job):
            source, target = job
            there[target] = skip_existing and target.exists()
            return actor.run.remote(os.path.abspath(source), os.path.abspath(target), skip_existing)

        for (source, target), ref in self.spread(jobs, call):
            result = self._result(ray, ref, source, target)
            if result.status == "skipped" and not there[target]:
                # A worker wrote it, then died before answering, and Ray's retry found the
                # output: this run made it, so it is done, not "already there" (its size
                # read off the output's header: the answer that had it was lost).
                result.status = "done"
                result.megapixels = header_megapixels(target) or 0.0
            yield result

    def _result(self, ray, ref, source: Path, target: Path) -> FileResult:
        try:
            result = ray.get(ref)
        except ray.exceptions.RayActorError:
            tries = self.ray_options.retries + 1
            return FileResult(source, None, "failed",
                              error=f"its worker process died {tries} time(s) while enhancing it (out of memory?)")
        # The driver's own spelling of the paths, as a local batch reports them.
        if result.target is not None and Path(result.target) == Path(os.path.abspath(target)):
            result.target = target
        result.source = source
        return result

    # ------------------------------------------------------------------ tear-down
    def _abandon(self, ray) -> None:
        super()._abandon(ray)
        remove_leftovers(self.targets)  # hidden temporary files of writes a kill cut short
