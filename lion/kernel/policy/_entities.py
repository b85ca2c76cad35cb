"""Cedar's entities JSON and request JSON -> ``Entities`` and ``Request``.

Every malformed input raises ``PolicyError`` naming the path to the bad field,
such as ``entities[2].attrs.owner``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lion.errors import PolicyError
from lion.kernel.policy._extensions import FUNCTIONS, ExtensionError, call_extension
from lion.kernel.policy._limits import DEFAULT_LIMITS, Limits
from lion.kernel.policy._parse_text import is_type_name, parse_entity_uid
from lion.kernel.policy._text import first_surrogate, printable, surrogate_message
from lion.kernel.policy._values import INT_MAX, INT_MIN, CedarSet, EntityUID, Record, Value

__all__ = [
    "Entities",
    "Entity",
    "Request",
    "closure_budget",
    "load_json",
    "uid_from_json",
    "value_from_json",
]


def _fail(path: str, message: str) -> PolicyError:
    return PolicyError(f"{path}: {message}")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key `{key}`")
        result[key] = value
    return result


def load_json(data: Any, what: str) -> Any:
    """Decode ``data`` if it is JSON text; pass already-decoded values through."""
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError(f"{what}: not valid utf-8: {exc.reason}") from None
    if not isinstance(data, str):
        return data
    try:
        return json.loads(data, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise PolicyError(
            f"{what}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg.lower()}"
        ) from None
    except ValueError as exc:
        raise PolicyError(f"{what}: invalid JSON: {exc}") from None
    except RecursionError:
        raise PolicyError(f"{what}: JSON is nested too deeply") from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a floating-point number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return f"a `{type(value).__name__}`"


def uid_from_json(data: Any, path: str, allow_string: bool = True) -> EntityUID:
    """An entity uid from ``{"type", "id"}``, ``{"__entity": {...}}`` or ``Type::"id"``."""
    if isinstance(data, EntityUID):
        return data
    if isinstance(data, str) and allow_string:
        if (at := first_surrogate(data)) is not None:
            raise _fail(path, surrogate_message(data, at))
        try:
            return parse_entity_uid(data)
        except ValueError as exc:
            raise _fail(path, str(exc)) from None
    if not isinstance(data, Mapping):
        raise _fail(
            path,
            f'expected an entity uid such as {{"type": "User", "id": "alice"}}, got {_kind(data)}',
        )
    if set(data) == {"__entity"}:
        return uid_from_json(data["__entity"], f"{path}.__entity", allow_string=False)
    if set(data) != {"type", "id"}:
        keys = ", ".join(f"`{printable(k)}`" for k in sorted(map(str, data)))
        raise _fail(
            path, f"an entity uid needs exactly the keys `type` and `id`, got {keys or 'none'}"
        )
    type_name, ident = data["type"], data["id"]
    for key, text in (("type", type_name), ("id", ident)):
        if isinstance(text, str) and (at := first_surrogate(text)) is not None:
            raise _fail(f"{path}.{key}", surrogate_message(text, at))
    if not isinstance(type_name, str) or not is_type_name(type_name):
        raise _fail(
            f"{path}.type",
            f"`{type_name}` is not an entity type name such as `User` or `App::User`",
        )
    if not isinstance(ident, str):
        raise _fail(f"{path}.id", f"expected a string, got {_kind(ident)}")
    return EntityUID(type_name, ident)


def value_from_json(data: Any, path: str, limits: Limits = DEFAULT_LIMITS, depth: int = 0) -> Value:
    """A policy value from Cedar's JSON value form (with ``__entity`` and ``__extn`` escapes)."""
    if depth > limits.max_depth:
        raise _fail(path, f"value is nested more than {limits.max_depth} levels deep")
    if isinstance(data, bool):
        return data
    if isinstance(data, int):
        if not INT_MIN <= data <= INT_MAX:
            raise _fail(path, f"integer `{data}` does not fit in 64 bits")
        return data
    if isinstance(data, str):
        if (at := first_surrogate(data)) is not None:
            raise _fail(path, surrogate_message(data, at))
        if len(data) > limits.max_string_length:
            raise _fail(path, f"string is longer than {limits.max_string_length} characters")
        return data
    if isinstance(data, list | tuple):
        if len(data) > limits.max_set_size:
            raise _fail(path, f"set has more than {limits.max_set_size} elements")
        return CedarSet(
            value_from_json(item, f"{path}[{i}]", limits, depth + 1) for i, item in enumerate(data)
        )
    if isinstance(data, Mapping):
        if len(data) == 1 and "__entity" in data:
            return uid_from_json(data["__entity"], f"{path}.__entity", allow_string=False)
        if len(data) == 1 and "__extn" in data:
            return _extension_from_json(data["__extn"], f"{path}.__extn", limits, depth + 1)
        if len(data) > limits.max_record_size:
            raise _fail(path, f"record has more than {limits.max_record_size} fields")
        items: dict[str, Value] = {}
        for key, item in data.items():
            if not isinstance(key, str):
                raise _fail(path, f"record keys must be strings, got `{key!r}`")
            if (at := first_surrogate(key)) is not None:
                raise _fail(path, f"record key {key!a}: {surrogate_message(key, at)}")
            items[key] = value_from_json(item, f"{path}.{key}", limits, depth + 1)
        return Record(items)
    if isinstance(data, float):
        raise _fail(path, f"floating-point numbers such as `{data}` are not supported")
    if data is None:
        raise _fail(path, "null is not a value")
    raise _fail(path, f"expected a JSON value, got {_kind(data)}")


