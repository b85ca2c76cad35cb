"""Concrete spec values, shared by the interpreter, the prover's counterexamples,
the Hypothesis strategies and the conformance harness.

===============  ==========================================
spec type        Python value
===============  ==========================================
bool, int        bool, int
string           str
enum E           EnumValue("E", "Variant")
record R         RecordValue("R", {"field": value, ...})
set<T>           frozenset
seq<T, N>        tuple (at most N elements)
map<K, V>        MapValue (every key of K present)
option<T>        None, or the value itself
===============  ==========================================
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from lion.spec.ast import (
    BoolType,
    EnumType,
    IntType,
    MapType,
    OptionType,
    RecordType,
    SeqType,
    SetType,
    StringType,
    Type,
)

__all__ = [
    "EnumValue",
    "MapValue",
    "RecordValue",
    "domain",
    "format_value",
    "from_json",
    "to_json",
]


class EnumValue:
    """A variant of a spec enum; compares by enum and variant name."""

    __slots__ = ("enum", "variant")

    def __init__(self, enum: str, variant: str) -> None:
        self.enum = enum
        self.variant = variant

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, EnumValue)
            and self.variant == other.variant
            and self.enum == other.enum
        )

    def __hash__(self) -> int:
        return hash((self.enum, self.variant))

    def __repr__(self) -> str:
        return f"{self.enum}.{self.variant}"

    def __str__(self) -> str:
        return self.variant


class RecordValue(Mapping[str, Any]):
    """An immutable record value: a mapping from field name to value."""

    __slots__ = ("_fields", "_hash", "record")

    def __init__(self, record: str, fields: Mapping[str, Any]) -> None:
        self.record = record
        self._fields = dict(fields)
        self._hash: int | None = None

    def __getitem__(self, name: str) -> Any:
        return self._fields[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def replace(self, **changes: Any) -> RecordValue:
        return RecordValue(self.record, {**self._fields, **changes})

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, RecordValue)
            and self.record == other.record
            and self._fields == other._fields
        )

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash((self.record, tuple(self._fields.items())))
        return self._hash

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._fields.items())
        return f"{self.record}({inner})"


class MapValue(Mapping[Any, Any]):
    """An immutable total map over a finite key type."""

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Mapping[Any, Any]) -> None:
        self._items = dict(items)
        self._hash: int | None = None

    def __getitem__(self, key: Any) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def set(self, key: Any, value: Any) -> MapValue:
        items = dict(self._items)
        items[key] = value
        return MapValue(items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MapValue) and self._items == other._items

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"MapValue({self._items!r})"


def domain(ty: Type) -> list[Any]:
    """Every value of a finite type, in a fixed order (the checker bounds the size)."""
    return list(_domain(ty))


@functools.lru_cache(maxsize=1024)
def _domain(ty: Type) -> tuple[Any, ...]:
    return tuple(_enumerate(ty))


def _enumerate(ty: Type) -> list[Any]:
    if isinstance(ty, BoolType):
        return [False, True]
    if isinstance(ty, EnumType):
        return [EnumValue(ty.name, v) for v in ty.variants]
    if isinstance(ty, IntType):
        if ty.lo is None or ty.hi is None:
            raise ValueError(f"`{ty}` is not finite")
        return list(range(ty.lo, ty.hi + 1))
    if isinstance(ty, OptionType):
        return [None, *domain(ty.elem)]
    if isinstance(ty, RecordType):
        names = [n for n, _ in ty.fields]
        return [
            RecordValue(ty.name, dict(zip(names, combo, strict=True)))
            for combo in itertools.product(*(domain(t) for _, t in ty.fields))
        ]
    raise ValueError(f"`{ty}` is not finite")


def _string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def format_value(value: Any, ty: Type) -> str:
    """`value` written as a spec expression of type `ty` (as in a counterexample)."""
    if isinstance(ty, OptionType):
        return "none" if value is None else f"some({format_value(value, ty.elem)})"
    if isinstance(ty, BoolType):
        return "true" if value else "false"
    if isinstance(ty, IntType):
        return str(value)
    if isinstance(ty, StringType):
        return _string(str(value))
    if isinstance(ty, EnumType):
        return value.variant if isinstance(value, EnumValue) else str(value)
    if isinstance(ty, RecordType):
        inner = ", ".join(f"{n}: {format_value(value[n], t)}" for n, t in ty.fields)
        return f"{ty.name}({inner})"
    if isinstance(ty, SetType):
        items = [v for v in domain(ty.elem) if v in value]  # declaration order
        return "{" + ", ".join(format_value(v, ty.elem) for v in items) + "}"
    if isinstance(ty, SeqType):
        return "[" + ", ".join(format_value(v, ty.elem) for v in value) + "]"
    if isinstance(ty, MapType):
        entries = [
            f"{format_value(k, ty.key)}: {format_value(value[k], ty.value)}" for k in domain(ty.key)
        ]
        return "[" + ", ".join(entries) + "]"
    return repr(value)


def to_json(value: Any, ty: Type) -> Any:
    """A spec value as JSON data (for the regression corpus)."""
    if isinstance(ty, OptionType):
        return None if value is None else to_json(value, ty.elem)
    if isinstance(ty, EnumType):
        return value.variant
    if isinstance(ty, RecordType):
        return {n: to_json(value[n], t) for n, t in ty.fields}
    if isinstance(ty, SetType):
        return [to_json(v, ty.elem) for v in domain(ty.elem) if v in value]
    if isinstance(ty, SeqType):
        return [to_json(v, ty.elem) for v in value]
    if isinstance(ty, MapType):
        return [[to_json(k, ty.key), to_json(value[k], ty.value)] for k in domain(ty.key)]
    return value


def from_json(data: Any, ty: Type) -> Any:
    """The inverse of `to_json`; raises ValueError on data that does not fit `ty`."""
    if isinstance(ty, OptionType):
        return None if data is None else from_json(data, ty.elem)
    if isinstance(ty, BoolType):
        if not isinstance(data, bool):
            raise ValueError(f"expected a bool, got {data!r}")
        return data
    if isinstance(ty, IntType):
        if not isinstance(data, int) or isinstance(data, bool):
            raise ValueError(f"expected an int, got {data!r}")
        return data
    if isinstance(ty, StringType):
        if not isinstance(data, str):
            raise ValueError(f"expected a string, got {data!r}")
        return data
    if isinstance(ty, EnumType):
        if data not in ty.variants:
            raise ValueError(f"expected one of {', '.join(ty.variants)}, got {data!r}")
        return EnumValue(ty.name, data)
    if isinstance(ty, RecordType):
        if not isinstance(data, dict) or set(data) != {n for n, _ in ty.fields}:
            raise ValueError(f"expected a `{ty.name}` object, got {data!r}")
        return RecordValue(ty.name, {n: from_json(data[n], t) for n, t in ty.fields})
    if isinstance(ty, SetType):
        if not isinstance(data, list):
            raise ValueError(f"expected a list, got {data!r}")
        return frozenset(from_json(v, ty.elem) for v in data)
    if isinstance(ty, SeqType):
        if not isinstance(data, list) or len(data) > ty.bound:
            raise ValueError(f"expected a list of at most {ty.bound} elements, got {data!r}")
        return tuple(from_json(v, ty.elem) for v in data)
    if isinstance(ty, MapType):
        if not isinstance(data, list):
            raise ValueError(f"expected a list of [key, value], got {data!r}")
        items = {from_json(k, ty.key): from_json(v, ty.value) for k, v in data}
        if set(items) != set(domain(ty.key)):
            raise ValueError("a map must give a value for every key")
        return MapValue(items)
    raise ValueError(f"no JSON form for `{ty}`")
