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


_RUST_EFFECT = {"Permit": "permit", "Forbid": "forbid"}
_RUST_TRUTH = {"T": "TRUE", "F": "FALSE", "U": "UNKNOWN"}


def _combine_rust(ps: MapValue) -> tuple[str, tuple[str, ...]]:
    from lion import _native

    triples = [
        (
            _RUST_EFFECT[policy["effect"].variant],
            f"slot{slot}",
            _RUST_TRUTH[policy["value"].variant],
        )
        for slot, policy in ps.items()
        if policy is not None
    ]
    return _native.policy_combine(triples)


def evaluate_rust(ps: MapValue) -> EnumValue:
    return EnumValue("Decision", _combine_rust(ps)[0])


def determining_rust(ps: MapValue) -> frozenset[int]:
    return frozenset(int(i.removeprefix("slot")) for i in _combine_rust(ps)[1])
