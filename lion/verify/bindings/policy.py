"""`spec/policy.lion` <-> `lion.kernel.policy.combine`.

A spec policy set is a map from slot to an optional (effect, truth value);
slot ``i`` becomes the policy id ``slot<i>``. The triples are handed over in
reverse slot order (the result must not depend on the order), and the whole
result is read: the kernel promises its determining ids sorted and each once,
so ids out of order or repeated are passed on as they came (a tuple, which
cannot equal the spec's set) instead of being tidied into a set.
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
        for slot, policy in reversed(list(ps.items()))
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


def _slots(result: tuple[str, tuple[str, ...]]) -> frozenset[int] | tuple[str, ...]:
    ids = tuple(result[1])
    if ids != tuple(sorted(set(ids))):
        return ids  # out of order or repeated: shown as it came, and it cannot match
    return frozenset(int(i.removeprefix("slot")) for i in ids)


def evaluate(ps: MapValue) -> EnumValue:
    return _decision(_combine(ps))


def determining(ps: MapValue) -> frozenset[int] | tuple[str, ...]:
    return _slots(_combine(ps))


def evaluate_rust(ps: MapValue) -> EnumValue:
    return _decision(_combine_rust(ps))


def determining_rust(ps: MapValue) -> frozenset[int] | tuple[str, ...]:
    return _slots(_combine_rust(ps))
