"""Backend against backend on WHOLE responses: the Rust core (`RustPolicies`) must
return what the Python reference (`PolicySet`) returns, field for field and
type for type: the decision, the determining ids, every error with its
message, every policy's result (id, effect, Kleene value, error) in set order,
and the `explain()` text.

Random policy sets, entities and requests come from the Cedar agreement test's
generators (tests/kernel/test_policy_cedar.py); hand-written hostile cases
cover overflow, missing entities and attributes, and type errors.
``LION_EXAMPLES`` raises the number of random examples.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lion.errors import PolicyError
from lion.kernel.backend import get_backend
from lion.kernel.policy import (
    Decision,
    Effect,
    Kleene,
    PolicyErrorInfo,
    PolicyResult,
    PolicySet,
    Response,
)

EXAMPLES = int(os.environ.get("LION_EXAMPLES", 120))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _load(name: str) -> ModuleType:
    """Import a sibling test module by path (tests/ is not a package)."""
    path = Path(__file__).resolve().parent / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_lion_backends_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


cedar_gen = _load("test_policy_cedar")

PY = get_backend("python")
RUST = get_backend("rust")


def shape(response: Response) -> Any:
    """The response as nested plain values with every type spelled out, so that
    equal shapes mean equal values of exactly the same types."""

    def typed(value: Any) -> Any:
        return (type(value).__name__, value)

    def text_tuple(values: Any) -> Any:
        return (type(values).__name__, tuple(typed(v) for v in values))

    errors = [(type(e).__name__, typed(e.policy_id), typed(e.message)) for e in response.errors]
    results = [
        (type(r).__name__, typed(r.policy_id), typed(r.effect), typed(r.value), typed(r.error))
        for r in response.results
    ]
    return (
        type(response).__name__,
        typed(response.decision),
        text_tuple(response.determining),
        (type(response.errors).__name__, errors),
        (type(response.results).__name__, results),
        response.explain(),
    )


def outcome(run: Any) -> Any:
    """A response's shape, or the PolicyError message."""
    try:
        return ("response", shape(run()))
    except PolicyError as err:
        return ("error", str(err))


def assert_same(policies: str, request: Any, entities: Any) -> Response:
    """Both backends decide `request`; their whole responses must be equal."""
    py_set = PolicySet.from_str(policies)
    rust_set = RUST.policy_set(policies)
    assert rust_set.ids == py_set.ids
    want = outcome(lambda: py_set.evaluate(request, entities))
    store = None if entities is None else RUST.entities(entities)
    got = outcome(lambda: rust_set.evaluate(request, store))
    assert got == want, (policies, request, entities)
    return py_set.evaluate(request, entities)


# -- the bug of issue 17: results and explain() from the Rust backend --------------------

REQ: dict[str, Any] = {
    "principal": 'User::"alice"',
    "action": 'Action::"read"',
    "resource": 'Doc::"d"',
    "context": {},
}


def test_rust_results_name_every_policy_and_explain_names_the_unknown_forbid() -> None:
    policies = """
        @id("allow") permit(principal, action, resource);
        @id("elsewhere") permit(principal == User::"bob", action, resource);
        @id("guard") forbid(principal, action, resource) when { context.risk > 5 };
    """
    response = RUST.policy_set(policies).evaluate(REQ)
    message = "record does not have the attribute `risk` (at 4:73)"
    assert response.results == (
        PolicyResult("allow", Effect.PERMIT, Kleene.TRUE),
        PolicyResult("elsewhere", Effect.PERMIT, Kleene.FALSE),
        PolicyResult("guard", Effect.FORBID, Kleene.UNKNOWN, message),
    )
    assert response.errors == (PolicyErrorInfo("guard", message),)
    assert response.explain() == (
        "INDETERMINATE: permitted by `allow`, but forbid `guard` could not be evaluated, "
        "so the request cannot be decided (fail closed)\n"
        f"  unknown: `guard` (forbid): {message}"
    )
    assert_same(policies, REQ, None)


def test_shared_responses_are_still_right_for_each_request() -> None:
    # Responses are cached by outcome: different outcomes must never share one.
    policies = '@id("big") permit(principal, action, resource) when { context.n > 2 };'
    rust_set, py_set = RUST.policy_set(policies), PY.policy_set(policies)
    requests = [{**REQ, "context": {"n": n}} for n in (1, 3, 1, 3)]
    requests += [{**REQ, "context": {}}, {**REQ, "context": {"n": "x"}}]
    for _ in range(2):
        for request in requests:
            assert shape(rust_set.evaluate(request)) == shape(py_set.evaluate(request))
        assert [shape(r) for r in rust_set.evaluate_batch(requests)] == [
            shape(r) for r in py_set.evaluate_batch(requests)
        ]
    decisions = [rust_set.evaluate(r).decision for r in requests]
    assert decisions == [Decision.DENY, Decision.PERMIT] * 2 + [Decision.INDETERMINATE] * 2


