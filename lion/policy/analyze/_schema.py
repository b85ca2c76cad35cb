"""A Cedar schema as constraints on the symbolic request and store.

With a schema the analysis ranges over the requests and entity stores that
conform to it (what ``lion.policy.validate.conforms`` accepts): the action
is a declared one, the principal and resource have the types it applies to,
the context has its record type, every existing entity has a declared type
and attributes and tags of the declared types, and every ancestor is of a
type the schema lets it be in. Records of closed types hold no other
attribute. The values keep their dynamic encoding; the schema only adds
facts about them, so the encoding of the policies does not change.
"""

from __future__ import annotations

from typing import Any

import z3

from lion.policy.analyze._sorts import (
    OSOME,
    VB,
    VE,
    VL,
    VR,
    VS,
    VDec,
    VDt,
    VDur,
    VIp,
    VSt,
    select,
)
from lion.policy.analyze._sym import FALSE, TRUE, and_, not_, or_
from lion.policy.analyze._world import World
from lion.policy.schema import (
    BoolType,
    EntityType,
    ExtensionType,
    LongType,
    RecordType,
    Schema,
    SetType,
    StringType,
    Type,
)

__all__ = ["SchemaFacts"]

_EXTENSIONS = {"decimal": VDec, "datetime": VDt, "duration": VDur, "ipaddr": VIp}


class SchemaFacts:
    """Registers a schema's names with a world, then gives its facts when the world finishes."""

    def __init__(self, world: World, schema: Schema) -> None:
        self.w = world
        self.schema = schema
        # Every attribute name the schema declares gets a key number: witness keys of
        # closed records must be one of them.
        for definition in schema.entity_types.values():
            self._names(definition.shape)
            if definition.tags is not None:
                self._names(definition.tags)
        for action in schema.actions.values():
            world.uid(action.uid)
            self._names(action.context)
        self._typed_sets: list[tuple[Any, Type]] = []
        world.finishers.append(self.facts)

    def _names(self, t: Type) -> None:
        if isinstance(t, RecordType):
            for name, attr in t.attributes.items():
                self.w.key(name)
                self._names(attr.type)
        elif isinstance(t, SetType):
            self._names(t.element)

    # -- types ------------------------------------------------------------------------------

    def value_ok(self, v: Any, t: Type) -> Any:
        """The ``V`` term ``v`` has type ``t``."""
        if isinstance(t, BoolType):
            return VB.is_(v)
        if isinstance(t, LongType):
            return VL.is_(v)
        if isinstance(t, StringType):
            return VS.is_(v)
        if isinstance(t, ExtensionType):
            return _EXTENSIONS[t.name].is_(v)
        if isinstance(t, EntityType):
            x = VE.get(v)
            return and_(VE.is_(v), self.w.etype(x) == self.w.type_number(t.name))
        if isinstance(t, SetType):
            self._typed_sets.append((VSt.get(v), t.element))
            return VSt.is_(v)
        return and_(VR.is_(v), self.record_ok(VR.get(v), t))

    def record_ok(self, array: Any, t: RecordType) -> Any:
        w = self.w
        facts = []
        for name, attr in t.attributes.items():
            found = select(array, w.key(name))
            present = OSOME.is_(found)
            if attr.required:
                facts.append(present)
            facts.append(z3.Implies(present, self.value_ok(OSOME.get(found), attr.type)))
        if not t.open:
            declared = {w.keys[name] for name in t.attributes}
            for number in w.keys.values():
                if number not in declared:
                    facts.append(not_(OSOME.is_(select(array, z3.IntVal(number)))))
            for key in w.witness_keys:
                allowed = or_(*(key == n for n in declared))
                facts.append(z3.Implies(OSOME.is_(select(array, key)), allowed))
        return and_(*facts)

    # -- the facts ----------------------------------------------------------------------------

    def facts(self) -> list[Any]:
        w, schema = self.w, self.schema
        facts: list[Any] = []
        cases = []
        for action in schema.actions.values():
            a = w.uid(action.uid)
            principal = or_(*(w.has_type(w.principal, t) for t in action.principal_types))
            resource = or_(*(w.has_type(w.resource, t) for t in action.resource_types))
            fits = and_(principal, resource, self.record_ok(w.context, action.context))
            cases.append(and_(w.action == a, fits))
        facts.append(or_(*cases))
        for x in list(w.entity_terms.values()):
            kinds = []
            for name, definition in schema.entity_types.items():
                typed = w.has_type(x, name)
                kinds.append(and_(typed, self.record_ok(w.eattr(x), definition.shape)))
            kinds.extend(x == w.uid(uid) for uid in schema.actions)
            facts.append(z3.Implies(w.exists(x), or_(*kinds)))
        for x, key in w.tag_apps.values():
            kinds = []
            for name, definition in schema.entity_types.items():
                if definition.tags is not None:
                    ok = self.value_ok(w.tag_val(x, key), definition.tags)
                    kinds.append(and_(w.has_type(x, name), ok))
            facts.append(z3.Implies(and_(w.exists(x), w.tag_has(x, key)), or_(*kinds)))
        pairs = self._type_pairs()
        action_pairs = [
            (a, b)
            for a in schema.actions
            for b in schema.actions
            if a != b and schema.action_in(a, b)
        ]
        for x, y, app in w.anc_apps.values():
            allowed = [and_(w.has_type(x, t), w.has_type(y, u)) for t, u in pairs]
            allowed.extend(and_(x == w.uid(a), y == w.uid(b)) for a, b in action_pairs)
            facts.append(z3.Implies(app, or_(*allowed)))
        facts.extend(self._set_elements())
        return facts

    def _type_pairs(self) -> list[tuple[str, str]]:
        """(type, ancestor type) pairs the schema's ``memberOf`` allows, transitively."""
        parents = {n: set(d.member_of) for n, d in self.schema.entity_types.items()}
        pairs: list[tuple[str, str]] = []
        for start in parents:
            seen: set[str] = set()
            stack = list(parents[start])
            while stack:
                t = stack.pop()
                if t in seen:
                    continue
                seen.add(t)
                stack.extend(parents.get(t, ()))
            pairs.extend((start, t) for t in sorted(seen))
        return pairs

    def _set_elements(self) -> list[Any]:
        """Each member of a typed set has the element type (nested sets are typed as found)."""
        facts: list[Any] = []
        done = 0
        while done < len(self._typed_sets):
            set_id, element = self._typed_sets[done]
            done += 1
            for other, value, app in list(self.w.mem_apps.values()):
                same = TRUE if set_id.eq(other) else set_id == other
                if same is FALSE:
                    continue
                facts.append(z3.Implies(and_(same, app), self.value_ok(value, element)))
        return facts
