"""The model zoo's registry: one `ModelSpec` per architecture, filled by a decorator in its file.

Adding an architecture is one new file in `architectures/` (a `Network` decorated with `@register`)
plus its name in `ARCHITECTURES` below. A second set of trained weights for an architecture
(trained on other data, for other photos) is a variant: `add_variant` below its class.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from llid_cli.core.errors import ModelError
from llid_cli.models.arguments import check_arguments


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str  # one line
    origin: str  # the published design it follows
    builder: Callable[..., Any] | None  # the nn.Module class; None for classical models
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)  # "default", "tiny", maybe "paper"
    global_ops: tuple[str, ...] = ()  # operations that see the whole image (tiling must respect them)
    weights: str | None = None  # default weights file name in weights/
    pre: str | None = None  # classical step the model expects before it ("clahe")
    variant_of: str | None = None  # set on a variant: the architecture whose weights it ships
    # The faster runtime for it on a CPU (`--backend auto`), measured with benchmarks/engine_speed.py:
    # ONNX Runtime wins for the full-resolution networks, PyTorch for lynx (see docs/engine.md).
    cpu_backend: str = "torch"
    # Constructor arguments this name runs with unless its weights file records them: a variant's
    # own rendering choices (lynx-fast leaves out a filter that would cost it a third of its speed).
    arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def learned(self) -> bool:
        return self.builder is not None

    @property
    def architecture(self) -> str:
        """The name its weights files record (a variant's weights are its architecture's)."""
        return self.variant_of or self.name

    def build(self, preset: str = "default", **overrides):
        """Construct the network from a preset plus explicit architecture arguments."""
        if self.builder is None:
            raise ModelError(f"'{self.name}' is a classical method with no network to build")
        if preset not in self.presets:
            raise ModelError(f"model '{self.name}' has no preset '{preset}' (one of {', '.join(self.presets)})")
        return self.construct({**self.presets[preset], **overrides})

    def construct(self, args: dict[str, Any]):
        """Construct the network from complete constructor arguments, checked against its signature.

        Arguments come from YAML, `--set` and weights metadata (JSON), so they are checked here
        rather than trusted: `context: maybe` must fail, not build a gate because a string is truthy.
        """
        if self.builder is None:
            raise ModelError(f"'{self.name}' is a classical method with no network to build")
        checked = check_arguments(self.name, self.builder, args)
        try:
            self._check_size(checked)
            return self.builder(**checked)
        except (TypeError, ValueError, ZeroDivisionError) as exc:
            raise ModelError(f"bad architecture arguments for '{self.name}': {exc}") from exc

    def _check_size(self, args: dict[str, Any]) -> None:
        """Refuse arguments that would build an absurd network, before allocating any of it.

        The network is first built on PyTorch's meta device (shapes only, no memory), so
        `channels: 200000` is an error message rather than an out-of-memory crash.
        """
        import torch

        with torch.device("meta"):
            count = sum(p.numel() for p in self.builder(**args).parameters())
        if count > MAX_PARAMETERS:
            raise ModelError(f"these '{self.name}' arguments give {count / 1e6:,.0f} M parameters, "
                             f"over the limit of {MAX_PARAMETERS // 10**6} M: {args}")

    def describe(self, preset: str = "default"):
        """The descriptor of this entry's network built from `preset`, on PyTorch's meta device
        (shapes only, no memory): what a model card says before any weights load."""
        import torch

        with torch.device("meta"):
            return self.build(preset).describe(self)

    def parameter_count(self, preset: str = "default") -> int:
        if self.builder is None:
            return 0
        return sum(p.numel() for p in self.build(preset).parameters())


# Model name -> the file in this package that registers it (a variant's is its architecture's).
# tests/test_models.py checks that each file registers exactly the names listed for it.
ARCHITECTURES = {
    "clahe": "classical",
    "two-stage": "two_stage",
    "mirnet": "mirnet",
    "resse": "resse", "resse-night": "resse",
    "unet": "unet",
    "clahe-cnn": "clahe_cnn",
    "lynx": "lynx", "lynx-fast": "lynx",
}


def load_architecture(name: str) -> bool:
    """Import the file that registers model `name`; False for a name the zoo does not have."""
    module = ARCHITECTURES.get(name)
    if module is None:
        return False
    importlib.import_module(f"llid_cli.models.architectures.{module}")
    return True


def load_architectures() -> None:
    for module in dict.fromkeys(ARCHITECTURES.values()):
        importlib.import_module(f"llid_cli.models.architectures.{module}")


MAX_PARAMETERS = 200_000_000  # 800 MB of fp32 weights; the zoo's largest preset has about 2 M

_REGISTRY: dict[str, ModelSpec] = {}


def register(name: str, **spec_fields) -> Callable:
    """Class decorator: `@register("unet", description=..., origin=..., presets={...})`."""

    def decorator(cls):
        add_spec(ModelSpec(name=name, builder=cls, **spec_fields))
        cls.spec_name = name
        return cls

    return decorator


def add_variant(name: str, of: str, weights: str, description: str,
                arguments: dict[str, Any] | None = None) -> ModelSpec:
    """Register other trained weights of architecture `of` under their own model name, with
    `arguments` it runs with unless its weights file records them."""
    base = _REGISTRY[of]
    return add_spec(replace(base, name=name, description=description, weights=weights, variant_of=of,
                            arguments=dict(arguments or {})))


def add_spec(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"model '{spec.name}' is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    """The zoo entry `name`, importing only the file that registers it."""
    if name not in _REGISTRY and not load_architecture(name):
        raise ModelError(f"unknown model '{name}' (available: {', '.join(sorted(ARCHITECTURES))})")
    return _REGISTRY[name]


def all_specs() -> list[ModelSpec]:
    _load_all()
    return list(_REGISTRY.values())


def _load_all() -> None:
    load_architectures()
