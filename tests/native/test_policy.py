"""Differential tests: the Rust policy engine (``lion._native``) against the Python
reference (``lion.kernel.policy``).

Every comparison is on the WHOLE result: the decision, the determining ids and
every erroring policy with its message; malformed policies must fail in both
at the same ``path:line:col``. The random generators are the reference's own
(tests/kernel/test_policy_cedar.py and tests/kernel/test_policy.py).
"""

from __future__ import annotations

import json
import os
import re
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lion import _native
from lion.errors import PolicyError
from lion.kernel import policy as ref
from tests._modules import load

EXAMPLES = int(os.environ.get("LION_EXAMPLES", 100))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


cedar_gen = load("kernel/test_policy_cedar.py")
kernel_cases = load("kernel/test_policy.py")

REQ: dict[str, Any] = kernel_cases.REQ
ENTITIES: list[dict[str, Any]] = kernel_cases.ENTITIES

Hit = int | tuple[int, str]
Result = tuple[str, tuple[str, ...], tuple[tuple[str, str], ...], tuple[Hit, ...]]


def raw_of(response: ref.Response) -> Result:
    """The reference response in the core's raw form, hits (non-FALSE policies) included."""
    errors = tuple((e.policy_id, e.message) for e in response.errors)
    hits: list[Hit] = []
    for index, r in enumerate(response.results):
        if r.value is ref.Kleene.TRUE:
            hits.append(index)
        elif r.value is ref.Kleene.UNKNOWN:
            hits.append((index, r.error or "unknown"))
    return (response.decision.name, response.determining, errors, tuple(hits))


def ref_result(policies: str, request: Any, entities: Any) -> Result:
    return raw_of(ref.PolicySet.from_str(policies).evaluate(request, entities))


def rust_result(policies: str, request: Any, entities: Any) -> Result:
    ents = None if entities is None else _native.Entities(entities)
    return _native.PolicySet(policies).evaluate(request, ents)


LOCATION = re.compile(r"^(.*?:\d+:\d+): ")


def parse_outcome(parse: Any, text: str) -> tuple[str, Any]:
    """("ok", ids) or ("error", "path:line:col") for one engine."""
    try:
        policies = parse(text)
    except PolicyError as err:
        match = LOCATION.match(str(err))
        assert match is not None, str(err)
        return ("error", match.group(1))
    return ("ok", policies)


def ref_parse(text: str) -> tuple[str, Any]:
    def ids(t: str) -> Any:
        policies = ref.PolicySet.from_str(t)
        return (list(policies.ids), list(policies.templates))

    return parse_outcome(ids, text)


def rust_parse(text: str) -> tuple[str, Any]:
    def ids(t: str) -> Any:
        policies = _native.PolicySet(t)
        return (policies.ids, policies.templates)

    return parse_outcome(ids, text)


def assert_same_parse(text: str) -> None:
    assert rust_parse(text) == ref_parse(text), text


def assert_same(policies: str, request: Any, entities: Any) -> Result:
    expected = ref_result(policies, request, entities)
    assert rust_result(policies, request, entities) == expected, (policies, request)
    return expected


# -- random policy sets, entities and requests --------------------------------------


@SETTINGS
@given(
    policies=cedar_gen.policy_texts(),
    entities=cedar_gen.entity_lists(),
    reqs=st.lists(cedar_gen.requests, min_size=1, max_size=4),
)
def test_random_policy_sets_agree_with_python(
    policies: str, entities: list[dict[str, Any]], reqs: list[dict[str, Any]]
) -> None:
    rust_set = _native.PolicySet(policies)
    ref_set = ref.PolicySet.from_str(policies)
    assert rust_set.ids == [p.id for p in ref_set]
    ents = _native.Entities(entities)
    expected = []
    for req in reqs:
        want = raw_of(ref_set.evaluate(req, entities))
        assert rust_set.evaluate(req, ents) == want, (policies, req)
        expected.append(want)
    # The batch form and JSON-text inputs give the same answers.
    assert rust_set.evaluate_batch(reqs, ents) == expected
    assert (
        rust_set.evaluate(json.dumps(reqs[0]), _native.Entities(json.dumps(entities)))
        == (expected[0])
    )


