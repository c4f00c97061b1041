"""Losses, registered by name and weighted in the config.

`adversarial` carries its own PatchGAN discriminator and optimiser (the two-stage seed trains its
refinement GAN-like); the loop calls `discriminator_step` after each generator step.
`perceptual` needs VGG16 weights on this machine (a safetensors file with torchvision's
`features.*` names): llid never downloads them during training.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from llid_cli.core.errors import ConfigError
from llid_cli.models.layers.blocks import linear_luminance, srgb_to_linear


class L1(nn.Module):
    def forward(self, pred, target):
        return (pred - target).abs().mean()


class MSE(nn.Module):
    def forward(self, pred, target):
        return F.mse_loss(pred, target)


class Charbonnier(nn.Module):
    def __init__(self, eps: float = 1e-3):
        super().__init__()
        self.eps = eps

    def forward(self, pred, target):
        return torch.sqrt((pred - target) ** 2 + self.eps**2).mean()


def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


class SSIMLoss(nn.Module):
    """1 - SSIM with an 11x11 Gaussian window (sigma 1.5) on [0, 1] images, per channel."""

    def __init__(self, window: int = 11, sigma: float = 1.5):
        super().__init__()
        self.register_buffer("window", _gaussian_window(window, sigma), persistent=False)

    def forward(self, pred, target):
        channels = pred.shape[1]
        w = self.window.to(pred.dtype).expand(channels, 1, -1, -1)

        def blur(x):
            return F.conv2d(x, w, groups=channels)

        c1, c2 = 0.01**2, 0.03**2
        mx, my = blur(pred), blur(target)
        vx = blur(pred * pred) - mx * mx
        vy = blur(target * target) - my * my
        cxy = blur(pred * target) - mx * my
        ssim = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        return 1 - ssim.mean()


class PatchDiscriminator(nn.Module):
    """A small PatchGAN (Isola et al., 2017): real/fake logits per overlapping patch."""

    def __init__(self, channels: int = 32, layers: int = 3):
        super().__init__()
        blocks: list[nn.Module] = [nn.Conv2d(3, channels, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        width = channels
        for _ in range(layers - 1):
            blocks += [nn.Conv2d(width, width * 2, 4, 2, 1), nn.GroupNorm(8, width * 2), nn.LeakyReLU(0.2, inplace=True)]
            width *= 2
        blocks.append(nn.Conv2d(width, 1, 3, 1, 1))
        self.net = nn.Sequential(*blocks)

    def forward(self, x):
        return self.net(x)


class Adversarial(nn.Module):
    """Non-saturating GAN loss for the generator; the discriminator trains on (reference, output)."""

    def __init__(self, channels: int = 32, layers: int = 3, lr: float = 1e-4):
        super().__init__()
        self.discriminator = PatchDiscriminator(channels, layers)
        self.lr = lr
        self.optimizer: torch.optim.Optimizer | None = None

    def build_optimizer(self) -> None:
        self.optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=self.lr, betas=(0.5, 0.999))

    def forward(self, pred, target):
        for p in self.discriminator.parameters():
            p.requires_grad_(False)
        loss = F.softplus(-self.discriminator(pred)).mean()
        for p in self.discriminator.parameters():
            p.requires_grad_(True)
        return loss

    def discriminator_step(self, pred, target) -> float:
        if self.optimizer is None:
            self.build_optimizer()
        self.optimizer.zero_grad(set_to_none=True)
        real = self.discriminator(target)
        fake = self.discriminator(pred.detach())
        loss = F.softplus(-real).mean() + F.softplus(fake).mean()
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())


# VGG16 `features` layout up to relu3_3 (torchvision's indices, so its weights load by name).
_VGG16_TO_RELU3_3 = [64, 64, "M", 128, 128, "M", 256, 256, 256]
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class Perceptual(nn.Module):
    """L1 between VGG16 relu3_3 features; the backbone's weights must be on this machine."""

    def __init__(self, weights: str = ""):
        super().__init__()
        path = weights or os.environ.get("LLID_VGG16_WEIGHTS", "")
        if not path or not Path(path).is_file():
            raise ConfigError(
                "the perceptual loss needs VGG16 weights on this machine: give loss args.weights or "
                "LLID_VGG16_WEIGHTS as a safetensors file with torchvision's vgg16 'features.*' tensors "
                "(llid does not download them)"
            )
        layers: list[nn.Module] = []
        cin = 3
        for item in _VGG16_TO_RELU3_3:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(cin, item, 3, padding=1), nn.ReLU(inplace=False)]
                cin = item
        self.features = nn.Sequential(*layers)
        from safetensors.torch import load_file

        state = {k[len("features."):]: v for k, v in load_file(path).items() if k.startswith("features.")}
        missing = set(self.features.state_dict()) - set(state)
        if missing:
            raise ConfigError(f"VGG16 weights file lacks {sorted(missing)[:3]}", path)
        self.features.load_state_dict({k: state[k] for k in self.features.state_dict()})
        self.features.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN)[None, :, None, None], persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD)[None, :, None, None], persistent=False)

    def train(self, mode: bool = True):
        super().train(mode)
        self.features.eval()  # the backbone stays frozen
        return self

    def forward(self, pred, target):
        return (self.features((pred - self.mean) / self.std) - self.features((target - self.mean) / self.std)).abs().mean()


