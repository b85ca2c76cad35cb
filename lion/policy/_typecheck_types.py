"""The checker's types and environments: Cedar's types plus the literal boolean types.

``lub`` is the least upper bound in Cedar's strict mode; the extension method
and constructor tables say what each extension function takes and gives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

from lion.kernel.policy import _ast as A
from lion.kernel.policy._extensions import (
    parse_datetime,
    parse_decimal,
    parse_duration,
    parse_ip,
)
from lion.policy._schema_types import (
    ActionDef,
    Attribute,
    BoolType,
    ExtensionType,
    FrozenMap,
    LongType,
    RecordType,
    SetType,
    StringType,
    Type,
    render_type,
)

__all__ = [
    "BOOL",
    "CONSTRUCTORS",
    "LONG",
    "METHODS",
    "NONE",
    "STRING",
    "BoolLit",
    "Caps",
    "Env",
    "Issue",
    "T",
    "is_bool",
    "lub",
    "plain",
    "show",
]


@dataclass(frozen=True, slots=True)
class BoolLit:
    """The type of an expression known to be ``value`` (Cedar's ``True`` and ``False`` types)."""

    value: bool


T: TypeAlias = Type | BoolLit
Caps: TypeAlias = frozenset[tuple[Any, ...]]
NONE: Caps = frozenset()
BOOL = BoolType()
LONG = LongType()
STRING = StringType()


@dataclass(frozen=True, slots=True)
class Env:
    """One request environment: the principal type, the action, the resource type."""

    principal: str
    action: ActionDef
    resource: str


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem: a kind (a short name), the message, and the node it is about."""

    kind: str
    message: str
    span: A.Span | None


def show(t: T) -> str:
    """A type as messages write it."""
    return "Bool" if isinstance(t, BoolLit) else render_type(t)


def is_bool(t: T) -> bool:
    return isinstance(t, BoolType | BoolLit)


def lub(a: T, b: T) -> T | None:
    """The least upper bound in Cedar's strict mode, or None when the types are incompatible."""
    if isinstance(a, BoolLit) and isinstance(b, BoolLit):
        return a if a == b else BOOL
    if is_bool(a) and is_bool(b):
        return BOOL
    if isinstance(a, SetType) and isinstance(b, SetType):
        element = lub(a.element, b.element)
        return None if element is None else SetType(plain(element))
    if isinstance(a, RecordType) and isinstance(b, RecordType):
        if set(a.attributes) != set(b.attributes):
            return None
        out: dict[str, Attribute] = {}
        for name, x in a.attributes.items():
            y = b.attributes[name]
            joined = lub(x.type, y.type)
            if joined is None or x.required != y.required:
                return None
            out[name] = Attribute(plain(joined), x.required)
        return RecordType(FrozenMap(out))
    return a if a == b else None


def plain(t: T) -> Type:
    return BOOL if isinstance(t, BoolLit) else t


# The extension methods: receiver type, argument types, result type.
METHODS: dict[str, tuple[str, tuple[str, ...], T]] = {
    **{
        m: ("decimal", ("decimal",), BOOL)
        for m in ("lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual")
    },
    **{m: ("ipaddr", (), BOOL) for m in ("isIpv4", "isIpv6", "isLoopback", "isMulticast")},
    "isInRange": ("ipaddr", ("ipaddr",), BOOL),
    "offset": ("datetime", ("duration",), ExtensionType("datetime")),
    "durationSince": ("datetime", ("datetime",), ExtensionType("duration")),
    "toDate": ("datetime", (), ExtensionType("datetime")),
    "toTime": ("datetime", (), ExtensionType("duration")),
    **{
        m: ("duration", (), LONG)
        for m in ("toDays", "toHours", "toMinutes", "toSeconds", "toMilliseconds")
    },
}
CONSTRUCTORS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "decimal": ("decimal", parse_decimal, "a decimal value"),
    "ip": ("ipaddr", parse_ip, "IP address"),
    "datetime": ("datetime", parse_datetime, "a datetime value"),
    "duration": ("duration", parse_duration, "a duration value"),
}
