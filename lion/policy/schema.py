"""Cedar schemas: entity types, their attributes and parents, and the actions requests may use.

Both of Cedar's forms are read::

    schema = Schema.from_cedar('''
        entity Group;
        entity User in [Group] { age?: Long, name: String };
        action view appliesTo { principal: [User], resource: [User], context: {} };
    ''')
    schema = Schema.from_json({"": {"entityTypes": {...}, "actions": {...}}})
    schema = Schema.from_file("app.cedarschema")   # or app.cedarschema.json

Names in a ``Schema`` are fully qualified and common types are inlined, so
the same schema written in either form gives equal values. Malformed schemas
raise ``lion.errors.SchemaError`` with ``path:line:col`` (for the JSON form,
the line of the name involved, found in the text).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from lion.errors import SchemaError, SourceLocation
from lion.kernel.policy._values import EntityUID
from lion.policy._schema_cedar import parse_cedar_schema
from lion.policy._schema_json import SchemaParts, build
from lion.policy._schema_types import (
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
    render_type,
)

__all__ = [
    "ActionDef",
    "Attribute",
    "BoolType",
    "EntityType",
    "EntityTypeDef",
    "ExtensionType",
    "LongType",
    "RecordType",
    "Schema",
    "SetType",
    "StringType",
    "Type",
    "render_type",
]


@dataclass(frozen=True, eq=True)
class Schema:
    """A resolved Cedar schema. Build one with ``from_cedar``, ``from_json`` or ``from_file``."""

    entity_types: Mapping[str, EntityTypeDef] = field(default_factory=FrozenMap)
    actions: Mapping[EntityUID, ActionDef] = field(default_factory=FrozenMap)
    common_types: Mapping[str, Type] = field(default_factory=FrozenMap, compare=False)

    @classmethod
    def _of(cls, parts: SchemaParts) -> Schema:
        return cls(parts.entity_types, parts.actions, parts.common_types)

    # ------------------------------------------------------------------ readers

    @classmethod
    def from_cedar(cls, text: str, path: str = "<schema>") -> Schema:
        """Read the human-readable form (``.cedarschema``)."""
        if not isinstance(text, str):
            raise SchemaError(f"schema text must be a string, got `{type(text).__name__}`")
        try:
            data, where = parse_cedar_schema(text, path)
        except RecursionError:
            raise SchemaError(
                "schema types are nested too deeply", SourceLocation(path, 1, 1)
            ) from None

        def locate(hint: tuple[str, ...]) -> SourceLocation | None:
            for end in range(len(hint), 0, -1):
                if hint[:end] in where:
                    return where[hint[:end]]
            return SourceLocation(path, 1, 1)

        return cls._of(_guarded(data, locate))

    @classmethod
    def from_json(cls, data: Any, path: str = "<schema>") -> Schema:
        """Read the JSON form: JSON text, bytes, or the decoded value."""
        text = ""
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SchemaError(
                    f"schema is not UTF-8: {exc}", SourceLocation(path, 1, 1)
                ) from None
        if isinstance(data, str):
            text = data
            try:
                data = json.loads(text, object_pairs_hook=_no_duplicates)
            except json.JSONDecodeError as exc:
                lines = text.split("\n")
                line = lines[exc.lineno - 1] if 0 < exc.lineno <= len(lines) else ""
                raise SchemaError(
                    f"invalid JSON: {exc.msg}", SourceLocation(path, exc.lineno, exc.colno, line)
                ) from None
            except _DuplicateKey as exc:
                raise SchemaError(
                    f"duplicate key `{exc.args[0]}` in a JSON object",
                    _find(text, path, exc.args[0]),
                ) from None

        def locate(hint: tuple[str, ...]) -> SourceLocation | None:
            name = hint[-1] if hint else ""
            if "::" in name and not name.endswith('"'):
                name = name.rsplit("::", 1)[-1]
            elif name.endswith('"') and '::"' in name:
                name = json.loads(name[name.index('::"') + 2 :])
            return _find(text, path, name) if text else SourceLocation(path, 1, 1)

        return cls._of(_guarded(data, locate))

    @classmethod
    def from_file(cls, path: str | Path) -> Schema:
        """``.cedarschema``: the human form; ``.json``: the JSON form; else the text decides."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SchemaError(f"cannot read schema file `{path}`: {exc}") from None
        name = str(path)
        if name.endswith(".json"):
            return cls.from_json(text, name)
        if name.endswith(".cedarschema") or not text.lstrip().startswith("{"):
            return cls.from_cedar(text, name)
        return cls.from_json(text, name)

    # ------------------------------------------------------------------ writers

    def to_json(self) -> dict[str, Any]:
        """The JSON form, one entry per namespace, every name fully qualified."""
        out: dict[str, dict[str, Any]] = {}

        def space(ns: str) -> dict[str, Any]:
            return out.setdefault(ns, {"entityTypes": {}, "actions": {}})

        for name, definition in self.entity_types.items():
            ns, _, base = name.rpartition("::")
            entry: dict[str, Any] = {}
            if definition.member_of:
                entry["memberOfTypes"] = list(definition.member_of)
            if definition.enum is not None:
                entry["enum"] = list(definition.enum)
            else:
                entry["shape"] = type_json(definition.shape)
                if definition.tags is not None:
                    entry["tags"] = type_json(definition.tags)
            space(ns)["entityTypes"][base] = entry
        for uid, action in self.actions.items():
            ns = uid.type.rpartition("::")[0]
            body: dict[str, Any] = {}
            if action.member_of:
                body["memberOf"] = [{"type": p.type, "id": p.id} for p in action.member_of]
            if action.principal_types or action.resource_types:
                body["appliesTo"] = {
                    "principalTypes": list(action.principal_types),
                    "resourceTypes": list(action.resource_types),
                    "context": type_json(action.context),
                }
            space(ns)["actions"][uid.id] = body
        return out

    # ------------------------------------------------------------------ queries

    @cached_property
    def _ancestors(self) -> dict[str, frozenset[str]]:
        out: dict[str, frozenset[str]] = {}
        for start in self.entity_types:
            seen: set[str] = set()
            stack = list(self.entity_types[start].member_of)
            while stack:
                name = stack.pop()
                if name not in seen:
                    seen.add(name)
                    if name in self.entity_types:
                        stack.extend(self.entity_types[name].member_of)
            out[start] = frozenset(seen)
        return out

    @cached_property
    def _action_ancestors(self) -> dict[EntityUID, frozenset[EntityUID]]:
        out: dict[EntityUID, frozenset[EntityUID]] = {}
        for start in self.actions:
            seen: set[EntityUID] = set()
            stack = list(self.actions[start].member_of)
            while stack:
                uid = stack.pop()
                if uid not in seen:
                    seen.add(uid)
                    stack.extend(self.actions[uid].member_of if uid in self.actions else ())
            out[start] = frozenset(seen)
        return out

    def may_be_in(self, child: str, ancestor: str) -> bool:
        """Whether an entity of type ``child`` can be ``in`` one of type ``ancestor`` (or be it)."""
        return child == ancestor or ancestor in self._ancestors.get(child, frozenset())

    def action_in(self, action: EntityUID, group: EntityUID) -> bool:
        """Whether ``action`` is ``group`` or in it, through the declared action hierarchy."""
        return action == group or group in self._action_ancestors.get(action, frozenset())

    def is_action_type(self, name: str) -> bool:
        """Whether ``name`` is an action entity type (``Action`` or ``NS::Action``)."""
        return name == "Action" or name.endswith("::Action")

    def __repr__(self) -> str:
        return f"Schema({len(self.entity_types)} entity types, {len(self.actions)} actions)"


