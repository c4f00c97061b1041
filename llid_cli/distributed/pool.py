"""A pool of Ray actors, each with its own loaded model: what `llid batch --ray` and `llid video
--ray` share.

The pool connects to a Ray cluster (or starts a local instance), starts as many actors as fit (or
as asked), checks that each built its model and runs this llid's version, and on leaving kills the
actors and disconnects. Ray places the actors and restarts one whose process dies (`max_restarts`),
retrying the calls it held (`max_task_retries`); the pool schedules nothing itself.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections import deque
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator

from llid_cli import __version__
from llid_cli.core.errors import LlidError, NotAvailableError, first_line
from llid_cli.rendering.pipeline import EnhanceOptions

RAY_HINT = "install it with: pip install '.[ray]' (from the llid repository)"


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: start a local instance; "auto", "HOST:PORT" or "ray://HOST:10001"
    workers: int = 0  # 0: as many as the cluster's CPUs (or, with GPUs per worker, its GPUs) allow
    cpus_per_worker: int = 1  # reserved from Ray, and the threads each worker's engine uses
    gpus_per_worker: float = 0.0  # a fraction lets several workers share one card
    retries: int = 2  # more tries for the calls of a worker that died
    in_flight: int = 2  # calls queued per worker, so that no worker waits on the driver between them


class RayPool:
    """Connects to (or starts) Ray and holds the actors; a context manager. Subclasses name the
    actor class (`worker_class`) and what its constructor takes after the options (`worker_args`)."""

    worker_class: type

    def __init__(self, ray_options: RayOptions, options: EnhanceOptions):
        self.ray_options = ray_options
        threads = max(1, ray_options.cpus_per_worker)
        self.options = replace(options, engine=replace(options.engine, threads=threads))
        self.actors: list = []
        self.flights: dict = {}  # object ref -> (actor index, job) of each call in flight

    def worker_args(self) -> tuple:
        return ()

    @property
    def workers(self) -> int:
        return len(self.actors)

    def __enter__(self):
        ray = import_ray()
        opts = self.ray_options
        kwargs: dict = {"log_to_driver": False, "logging_level": logging.ERROR}
        if opts.address is None:
            # "local": always a new instance of this machine's size, even where a cluster is running.
            kwargs.update(address="local", num_cpus=os.cpu_count(), include_dashboard=False)
        else:
            kwargs.update(address=opts.address)
        # ray.init installs its own SIGTERM handler in the driver (a stack dump, exit 15): the
        # CLI's is put back, so that a terminated run exits 143 with its report and its line.
        on_term = signal.getsignal(signal.SIGTERM)
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = opts.address or "a local instance"
            raise LlidError(f"could not start or join Ray at {where}: {first_line(exc)}") from None
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
        actor_class = ray.remote(max_restarts=-1, max_task_retries=opts.retries)(self.worker_class)
        self.actors = [actor_class.options(num_cpus=opts.cpus_per_worker, num_gpus=opts.gpus_per_worker)
                       .remote(self.options, *self.worker_args())
                       for _ in range(workers)]
        for version, error in ray.get([actor.ready.remote() for actor in self.actors]):
            if error:
                raise LlidError(error)
            if version != __version__:
                raise LlidError(f"the Ray workers run llid {version}, this is {__version__}: install the same "
                                "version on every node")

    def spread(self, jobs: Iterable, call: Callable) -> Iterator[tuple]:
        """(job, object ref) of each job as its call finishes. `call(actor, job)` starts it on an
        actor (returning the ref); each actor is kept `in_flight` calls ahead, so that none waits
        on the driver between them, and Ray decides where the actors run and restarts them."""
        ray = import_ray()
        pending = deque(jobs)
        load = [0] * len(self.actors)
        while pending or self.flights:
            for index, actor in enumerate(self.actors):
                while pending and load[index] < self.ray_options.in_flight:
                    job = pending.popleft()
                    self.flights[call(actor, job)] = (index, job)
                    load[index] += 1
            done, _ = ray.wait(list(self.flights), num_returns=1)
            for ref in done:
                index, job = self.flights.pop(ref)
                load[index] -= 1
                yield job, ref

    def __exit__(self, kind, value, traceback) -> None:
        self._stop(import_ray())

    def _stop(self, ray) -> None:
        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        self._abandon(ray)
        ray.shutdown()

    def _abandon(self, ray) -> None:
        """After the actors are killed, before disconnecting (a subclass adds its own clean-up):
        interrupted, the killed actors' calls resolve as errors once they are gone."""
        if self.flights:
            ray.wait(list(self.flights), num_returns=len(self.flights), timeout=30)


def import_ray():
    try:
        import ray
    except ImportError:
        raise NotAvailableError(f"--ray needs Ray; {RAY_HINT}") from None
    return ray