CONTEXT_VALUES = st.recursive(
    st.one_of(
        st.integers(-(2**63), 2**63 - 1),
        st.sampled_from([2**62, 2**63 - 1, -(2**63), 0, 1, -1]),
        st.sampled_from(["", "a", "ab", "a*b", "x y", "λ"]),
        st.booleans(),
        st.sampled_from(cedar_gen.USERS + cedar_gen.GROUPS).map(
            lambda u: {"__entity": cedar_gen.uid_json(u)}
        ),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["n", "s", "b"]), inner)
    ),
    max_leaves=5,
)


@SETTINGS
@given(
    exprs=st.lists(cedar_gen.bools_expr(3), min_size=1, max_size=3),
    kinds=st.lists(st.sampled_from(["when", "unless"]), min_size=3, max_size=3),
    context=st.dictionaries(st.sampled_from(cedar_gen.ATTRS), CONTEXT_VALUES, max_size=4),
    entities=cedar_gen.entity_lists(),
)
def test_deep_random_conditions_agree_with_python(
    exprs: list[str], kinds: list[str], context: dict[str, Any], entities: list[dict[str, Any]]
) -> None:
    # Many of these error (wrong types, missing attributes, overflow): the
    # messages must match too.
    body = " ".join(f"{k} {{ {e} }}" for k, e in zip(kinds, exprs, strict=False))
    policies = (
        f"permit(principal, action, resource) {body};\nforbid(principal, action, resource) {body};"
    )
    req = {**REQ, "principal": 'User::"alice"', "context": context}
    assert_same(policies, req, entities)


# -- hand-written cases: every operator and every error -------------------------------

HAND_EXPRESSIONS = (
    kernel_cases.TRUE_EXPRESSIONS
    + kernel_cases.FALSE_EXPRESSIONS
    + [e for e, _ in kernel_cases.UNKNOWN_EXPRESSIONS]
    + [
        "context.big.containsAll(context.big) && context.big.containsAll(context.big)",
        'principal.getTag("level") == 3 && principal.hasTag("level")',
        'principal.getTag("nope") == 3',
        'User::"ghost".getTag("x")',
        'User::"ghost".hasTag("x")',
        "principal.hasTag(1)",
        '1.hasTag("x")',
        "[1, 2].contains(true)",
        "[1, true] == [true, 1, 1]",
        "{a: 1} == {a: true}",
        "[principal, 1] is User",
        "principal in [1, principal]",
        "principal in [principal, 1]",
        "principal in 1",
        "1 in principal",
        "principal is User in context",
        "principal is Group in context",
        "if context.x then 1 else 1",
        "(if context.x then 1 else 2) == 1",
        "if context.x then context.y else context.y",
        "if 1 then true else true",
        "context.x || true",
        "context.x && false",
        "context.x || context.y",
        "1 && context.x",
        "-(-9223372036854775807 - 1)",
        "--9223372036854775808 == 0",
        '"abcabc" like "*b*b*"',
        '"a\\u{2a}" like "a\\*"',
        "context has x.y",
        "principal has addr.city && principal.addr has zip",
        '"x" has y',
        "[[1], {a: [2]}] == [{a: [2]}, [1]]",
    ]
)


@pytest.mark.parametrize("expr", HAND_EXPRESSIONS)
def test_every_operator_and_error_matches(expr: str) -> None:
    context = {"big": list(range(10_000)), "n": 3}
    policies = (
        f"permit(principal, action, resource) when {{ {expr} }};\n"
        f"forbid(principal, action, resource) unless {{ {expr} }};"
    )
    assert_same(policies, {**REQ, "context": context}, ENTITIES)


