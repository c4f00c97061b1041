"""Checking values that come from files and the command line, with pydantic.

Training configs (`training/config.py`) and architecture arguments (`models/arguments.py`, also
read from weights files) arrive as plain YAML/JSON values. Both are checked by pydantic with the
same rules: strict scalars (no "12" for an integer, no 1 for true), unknown keys refused, bounds on
every size before anything is allocated. A failure becomes one line naming the field, what was
expected and what was given.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict, ValidationError

# Sizes from files and the command line (channels, blocks, steps, patch sizes) are bounded so that
# an absurd value is refused before it allocates or loops; nothing in the zoo comes near.
MAX_SIZE = 4096


def _yaml_number(value: Any) -> Any:
    """YAML 1.1 reads 2e-4 (no dot) as a string: accept a string that is a plain number."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _within(low: int, high: int):
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")
        return value

    return AfterValidator(check)


Flag = Annotated[bool, Strict()]
Text = Annotated[str, Strict()]
Integer = Annotated[int, Strict()]
Number = Annotated[float, BeforeValidator(_yaml_number), Strict()]
Size = Annotated[int, Strict(), _within(0, MAX_SIZE)]  # 0 allowed: some sizes mean "off" at 0


def bounded(low: float | None = None, high: float | None = None, *, below: float | None = None,
            above: float | None = None) -> Any:
    """pydantic bounds: low <= x <= high, x < below, x > above."""
    return Field(ge=low, le=high, lt=below, gt=above)


def length(count: int) -> Any:
    """A list of exactly `count` entries."""
    return Field(min_length=count, max_length=count)


_EXPECTED = {
    "bool_type": "true or false", "int_type": "an integer", "float_type": "a number",
    "string_type": "a string", "dict_type": "a mapping", "list_type": "a list", "tuple_type": "a list",
    "dataclass_type": "a mapping", "int_from_float": "an integer", "bool_parsing": "true or false",
    "int_parsing": "an integer", "float_parsing": "a number",
}


def where(loc: tuple) -> str:
    """('data', 'train', 0, 'weight') -> data.train[0].weight."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def describe(error: dict, name: str, allowed: list[str] | None = None) -> str:
    """One pydantic error as a sentence about `name` (the field, already spelt for the user)."""
    kind, given, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        hint = ""
        if allowed:
            key = name.rsplit(".", 1)[-1]
            close = [a for a in allowed if a.startswith(key[:3])]
            hint = f" (did you mean {', '.join(sorted(close))}?)" if close else ""
            hint += f"; allowed: {', '.join(sorted(allowed))}"
        return f"unknown key '{name}'{hint}"
    if kind in _EXPECTED:
        return f"'{name}' must be {_EXPECTED[kind]}, got {given!r}"
    if kind == "literal_error":
        return f"'{name}': '{given}' is not one of {ctx.get('expected', '')}"
    if kind in ("too_long", "too_short") and ("max_length" in ctx or "min_length" in ctx):
        count = ctx.get("max_length") if kind == "too_long" else ctx.get("min_length")
        return f"'{name}' must be a list of {count} values, got {given!r}"
    if kind == "missing":
        return f"'{name}' is missing"
    message = error["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    return f"'{name}' {message}" + ("" if "got" in message else f", got {given!r}")


def first_error(exc: ValidationError) -> dict:
    return exc.errors(include_url=False)[0]
