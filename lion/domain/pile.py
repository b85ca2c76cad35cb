"""Pile[T]: a typed, ordered collection of Elements, safe under threads and tasks."""

from __future__ import annotations

import gc
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar, Union
from uuid import UUID

import anyio
import msgspec

from lion.domain._ids import to_id, to_ids
from lion.domain.element import Element, _registry_state, _union_for, element_classes
from lion.domain.progression import Progression
from lion.errors import DeserializationError, DomainError, ItemExistsError, ItemNotFoundError

__all__ = ["Pile"]

T = TypeVar("T", bound=Element)
P = TypeVar("P", bound="Pile[Any]")


class _Undefined:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Any = _Undefined()
_list_append = list.append


class _TaskLock:
    """An async lock that the task holding it may take again (so ``async with pile:``
    can call ``await pile.ainclude(...)`` inside)."""

    def __init__(self) -> None:
        self._lock: anyio.Lock | None = None
        self._owner: object = None
        self._depth = 0

    async def acquire(self) -> None:
        me = anyio.get_current_task().id
        if self._owner == me:
            self._depth += 1
            return
        if self._lock is None:  # created in async context: anyio needs a running loop
            self._lock = anyio.Lock()
        await self._lock.acquire()
        self._owner = me
        self._depth = 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            assert self._lock is not None
            self._lock.release()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()


