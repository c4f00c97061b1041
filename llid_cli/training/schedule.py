"""Learning-rate schedules with warm-up, computed from the step (so a resume is exact)."""

from __future__ import annotations

import math

from llid_cli.training.config import ScheduleConfig


class LearningRate:
    def __init__(self, config: ScheduleConfig, base_lr: float, total_steps: int):
        self.config, self.base_lr, self.total = config, base_lr, total_steps
        self.plateau_scale = 1.0  # plateau: cut by `factor` after `patience` flat validations
        self.best = -math.inf
        self.flat = 0

    def at(self, step: int) -> float:
        c = self.config
        warm = min(1.0, (step + 1) / c.warmup_steps) if c.warmup_steps else 1.0
        if c.type == "cosine":
            span = max(1, self.total - c.warmup_steps)
            progress = min(1.0, max(0.0, (step - c.warmup_steps) / span))
            lr = c.min_lr + (self.base_lr - c.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
        elif c.type == "plateau":
            lr = max(c.min_lr, self.base_lr * self.plateau_scale)
        else:
            lr = self.base_lr
        return lr * warm

    def observe(self, score: float) -> None:
        """Feed a validation score (higher is better); only the plateau schedule reacts."""
        if score > self.best + 1e-4:
            self.best, self.flat = score, 0
            return
        self.flat += 1
        if self.config.type == "plateau" and self.flat >= self.config.patience:
            self.plateau_scale *= self.config.factor
            self.flat = 0

    def state_dict(self) -> dict:
        return {"plateau_scale": self.plateau_scale, "best": self.best, "flat": self.flat}

    def load_state_dict(self, state: dict) -> None:
        self.plateau_scale, self.best, self.flat = state["plateau_scale"], state["best"], state["flat"]
