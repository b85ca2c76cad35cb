"""Pin a world to one concrete request and entity store (for checking the encoding).

``Grounding`` gives constraints under which every symbol the policies observe
takes the value the concrete input gives it. With them, the encoding must
compute exactly the evaluator's value for every policy: that is the
differential test of the encoding against the evaluator.
"""

from __future__ import annotations

from typing import Any

import z3

from lion.kernel.policy import CedarSet, Entities, EntityUID, Record, Request, Value
from lion.kernel.policy._values import Datetime, Decimal, Duration, IPAddr
from lion.policy.analyze._sorts import (
    NONE,
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
    long_val,
    string_val,
)
from lion.policy.analyze._sym import FALSE, and_, or_
from lion.policy.analyze._world import World

__all__ = ["Grounding"]


class _Grounder:
    def __init__(self, world: World) -> None:
        self.w = world
        self.numbers: dict[EntityUID, int] = dict(world.uids)
        self.types: dict[str, int] = dict(world.types)
        self.keys: dict[str, int] = dict(world.keys)
        self.sets: dict[object, tuple[int, CedarSet]] = {}
        self.ips: dict[IPAddr, int] = {}

    def number(self, uid: EntityUID) -> int:
        found = self.numbers.get(uid)
        if found is None:
            found = self.numbers[uid] = 1_000_000 + len(self.numbers)
        return found

    def key(self, name: str) -> z3.ArithRef:
        found = self.keys.get(name)
        if found is None:
            found = self.keys[name] = 1_000_000 + len(self.keys)
        return z3.IntVal(found)

    def value(self, value: Value) -> Any:
        if isinstance(value, bool):
            return VB.make(z3.BoolVal(value))
        if isinstance(value, int):
            return VL.make(long_val(value))
        if isinstance(value, str):
            return VS.make(string_val(value))
        if isinstance(value, EntityUID):
            return VE.make(z3.IntVal(self.number(value)))
        if isinstance(value, CedarSet):
            key = value.key()
            if key not in self.sets:
                self.sets[key] = (len(self.sets), value)
                for element in value:
                    self.value(element)
            return VSt.make(z3.IntVal(self.sets[key][0]))
        if isinstance(value, Record):
            return VR.make(self.record(value))
        if isinstance(value, Decimal):
            return VDec.make(long_val(value.scaled))
        if isinstance(value, Datetime):
            return VDt.make(long_val(value.millis))
        if isinstance(value, Duration):
            return VDur.make(long_val(value.millis))
        if isinstance(value, IPAddr):
            return VIp.make(z3.IntVal(self.ips.setdefault(value, len(self.ips))))
        raise TypeError(f"cannot ground the value `{value!r}`")

    def record(self, record: Record) -> Any:
        array: Any = z3.K(z3.IntSort(), NONE)
        for name, item in record.items():
            array = z3.Store(array, self.key(name), OSOME.make(self.value(item)))
        return array


class Grounding:
    """Pins a world to one request and store.

    Build it after encoding and before ``world.finish()`` (it registers each
    concrete set's members, so the finishing instances cover them), then add
    ``pins()``.
    """

    def __init__(self, world: World, request: Request, entities: Entities) -> None:
        self.world, self.request, self.entities = world, request, entities
        g = self.g = _Grounder(world)
        self.context = g.record(request.context)
        self.attrs = {e.uid: g.record(e.attrs) for e in entities}
        for entity in entities:
            for _, tag in entity.tags.items():
                g.value(tag)
            for parent in entity.parents:
                g.number(parent)
        for uid in (request.principal, request.action, request.resource):
            g.number(uid)
        for set_id, members in list(g.sets.values()):
            for element in members:
                world.member(z3.IntVal(set_id), g.value(element))

    def pins(self) -> list[Any]:
        """The constraints; call after ``world.finish()``."""
        return _pins(self.world, self.g, self.request, self.entities, self.context, self.attrs)


def _pins(
    w: World,
    g: _Grounder,
    request: Request,
    entities: Entities,
    context: Any,
    attrs: dict[EntityUID, Any],
) -> list[Any]:
    pins: list[Any] = [
        w.principal == g.number(request.principal),
        w.action == g.number(request.action),
        w.resource == g.number(request.resource),
        w.context == context,
    ]
    for uid, record in attrs.items():
        pins.append(w.eattr(z3.IntVal(g.number(uid))) == record)
    numbers = dict(g.numbers)
    for uid, number in numbers.items():
        n = z3.IntVal(number)
        type_number = g.types.setdefault(uid.type, 1_000_000 + len(g.types))
        pins.append(w.etype(n) == type_number)
        pins.append(w.exists(n) == z3.BoolVal(uid in entities))
        ancestors = entities.ancestors(uid)
        for other, m in numbers.items():
            if m != number:
                pins.append(w.anc(n, z3.IntVal(m)) == z3.BoolVal(other in ancestors))
    sets = list(g.sets.values())
    for set_id, element, app in w.mem_apps.values():
        cases = [
            and_(set_id == i, or_(*(element == g.value(x) for x in members))) for i, members in sets
        ]
        pins.append(app == or_(*cases) if cases else app == FALSE)
    tagged = [
        (g.number(entity.uid), name, g.value(tag))
        for entity in entities
        for name, tag in entity.tags.items()
    ]
    for x, key in w.tag_apps.values():
        hits = [and_(x == n, key == string_val(name)) for n, name, _ in tagged]
        pins.append(w.tag_has(x, key) == or_(*hits))
        for hit, (_, _, value) in zip(hits, tagged, strict=True):
            pins.append(z3.Implies(hit, w.tag_val(x, key) == value))
    return pins
