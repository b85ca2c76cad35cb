"""`spec/policy.lion` <-> `lion.kernel.policy.combine`.

A spec policy set is a map from slot to an optional (effect, truth value);
slot ``i`` becomes the policy id ``slot<i>``.
"""

from __future__ import annotations

from lion.kernel.policy import Effect, Kleene, combine
from lion.verify.values import EnumValue, MapValue

__all__ = ["determining", "determining_rust", "evaluate", "evaluate_rust"]

_EFFECT = {"Permit": Effect.PERMIT, "Forbid": Effect.FORBID}
_TRUTH = {"T": Kleene.TRUE, "F": Kleene.FALSE, "U": Kleene.UNKNOWN}


def _triples(ps: MapValue) -> list[tuple[Effect, str, Kleene]]:
    return [
        (_EFFECT[policy["effect"].variant], f"slot{slot}", _TRUTH[policy["value"].variant])
        for slot, policy in ps.items()
        if policy is not None
    ]


def _combine(ps: MapValue) -> tuple[str, tuple[str, ...]]:
    decision, ids = combine(_triples(ps))
    return decision.name, ids


def _combine_rust(ps: MapValue) -> tuple[str, tuple[str, ...]]:
    from lion import _native

    return _native.policy_combine([(e.value, pid, v.name) for e, pid, v in _triples(ps)])


def _decision(result: tuple[str, tuple[str, ...]]) -> EnumValue:
    return EnumValue("Decision", result[0])


def _slots(result: tuple[str, tuple[str, ...]]) -> frozenset[int]:
    return frozenset(int(i.removeprefix("slot")) for i in result[1])


def evaluate(ps: MapValue) -> EnumValue:
    return _decision(_combine(ps))


def determining(ps: MapValue) -> frozenset[int]:
    return _slots(_combine(ps))


def evaluate_rust(ps: MapValue) -> EnumValue:
    return _decision(_combine_rust(ps))


def determining_rust(ps: MapValue) -> frozenset[int]:
    return _slots(_combine_rust(ps))
