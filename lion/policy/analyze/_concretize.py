"""A Z3 model -> a concrete request and entity list in Cedar JSON form.

Entity numbers become uids (literal numbers their literal uid, others a fresh
uid of a fresh or literal type); a set id becomes the list of the values the
formula asked about and found members; a record keeps the attributes the
policies name (plus the witness keys). Whatever the policies cannot observe
is left out, so the result is small.
"""

from __future__ import annotations

from typing import Any

import z3

from lion.errors import AnalysisInternalError
from lion.kernel.policy import EntityUID
from lion.kernel.policy._extensions import datetime_text, duration_text
from lion.kernel.policy._values import decimal_text
from lion.policy.analyze._sorts import (
    ONONE,
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
    signed,
    string_of,
)
from lion.policy.analyze._world import World

__all__ = ["Concretizer"]


class Concretizer:
    """Reads one model of one world."""

    def __init__(self, world: World, model: z3.ModelRef) -> None:
        self.w = world
        self.m = model
        self._uid_of = {n: uid for uid, n in world.uids.items()}
        self._type_of = {n: name for name, n in world.types.items()}
        self._key_of = {n: name for name, n in world.keys.items()}
        self._literal_ids = {uid.id for uid in world.uids}
        self._keys = sorted({self._int(k) for k in world.keys_used()})
        self._uids: dict[int, EntityUID] = {}
        self._seen: list[int] = []
        self._sets: dict[int, list[Any]] = {}
        self._building: set[int] = set()
        self._members: dict[int, list[Any]] | None = None
        self._ips: dict[int, int] = {}
        self._parents: dict[int, set[int]] = {}
        for x, y, app in world.anc_apps.values():
            if self._true(app):
                self._parents.setdefault(self._int(x), set()).add(self._int(y))

    # -- model reading ---------------------------------------------------------------------

    def _eval(self, term: Any) -> Any:
        return self.m.eval(term, model_completion=True)

    def _int(self, term: Any) -> int:
        value = self._eval(term)
        return int(value.as_long())

    def _true(self, term: Any) -> bool:
        return bool(z3.is_true(self._eval(term)))

    # -- uids and names ----------------------------------------------------------------------

    def uid(self, number: int) -> EntityUID:
        found = self._uids.get(number)
        if found is not None:
            return found
        literal = self._uid_of.get(number)
        if literal is not None:
            found = literal
        else:
            t = self._int(self.w.etype(z3.IntVal(number)))
            type_name = self._type_of.get(t) or _fresh_name("Other", t, set(self._type_of.values()))
            found = EntityUID(type_name, _fresh_name("e", number, self._literal_ids))
        self._uids[number] = found
        self._seen.append(number)
        return found

    def key_name(self, number: int) -> str:
        return self._key_of.get(number) or _fresh_name("attr", number, set(self._key_of.values()))

    # -- values --------------------------------------------------------------------------------

    def value(self, v: Any) -> Any:
        """The Cedar JSON of a ``V`` model value."""
        v = self._eval(v)
        if self._true(VB.is_(v)):
            return self._true(VB.get(v))
        if self._true(VL.is_(v)):
            return signed(self._eval(VL.get(v)))
        if self._true(VS.is_(v)):
            return string_of(self._eval(VS.get(v)))
        if self._true(VE.is_(v)):
            return {"__entity": self.uid(self._int(VE.get(v))).to_json()}
        if self._true(VSt.is_(v)):
            return self.set_members(self._int(VSt.get(v)))
        if self._true(VR.is_(v)):
            return self.record(VR.get(v))
        if self._true(VDec.is_(v)):
            return _extn("decimal", decimal_text(signed(self._eval(VDec.get(v)))))
        if self._true(VDt.is_(v)):
            return _extn("datetime", _datetime(signed(self._eval(VDt.get(v)))))
        if self._true(VDur.is_(v)):
            return _extn("duration", duration_text(signed(self._eval(VDur.get(v)))))
        if self._true(VIp.is_(v)):
            n = self._ips.setdefault(self._int(VIp.get(v)), len(self._ips) + 1)
            return _extn("ip", f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}")
        raise AnalysisInternalError(f"the model holds a value of no known kind: `{v}`")

    def set_members(self, set_id: int) -> list[Any]:
        found = self._sets.get(set_id)
        if found is not None:
            return found
        if set_id in self._building:
            raise AnalysisInternalError("the model holds a set that contains itself")
        if self._members is None:  # every membership term, read once
            self._members = {}
            for sid, element, app in self.w.mem_apps.values():
                if self._true(app):
                    self._members.setdefault(self._int(sid), []).append(element)
        self._building.add(set_id)
        members: list[Any] = []
        for element in self._members.get(set_id, ()):
            value = self.value(element)
            if value not in members:
                members.append(value)
        self._building.discard(set_id)
        self._sets[set_id] = members
        return members

    def record(self, array: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in self._record_keys(self._eval(array)):
            found = self._eval(select(array, z3.IntVal(k)))
            if self._true(OSOME.is_(found)):
                out[self.key_name(k)] = self.value(OSOME.get(found))
        return out

    def _record_keys(self, value: Any) -> list[int]:
        """The keys a model's array value may hold: its stores, when its default is
        `none` (the usual shape); else every key the formula names."""
        keys: list[int] = []
        while z3.is_store(value):
            keys.append(int(value.arg(1).as_long()))
            value = value.arg(0)
        if z3.is_const_array(value) and z3.is_true(self._eval(ONONE.is_(value.arg(0)))):
            return sorted(set(keys))
        return self._keys

    # -- the request and the store ------------------------------------------------------------

    def request(self) -> dict[str, Any]:
        w = self.w
        return {
            "principal": self.uid(self._int(w.principal)).to_json(),
            "action": self.uid(self._int(w.action)).to_json(),
            "resource": self.uid(self._int(w.resource)).to_json(),
            "context": self.record(w.context),
        }

    def entities(self) -> list[dict[str, Any]]:
        w = self.w
        # Only entities some term of the formula denotes are written out: the others
        # (named only inside attribute values) are unobservable, so they stay absent.
        observed = set()
        for term in list(w.entity_terms.values()):
            number = self._int(term)
            observed.add(number)
            self.uid(number)
        tags: dict[int, dict[str, Any]] = {}
        out: list[dict[str, Any]] = []
        done: set[int] = set()
        i = 0
        while i < len(self._seen):  # values of attributes may name more entities
            number = self._seen[i]
            i += 1
            if number in done:
                continue
            done.add(number)
            term = z3.IntVal(number)
            if number not in observed or not self._true(w.exists(term)):
                continue
            attrs = self.record(w.eattr(term))
            parents = [self.uid(p).to_json() for p in sorted(self._parents.get(number, ()))]
            entity: dict[str, Any] = {"uid": self.uid(number).to_json(), "attrs": attrs}
            entity["parents"] = parents
            tag_map = tags.setdefault(number, {})
            for x, key in w.tag_apps.values():
                if self._int(x) != number or not self._true(w.tag_has(x, key)):
                    continue
                tag_map[string_of(self._eval(key))] = self.value(w.tag_val(x, key))
            if tag_map:
                entity["tags"] = tag_map
            out.append(entity)
        return out


def _extn(fn: str, arg: str) -> dict[str, Any]:
    return {"__extn": {"fn": fn, "arg": arg}}


def _datetime(millis: int) -> str:
    """Datetime text for ``millis``, with an offset when UTC cannot write it."""
    text = datetime_text(millis)
    if text is not None:
        return text
    for shift, suffix in ((_MAX_OFFSET, "+2359"), (-_MAX_OFFSET, "-2359")):
        local = datetime_text(millis + shift)
        if local is not None:
            return local[:-1] + suffix
    raise AnalysisInternalError(f"the model holds a datetime JSON cannot write: `{millis}` ms")


_MAX_OFFSET = (23 * 60 + 59) * 60_000


def _fresh_name(prefix: str, number: int, taken: set[str]) -> str:
    name = f"{prefix}{number}" if number >= 0 else f"{prefix}_{-number}"
    while name in taken:
        name += "_"
    return name
