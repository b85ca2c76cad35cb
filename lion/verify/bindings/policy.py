"""`spec/policy.lion` <-> `lion.kernel.policy.combine`.

A spec policy set is a map from slot to an optional (effect, truth value);
slot ``i`` becomes the policy id ``slot<i>``.
"""

from __future__ import annotations

from lion.kernel.policy import Effect, Kleene, combine
from lion.verify.values import EnumValue, MapValue

__all__ = ["determining", "evaluate"]

_EFFECT = {"Permit": Effect.PERMIT, "Forbid": Effect.FORBID}
_TRUTH = {"T": Kleene.TRUE, "F": Kleene.FALSE, "U": Kleene.UNKNOWN}


def _combine(ps: MapValue) -> tuple[str, tuple[str, ...]]:
    triples = [
        (_EFFECT[policy["effect"].variant], f"slot{slot}", _TRUTH[policy["value"].variant])
        for slot, policy in ps.items()
        if policy is not None
    ]
    decision, ids = combine(triples)
    return decision.name, ids


def evaluate(ps: MapValue) -> EnumValue:
    return EnumValue("Decision", _combine(ps)[0])


def determining(ps: MapValue) -> frozenset[int]:
    return frozenset(int(i.removeprefix("slot")) for i in _combine(ps)[1])
