"""Runtime values of the policy language: bool, long, string, entity, set, record,
and the extension values decimal, ipaddr, datetime and duration.

Python's ``True == 1`` (and equal hashes) would make Cedar's ``true == 1``
true, so equality never compares raw values across types: containers hold a
canonical key per value (:func:`canon`) in which a bool can never equal a long.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "CedarSet",
    "Datetime",
    "Decimal",
    "Duration",
    "EntityUID",
    "IPAddr",
    "Record",
    "Value",
    "canon",
    "escape_string",
    "format_value",
    "type_name",
    "value_eq",
]

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1


def escape_string(text: str) -> str:
    """Quote ``text`` as a policy-language string literal."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\0":
            out.append("\\0")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


@dataclass(frozen=True, slots=True)
class EntityUID:
    """An entity's unique id: its type (``A::B``) and its id string."""

    type: str
    id: str

    def __str__(self) -> str:
        return f"{self.type}::{escape_string(self.id)}"

    def to_json(self) -> dict[str, str]:
        """The ``{"type": ..., "id": ...}`` form used by Cedar's JSON formats."""
        return {"type": self.type, "id": self.id}


@dataclass(frozen=True, slots=True)
class Decimal:
    """A decimal with four fractional digits: ``scaled`` is the value times 10**4 (an i64)."""

    scaled: int

    def __str__(self) -> str:
        return f'decimal("{decimal_text(self.scaled)}")'


def decimal_text(scaled: int) -> str:
    """``scaled / 10**4`` written with at least one fractional digit (``1.5``, ``-0.0001``)."""
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 10**4)
    digits = f"{frac:04d}".rstrip("0") or "0"
    return f"{sign}{whole}.{digits}"


@dataclass(frozen=True, slots=True)
class IPAddr:
    """An IPv4 or IPv6 address with a prefix length (a host address has the full length).

    ``address`` is the address as an integer (32 or 128 bits, as written, not masked).
    """

    version: int  # 4 or 6
    address: int
    prefix: int

    def __str__(self) -> str:
        import ipaddress

        addr = (
            ipaddress.IPv4Address(self.address)
            if self.version == 4
            else ipaddress.IPv6Address(self.address)
        )
        return f'ip("{addr}/{self.prefix}")'


@dataclass(frozen=True, slots=True)
class Datetime:
    """An instant: milliseconds since the Unix epoch (an i64), UTC."""

    millis: int

    def __str__(self) -> str:
        from lion.kernel.policy._extensions import datetime_text

        text = datetime_text(self.millis)
        if (
            text is None
        ):  # outside the years 0000-9999: an offset from the epoch, as Cedar writes it
            return f'datetime("1970-01-01").offset(duration("{self.millis}ms"))'
        return f'datetime("{text}")'


@dataclass(frozen=True, slots=True)
class Duration:
    """A length of time in milliseconds (an i64, may be negative)."""

    millis: int

    def __str__(self) -> str:
        from lion.kernel.policy._extensions import duration_text

        return f'duration("{duration_text(self.millis)}")'


EXTENSION_TYPES = (Decimal, IPAddr, Datetime, Duration)


class Record:
    """An immutable record (string keys to values)."""

    __slots__ = ("_items", "_key")

    def __init__(self, items: Mapping[str, Value] | Iterable[tuple[str, Value]] = ()) -> None:
        self._items: dict[str, Value] = dict(items)
        self._key: object = None

    def get(self, name: str) -> Value | None:
        return self._items.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> Iterator[tuple[str, Value]]:
        return iter(self._items.items())

    def keys(self) -> Iterator[str]:
        return iter(self._items)

    def key(self) -> object:
        """The canonical, hashable key that decides equality."""
        if self._key is None:
            self._key = ("record", frozenset((k, canon(v)) for k, v in self._items.items()))
        return self._key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __repr__(self) -> str:
        return format_value(self)


class CedarSet:
    """An immutable, finite set of values, deduplicated by Cedar equality."""

    __slots__ = ("_elems", "_key")

    def __init__(self, elements: Iterable[Value] = ()) -> None:
        self._elems: dict[object, Value] = {}
        for element in elements:
            self._elems.setdefault(canon(element), element)
        self._key: object = None

    def __len__(self) -> int:
        return len(self._elems)

    def __iter__(self) -> Iterator[Value]:
        return iter(self._elems.values())

    def contains(self, value: Value) -> bool:
        return canon(value) in self._elems

    def keys(self) -> frozenset[object]:
        return frozenset(self._elems)

    def key(self) -> object:
        """The canonical, hashable key that decides equality."""
        if self._key is None:
            self._key = ("set", frozenset(self._elems))
        return self._key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CedarSet) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __repr__(self) -> str:
        return format_value(self)


Value: TypeAlias = (
    bool | int | str | EntityUID | CedarSet | Record | Decimal | IPAddr | Datetime | Duration
)


def canon(value: Value) -> object:
    """A hashable key for ``value`` such that keys are equal iff Cedar says the values are."""
    kind = type(value)
    if kind is bool:
        return ("bool", value)
    if kind is Record or kind is CedarSet:
        return value.key()  # type: ignore[union-attr]
    return value


def value_eq(a: Value, b: Value) -> bool:
    """Cedar's ``==``: values of different types are never equal (and never an error)."""
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is Record or kind is CedarSet:
        return a.key() == b.key()  # type: ignore[union-attr]
    return a == b


def type_name(value: Value) -> str:
    """The policy-language name of ``value``'s type, for error messages."""
    kind = type(value)
    if kind is bool:
        return "bool"
    if kind is int:
        return "long"
    if kind is str:
        return "string"
    if kind is EntityUID:
        return f"entity of type `{value.type}`"  # type: ignore[union-attr]
    if kind is CedarSet:
        return "set"
    if kind is Decimal:
        return "decimal"
    if kind is IPAddr:
        return "ipaddr"
    if kind is Datetime:
        return "datetime"
    if kind is Duration:
        return "duration"
    return "record"


def format_value(value: Value, limit: int = 80) -> str:
    """A short policy-syntax rendering of ``value`` for messages."""
    text = _format(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _format(value: Value) -> str:
    kind = type(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is EntityUID or kind in EXTENSION_TYPES:
        return str(value)
    if kind is str:
        return escape_string(value)  # type: ignore[arg-type]
    if kind is CedarSet:
        return "[" + ", ".join(_format(v) for v in value) + "]"  # type: ignore[union-attr]
    assert isinstance(value, Record)
    return "{" + ", ".join(f"{escape_string(k)}: {_format(v)}" for k, v in value.items()) + "}"
