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

import logging
import os
import signal
import threading
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator

from llid_cli import __version__
from llid_cli.core.errors import LlidError, NotAvailableError
from llid_cli.io import WriteOptions, header_megapixels
from llid_cli.io.atomic import remove_leftovers
from llid_cli.rendering.pipeline import EnhanceOptions, FileResult

RAY_HINT = "install it with: pip install '.[ray]' (from the llid repository)"


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: start a local instance; "auto", "HOST:PORT" or "ray://HOST:10001"
    workers: int = 0  # 0: as many as the cluster's CPUs (or, with GPUs per worker, its GPUs) allow
    cpus_per_worker: int = 1  # reserved from Ray, and the threads each worker's engine uses
    gpus_per_worker: float = 0.0  # a fraction lets several workers share one card
    retries: int = 2  # more tries for the files of a worker that died
    in_flight: int = 2  # files queued per worker, so that no worker waits on the driver between files


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


class RayBatch:
    """Connects to (or starts) Ray and holds the actor pool; a context manager.

    Leaving it stops the actors, and the local Ray instance when it started one; on an interrupt the
    files in flight are abandoned (their workers killed) and no partial output is left.
    """

    def __init__(self, ray_options: RayOptions, options: EnhanceOptions, write: WriteOptions,
                 max_pixels: int | None, workload_megapixels: float | None = None):
        self.ray_options = ray_options
        threads = max(1, ray_options.cpus_per_worker)
        self.options = replace(options, engine=replace(options.engine, threads=threads))
        self.write = write
        self.max_pixels = max_pixels
        self.workload_megapixels = workload_megapixels  # the driver's, so workers plan as a local batch would
        self.actors: list = []
        self.targets: list[Path] = []
        self.flights: dict = {}  # object ref -> (actor index, source, target, output there before) of each file in flight

    # ------------------------------------------------------------------ set-up
    def __enter__(self) -> RayBatch:
        ray = _import_ray()
        opts = self.ray_options
        kwargs: dict = {"log_to_driver": False, "logging_level": logging.ERROR}
        if opts.address is None:
            # "local": always a new instance of this machine's size, even where a cluster is running.
            kwargs.update(address="local", num_cpus=os.cpu_count(), include_dashboard=False)
        else:
            kwargs.update(address=opts.address)
        # ray.init installs its own SIGTERM handler in the driver (a stack dump, exit 15): the
        # CLI's is put back, so that a terminated batch exits 143 with its report and its line.
        on_term = signal.getsignal(signal.SIGTERM)
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = opts.address or "a local instance"
            raise LlidError(f"could not start or join Ray at {where}: {_first_line(exc)}") from None
        finally:
            if on_term is not None and threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, on_term)
        try:
            self._start_workers(ray)
        except BaseException:
            self._stop(ray)
            raise
        return self

    def _start_workers(self, ray) -> None:
        opts = self.ray_options
        resources = ray.cluster_resources()
        cpus, gpus = int(resources.get("CPU", 0)), float(resources.get("GPU", 0))
        if opts.gpus_per_worker > gpus:
            raise LlidError(f"--gpus-per-worker {opts.gpus_per_worker:g}: the Ray cluster has {gpus:g} GPU(s)")
        if opts.cpus_per_worker > cpus:
            raise LlidError(f"--threads {opts.cpus_per_worker}: the Ray cluster has {cpus} CPU(s)")
        fit = cpus // opts.cpus_per_worker
        if opts.gpus_per_worker:
            fit = min(fit, int(gpus / opts.gpus_per_worker + 1e-9))
        workers = opts.workers or max(1, fit)
        if workers > fit:
            raise LlidError(f"--workers {workers}: the Ray cluster has room for {fit} "
                            f"({cpus} CPUs, {gpus:g} GPUs; each worker takes {opts.cpus_per_worker} CPU(s)"
                            f" and {opts.gpus_per_worker:g} GPU)")
        actor_class = ray.remote(max_restarts=-1, max_task_retries=opts.retries)(EnhanceWorker)
        self.actors = [actor_class.options(num_cpus=opts.cpus_per_worker, num_gpus=opts.gpus_per_worker)
                       .remote(self.options, self.write, self.max_pixels, self.workload_megapixels)
                       for _ in range(workers)]
        for version, error in ray.get([actor.ready.remote() for actor in self.actors]):
            if error:
                raise LlidError(error)
            if version != __version__:
                raise LlidError(f"the Ray workers run llid {version}, this is {__version__}: install the same "
                                "version on every node")

    @property
    def workers(self) -> int:
        return len(self.actors)

    # ------------------------------------------------------------------ the batch
    def run(self, jobs: Iterable[tuple[Path, Path]], skip_existing: bool) -> Iterator[FileResult]:
        """One result per job, in the order they finish (the driver's loop only keeps each actor fed;
        Ray decides where the actors run and restarts them)."""
        ray = _import_ray()
        pending = deque(jobs)
        self.targets = [target for _, target in pending]
        load = {index: 0 for index in range(len(self.actors))}
        flights = self.flights
        while pending or flights:
            for index, actor in enumerate(self.actors):
                while pending and load[index] < self.ray_options.in_flight:
                    source, target = pending.popleft()
                    there = skip_existing and target.exists()
                    ref = actor.run.remote(os.path.abspath(source), os.path.abspath(target), skip_existing)
                    flights[ref] = (index, source, target, there)
                    load[index] += 1
            done, _ = ray.wait(list(flights), num_returns=1)
            for ref in done:
                index, source, target, there = flights.pop(ref)
                load[index] -= 1
                result = self._result(ray, ref, source, target)
                if result.status == "skipped" and not there:
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
    def __exit__(self, kind, value, traceback) -> None:
        self._stop(_import_ray())

    def _stop(self, ray) -> None:
        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        if self.flights:  # interrupted: the killed actors' calls resolve as errors once they are gone
            ray.wait(list(self.flights), num_returns=len(self.flights), timeout=30)
        remove_leftovers(self.targets)
        ray.shutdown()


def _import_ray():
    try:
        import ray
    except ImportError:
        raise NotAvailableError(f"--ray needs Ray; {RAY_HINT}") from None
    return ray


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
