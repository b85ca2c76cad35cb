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

import functools
import json
import os
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
from lion.kernel.policy._extensions import parse_datetime, parse_decimal, parse_duration, parse_ip
from tests._modules import load

EXAMPLES = int(os.environ.get("LION_EXAMPLES", 120))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


cedar_gen = load("kernel/test_policy_cedar.py")

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


def assert_same(policies: str, request: Any, entities: Any) -> Response | None:
    """Both backends decide `request`; their whole responses (or PolicyError messages)
    must be equal. The response, or None on a PolicyError."""
    py_set = PolicySet.from_str(policies)
    rust_set = RUST.policy_set(policies)
    assert rust_set.ids == py_set.ids
    want = outcome(lambda: py_set.evaluate(request, entities))
    got = outcome(
        lambda: rust_set.evaluate(request, None if entities is None else RUST.entities(entities))
    )
    assert got == want, (policies, request, entities)
    try:
        return py_set.evaluate(request, entities)
    except PolicyError:
        return None


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
    # extension values: overflow, type errors, arity, in every position
    'datetime("9999-12-31").offset(duration("9223372036854775807ms")) == principal',
    'datetime("0000-01-01").durationSince(datetime("9999-12-31")).toDays() < 0',
    'datetime("1970-01-01").offset(duration("-9223372036854775808ms")).toDate() == principal',
    'ip("10.0.0.1") like "10*"',
    'decimal("1.0") has x',
    'decimal("1.0") in [principal]',
    'principal in [ip("::1")]',
    'ip("::1").isInRange(decimal("1.0"))',
    'ip("::1").isInRange(ip("::1"), ip("::1"))',
    'decimal("1.0").lessThan(context.k)',
    "principal.s.isLoopback()",
    'context.k < datetime("2024-01-01")',
    'duration("1h") + 1 == 2',
    '-duration("1h") == 0',
    '!decimal("1.0")',
    'if ip("::1") then 1 else 2',
    '[decimal("1.0"), decimal("1.00")].contains(decimal("1.000")) && principal.nope',
    '{a: datetime("2024-01-01")}.a.toTime() == duration("0ms") && principal.nope',
    "datetime(principal.s) == principal",
    'duration("1d").toHours() * 9223372036854775807 > 0',
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
        assert response is not None and len(response.results) == 3


def test_the_step_limit_gives_the_same_whole_response() -> None:
    conj = " && ".join(["context.big.containsAll(context.big)"] * 12)
    policies = f'@id("heavy") forbid(principal, action, resource) when {{ {conj} }};'
    response = assert_same(policies, {**REQ, "context": {"big": list(range(10_000))}}, None)
    assert response is not None
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


# -- extension values: literals, methods, comparisons, __extn JSON -----------------------

DECIMALS = ["1.5", "-0.0001", "922337203685477.5807", "-922337203685477.5808", "0.0"]
DECIMALS_BAD = ["922337203685477.5808", "1.23456", "1", ".5", "+1.0", "١.٢", "1.٢٢٢", "x"]
DECIMALS_BAD += ["-922337203685477.5809", "99999999999999999999.1", "0000000000000000000001.5"]
DECIMALS_BAD += ["922337203685478.0", "-922337203685477.58081", "١.12345"]
IPS = ["10.0.0.1", "10.0.0.0/8", "127.0.0.1", "224.1.1.1", "::1", "ff00::1/8", "2001:db8::/32"]
IPS += ["10.1.2.3/24", "0.0.0.0/0", "::/0", "::"]
IPS_BAD = ["::ffff:1.2.3.4", "1.2.3.4/33", "1.2.3.4/024", "01.2.3.4", "1::2::3", "1.2.3.4/"]
IPS_BAD += ["1.2.3.4/x", " 1.2.3.4", "::1/129", "::1/1280", "fe80::1%eth0", "[::1]"]
IPS_BAD += [
    "1234:5678:9abc:def0:1234:5678:9abc:def0/128",
    "01234:5678:9abc:def0:1234:5678:9abc:def0/128",
]
IPS_BAD += ["::1.2.3.4", "1.2.3.4::", "::ffff:1.2", "1:2:3:4:5:6:7::8", "1.2.3.4/08"]
DATETIMES = ["2024-01-01", "2024-02-29T12:00:00Z", "2024-01-01T00:00:00.123+0130"]
DATETIMES += ["2023-12-31T23:59:59-2359", "0000-01-01", "9999-12-31T23:59:59.999Z", "1969-12-31"]
DATETIMES_BAD = ["2023-02-29", "2024-1-01", "2024-01-01T24:00:00Z", "2024-01-01T00:00:00+0160"]
DATETIMES_BAD += ["2024-01-01T00:00:00", "2024-01-01T00:00:00.1Z", "2024-13-01", "2024-01-01 "]
DATETIMES_BAD += ["2024-01-01T00:00:00+2400", "2024-01-01T00:00:60Z"]
DURATIONS = ["1d2h3m4s5ms", "-1d", "1ms", "0ms", "1m1ms", "36h", "-1d12h", "9223372036854775807ms"]
DURATIONS += ["-9223372036854775808ms", "106751991167d"]
DURATIONS_BAD = ["1h1d", "", "-", "9223372036854775808ms", "106751991168d", "1ms1m", "1d-1h"]
DURATIONS_BAD += ["1.5h", "1 d"]

