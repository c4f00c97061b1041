"""A highlight shoulder: roll off what a network would push past white instead of clipping it.

Why: a network that brightens a dark photo by several stops through a learned residual pushes
its lit areas (lamps, floodlit facades, windows) above 1, and the final clamp flattens them to
white: on the 21 dark DICM photos `lynx` grew the share of clipped pixels by 5.5 points, and a
floodlit facade lost its carving, although none of it was clipped in the input. The network's
output below white is good (its tone curve alone does not clip; the residual does), so only the
part above a knee is compressed, by the least that brings the photo's brightest unclipped area
just under white: photos whose output stays below white (every well-exposed photo, most SICE
scenes) are left exactly as they were.

The curve above the knee `k` is rational, y -> k + e / (1 + a e) with e = y - k: its slope is 1 at
the knee (no visible kink), it rises monotonically (order and texture survive, compressed), and
`a` is chosen so that the photo's top value lands at `landing`. The top value is a whole-photo
statistic (the brightest 8x8 mean of the output among areas not clipped in the input, since what
the camera clipped is white anyway), so it goes through `GlobalStats`: the engine records it on
the whole photo and every tile replays it, and tiles meet without seams. (Recorded on the 1 MP
context of a big photo, a lamp under 8 pixels wide there is averaged away and may still clip.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from llid_cli.models.layers.context import GlobalStats

POOL = 8  # the top value is a mean over 8x8 blocks: one noisy pixel does not set it
UNCLIPPED = 0.95  # input areas whose brightest channel reaches this were clipped by the camera


class HighlightShoulder(GlobalStats):
    def __init__(self, knee: float, landing: float):
        super().__init__()
        if not 0.0 < knee < landing <= 1.0:
            raise ValueError("highlights must be (knee, landing) with 0 < knee < landing <= 1")
        self.knee = knee
        self.landing = landing

    def forward(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """`y`: the network's output before clamping; `x`: its input (same size)."""
        (top,) = self.stats(lambda: (self._top(y, x),))
        span = top.clamp_min(self.landing) - self.knee
        a = 1.0 / (self.landing - self.knee) - 1.0 / span  # B x 1 x 1 x 1; 0: nothing passes the landing
        if not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()) and not bool((a > 0).any()):
            return y  # the common case costs nothing at full resolution
        # min(y, k) + e / (1 + a e), updating fresh tensors in place: faster than
        # y - a e^2 / (1 + a e) written out.
        excess = (y - self.knee).clamp_min_(0.0)
        return y.clamp_max(self.knee).add_(excess / excess.mul(a).add_(1.0))

    def _top(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out = F.avg_pool2d(y.amax(dim=1, keepdim=True), POOL, ceil_mode=True)
        camera = F.avg_pool2d(x.amax(dim=1, keepdim=True), POOL, ceil_mode=True)
        return torch.where(camera < UNCLIPPED, out, torch.zeros_like(out)).amax(dim=(1, 2, 3), keepdim=True)
