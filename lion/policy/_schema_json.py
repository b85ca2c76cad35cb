"""Cedar's JSON schema form -> resolved schema parts (names qualified, common types inlined).

The human-readable reader (``_schema_cedar``) produces this same JSON form,
so name resolution, cycle checks and every semantic error live here once.
Errors point at a place through ``locate(hint)``: a tuple naming what is
wrong (``("entity", "NS::User")``, ``("action", "NS::Action::\\"view\\"")``...),
which each reader maps to a line and column of its own text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lion.errors import SchemaError, SourceLocation
from lion.kernel.policy._values import EntityUID
from lion.policy._schema_types import (
    EXTENSION_TYPES,
    ActionDef,
    Attribute,
    BoolType,
    EntityType,
    EntityTypeDef,
    ExtensionType,
    FrozenMap,
    LongType,
    RecordType,
    SetType,
    StringType,
    Type,
)

__all__ = ["RESERVED_TYPE_NAMES", "Locate", "SchemaParts", "build"]

Locate = Callable[[tuple[str, ...]], SourceLocation | None]

RESERVED_TYPE_NAMES = frozenset(
    {"Bool", "Boolean", "Entity", "Extension", "Long", "Record", "Set", "String"}
)
_PRIMITIVES: dict[str, Type] = {"Bool": BoolType(), "Long": LongType(), "String": StringType()}
_JSON_PRIMITIVES: dict[str, Type] = {
    "Boolean": BoolType(),
    "Long": LongType(),
    "String": StringType(),
}
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*")
_NS_KEYS = frozenset({"commonTypes", "entityTypes", "actions", "annotations"})
_ENTITY_KEYS = frozenset({"memberOfTypes", "shape", "tags", "enum", "annotations"})
_ACTION_KEYS = frozenset({"memberOf", "appliesTo", "attributes", "annotations"})
_APPLIES_KEYS = frozenset({"principalTypes", "resourceTypes", "context"})
_TYPE_KEYS = frozenset(
    {"type", "element", "attributes", "additionalAttributes", "name", "required", "annotations"}
)


@dataclass(frozen=True)
class SchemaParts:
    """What a schema declares, resolved."""

    entity_types: FrozenMap[str, EntityTypeDef]
    actions: FrozenMap[EntityUID, ActionDef]
    common_types: FrozenMap[str, Type]


def _qualify(ns: str, name: str) -> str:
    return f"{ns}::{name}" if ns else name


class _Builder:
    def __init__(self, data: Any, locate: Locate) -> None:
        self.data = data
        self.locate = locate
        self.common_raw: dict[str, tuple[str, Any]] = {}  # qualified -> (namespace, json)
        self.common: dict[str, Type] = {}
        self.resolving: list[str] = []
        self.entity_names: set[str] = set()
        self.action_uids: set[EntityUID] = set()

    def fail(self, message: str, *hint: str) -> SchemaError:
        return SchemaError(message, self.locate(hint) if hint else self.locate(()))

    # ------------------------------------------------------------------ shapes of JSON

    def obj(self, value: Any, what: str, *hint: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(f"{what} must be a JSON object", *hint)
        return value

    def keys(
        self, value: Mapping[str, Any], allowed: frozenset[str], what: str, *hint: str
    ) -> None:
        for key in value:
            if key not in allowed:
                expected = ", ".join(f"`{k}`" for k in sorted(allowed))
                raise self.fail(
                    f"unknown field `{key}` in {what}; expected one of {expected}", *hint
                )

    def strings(self, value: Any, what: str, *hint: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{what} must be a list of strings", *hint)
        return value

    # ------------------------------------------------------------------ names

    def entity_name(self, ns: str, name: str, *hint: str) -> str:
        if not _PATH.fullmatch(name):
            raise self.fail(f"`{name}` is not a valid entity type name", *hint)
        for candidate in (_qualify(ns, name), name) if "::" not in name else (name,):
            if candidate in self.entity_names:
                return candidate
        raise self.fail(f"failed to resolve type: `{name}` is not a declared entity type", *hint)

    def common_or_builtin(self, ns: str, name: str, entities: bool, *hint: str) -> Type:
        """Cedar's lookup order: common type, entity type (if allowed), then a built-in type."""
        if name.startswith("__cedar::"):
            builtin = name[len("__cedar::") :]
            found = self.builtin(builtin)
            if found is None:
                raise self.fail(f"failed to resolve type: `{name}`", *hint)
            return found
        candidates = (_qualify(ns, name), name) if "::" not in name else (name,)
        for candidate in candidates:
            if candidate in self.common_raw:
                return self.resolve_common(candidate)
            if entities and candidate in self.entity_names:
                return EntityType(candidate)
        found = self.builtin(name)
        if found is None:
            raise self.fail(f"failed to resolve type: `{name}`", *hint)
        return found

    @staticmethod
    def builtin(name: str) -> Type | None:
        if name in _PRIMITIVES:
            return _PRIMITIVES[name]
        if name in EXTENSION_TYPES:
            return ExtensionType(name)
        return None

    def resolve_common(self, qualified: str) -> Type:
        if qualified in self.common:
            return self.common[qualified]
        if qualified in self.resolving:
            raise self.fail(
                f"cycle in common type references containing `{qualified}`", "common", qualified
            )
        self.resolving.append(qualified)
        ns, raw = self.common_raw[qualified]
        resolved = self.type(ns, raw, "common", qualified)
        self.resolving.pop()
        self.common[qualified] = resolved
        return resolved

    # ------------------------------------------------------------------ types

    def type(self, ns: str, node: Any, *hint: str) -> Type:
        node = self.obj(node, "a type", *hint)
        self.keys(node, _TYPE_KEYS, "a type", *hint)
        kind = node.get("type")
        if not isinstance(kind, str):
            raise self.fail("a type needs a string `type` field", *hint)
        if kind in _JSON_PRIMITIVES:
            return _JSON_PRIMITIVES[kind]
        if kind == "Set":
            if "element" not in node:
                raise self.fail("missing field `element` in a `Set` type", *hint)
            return SetType(self.type(ns, node["element"], *hint))
        if kind == "Record":
            return self.record(ns, node, *hint)
        if kind in ("Entity", "Extension", "EntityOrCommon"):
            name = node.get("name")
            if not isinstance(name, str):
                raise self.fail(f"missing string field `name` in an `{kind}` type", *hint)
            if kind == "Entity":
                return EntityType(self.entity_name(ns, name, *hint))
            if kind == "Extension":
                if name not in EXTENSION_TYPES:
                    raise self.fail(f"unknown extension type `{name}`", *hint)
                return ExtensionType(name)
            return self.common_or_builtin(ns, name, True, *hint)
        return self.common_or_builtin(ns, kind, False, *hint)

    def record(self, ns: str, node: Mapping[str, Any], *hint: str) -> RecordType:
        if node.get("additionalAttributes", False) is not False:
            raise self.fail("unsupported feature used in schema: `additionalAttributes`", *hint)
        attributes = self.obj(node.get("attributes", {}), "`attributes`", *hint)
        out: dict[str, Attribute] = {}
        for name, sub in attributes.items():
            sub = self.obj(sub, f"attribute `{name}`", *hint)
            required = sub.get("required", True)
            if not isinstance(required, bool):
                raise self.fail(f"`required` of attribute `{name}` must be a boolean", *hint, name)
            plain = {k: v for k, v in sub.items() if k != "required"}
            out[name] = Attribute(self.type(ns, plain, *hint, name), required)
        return RecordType(FrozenMap(out))

    def record_type(self, ns: str, node: Any, what: str, *hint: str) -> RecordType:
        resolved = self.type(ns, node, *hint)
        if not isinstance(resolved, RecordType):
            raise self.fail(f"{what} is declared with a type other than `Record`", *hint)
        return resolved

    # ------------------------------------------------------------------ declarations

    def namespaces(self) -> list[tuple[str, Mapping[str, Any]]]:
        top = self.obj(self.data, "a schema")
        out = []
        for ns, body in top.items():
            if ns and not _PATH.fullmatch(ns):
                raise self.fail(f"`{ns}` is not a valid namespace name", "namespace", ns)
            if ns == "__cedar" or ns.startswith("__cedar::"):
                raise self.fail("use of the reserved `__cedar` namespace", "namespace", ns)
            body = self.obj(body, f"namespace `{ns}`", "namespace", ns)
            self.keys(body, _NS_KEYS, f"namespace `{ns}`", "namespace", ns)
            for required in ("entityTypes", "actions"):
                if required not in body:
                    raise self.fail(
                        f"missing field `{required}` in namespace `{ns}`", "namespace", ns
                    )
            out.append((ns, body))
        return out

    def declare(self, spaces: list[tuple[str, Mapping[str, Any]]]) -> None:
        for ns, body in spaces:
            for name, raw in self.obj(body.get("commonTypes", {}), "`commonTypes`").items():
                if name in RESERVED_TYPE_NAMES or not _PATH.fullmatch(name) or "::" in name:
                    raise self.fail(
                        f"`{name}` cannot be the name of a common type",
                        "common",
                        _qualify(ns, name),
                    )
                self.common_raw[_qualify(ns, name)] = (ns, raw)
            for name in self.obj(body["entityTypes"], "`entityTypes`"):
                if not _PATH.fullmatch(name) or "::" in name:
                    raise self.fail(
                        f"`{name}` is not a valid entity type name", "entity", _qualify(ns, name)
                    )
                if name == "Action":
                    raise self.fail(
                        "entity type `Action` declared in `entityTypes` list",
                        "entity",
                        _qualify(ns, name),
                    )
                self.entity_names.add(_qualify(ns, name))
            for name in self.obj(body["actions"], "`actions`"):
                self.action_uids.add(EntityUID(_qualify(ns, "Action"), name))
        for ns, body in spaces:
            if not ns:
                continue
            base = {
                n.rsplit("::", 1)[-1]
                for n in list(body.get("commonTypes", {})) + list(body["entityTypes"])
            }
            for name in base:
                if name in self.common_raw or name in self.entity_names:
                    raise self.fail(
                        f"definition of `{ns}::{name}` illegally shadows the existing "
                        f"definition of `{name}`",
                        "entity" if _qualify(ns, name) in self.entity_names else "common",
                        _qualify(ns, name),
                    )

    def entity(self, ns: str, name: str, raw: Any) -> EntityTypeDef:
        qualified = _qualify(ns, name)
        hint = ("entity", qualified)
        raw = self.obj(raw, f"entity type `{qualified}`", *hint)
        self.keys(raw, _ENTITY_KEYS, f"entity type `{qualified}`", *hint)
        parents = tuple(
            dict.fromkeys(
                self.entity_name(ns, p, *hint)
                for p in self.strings(raw.get("memberOfTypes", []), "`memberOfTypes`", *hint)
            )
        )
        if "enum" in raw:
            ids = self.strings(raw["enum"], "`enum`", *hint)
            if not ids:
                raise self.fail(f"the enum of entity type `{qualified}` is empty", *hint)
            if "shape" in raw or "tags" in raw:
                raise self.fail(
                    f"enumerated entity type `{qualified}` cannot have a shape or tags", *hint
                )
            return EntityTypeDef(qualified, parents, RecordType(), None, tuple(dict.fromkeys(ids)))
        shape = (
            self.record_type(ns, raw["shape"], f"shape for entity type `{qualified}`", *hint)
            if "shape" in raw
            else RecordType()
        )
        tags = self.type(ns, raw["tags"], *hint) if "tags" in raw else None
        return EntityTypeDef(qualified, parents, shape, tags)

    def action(self, ns: str, name: str, raw: Any) -> ActionDef:
        uid = EntityUID(_qualify(ns, "Action"), name)
        hint = ("action", str(uid))
        raw = self.obj(raw if raw is not None else {}, f"action `{uid}`", *hint)
        self.keys(raw, _ACTION_KEYS, f"action `{uid}`", *hint)
        parents: list[EntityUID] = []
        for ref in raw.get("memberOf", None) or []:
            ref = self.obj(ref, "an action reference", *hint)
            pid, ptype = ref.get("id"), ref.get("type", _qualify(ns, "Action"))
            if not isinstance(pid, str) or not isinstance(ptype, str):
                raise self.fail("an action reference needs string `id` (and `type`)", *hint)
            if "::" not in ptype and ptype != "Action":
                ptype = _qualify(ns, ptype)
            elif ptype == "Action":
                ptype = _qualify(ns, "Action")
            parent = EntityUID(ptype, pid)
            if parent not in self.action_uids:
                raise self.fail(f"undeclared action: `{parent}`", *hint)
            parents.append(parent)
        applies = raw.get("appliesTo")
        if applies is None:
            return ActionDef(uid, tuple(dict.fromkeys(parents)))
        applies = self.obj(applies, f"`appliesTo` of action `{uid}`", *hint)
        self.keys(applies, _APPLIES_KEYS, f"`appliesTo` of action `{uid}`", *hint)
        lists = []
        for field in ("principalTypes", "resourceTypes"):
            if field not in applies:
                raise self.fail(f"missing field `{field}` in `appliesTo` of action `{uid}`", *hint)
            names = self.strings(applies[field], f"`{field}`", *hint)
            lists.append(tuple(dict.fromkeys(self.entity_name(ns, n, *hint) for n in names)))
        context = (
            self.record_type(ns, applies["context"], f"context for action `{uid}`", *hint)
            if "context" in applies
            else RecordType()
        )
        return ActionDef(uid, tuple(dict.fromkeys(parents)), lists[0], lists[1], context)

    def check_action_cycles(self, actions: Mapping[EntityUID, ActionDef]) -> None:
        state: dict[EntityUID, int] = {}
        for start in actions:
            stack = [(start, iter(actions[start].member_of))]
            if state.get(start):
                continue
            state[start] = 1
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    state[node] = 2
                    stack.pop()
                elif state.get(nxt) == 1:
                    raise self.fail(
                        f"cycle in action hierarchy containing `{nxt}`", "action", str(nxt)
                    )
                elif not state.get(nxt):
                    state[nxt] = 1
                    stack.append((nxt, iter(actions[nxt].member_of)))

    def build(self) -> SchemaParts:
        spaces = self.namespaces()
        self.declare(spaces)
        for qualified in self.common_raw:
            self.resolve_common(qualified)
        entities: dict[str, EntityTypeDef] = {}
        actions: dict[EntityUID, ActionDef] = {}
        for ns, body in spaces:
            for name, raw in body["entityTypes"].items():
                entities[_qualify(ns, name)] = self.entity(ns, name, raw)
            for name, raw in body["actions"].items():
                action = self.action(ns, name, raw)
                actions[action.uid] = action
        self.check_action_cycles(actions)
        return SchemaParts(FrozenMap(entities), FrozenMap(actions), FrozenMap(self.common))


def build(data: Any, locate: Locate) -> SchemaParts:
    """Resolve a decoded JSON schema; SchemaError (located by ``locate``) when it is wrong."""
    return _Builder(data, locate).build()
