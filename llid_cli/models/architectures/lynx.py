"""`lynx`: a fast, exposure-aware encoder-decoder (this project's own design; NAFNet's blocks).

Why it looks like this (measured on the zoo, see docs): most of the remaining error of the seed
models is the *exposure decision*, and their cost is full-resolution 3x3 convolutions. So:

- **Work at reduced resolution.** The photo is pixel-unshuffled by `unshuffle` (lossless: every
  full-resolution pixel still reaches the network) and processed by a three-level encoder-decoder of
  NAFNet-style gated blocks (layer norm, pointwise conv, depthwise 3x3, simple gate; no channel
  attention, so the local path has no global statistics). The head predicts a full-resolution
  residual through pixel-shuffle: that is the light full-resolution path for detail and noise.
- **Exposure is an explicit number.** `exposure` = log2 of the mean linear luminance (`llid_cli.rendering.tone`).
  One global branch (`GlobalTone`) pools what decides exposure and tone over the whole photo: a soft
  histogram and the mean of the input's luminance, its colour balance, and the bottleneck's
  features. A small head predicts the exposure the output should have; during training the
  reference's exposure is given instead (teacher forcing), so the network learns to *render* a
  requested exposure, and the `exposure` control (`llid enhance --exposure EV`) moves the automatic choice.
  For a dark photo the automatic choice comes from the exposure a fusion of its simulated bracket
  would have (`BracketFusion`): the learned head did no better than a constant on unseen scenes.
- **Tone first, then detail.** From the pooled vector and the target exposure an MLP gives a
  monotone tone curve per channel (16 knots, identity at initialisation), applied to the input, and
  FiLM modulations for the decoder; the decoder adds the residual that denoises and restores detail.
  A curve brightens without washing colours out, and a well-exposed photo needs only the identity.
- **Highlights roll off.** What the residual would push past white is compressed above a knee,
  just enough that the photo's brightest area the camera did not clip lands under white
  (`HighlightShoulder`, outside training): lamps and floodlit walls keep their texture.
- **Amplified noise is smoothed.** In the shadows of a brightened photo, the grain the gain added
  is smoothed by a guided filter whose threshold follows the local gain (`AmplifiedNoiseFilter`,
  outside training): night skies lose their coloured speckle, lit areas keep their texture, and
  a photo that was not brightened is untouched.
- **Tiling.** The global operations are `GlobalTone` and the shoulder's top value, both
  `GlobalStats` layers: for a tiled photo the engine records them on the whole photo and replays
  them in every tile.
  The network pads its own input to `unshuffle * 4`, frames it with replicated pixels outside
  training (zero padding had darkened the outermost rows), and crops back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llid_cli.models.controls import Controls
from llid_cli.models.layers.blocks import (
    crop_to,
    linear_luminance,
    pad_to_multiple,
    srgb_to_linear,
)
from llid_cli.models.layers.context import GlobalStats
from llid_cli.models.layers.denoise import AmplifiedNoiseFilter
from llid_cli.models.layers.fusion import BracketFusion
from llid_cli.models.layers.highlights import HighlightShoulder
from llid_cli.models.network import Network
from llid_cli.models.registry import add_variant, register

CURVE_KNOTS = 16  # knots of the tone curve, evenly spaced in sqrt(x): denser in the shadows
HISTOGRAM_BINS = 16
BRACKET_SHRINK = 4  # the photo is shrunk this much before its bracket is simulated (then resampled to 128)


class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels of each pixel (a local operation: tiles see the same).

    Computed on the NHWC view, where it is one fused kernel (on the CPU the engine's tensors are
    channels-last, so the permutes are free); a hand-written mean/variance took half the run time.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class GatedBlock(nn.Module):
    """NAFNet's block without channel attention: a gated depthwise mixer, then a gated MLP.

    The last convolution of each branch starts at zero (NAFNet scales them by learned factors that
    start at zero, which costs two more passes over the features), so a new block is the identity
    and a deep stack trains from the first step.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.norm1 = LayerNorm2d(channels)
        self.expand = nn.Conv2d(channels, 2 * channels, 1)
        self.depthwise = nn.Conv2d(2 * channels, 2 * channels, 3, padding=1, groups=2 * channels)
        self.project = nn.Conv2d(channels, channels, 1)
        self.norm2 = LayerNorm2d(channels)
        self.ffn_in = nn.Conv2d(channels, 2 * channels, 1)
        self.ffn_out = nn.Conv2d(channels, channels, 1)
        for last in (self.project, self.ffn_out):
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.depthwise(self.expand(self.norm1(x))).chunk(2, dim=1)
        x = x + self.project(a * b)
        a, b = self.ffn_in(self.norm2(x)).chunk(2, dim=1)
        return x + self.ffn_out(a * b)


