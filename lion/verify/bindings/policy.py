"""`spec/policy.lion` <-> `lion.kernel.policy.combine` and the evaluators' `! && ||`.

A spec policy set is a map from slot to an optional (effect, truth value);
slot ``i`` becomes the policy id ``slot<i>``. The triples are handed over in
reverse slot order (the result must not depend on the order), and the whole
result is read: the kernel promises its determining ids sorted and each once,
so ids out of order or repeated are passed on as they came (a tuple, which
cannot equal the spec's set) instead of being tidied into a set.
"""

from __future__ import annotations

import functools

from lion.kernel.backend import PolicyEngine, get_backend
from lion.kernel.policy import Effect, Kleene, combine
from lion.verify.values import EnumValue, MapValue

__all__ = [
    "determining",
    "determining_rust",
    "evaluate",
    "evaluate_rust",
    "k_and",
    "k_and_rust",
    "k_not",
    "k_not_rust",
    "k_or",
    "k_or_rust",
]

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


# -- the connectives, as the evaluators compute them ---------------------------
#
# k_not/k_and/k_or are bound to the policy language itself: each truth value is
# an expression (`true`, `false`, or `context.missing`, which errors and so is
# UNKNOWN), the connective is `!`, `&&` or `||` in a `when` clause, and the
# policy's own Kleene value comes back in Response.results, from either backend.

_OPERAND = {"T": "true", "F": "false", "U": "context.missing"}
_KLEENE_NAME = {Kleene.TRUE: "T", Kleene.FALSE: "F", Kleene.UNKNOWN: "U"}
_REQUEST = {
    "principal": 'User::"p"',
    "action": 'Action::"a"',
    "resource": 'Doc::"r"',
    "context": {},
}


@functools.cache
def _engine(backend: str, condition: str) -> PolicyEngine:
    text = f'@id("c") permit(principal, action, resource) when {{ {condition} }};'
    return get_backend(backend).policy_set(text)


def _truth(backend: str, condition: str) -> EnumValue:
    (result,) = _engine(backend, condition).evaluate(_REQUEST).results
    return EnumValue("Truth", _KLEENE_NAME[result.value])


def _operand(a: EnumValue) -> str:
    return _OPERAND[a.variant]


def k_not(a: EnumValue) -> EnumValue:
    return _truth("python", f"!({_operand(a)})")


def k_and(a: EnumValue, b: EnumValue) -> EnumValue:
    return _truth("python", f"{_operand(a)} && {_operand(b)}")


def k_or(a: EnumValue, b: EnumValue) -> EnumValue:
    return _truth("python", f"{_operand(a)} || {_operand(b)}")


def k_not_rust(a: EnumValue) -> EnumValue:
    return _truth("rust", f"!({_operand(a)})")


def k_and_rust(a: EnumValue, b: EnumValue) -> EnumValue:
    return _truth("rust", f"{_operand(a)} && {_operand(b)}")


def k_or_rust(a: EnumValue, b: EnumValue) -> EnumValue:
    return _truth("rust", f"{_operand(a)} || {_operand(b)}")
