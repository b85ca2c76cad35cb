"""The values a Cedar schema is made of: types, entity type and action declarations.

Every name is fully qualified (``NS::User``); common types are resolved away
(a type never refers to a common type), so two schemas that say the same
thing in different words compare equal.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias, TypeVar

from lion.kernel.policy._values import EntityUID

__all__ = [
    "EXTENSION_TYPES",
    "ActionDef",
    "Attribute",
    "BoolType",
    "EntityType",
    "EntityTypeDef",
    "ExtensionType",
    "FrozenMap",
    "LongType",
    "RecordType",
    "SetType",
    "StringType",
    "Type",
    "render_type",
]

EXTENSION_TYPES = frozenset({"decimal", "ipaddr", "datetime", "duration"})

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V]):
    """An immutable, hashable mapping (insertion order kept)."""

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Mapping[K, V] | None = None) -> None:
        self._items: dict[K, V] = dict(items or {})
        self._hash: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._items[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._items == other._items
        return isinstance(other, Mapping) and self._items == dict(other)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"


@dataclass(frozen=True, slots=True)
class BoolType:
    """Cedar's ``Bool`` (``Boolean`` in the JSON form)."""


@dataclass(frozen=True, slots=True)
class LongType:
    """A signed 64-bit integer."""


@dataclass(frozen=True, slots=True)
class StringType:
    """A string."""


@dataclass(frozen=True, slots=True)
class EntityType:
    """A reference to an entity of the (fully qualified) type ``name``."""

    name: str


@dataclass(frozen=True, slots=True)
class SetType:
    """A set whose elements all have type ``element``."""

    element: Type


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute of a record: its type and whether it must be present."""

    type: Type
    required: bool = True


@dataclass(frozen=True, slots=True)
class RecordType:
    """A record; ``open`` records may hold attributes beyond those declared."""

    attributes: FrozenMap[str, Attribute] = field(default_factory=FrozenMap)
    open: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.attributes, FrozenMap):
            object.__setattr__(self, "attributes", FrozenMap(self.attributes))


@dataclass(frozen=True, slots=True)
class ExtensionType:
    """An extension type: ``decimal``, ``ipaddr``, ``datetime`` or ``duration``."""

    name: str


Type: TypeAlias = (
    BoolType | LongType | StringType | EntityType | SetType | RecordType | ExtensionType
)


@dataclass(frozen=True, slots=True)
class EntityTypeDef:
    """An entity type: its parents' types, attributes, tag type, and (enum types) its ids."""

    name: str
    member_of: tuple[str, ...] = ()
    shape: RecordType = field(default_factory=RecordType)
    tags: Type | None = None
    enum: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ActionDef:
    """An action: the action groups it is in, and the requests it applies to.

    An action declared without ``appliesTo`` applies to no request: its
    principal and resource type lists are empty.
    """

    uid: EntityUID
    member_of: tuple[EntityUID, ...] = ()
    principal_types: tuple[str, ...] = ()
    resource_types: tuple[str, ...] = ()
    context: RecordType = field(default_factory=RecordType)


def render_type(t: Type) -> str:
    """``t`` in the human-readable schema syntax (``Set<Long>``, ``{a?: String}``)."""
    if isinstance(t, BoolType):
        return "Bool"
    if isinstance(t, LongType):
        return "Long"
    if isinstance(t, StringType):
        return "String"
    if isinstance(t, EntityType):
        return t.name
    if isinstance(t, ExtensionType):
        return t.name
    if isinstance(t, SetType):
        return f"Set<{render_type(t.element)}>"
    parts = [
        f"{_attr_name(k)}{'' if a.required else '?'}: {render_type(a.type)}"
        for k, a in t.attributes.items()
    ]
    return "{" + ", ".join(parts) + "}"


def _attr_name(name: str) -> str:
    from lion.kernel.policy._values import escape_string

    if name.isidentifier() and name.isascii():
        return name
    return escape_string(name)