class Pile(Element, Generic[T], kw_only=False, dict=True):
    """An ordered collection of Elements keyed by id.

    ``collections`` maps id to item, ``progression`` holds the order. With
    ``item_type`` set, only instances of those types (exactly those types when
    ``strict_type``) are admitted. Every sync method holds a reentrant thread
    lock; the ``a``-prefixed variants also serialize tasks, and ``async with
    pile:`` holds the pile for a whole block.
    """

    collections: Any = msgspec.field(default_factory=dict)
    item_type: Any = None
    progression: Progression | None = None
    strict_type: bool = False

    def __post_init__(self) -> None:
        Element.__post_init__(self)
        item_type = _resolve_item_type(self.item_type)
        items = _as_items(self.collections)
        _check_items(items, item_type, self.strict_type)
        collections = {i.id: i for i in items}
        progression = self.progression
        if progression is None:
            progression = Progression(order=list(collections))
        else:
            if not isinstance(progression, Progression):
                progression = Progression(order=to_ids(progression))
            counts = progression.order.counts  # type: ignore[attr-defined]
            if len(progression.order) != len(collections) or counts.keys() != collections.keys():
                raise DomainError(
                    "the pile's order does not match its items: expected each item's id "
                    "exactly once"
                )
        _set = msgspec.structs.force_setattr
        _set(self, "collections", collections)
        _set(self, "item_type", item_type)
        _set(self, "progression", progression)
        self._lock = threading.RLock()
        self._alock = _TaskLock()

    # -- admission ---------------------------------------------------------

    def _admit(self, item: Any) -> list[Element]:
        """The items ``item`` stands for, checked against the item type."""
        if isinstance(item, Element):
            items: list[Element] = [item]
        else:
            items = _as_items(item)
        _check_items(items, self.item_type, self.strict_type)
        return items

    # -- sync interface ----------------------------------------------------

    def include(self, item: Any, /) -> None:
        """Add each item whose id is not yet in the pile (present ones are left as they are)."""
        items = self._admit(item)
        with self._lock:
            collections = self.collections
            order = self.progression.order  # type: ignore[union-attr]
            counts = order.counts  # type: ignore[union-attr]
            for i in items:
                u = i.id
                if u not in collections:
                    collections[u] = i
                    _list_append(order, u)
                    counts[u] = 1

    def exclude(self, item: Any, /) -> None:
        """Remove each referenced item that is present; absent ones are ignored."""
        ids = _ref_ids(item)
        with self._lock:
            present = [u for u in ids if u in self.collections]
            if present:
                self.progression.exclude(present)  # type: ignore[union-attr]
                for u in present:
                    self.collections.pop(u, None)

    def update(self, other: Any, /) -> None:
        """Replace items already present (by id) and add the others at the end."""
        items = self._admit(other)
        with self._lock:
            for i in items:
                if i.id not in self.collections:
                    self.progression.include(i.id)  # type: ignore[union-attr]
                self.collections[i.id] = i

    def append(self, item: Any, /) -> None:
        """Same as ``update`` (v0's meaning of append)."""
        self.update(item)

    def insert(self, index: int, item: Any, /) -> None:
        """Insert new item(s) before ``index``; ItemExistsError if one is already present."""
        items = self._admit(item)
        with self._lock:
            seen: set[UUID] = set()
            for i in items:
                if i.id in self.collections or i.id in seen:
                    raise ItemExistsError(f"item `{i.id}` is already in the pile")
                seen.add(i.id)
            self.progression.insert(index, [i.id for i in items])  # type: ignore[union-attr]
            for i in items:
                self.collections[i.id] = i

    def pop(self, key: Any, default: Any = UNDEFINED, /) -> Any:
        """Remove and return by id, element, index (one item), slice (a Pile) or list of refs.

        ItemNotFoundError when absent, unless ``default`` is given.
        """
        with self._lock:
            try:
                if isinstance(key, slice):
                    ids = list(self.progression[key].order)  # type: ignore[index]
                    popped = [self.collections[u] for u in ids]
                    self._remove_ids(ids)
                    return self._like(popped)
                if isinstance(key, int) and not isinstance(key, bool):
                    u = self._id_at(key)
                    item = self.collections[u]
                    self._remove_ids([u])
                    return item
                if isinstance(key, list | tuple):
                    ids = [to_id(k) for k in key]
                    missing = [u for u in ids if u not in self.collections]
                    if missing:
                        raise ItemNotFoundError(f"item `{missing[0]}` is not in the pile")
                    out = [self.collections[u] for u in ids]
                    self._remove_ids(list(dict.fromkeys(ids)))
                    return out
                u = to_id(key)
                if u not in self.collections:
                    raise ItemNotFoundError(f"item `{u}` is not in the pile")
                item = self.collections[u]
                self._remove_ids([u])
                return item
            except (ItemNotFoundError, DomainError):
                if default is UNDEFINED:
                    raise
                return default

    def remove(self, item: Any, /) -> None:
        """Remove an item by reference; ItemNotFoundError if absent."""
        if isinstance(item, int | slice):
            raise DomainError("remove takes an item or id, not an index: use `pop` for indices")
        self.pop(item)

    def get(self, key: Any, default: Any = UNDEFINED, /) -> Any:
        """Like ``pile[key]``, but returns ``default`` instead of raising when given one."""
        try:
            return self[key]
        except (ItemNotFoundError, DomainError):
            if default is UNDEFINED:
                raise
            return default

    def clear(self) -> None:
        """Remove every item."""
        with self._lock:
            self.collections.clear()
            self.progression.clear()  # type: ignore[union-attr]

    def keys(self) -> list[UUID]:
        """Ids in order."""
        with self._lock:
            return list(self.progression.order)  # type: ignore[union-attr]

    def values(self) -> list[T]:
        """Items in order."""
        with self._lock:
            c = self.collections
            return [c[u] for u in self.progression.order]  # type: ignore[union-attr]

    def items(self) -> list[tuple[UUID, T]]:
        """(id, item) pairs in order."""
        with self._lock:
            c = self.collections
            return [(u, c[u]) for u in self.progression.order]  # type: ignore[union-attr]

    def is_empty(self) -> bool:
        return not self.collections

    def size(self) -> int:
        return len(self.collections)

    def filter(self, predicate: Callable[[T], bool]) -> Pile[T]:
        """A new Pile of the items for which ``predicate`` is true, in order."""
        return self._like([i for i in self.values() if predicate(i)])

    def filter_by_type(
        self,
        item_type: Any,
        strict_type: bool = False,
        as_pile: bool = False,
        reverse: bool = False,
        num_items: int | None = None,
    ) -> Any:
        """Items that are instances of ``item_type`` (a type or several), in order.

        A list by default, a Pile with ``as_pile=True``; ``reverse`` walks from
        the end and ``num_items`` stops after that many matches.
        """
        types = _resolve_item_type(item_type)
        if not types:
            raise DomainError("filter_by_type needs at least one type")
        values = self.values()
        if reverse:
            values.reverse()
        out: list[Any] = []
        for i in values:
            if (type(i) in types) if strict_type else isinstance(i, tuple(types)):
                out.append(i)
                if num_items is not None and len(out) >= num_items:
                    break
        return self._like(out) if as_pile else out

    # -- container protocol ------------------------------------------------

    def __getitem__(self, key: Any) -> Any:
        """``p[id]``/``p[element]``/``p[str]`` and ``p[int]`` give the item; ``p[slice]`` a Pile.

        A list of references gives a list of items; a type or a predicate filters.
        """
        c = self.collections
        if type(key) is UUID:
            try:
                return c[key]
            except KeyError:
                raise ItemNotFoundError(f"item `{key}` is not in the pile") from None
        with self._lock:
            if isinstance(key, slice):
                ids = list.__getitem__(self.progression.order, key)  # type: ignore[union-attr]
                return self._like([c[u] for u in ids])
            if isinstance(key, int) and not isinstance(key, bool):
                return c[self._id_at(key)]
            if isinstance(key, type):
                return self.filter_by_type(key, as_pile=True)
            if isinstance(key, list | tuple):
                out = []
                for k in key:
                    u = to_id(k)
                    if u not in c:
                        raise ItemNotFoundError(f"item `{u}` is not in the pile")
                    out.append(c[u])
                return out
            if callable(key) and not isinstance(key, Element):
                return self.filter(key)
            u = to_id(key)
            if u not in c:
                raise ItemNotFoundError(f"item `{u}` is not in the pile")
            return c[u]

    def __contains__(self, item: Any) -> bool:
        if type(item) is UUID:
            return item in self.collections
        if isinstance(item, Element):
            return item.id in self.collections
        try:
            ids = to_ids(item)
        except DomainError:
            return False
        return bool(ids) and all(u in self.collections for u in ids)

    def __len__(self) -> int:
        return len(self.collections)

    def __bool__(self) -> bool:
        return bool(self.collections)

    def __iter__(self) -> Iterator[T]:
        # A snapshot: the pile may change while the caller walks it.
        return iter(self.values())

    def __list__(self) -> list[T]:
        return self.values()

    # -- set operators -------------------------------------------------------

    def __or__(self, other: Pile[T]) -> Pile[T]:
        _need_pile(other, "|")
        mine = self.values()
        ids = {i.id for i in mine}
        return self._like(mine + [i for i in other.values() if i.id not in ids])

    def __and__(self, other: Pile[T]) -> Pile[T]:
        _need_pile(other, "&")
        return self._like([i for i in self.values() if i.id in other.collections])

    def __xor__(self, other: Pile[T]) -> Pile[T]:
        _need_pile(other, "^")
        mine, theirs = self.values(), other.values()
        return self._like(
            [i for i in mine if i.id not in other.collections]
            + [i for i in theirs if i.id not in self.collections]
        )

    def __sub__(self, other: Pile[T]) -> Pile[T]:
        _need_pile(other, "-")
        return self._like([i for i in self.values() if i.id not in other.collections])

    def __ior__(self, other: Pile[T]) -> Pile[T]:
        _need_pile(other, "|=")
        self.include(other.values())
        return self

    def __iand__(self, other: Pile[T]) -> Pile[T]:
        _need_pile(other, "&=")
        with self._lock:
            self.exclude([u for u in self.keys() if u not in other.collections])
        return self

    def __ixor__(self, other: Pile[T]) -> Pile[T]:
        _need_pile(other, "^=")
        with self._lock:
            theirs = other.values()
            both = [i.id for i in theirs if i.id in self.collections]
            new = [i for i in theirs if i.id not in self.collections]
            self._admit(new)
            self.exclude(both)
            self.include(new)
        return self

    def __isub__(self, other: Pile[T]) -> Pile[T]:
        _need_pile(other, "-=")
        self.exclude(other.keys())
        return self

    # -- async interface -----------------------------------------------------

    async def ainclude(self, item: Any, /) -> None:
        """``include`` for tasks: waits for a holder of ``async with pile``."""
        async with self._alock:
            self.include(item)

    async def aexclude(self, item: Any, /) -> None:
        async with self._alock:
            self.exclude(item)

    async def aupdate(self, other: Any, /) -> None:
        async with self._alock:
            self.update(other)

    async def aappend(self, item: Any, /) -> None:
        async with self._alock:
            self.update(item)

    async def ainsert(self, index: int, item: Any, /) -> None:
        async with self._alock:
            self.insert(index, item)

    async def apop(self, key: Any, default: Any = UNDEFINED, /) -> Any:
        async with self._alock:
            return self.pop(key, default)

    async def aremove(self, item: Any, /) -> None:
        async with self._alock:
            self.remove(item)

    async def aget(self, key: Any, default: Any = UNDEFINED, /) -> Any:
        async with self._alock:
            return self.get(key, default)

    async def aclear(self) -> None:
        async with self._alock:
            self.clear()

    async def __aenter__(self) -> Pile[T]:
        await self._alock.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._alock.release()

    async def __aiter__(self) -> AsyncIterator[T]:
        async with self._alock:
            snapshot = self.values()
        for item in snapshot:
            yield item

    # -- serialization ---------------------------------------------------------

    @classmethod
    def from_json(cls: type[P], data: str | bytes) -> P:
        """Decode JSON written by ``to_json``; items come back as their own classes."""
        return _decode_pile(cls, data, "json")

    @classmethod
    def from_msgpack(cls: type[P], data: bytes) -> P:
        """Decode MessagePack written by ``to_msgpack``."""
        return _decode_pile(cls, data, "msgpack")

    # -- helpers -------------------------------------------------------------

    def _id_at(self, index: int) -> UUID:
        order = self.progression.order  # type: ignore[union-attr]
        try:
            return order[index]
        except IndexError:
            raise ItemNotFoundError(
                f"index `{index}` is out of range for a pile of length {len(order)}"
            ) from None

    def _remove_ids(self, ids: list[UUID]) -> None:
        self.progression.exclude(ids)  # type: ignore[union-attr]
        for u in ids:
            self.collections.pop(u, None)

    def _like(self, items: Iterable[Any]) -> Pile[T]:
        """A new pile of the same class and item type holding ``items``."""
        return type(self)(
            collections=list(items), item_type=self.item_type, strict_type=self.strict_type
        )

    def __copy__(self) -> Pile[T]:
        return type(self)(
            collections=self.values(),
            item_type=self.item_type,
            strict_type=self.strict_type,
            id=self.id,
            created_at=self.created_at,
            metadata=dict(self.metadata),
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> Pile[T]:
        import copy

        return type(self)(
            collections=[copy.deepcopy(i, memo) for i in self.values()],
            item_type=self.item_type,
            strict_type=self.strict_type,
            id=self.id,
            created_at=self.created_at,
            metadata=copy.deepcopy(self.metadata, memo),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} items)"


