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
    ExtensionType,
    LongType,
    RecordType,
    SetType,
    StringType,
    Type,
)
from lion.policy.schema import Schema

IDS = ("a", "b")
TAG_KEYS = ("k", "j")
ATTR_NAMES = ("x", "y", "n", "s", "flag", "owner", "tags", "info", "when", "limit")
COLORS = ("red", "blue")
# extension literals: what a policy may write and what data may hold
EXT_ARGS = {
    "decimal": ("1.5", "-0.25", "922337203685477.5807", "0.0"),
    "ipaddr": ("10.0.0.1", "10.0.0.0/8", "::1", "192.168.1.0/24", "224.0.0.1"),
    "datetime": ("2024-01-01", "2024-06-01T12:00:00Z", "1970-01-01T00:00:00.001+0100"),
    "duration": ("1h", "-2d3m", "1ms", "9223372036854775807ms"),
}
EXT_FN = {"decimal": "decimal", "ipaddr": "ip", "datetime": "datetime", "duration": "duration"}


# ---------------------------------------------------------------------------- schemas


def _type_json(rng: random.Random, entities: list[str], depth: int = 0) -> dict[str, Any]:
    choice = rng.choice(
        ["Long", "Long", "String", "String", "Boolean", "Entity", "SetL", "SetS", "SetE", "Record"]
        + ["Ext"] * 3
    )
    if choice in ("Long", "String", "Boolean"):
        return {"type": choice}
    if choice == "Ext":
        return {"type": "Extension", "name": rng.choice(sorted(EXT_ARGS))}
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
    if rng.random() < 0.3:
        entity_types["Color"] = {"enum": list(COLORS)}
        entities.append("Color")
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
        if action.member_of and rng.random() < 0.5:
            head_a = f'action in Action::"{action.member_of[0].id}"'
        if not head_a.startswith("action =="):
            self.env = {"principal": principal, "resource": resource, "context": None}
        if rng.random() < self.noise:  # a scope that may fit no action
            head_p = f"principal is {rng.choice(list(self.schema.entity_types))}"
        if rng.random() < 0.1:  # a template
            head_p = rng.choice(
                ["principal == ?principal", "principal in ?principal", f"{head_p} in ?principal"]
            )
        if rng.random() < 0.1:
            head_r = rng.choice(["resource == ?resource", "resource in ?resource"])
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
            return f'{t.name}::"{rng.choice(self.ids(t.name))}"'
        if isinstance(t, ExtensionType):
            return self.ext_literal(t.name)
        if isinstance(t, SetType):
            return "[" + ", ".join(self.leaf(t.element) for _ in range(rng.randint(1, 2))) + "]"
        return "{" + ", ".join(f"{k}: {self.leaf(a.type)}" for k, a in t.attributes.items()) + "}"

    def ids(self, entity_type: str) -> tuple[str, ...]:
        definition = self.schema.entity_types[entity_type]
        if definition.enum is not None and self.rng.random() > self.noise:
            return definition.enum
        return IDS

    def ext_literal(self, name: str) -> str:
        arg = self.rng.choice(EXT_ARGS[name])
        if self.rng.random() < self.noise / 2:
            arg = "not-a-value"  # refused: an extension literal that does not parse
        return f'{EXT_FN[name]}("{arg}")'

    def ext_expr(self, depth: int) -> str:
        """A boolean over an extension-typed attribute (guarded) or literal."""
        rng = self.rng
        name = rng.choice(sorted(EXT_ARGS))
        if rng.random() < self.noise:
            name_of_other = rng.choice(sorted(EXT_ARGS))
            other = self.ext_literal(name_of_other)
        else:
            other = self.ext_literal(name)
        typed = [(p, g) for p, ty, g in self.paths() if ty == ExtensionType(name)]
        guards: list[str] = []
        if typed and rng.random() < 0.7:
            subject, guards = self.guarded(*rng.choice(typed))
        else:
            subject = self.ext_literal(name)
        ops = {
            "decimal": ["lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual", "=="],
            "ipaddr": ["isInRange", "isIpv4", "isLoopback", "isMulticast", "isIpv6", "=="],
            "datetime": ["<", ">=", "offset", "durationSince", "toDate", "=="],
            "duration": ["<", "<=", "toDays", "toMilliseconds", "=="],
        }[name]
        op = rng.choice(ops)
        if op in ("==", "<", "<=", ">=", ">"):
            test = f"{subject} {op} {other}"
        elif op in ("isIpv4", "isLoopback", "isMulticast", "isIpv6"):
            test = f"{subject}.{op}()"
        elif op == "offset":
            test = f"{subject}.offset({self.ext_literal('duration')}) > {other}"
        elif op == "durationSince":
            test = f'{subject}.durationSince({other}) < duration("1d")'
        elif op == "toDate":
            test = f"{subject}.toDate() == {other}"
        elif op in ("toDays", "toMilliseconds"):
            test = f"{subject}.{op}() > {self.leaf(LongType())}"
        else:
            test = f"{subject}.{op}({other})"
        return f"({' && '.join([*guards, test])})"

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
        kind = rng.randint(0, 12)
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
            return f'(principal in {target}::"{rng.choice(self.ids(target))}")'
        if kind == 7:
            var = rng.choice(["principal", "resource"])
            target = rng.choice(list(self.schema.entity_types))
            if rng.random() < 0.3:
                group = rng.choice(list(self.schema.entity_types))
                return f'({var} is {target} in {group}::"{rng.choice(self.ids(group))}")'
            return f"({var} is {target})"
        if kind == 8:
            paths = [(p, ty, g) for p, ty, g in self.paths() if isinstance(ty, SetType)]
            if paths:
                text, ty, guards = rng.choice(paths)
                text, guards = self.guarded(text, guards)
                assert isinstance(ty, SetType)
                method = rng.choice(["contains", "containsAll", "containsAny", "isEmpty"])
                if method == "contains":
                    call = f"{text}.contains({self.leaf(ty.element)})"
                elif method == "isEmpty":
                    call = f"{text}.isEmpty()"
                else:
                    call = f"{text}.{method}({self.leaf(ty)})"
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
        if kind == 12:
            return self.ext_expr(sub)
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

    def ids(self, entity_type: str) -> tuple[str, ...]:
        enum = self.schema.entity_types[entity_type].enum
        return IDS if enum is None else enum

    def uid(self, entity_type: str) -> dict[str, str]:
        ids = self.ids(entity_type)
        dangle = self.rng.random() < self.dangling and ids is IDS  # an enum's ids all exist
        return {"type": entity_type, "id": "zz" if dangle else self.rng.choice(ids)}

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
        if isinstance(t, ExtensionType):
            return {"__extn": {"fn": EXT_FN[t.name], "arg": rng.choice(EXT_ARGS[t.name])}}
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
            for ident in self.ids(name):
                parents = [
                    {"type": p, "id": self.rng.choice(self.ids(p))}
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
