"""Random Cedar schemas, policies over them, and requests and entities that conform to them.

Everything is drawn from a ``random.Random`` so a failing case is replayed
from its seed. Policies are type-directed (most are well typed) with noise:
a wrong-typed operand, an unguarded optional attribute, a name the schema
does not have, an impossible scope.
"""

from __future__ import annotations

import json
import random
from typing import Any

from lion.policy._schema_types import (
    BoolType,
    EntityType,
    LongType,
    RecordType,
    SetType,
    StringType,
    Type,
)
from lion.policy.schema import Schema

IDS = ("a", "b")
TAG_KEYS = ("k", "j")
ATTR_NAMES = ("x", "y", "n", "s", "flag", "owner", "tags", "info")


# ---------------------------------------------------------------------------- schemas


def _type_json(rng: random.Random, entities: list[str], depth: int = 0) -> dict[str, Any]:
    choice = rng.choice(
        ["Long", "Long", "String", "String", "Boolean", "Entity", "SetL", "SetS", "SetE", "Record"]
    )
    if choice in ("Long", "String", "Boolean"):
        return {"type": choice}
    if choice == "Entity":
        return {"type": "Entity", "name": rng.choice(entities)}
    if choice == "SetL":
        return {"type": "Set", "element": {"type": "Long"}}
    if choice == "SetS":
        return {"type": "Set", "element": {"type": "String"}}
    if choice == "SetE":
        return {"type": "Set", "element": {"type": "Entity", "name": rng.choice(entities)}}
    if depth >= 1:
        return {"type": "Long"}
    return _record_json(rng, entities, depth + 1, 2)


def _record_json(rng: random.Random, entities: list[str], depth: int, most: int) -> dict[str, Any]:
    names = rng.sample(ATTR_NAMES, rng.randint(0, most))
    attributes = {}
    for name in names:
        attributes[name] = {**_type_json(rng, entities, depth), "required": rng.random() < 0.6}
    return {"type": "Record", "attributes": attributes}


def random_schema_json(rng: random.Random) -> dict[str, Any]:
    """A small schema: 2-3 entity types (a hierarchy, tags), 1-3 actions."""
    entities = [f"E{i}" for i in range(rng.randint(2, 3))]
    entity_types: dict[str, Any] = {}
    for index, name in enumerate(entities):
        entry: dict[str, Any] = {"shape": _record_json(rng, entities, 0, 3)}
        parents = [p for p in entities[:index] if rng.random() < 0.5]
        if parents:
            entry["memberOfTypes"] = parents
        if rng.random() < 0.3:
            entry["tags"] = {"type": rng.choice(["String", "Long"])}
        entity_types[name] = entry
    actions: dict[str, Any] = {}
    for index in range(rng.randint(1, 3)):
        principals = rng.sample(entities, rng.randint(1, len(entities)))
        resources = rng.sample(entities, rng.randint(1, len(entities)))
        body: dict[str, Any] = {
            "appliesTo": {
                "principalTypes": principals,
                "resourceTypes": resources,
                "context": _record_json(rng, entities, 0, 2),
            }
        }
        if index and rng.random() < 0.4:
            body["memberOf"] = [{"id": "a0"}]
        actions[f"a{index}"] = body
    return {"": {"entityTypes": entity_types, "actions": actions}}


def random_schema(rng: random.Random) -> tuple[Schema, dict[str, Any]]:
    data = random_schema_json(rng)
    return Schema.from_json(json.dumps(data)), data


# ---------------------------------------------------------------------------- policies


