"""Training configs: YAML (safe_load) checked by pydantic into typed dataclasses.

Blocks mirror constructors (`type:` plus arguments). Unknown or misspelt keys are errors naming
the key, so a typo never silently falls back to a default; scalars are strict (no "12" for an
integer) and every size and rate is bounded (see `llid_cli.core.schema`). `--set a.b=value` overrides
any field (the value is parsed as YAML: numbers, lists and booleans work).
"""

from __future__ import annotations

import dataclasses
from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import ConfigDict, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass as _pydantic_dataclass

from llid_cli.core.errors import ConfigError
from llid_cli.core.schema import (
    MAX_SIZE,
    Flag,
    Integer,
    Number,
    Text,
    bounded,
    describe,
    first_error,
    length,
    where,
)

dataclass = _pydantic_dataclass(config=ConfigDict(extra="forbid"))

Steps = Annotated[Integer, bounded(1, 10**9)]
Count = Annotated[Integer, bounded(0, 10**9)]
Rate = Annotated[Number, bounded(0.0)]


@dataclass
class ModelConfig:
    type: Text = "unet"
    preset: Text = "default"
    args: dict[str, Any] = field(default_factory=dict)  # overrides of the preset's arguments (models/arguments.py)
    init: Text = ""  # start from these weights (fine-tuning); "" starts from the random init
    # Train only the parameters under these names (module paths such as `exposure_head`); the rest
    # stay frozen. Empty: train everything.
    train_only: list[Text] = field(default_factory=list)


@dataclass
class SourceConfig:
    type: Literal["manifest", "folder", "synthetic"] = "manifest"
    root: Text = ""
    weight: Rate = 1.0  # relative sampling weight among training sources
    low_dir: Text = "low"  # folder pairs (LOL layout)
    high_dir: Text = "high"
    degradation: dict[str, Any] = field(default_factory=dict)  # synthetic: LowLightSettings fields
    max_items: Count = 0  # 0: all
    # Shell patterns of what to leave out: scene names of a manifest, file paths (relative to the
    # root) of folder and synthetic sources. How scenes are held back for a second test split.
    exclude: list[Text] = field(default_factory=list)


@dataclass
class DataConfig:
    train: list[SourceConfig] = field(default_factory=list)
    val: Optional[SourceConfig] = None
    patch_size: Annotated[Integer, bounded(8, MAX_SIZE)] = 256
    # Random rescale before cropping, log-uniform in [min, max] (never so small that the image
    # is smaller than a patch). Below 1 a patch shows more of the scene, which teaches the
    # whole-image exposure that a full-resolution crop cannot see.
    scale: Annotated[list[Annotated[Number, bounded(above=0.0, high=1.0)]], length(2)] = \
        field(default_factory=lambda: [1.0, 1.0])
    batch_size: Annotated[Integer, bounded(1, MAX_SIZE)] = 8
    workers: Annotated[Integer, bounded(0, 256)] = 0
    cache: Flag = True  # decode every image once and keep it in memory
    val_max_images: Count = 0  # 0: all


@dataclass
class LossConfig:
    type: Text = "l1"  # l1 | charbonnier | mse | ssim | adversarial | perceptual | exposure | shadow_cast | chroma_blotches
    weight: Number = 1.0
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimConfig:
    type: Literal["adam", "adamw"] = "adamw"
    lr: Annotated[Number, bounded(above=0.0, high=10.0)] = 2e-4
    weight_decay: Rate = 0.0
    betas: Annotated[list[Annotated[Number, bounded(0.0, below=1.0)]], length(2)] = \
        field(default_factory=lambda: [0.9, 0.999])


@dataclass
class ScheduleConfig:
    type: Literal["cosine", "plateau", "constant"] = "cosine"
    warmup_steps: Count = 0
    min_lr: Rate = 1e-6
    patience: Steps = 4  # plateau: validations without improvement before the lr is cut
    factor: Annotated[Number, bounded(above=0.0, high=1.0)] = 0.5  # plateau: the cut


@dataclass
class LoopConfig:
    steps: Steps = 10000
    val_every: Steps = 500
    ckpt_every: Steps = 500
    log_every: Steps = 20
    grad_clip: Rate = 1.0  # 0: off
    ema: Annotated[Number, bounded(0.0, below=1.0)] = 0.0  # 0: off, else the EMA decay (e.g. 0.999)
    amp: Flag = True  # CUDA only: bf16 autocast
    compile: Flag = False  # CUDA only
    seed: Count = 0
    threads: Annotated[Integer, bounded(0, 1024)] = 0  # CPU threads; 0: torch's default
    # Exposure-conditioned models only: half of each batch's references are re-rendered up to this
    # many stops brighter or darker (uniform; 0 = off) and the network is told the shifted
    # exposure, so that it learns to render any exposure asked of it (`llid enhance --exposure`).
    # The exposure head still learns the unshifted reference's exposure.
    exposure_jitter: Annotated[Number, bounded(0.0, 4.0)] = 0.0