def test_step_limit_makes_the_policy_unknown_in_both() -> None:
    conj = " && ".join(["context.big.containsAll(context.big)"] * 12)
    policies = f'@id("heavy") permit(principal, action, resource) when {{ {conj} }};'
    result = assert_same(policies, {**REQ, "context": {"big": list(range(10_000))}}, None)
    message = "evaluation took more than 100000 steps"
    assert result == ("INDETERMINATE", (), (("heavy", message),), ((0, message),))


def test_scopes_and_the_index_give_python_results() -> None:
    users = [f'User::"u{i}"' for i in range(30)]
    rules = []
    for i, user in enumerate(users):
        rules.append(f"permit(principal == {user}, action, resource);")
        rules.append(f'permit(principal in Group::"g{i % 3}", action == Action::"a{i}", resource);')
        rules.append(f'forbid(principal, action in [Action::"a{i}"], resource is Doc{i % 2});')
        rules.append(
            f'permit(principal is User in Group::"g{i % 4}", action, resource == Doc::"d");'
        )
    policies = "\n".join(rules)
    entities = [
        {"uid": {"type": "User", "id": f"u{i}"}, "parents": [{"type": "Group", "id": f"g{i % 5}"}]}
        for i in range(30)
    ] + [{"uid": {"type": "Group", "id": "g4"}, "parents": [{"type": "Group", "id": "g0"}]}]
    for i in range(0, 30, 3):
        for resource in ('Doc::"d"', 'Doc1::"x"', 'Doc0::"y"'):
            req = {"principal": users[i], "action": f'Action::"a{i}"', "resource": resource}
            assert_same(policies, req, entities)


def test_request_forms_match() -> None:
    policies = "permit(principal, action, resource) when { context.k == 1 };"
    forms: list[Any] = [
        {**REQ, "context": {"k": 1}},
        {**REQ, "context": '{"k": 1}'},
        {**REQ, "context": None},
        {**REQ, "correlation_id": "x"},
        {
            "principal": {"type": "User", "id": "alice"},
            "action": {"__entity": {"type": "Action", "id": "read"}},
            "resource": ' Doc :: "d" ',
        },
        json.dumps({**REQ, "context": {"k": 1}}),
    ]
    for form in forms:
        assert_same(policies, form, None)


# -- malformed input: same error, same place ----------------------------------------


@pytest.mark.parametrize(("text", "line", "column", "message"), kernel_cases.MALFORMED)
def test_malformed_policies_fail_at_the_same_place(
    text: str, line: int, column: int, message: str
) -> None:
    outcome = rust_parse(text)
    assert outcome == ref_parse(text)
    assert outcome == ("error", f"<policies>:{line}:{column}")


def _mutate(text: str, edits: list[tuple[int, str, str]]) -> str:
    for pos, kind, piece in edits:
        pos = min(pos, len(text))
        tail = text[pos:] if kind == "insert" else text[pos + 1 :]
        text = text[:pos] + ("" if kind == "delete" else piece) + tail
    return text


EDITS = st.lists(
    st.tuples(
        st.integers(0, 400),
        st.sampled_from(["delete", "insert", "replace"]),
        st.sampled_from([*cedar_gen.PIECES, "when", "unless", "permit", "!=", "::", "@id"]),
    ),
    min_size=1,
    max_size=4,
)


@SETTINGS
@given(seed=st.sampled_from([cedar_gen.SEED_TEXT, kernel_cases.VALID]), edits=EDITS)
def test_mutated_policies_parse_alike(seed: str, edits: list[tuple[int, str, str]]) -> None:
    text = _mutate(seed, edits)
    outcome = rust_parse(text)
    assert outcome == ref_parse(text), text
    if outcome[0] == "ok":
        req = {**REQ, "context": {"n": 3, "tags": ["x"], "k y": {"a": {}}, "s": []}}
        assert_same(text, req, ENTITIES)


