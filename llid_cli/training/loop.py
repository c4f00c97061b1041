"""The training loop: one `Trainer` per run folder.

A run folder holds the resolved `config.yaml`, `checkpoints/last.pt` (periodic, everything needed
to continue exactly), `checkpoints/val-STEP.safetensors` (the weights each validation scored, in
the zoo's format), `best.safetensors` (a copy of the best of them by PSNR), `metrics.jsonl` /
`metrics.csv`, `plot.png` and, when tensorboard is installed, its events. Checkpoints are loaded
onto the CPU first, so a run can move between CPU and GPU machines.
"""

from __future__ import annotations

import io
import math
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from llid_cli.classical import model_pre_step
from llid_cli.core.errors import ConfigError, ModelError
from llid_cli.distributed import ddp
from llid_cli.io.atomic import atomic_write_bytes
from llid_cli.metrics import psnr, ssim, to_uint8
from llid_cli.models import get_spec
from llid_cli.models.weights import save_weights
from llid_cli.training.config import TrainConfig, load_config
from llid_cli.training.data import (
    ImageStore,
    StepSampler,
    TrainPairs,
    validation_images,
)
from llid_cli.training.ema import EMA
from llid_cli.training.logs import RunLog
from llid_cli.training.losses import CompositeLoss
from llid_cli.training.schedule import LearningRate


@dataclass
class TrainEvent:
    kind: str  # "train", "val", "checkpoint"
    step: int
    total: int
    loss: float = math.nan
    lr: float = math.nan
    it_per_s: float = math.nan
    val_psnr: float = math.nan
    val_ssim: float = math.nan


class _WithEstimate(torch.nn.Module):
    """The network's output and, when a loss term reads it, its exposure estimate, as the outputs of
    one forward: DistributedDataParallel must see every tensor a loss reads come out of forward, and
    must not wait for gradients of an output nothing reads."""

    def __init__(self, model: torch.nn.Module, estimate: bool):
        super().__init__()
        self.model = model
        self.estimate = estimate

    def forward(self, x: torch.Tensor, *told: torch.Tensor):
        out = self.model(x, exposure=told[0]) if told else self.model(x)
        return out, self.model.predicted_exposure if self.estimate else None


