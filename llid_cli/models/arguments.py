"""Architecture arguments checked against the constructor's annotations.

Config files, `--set` overrides and weights metadata give plain YAML/JSON values: lists where a
constructor wants tuples, ints where it wants floats, and sometimes a wrong type altogether. This
turns the first two into what the annotation says and refuses the rest with a message naming the
model, the argument and what was expected. Only the annotation forms the zoo uses are understood
(bool, int, float, str, tuple[T, ...], tuple[T1, T2, ...]); others are passed through unchecked.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from llid_cli.errors import ModelError


# Sizes (channels, blocks, depths) come from files and the command line: bounded before anything is
# allocated. No zoo preset comes near; `ModelSpec.construct` also bounds the parameter count.
MAX_INT_ARGUMENT = 4096


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
        out[name] = value if hint is None else _coerce(value, hint, f"'{model}' argument '{name}'")
    return out


def _coerce(value: Any, hint: Any, what: str) -> Any:
    origin, params = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value <= MAX_INT_ARGUMENT:
                raise ModelError(f"{what} must be between 0 and {MAX_INT_ARGUMENT}, got {value}")
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    elif origin is tuple and isinstance(value, (list, tuple)):
        if len(value) > MAX_INT_ARGUMENT:
            raise ModelError(f"{what} has {len(value)} entries, more than {MAX_INT_ARGUMENT}")
        if len(params) == 2 and params[1] is Ellipsis:
            return tuple(_coerce(v, params[0], what) for v in value)
        if len(params) == len(value):
            return tuple(_coerce(v, p, what) for v, p in zip(value, params))
    else:
        return value  # an annotation this checker does not know
    raise ModelError(f"{what} must be {_describe(hint)}, got {value!r}")


def _describe(hint: Any) -> str:
    params = typing.get_args(hint)
    if typing.get_origin(hint) is tuple:
        if len(params) == 2 and params[1] is Ellipsis:
            return f"a list of {_describe(params[0])}"
        return f"a list of {len(params)} values ({', '.join(_describe(p) for p in params)})"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))