@SETTINGS
@given(st.text(alphabet=string.printable + "λ€\x00", max_size=120))
def test_garbage_parses_alike(text: str) -> None:
    assert_same_parse(text)


@SETTINGS
@given(
    st.lists(
        st.sampled_from(
            [
                *"(){}[];,.*!-<>+",
                "permit",
                "forbid",
                "when",
                "unless",
                "principal",
                "action",
                "resource",
                "context",
                "if",
                "then",
                "else",
                "in",
                "is",
                "has",
                "like",
                "true",
                "==",
                "&&",
                "||",
                "::",
                ":",
                "1",
                '"s"',
                "User",
                "?principal",
                "@",
                "id",
                "x",
            ]
        ),
        max_size=30,
    )
)
def test_token_soup_parses_alike(tokens: list[str]) -> None:
    text = "permit(principal, action, resource) when { " + " ".join(tokens)
    assert_same_parse(text)
    assert_same_parse(text + " };")
    assert_same_parse(" ".join(tokens))


SEMANTIC_ERRORS = [
    "permit(principal, action, resource) when { 9223372036854775808 };",
    "permit(principal, action, resource) when { (9223372036854775808) };",
    "permit(principal, action, resource) when { -9223372036854775808 == 1 };",
    "permit(principal, action, resource) when { 99999999999999999999 };",
    "permit(principal, action, resource) when { !!!!!true };",
    "permit(principal, action, resource) when { context.if };",
    "permit(principal, action, resource) when { context.foo() };",
    "permit(principal, action, resource) when { context.lessThan(1) };",
    "permit(principal, action, resource) when { context.contains() };",
    'permit(principal, action, resource) when { ip("1.2.3.4") };',
    "permit(principal, action, resource) when { foo::bar(1) };",
    "permit(principal, action, resource) when { nope };",
    "permit(principal, action, resource) when { {a: 1, a: 2} };",
    "permit(principal, action, resource) when { {if: 1} };",
    "permit(principal, action, resource) when { ?principal == principal };",
    "permit(principal, action, resource) when { [1, ?resource] };",
    "permit(principal, action, resource) when { ?x };",
    "permit(principal, action, resource) when { };",
    'permit(principal, action, resource) when { "\\q" };',
    'permit(principal, action, resource) when { "a" like "\\u{110000}" };',
    "permit(principal, action, resource) when { context has in };",
    "permit(principal, action, resource) when { principal is in };",
    "permit(principal, action, resource) when { principal is if::X };",
    "permit(principal == ?principal, action, resource);",
    'permit(principal in [User::"a"], action, resource);',
    "permit(principal, action is Action, resource);",
    'permit(principal, action == User::"a", resource);',
    "permit(action, principal, resource);",
    '@id("a") @id("b") permit(principal, action, resource);',
    '@id("") permit(principal, action, resource);',
    '@id("a") permit(principal, action, resource);\n@id("a") forbid(principal, action, resource);',
    'permit(principal, action, resource);\n@id("policy0") permit(principal, action, resource);',
    "permit(principal, action, resource) when { !=1 };",
    "permit(principal, action, resource) when { {a:: 1} };",
    "permit(principal, action, resource) when { 1 + if true then 1 else 2 };",
    "permit(principal, action, resource) when { a == b == c };",
    "permit(principal, action, resource) when { x is Foo:: };",
    "permit(principal, action, resource) when { permit };",
    "permit(principal, action, resource) when { __cedar::x };",
    'permit(principal, action, resource) when { "unterminated };',
]


@pytest.mark.parametrize("text", SEMANTIC_ERRORS)
def test_each_tricky_text_parses_alike(text: str) -> None:
    assert rust_parse(text) == ref_parse(text)


