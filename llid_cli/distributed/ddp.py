"""Training on several processes with PyTorch's DistributedDataParallel, started by torchrun.

`torchrun --nproc_per_node N -m llid_cli train ...` (or `llid train --nproc N`, which runs
torchrun for you) starts N copies of the trainer; torchrun's environment (RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR, MASTER_PORT) tells each one who it is. gloo joins CPU processes, NCCL GPUs.

`data.batch_size` stays the global batch: each of the N processes takes its own contiguous share
of every step's (seed, index) samples, and DDP averages the gradients, so N processes train the
same model as one (to float rounding), and a run can resume with another process count.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from llid_cli.core.errors import ConfigError


@dataclass(frozen=True)
class ProcessGroup:
    rank: int
    world: int
    local_rank: int
    local_world: int

    @property
    def is_main(self) -> bool:
        """Rank 0 alone validates, logs and writes checkpoints."""
        return self.rank == 0

    def share(self, batch: int) -> int:
        """This process's part of a global batch."""
        if batch % self.world:
            raise ConfigError(f"data.batch_size {batch} cannot be shared by {self.world} processes: "
                              f"make it a multiple of {self.world}")
        return batch // self.world


def from_environment() -> ProcessGroup | None:
    """The process group torchrun described in the environment, or None for a plain run."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    return ProcessGroup(rank=int(os.environ["RANK"]), world=world, local_rank=int(os.environ.get("LOCAL_RANK", "0")),
                        local_world=int(os.environ.get("LOCAL_WORLD_SIZE", str(world))))


def join(group: ProcessGroup, device_type: str) -> None:
    """Join torchrun's rendezvous (MASTER_ADDR / MASTER_PORT) with the backend the device needs."""
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")


@contextmanager
def data_parallel(module, device, group: ProcessGroup | None) -> Iterator:
    """`module` under DistributedDataParallel for the block (itself with no group), let go of after it.

    The wrapper must be gone before `leave()` destroys the process group. Otherwise DDP's reducer is
    the group's last owner, and freeing it destroys gloo's group while holding the GIL: gloo joins
    its worker threads, one of which may still be releasing a finished collective's tensor and
    waits for that GIL. The rank hangs at exit (seen 1 run in 5 with both ranks on one core;
    pytorch/pytorch#56297). Freed here, the group's own last reference is dropped in
    `destroy_process_group`, whose destructor lets go of the GIL first.
    """
    if group is None:
        yield module
        return
    import torch

    # static_graph: every step uses the same parameters, so parameters no loss term reads (an
    # exposure head without the exposure loss) are found once, not searched for every step.
    wrapped = torch.nn.parallel.DistributedDataParallel(
        module, device_ids=[device.index] if device.type == "cuda" else None, static_graph=True)
    try:
        yield wrapped
    finally:
        del wrapped
        gc.collect()  # DDP's hooks make reference cycles: collect them now, not at some later time


def leave() -> None:
    """Destroy the process group (after every `data_parallel` block has ended)."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def mean_over_processes(value: float) -> float:
    """The mean of one number over all processes (the logged loss of the whole global batch)."""
    import torch.distributed as dist

    tensor = _scalar(value)
    dist.all_reduce(tensor)
    return float(tensor.item()) / dist.get_world_size()


def from_main(value: float) -> float:
    """Rank 0's number, on every process (the validation score that drives the LR schedule)."""
    import torch.distributed as dist

    tensor = _scalar(value)
    dist.broadcast(tensor, src=0)
    return float(tensor.item())


def _scalar(value: float):
    """One number as a tensor where the group's backend can send it (NCCL: on the GPU)."""
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([value], dtype=torch.float64)
    return tensor.cuda() if dist.get_backend() == "nccl" else tensor


def launch(nproc: int, argv: list[str]) -> int:
    """Run `llid ARGV` as `nproc` processes on this machine under torchrun; returns its exit code."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "llid_cli", *argv]
    # The cores shared out, as the trainer does itself (torchrun would otherwise set 1 and say so).
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 1) // nproc))
    return subprocess.call(command, env={**os.environ, "OMP_NUM_THREADS": threads})
