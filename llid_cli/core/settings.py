"""Settings declared once: each option field says how the command line offers it and whether the
batch record keeps it.

The option dataclasses (`EnhanceOptions`, `EngineOptions`, `ClaheSettings`, `WriteOptions`) declare
each field with `setting(...)`; the CLI makes its options from these declarations
(`llid_cli.cli.options`) and the batch record lists what it keeps from them
(`llid_cli.rendering.made_with`). A new setting is then one field: its flag, help text and
whether it is recorded follow. A field that holds other settings (`clahe`, `engine`) is a `group`.

`recorded`: the setting changes the pixels or the bytes written, so outputs made with another
value are other outputs (a resumed batch must not mix them). How it runs (backend, tiles,
threads) is never recorded: it changes nothing a viewer sees.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterator

_KEY = "llid.setting"


@dataclass(frozen=True)
class Declared:
    help: str = ""
    recorded: bool = False
    kind: str = "value"  # value, choice, flag, switch (--x/--no-x), path, group, or a parser the CLI names
    flag: str | None = None  # default: --field-name
    short: str | None = None  # "-m"
    label: str | None = None  # how the batch record names it to a user (default: the flag)
    bounds: tuple[float | None, float | None] | None = None  # an inclusive range (numbers)
    number: type = float  # the type of a value within bounds
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    show_default: bool = True
    # The command line's default, where it differs from the field's (None: the same); a word for a
    # field whose default is None stands for None (--pre none); else it is the CLI's own default
    # (--backend auto, where the library's is torch).
    typed: Any = None
    envvar: str | None = None
    flat: bool = False  # a group whose members are settings in their own right (recorded one by one)

    def option(self, name: str) -> str:
        return self.flag or f"--{name.replace('_', '-')}"


def setting(default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING, extra: dict | None = None,
            **declared: Any):
    """A dataclass field declared as a setting (see `Declared`); `extra`: more metadata of the field."""
    return dataclasses.field(default=default, default_factory=factory,
                             metadata={_KEY: Declared(**declared), **(extra or {})})


def declared(cls) -> Iterator[tuple[dataclasses.Field, Declared]]:
    """The declared fields of dataclass `cls`, in order (fields without a declaration are left out)."""
    for item in dataclasses.fields(cls):
        if _KEY in item.metadata:
            yield item, item.metadata[_KEY]


def group_type(item: dataclasses.Field) -> type:
    """The dataclass a `group` field holds (from its default factory)."""
    return type(item.default_factory())


def recorded(cls) -> dict[str, str]:
    """Recorded setting name -> how a user names it, for the settings of `cls` (a group as one,
    a flat group's members one by one)."""
    names: dict[str, str] = {}
    for item, spec in declared(cls):
        if spec.recorded and spec.flat:
            names.update(recorded(group_type(item)))
        elif spec.recorded:
            names[item.name] = spec.label or spec.option(item.name)
    return names


def recorded_values(options) -> dict[str, Any]:
    """The recorded settings of `options` (a declared dataclass), by `recorded`'s names."""
    values: dict[str, Any] = {}
    for item, spec in declared(type(options)):
        value = getattr(options, item.name)
        if spec.recorded and spec.flat:
            values.update(recorded_values(value))
        elif spec.recorded:
            values[item.name] = value
    return values