class PolicyGen:
    """Writes random policy text over a schema, for one chosen request environment."""

    def __init__(self, rng: random.Random, schema: Schema, noise: float = 0.08) -> None:
        self.rng = rng
        self.schema = schema
        self.noise = noise

    def policy(self) -> str:
        rng = self.rng
        action = rng.choice(list(self.schema.actions.values()))
        principal = rng.choice(action.principal_types)
        resource = rng.choice(action.resource_types)
        self.env = {"principal": principal, "resource": resource, "context": action.context}
        head_p = rng.choice([f"principal is {principal}", "principal", f"principal is {principal}"])
        head_r = rng.choice([f"resource is {resource}", "resource", f"resource is {resource}"])
        head_a = rng.choice([f'action == Action::"{action.uid.id}"'] * 3 + ["action"])
        if head_a == "action":
            self.env = {"principal": principal, "resource": resource, "context": None}
        if rng.random() < self.noise:  # a scope that may fit no action
            head_p = f"principal is {rng.choice(list(self.schema.entity_types))}"
        effect = rng.choice(["permit", "forbid"])
        conditions = " ".join(
            f"{rng.choice(['when', 'when', 'unless'])} {{ {self.expr(BoolType(), 3)} }}"
            for _ in range(rng.randint(1, 2))
        )
        return f"{effect}({head_p}, {head_a}, {head_r}) {conditions};"

    # paths: (text, type) pairs reachable from the variables, with the guard they need
    def paths(self) -> list[tuple[str, Type, list[str]]]:
        out: list[tuple[str, Type, list[str]]] = []
        roots: list[tuple[str, RecordType | None]] = [
            ("principal", self.schema.entity_types[self.env["principal"]].shape),
            ("resource", self.schema.entity_types[self.env["resource"]].shape),
        ]
        if self.env["context"] is not None:
            roots.append(("context", self.env["context"]))
        for root, shape in roots:
            self._walk(root, shape, [], out, 0)
        return out

    def _walk(
        self, prefix: str, shape: RecordType | None, guards: list[str], out: list[Any], depth: int
    ) -> None:
        if shape is None or depth > 1:
            return
        for name, attribute in shape.attributes.items():
            text = f"{prefix}.{name}"
            need = guards if attribute.required else [*guards, f"{prefix} has {name}"]
            out.append((text, attribute.type, need))
            if isinstance(attribute.type, RecordType):
                self._walk(text, attribute.type, need, out, depth + 1)
            if isinstance(attribute.type, EntityType) and depth == 0:
                target = self.schema.entity_types[attribute.type.name].shape
                self._walk(text, target, need, out, depth + 1)

    def guarded(self, text: str, guards: list[str]) -> tuple[str, list[str]]:
        if guards and self.rng.random() < self.noise * 2:
            return text, []  # the planted mistake: no `has`
        return text, guards

    def leaf(self, t: Type) -> str:
        rng = self.rng
        matching = [(p, g) for p, ty, g in self.paths() if ty == t]
        if matching and rng.random() < 0.6:
            text, guards = self.guarded(*rng.choice(matching))
            if not guards:
                return text
            if isinstance(t, BoolType):
                return f"({' && '.join(guards)} && {text})"
        if isinstance(t, BoolType):
            return rng.choice(["true", "false"])
        if isinstance(t, LongType):
            return rng.choice(["0", "1", "7", "(-3)", str(2**62), str(2**62)])
        if isinstance(t, StringType):
            return rng.choice(['"a"', '"b"', '""'])
        if isinstance(t, EntityType):
            if t.name == self.env["principal"] and rng.random() < 0.5:
                return "principal"
            if t.name == self.env["resource"] and rng.random() < 0.5:
                return "resource"
            return f'{t.name}::"{rng.choice(IDS)}"'
        if isinstance(t, SetType):
            return "[" + ", ".join(self.leaf(t.element) for _ in range(rng.randint(1, 2))) + "]"
        return "{" + ", ".join(f"{k}: {self.leaf(a.type)}" for k, a in t.attributes.items()) + "}"

    def expr(self, t: Type, depth: int) -> str:
        rng = self.rng
        if rng.random() < self.noise / 2:  # a wrong type
            t = rng.choice([BoolType(), LongType(), StringType()])
        if depth <= 0 or rng.random() < 0.25:
            return self.leaf(t)
        if isinstance(t, BoolType):
            return self.bool_expr(depth)
        if isinstance(t, LongType):
            kind = rng.randint(0, 3)
            if kind == 0:
                return f"({self.expr(t, depth - 1)} {rng.choice('+-*')} {self.expr(t, depth - 1)})"
            if kind == 1:
                cond = self.expr(BoolType(), depth - 1)
                return f"(if {cond} then {self.expr(t, depth - 1)} else {self.expr(t, depth - 1)})"
        return self.leaf(t)

    def bool_expr(self, depth: int) -> str:
        rng = self.rng
        b = BoolType()
        kind = rng.randint(0, 11)
        sub = depth - 1
        if kind == 0:
            return f"({self.expr(b, sub)} && {self.expr(b, sub)})"
        if kind == 1:
            return f"({self.expr(b, sub)} || {self.expr(b, sub)})"
        if kind == 2:
            return f"!{self.expr(b, sub)}"
        if kind == 3:
            op = rng.choice(["<", "<=", ">", ">="])
            return f"({self.expr(LongType(), sub)} {op} {self.expr(LongType(), sub)})"
        if kind == 4:
            t = rng.choice([LongType(), StringType(), EntityType(self.env["principal"])])
            return f"({self.expr(t, sub)} {rng.choice(['==', '!='])} {self.expr(t, sub)})"
        if kind == 5:
            return f'({self.expr(StringType(), sub)} like "{rng.choice(["a*", "*", "b"])}")'
        if kind == 6:
            target = rng.choice(list(self.schema.entity_types))
            return f'(principal in {target}::"{rng.choice(IDS)}")'
        if kind == 7:
            var = rng.choice(["principal", "resource"])
            return f"({var} is {rng.choice(list(self.schema.entity_types))})"
        if kind == 8:
            paths = [(p, ty, g) for p, ty, g in self.paths() if isinstance(ty, SetType)]
            if paths:
                text, ty, guards = rng.choice(paths)
                text, guards = self.guarded(text, guards)
                assert isinstance(ty, SetType)
                call = f"{text}.contains({self.leaf(ty.element)})"
                return f"({' && '.join([*guards, call])})"
        if kind == 9:
            var = rng.choice(["principal", "resource"])
            definition = self.schema.entity_types[self.env[var]]
            key = rng.choice(TAG_KEYS)
            if definition.tags is not None:
                value = self.leaf(definition.tags)
                guard = f'{var}.hasTag("{key}") && ' if rng.random() > self.noise * 2 else ""
                return f'({guard}{var}.getTag("{key}") == {value})'
            return f'{var}.hasTag("{key}")'
        if kind == 10:
            return f"(if {self.expr(b, sub)} then {self.expr(b, sub)} else {self.expr(b, sub)})"
        if kind == 11:
            guarded = [(p, g) for p, ty, g in self.paths() if ty == LongType() and g]
            if guarded:
                text, guards = self.guarded(*rng.choice(guarded))
                return f"({' && '.join([*guards, f'{text} > {rng.choice([0, 5])}'])})"
        if kind == 11 and rng.random() < self.noise * 3:
            return f"principal.{rng.choice(ATTR_NAMES)}"  # may not exist
        return self.leaf(b)