POOLS = {
    "decimal": DECIMALS + DECIMALS_BAD,
    "ip": IPS + IPS_BAD,
    "datetime": DATETIMES + DATETIMES_BAD,
    "duration": DURATIONS + DURATIONS_BAD,
}
GOOD = {"decimal": DECIMALS, "ip": IPS, "datetime": DATETIMES, "duration": DURATIONS}
CONTEXT_EXT = {"amount": "decimal", "addr": "ip", "when": "datetime", "wait": "duration"}
METHODS_OF = {
    "decimal": ["lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual"],
    "ip": ["isIpv4", "isIpv6", "isLoopback", "isMulticast", "isInRange"],
    "datetime": ["offset", "durationSince", "toDate", "toTime"],
    "duration": ["toDays", "toHours", "toMinutes", "toSeconds", "toMilliseconds"],
}
TWO_ARGS = {"lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual", "isInRange"}
TWO_ARGS |= {"offset", "durationSince"}


def _lit(fn: str, text: str) -> str:
    return f'{fn}("{text}")'


@functools.cache
def ext_exprs(depth: int) -> st.SearchStrategy[str]:
    """Expressions of (mostly) extension type, erring often."""
    literal = st.sampled_from(list(POOLS)).flatmap(
        lambda fn: st.sampled_from(POOLS[fn]).map(lambda s: _lit(fn, s))
    )
    context = st.sampled_from([f"context.{k}" for k in CONTEXT_EXT] + ["context.n"])
    atoms = st.one_of(literal, literal, context, st.sampled_from(["1", '"10.0.0.1"', "true"]))
    if depth == 0:
        return atoms
    sub = ext_exprs(depth - 1)
    method = st.sampled_from([m for ms in METHODS_OF.values() for m in ms])
    return st.one_of(
        atoms,
        st.tuples(sub, method, sub).map(
            lambda t: f"{t[0]}.{t[1]}({t[2]})" if t[1] in TWO_ARGS else f"{t[0]}.{t[1]}()"
        ),
        st.tuples(sub, st.sampled_from(["+", "-"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
    )


@functools.cache
def ext_conditions() -> st.SearchStrategy[str]:
    sub = ext_exprs(1)
    method = st.sampled_from([m for ms in METHODS_OF.values() for m in ms])
    return st.one_of(
        st.tuples(sub, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), sub).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(sub, method, sub).map(lambda t: f"{t[0]}.{t[1]}({t[2]})"),
        st.tuples(sub, method).map(lambda t: f"{t[0]}.{t[1]}()"),
        st.tuples(st.lists(sub, max_size=2), sub).map(
            lambda t: f"[{', '.join(t[0])}].contains({t[1]})"
        ),
        st.tuples(st.sampled_from(list(POOLS)), st.lists(sub, max_size=2)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"  # wrong arities and argument types
        ),
        st.tuples(sub, sub, sub).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]}) == {t[1]}"),
    )