def test_nesting() -> None:
    deep_parens = "(" * 5000 + "true" + ")" * 5000
    policies = f"permit(principal, action, resource) when {{ {deep_parens} }};"
    assert rust_result(policies, REQ, None) == ("PERMIT", ("policy0",), (), (0,))
    mixed = "((((context.x) || (true)) && ((true))))"
    assert_same(f"permit(principal, action, resource) when {{ {mixed} }};", REQ, None)
    for depth in (199, 200, 250):
        for opener, closer in (("[", "]"), ("{a: ", "}"), ("-(", ")"), ("!(", ")")):
            assert_same_parse(
                f"permit(principal, action, resource) when {{ {opener * depth}1{closer * depth} }};"
            )
    for opener, closer in (("[", "]"), ("!(", ")")):
        text = f"permit(principal, action, resource) when {{ {opener * 5000}1{closer * 5000} }};"
        with pytest.raises(PolicyError, match="nested too deeply"):
            _native.PolicySet(text)


@pytest.mark.parametrize(("data", "message"), kernel_cases.BAD_ENTITIES)
def test_bad_entities_give_the_same_error(data: Any, message: str) -> None:
    with pytest.raises(PolicyError) as want:
        ref.Entities.from_json(data)
    with pytest.raises(PolicyError) as got:
        _native.Entities(data)
    assert str(got.value) == str(want.value)
    try:
        decoded = json.loads(data) if isinstance(data, str) else None
    except (ValueError, RecursionError):
        decoded = None
    if decoded is not None:  # the already-decoded form behaves as in Python too
        assert entities_outcome(_native.Entities, decoded) == entities_outcome(
            ref.Entities.from_json, decoded
        )


def entities_outcome(load: Any, data: Any) -> str:
    try:
        return f"ok {len(load(data))}"
    except PolicyError as err:
        return str(err)


@pytest.mark.parametrize(("data", "message"), kernel_cases.BAD_REQUESTS)
def test_bad_requests_give_the_same_error(data: Any, message: str) -> None:
    with pytest.raises(PolicyError) as want:
        ref.Request.from_json(data)
    ps = _native.PolicySet("permit(principal, action, resource);")
    with pytest.raises(PolicyError) as got:
        ps.evaluate(data)
    assert str(got.value) == str(want.value)


MORE_BAD_JSON = [
    "",
    "[",
    '[{"uid": {"type": "U", "id": "x"}, "attrs": {"a": 1, "a": 2}}]',
    '[{"uid": {"type": "U", "id": "x"}, "attrs": {"a": 99999999999999999999}}]',
    '[{"uid": {"type": "U", "id": "x"}, "attrs": {"a": null}}]',
    '[{"uid": {"type": "U", "id": "x"}, "attrs": {"a": {"__extn": {"fn": "ip", "arg": "x"}}}}]',
    '[{"uid": {"type": "U", "id": "x"}, "parents": {}}]',
    '[{"uid": {"type": "U", "id": "x"}, "tags": []}]',
    '[{"uid": {"type": "U", "id": "x"}, "attrs": {"a": 1}}, {"uid": {"type": "U", "id": "x"}}]',
    '[{"uid": {"__entity": {"type": "U", "id": 3}}}]',
    '[{"uid": "U::\\"x\\""}]',
    '[{"uid": {"type": 5, "id": "x"}}]',
    '[{"uid": {"type": "U", "id": "x"}, "bogus": 1}]',
]


@pytest.mark.parametrize("data", MORE_BAD_JSON)
def test_more_bad_entities(data: str) -> None:
    with pytest.raises(PolicyError) as want:
        ref.Entities.from_json(data)
    with pytest.raises(PolicyError) as got:
        _native.Entities(data)
    assert str(got.value) == str(want.value)


