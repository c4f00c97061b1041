"""What a user can change about one rendering, passed with every call: `Controls`.

A control is one field here, declared once: its command-line option, help text and batch record
follow from the declaration (`llid_cli.core.settings`; `EnhanceOptions.controls`). A
network that renders it names it in its `controls` and reads it in `forward(x, controls)`; its
ONNX graphs take it as an input of the same name (one value), traced at the field's neutral
value; the engine feeds it. So a different value for every photo, or every frame of a video, is
just another argument: nothing is written onto a network.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from llid_cli.core.errors import LlidError
from llid_cli.core.settings import declared, setting


def control(default: Any, *, neutral: float, absent: float, refusal: str, **declared: Any):
    """A control's field. `neutral`: the value a network that renders it runs at when not told
    (graphs are traced at it); `absent`: the value a model without it renders, so asking for it
    needs nothing; `refusal`: why a model without it refuses another value (after "model 'NAME' ")."""
    return setting(default, recorded=True, extra={"neutral": neutral, "absent": absent, "refusal": refusal},
                   **declared)


@dataclass(frozen=True)
class Controls:
    """None: the network's own choice (the field's neutral value)."""

    # EV added to the automatic exposure (llid_cli.rendering.tone); the rendering layer shifts the
    # output of a model that cannot render it.
    exposure: float | None = control(
        0.0, neutral=0.0, absent=0.0, refusal="does not render exposure: its output is shifted after it",
        bounds=(-4.0, 4.0), metavar="EV", help="Shift the automatic exposure by EV stops (+1: twice the light, -1: half).")
    # The noise filter's strength: None as built (1), 0 off, 2 twice the noise assumed.
    denoise: float | None = control(
        None, neutral=1.0, absent=0.0,
        refusal="runs without a noise filter (the shipped lynx has one): leave --denoise out or set it to 0",
        bounds=(0.0, 4.0), metavar="X", show_default=False,
        help="Strength of the model's filter for the grain brightening lifts into the shadows: "
             "0 off, 2 twice the noise assumed [default: 1 for lynx; other models have none].")

    # Colourfulness: every pixel's distance from its luminance, in linear light, times this; the
    # rendering layer renders it after any model (llid_cli.rendering.colour).
    saturation: float | None = control(
        None, neutral=1.0, absent=1.0, refusal="does not render saturation: it is rendered after it",
        bounds=(0.0, 2.0), metavar="S", show_default=False,
        help="Scale the output's colourfulness in linear light: 0 grey, 1 as rendered, 2 twice [default: 1].")

    # How much of the colour the output gives what was black in the input is kept: the models
    # paint the colour of their surroundings into it (DICM 12's grey floor comes out khaki); the
    # rendering layer renders it after any model (llid_cli.rendering.colour).
    black_colour: float | None = control(
        None, neutral=1.0, absent=1.0, refusal="does not render black colour: it is rendered after it",
        bounds=(0.0, 1.0), metavar="K", show_default=False,
        help="Colour kept where the input is black (every channel at most 2 of 255, fading out by 4), "
             "which models paint from the surroundings: 0 grey, 1 as rendered [default: 1].")

    def value(self, name: str) -> float:
        """The value `name` is rendered at: the one asked for, else the neutral one."""
        asked = getattr(self, name)  # a tensor while a graph is traced: kept as one
        return NEUTRAL[name] if asked is None else asked

    def only(self, names) -> Controls:
        """These controls less those not in `names` (what a model renders itself)."""
        return Controls(**{name: getattr(self, name) if name in names else None for name in NAMES})

    def asked(self) -> dict[str, float]:
        """The controls set to something other than their neutral value."""
        return {name: float(self.value(name)) for name in NAMES if self.value(name) != NEUTRAL[name]}

    def check(self) -> None:
        """Refuse a value outside its control's declared range (the CLI's own bounds, for callers
        of the library)."""
        for item, spec in declared(Controls):
            value = getattr(self, item.name)
            if value is None or spec.bounds is None:
                continue
            low, high = spec.bounds
            if not ((low is None or value >= low) and (high is None or value <= high)):
                raise LlidError(f"{spec.option(item.name)} must be within {low} and {high}, got {value}")

    def needed(self) -> dict[str, float]:
        """The controls set to a value a model without them does not render (what needs a model
        that renders them)."""
        return {name: float(getattr(self, name)) for name in NAMES
                if getattr(self, name) is not None and getattr(self, name) != ABSENT[name]}


NAMES: tuple[str, ...] = tuple(f.name for f in fields(Controls))
NEUTRAL: dict[str, float] = {f.name: f.metadata["neutral"] for f in fields(Controls)}
ABSENT: dict[str, float] = {f.name: f.metadata["absent"] for f in fields(Controls)}
REFUSAL: dict[str, str] = {f.name: f.metadata["refusal"] for f in fields(Controls)}
