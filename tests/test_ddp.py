"""Training on several processes (DistributedDataParallel, gloo on CPU), started with torchrun on
127.0.0.1: the same weights as one process with the same global batch, and an exact resume after
the whole group is killed, also with another process count."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from test_training import shrink

from llid_cli.training.config import load_config
from llid_cli.training.loop import Trainer

pytestmark = pytest.mark.slow  # Slow tier: torchrun process groups.

LYNX = Path(__file__).parents[1] / "configs" / "lynx.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp_path: Path, data: dict, steps: int):
    # lynx: exposure conditioning with jitter drawn per global batch, an exposure head, EMA.
    config = shrink(load_config(LYNX), data)
    config.data.batch_size, config.data.patch_size = 4, 32
    config.train.steps, config.train.val_every, config.train.ckpt_every, config.train.log_every = steps, 2, 2, 1
    config.schedule.warmup_steps = 2
    path = tmp_path / f"ddp-{steps}.yaml"
    path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    return config, path


def _torchrun(config: Path, run_dir: Path, nproc: int = 2, **popen) -> subprocess.Popen:
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc_per_node={nproc}",
               "--master_addr=127.0.0.1", f"--master_port={_free_port()}",
               "-m", "llid_cli", "train", "--config", str(config), "--run-dir", str(run_dir), "--device", "cpu",
               "--quiet"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _descendants(pid: int) -> list[int]:
    """Child processes, recursively (torchrun starts its ranks in sessions of their own)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _checkpoint(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), rtol=1e-4, atol=1e-5), key


def test_two_processes_train_the_weights_one_process_trains(tmp_path, tiny_datasets):
    config, path = _config(tmp_path, tiny_datasets, steps=4)
    proc = _torchrun(path, tmp_path / "ddp")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    Trainer(config, tmp_path / "one", device="cpu").fit()

    ddp, one = _checkpoint(tmp_path / "ddp"), _checkpoint(tmp_path / "one")
    assert ddp["step"] == one["step"] == 4
    _assert_same_weights(ddp["model"], one["model"])
    _assert_same_weights(ddp["ema"]["weights"], one["ema"]["weights"])
    # One process logged, validated and saved: each step once, the global batch's loss.
    records = [line for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    ddp_log = [yaml.safe_load(r) for r in records]
    one_log = [yaml.safe_load(r) for r in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["kind"]) for r in ddp_log] == [(r["step"], r["kind"]) for r in one_log]
    for a, b in zip(ddp_log, one_log):
        for key in ("loss", "val_psnr"):
            if key in b:
                assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-4), (key, a, b)
    assert sorted(p.name for p in (tmp_path / "ddp" / "checkpoints").iterdir()) == \
        sorted(p.name for p in (tmp_path / "one" / "checkpoints").iterdir())


def test_parameters_no_loss_reads_do_not_stop_ddp(tmp_path, tiny_datasets):
    """lynx without its exposure loss: the exposure head gets no gradient, every step."""
    config, path = _config(tmp_path, tiny_datasets, steps=2)
    config.loss = [term for term in config.loss if term.type != "exposure"]
    path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    proc = _torchrun(path, tmp_path / "ddp")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    Trainer(config, tmp_path / "one", device="cpu").fit()
    _assert_same_weights(_checkpoint(tmp_path / "ddp")["model"], _checkpoint(tmp_path / "one")["model"])


def test_a_killed_ddp_run_resumes_exactly_with_another_process_count(tmp_path, tiny_datasets):
    config, path = _config(tmp_path, tiny_datasets, steps=12)
    config.data.patch_size = 64  # slower steps, so that the kill lands mid-run
    path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    run = tmp_path / "split"
    proc = _torchrun(path, run)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not (run / "checkpoints" / "last.pt").exists():
        time.sleep(0.005)
    for pid in [proc.pid, *_descendants(proc.pid)]:  # torchrun and every rank, as a lost machine would
        os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    stopped = _checkpoint(run)["step"]
    assert 0 < stopped < 12

    # Resumed with one process (the global batch is unchanged), it ends where an uninterrupted run does.
    resumed = Trainer.resume(run, device="cpu")
    assert resumed.step == stopped
    resumed.fit()
    Trainer(config, tmp_path / "whole", device="cpu").fit()
    _assert_same_weights(_checkpoint(run)["model"], _checkpoint(tmp_path / "whole")["model"])
    steps = [r["step"] for r in resumed.log.records() if r["kind"] == "train"]
    assert steps == list(range(1, 13))


def test_nproc_launches_torchrun_and_checks_the_global_batch(tmp_path, tiny_datasets):
    from click.testing import CliRunner

    from llid_cli.cli import cli

    config, path = _config(tmp_path, tiny_datasets, steps=2)
    config.data.batch_size = 3
    path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    result = subprocess.run([sys.executable, "-m", "llid_cli", "train", "--config", str(path), "--run-dir",
                             str(tmp_path / "odd"), "--device", "cpu", "--nproc", "2", "--quiet"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "data.batch_size 3 cannot be shared by 2 processes" in result.stderr
    assert CliRunner().invoke(cli, ["train", "--nproc", "0", "--config", str(path)]).exit_code == 2


def test_fit_lets_go_of_ddp_before_the_group_is_destroyed(tmp_path, tiny_datasets, monkeypatch):
    """A one-process group on 127.0.0.1: once fit() returns, no DistributedDataParallel is alive, so
    destroying the group cannot happen inside DDP's reducer (a hang at exit, see ddp.data_parallel)."""
    import gc

    from torch.nn.parallel import DistributedDataParallel

    from llid_cli.distributed import ddp

    config, _ = _config(tmp_path, tiny_datasets, steps=2)
    for name, value in {"RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": str(_free_port())}.items():
        monkeypatch.setenv(name, value)
    group = ddp.ProcessGroup(rank=0, world=1, local_rank=0, local_world=1)
    trainer = Trainer(config, tmp_path / "run", device="cpu", group=group)
    try:
        trainer.fit()
        alive = [o for o in gc.get_objects() if isinstance(o, DistributedDataParallel)]
        assert alive == []
        assert trainer.step == 2
    finally:
        ddp.leave()