class ExposureEstimate(nn.Module):
    """L1 in stops between an exposure-conditioned model's own estimate and the reference's exposure.

    It trains the head that chooses the exposure when nobody gives one (`llid enhance`); the
    picture itself is trained with the reference's exposure given (teacher forcing).
    """

    uses_exposure_estimate = True

    def forward(self, pred, target, estimate=None, exposure=None):
        if estimate is None:
            raise ConfigError("loss 'exposure' needs a model that estimates exposure (such as lynx)")
        return (estimate.float() - exposure).abs().mean()


_D65 = (0.95047, 1.0, 1.08883)
_RGB_TO_XYZ = ((0.4124, 0.3576, 0.1805), (0.2126, 0.7152, 0.0722), (0.0193, 0.1192, 0.9505))


def _ab_at_mid_lightness(linear: torch.Tensor) -> torch.Tensor:
    """CIELAB a*b* (D65) of B x 3 linear sRGB colours scaled to L* 50: their balance, whatever their level."""
    luminance = linear_luminance(linear[:, :, None, None])[:, 0, 0, 0].clamp_min(1e-6)
    scaled = linear * (0.18419 / luminance)[:, None]
    xyz = scaled @ linear.new_tensor(_RGB_TO_XYZ).T / linear.new_tensor(_D65)
    edge = (6 / 29) ** 3
    f = torch.where(xyz > edge, xyz.clamp_min(edge) ** (1 / 3), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return torch.stack([500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], dim=1)


class ShadowCast(nn.Module):
    """How far the output moved the colour balance of the input's shadows, in a*b* units.

    For each of `shares` (the darkest 10 % and 25 % of each input's pixels by luminance), the mean
    linear colour of those pixels in the input and in the output, each scaled to L* 50, and the
    distance between their a*b*: `benchmarks/shadow_colour.py`'s cast, made differentiable. A gain
    that keeps the shadows' balance scores 0, however much it brightens them; single pixels may
    change colour, only the shadows' overall balance is held (docs/colour.md: the network learned
    SICE's references' yellow shadows and paints them into real photos).
    """

    uses_input = True

    def __init__(self, shares: tuple[float, ...] = (0.1, 0.25), floor: float = 0.0):
        """`floor` (8-bit levels): only pixels whose every input channel reaches it count, the
        ones that hold a colour (`benchmarks/shadow_colour.py`'s "measurable"); 0: every pixel."""
        super().__init__()
        self.shares = tuple(shares)
        self.floor = float(floor) / 255.0

    def forward(self, pred, target, low):
        given = srgb_to_linear(low.float().clamp(0, 1)).flatten(2)  # B x 3 x N
        made = srgb_to_linear(pred.float().clamp(0, 1)).flatten(2)
        luminance = linear_luminance(given[..., None])[:, 0, :, 0]  # B x N
        if self.floor > 0:  # the others sort last, above any share of the ones that count
            holds = low.float().flatten(2).amin(dim=1) >= self.floor - 1e-6
            luminance = torch.where(holds, luminance, luminance.new_tensor(2.0))
            counted = holds.sum(dim=1, keepdim=True).clamp_min(1)
        total = pred.new_zeros(())
        ordered = luminance.sort(dim=1).values if self.floor > 0 else None
        for share in self.shares:
            if ordered is not None:
                index = (share * counted.float()).long().clamp(0, luminance.shape[1] - 1)
                bound = ordered.gather(1, index).clamp_max(1.5)
                darkest = (luminance <= bound).float()[:, None]
            else:
                darkest = (luminance <= torch.quantile(luminance, share, dim=1, keepdim=True)).float()[:, None]
            count = darkest.sum(-1).clamp_min(1.0)
            before = _ab_at_mid_lightness((given * darkest).sum(-1) / count)
            after = _ab_at_mid_lightness((made * darkest).sum(-1) / count)
            total = total + (before - after).square().sum(1).add(1e-6).sqrt().mean()
        return total / len(self.shares)


class ChromaBlotches(nn.Module):
    """The output's colour error against the reference at low frequency: blotches, not grain.

    Colour as the two opponent differences of sRGB (R - G, B - G); their error is smoothed by a
    Gaussian of `sigma` pixels, so grain averages out and what is left is what a photographer sees
    as blotches across a wall or a sky (`benchmarks/chroma_blotches.py`'s figure, in training). The
    per-pixel terms weigh such an error little: it is small at each pixel, but spread wide.
    """

    def __init__(self, sigma: float = 4.0):
        super().__init__()
        self.sigma = float(sigma)
        radius = int(round(3 * self.sigma))
        coords = torch.arange(-radius, radius + 1, dtype=torch.float32)
        window = torch.exp(-coords.square() / (2 * self.sigma**2))
        self.register_buffer("window", (window / window.sum())[None, None, None], persistent=False)

    def forward(self, pred, target):
        def chroma(x):
            x = x.float()
            return torch.cat([x[:, 0:1] - x[:, 1:2], x[:, 2:3] - x[:, 1:2]], dim=1)

        error = (chroma(pred) - chroma(target)).flatten(0, 1)[:, None]
        window = self.window.to(error.dtype)
        pad = window.shape[-1] // 2
        error = F.conv2d(F.pad(error, (pad, pad, 0, 0), mode="reflect"), window)
        error = F.conv2d(F.pad(error, (0, 0, pad, pad), mode="reflect"), window.transpose(-1, -2))
        return error.square().add(1e-8).sqrt().mean()


LOSSES = {"l1": L1, "charbonnier": Charbonnier, "mse": MSE, "ssim": SSIMLoss, "adversarial": Adversarial,
          "perceptual": Perceptual, "exposure": ExposureEstimate, "shadow_cast": ShadowCast,
          "chroma_blotches": ChromaBlotches}


class CompositeLoss(nn.Module):
    """The weighted sum of the configured terms; `parts` reports each term's value."""

    def __init__(self, terms):
        super().__init__()
        self.names = [t.type for t in terms]
        self.weights = [t.weight for t in terms]
        modules = []
        for term in terms:
            try:
                modules.append(LOSSES[term.type](**term.args))
            except (TypeError, ValueError) as exc:  # an unknown argument, or one that is not a number
                raise ConfigError(f"bad arguments for loss '{term.type}': {exc}") from exc
        self.terms = nn.ModuleList(modules)

    def forward(self, pred, target, estimate=None, exposure=None, low=None):
        """`estimate`/`exposure`: an exposure-conditioned model's estimate and the reference's exposure;
        `low`: the network's input, for the terms that compare the output with it."""
        total = pred.new_zeros(())
        parts = {}
        for name, weight, term in zip(self.names, self.weights, self.terms):
            if getattr(term, "uses_exposure_estimate", False):
                value = term(pred, target, estimate, exposure)
            elif getattr(term, "uses_input", False):
                value = term(pred, target, low)
            else:
                value = term(pred, target)
            parts[name] = float(value.detach())
            total = total + weight * value
        return total, parts

    @property
    def reads_exposure_estimate(self) -> bool:
        return any(getattr(term, "uses_exposure_estimate", False) for term in self.terms)

    @property
    def adversaries(self) -> list[Adversarial]:
        return [t for t in self.terms if isinstance(t, Adversarial)]