def test_identical_duplicate_entities_and_cycles() -> None:
    entities = [
        {"uid": {"type": "G", "id": "a"}, "parents": [{"type": "G", "id": "b"}]},
        {"uid": {"type": "G", "id": "b"}, "parents": [{"type": "G", "id": "a"}]},
        {"uid": {"type": "G", "id": "a"}, "parents": [{"type": "G", "id": "b"}]},
    ]
    assert len(_native.Entities(entities)) == len(ref.Entities.from_json(entities)) == 2
    policies = 'permit(principal in G::"b", action, resource) when { principal in G::"a" };'
    for who in ('G::"a"', 'G::"b"', 'G::"c"'):
        assert_same(policies, {**REQ, "principal": who}, entities)


# -- batch, combine -------------------------------------------------------------------


def test_batch_equals_one_by_one() -> None:
    policies = kernel_cases.VALID
    ps = _native.PolicySet(policies)
    ents = _native.Entities(ENTITIES)
    reqs = [
        {**REQ, "context": {"n": n, "tags": tags}}
        for n in (1, 3, "x")
        for tags in (["x"], [], "no")
    ]
    assert ps.evaluate_batch(reqs, ents) == [ps.evaluate(r, ents) for r in reqs]
    with pytest.raises(PolicyError, match="request: missing `principal`"):
        ps.evaluate_batch([*reqs, {}], ents)


KLEENE = {"TRUE": ref.Kleene.TRUE, "FALSE": ref.Kleene.FALSE, "UNKNOWN": ref.Kleene.UNKNOWN}


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["permit", "forbid"]),
            st.sampled_from(["a", "b", "c", "d"]),
            st.sampled_from(list(KLEENE)),
        ),
        max_size=8,
    )
)
def test_combine_matches_python(triples: list[tuple[str, str, str]]) -> None:
    decision, determining = ref.combine(
        (ref.Effect(effect), pid, KLEENE[value]) for effect, pid, value in triples
    )
    assert _native.policy_combine(triples) == (decision.name, determining)


def test_combine_rejects_bad_triples() -> None:
    with pytest.raises(PolicyError, match="effect"):
        _native.policy_combine([("allow", "a", "TRUE")])
    with pytest.raises(PolicyError, match="value"):
        _native.policy_combine([("permit", "a", "maybe")])


def test_api_shape() -> None:
    ps = _native.PolicySet(
        '@id("x") permit(principal, action, resource);\nforbid(principal, action, resource);'
    )
    assert len(ps) == 2
    assert ps.ids == ["x", "policy1"]
    assert len(_native.Entities("[]")) == 0
    with pytest.raises(PolicyError, match=r"^rules\.cedar:1:1: "):
        _native.PolicySet("oops", "rules.cedar")
    with pytest.raises(PolicyError, match="policy source must be a string, got `bytes`"):
        _native.PolicySet(b"permit(principal, action, resource);")  # type: ignore[arg-type]
    ents = _native.Entities(ENTITIES)
    assert len(_native.Entities(ents)) == len(ents) == len(ENTITIES)


JUNCTION_OPERANDS = [
    "true",
    "false",
    "context.x",
    "1",
    "principal.missing",
    "(1 + 9223372036854775807 > 0)",
]


@SETTINGS
@given(
    st.lists(st.sampled_from(JUNCTION_OPERANDS), min_size=2, max_size=4),
    st.lists(st.sampled_from(["&&", "||"]), min_size=3, max_size=3),
    st.sampled_from(["when", "unless"]),
)
def test_kleene_junctions_and_errors_agree(operands: list[str], ops: list[str], kind: str) -> None:
    expr = operands[0]
    for op, operand in zip(ops, operands[1:], strict=False):
        expr = f"{expr} {op} {operand}"
    cond = f"if {expr} then {operands[-1]} else {operands[0]}"
    policies = (
        f"permit(principal, action, resource) {kind} {{ {expr} }};\n"
        f"forbid(principal, action, resource) {kind} {{ ({expr}) && false }};\n"
        f"permit(principal, action, resource) when {{ {cond} }};"
    )
    assert_same(policies, REQ, ENTITIES)