def _need_pile(other: Any, op: str) -> None:
    if not isinstance(other, Pile):
        raise DomainError(f"`{op}` needs a Pile on both sides, got `{type(other).__name__}`")


def _ref_ids(item: Any) -> list[UUID]:
    if isinstance(item, Pile):
        return item.keys()
    if isinstance(item, Element):
        return [item.id]
    if isinstance(item, dict):
        return to_ids(list(item.keys()))
    return to_ids(item)


def _as_items(value: Any) -> list[Any]:
    """Normalise what a pile may be given into a list of items (dicts are decoded)."""
    if value is None:
        return []
    if isinstance(value, Pile):
        return value.values()
    if isinstance(value, Element) or (hasattr(value, "id") and not isinstance(value, dict)):
        return [value]
    if isinstance(value, dict):
        # one serialized element, or a mapping of id -> item
        one = "lion_class" in value and "id" in value
        value = [value] if one else list(value.values())
    elif isinstance(value, list | tuple | set | frozenset) or hasattr(value, "__iter__"):
        if isinstance(value, str | bytes):
            raise DomainError(f"a pile holds elements, not `{type(value).__name__}` values")
        value = list(value)
    else:
        raise DomainError(f"a pile holds elements, not `{type(value).__name__}` values")
    out: list[Any] = value
    if any(isinstance(i, dict) for i in out):
        out = _decode_raw(out)
    return out