def type_json(t: Type) -> dict[str, Any]:
    """One type in the JSON form."""
    if isinstance(t, BoolType):
        return {"type": "Boolean"}
    if isinstance(t, LongType):
        return {"type": "Long"}
    if isinstance(t, StringType):
        return {"type": "String"}
    if isinstance(t, EntityType):
        return {"type": "Entity", "name": t.name}
    if isinstance(t, ExtensionType):
        return {"type": "Extension", "name": t.name}
    if isinstance(t, SetType):
        return {"type": "Set", "element": type_json(t.element)}
    attributes = {
        name: {**type_json(a.type), "required": a.required} for name, a in t.attributes.items()
    }
    return {"type": "Record", "attributes": attributes}


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _find(text: str, path: str, name: str) -> SourceLocation:
    """The first place ``"name"`` occurs in JSON text (1:1 when it does not)."""
    at = text.find(json.dumps(name)) if name else -1
    if at < 0:
        return SourceLocation(path, 1, 1, text.split("\n", 1)[0])
    line = text.count("\n", 0, at) + 1
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    return SourceLocation(path, line, at - start + 1, text[start : len(text) if end < 0 else end])


def _guarded(data: Any, locate: Any) -> SchemaParts:
    try:
        return build(data, locate)
    except RecursionError:
        raise SchemaError("schema types are nested too deeply", locate(())) from None
