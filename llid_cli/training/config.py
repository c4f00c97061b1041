"""Training configs: YAML (safe_load) parsed into typed dataclasses.

Blocks mirror constructors (`type:` plus arguments). Unknown or misspelt keys are errors naming
the key, so a typo never silently falls back to a default. `--set a.b=value` overrides any field
(the value is parsed as YAML: numbers, lists and booleans work).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llid_cli.errors import ConfigError


@dataclass
class ModelConfig:
    type: str = "unet"
    preset: str = "default"
    args: dict[str, Any] = field(default_factory=dict)  # overrides of the preset's arguments
    init: str = ""  # start from these weights (fine-tuning); "" starts from the random init
    # Train only the parameters under these names (module paths such as `exposure_head`); the rest
    # stay frozen. Empty: train everything.
    train_only: list[str] = field(default_factory=list)


@dataclass
class SourceConfig:
    type: str = "manifest"  # manifest | folder | synthetic
    root: str = ""
    weight: float = 1.0  # relative sampling weight among training sources
    low_dir: str = "low"  # folder pairs (LOL layout)
    high_dir: str = "high"
    degradation: dict[str, Any] = field(default_factory=dict)  # synthetic: LowLightSettings fields
    max_items: int = 0  # 0: all
    # Shell patterns of what to leave out: scene names of a manifest, file paths (relative to the
    # root) of folder and synthetic sources. How scenes are held back for a second test split.
    exclude: list[str] = field(default_factory=list)


@dataclass
class DataConfig:
    train: list[SourceConfig] = field(default_factory=list)
    val: SourceConfig | None = None
    patch_size: int = 256
    # Random rescale before cropping, log-uniform in [min, max] (never so small that the image
    # is smaller than a patch). Below 1 a patch shows more of the scene, which teaches the
    # whole-image exposure that a full-resolution crop cannot see.
    scale: list[float] = field(default_factory=lambda: [1.0, 1.0])
    batch_size: int = 8
    workers: int = 0
    cache: bool = True  # decode every image once and keep it in memory
    val_max_images: int = 0  # 0: all


@dataclass
class LossConfig:
    type: str = "l1"  # l1 | charbonnier | mse | ssim | adversarial | perceptual
    weight: float = 1.0
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimConfig:
    type: str = "adamw"  # adam | adamw
    lr: float = 2e-4
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])


@dataclass
class ScheduleConfig:
    type: str = "cosine"  # cosine | plateau | constant
    warmup_steps: int = 0
    min_lr: float = 1e-6
    patience: int = 4  # plateau: validations without improvement before the lr is cut
    factor: float = 0.5  # plateau: the cut


@dataclass
class LoopConfig:
    steps: int = 10000
    val_every: int = 500
    ckpt_every: int = 500
    log_every: int = 20
    grad_clip: float = 1.0  # 0: off
    ema: float = 0.0  # 0: off, else the EMA decay (e.g. 0.999)
    amp: bool = True  # CUDA only: bf16 autocast
    compile: bool = False  # CUDA only
    seed: int = 0
    threads: int = 0  # CPU threads; 0: torch's default
    # Exposure-conditioned models only: half of each batch's references are re-rendered up to this
    # many stops brighter or darker (uniform; 0 = off) and the network is told the shifted
    # exposure, so that it learns to render any exposure asked of it (`llid enhance --exposure`).
    # The exposure head still learns the unshifted reference's exposure.
    exposure_jitter: float = 0.0


@dataclass
class ExportConfig:
    fp16: bool = True
    name: str = ""  # weights file name; default: <model>.safetensors


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


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], where)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"'{where}' must be a mapping, got {type(value).__name__}")
        return _build(hint, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"'{where}' must be a list, got {type(value).__name__}")
        return [_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"'{where}' must be a mapping, got {type(value).__name__}")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"'{where}' must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"'{where}' must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                return float(value)  # YAML reads 2e-4 without a dot as a string
            except (TypeError, ValueError):
                raise ConfigError(f"'{where}' must be a number, got {value!r}") from None
        return float(value)
    if hint is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"'{where}' must be a string, got {value!r}")
        return str(value)
    return value


def _build(cls, raw: dict[str, Any], where: str):
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            close = [n for n in names if n.startswith(str(key)[:3])]
            hint = f" (did you mean {', '.join(sorted(close))}?)" if close else ""
            raise ConfigError(f"unknown key '{where + '.' if where else ''}{key}'{hint}; allowed: {', '.join(sorted(names))}")
    kwargs = {k: _convert(v, hints[k], f"{where + '.' if where else ''}{k}") for k, v in raw.items()}
    return cls(**kwargs)


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
    config = _build(TrainConfig, raw, "")
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
    from llid_cli.errors import ModelError
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
        if source.type not in ("manifest", "folder", "synthetic"):
            raise ConfigError(f"data source type '{source.type}' is not one of manifest, folder, synthetic")
        if not source.root:
            raise ConfigError(f"data source {i} ({source.type}) needs a root")
        if source.weight < 0:
            raise ConfigError("a data source's weight must be >= 0")
    if sum(s.weight for s in config.data.train) <= 0:
        raise ConfigError("data.train: the source weights add up to zero")
    if len(config.data.scale) != 2 or not 0 < config.data.scale[0] <= config.data.scale[1] <= 1:
        raise ConfigError("data.scale must be [min, max] with 0 < min <= max <= 1")
    if config.data.patch_size < 8 or config.data.batch_size < 1:
        raise ConfigError("data.patch_size must be >= 8 and data.batch_size >= 1")
    if config.optim.type not in ("adam", "adamw"):
        raise ConfigError(f"optim.type '{config.optim.type}' is not one of adam, adamw")
    if config.schedule.type not in ("cosine", "plateau", "constant"):
        raise ConfigError(f"schedule.type '{config.schedule.type}' is not one of cosine, plateau, constant")
    if config.train.steps < 1 or config.train.val_every < 1 or config.train.ckpt_every < 1:
        raise ConfigError("train.steps, train.val_every and train.ckpt_every must be >= 1")
    if not 0 <= config.train.exposure_jitter <= 4:
        raise ConfigError("train.exposure_jitter must be in [0, 4] stops")
    if not 0 <= config.train.ema < 1:
        raise ConfigError("train.ema must be in [0, 1)")
    from llid_cli.training.losses import LOSSES

    for term in config.loss:
        if term.type not in LOSSES:
            raise ConfigError(f"loss type '{term.type}' is not one of {', '.join(sorted(LOSSES))}")