def _decode_raw(values: list[Any]) -> list[Any]:
    """Turn serialized items (dicts) into Elements, all at once where possible."""
    union = _union_for(Element)
    try:
        if all(isinstance(v, dict) for v in values):
            return msgspec.convert(values, list[union], strict=False)  # type: ignore[valid-type]
        return [
            msgspec.convert(v, union, strict=False) if isinstance(v, dict) else v for v in values
        ]
    except msgspec.ValidationError as exc:
        raise DeserializationError(f"invalid item in pile data: {exc}") from None


def _check_items(items: list[Any], item_type: frozenset[type] | None, strict: bool) -> None:
    for i in items:
        if item_type is None:
            if not isinstance(i, Element) and not isinstance(getattr(i, "id", None), UUID):
                raise DomainError(
                    f"a pile holds elements (objects with a UUID `id`), not `{type(i).__name__}`"
                )
        elif strict:
            if type(i) not in item_type:
                raise DomainError(
                    f"`{type(i).__name__}` is not allowed in this pile: expected exactly one of "
                    f"{_names(item_type)}"
                )
        elif not isinstance(i, tuple(item_type)):
            raise DomainError(
                f"`{type(i).__name__}` is not allowed in this pile: expected one of "
                f"{_names(item_type)} or a subclass"
            )