def _extn(fn: str, arg: Any) -> dict[str, Any]:
    return {"__extn": {"fn": fn, "arg": arg}}


@st.composite
def ext_contexts(draw: st.DrawFn) -> dict[str, Any]:
    context: dict[str, Any] = {"n": draw(st.sampled_from([0, 1, -(2**63), 2**63 - 1]))}
    for key, fn in CONTEXT_EXT.items():
        if draw(st.integers(0, 9)) == 0:
            continue  # missing: an evaluation error
        pool = POOLS[fn] if draw(st.integers(0, 9)) == 0 else GOOD[fn]  # bad: a PolicyError
        context[key] = _extn(fn, draw(st.sampled_from(pool)))
    return context


@SETTINGS
@given(
    conditions=st.lists(
        st.tuples(st.sampled_from(["permit", "forbid"]), ext_conditions()), min_size=1, max_size=3
    ),
    contexts=st.lists(ext_contexts(), min_size=1, max_size=3),
)
def test_extension_values_give_the_same_whole_responses(
    conditions: list[tuple[str, str]], contexts: list[dict[str, Any]]
) -> None:
    policies = "\n".join(
        f"{effect}(principal, action, resource) when {{ {cond} }};" for effect, cond in conditions
    )
    rust_set = RUST.policy_set(policies)
    for context in contexts:
        request = {**REQ, "context": context}
        assert_same(policies, request, None)
        # A dict request is read by the core's fast path, JSON text by the general one.
        via_text = outcome(lambda r=request: rust_set.evaluate(json.dumps(r)))
        assert outcome(lambda r=request: rust_set.evaluate(r)) == via_text
        # The same values as entity attributes.
        entities = [{"uid": {"type": "User", "id": "alice"}, "attrs": context, "parents": []}]
        assert_same(policies.replace("context.", "principal."), REQ, entities)


EXTN_JSON: list[Any] = [
    {"fn": "decimal", "arg": "1.5"},
    {"fn": "ip", "args": ["10.0.0.1"]},
    {"fn": "offset", "args": [_extn("datetime", "2024-01-01"), _extn("duration", "1d")]},
    {"fn": "toTime", "args": [_extn("datetime", "2024-01-01T10:00:00Z")]},
    {"fn": "isIpv4", "arg": _extn("ip", "::1")},
    {"fn": "decimal", "arg": 1},
    {"fn": "decimal", "args": "1.5"},
    {"fn": "decimal", "arg": "1.5", "args": ["1.5"]},
    {"fn": "decimal"},
    {"fn": "nope", "arg": "1"},
    {"fn": 1, "arg": "1"},
    {"arg": "1"},
    "1.5",
    {"fn": "ip", "args": []},
    {"fn": "lessThan", "args": [_extn("decimal", "1.0"), _extn("decimal", "2.0")]},
    {"fn": "datetime", "arg": "2024-02-30"},
    {"fn": "duration", "arg": {"__entity": {"type": "User", "id": "a"}}},
]


@pytest.mark.parametrize("extn", EXTN_JSON)
def test_extn_json_gives_the_same_values_and_errors(extn: Any) -> None:
    policies = """
        @id("eq") permit(principal, action, resource) when { context.x == context.x };
        @id("dec") permit(principal, action, resource) when { context.x.lessThan(decimal("2.0")) };
        @id("ip") permit(principal, action, resource) when { context.x.isLoopback() };
    """
    context = {"x": {"__extn": extn}}
    assert_same(policies, {**REQ, "context": context}, None)
    entities = [{"uid": {"type": "User", "id": "alice"}, "attrs": context, "tags": context}]
    assert_same(policies.replace("context.x", 'principal.getTag("x")'), REQ, entities)


# -- templates: parsing, linking (API and JSON forms), evaluation ------------------------

