"""The Z3 encoding against the evaluator: random policies, concrete requests and entities.

For each example the symbolic request and store are pinned to the concrete
ones (``Grounding``); then (1) the pinned formula must be satisfiable (the
encoding does not exclude a real input) and (2) no policy may take another
Kleene value than the one the evaluator computes (the encoding decides
exactly what the evaluator decides). Policies come from the Cedar agreement
generator in tests/kernel/test_policy_cedar.py; examples whose policies use
a construct the encoding refuses (AnalysisError) are counted, and most must
be encodable. ``LION_EXAMPLES`` scales the run.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lion.errors import AnalysisError
from lion.kernel.policy import Entities, Kleene, PolicySet, Request
from lion.policy.analyze._encode import Encoder
from lion.policy.analyze._ground import Grounding
from lion.policy.analyze._world import World
from tests._modules import load

EXAMPLES = int(os.environ.get("LION_EXAMPLES", 60))


gen = load("kernel/test_policy_cedar.py")


def check_encoding(text: str, entities_json: Any, request_json: Any) -> str:
    """'ok', or raise AssertionError naming the policy whose value the encoding gets wrong."""
    policy_set = PolicySet.from_str(text)
    world = World()
    enc = Encoder(world)
    encoded = [(p, *enc.policy(p)) for p in policy_set.policies]
    request = Request.from_json(request_json)
    entities = Entities.from_json(entities_json)
    expected = {r.policy_id: r.value for r in policy_set.evaluate(request, entities).results}
    grounding = Grounding(world, request, entities)
    solver = z3.Solver()
    solver.add(*world.finish())
    solver.add(*world.like_definitions())
    solver.add(*grounding.pins())
    assert solver.check() == z3.sat, ("the encoding excludes a real input", text, request_json)
    wrong = []
    for policy, t, u in encoded:
        k = expected[policy.id]
        want_t, want_u = z3.BoolVal(k is Kleene.TRUE), z3.BoolVal(k is Kleene.UNKNOWN)
        wrong.append(z3.Or(t != want_t, u != want_u))
    solver.add(z3.Or(*wrong))
    result = solver.check()
    if result == z3.sat:
        model = solver.model()
        bad = [
            (p.id, expected[p.id], model.eval(t, True), model.eval(u, True))
            for p, t, u in encoded
            if z3.is_true(
                model.eval(
                    z3.Or(
                        t != (expected[p.id] is Kleene.TRUE),
                        u != (expected[p.id] is Kleene.UNKNOWN),
                    ),
                    True,
                )
            )
        ]
        raise AssertionError(
            ("encoding disagrees with the evaluator", bad, text, request_json, entities_json)
        )
    assert result == z3.unsat
    return "ok"


def test_random_policies_encode_exactly() -> None:
    stats: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        policies=gen.policy_texts(),
        entities=gen.entity_lists(),
        reqs=st.lists(gen.requests, min_size=1, max_size=2),
    )
    def run(policies: str, entities: list[dict[str, Any]], reqs: list[dict[str, Any]]) -> None:
        for req in reqs:
            try:
                stats[check_encoding(policies, entities, req)] += 1
            except AnalysisError as exc:
                stats["refused"] += 1
                stats[f"refused: {str(exc).split(': ', 1)[-1]}"] += 1
                return

    run()
    print(f"encoding vs evaluator: {dict(stats)}")
    assert stats["ok"] >= EXAMPLES // 2, stats


P = "permit(principal, action, resource) when "


def test_hand_picked_cases_encode_exactly() -> None:
    alice = {"type": "User", "id": "alice"}
    admins = {"type": "Group", "id": "admins"}
    entities = [
        {
            "uid": alice,
            "attrs": {"n": 3, "s": "abc", "set": [1, "a", {"__entity": admins}], "rec": {"n": 1}},
            "parents": [admins],
            "tags": {"t": 5},
        },
        {"uid": admins, "attrs": {}, "parents": [{"type": "Group", "id": "all"}]},
    ]
    request = {
        "principal": alice,
        "action": {"type": "Action", "id": "read"},
        "resource": {"type": "Doc", "id": "d"},
        "context": {
            "n": 9223372036854775807,
            "set": [{"__entity": admins}],
            "rec": {"n": 1},
            "bad": [admins],
        },
    }
    cases = [
        'permit(principal in Group::"all", action, resource);',
        P + "{ context.n + 1 > 0 };",
        P + "{ principal.set.contains(1) };",
        P + '{ principal.set.contains("b") || true };',
        P + "{ principal in context.set };",
        P + "{ principal in context.bad };",
        P + "{ principal in principal.set };",
        P + "{ principal.rec == context.rec };",
        P + "{ principal.set == context.set };",
        P + "{ context.set.isEmpty() };",
        P + '{ principal.getTag("t") == 5 };',
        P + '{ principal.hasTag("u") };',
        P + '{ principal.s like "a*c" };',
        P + "{ if principal.nope then 1 else 1 };",
        P + "{ (if principal.nope then 1 else 2) == 1 };",
        P + "{ resource.x || true };",
        P + "{ resource.x && false };",
        'forbid(principal, action, resource) unless { principal is User in Group::"all" };',
        P + "{ -context.n < 0 };",
        P + "{ context.n * 2 == 0 };",
        P + "{ context.rec has n && context has rec };",
        P + '{ principal.set.containsAll([1, "a"]) };',
        P + "{ [1, 2].containsAny([2, 3]) };",
        P + '{ context == {"n": 1} };',
        P + '{ context.d.lessThan(decimal("1.5")) };',
        P + "{ context.t < context.t2 };",
        P + "{ context.t < context.n };",
        P + '{ context.t.toDate() == datetime("2024-01-01") };',
        P + "{ context.t.toTime().toHours() == 13 };",
        P + '{ context.t.offset(duration("-1d")) < context.t };',
        P + "{ context.t.durationSince(context.t2) < context.dur };",
        P + "{ context.dur.toDays() == -1 };",
        P + "{ context.ip == context.ip2 || context.ip == context.ip };",
        P + '{ decimal("1.23456") == context.d };',
        P + "{ principal.set.containsAll(context.set) };",
        P + "{ principal.set.containsAny(context.set) };",
        P + "{ context.set.containsAll(principal.set) };",
        P + "{ context.set.containsAny(principal.set) && context.set.containsAll([]) };",
        P + '{ [1, "a", Group::"admins"].containsAll(principal.set) };',
        P + '{ [1, "b"].containsAll(principal.set) };',
        P + '{ principal.set == [1, "a", Group::"admins"] };',
        P + '{ [Group::"admins"] == context.set && principal.set != [1, "a"] };',
        P + '{ [Group::"admins"].containsAny(context.set) };',
        P + "{ context.bad.containsAll(context.set) || context.set.containsAny(context.bad) };",
        # `Literal(True) == Literal(1)` in Python: the encoder must not confuse them.
        P + "{ true } when { 0 < 1 };",
    ]
    for text in cases:
        assert check_encoding(text, entities, request) == "ok", text


# -- extension values ---------------------------------------------------------------

EXT_MILLIS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, -1, 86_399_999, -86_400_000, 2**63 - 1, -(2**63), 1_700_000_000_000]),
)
DATETIME_TEXT = st.sampled_from(
    [
        "1970-01-01",
        "2024-02-29T12:00:00Z",
        "1969-12-31T23:59:59.999Z",
        "0000-01-01T00:00:00+2359",
        "9999-12-31T23:59:59.999-2359",
        "2000-06-01T00:00:00.001+0130",
    ]
)


def _duration_text(millis: int) -> str:
    from lion.kernel.policy._extensions import duration_text

    return duration_text(millis)


def _decimal_text(scaled: int) -> str:
    from lion.kernel.policy._values import decimal_text

    return decimal_text(scaled)


ext_context = st.fixed_dictionaries(
    {},
    optional={
        "d": EXT_MILLIS.map(lambda n: {"__extn": {"fn": "decimal", "arg": _decimal_text(n)}}),
        "e": EXT_MILLIS.map(lambda n: {"__extn": {"fn": "decimal", "arg": _decimal_text(n)}}),
        "t": DATETIME_TEXT.map(lambda s: {"__extn": {"fn": "datetime", "arg": s}}),
        "u": DATETIME_TEXT.map(lambda s: {"__extn": {"fn": "datetime", "arg": s}}),
        "p": EXT_MILLIS.map(lambda n: {"__extn": {"fn": "duration", "arg": _duration_text(n)}}),
        "n": EXT_MILLIS,
        "i": st.sampled_from(["10.0.0.1", "10.0.0.1/8", "::1"]).map(
            lambda s: {"__extn": {"fn": "ip", "arg": s}}
        ),
    },
)
EXT_ATOMS = [
    "context.d",
    "context.e",
    "context.t",
    "context.u",
    "context.p",
    "context.n",
    "context.i",
    'decimal("1.5")',
    'decimal("-0.0001")',
    'datetime("2024-01-01")',
    'duration("-1d2h")',
    'duration("1ms")',
    'decimal("x")',
]
ext_bools = st.one_of(
    st.tuples(
        st.sampled_from(EXT_ATOMS),
        st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
        st.sampled_from(EXT_ATOMS),
    ).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
    st.tuples(
        st.sampled_from(EXT_ATOMS),
        st.sampled_from(["lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual"]),
        st.sampled_from(EXT_ATOMS),
    ).map(lambda t: f"{t[0]}.{t[1]}({t[2]})"),
    st.tuples(st.sampled_from(EXT_ATOMS), st.sampled_from(EXT_ATOMS)).map(
        lambda t: f"({t[0]}.offset({t[1]}) == {t[0]}.offset({t[1]}))"
    ),
    st.tuples(st.sampled_from(EXT_ATOMS), st.sampled_from(EXT_ATOMS)).map(
        lambda t: f'({t[0]}.durationSince({t[1]}) < duration("0ms"))'
    ),
    st.tuples(
        st.sampled_from(EXT_ATOMS),
        st.sampled_from(["toDays", "toHours", "toMinutes", "toSeconds", "toMilliseconds"]),
        st.integers(-3, 3),
    ).map(lambda t: f"({t[0]}.{t[1]}() > {t[2]})"),
    st.sampled_from(EXT_ATOMS).map(lambda a: f"({a}.toDate() <= {a})"),
    st.sampled_from(EXT_ATOMS).map(lambda a: f'({a}.toTime() < duration("12h"))'),
)


def test_random_extension_expressions_encode_exactly() -> None:
    stats: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(conditions=st.lists(ext_bools, min_size=1, max_size=3), context=ext_context)
    def run(conditions: list[str], context: dict[str, Any]) -> None:
        text = "\n".join(
            f"{'permit' if i % 2 == 0 else 'forbid'}(principal, action, resource) when {{ {c} }};"
            for i, c in enumerate(conditions)
        )
        request = {
            "principal": 'User::"a"',
            "action": 'Action::"r"',
            "resource": 'Doc::"d"',
            "context": context,
        }
        stats[check_encoding(text, [], request)] += 1

    run()
    print(f"extension encoding vs evaluator: {dict(stats)}")
    assert stats["ok"] == EXAMPLES