def _extension_from_json(data: Any, path: str, limits: Limits, depth: int) -> Value:
    """``{"fn": "decimal", "arg": "1.5"}`` (or ``"args": [...]``): an extension value."""
    if not isinstance(data, Mapping):
        raise _fail(
            path, f'expected an object such as {{"fn": "ip", "arg": "10.0.0.1"}}, got {_kind(data)}'
        )
    name = data.get("fn")
    if not isinstance(name, str):
        raise _fail(path, f"`fn` must name an extension function, got {_kind(name)}")
    if name not in FUNCTIONS:
        raise _fail(path, f"extension function `{printable(name)}` does not exist")
    if ("arg" in data) == ("args" in data):
        raise _fail(path, "an extension value needs exactly one of `arg` and `args`")
    if "arg" in data:
        raw_args: Any = [data["arg"]]
        where = [f"{path}.arg"]
    else:
        raw_args = data["args"]
        if not isinstance(raw_args, list | tuple):
            raise _fail(f"{path}.args", f"expected an array, got {_kind(raw_args)}")
        where = [f"{path}.args[{i}]" for i in range(len(raw_args))]
    args = [value_from_json(a, w, limits, depth + 1) for a, w in zip(raw_args, where, strict=True)]
    try:
        return call_extension(name, args)
    except ExtensionError as exc:
        raise _fail(path, exc.message) from None


