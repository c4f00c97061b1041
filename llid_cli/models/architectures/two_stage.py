"""`two-stage`: grayscale subspace denoising, luminance swap, atmospheric model, SFT refinement.

Design followed (seed design 1), in order:
1. *Latent Subspace Denoising Block (LSDB)*: encodes the grayscale (luma) of the input, projects its
   features onto a low-rank subspace whose basis is predicted from the features themselves
   (NBNet-style projection P = V^T (V V^T)^-1 V: noise spreads over all directions, image content
   lives in few), and predicts a noise-free grayscale image.
2. *Colour space conversion*: RGB -> YCbCr, replace the noisy Y with the predicted gray, back to RGB.
3. *Atmospheric model prediction*: the inverted low-light image looks like a hazy image
   (Dong et al., ICME 2011), so a U-Net predicts a transmission map t(x) and an airlight A for the
   inverted image H = 1 - I, the scattering model H = J t + A (1 - t) is solved for the haze-free J,
   and the enhanced image is 1 - J = 1 - A - (H - A) / t.
4. *Refinement*: Spatial Feature Transform layers (Wang et al., CVPR 2018) modulate the enhanced
   image's features with a scale and shift predicted from the grayscale texture (the denoised gray
   of stage 1), and add a correction.

Interpretations:
- t is bounded to [t_min, 1] (t_min = 0.05 allows up to 20x brightening, and keeps 1/t finite); A
  is one RGB value per image, from the U-Net's pooled bottleneck (a global airlight).
- Each stage's result is available from `stages()`, so training can supervise the gray with the
  reference's luma; the refinement's adversarial term lives in training (optional loss).
- The KxK inverse of the projection is an unrolled Gauss-Jordan elimination on the regularised
  (symmetric positive definite) Gram matrix: exact, and exportable to ONNX (which has no inverse).
- Global operations: the subspace projection spans the whole image, and A is global.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llid_cli.models.controls import Controls
from llid_cli.models.layers.blocks import (
    conv3x3,
    crop_to,
    luma,
    pad_to_multiple,
    rgb_to_ycbcr,
    ycbcr_to_rgb,
)
from llid_cli.models.layers.context import GlobalStats
from llid_cli.models.network import Network
from llid_cli.models.registry import register


def spd_inverse(gram: torch.Tensor) -> torch.Tensor:
    """Inverse of a batch of small symmetric positive definite matrices (B x K x K)."""
    k = gram.shape[-1]
    eye = torch.eye(k, dtype=gram.dtype, device=gram.device).expand_as(gram)
    m = torch.cat([gram, eye], dim=-1)
    for i in range(k):
        pivot_row = m[:, i : i + 1, :] / m[:, i : i + 1, i : i + 1]
        unit = torch.zeros(1, k, 1, dtype=gram.dtype, device=gram.device)
        unit[:, i] = 1.0
        m = m - (m[:, :, i : i + 1] - unit) * pivot_row
    return m[:, :, k:]


class ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv3x3(channels, channels), nn.LeakyReLU(0.2, inplace=True), conv3x3(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SubspaceProjection(GlobalStats):
    """Project B x C x H x W features onto the span of K basis maps predicted from a guide.

    Written with means over pixels instead of sums: the projection is the same (the pixel count
    cancels), and the global statistics (basis scale, Gram matrix, coefficients) no longer depend
    on the resolution, which lets tiles reuse the whole photo's.
    """

    def __init__(self, guide_channels: int, basis: int, eps: float = 1e-3):
        super().__init__()
        self.basis = nn.Sequential(
            conv3x3(guide_channels, guide_channels), nn.LeakyReLU(0.2, inplace=True), conv3x3(guide_channels, basis)
        )
        self.eps = eps

    def forward(self, features: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        b, c, h, w = features.shape
        v = self.basis(guide).flatten(2)  # B x K x N
        flat = features.flatten(2)  # B x C x N

        def global_stats():
            scale = (v.pow(2).mean(dim=2, keepdim=True) + 1e-12).rsqrt()  # B x K x 1: unit RMS basis maps
            unit = v * scale
            gram = unit @ unit.transpose(1, 2) / unit.shape[2]
            gram = gram + self.eps * torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
            coefficients = flat @ unit.transpose(1, 2) / unit.shape[2]  # B x C x K
            return scale, coefficients @ spd_inverse(gram)

        scale, mixing = self.stats(global_stats)
        return (mixing @ (v * scale)).view(b, c, h, w)


class LatentSubspaceDenoiser(nn.Module):
    """Stage 1: gray in, noise-free gray out (a residual added to the input gray)."""

    def __init__(self, channels: int, basis: int):
        super().__init__()
        wide = 2 * channels
        self.encode_full = nn.Sequential(conv3x3(1, channels), nn.LeakyReLU(0.2, inplace=True), ResBlock(channels))
        self.encode_half = nn.Sequential(
            conv3x3(channels, wide, stride=2), nn.LeakyReLU(0.2, inplace=True), ResBlock(wide), ResBlock(wide)
        )
        self.project_half = SubspaceProjection(wide, basis)
        self.up = conv3x3(wide, channels)
        self.project_full = SubspaceProjection(2 * channels, basis)
        self.decode = nn.Sequential(conv3x3(2 * channels, channels), nn.LeakyReLU(0.2, inplace=True), ResBlock(channels))
        self.out = conv3x3(channels, 1)

    def forward(self, gray: torch.Tensor) -> torch.Tensor:
        full = self.encode_full(gray)
        half = self.encode_half(full)
        half = self.project_half(half, half)
        up = self.up(F.interpolate(half, size=full.shape[-2:], mode="bilinear", align_corners=False))
        skip = self.project_full(full, torch.cat([full, up], dim=1))
        return (gray + self.out(self.decode(torch.cat([skip, up], dim=1)))).clamp(0.0, 1.0)


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(conv3x3(cin, cout), nn.LeakyReLU(0.2, inplace=True), conv3x3(cout, cout), nn.LeakyReLU(0.2, inplace=True))


class AtmosphericUNet(GlobalStats):
    """Predicts transmission t (B x 1 x H x W) and airlight A (B x 3 x 1 x 1) of a hazy-looking image."""

    def __init__(self, base: int, depth: int, t_min: float):
        super().__init__()
        widths = [base * 2**i for i in range(depth + 1)]
        self.encoders = nn.ModuleList([_double_conv(3 if i == 0 else widths[i - 1], widths[i]) for i in range(depth)])
        self.bottleneck = _double_conv(widths[depth - 1], widths[depth])
        self.decoders = nn.ModuleList([_double_conv(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(depth))])
        self.transmission = nn.Conv2d(widths[0], 1, 3, padding=1)
        self.airlight = nn.Sequential(nn.Linear(widths[depth], widths[depth]), nn.LeakyReLU(0.2), nn.Linear(widths[depth], 3))
        self.t_min = t_min

    def forward(self, hazy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skips, h = [], hazy
        for encoder in self.encoders:
            h = encoder(h)
            skips.append(h)
            h = F.max_pool2d(h, 2)
        h = self.bottleneck(h)
        (airlight,) = self.stats(lambda: (torch.sigmoid(self.airlight(h.mean(dim=(2, 3))))[:, :, None, None],))
        for decoder, skip in zip(self.decoders, reversed(skips)):
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = decoder(torch.cat([h, skip], dim=1))
        t = self.t_min + (1.0 - self.t_min) * torch.sigmoid(self.transmission(h))
        return t, airlight


class SFTLayer(nn.Module):
    def __init__(self, channels: int, cond_channels: int):
        super().__init__()
        self.scale = nn.Sequential(nn.Conv2d(cond_channels, cond_channels, 1), nn.LeakyReLU(0.1, inplace=True), nn.Conv2d(cond_channels, channels, 1))
        self.shift = nn.Sequential(nn.Conv2d(cond_channels, cond_channels, 1), nn.LeakyReLU(0.1, inplace=True), nn.Conv2d(cond_channels, channels, 1))

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return x * (1 + self.scale(cond)) + self.shift(cond)


class SFTResBlock(nn.Module):
    def __init__(self, channels: int, cond_channels: int):
        super().__init__()
        self.sft0, self.conv0 = SFTLayer(channels, cond_channels), conv3x3(channels, channels)
        self.sft1, self.conv1 = SFTLayer(channels, cond_channels), conv3x3(channels, channels)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.conv0(self.sft0(x, cond)), 0.2)
        return x + self.conv1(self.sft1(h, cond))


class SFTRefiner(nn.Module):
    def __init__(self, channels: int, blocks: int):
        super().__init__()
        cond = max(channels // 2, 4)
        self.condition = nn.Sequential(
            conv3x3(1, cond), nn.LeakyReLU(0.1, inplace=True), conv3x3(cond, cond), nn.LeakyReLU(0.1, inplace=True), conv3x3(cond, cond)
        )
        self.head = conv3x3(3, channels)
        self.blocks = nn.ModuleList([SFTResBlock(channels, cond) for _ in range(blocks)])
        self.tail = conv3x3(channels, 3)

    def forward(self, image: torch.Tensor, gray_texture: torch.Tensor) -> torch.Tensor:
        cond = self.condition(gray_texture)
        h = self.head(image)
        for block in self.blocks:
            h = block(h, cond)
        return (image + self.tail(h)).clamp(0.0, 1.0)


@register(
    "two-stage",
    description="Gray subspace denoising -> YCbCr luma swap -> atmospheric-model U-Net (t, A) -> SFT refinement.",
    origin="two-stage low-light network: LSDB + atmospheric scattering U-Net + SFT refinement (seed design 1)",
    presets={
        "default": {"denoise_channels": 16, "basis": 8, "unet_base": 16, "unet_depth": 3, "refine_channels": 24, "refine_blocks": 3},
        "tiny": {"denoise_channels": 4, "basis": 4, "unet_base": 4, "unet_depth": 2, "refine_channels": 8, "refine_blocks": 1},
    },
    cpu_backend="onnx",
    global_ops=("subspace projection (LSDB)", "global airlight A"),
    weights="two-stage.safetensors",
)
class TwoStageNet(Network):
    def __init__(self, denoise_channels: int = 16, basis: int = 8, unet_base: int = 16, unet_depth: int = 3,
                 refine_channels: int = 24, refine_blocks: int = 3, t_min: float = 0.05):
        super().__init__()
        self.multiple = max(2, 2**unet_depth)
        self.denoiser = LatentSubspaceDenoiser(denoise_channels, basis)
        self.atmosphere = AtmosphericUNet(unet_base, unet_depth, t_min)
        self.refiner = SFTRefiner(refine_channels, refine_blocks)

    def stages(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every intermediate result, cropped back to the input's size."""
        padded, size = pad_to_multiple(x, self.multiple)
        gray = self.denoiser(luma(padded))
        ycbcr = rgb_to_ycbcr(padded)
        swapped = ycbcr_to_rgb(torch.cat([gray, ycbcr[:, 1:]], dim=1)).clamp(0.0, 1.0)
        hazy = 1.0 - swapped
        t, airlight = self.atmosphere(hazy)
        enhanced = (1.0 - airlight - (hazy - airlight) / t).clamp(0.0, 1.0)
        output = self.refiner(enhanced, gray)
        out = {"gray": gray, "swapped": swapped, "transmission": t, "enhanced": enhanced, "output": output}
        out = {k: crop_to(v, size) for k, v in out.items()}
        out["airlight"] = airlight
        return out

    def forward(self, x: torch.Tensor, controls: Controls | None = None) -> torch.Tensor:
        return self.stages(x)["output"]
