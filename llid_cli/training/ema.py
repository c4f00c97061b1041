"""Exponential moving average of a model's weights (buffers copied as they are).

The decay warms up as min(decay, (1 + n) / (10 + n)) over the n updates so far: with a fixed
0.999 from the start, the average would still hold 22 % of the random initial weights after 1500
steps (docs/lab/code-measurements.md).
"""

from __future__ import annotations

import copy

import torch


class EMA:
    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        decay = self.current_decay()
        self.updates += 1
        for ema_p, p in zip(self.model.parameters(), model.parameters()):
            ema_p.lerp_(p.detach(), 1 - decay)
        for ema_b, b in zip(self.model.buffers(), model.buffers()):
            ema_b.copy_(b)

    def state_dict(self) -> dict:
        return {"weights": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict, step: int = 0) -> None:
        if "weights" in state:
            self.model.load_state_dict(state["weights"])
            self.updates = state["updates"]
        else:  # checkpoints written before the warm-up: the update count is the step
            self.model.load_state_dict(state)
            self.updates = step