def _record_from_json(data: Any, path: str, limits: Limits) -> Record:
    if not isinstance(data, Mapping):
        raise _fail(path, f"expected an object (a record), got {_kind(data)}")
    value = value_from_json(data, path, limits)
    if not isinstance(value, Record):
        raise _fail(path, "expected a record, got an entity reference")
    return value


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity: its uid, attributes, direct parents and tags."""

    uid: EntityUID
    attrs: Record = field(default_factory=Record)
    parents: frozenset[EntityUID] = frozenset()
    tags: Record = field(default_factory=Record)


class Entities:
    """An entity store. The ancestor closure is computed at construction while
    it stays within ``closure_budget`` entries; past that (a long parent chain
    makes it quadratic) ``in`` is answered by a search over parents, with a
    bounded memo, so memory and loading time stay linear in the input.

    Cycles in the parent graph are allowed: every entity on a cycle is an
    ancestor of every other one.
    """

    __slots__ = ("_ancestors", "_entities", "_memo", "_memo_size")

    def __init__(self, entities: Mapping[EntityUID, Entity] | None = None) -> None:
        self._entities: dict[EntityUID, Entity] = dict(entities or {})
        self._ancestors = _closure(self._entities, closure_budget(len(self._entities)))
        self._memo: dict[EntityUID, frozenset[EntityUID]] = {}
        self._memo_size = 0

    @classmethod
    def from_json(cls, data: Any, limits: Limits = DEFAULT_LIMITS) -> Entities:
        """Load Cedar's entities JSON: a list of ``{"uid", "attrs", "parents", "tags"}``."""
        if isinstance(data, Entities):
            return data
        data = load_json(data, "entities")
        if not isinstance(data, list | tuple):
            raise _fail("entities", f"expected an array of entities, got {_kind(data)}")
        if len(data) > limits.max_entities:
            raise _fail("entities", f"more than {limits.max_entities} entities")
        store: dict[EntityUID, Entity] = {}
        for index, item in enumerate(data):
            path = f"entities[{index}]"
            if not isinstance(item, Mapping):
                raise _fail(path, f"expected an object, got {_kind(item)}")
            unknown = set(item) - {"uid", "attrs", "parents", "tags"}
            if unknown:
                names = ", ".join(f"`{printable(k)}`" for k in sorted(map(str, unknown)))
                raise _fail(
                    path, f"unexpected key {names}; expected `uid`, `attrs`, `parents`, `tags`"
                )
            if "uid" not in item:
                raise _fail(path, "missing `uid`")
            uid = uid_from_json(item["uid"], f"{path}.uid", allow_string=False)
            attrs = _record_from_json(item.get("attrs", {}), f"{path}.attrs", limits)
            parents_json = item.get("parents", [])
            if not isinstance(parents_json, list | tuple):
                raise _fail(
                    f"{path}.parents",
                    f"expected an array of entity uids, got {_kind(parents_json)}",
                )
            parents = frozenset(
                uid_from_json(p, f"{path}.parents[{i}]", allow_string=False)
                for i, p in enumerate(parents_json)
            )
            tags = _record_from_json(item.get("tags", {}), f"{path}.tags", limits)
            entity = Entity(uid, attrs, parents, tags)
            # Cedar accepts a repeated entity only when both copies are identical.
            if store.setdefault(uid, entity) != entity:
                raise _fail(f"{path}.uid", f"entity `{uid}` appears twice with different contents")
        return cls(store)

    def get(self, uid: EntityUID) -> Entity | None:
        """The entity, or None when the store does not have it."""
        return self._entities.get(uid)

    def ancestors(self, uid: EntityUID) -> frozenset[EntityUID]:
        """Every entity ``uid`` is transitively ``in`` (not counting itself)."""
        if self._ancestors is not None:
            return self._ancestors.get(uid, _EMPTY)
        found = self._memo.get(uid)
        if found is None:
            found = _search(self._entities, uid)
            # The memo holds at most one closure budget of entries in total.
            if self._memo_size + len(found) > closure_budget(len(self._entities)):
                self._memo.clear()
                self._memo_size = 0
            self._memo[uid] = found
            self._memo_size += len(found)
        return found

    @property
    def has_closure(self) -> bool:
        """Whether the closure was computed (False: ``in`` searches the parents)."""
        return self._ancestors is not None

    def __contains__(self, uid: object) -> bool:
        return uid in self._entities

    def __len__(self) -> int:
        return len(self._entities)

    def __iter__(self) -> Any:
        return iter(self._entities.values())


_EMPTY: frozenset[EntityUID] = frozenset()


def closure_budget(entities: int) -> int:
    """The most closure entries (and search work) spent on a store of this size:
    linear (eight per entity plus a constant), the same bound as the Rust core."""
    return 8 * entities + 65_536


def _search(entities: Mapping[EntityUID, Entity], start: EntityUID) -> frozenset[EntityUID]:
    """The ancestors of ``start``: a depth-first search over parents, linear in what it reaches."""
    seen = {start}
    stack = [start]
    while stack:
        entity = entities.get(stack.pop())
        if entity is None:
            continue
        for parent in entity.parents:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    # `in` is reflexive anyway; keep an entity out of its own ancestor set.
    seen.discard(start)
    return frozenset(seen)