def test_the_response_cache_stays_bounded() -> None:
    policies = "permit(principal, action, resource) when { context.n > 0 && context.m };"
    rust_set = RUST.policy_set(policies)
    for n in range(600):  # every request a different error message, so a different outcome
        rust_set.evaluate({**REQ, "context": {"n": n, "m": n}})
    assert len(rust_set._cache) <= rust_set._cache_max <= 256


# -- hostile cases: each error kind, in every place it can arise -------------------------

ENTITIES: list[dict[str, Any]] = [
    {
        "uid": {"type": "User", "id": "alice"},
        "attrs": {"n": 9223372036854775807, "s": "x", "set": [1, "a"], "boss": "bob"},
        "parents": [{"type": "Group", "id": "g"}],
        "tags": {"t": 1},
    },
    {"uid": {"type": "Group", "id": "g"}, "attrs": {}, "parents": []},
]

HOSTILE = [
    "principal.n + 1 > 0",
    "principal.n * 2 > 0",
    "-(principal.n) - 2 < 0",
    "-(-9223372036854775808) == 0",
    "9223372036854775807 + context.k > 0",
    "principal.missing == 1",
    "resource.owner == principal",
    'User::"nobody".n == 1',
    "context.nope",
    "context.k < principal.s",
    'principal.s like "x*" && principal.n',
    "principal.set.contains(1) && principal.set.containsAll(principal.s)",
    "principal in principal.set",
    'principal.getTag("missing") == 1',
    'resource.getTag("t") == 1',
    "principal.hasTag(1)",
    "if principal.nope then true else false",
    "if context.k then 1 else 1",
    "principal.boss.n == 1",
    "(principal.missing || true) && (false || principal.nope)",
    "[principal.nope, 1].isEmpty()",
    "{a: principal.nope}.a == 1",
    "principal is User in principal.s",
    "context has nope && context.nope",
]


@pytest.mark.parametrize("expr", HOSTILE)
@pytest.mark.parametrize("effect", ["permit", "forbid"])
def test_hostile_conditions_give_the_same_whole_response(expr: str, effect: str) -> None:
    policies = f"""
        @id("base") permit(principal, action, resource);
        @id("x") {effect}(principal, action, resource) when {{ {expr} }};
        @id("y") {effect}(principal, action, resource) unless {{ {expr} }};
    """
    for context in ({}, {"k": 1}, {"k": 9223372036854775807, "nope": True}):
        response = assert_same(policies, {**REQ, "context": context}, ENTITIES)
        assert len(response.results) == 3


def test_the_step_limit_gives_the_same_whole_response() -> None:
    conj = " && ".join(["context.big.containsAll(context.big)"] * 12)
    policies = f'@id("heavy") forbid(principal, action, resource) when {{ {conj} }};'
    response = assert_same(policies, {**REQ, "context": {"big": list(range(10_000))}}, None)
    assert response.errors == (PolicyErrorInfo("heavy", "evaluation took more than 100000 steps"),)


BAD_INPUTS: list[tuple[Any, Any]] = [
    ({**REQ, "context": {"f": 1.5}}, None),
    ({**REQ, "principal": "alice"}, None),
    ({**REQ, "context": {"n": 2**64}}, None),
    ({**REQ, "extra": 1}, None),
    (REQ, [{"uid": {"type": "User"}}]),
    (REQ, [{"uid": {"type": "User", "id": "a"}, "attrs": {"x": None}}]),
    (REQ, [{"uid": {"type": "User", "id": "a"}, "parents": 'Group::"g"'}]),
]


@pytest.mark.parametrize(("request_", "entities"), BAD_INPUTS)
def test_bad_input_fails_with_the_same_message(request_: Any, entities: Any) -> None:
    policies = "permit(principal, action, resource);"
    py_set, rust_set = PY.policy_set(policies), RUST.policy_set(policies)
    with pytest.raises(PolicyError) as py_err:
        py_set.evaluate(request_, entities)
    with pytest.raises(PolicyError) as rust_err:
        rust_set.evaluate(request_, entities)
    assert str(rust_err.value) == str(py_err.value)


# -- random policy sets, entities and requests ------------------------------------------


@SETTINGS
@given(
    policies=cedar_gen.policy_texts(),
    entities=cedar_gen.entity_lists(),
    reqs=st.lists(cedar_gen.requests, min_size=1, max_size=4),
)
def test_random_policy_sets_give_the_same_whole_responses(
    policies: str, entities: list[dict[str, Any]], reqs: list[dict[str, Any]]
) -> None:
    py_set, rust_set = PolicySet.from_str(policies), RUST.policy_set(policies)
    assert rust_set.ids == py_set.ids
    rust_entities = RUST.entities(entities)
    want = [outcome(lambda r=r: py_set.evaluate(r, entities)) for r in reqs]
    got = [outcome(lambda r=r: rust_set.evaluate(r, rust_entities)) for r in reqs]
    assert got == want, policies
    # Batches, and a second pass (answered from the response cache), agree too.
    batch = [("response", shape(r)) for r in rust_set.evaluate_batch(reqs, rust_entities)]
    assert batch == want
    assert [outcome(lambda r=r: rust_set.evaluate(r, rust_entities)) for r in reqs] == want