def _stage(channels: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(*[GatedBlock(channels) for _ in range(blocks)])


class GlobalTone(GlobalStats):
    """The whole photo's exposure and tone statistics, as one pooled vector (recorded for tiles).

    Every entry is a mean over pixels, so the vector hardly depends on the resolution it is
    measured at (the engine's context pass sees the photo down-scaled).
    """

    def __init__(self, channels: int, features: int):
        super().__init__()
        self.project = nn.Conv2d(channels, features, 1)
        self.bracket = BracketFusion()
        self.register_buffer("bins", torch.tensor([float(i) for i in range(HISTOGRAM_BINS)]).view(1, -1, 1, 1), persistent=False)
        self.size = 1 + HISTOGRAM_BINS + 3 + features

    def forward(self, x: torch.Tensor, features: torch.Tensor, shrink: int,
                bracket: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The vector for input `x`, whose statistics are measured on it shrunk `shrink` times, and
        with `bracket` the exposure of a fusion of its simulated bracket (else None: training and
        a lynx without `bracket_exposure` do not use it, and it is the dearer half). Only when
        they are not replayed: a tile does not pay for them."""
        stats = self.stats(lambda: (self._pool(F.avg_pool2d(x, shrink), features),
                                    *((self.fused_exposure(x),) if bracket else ())))
        return stats[0], stats[1] if bracket else None

    def fused_exposure(self, x: torch.Tensor) -> torch.Tensor:
        """B exposures of the fusion of each photo's simulated bracket (`BracketFusion`), on `x`
        shrunk 4 times: a 512-pixel photo is fused at 128 pixels, as `bracket_exposure` was fitted."""
        return self.bracket(F.avg_pool2d(x, BRACKET_SHRINK))

    def help_needed(self, pooled: torch.Tensor, low: float, high: float) -> torch.Tensor:
        """1 for a photo whose mean brightness is at most `low`, 0 from `high` up, linear between.

        The mean brightness is the mean of sqrt(luminance), read off the pooled histogram: its
        triangular bins keep the mean exactly (sum of bin index x share, over the last index).
        """
        histogram = pooled[:, 1 : 1 + HISTOGRAM_BINS]
        brightness = (histogram * self.bins.view(1, -1)).sum(dim=1) / (HISTOGRAM_BINS - 1)
        return ((high - brightness) / (high - low)).clamp(0.0, 1.0)

    def _pool(self, small: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        linear = srgb_to_linear(small)
        luminance = linear_luminance(linear)
        mean = luminance.mean(dim=(2, 3)).clamp_min(1e-6)  # B x 1
        exposure = torch.log2(mean)
        # A soft histogram of sqrt(luminance): where the photo's light lies, shadows resolved finely.
        position = torch.sqrt(luminance + 1e-8) * (HISTOGRAM_BINS - 1)
        histogram = F.relu(1.0 - (position - self.bins).abs()).mean(dim=(2, 3))
        balance = torch.log2(linear.mean(dim=(2, 3)).clamp_min(1e-6) / mean)  # colour cast, per channel
        learned = F.relu(self.project(features)).mean(dim=(2, 3))
        return torch.cat([exposure, histogram, balance, learned], dim=1)


class ToneCurve(nn.Module):
    """A monotone per-channel curve with `CURVE_KNOTS` knots at x = (k / (K - 1))^2.

    The knot values are the identity's increments scaled by exp(z), accumulated from zero: any z
    gives a curve that rises, and z = 0 is the identity.
    """

    def __init__(self):
        super().__init__()
        # From a list, not torch.arange: on the meta device (the registry's size check) arange imports sympy.
        steps = [(2 * k + 1) / (CURVE_KNOTS - 1) ** 2 for k in range(CURVE_KNOTS - 1)]
        self.register_buffer("steps", torch.tensor(steps).view(1, 1, -1), persistent=False)

    def knots(self, z: torch.Tensor) -> torch.Tensor:
        """B x 3 x (K - 1) log-scales -> B x 3 x K knot values."""
        rises = self.steps * torch.exp(z.clamp(-6.0, 6.0))
        return torch.cat([torch.zeros_like(rises[..., :1]), torch.cumsum(rises, dim=-1)], dim=-1)

    def forward(self, x: torch.Tensor, knots: torch.Tensor) -> torch.Tensor:
        """Each pixel's value on its channel's curve: the knot below plus the segment's rise.

        The knot and rise tables are expanded (not copied) to the photo's height, so the lookups
        read the photo in its own memory layout: no reshaped copies of full-resolution tensors.
        A gather's output is laid out like its table, so a channels-last photo (the engine's on
        the CPU) is looked up in its NHWC view: an NCHW result made every later full-resolution
        operation, and the engine's blending of its tiles, walk memory with a stride (twenty
        times as slow to blend).
        """
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            return _lookup(x.permute(0, 2, 3, 1), knots.transpose(1, 2), 2).permute(0, 3, 1, 2)
        return _lookup(x, knots, 3)


def _lookup(x: torch.Tensor, knots: torch.Tensor, dim: int) -> torch.Tensor:
    """Values of `x` on piecewise-linear curves whose knots lie along `dim` of `knots`.

    `x` is B x C x H x W with knots B x C x K (dim 3), or B x H x W x C with knots B x K x C
    (dim 2): either way the tables are expanded over dimension dim - 1, the photo's rows.
    """
    position = torch.sqrt(x.clamp(0.0, 1.0) + 1e-12) * (CURVE_KNOTS - 1)
    low = position.floor().clamp(0, CURVE_KNOTS - 2)
    index = low.long()
    below, above = knots.narrow(dim - 1, 0, CURVE_KNOTS - 1), knots.narrow(dim - 1, 1, CURVE_KNOTS - 1)
    shape = list(x.shape)
    shape[dim] = CURVE_KNOTS - 1
    rise = torch.gather((above - below).unsqueeze(dim - 1).expand(shape), dim, index)
    below = torch.gather(below.unsqueeze(dim - 1).expand(shape), dim, index)
    return below + (position - low) * rise


# The amplified-noise filter's (noise, luma, chroma) as lynx ships: see `Lynx.__init__`'s `denoise`.
NOISE_FILTER = (1.5, 0.3, 6.0)


@register(
    "lynx",
    description="Fast exposure-aware encoder-decoder: tone curve + FiLM from a global branch, NAFNet blocks at 1/2-1/8 resolution.",
    origin="this project's design: NAFNet's gated blocks (Chen et al., ECCV 2022), FiLM (Perez et al., 2018), "
           "curve estimation as in Zero-DCE (Guo et al., CVPR 2020), exposure conditioning",
    presets={
        "default": {"width": 16, "unshuffle": 2, "blocks": (1, 2, 4, 2, 1)},
        "fast": {"width": 16, "unshuffle": 4, "blocks": (1, 1, 2, 1, 1)},
        "tiny": {"width": 8, "unshuffle": 2, "blocks": (1, 1, 1, 1, 1)},
    },
    global_ops=("global tone branch: histogram, exposure, colour balance and pooled bottleneck features",
                "highlight shoulder: the brightest output area the camera did not clip"),
    weights="lynx.safetensors",
)
class Lynx(Network):
    # What gives a network built without the filter (lynx-fast) its filter at run time: no weight
    # depends on it, so `--denoise X` adds it where the user asks for one (`llid_cli.engine.runner`).
    noise_filter_arguments = {"denoise": NOISE_FILTER}
    # Constructor arguments that choose how the output is rendered outside training, not what the
    # weights learn (no parameter depends on them): fine-tuning may start from weights saved with
    # other values of these (`model.init`), e.g. lynx-fast's weights, made with the filter off.
    rendering_arguments = frozenset({"keep_exposure", "highlights", "bracket_exposure", "denoise"})

    def __init__(self, width: int = 16, unshuffle: int = 2, blocks: tuple[int, ...] = (1, 2, 4, 2, 1),
                 global_features: int = 32, hidden: int = 96, keep_exposure: tuple[float, float] | None = (0.25, 0.30),
                 highlights: tuple[float, float] | None = (0.8, 0.97),
                 bracket_exposure: tuple[float, float] | None = (0.54, -1.09),
                 denoise: tuple[float, float, float] | None = NOISE_FILTER):
        """`keep_exposure` (low, high): the automatic exposure does not brighten a photo whose mean
        brightness (the mean of sqrt(luminance), a perceptual level in [0, 1]) is `high` or more,
        and fades the head's brightening in down to `low`; it never darkens a photo (a gain below
        1 cannot bring back what the camera clipped, it only greys it: flowers on white paper,
        DICM 46, 47 and 66, came out at 216 instead of 253). None: off, the head decides either
        way. `--exposure` shifts the result either way (`--exposure -1` darkens).

        Why: the head learns the exposure of fused references from dark captures and pulled every
        photo towards their level, where told their own exposure they come back nearly unchanged
        (held-out well-exposed Kodak photos, docs/lab/code-measurements.md). The
        training data say where help ends: every SICE input lies below `low` and nearly every
        well-exposed clean photo above `high`, so SICE photos are unaffected
        (benchmarks/do_no_harm.py).

        `highlights` (knee, landing): what the network would push past white is rolled off above
        `knee` so that the photo's brightest area the camera did not clip lands at `landing`
        (`HighlightShoulder`); None: clamp. Applied outside training only: the shipped weights
        learned without it, and it is a rendering choice, like a camera's highlight roll-off.

        `bracket_exposure` (slope, intercept): for a photo that needs help (below `keep_exposure`'s
        low bound; faded in between) the automatic exposure is slope x the exposure of a fusion
        of its simulated bracket + intercept (`BracketFusion`), instead of the learned head's
        choice, which still decides for brighter photos. None: the head alone. In training the
        head keeps learning its own choice (the exposure loss sees it). The two numbers
        are a least-squares fit on `sice/train` less the held-out scenes
        (`python scripts/fit_bracket_exposure.py`, which prints how far it misses the references'
        exposure, against the head).

        `denoise` (noise, luma, chroma): the grain brightening added to the shadows is smoothed
        (`AmplifiedNoiseFilter`): `noise` is the input's noise in 8-bit levels, `luma` and `chroma`
        the edge thresholds in multiples of that noise times the local gain. None: off (the
        variant lynx-fast runs without it: it would cost a third of its speed; `--denoise X`
        adds it). Applied outside training only, like the shoulder. It lowers the noise of dark
        photos' shadows with their mean level unchanged (benchmarks/real_noise.py) and leaves the
        paired scores where they were (docs/models.md: the variants tried).
        """
        super().__init__()
        if len(blocks) != 5:
            raise ValueError("blocks needs five counts: encoder 1, encoder 2, middle, decoder 2, decoder 1")
        if unshuffle not in (1, 2, 4):
            raise ValueError("unshuffle must be 1, 2 or 4")
        if keep_exposure is not None and not 0.0 <= keep_exposure[0] < keep_exposure[1] <= 1.0:
            raise ValueError("keep_exposure must be (low, high) with 0 <= low < high <= 1")
        # What `rendering_arguments` are in effect (`llid models info` shows them).
        self.rendering = {"keep_exposure": keep_exposure, "highlights": highlights,
                          "bracket_exposure": bracket_exposure, "denoise": denoise}
        self.keep_exposure = keep_exposure
        self.shoulder = HighlightShoulder(*highlights) if highlights is not None else None
        self.bracket_exposure = tuple(bracket_exposure) if bracket_exposure is not None else None
        self.denoise = AmplifiedNoiseFilter(*denoise) if denoise is not None else None
        # It renders the requested exposure itself (trained told the reference's), and its filter's strength.
        self.controls = frozenset({"exposure", "denoise"} if denoise is not None else {"exposure"})
        self.unshuffle = unshuffle
        self.multiple = unshuffle * 4
        widths = (width, 2 * width, 4 * width)
        self.widths = widths
        self.stem = nn.Conv2d(3 * unshuffle**2, width, 3, padding=1)
        self.encoder1 = _stage(widths[0], blocks[0])
        self.down1 = nn.Conv2d(widths[0], widths[1], 2, stride=2)
        self.encoder2 = _stage(widths[1], blocks[1])
        self.down2 = nn.Conv2d(widths[1], widths[2], 2, stride=2)
        self.middle = _stage(widths[2], blocks[2])
        self.up2 = nn.Sequential(nn.Conv2d(widths[2], widths[1] * 4, 1), nn.PixelShuffle(2))
        self.decoder2 = _stage(widths[1], blocks[3])
        self.up1 = nn.Sequential(nn.Conv2d(widths[1], widths[0] * 4, 1), nn.PixelShuffle(2))
        self.decoder1 = _stage(widths[0], blocks[4])
        self.head = nn.Conv2d(width, 3 * unshuffle**2, 3, padding=1)

        self.tone = GlobalTone(widths[2], global_features)
        self.exposure_head = nn.Sequential(nn.Linear(self.tone.size, hidden // 2), nn.GELU(), nn.Linear(hidden // 2, 1))
        self.film_sizes = (widths[2], widths[1], widths[0])
        outputs = 2 * sum(self.film_sizes) + 3 * (CURVE_KNOTS - 1)
        self.condition = nn.Sequential(nn.Linear(self.tone.size + 1, hidden), nn.GELU(), nn.Linear(hidden, outputs))
        self.curve = ToneCurve()
        with torch.no_grad():  # start as the identity: curve z = 0, FiLM 0, residual near 0
            self.condition[-1].weight.mul_(0.01)
            self.condition[-1].bias.zero_()
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()
        self.predicted_exposure: torch.Tensor | None = None  # the head's last estimate, for its training loss

    def forward(self, x: torch.Tensor, controls: Controls | None = None, *,
                exposure: torch.Tensor | None = None) -> torch.Tensor:
        """x: B x 3 x H x W sRGB in [0, 1]; `controls`: the EV added to the automatic exposure and the
        noise filter's strength; `exposure`: B target exposures (training), else automatic."""
        controls = controls if controls is not None else Controls()
        x, size = pad_to_multiple(x, self.multiple)
        # Outside training the photo is framed by `self.multiple` replicated pixels on every side,
        # cropped off again below: with the convolutions' zero padding at its edges, the outermost
        # pixel rows came out darker than the next (docs/colour.md). One cell of the bottleneck,
        # so the global branch pools the photo's own cells and the pixel grid keeps its phase.
        framed = not self.training
        inner = F.pad(x, (self.multiple,) * 4, mode="replicate") if framed else x
        h = self.stem(F.pixel_unshuffle(inner, self.unshuffle) if self.unshuffle > 1 else inner)
        skip1 = self.encoder1(h)
        skip2 = self.encoder2(self.down1(skip1))
        h = self.down2(skip2)

        use_bracket = self.bracket_exposure is not None and not self.training
        pooled, bracket = self.tone(x, h[..., 1:-1, 1:-1] if framed else h, self.multiple, use_bracket)
        own = pooled[:, 0]
        change = self.exposure_head(pooled)[:, 0]  # stops from the photo's own exposure
        help_needed = self.tone.help_needed(pooled, *self.keep_exposure) if self.keep_exposure is not None else None
        if use_bracket:  # a dark photo takes the fused bracket's exposure
            slope, intercept = self.bracket_exposure
            fused = slope * bracket + intercept - own
            change = fused if help_needed is None else help_needed * fused + (1.0 - help_needed) * change
        if help_needed is not None:  # brightening only, and never darkening: see `keep_exposure`
            change = change.clamp_min(0.0) * help_needed
        predicted = own + change
        self.predicted_exposure = predicted
        target = predicted + controls.value("exposure") if exposure is None else exposure.to(pooled.dtype)
        params = self.condition(torch.cat([pooled, ((target + 4.0) / 2.0)[:, None]], dim=1))
        film = torch.split(params[:, : 2 * sum(self.film_sizes)], [2 * c for c in self.film_sizes], dim=1)
        knots = self.curve.knots(params[:, 2 * sum(self.film_sizes):].reshape(-1, 3, CURVE_KNOTS - 1))

        h = self.middle(_modulate(h, film[0]))
        h = self.decoder2(_modulate(self.up2(h) + skip2, film[1]))
        h = self.decoder1(_modulate(self.up1(h) + skip1, film[2]))
        residual = self.head(h)
        if self.unshuffle > 1:
            residual = F.pixel_shuffle(residual, self.unshuffle)
        out = self.curve(inner, knots) + residual
        if framed:
            out = out[..., self.multiple:-self.multiple, self.multiple:-self.multiple]
        if self.shoulder is not None and not self.training:
            out = self.shoulder(out, x)
        out = out.clamp(0.0, 1.0)
        # The engine's context pass only records the statistics above: the filter, which has
        # none, would be a third of its time for nothing.
        if self.denoise is not None and not self.training and not self.tone.measuring:
            out = self.denoise(out, x, controls.value("denoise")).clamp(0.0, 1.0)
        return crop_to(out, size)


def _modulate(h: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
    scale, shift = film[:, :, None, None].chunk(2, dim=1)
    return h * (1.0 + scale) + shift


# The same design, more down-scaling and fewer channels (preset "fast"): for previews and big batches.
add_variant(
    "lynx-fast",
    of="lynx",
    weights="lynx-fast.safetensors",
    description="lynx with 4x pixel-unshuffle and fewer blocks: several times faster, for previews and large batches.",
    # The amplified-noise filter would cost lynx-fast a third of its speed, which is its reason to
    # exist (benchmarks/engine_speed.py). lynx keeps it.
    arguments={"denoise": None},
)