def _closure(
    entities: Mapping[EntityUID, Entity], budget: int
) -> dict[EntityUID, frozenset[EntityUID]] | None:
    """Each entity's ancestors: strongly connected components (Tarjan, iterative), then
    one union per component, parents' components first. None once the unions
    would cost more than ``budget`` entries (time and memory stay linear)."""
    index: dict[EntityUID, int] = {}
    low: dict[EntityUID, int] = {}
    on_stack: set[EntityUID] = set()
    stack: list[EntityUID] = []
    component_of: dict[EntityUID, int] = {}
    components: list[list[EntityUID]] = []  # in reverse topological order: parents first

    def parents(uid: EntityUID) -> tuple[EntityUID, ...]:
        entity = entities.get(uid)
        return tuple(entity.parents) if entity is not None else ()

    for root in entities:
        if root in index:
            continue
        work: list[tuple[EntityUID, int]] = [(root, 0)]
        while work:  # iterative, so long parent chains cannot overflow the stack
            uid, child = work.pop()
            if child == 0:
                index[uid] = low[uid] = len(index)
                stack.append(uid)
                on_stack.add(uid)
            edges = parents(uid)
            if child < len(edges):
                work.append((uid, child + 1))
                nxt = edges[child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[uid] = min(low[uid], index[nxt])
                continue
            if low[uid] == index[uid]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component_of[member] = len(components)
                    members.append(member)
                    if member == uid:
                        break
                components.append(members)
            if work:
                caller = work[-1][0]
                low[caller] = min(low[caller], low[uid])

    reach: list[frozenset[EntityUID]] = []
    spent = 0
    for number, members in enumerate(components):
        acc: set[EntityUID] = set(members) if len(members) > 1 else set()
        for member in members:
            for parent in parents(member):
                acc.add(parent)
                other = component_of[parent]
                if other != number:
                    spent += len(reach[other])
                    acc |= reach[other]
        # Every member gets a copy of the set: an SCC of n costs n * n entries.
        spent += len(acc) * len(members)
        if spent > budget:
            return None  # quadratic input (a long chain): `in` searches instead
        reach.append(frozenset(acc))
    result: dict[EntityUID, frozenset[EntityUID]] = {}
    for uid in entities:
        ancestors = reach[component_of[uid]]
        # `in` is reflexive anyway; keep an entity out of its own ancestor set.
        result[uid] = ancestors - {uid} if uid in ancestors else ancestors
    return result


@dataclass(frozen=True, slots=True)
class Request:
    """An authorization request: who (principal) does what (action) to what (resource)."""

    principal: EntityUID
    action: EntityUID
    resource: EntityUID
    context: Record = field(default_factory=Record)

    @classmethod
    def from_json(cls, data: Any, limits: Limits = DEFAULT_LIMITS) -> Request:
        """Load a request ``{"principal", "action", "resource", "context"}``.

        Each uid may be ``{"type", "id"}``, ``{"__entity": ...}`` or the
        string ``Type::"id"``; ``context`` is an object (or its JSON text).
        """
        if isinstance(data, Request):
            return data
        data = load_json(data, "request")
        if not isinstance(data, Mapping):
            raise _fail("request", f"expected an object, got {_kind(data)}")
        unknown = set(data) - {"principal", "action", "resource", "context", "correlation_id"}
        if unknown:
            names = ", ".join(f"`{printable(k)}`" for k in sorted(map(str, unknown)))
            raise _fail(
                "request",
                f"unexpected key {names}; expected `principal`, `action`, `resource`, `context`",
            )
        uids = []
        for key in ("principal", "action", "resource"):
            if key not in data:
                raise _fail("request", f"missing `{key}`")
            uids.append(uid_from_json(data[key], f"request.{key}"))
        context_json = data.get("context", {})
        if context_json is None:
            context_json = {}
        if isinstance(context_json, str):
            context_json = load_json(context_json, "request.context")
        context = _record_from_json(context_json, "request.context", limits)
        return cls(uids[0], uids[1], uids[2], context)