class Trainer:
    """One training run. With `group` (a torchrun process group, see `distributed.ddp`) it is one of
    several processes sharing each global batch; only the main process validates, logs and saves."""

    def __init__(self, config: TrainConfig, run_dir: str | Path, device: str = "auto",
                 on_event: Callable[[TrainEvent], None] | None = None, group: ddp.ProcessGroup | None = None):
        from llid_cli.engine.torch_backend import resolve_device

        self.config = config
        self.run_dir = Path(run_dir)
        self.group = group
        self.main = group is None or group.is_main
        self.device = resolve_device(device)
        if group is not None and self.device.type == "cuda":
            self.device = torch.device("cuda", group.local_rank)
            torch.cuda.set_device(self.device)
        self.on_event = (on_event or (lambda event: None)) if self.main else (lambda event: None)
        self.batch = group.share(config.data.batch_size) if group is not None else config.data.batch_size
        threads = config.train.threads
        if group is not None and not threads and self.device.type == "cpu":
            threads = max(1, (os.cpu_count() or 1) // group.local_world)  # the cores shared, not each rank all
        if threads:
            torch.set_num_threads(threads)

        torch.manual_seed(config.train.seed)
        self.spec = get_spec(config.model.type)
        self.arch_args = {**self.spec.presets[config.model.preset], **config.model.args}
        try:
            self.model = self.spec.construct(self.arch_args).to(self.device)
        except ModelError as exc:
            raise ConfigError(f"model.args: {exc}") from exc
        if config.model.init:
            self._init_from(Path(config.model.init))
        # NHWC: about 15 % more samples/s for CPU training here (benchmarks/channels_last.py: 1.3-1.5x
        # for inference).
        self.memory_format = torch.channels_last if self.device.type == "cpu" else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)
        self.loss = CompositeLoss(config.loss).to(self.device)
        for adversary in self.loss.adversaries:
            adversary.build_optimizer()
        self._freeze_all_but(config.model.train_only)
        optim_cls = torch.optim.AdamW if config.optim.type == "adamw" else torch.optim.Adam
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = optim_cls(trainable, lr=config.optim.lr, betas=tuple(config.optim.betas),
                                   weight_decay=config.optim.weight_decay)
        self.ema = EMA(self.model, config.train.ema) if config.train.ema else None
        self.schedule = LearningRate(config.schedule, config.optim.lr, config.train.steps)
        self.step = 0
        self.best: dict = {"psnr": -math.inf}
        self.train_seconds = 0.0
        self.pre = model_pre_step(self.spec.pre, self.model.pre_settings)
        # Exposure-conditioned networks (lynx) are told the reference's exposure while training.
        self.conditioned = "exposure" in self.model.controls
        self.use_amp = config.train.amp and self.device.type == "cuda"
        self.forward = _WithEstimate(self.model, self.conditioned and self.loss.reads_exposure_estimate)
        if group is not None:
            if self.loss.adversaries:
                raise ConfigError("adversarial losses train on one process only (each process's discriminator "
                                  "would learn apart): drop --nproc, or the adversarial term")
            ddp.join(group, self.device.type)
        # What a training step calls: during fit(), the network under DDP (several processes) and
        # torch.compile (train.compile, CUDA); the plain network outside it.
        self.step_forward: torch.nn.Module | Callable = self.forward

        if self.main:  # the other processes never write into the run folder
            (self.run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        self.log = RunLog(self.run_dir) if self.main else None
        self.data_description: list[dict] = []

    # ----------------------------------------------------------------- set-up
    @classmethod
    def resume(cls, run_dir: str | Path, device: str = "auto", on_event=None, overrides: tuple[str, ...] = (),
               group: ddp.ProcessGroup | None = None):
        run_dir = Path(run_dir)
        config = load_config(run_dir / "config.yaml", overrides)
        trainer = cls(config, run_dir, device, on_event, group)
        trainer.load_checkpoint(run_dir / "checkpoints" / "last.pt")
        if trainer.log is not None:
            trainer.log.truncate_after(trainer.step)
        return trainer

    def save_config(self) -> None:
        import yaml

        if not self.main:
            return
        atomic_write_bytes(self.run_dir / "config.yaml", yaml.safe_dump(self.config.to_dict(), sort_keys=False).encode())

    # ----------------------------------------------------------------- training
    def fit(self) -> Path | None:
        """Train to `train.steps`; returns the best weights file. Ctrl-C checkpoints first."""
        cfg = self.config
        self.save_config()
        store = ImageStore(cfg.data.cache)
        dataset = TrainPairs(cfg.data.train, cfg.data.patch_size, cfg.train.seed, store, self.pre, tuple(cfg.data.scale))
        self.data_description = dataset.describe()
        if cfg.data.cache:
            dataset.preload()
        # Only the main process scores; the others learn its score for the LR schedule.
        val = validation_images(cfg.data.val, store, self.pre, cfg.data.val_max_images) if cfg.data.val and self.main else []
        rank, world = (self.group.rank, self.group.world) if self.group is not None else (0, 1)
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=self.batch,
            sampler=StepSampler(self.step, cfg.train.steps, cfg.data.batch_size, rank, world),
            num_workers=cfg.data.workers, persistent_workers=False, pin_memory=self.device.type == "cuda",
        )
        with ddp.data_parallel(self.forward, self.device, self.group) as forward:
            self.step_forward = torch.compile(forward) if cfg.train.compile and self.device.type == "cuda" else forward
            del forward  # no reference to DDP may outlive the block (see ddp.data_parallel)
            try:
                self._steps(loader, val)
            finally:
                self.step_forward = self.forward
        if not self.main:
            return None
        self.log.plot()
        best = self.run_dir / "best.safetensors"
        if not best.exists():  # no validation set: the final weights are the result
            self.export(best, {"note": "no validation set; final weights"})
        return best

    def _steps(self, loader, val) -> None:
        """The training loop proper: step, log, validate and checkpoint on their schedules."""
        cfg = self.config
        window_start, window_steps, losses = time.perf_counter(), 0, []
        try:
            for low, ref in loader:
                started = time.perf_counter()
                losses.append(self._train_step(low, ref))
                self.step += 1
                window_steps += 1
                self.train_seconds += time.perf_counter() - started
                if self.step % cfg.train.log_every == 0 or self.step == cfg.train.steps:
                    rate = window_steps / max(time.perf_counter() - window_start, 1e-9)
                    loss = float(np.mean(losses))
                    if self.group is not None:  # the whole global batch's loss, as one process would log it
                        loss = ddp.mean_over_processes(loss)
                    self._record(TrainEvent("train", self.step, cfg.train.steps, loss,
                                            self.schedule.at(self.step - 1), rate))
                    window_start, window_steps, losses = time.perf_counter(), 0, []
                if cfg.data.val and (self.step % cfg.train.val_every == 0 or self.step == cfg.train.steps):
                    self.validate(val)
                if self.step % cfg.train.ckpt_every == 0 or self.step == cfg.train.steps:
                    self.save_checkpoint()
        except KeyboardInterrupt:
            self.save_checkpoint()
            if self.log is not None:
                self.log.plot()
            raise
        except RuntimeError as exc:
            # A kill of the whole process group reaches the data-loading workers first; PyTorch then
            # reports their death. That is a stop like Ctrl-C: checkpoint, then stop.
            if "DataLoader worker" not in str(exc):
                raise
            self.save_checkpoint()
            if self.log is not None:
                self.log.plot()
            raise KeyboardInterrupt from exc

    def _train_step(self, low: torch.Tensor, ref: torch.Tensor) -> float:
        lr = self.schedule.at(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        low = low.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        ref = ref.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        told, exposure = (), None
        if self.conditioned:
            ref, target, exposure = self._exposure_targets(ref)
            told = (target,)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.use_amp):
            pred, estimate = self.step_forward(low, *told)
        pred = pred.float()
        total, _ = self.loss(pred, ref, estimate, exposure, low)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        if self.config.train.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.train.grad_clip)
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model)
        for adversary in self.loss.adversaries:
            adversary.discriminator_step(pred.detach(), ref)
        value = float(total.detach())
        if not math.isfinite(value):
            raise ConfigError(f"training diverged at step {self.step + 1} (loss {value}); lower optim.lr")
        return value

    @torch.no_grad()
    def _exposure_targets(self, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reference to match, exposure to tell the network, exposure its head should estimate).

        With `train.exposure_jitter`, half the references are re-rendered brighter or darker, drawn
        from (seed, step) so that a resumed run draws the same shifts.
        """
        from llid_cli.models.layers.blocks import exposure_of, shift_exposure

        measured = exposure_of(ref.float())
        jitter = self.config.train.exposure_jitter
        if not jitter:
            return ref, measured, measured
        generator = torch.Generator().manual_seed(self.config.train.seed * 1_000_003 + self.step)
        # Drawn for the whole global batch; each process takes the part for its own samples.
        size = self.config.data.batch_size
        ev = (torch.rand(size, generator=generator) * 2 - 1) * jitter
        ev = torch.where(torch.rand(size, generator=generator) < 0.5, ev, torch.zeros_like(ev))
        first = self.group.rank * self.batch if self.group is not None else 0
        ev = ev[first : first + ref.shape[0]].to(ref.device)
        shifted = shift_exposure(ref.float(), ev).contiguous(memory_format=self.memory_format)
        return shifted, exposure_of(shifted), measured

    @torch.no_grad()
    def validate(self, val) -> tuple[float, float]:
        from llid_cli.engine.torch_backend import TorchBackend

        if not self.main:
            self.schedule.observe(ddp.from_main(math.nan))
            return math.nan, math.nan
        # The same inference path as `llid enhance` (eval mode, the training's device).
        backend = TorchBackend(self.ema.model if self.ema is not None else self.model, str(self.device))
        scores = []
        for _, low, ref in val:
            pred8, ref8 = to_uint8(backend.run_batch(low[None])[0]), to_uint8(ref)
            scores.append((psnr(pred8, ref8), ssim(pred8, ref8)))
        mean_psnr, mean_ssim = (float(v) for v in np.mean(scores, axis=0))
        if self.group is not None:
            ddp.from_main(mean_psnr)
        self.schedule.observe(mean_psnr)
        self._record(TrainEvent("val", self.step, self.config.train.steps, val_psnr=mean_psnr, val_ssim=mean_ssim))
        scores = {"psnr": mean_psnr, "ssim": mean_ssim, "step": self.step, "images": len(val)}
        # Every validated state is kept (a few MB at most), so a checkpoint can also be chosen on
        # SSIM, or on a trade-off, after the run; best.safetensors is the best by PSNR.
        snapshot = self.export(self.run_dir / "checkpoints" / f"val-{self.step:06d}.safetensors",
                               {"validation": {**scores, "source": self.config.data.val.root}})
        if mean_psnr > self.best["psnr"]:
            self.best = scores
            atomic_write_bytes(self.run_dir / "best.safetensors", snapshot.read_bytes())
        return mean_psnr, mean_ssim

    def _record(self, event: TrainEvent) -> None:
        record = {"step": event.step, "kind": event.kind, "seconds": round(self.train_seconds, 2)}
        for key in ("loss", "lr", "it_per_s", "val_psnr", "val_ssim"):
            value = getattr(event, key)
            if not math.isnan(value):
                record[key] = value
        if self.log is not None:
            self.log.write(record)
        self.on_event(event)

    def _freeze_all_but(self, prefixes: list[str]) -> None:
        """`model.train_only`: only parameters under these module paths learn; the rest are frozen."""
        if not prefixes:
            return
        names = [name for name, _ in self.model.named_parameters()]
        chosen = {n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes)}
        if not chosen:
            raise ConfigError(f"model.train_only {prefixes} names no parameter of '{self.spec.name}' "
                              f"(its modules: {', '.join(sorted({n.split('.')[0] for n in names}))})")
        for name, parameter in self.model.named_parameters():
            parameter.requires_grad_(name in chosen)

    def _init_from(self, path: Path) -> None:
        """Fine-tuning: start from a weights file of the same architecture and arguments."""
        from llid_cli.models.arguments import check_arguments
        from llid_cli.models.weights import read_weights

        try:
            state, info = read_weights(path)
        except ModelError as exc:
            raise ConfigError(f"model.init: {exc.reason}", path) from None

        def same_arguments() -> bool:
            # Compared as the constructor takes them: the file's JSON lists against YAML or preset
            # tuples; arguments that only choose how the output is rendered are not compared.
            rendering = self.spec.builder.rendering_arguments
            try:
                found = check_arguments(self.spec.name, self.spec.builder, info.arch_args)
            except ModelError:
                return False
            wanted = check_arguments(self.spec.name, self.spec.builder, self.arch_args)
            return {k: v for k, v in found.items() if k not in rendering} == \
                {k: v for k, v in wanted.items() if k not in rendering}

        if info.architecture != self.spec.name or not same_arguments():
            raise ConfigError(f"model.init: these are '{info.architecture}' weights with {info.arch_args}, "
                              f"not '{self.spec.name}' with {self.arch_args}", path)
        self.model.load_state_dict(state, strict=True)

    # ----------------------------------------------------------------- state
    def save_checkpoint(self) -> Path | None:
        if not self.main:  # every process holds the same state; one writes it
            return None
        state = {
            "step": self.step, "best": self.best, "train_seconds": self.train_seconds,
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "schedule": self.schedule.state_dict(), "loss": self.loss.state_dict(),
            "adversary_optimizers": [a.optimizer.state_dict() for a in self.loss.adversaries],
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        path = self.run_dir / "checkpoints" / "last.pt"
        atomic_write_bytes(path, buffer.getvalue())
        self.on_event(TrainEvent("checkpoint", self.step, self.config.train.steps))
        return path

    def load_checkpoint(self, path: Path) -> None:
        if not path.is_file():
            raise ConfigError("no checkpoint to resume from", path)
        # weights_only: our own checkpoint, and still no arbitrary unpickling.
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"], state["step"])
        self.schedule.load_state_dict(state["schedule"])
        self.loss.load_state_dict(state["loss"])
        for adversary, opt_state in zip(self.loss.adversaries, state["adversary_optimizers"]):
            adversary.optimizer.load_state_dict(opt_state)
        self.step, self.best, self.train_seconds = state["step"], state["best"], state["train_seconds"]
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])

    def export(self, path: Path, extra: dict) -> Path:
        net = self.ema.model if self.ema is not None else self.model
        metadata = {
            "training_config": self.config.to_dict(), "data": self.data_description, "steps": self.step,
            "train_seconds": round(self.train_seconds, 1), "hardware": _hardware(self.device),
            "commit": _commit(), "ema": bool(self.ema), **extra,
        }
        save_weights(net, path, self.spec.name, self.arch_args, metadata, fp16=self.config.export.fp16)
        return path


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import os

    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads of {os.cpu_count()}"


def _commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5).stdout.strip()
        return (sha + ("-dirty" if dirty else "")) or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
