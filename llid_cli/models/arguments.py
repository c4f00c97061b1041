"""Architecture arguments checked against the constructor's annotations, with pydantic.

Config files, `--set` overrides and weights metadata give plain YAML/JSON values: lists where a
constructor wants tuples, ints where it wants floats, and sometimes a wrong type or an absurd size.
Each argument is validated against its constructor annotation made strict (`llid_cli.core.schema`):
lists become tuples, ints become floats, everything else must already be of the right type, and
every integer is a size bounded by `MAX_SIZE` before anything is allocated. A failure names the
model, the argument and what was expected.
"""

from __future__ import annotations

import inspect
import types
import typing
from functools import lru_cache
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from llid_cli.core.errors import ModelError
from llid_cli.core.schema import (
    MAX_SIZE,
    Flag,
    Number,
    Size,
    Text,
    describe,
    first_error,
)

MAX_INT_ARGUMENT = MAX_SIZE  # no zoo preset comes near; `ModelSpec.construct` also bounds the parameter count


def check_arguments(model: str, builder, args: dict[str, Any]) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(builder.__init__)
    except Exception:  # annotations that cannot be resolved: leave the constructor to judge
        return dict(args)
    parameters = inspect.signature(builder.__init__).parameters
    out = {}
    for name, value in args.items():
        if name not in parameters:
            known = ", ".join(p for p in parameters if p != "self")
            raise ModelError(f"'{model}' has no architecture argument '{name}' (it takes {known})")
        hint = hints.get(name)
        if hint is None:
            out[name] = value
            continue
        try:
            out[name] = _adapter(hint).validate_python(value)
        except ValidationError as exc:
            error = first_error(exc)
            what = f"'{model}' argument '{name}'"
            fixed = next((h for h in (hint, *typing.get_args(hint)) if typing.get_origin(h) is tuple), None)
            if error["type"] == "missing" and fixed is not None:  # a fixed-size tuple given too few
                raise ModelError(f"{what} must be a list of {len(typing.get_args(fixed))} values, got {value!r}") from None
            inner = "".join(f"[{part}]" for part in error["loc"])
            raise ModelError(describe(error, name + inner).replace(f"'{name}", f"'{model}' argument '{name}", 1)) from None
    return out


@lru_cache(maxsize=None)
def _adapter(hint: Any) -> TypeAdapter:
    return TypeAdapter(_strict(hint))


def _strict(hint: Any) -> Any:
    """The annotation with strict, bounded scalars; tuples stay lenient about arriving as lists."""
    origin, params = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return Flag
    if hint is int:
        return Size
    if hint is float:
        return Number
    if hint is str:
        return Text
    if origin in (typing.Union, types.UnionType):  # e.g. `tuple[float, float] | None`
        return typing.Union[tuple(p if p is type(None) else _strict(p) for p in params)]
    if origin is tuple:
        if len(params) == 2 and params[1] is Ellipsis:
            return Annotated[tuple[_strict(params[0]), ...], length_at_most(MAX_SIZE)]
        return tuple[tuple(_strict(p) for p in params)]
    return Any  # an annotation the zoo does not use: the constructor judges


def length_at_most(count: int) -> Any:
    from pydantic import Field

    return Field(max_length=count)