# ---------------------------------------------------------------------------- requests and entities


class DataGen:
    """Entities and requests that conform to a schema (some references dangle: missing entities)."""

    def __init__(self, rng: random.Random, schema: Schema, dangling: float = 0.1) -> None:
        self.rng = rng
        self.schema = schema
        self.dangling = dangling

    def uid(self, entity_type: str) -> dict[str, str]:
        ident = "zz" if self.rng.random() < self.dangling else self.rng.choice(IDS)
        return {"type": entity_type, "id": ident}

    def value(self, t: Type) -> Any:
        rng = self.rng
        if isinstance(t, BoolType):
            return rng.random() < 0.5
        if isinstance(t, LongType):
            return rng.choice([0, 1, -1, 7, 2**62, -(2**63), 2**63 - 1])
        if isinstance(t, StringType):
            return rng.choice(["a", "b", "", "ab"])
        if isinstance(t, EntityType):
            return {"__entity": self.uid(t.name)}
        if isinstance(t, SetType):
            return [self.value(t.element) for _ in range(rng.randint(0, 2))]
        assert isinstance(t, RecordType)
        return {
            name: self.value(a.type)
            for name, a in t.attributes.items()
            if a.required or rng.random() < 0.5
        }

    def entities(self) -> list[dict[str, Any]]:
        out = []
        for name, definition in self.schema.entity_types.items():
            for ident in IDS:
                parents = [
                    {"type": p, "id": self.rng.choice(IDS)}
                    for p in definition.member_of
                    if self.rng.random() < 0.6
                ]
                entity: dict[str, Any] = {
                    "uid": {"type": name, "id": ident},
                    "attrs": self.value(definition.shape),
                    "parents": parents,
                }
                if definition.tags is not None:
                    entity["tags"] = {
                        k: self.value(definition.tags) for k in TAG_KEYS if self.rng.random() < 0.5
                    }
                out.append(entity)
        return out

    def request(self) -> dict[str, Any]:
        actions = [a for a in self.schema.actions.values() if a.principal_types]
        action = self.rng.choice(actions)
        return {
            "principal": self.uid(self.rng.choice(action.principal_types)),
            "action": action.uid.to_json(),
            "resource": self.uid(self.rng.choice(action.resource_types)),
            "context": self.value(action.context),
        }
