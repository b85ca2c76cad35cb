"""Progression: an ordered sequence of ids with O(1) membership."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, SupportsIndex
from uuid import UUID

import msgspec

from lion.domain._ids import to_id, to_ids
from lion.domain.element import Element
from lion.errors import DomainError, ItemNotFoundError

__all__ = ["Progression", "prog"]

_append = list.append
_list_pop = list.pop
_list_insert = list.insert


class _Order(list[UUID]):
    """A list of UUIDs that keeps a count of each id, so membership is O(1).

    Every mutating list method is overridden, so even code that edits
    ``progression.order`` directly keeps the counts right.
    """

    __slots__ = ("counts",)

    def __init__(self, ids: Iterable[UUID] = ()) -> None:
        super().__init__(ids)
        self._recount()

    def _add(self, u: UUID) -> None:
        counts = self.counts
        counts[u] = counts.get(u, 0) + 1

    def _drop(self, u: UUID) -> None:
        counts = self.counts
        n = counts[u] - 1
        if n:
            counts[u] = n
        else:
            del counts[u]

    def _recount(self) -> None:
        counts = dict.fromkeys(self, 1)
        if len(counts) == len(self):  # no duplicates: every count is 1
            self.counts = counts
            return
        counts = {}
        get = counts.get
        for u in self:
            counts[u] = get(u, 0) + 1
        self.counts = counts

    def append(self, ref: Any) -> None:
        u = to_id(ref)
        _append(self, u)
        self._add(u)

    def extend(self, refs: Iterable[Any]) -> None:
        ids = to_ids(list(refs))
        super().extend(ids)
        for u in ids:
            self._add(u)

    def __iadd__(self, refs: Iterable[Any]) -> _Order:  # type: ignore[override,misc]
        self.extend(refs)
        return self

    def __imul__(self, n: SupportsIndex) -> _Order:
        super().__imul__(n)
        self._recount()
        return self

    def insert(self, index: SupportsIndex, ref: Any) -> None:
        u = to_id(ref)
        _list_insert(self, index, u)
        self._add(u)

    def pop(self, index: SupportsIndex = -1) -> UUID:
        u = _list_pop(self, index)
        self._drop(u)
        return u

    def remove(self, ref: Any) -> None:
        u = to_id(ref)
        super().remove(u)
        self._drop(u)

    def clear(self) -> None:
        super().clear()
        self.counts = {}

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, slice):
            super().__setitem__(key, to_ids(list(value)))
            self._recount()
        else:
            u = to_id(value)
            old = self[key]
            super().__setitem__(key, u)
            self._drop(old)
            self._add(u)

    def __delitem__(self, key: Any) -> None:
        if isinstance(key, slice):
            super().__delitem__(key)
            self._recount()
        else:
            old = self[key]
            super().__delitem__(key)
            self._drop(old)

    def copy(self) -> list[UUID]:
        return list(self)


class Progression(Element, kw_only=False):
    """An ordered sequence of ids (duplicates allowed) with O(1) membership.

    ``order`` is a list of UUIDs; items may be given as UUIDs, UUID strings or
    anything with an ``id``. Edit it through the methods (or the list itself:
    the membership index follows either way).
    """

    order: list[UUID] = msgspec.field(default_factory=list)
    name: str | None = None

    def __post_init__(self) -> None:
        Element.__post_init__(self)
        order = self.order
        if type(order) is not _Order:
            if isinstance(order, Progression):
                order = order.order
            msgspec.structs.force_setattr(self, "order", _Order(to_ids(order)))
        if self.name is not None and not isinstance(self.name, str):
            raise DomainError(
                f"progression name must be a string, got `{type(self.name).__name__}`"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "order":
            value = _Order(to_ids(value))
        super().__setattr__(name, value)

    @property
    def _o(self) -> _Order:
        return self.order  # type: ignore[return-value]

    # -- sequence protocol ---------------------------------------------------

    def __len__(self) -> int:
        return len(self.order)

    def __bool__(self) -> bool:
        return bool(self.order)

    def __iter__(self) -> Iterator[UUID]:
        return iter(self.order)

    def __reversed__(self) -> Iterator[UUID]:
        return reversed(self.order)

    def __contains__(self, item: Any) -> bool:
        """True when every id that ``item`` refers to is in the progression."""
        counts = self._o.counts
        if type(item) is UUID:
            return item in counts
        try:
            ids = to_ids(item)
        except DomainError:
            return False
        return bool(ids) and all(u in counts for u in ids)

    def __getitem__(self, key: Any) -> Any:
        """``p[i]`` is a UUID; ``p[a:b]`` is a new Progression (possibly empty)."""
        if isinstance(key, slice):
            return Progression(order=list.__getitem__(self.order, key), name=self.name)
        if not isinstance(key, int):
            raise DomainError(
                f"progression indices must be integers or slices, not `{type(key).__name__}`"
            )
        try:
            return self.order[key]
        except IndexError:
            raise ItemNotFoundError(
                f"index `{key}` is out of range for a progression of length {len(self)}"
            ) from None

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, slice):
            self.order[key] = to_ids(value)
            return
        self._check_index(key)
        self.order[key] = to_id(value)

    def __delitem__(self, key: Any) -> None:
        if not isinstance(key, slice):
            self._check_index(key)
        del self.order[key]

    def _check_index(self, index: Any, *, allow_end: bool = False) -> int:
        if not isinstance(index, int) or isinstance(index, bool):
            raise DomainError(f"progression index must be an integer, not `{type(index).__name__}`")
        n = len(self.order)
        i = index + n if index < 0 else index
        if not 0 <= i < n + (1 if allow_end else 0):
            raise ItemNotFoundError(
                f"index `{index}` is out of range for a progression of length {n}"
            )
        return i

    # -- v0 operations ---------------------------------------------------------

    def include(self, item: Any, /) -> bool:
        """Append each referenced id not already present; True if anything was added."""
        order = self._o
        counts = order.counts
        if type(item) is UUID:
            if item in counts:
                return False
            _append(order, item)
            counts[item] = 1
            return True
        added = False
        for u in to_ids(item):
            if u not in counts:
                _append(order, u)
                counts[u] = 1
                added = True
        return added

    def exclude(self, item: Any, /) -> bool:
        """Remove every occurrence of each referenced id; True if anything was removed."""
        order = self._o
        drop = set(to_ids(item)) & order.counts.keys()
        if not drop:
            return False
        if len(drop) == 1 and order.counts[next(iter(drop))] == 1:
            order.remove(next(iter(drop)))
            return True
        self.order = [u for u in order if u not in drop]
        return True

    def append(self, item: Any, /) -> None:
        """Append the referenced id(s), duplicates allowed."""
        order = self._o
        if type(item) is UUID:
            _append(order, item)
            order._add(item)
            return
        for u in to_ids(item):
            _append(order, u)
            order._add(u)

    def extend(self, other: Any, /) -> None:
        """Append every id of ``other`` (a Progression or any id references)."""
        self.append(other.order if isinstance(other, Progression) else other)

    def insert(self, index: int, item: Any, /) -> None:
        """Insert the referenced id(s) before ``index`` (clamped to the ends, like a list)."""
        if not isinstance(index, int) or isinstance(index, bool):
            raise DomainError(f"progression index must be an integer, not `{type(index).__name__}`")
        ids = to_ids(item)
        order = self._o
        for u in reversed(ids):
            order.insert(index, u)

    def pop(self, index: int = -1) -> UUID:
        """Remove and return the id at ``index`` (last by default)."""
        if not self.order:
            raise ItemNotFoundError("cannot pop from an empty progression")
        i = self._check_index(index)
        return self._o.pop(i)

    def popleft(self) -> UUID:
        """Remove and return the first id."""
        if not self.order:
            raise ItemNotFoundError("cannot pop from an empty progression")
        return self._o.pop(0)

    def remove(self, item: Any, /) -> None:
        """Remove every occurrence of each referenced id; ItemNotFoundError if one is absent."""
        ids = to_ids(item)
        missing = [u for u in ids if u not in self._o.counts]
        if missing:
            raise ItemNotFoundError(f"`{missing[0]}` is not in the progression")
        self.exclude(ids)

    def count(self, item: Any, /) -> int:
        """How many times the referenced id occurs."""
        return self._o.counts.get(to_id(item), 0)

    def index(self, item: Any, start: int = 0, end: int | None = None) -> int:
        """Position of the first occurrence of the referenced id in ``[start, end)``."""
        u = to_id(item)
        try:
            if end is None:
                return self.order.index(u, start)
            return self.order.index(u, start, end)
        except ValueError:
            raise ItemNotFoundError(f"`{u}` is not in the progression") from None

    def move(self, from_index: int, to_index: int) -> None:
        """Move the id at ``from_index`` so it sits before the id now at ``to_index``.

        ``to_index`` may be ``len(self)`` (move to the end); as in v0, the id
        ends up at ``to_index - 1`` when it moves right.
        """
        if not self.order:
            raise ItemNotFoundError("cannot move within an empty progression")
        src = self._check_index(from_index)
        dst = self._check_index(to_index, allow_end=True)
        u = _list_pop(self.order, src)
        if src < dst:
            dst -= 1
        _list_insert(self.order, dst, u)

    def swap(self, index1: int, index2: int) -> None:
        """Swap the ids at two positions."""
        i = self._check_index(index1)
        j = self._check_index(index2)
        order = self.order
        a, b = order[i], order[j]
        list.__setitem__(order, i, b)
        list.__setitem__(order, j, a)

    def reverse(self) -> None:
        """Reverse in place."""
        self.order.reverse()

    def clear(self) -> None:
        """Remove every id."""
        self._o.clear()

    # -- operators -------------------------------------------------------------

    def __add__(self, other: Any) -> Progression:
        return Progression(order=[*self.order, *to_ids(_refs(other))], name=self.name)

    def __radd__(self, other: Any) -> Progression:
        return Progression(order=[*to_ids(_refs(other)), *self.order], name=self.name)

    def __iadd__(self, other: Any) -> Progression:
        self.append(_refs(other))
        return self

    def __sub__(self, other: Any) -> Progression:
        drop = set(to_ids(_refs(other)))
        return Progression(order=[u for u in self.order if u not in drop], name=self.name)

    def __isub__(self, other: Any) -> Progression:
        self.remove(_refs(other))
        return self

    def __repr__(self) -> str:
        return f"Progression(name={self.name!r}, order={list(self.order)!r})"


def _refs(other: Any) -> Any:
    return other.order if isinstance(other, Progression) else other


def prog(order: Any = None, name: str | None = None, /) -> Progression:
    """Shorthand for ``Progression(order=order, name=name)``."""
    return Progression(order=[] if order is None else order, name=name)