@dataclass
class ExportConfig:
    fp16: Flag = True
    name: Text = ""  # weights file name; default: <model>.safetensors


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: list[LossConfig] = field(default_factory=lambda: [LossConfig()])
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: LoopConfig = field(default_factory=LoopConfig)
    export: ExportConfig = field(default_factory=ExportConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _build(raw: dict[str, Any]) -> TrainConfig:
    try:
        return TypeAdapter(TrainConfig).validate_python(raw)
    except ValidationError as exc:
        error = first_error(exc)
        raise ConfigError(describe(error, where(error["loc"]), _allowed(error["loc"]))) from None


def _allowed(loc: tuple) -> list[str]:
    """The keys allowed where an unknown key was found (for the error message)."""
    import typing

    cls: Any = TrainConfig
    for part in loc[:-1]:
        if isinstance(part, int) or not dataclasses.is_dataclass(cls):
            continue
        hint = typing.get_type_hints(cls, include_extras=False).get(part)
        args = [a for a in (typing.get_args(hint) or (hint,)) if dataclasses.is_dataclass(a)]
        cls = args[0] if args else None
    return [f.name for f in dataclasses.fields(cls)] if cls is not None and dataclasses.is_dataclass(cls) else []


def apply_override(raw: dict[str, Any], assignment: str) -> None:
    """Apply one `a.b.c=value` to a raw config mapping (value parsed as YAML)."""
    import yaml

    if "=" not in assignment:
        raise ConfigError(f"--set expects KEY=VALUE, got '{assignment}'")
    key, text = assignment.split("=", 1)
    value = yaml.safe_load(text) if text.strip() else ""
    parts = key.strip().split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = node[int(part)]
            continue
        node = node.setdefault(part, {})
        if not isinstance(node, (dict, list)):
            raise ConfigError(f"--set {key}: '{'.'.join(parts[: i + 1])}' is not a mapping")
    if isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value


def parse_config(raw: dict[str, Any], overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    import copy

    raw = copy.deepcopy(raw or {})
    for assignment in overrides:
        apply_override(raw, assignment)
    config = _build(raw)
    _validate(config)
    return config


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("config file not found", path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start}: {exc.reason}); save the config as UTF-8", path) from None
    except IsADirectoryError:
        raise ConfigError("is a folder, not a config file", path) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML ({str(exc).splitlines()[0]})", path) from exc
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping at the top level", path)
    try:
        return parse_config(raw or {}, overrides)
    except ConfigError as exc:
        raise ConfigError(exc.reason, path) from exc


def _validate(config: TrainConfig) -> None:
    from llid_cli.core.errors import ModelError
    from llid_cli.models import get_spec

    try:
        spec = get_spec(config.model.type)
    except ModelError as exc:
        raise ConfigError(f"model.type: {exc.reason}") from None
    if not spec.learned:
        raise ConfigError(f"model.type '{config.model.type}' has nothing to train")
    if spec.variant_of:
        raise ConfigError(f"model.type '{config.model.type}' is a set of '{spec.variant_of}' weights: "
                          f"train model.type: {spec.variant_of}")
    if config.model.preset not in spec.presets:
        raise ConfigError(f"model.preset '{config.model.preset}' is not one of {', '.join(spec.presets)}")
    if not config.data.train:
        raise ConfigError("data.train needs at least one source")
    for i, source in enumerate(config.data.train + ([config.data.val] if config.data.val else [])):
        if not source.root:
            raise ConfigError(f"data source {i} ({source.type}) needs a root")
    if sum(s.weight for s in config.data.train) <= 0:
        raise ConfigError("data.train: the source weights add up to zero")
    if config.data.scale[0] > config.data.scale[1]:
        raise ConfigError("data.scale must be [min, max] with 0 < min <= max <= 1")
    from llid_cli.training.losses import LOSSES

    for term in config.loss:
        if term.type not in LOSSES:
            raise ConfigError(f"loss type '{term.type}' is not one of {', '.join(sorted(LOSSES))}")