def _names(types: frozenset[type]) -> str:
    return ", ".join(sorted(f"`{t.__name__}`" for t in types))


def _resolve_item_type(value: Any) -> frozenset[type] | None:
    """None, a type, a union, a tag string, or a collection of those -> a set of types."""
    if value is None:
        return None
    if isinstance(value, frozenset) and all(isinstance(t, type) for t in value):
        return value
    pending = [value] if isinstance(value, str | type) or _is_union(value) else list(value)
    out: set[type] = set()
    registry: dict[str, type[Element]] | None = None
    while pending:
        t = pending.pop()
        if _is_union(t):
            pending.extend(t.__args__)
        elif isinstance(t, type):
            out.add(t)
        elif isinstance(t, str):
            registry = registry or element_classes()
            if t not in registry:
                raise DomainError(f"unknown item type `{t}`: expected a registered Element class")
            out.add(registry[t])
        else:
            raise DomainError(f"item_type must hold types, not `{t!r}`")
    return frozenset(out) if out else None


def _is_union(t: Any) -> bool:
    import types
    import typing

    return isinstance(t, types.UnionType) or typing.get_origin(t) is typing.Union


_wire_cache: dict[tuple[type[Any], str], tuple[int, Callable[[Any], Any], dict[type, type]]] = {}


def _wire_type(cls: type[Any], item_union: Any) -> type[Any]:
    """A Struct shaped like the Pile class ``cls`` whose items decode straight to Elements.

    ``collections`` is declared ``Any`` on Pile (so nested piles accept any
    item); decoding through this twin lets msgspec build every item in C.
    """
    spec: list[Any] = []
    for f in msgspec.structs.fields(cls):
        tp = dict[str, item_union] if f.name == "collections" else f.type
        if f.default is not msgspec.NODEFAULT:
            spec.append((f.name, tp, f.default))
        elif f.default_factory is not msgspec.NODEFAULT:
            spec.append((f.name, tp, msgspec.field(default_factory=f.default_factory)))
        else:
            spec.append((f.name, tp))
    config = cls.__struct_config__
    return msgspec.defstruct(
        f"_{cls.__name__}Wire",
        spec,
        kw_only=True,
        tag_field="lion_class",
        tag=config.tag,
        forbid_unknown_fields=True,
    )


def _decode_pile(cls: type[P], data: Any, fmt: str) -> P:
    version, classes = _registry_state()
    key = (cls, fmt)
    cached = _wire_cache.get(key)
    if cached is None or cached[0] != version:
        item_union = _union_for(Element)
        wires = {_wire_type(c, item_union): c for c in classes if issubclass(c, cls)}
        union: Any = next(iter(wires)) if len(wires) == 1 else Union[tuple(wires)]  # noqa: UP007
        if fmt == "json":
            fn: Callable[[Any], Any] = msgspec.json.Decoder(union).decode
        else:
            fn = msgspec.msgpack.Decoder(union).decode
        cached = (version, fn, wires)
        _wire_cache[key] = cached
    if not isinstance(data, str | bytes | bytearray | memoryview):
        raise DeserializationError(
            f"cannot decode a `{cls.__name__}` from a `{type(data).__name__}`: "
            "expected str or bytes"
        )
    # Building thousands of objects triggers the cyclic GC again and again;
    # none of them can be garbage yet, so pause it for the decode.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        wire = cached[1](data)
        target = cached[2][type(wire)]
        fields = {f: getattr(wire, f) for f in wire.__struct_fields__}
        return target(**fields)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        raise DeserializationError(f"invalid `{cls.__name__}` data: {exc}") from None
    except msgspec.DecodeError as exc:
        raise DeserializationError(f"malformed {fmt} for a `{cls.__name__}`: {exc}") from None
    except DomainError as exc:
        if isinstance(exc, DeserializationError):
            raise
        raise DeserializationError(f"invalid `{cls.__name__}` data: {exc}") from None
    finally:
        if gc_was_enabled:
            gc.enable()