TEMPLATE_HEADS = [
    "principal == ?principal, action, resource",
    'principal in ?principal, action, resource == Doc::"d1"',
    "principal is User in ?principal, action, resource in ?resource",
    'principal, action == Action::"read", resource == ?resource',
    "principal, action, resource is Doc in ?resource",
]
BAD_TEMPLATES = [
    "permit(principal == ?resource, action, resource);",
    "permit(principal, action == ?principal, resource);",
    "permit(principal, action, resource) when { ?principal == principal };",
    "permit(principal, action, resource in [?resource]);",
    "permit(principal == ?other, action, resource);",
]
SLOT_VALUES: list[Any] = [
    'User::"alice"',
    'Group::"admins"',
    {"type": "Doc", "id": "d1"},
    {"__entity": {"type": "Group", "id": "all"}},
    "alice",
    {"type": "User"},
    7,
]


@st.composite
def template_sets(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    """Policy text with templates and static policies, and template links to make."""
    texts, templates = [], []
    for index in range(draw(st.integers(1, 4))):
        effect = draw(st.sampled_from(["permit", "permit", "forbid"]))
        conds = st.one_of(st.just(""), cedar_gen.bools_expr(1).map(lambda e: f" when {{ {e} }}"))
        cond = draw(conds)
        if draw(st.booleans()):
            head, pid = draw(st.sampled_from(TEMPLATE_HEADS)), f"t{index}"
            templates.append(pid)
        else:
            head, pid = "principal, action, resource", f"s{index}"
        texts.append(f'@id("{pid}") {effect}({head}){cond};')
    links = []
    for n in range(draw(st.integers(0, 4))):
        template_id = draw(st.sampled_from([*templates, "s0", "nope"]))
        values: dict[str, Any] = {}
        for slot in draw(st.sets(st.sampled_from(["?principal", "?resource", "?other"]))):
            values[slot] = draw(st.sampled_from(SLOT_VALUES))
        new_id = draw(st.sampled_from([f"l{n}", "l0", "s0", "t0"]))
        links.append({"templateId": template_id, "newId": new_id, "values": values})
    return "\n".join(texts), links


def _linked(engine: Any, links: list[dict[str, Any]], one_by_one: bool) -> Any:
    if not one_by_one:
        return engine.link_all(links)
    for link in links:
        engine = engine.link(link["templateId"], link["newId"], link["values"])
    return engine


@SETTINGS
@given(
    case=template_sets(),
    reqs=st.lists(cedar_gen.requests, min_size=1, max_size=3),
    entities=cedar_gen.entity_lists(),
    one_by_one=st.booleans(),
)
def test_templates_link_and_decide_the_same(
    case: tuple[str, list[dict[str, Any]]],
    reqs: list[dict[str, Any]],
    entities: list[dict[str, Any]],
    one_by_one: bool,
) -> None:
    text, links = case
    py_set, rust_set = PolicySet.from_str(text), RUST.policy_set(text)
    assert rust_set.templates == py_set.templates
    assert rust_set.ids == py_set.ids
    outcomes = []
    for engine in (py_set, rust_set):
        try:
            outcomes.append(("ok", _linked(engine, links, one_by_one)))
        except PolicyError as err:
            outcomes.append(("error", str(err)))
    (py_kind, py_linked), (rust_kind, rust_linked) = outcomes
    assert (rust_kind, rust_linked if rust_kind == "error" else None) == (
        py_kind,
        py_linked if py_kind == "error" else None,
    ), (text, links)
    if py_kind == "error":
        return
    assert rust_linked.ids == py_linked.ids
    assert rust_set.ids == py_set.ids  # the sets are immutable: linking made new ones
    rust_entities = RUST.entities(entities)
    for req in reqs:
        want = outcome(lambda r=req: py_linked.evaluate(r, entities))
        assert outcome(lambda r=req: rust_linked.evaluate(r, rust_entities)) == want


BAD_TEXTS = [
    *BAD_TEMPLATES,
    "permit(principal, action, resource) when { context.x == " + "9" * 5000 + " };",
    "permit(principal, action, resource) when { 99999999999999999999 == 1 };",
    'permit(principal, action, resource) when { context.decimal("1.0") };',
    'permit(principal, action, resource) when { isIpv4(ip("::1")) };',
    'permit(principal, action, resource) when { ipaddr("::1") };',
    'permit(principal, action, resource) when { ip::x("::1") };',
    'permit(principal, action, resource) when { ip("::1").isIPv4() };',
    "permit(principal, action, resource) when { [1].contains() };",
    'permit(principal, action in [Action::"a", 1], resource);',
    "permit(principal, action, resource in [?resource]);",
]


@pytest.mark.parametrize("text", BAD_TEXTS)
def test_bad_policy_text_fails_with_the_same_message(text: str) -> None:
    with pytest.raises(PolicyError) as py_err:
        PolicySet.from_str(text)
    with pytest.raises(PolicyError) as rust_err:
        RUST.policy_set(text)
    assert str(rust_err.value) == str(py_err.value)


BAD_LINKS: list[Any] = [
    "not json",
    '{"templateId": "t"}',
    [{"templateId": "t", "newId": "x"}],
    [{"templateId": "t", "newId": "", "values": {}}],
    [{"templateId": "t", "newId": "x", "values": {}, "extra": 1}],
    [{"templateId": 5, "newId": "x", "values": {}}],
    [{"templateId": "t", "newId": "x", "values": []}],
    [{"templateId": "t", "newId": "x", "values": {"?principal": 'User::"a"'}}] * 2,
    ["t"],
    7,
]


@pytest.mark.parametrize("links", BAD_LINKS)
def test_bad_links_fail_with_the_same_message(links: Any) -> None:
    text = '@id("t") permit(principal == ?principal, action, resource);'
    with pytest.raises(PolicyError) as py_err:
        PolicySet.from_str(text).link_all(links)
    with pytest.raises(PolicyError) as rust_err:
        RUST.policy_set(text).link_all(links)
    assert str(rust_err.value) == str(py_err.value)


# -- constructor strings: the Rust parsers against the reference's, value or message -----

ALPHABETS = {
    "ip": "0123456789abcdefABCDEF:./% ",
    "decimal": "0123456789-.+١e ",
    "datetime": "0123456789-:TZ.+ ",
    "duration": "0123456789-dhms ",
}
SEEDS = {"ip": IPS, "decimal": DECIMALS, "datetime": DATETIMES, "duration": DURATIONS}


@st.composite
def constructor_strings(draw: st.DrawFn) -> tuple[str, str]:
    fn = draw(st.sampled_from(list(ALPHABETS)))
    alphabet = ALPHABETS[fn]
    if draw(st.booleans()):
        return fn, draw(st.text(alphabet, max_size=45))
    text = list(draw(st.sampled_from(SEEDS[fn])))
    for _ in range(draw(st.integers(1, 3))):  # a few edits of a good value
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        char = draw(st.sampled_from(alphabet))
        if kind == "insert":
            text.insert(at, char)
        elif at < len(text):
            text[at : at + 1] = [] if kind == "delete" else [char]
    return fn, "".join(text)


@settings(SETTINGS, max_examples=EXAMPLES * 4)
@given(case=constructor_strings())
def test_constructor_strings_parse_to_the_same_value_or_message(case: tuple[str, str]) -> None:
    fn, text = case
    literal = f"{fn}({json.dumps(text, ensure_ascii=False)})"
    try:  # the reference's value, written in a canonical form both engines read
        value = PolicySet.from_str(
            f"permit(principal, action, resource) when {{ {literal} == {literal} }};"
        )
        canonical = value.evaluate(REQ).errors
    except PolicyError:
        return  # not a policy string literal (the JSON escape differs): nothing to compare
    condition = f"{literal} == {literal}"
    if not canonical:
        parsed = _PARSERS[fn](text)
        condition = f"{literal} == {parsed}"
    response = assert_same(
        f"permit(principal, action, resource) when {{ {condition} }};", REQ, None
    )
    assert response is not None
    if not canonical:
        assert response.decision is Decision.PERMIT, (literal, str(parsed))


def _canonical_datetime(text: str) -> str:
    return f'datetime("1970-01-01").offset(duration("{parse_datetime(text).millis}ms"))'


_PARSERS: dict[str, Any] = {
    "ip": lambda t: str(parse_ip(t)),
    "decimal": lambda t: str(parse_decimal(t)),
    "datetime": _canonical_datetime,
    "duration": lambda t: f'duration("{parse_duration(t).millis}ms")',
}
