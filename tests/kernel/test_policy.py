"""The policy language: parser, evaluator (every operator, Kleene logic, errors as
unknown), entities and requests, limits, and the public API."""

from __future__ import annotations

import os
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lion.kernel.policy as policy_pkg
from lion.errors import LionError, PolicyError
from lion.kernel.policy import (
    And,
    Decision,
    Effect,
    Entities,
    EntityUID,
    GetAttr,
    Kleene,
    Limits,
    Literal,
    PolicySet,
    Request,
    Var,
    parse_policies,
)

EXAMPLES = int(os.environ.get("LION_EXAMPLES", 100))

REQ = {"principal": 'User::"alice"', "action": 'Action::"read"', "resource": 'Doc::"d"'}
ENTITIES = [
    {
        "uid": {"type": "User", "id": "alice"},
        "attrs": {
            "age": 30,
            "name": "alice",
            "tags": ["a", "b"],
            "boss": {"__entity": {"type": "User", "id": "bob"}},
            "addr": {"city": "paris", "zip": 75000},
        },
        "parents": [{"type": "Group", "id": "staff"}],
        "tags": {"level": 3},
    },
    {
        "uid": {"type": "Group", "id": "staff"},
        "attrs": {},
        "parents": [{"type": "Group", "id": "all"}],
    },
    {"uid": {"type": "Group", "id": "all"}, "attrs": {}, "parents": []},
    {
        "uid": {"type": "Action", "id": "read"},
        "attrs": {},
        "parents": [{"type": "Action", "id": "any"}],
    },
]


def truth(expr: str, context: dict[str, object] | None = None) -> tuple[Kleene, str | None]:
    """The Kleene value of ``expr`` as the only condition of a permit."""
    ps = PolicySet.from_str(f"permit(principal, action, resource) when {{ {expr} }};")
    (result,) = ps.evaluate_policies({**REQ, "context": context or {}}, ENTITIES)
    return result.value, result.error


def holds(expr: str, context: dict[str, object] | None = None) -> Kleene:
    return truth(expr, context)[0]


# -- operators -------------------------------------------------------------------

TRUE_EXPRESSIONS = [
    "true",
    "!false",
    "1 == 1",
    '"a" != "b"',
    "1 != true",  # different types are unequal, not an error
    "[1, 2] == [2, 1, 1]",
    '{a: 1, b: "x"} == {b: "x", a: 1}',
    "[true] != [1]",  # Python's True == 1 must not leak in
    "[1].contains(1) && ![1].contains(true)",
    "1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 3",
    "-9223372036854775808 < 0",
    "9223372036854775807 > 0",
    "1 + 2 == 3 && 5 - 7 == -2 && 3 * -4 == -12",
    "--1 == 1",
    'User::"alice" == principal',
    'principal in Group::"staff" && principal in Group::"all"',
    'principal in [Doc::"x", Group::"all"]',
    "!(principal in [])",
    'Group::"x" in Group::"x"',  # `in` is reflexive even for unknown entities
    'action in Action::"any"',
    "principal has age && !(principal has nope)",
    '!(User::"ghost" has age)',  # a missing entity has no attributes
    'principal has "age"',
    "principal has addr.city && !(principal has addr.street)",
    'principal.age == 30 && principal["age"] == 30',
    'principal.addr.city == "paris"',
    'principal.boss == User::"bob"',
    '"abc" like "a*c" && "abc" like "*" && !("abc" like "b*")',
    '"a*c" like "a\\*c" && !("abc" like "a\\*c")',
    '"" like "" && "" like "*" && "aXbXc" like "a*b*c"',
    '"abab" like "*ab" && !("aba" like "a*ab")',
    "principal is User && !(principal is Group)",
    'principal is User in Group::"all"',
    '!(principal is Group in Group::"all")',
    'principal.tags.contains("a") && !principal.tags.contains("z")',
    '["a", "b", "c"].containsAll(principal.tags)',
    'principal.tags.containsAny(["b", "q"]) && !principal.tags.containsAny([])',
    "[].isEmpty() && ![1].isEmpty()",
    'principal.hasTag("level") && principal.getTag("level") == 3',
    '!principal.hasTag("nope") && !User::"ghost".hasTag("level")',
    "if principal.age > 18 then true else false",
    "(if false then 1 else 2) == 2",
    "context.flag",
    'context.nested.list.contains({k: User::"alice"})',
]


@pytest.mark.parametrize("expr", TRUE_EXPRESSIONS)
def test_true_expressions(expr: str) -> None:
    context = {
        "flag": True,
        "nested": {"list": [{"k": {"__entity": {"type": "User", "id": "alice"}}}]},
    }
    assert truth(expr, context) == (Kleene.TRUE, None)


FALSE_EXPRESSIONS = [
    "false",
    "1 == 2",
    "1 == true",
    '"1" == 1',
    'User::"alice" == User::"bob"',
    'principal in Group::"other"',
    'Doc::"d" in Group::"all"',
    "principal is Doc",
    '"abc" like "ab"',
    "[1, 2].containsAll([1, 3])",
]


@pytest.mark.parametrize("expr", FALSE_EXPRESSIONS)
def test_false_expressions(expr: str) -> None:
    assert truth(expr) == (Kleene.FALSE, None)


UNKNOWN_EXPRESSIONS = [
    ("context.missing", "record does not have the attribute `missing`"),
    ("principal.missing", 'entity `User::"alice"` does not have the attribute `missing`'),
    ('User::"ghost".age > 1', 'entity `User::"ghost"` does not exist'),
    ("1 < true", "type error: expected long, got bool"),
    ('"a" + 1 == 2', "type error: expected long, got string"),
    ("!1", "type error: expected bool, got long"),
    ("1", "type error: expected bool, got long"),
    ("9223372036854775807 + 1 > 0", "integer overflow while adding"),
    ("-9223372036854775808 - 1 < 0", "integer overflow while subtracting"),
    ("4611686018427387904 * 2 > 0", "integer overflow while multiplying"),
    ("-(-9223372036854775808) > 0", "integer overflow while negating"),
    ("1 in principal", "type error: expected entity, got long"),
    ('principal in [Group::"all", 1]', "type error: expected entity, got long"),
    ("principal in 1", "expected entity or set of entities"),
    ('1 like "*"', "type error: expected string, got long"),
    ("1 has a", "expected record or entity"),
    ("1 is User", "type error: expected entity, got long"),
    ("(1).contains(1)", "type error: expected set, got long"),
    ("[1].containsAll(1)", "type error: expected set, got long"),
    ('principal.getTag("nope") == 1', "does not have the tag `nope`"),
    ('1.hasTag("x")', "expected entity"),
    ("principal.hasTag(1)", "expected string"),
    ("if 1 then true else false", "type error: expected bool, got long"),
    ("(if context.missing then 1 else 2) == 1", "does not have the attribute `missing`"),
]


@pytest.mark.parametrize(("expr", "message"), UNKNOWN_EXPRESSIONS)
def test_errors_are_unknown_not_false(expr: str, message: str) -> None:
    value, error = truth(expr)
    assert value is Kleene.UNKNOWN
    assert error is not None
    assert message in error


def test_error_message_points_at_the_expression() -> None:
    _, error = truth("context.missing")
    assert error is not None
    assert error.endswith("(at 1:52)")


# -- Kleene logic -----------------------------------------------------------------

OPERANDS = {Kleene.TRUE: "true", Kleene.FALSE: "false", Kleene.UNKNOWN: "context.x"}


@pytest.mark.parametrize("a", list(Kleene))
@pytest.mark.parametrize("b", list(Kleene))
def test_and_or_follow_strong_kleene_in_either_order(a: Kleene, b: Kleene) -> None:
    assert holds(f"{OPERANDS[a]} && {OPERANDS[b]}") is (a & b)
    assert holds(f"{OPERANDS[a]} || {OPERANDS[b]}") is (a | b)
    assert holds(f"!({OPERANDS[a]})") is ~a


def test_type_errors_in_junctions_are_unknown_too() -> None:
    assert holds("1 && false") is Kleene.FALSE
    assert holds("false && 1") is Kleene.FALSE
    assert holds("1 || true") is Kleene.TRUE
    assert holds("true && 1") is Kleene.UNKNOWN
    assert holds("false || 1") is Kleene.UNKNOWN


def test_if_with_unknown_condition() -> None:
    assert holds("if context.x then true else true") is Kleene.TRUE
    assert holds("if context.x then false else false") is Kleene.FALSE
    assert holds("if context.x then true else false") is Kleene.UNKNOWN
    assert holds("(if context.x then [1, 2] else [2, 1]) == [1, 2]") is Kleene.TRUE
    assert holds("if context.x then true else context.y") is Kleene.UNKNOWN
    # A definite condition only evaluates its branch: the other one may error.
    assert holds("if true then true else context.y") is Kleene.TRUE
    assert holds("if false then context.y else false") is Kleene.FALSE


def test_long_conjunctions_are_flat() -> None:
    chain = " && ".join(["true"] * 3000)
    (p,) = parse_policies(f"permit(principal, action, resource) when {{ {chain} }};")
    expr = p.conditions[0].expr
    assert isinstance(expr, And)
    assert len(expr.args) == 3000
    assert holds(chain) is Kleene.TRUE
    assert holds(chain + " && context.x && false") is Kleene.FALSE


# -- policies and the decision ------------------------------------------------------


def decide(
    text: str, context: dict[str, object] | None = None
) -> tuple[Decision, tuple[str, ...], tuple[str, ...]]:
    response = PolicySet.from_str(text).evaluate({**REQ, "context": context or {}}, ENTITIES)
    return response.decision, response.determining, response.erroring


def test_scopes() -> None:
    text = """
    permit(principal == User::"alice", action, resource);
    permit(principal in Group::"all", action == Action::"read", resource == Doc::"d");
    permit(principal is User, action in [Action::"write", Action::"any"], resource is Doc);
    permit(principal is User in Group::"staff", action in Action::"any", resource);
    permit(principal == User::"bob", action, resource);
    permit(principal, action == Action::"write", resource);
    permit(principal in Group::"nope", action, resource);
    permit(principal is Group, action, resource);
    permit(principal, action, resource in Doc::"other");
    """
    decision, determining, errors = decide(text)
    assert decision is Decision.PERMIT
    assert determining == ("policy0", "policy1", "policy2", "policy3")
    assert errors == ()


def test_forbid_overrides_permit_and_default_deny() -> None:
    assert decide("permit(principal, action, resource);") == (Decision.PERMIT, ("policy0",), ())
    assert decide("permit(principal, action, resource); forbid(principal, action, resource);") == (
        Decision.DENY,
        ("policy1",),
        (),
    )
    assert decide("") == (Decision.DENY, (), ())
    assert decide("forbid(principal, action, resource);") == (Decision.DENY, ("policy0",), ())


def test_unknown_forbid_blocks_a_permit() -> None:
    text = """
    @id("allow") permit(principal, action, resource);
    @id("maybe-block") forbid(principal, action, resource) when { context.blocked };
    """
    assert decide(text) == (Decision.INDETERMINATE, ("allow",), ("maybe-block",))
    assert decide(text, {"blocked": False}) == (Decision.PERMIT, ("allow",), ())
    assert decide(text, {"blocked": True}) == (Decision.DENY, ("maybe-block",), ())


def test_unknown_permit_alone_is_indeterminate_and_unknown_forbid_alone_denies() -> None:
    assert decide("permit(principal, action, resource) when { context.ok };") == (
        Decision.INDETERMINATE,
        (),
        ("policy0",),
    )
    assert decide("forbid(principal, action, resource) when { context.ok };") == (
        Decision.DENY,
        (),
        ("policy0",),
    )


def test_conditions_are_a_kleene_conjunction() -> None:
    base = "permit(principal, action, resource)"
    assert (
        decide(f"{base} when {{ true }} when {{ true }} unless {{ false }};")[0] is Decision.PERMIT
    )
    assert decide(f"{base} when {{ context.x }} when {{ false }};")[0] is Decision.DENY
    assert decide(f"{base} unless {{ context.x }} unless {{ true }};")[0] is Decision.DENY
    assert decide(f"{base} when {{ context.x }} unless {{ false }};")[0] is Decision.INDETERMINATE
    assert decide(f"{base} unless {{ 1 }};")[0] is Decision.INDETERMINATE


def test_response_lists_every_policy_and_first_error() -> None:
    text = """
    permit(principal, action, resource) when { context.a && context.b };
    forbid(principal, action == Action::"write", resource);
    """
    response = PolicySet.from_str(text).evaluate({**REQ, "context": {}}, ENTITIES)
    assert [(r.policy_id, r.effect, r.value) for r in response.results] == [
        ("policy0", Effect.PERMIT, Kleene.UNKNOWN),
        ("policy1", Effect.FORBID, Kleene.FALSE),
    ]
    (error,) = response.errors
    assert error.policy_id == "policy0"
    assert "`a`" in error.message


def test_explain_names_the_decision_and_the_policies() -> None:
    text = """
    @id("allow") permit(principal, action, resource);
    @id("guard") forbid(principal, action, resource) when { context.risky };
    """
    response = PolicySet.from_str(text).evaluate({**REQ, "context": {}}, ENTITIES)
    explanation = response.explain()
    assert explanation.startswith("INDETERMINATE")
    assert "`allow`" in explanation
    assert "`guard` (forbid)" in explanation
    assert "risky" in explanation
    deny = PolicySet.from_str("permit(principal, action, resource) when { false };").evaluate(REQ)
    assert "default deny" in deny.explain()


def test_action_index_does_not_change_results() -> None:
    text = """
    permit(principal, action == Action::"read", resource);
    permit(principal, action == Action::"write", resource);
    forbid(principal, action in [Action::"write"], resource);
    """
    ps = PolicySet.from_str(text)
    read = ps.evaluate(REQ, ENTITIES)
    write = ps.evaluate({**REQ, "action": 'Action::"write"'}, ENTITIES)
    assert (read.decision, read.determining) == (Decision.PERMIT, ("policy0",))
    assert (write.decision, write.determining) == (Decision.DENY, ("policy2",))
    assert [r.value for r in write.results] == [Kleene.FALSE, Kleene.TRUE, Kleene.TRUE]


# -- parsing ----------------------------------------------------------------------


def test_ids_follow_cedar_numbering() -> None:
    policies = parse_policies(
        """
        permit(principal, action, resource);
        @id("named") @other("x") forbid(principal, action, resource);
        permit(principal, action, resource);
        """
    )
    assert [p.id for p in policies] == ["policy0", "named", "policy2"]
    assert policies[1].annotations == (("id", "named"), ("other", "x"))
    assert policies[1].effect is Effect.FORBID


def test_ast_shape() -> None:
    (p,) = parse_policies('permit(principal, action, resource) when { context.a.b == A::B::"c" };')
    expr = p.conditions[0].expr
    assert expr == policy_pkg.BinaryOp(
        "==",
        GetAttr(GetAttr(Var("context"), "a"), "b"),
        Literal(EntityUID("A::B", "c")),
    )


def test_string_escapes() -> None:
    assert holds('"\\x41\\u{1F600}\\n\\t\\"\\\\" == "A\U0001f600\\n\\t\\"\\\\"') is Kleene.TRUE
    assert holds('"\\u{41}" == "A"') is Kleene.TRUE


def test_comments_and_trailing_commas() -> None:
    text = """// a comment
    permit( // another
      principal, action, resource,
    ) when { [1, 2,] == [1, 2] && {a: 1,} has a }; // done
    """
    assert decide(text)[0] is Decision.PERMIT


MALFORMED = [
    ("permit(principal, action, resource)", 1, 36, "unexpected end of input"),
    (
        "permit(principal, action, resource);\nforbid(principal action, resource);",
        2,
        18,
        "unexpected `action`",
    ),
    ("permit(principal, action, resource) when { 1 < 2 < 3 };", 1, 50, "unexpected `<`"),
    ("permit(principal, action, resource) when { foo };", 1, 44, "invalid variable `foo`"),
    (
        'permit(principal, action, resource) when { ipaddr("1.2.3.4") };',
        1,
        44,
        "`ipaddr` is not a valid function",
    ),
    (
        'permit(principal, action, resource) when { lessThan(decimal("1.0"), 1) };',
        1,
        44,
        "`lessThan` is a method, not a function",
    ),
    (
        "permit(principal, action, resource) when { [1].decimal() };",
        1,
        48,
        "`decimal` is a function, not a method",
    ),
    (
        "permit(principal, action, resource) when { [1].frob() };",
        1,
        48,
        "`frob` is not a valid method",
    ),
    (
        "permit(principal, action, resource) when { [1].contains() };",
        1,
        48,
        "takes 1 argument, got 0",
    ),
    ("permit(principal, action, resource) when { 9223372036854775808 > 0 };", 1, 44, "too large"),
    (
        "permit(principal, action, resource) when { -(9223372036854775808) < 0 };",
        1,
        45,
        "too large",
    ),
    ("permit(principal, action, resource) when { !!!!!true };", 1, 44, "too many occurrences"),
    ("permit(principal, action, resource) when { principal.in };", 1, 54, "reserved identifier"),
    (
        "permit(principal, action, resource) when { {a: 1, a: 2} == {} };",
        1,
        51,
        "duplicate key `a`",
    ),
    ('permit(principal, action, resource) when { "\\q" == "" };', 1, 44, "not a valid escape"),
    ('permit(principal, action, resource) when { "abc };', 1, 44, "unterminated string"),
    ("permit(principal, action, resource) when {};", 1, 37, "cannot be empty"),
    (
        "permit(principal, action, resource) when { true && if true then true else false };",
        1,
        55,
        "unexpected `true`",
    ),
    ("permit(principal == ?resource, action, resource);", 1, 21, "template slot `?principal`"),
    ("permit(action, principal, resource);", 1, 8, "expected the variable `principal`"),
    (
        "permit(principal, action is Action, resource);",
        1,
        26,
        "`is` cannot appear in the action scope",
    ),
    ('permit(principal in [Group::"a"], action, resource);', 1, 18, "not a list"),
    ('permit(principal, action == [Action::"a"], resource);', 1, 26, "not a list"),
    ('@id("a") @id("b") permit(principal, action, resource);', 1, 11, "duplicate annotation `@id`"),
    ('@id("") permit(principal, action, resource);', 1, 2, "non-empty"),
    (
        '@id("x") permit(principal, action, resource);\n'
        '@id("x") forbid(principal, action, resource);',
        2,
        2,
        "duplicate policy id `x`",
    ),
    (
        '@id("policy1") permit(principal, action, resource);\npermit(principal, action, resource);',
        2,
        1,
        "duplicate policy id `policy1`",
    ),
    ("permit(principal, action, resource) when { 1 # 2 };", 1, 46, "unexpected character `#`"),
    ("allow(principal, action, resource);", 1, 1, "unexpected `allow`"),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), MALFORMED)
def test_malformed_policies_point_at_the_problem(
    text: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policies(text, path="rules.cedar")
    err = info.value
    assert err.location is not None
    assert (err.location.path, err.location.line, err.location.column) == (
        "rules.cedar",
        line,
        column,
    )
    assert message in err.message
    rendered = str(err)
    assert rendered.startswith(f"rules.cedar:{line}:{column}: ")
    assert rendered.splitlines()[-1].endswith("^")


def test_expected_tokens_are_listed() -> None:
    with pytest.raises(PolicyError, match="expected one of `;`, `unless`, `when`"):
        parse_policies("permit(principal, action, resource) frob")


def test_deep_nesting_is_a_policy_error_not_a_recursion_error() -> None:
    for depth in (300, 5_000):
        # Parentheses add no nesting to the AST, so they are harmless at any depth.
        text = f"permit(principal, action, resource) when {{ {'(' * depth}true{')' * depth} }};"
        assert PolicySet.from_str(text).evaluate(REQ).decision is Decision.PERMIT
        for opener, closer in (("[", "]"), ("{a: ", "}"), ("-(", ")")):
            text = (
                f"permit(principal, action, resource) when {{ {opener * depth}1{closer * depth} }};"
            )
            with pytest.raises(PolicyError, match="nested too deeply"):
                parse_policies(text)
    text = "permit(principal, action, resource) when { " + "!(" * 5000 + "true" + ")" * 5000 + " };"
    with pytest.raises(PolicyError, match="nested too deeply"):
        parse_policies(text)


def test_non_string_source_is_rejected() -> None:
    with pytest.raises(PolicyError, match="must be a string"):
        parse_policies(b"permit(principal, action, resource);")  # type: ignore[arg-type]


VALID = """@id("r1") permit(principal in Group::"staff", action == Action::"read", resource is Doc)
when { principal.age >= 18 && context.tags.contains("x") || resource has owner }
unless { principal.name like "a*" && (if context.n > 2 then 1 + 2 else 3) == 3 };
forbid(principal, action in [Action::"a", Action::"b"], resource)
when { {k: [1, "a"]}.k.isEmpty() };"""


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(alphabet=string.printable + "λ€\x00", max_size=200))
def test_garbage_never_escapes_as_another_exception(text: str) -> None:
    try:
        parse_policies(text)
    except PolicyError as err:
        assert err.location is not None


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(VALID) - 1),
            st.sampled_from(["delete", "insert", "replace"]),
            st.sampled_from([*list('(){}[];,."*!-=<>&|@:?\\ 0aZ_'), "if", "in", "when", "\n"]),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_policies_parse_or_give_policy_error(edits: list[tuple[int, str, str]]) -> None:
    text = VALID
    for pos, kind, piece in edits:
        pos = min(pos, len(text))
        if kind == "delete":
            text = text[:pos] + text[pos + 1 :]
        elif kind == "insert":
            text = text[:pos] + piece + text[pos:]
        else:
            text = text[:pos] + piece + text[pos + 1 :]
    try:
        ps = PolicySet.from_str(text)
    except PolicyError as err:
        assert err.location is not None
        assert 1 <= err.location.line <= text.count("\n") + 1
        return
    # Whatever parsed must also evaluate without raising.
    ps.evaluate({**REQ, "context": {"n": 3, "tags": ["x"]}}, ENTITIES)


# -- entities and requests -------------------------------------------------------------


def test_entity_hierarchy_is_transitive_and_tolerates_cycles() -> None:
    store = Entities.from_json(
        [
            {"uid": {"type": "G", "id": "a"}, "attrs": {}, "parents": [{"type": "G", "id": "b"}]},
            {"uid": {"type": "G", "id": "b"}, "attrs": {}, "parents": [{"type": "G", "id": "c"}]},
            {"uid": {"type": "G", "id": "c"}, "attrs": {}, "parents": [{"type": "G", "id": "a"}]},
            {"uid": {"__entity": {"type": "G", "id": "d"}}, "parents": [{"type": "G", "id": "a"}]},
        ]
    )
    a, b, c, d = (EntityUID("G", x) for x in "abcd")
    assert store.ancestors(a) == {b, c}
    assert store.ancestors(d) == {a, b, c}
    assert store.ancestors(EntityUID("G", "zzz")) == frozenset()


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.dictionaries(st.integers(0, 7), st.lists(st.integers(0, 9), max_size=3), max_size=8))
def test_ancestor_closure_matches_a_naive_search(graph: dict[int, list[int]]) -> None:
    uid = lambda i: EntityUID("G", str(i))  # noqa: E731
    store = Entities.from_json(
        [
            {"uid": uid(i).to_json(), "parents": [uid(p).to_json() for p in ps]}
            for i, ps in graph.items()
        ]
    )
    for start in range(10):
        seen: set[int] = set()
        todo = list(graph.get(start, []))
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(graph.get(node, []))
        seen.discard(start)
        assert store.ancestors(uid(start)) == {uid(i) for i in seen}


def test_long_parent_chain_does_not_recurse() -> None:
    chain = [
        {
            "uid": {"type": "G", "id": str(i)},
            "attrs": {},
            "parents": [{"type": "G", "id": str(i + 1)}],
        }
        for i in range(3000)
    ]
    store = Entities.from_json(chain)
    assert EntityUID("G", "3000") in store.ancestors(EntityUID("G", "0"))


BAD_ENTITIES = [
    ("{}", "entities: expected an array"),
    ("[1]", "entities[0]: expected an object"),
    ('[{"attrs": {}}]', "entities[0]: missing `uid`"),
    ('[{"uid": {"type": "U"}}]', "entities[0].uid: an entity uid needs exactly the keys"),
    ('[{"uid": {"type": "not a type", "id": "x"}}]', "entities[0].uid.type"),
    ('[{"uid": {"type": "U", "id": 1}}]', "entities[0].uid.id: expected a string"),
    (
        '[{"uid": {"type": "U", "id": "x"}, "attrs": {"a": 1.5}}]',
        "entities[0].attrs.a: floating-point",
    ),
    (
        '[{"uid": {"type": "U", "id": "x"}, "attrs": {"a": [1, null]}}]',
        "entities[0].attrs.a[1]: null",
    ),
    (
        '[{"uid": {"type": "U", "id": "x"}, "attrs": {"a": 9223372036854775808}}]',
        "does not fit in 64 bits",
    ),
    (
        '[{"uid": {"type": "U", "id": "x"}, "attrs": {"a": {"__extn": {"fn": "ip", "arg": "1"}}}}]',
        "entities[0].attrs.a.__extn: error while evaluating `ipaddr` extension function",
    ),
    (
        '[{"uid": {"type": "U", "id": "x"}, "parents": {}}]',
        "entities[0].parents: expected an array",
    ),
    ('[{"uid": {"type": "U", "id": "x"}, "parents": ["U::\\"y\\""]}]', "entities[0].parents[0]"),
    ('[{"uid": {"type": "U", "id": "x"}, "extra": 1}]', "unexpected key `extra`"),
    ('[{"uid": {"type": "U", "id": "x"}, "attrs": {"a": 1, "a": 2}}]', "duplicate key `a`"),
    (
        '[{"uid": {"type": "U", "id": "x"}, "attrs": {"a": 1}}, {"uid": {"type": "U", "id": "x"}}]',
        "appears twice with different contents",
    ),
    ("[", "entities: invalid JSON"),
    ("[" * 100_000 + "]" * 100_000, "entities"),
]


@pytest.mark.parametrize(("data", "message"), BAD_ENTITIES)
def test_malformed_entities_name_the_bad_field(data: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        Entities.from_json(data)
    assert message in str(info.value)


def test_identical_duplicate_entities_are_accepted_like_cedar() -> None:
    one = {"uid": {"type": "U", "id": "x"}, "attrs": {"a": [1, 2]}}
    assert len(Entities.from_json([one, dict(one)])) == 1


BAD_REQUESTS = [
    ("[]", "request: expected an object"),
    ({"action": 'A::"a"', "resource": 'R::"r"'}, "request: missing `principal`"),
    ({**REQ, "principal": "alice"}, "request.principal: `alice` is not an entity uid"),
    ({**REQ, "action": {"type": "A"}}, "request.action: an entity uid needs exactly"),
    ({**REQ, "context": []}, "request.context: expected an object"),
    ({**REQ, "context": {"x": 1.0}}, "request.context.x: floating-point"),
    (
        {**REQ, "context": {"__entity": {"type": "U", "id": "x"}}},
        "request.context: expected a record",
    ),
    ({**REQ, "extra": 1}, "unexpected key `extra`"),
]


@pytest.mark.parametrize(("data", "message"), BAD_REQUESTS)
def test_malformed_requests_name_the_bad_field(data: object, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        Request.from_json(data)
    assert message in str(info.value)
    # And through evaluate, which must leave the policy set usable.
    ps = PolicySet.from_str("permit(principal, action, resource);")
    with pytest.raises(PolicyError):
        ps.evaluate(data, ENTITIES)
    assert ps.evaluate(REQ, ENTITIES).decision is Decision.PERMIT


def test_request_forms() -> None:
    forms = [
        REQ,
        {k: {"type": v.split("::")[0], "id": v.split('"')[1]} for k, v in REQ.items()},
        {
            k: {"__entity": {"type": v.split("::")[0], "id": v.split('"')[1]}}
            for k, v in REQ.items()
        },
        '{"principal": "User::\\"alice\\"", "action": "Action::\\"read\\"", '
        '"resource": "Doc::\\"d\\"", "context": "{}"}',
    ]
    parsed = {Request.from_json(f) for f in forms}
    assert parsed == {
        Request(EntityUID("User", "alice"), EntityUID("Action", "read"), EntityUID("Doc", "d"))
    }
    assert Request.from_json({**REQ, "principal": 'A :: B :: "x\\"y"'}).principal == EntityUID(
        "A::B", 'x"y'
    )


# -- limits ------------------------------------------------------------------------


def test_step_limit_makes_the_policy_unknown() -> None:
    text = "permit(principal, action, resource) when { " + " && ".join(["1 + 1 == 2"] * 50) + " };"
    ps = PolicySet.from_str(text, limits=Limits(max_steps=40))
    response = ps.evaluate(REQ)
    assert response.decision is Decision.INDETERMINATE
    assert "more than 40 steps" in response.errors[0].message
    assert PolicySet.from_str(text).evaluate(REQ).decision is Decision.PERMIT


def test_size_limits_are_policy_errors() -> None:
    small = Limits(
        max_policies=2, max_string_length=5, max_set_size=3, max_depth=10, max_source_length=500
    )
    rule = "permit(principal, action, resource);"
    with pytest.raises(PolicyError, match="more than 2 policies"):
        PolicySet.from_str(rule * 3, limits=small)
    with pytest.raises(PolicyError, match="longer than 5 characters"):
        PolicySet.from_str(
            'permit(principal, action, resource) when { "abcdef" == "" };', limits=small
        )
    with pytest.raises(PolicyError, match="more than 3 elements"):
        PolicySet.from_str(
            "permit(principal, action, resource) when { [1,2,3,4] == [] };", limits=small
        )
    with pytest.raises(PolicyError, match="nested too deeply"):
        PolicySet.from_str(
            "permit(principal, action, resource) when { " + "[" * 12 + "1" + "]" * 12 + " };",
            limits=small,
        )
    with pytest.raises(PolicyError, match="longer than 500"):
        PolicySet.from_str(rule * 20, limits=small)
    with pytest.raises(PolicyError, match="longer than 5 characters"):
        Entities.from_json(
            [{"uid": {"type": "U", "id": "x"}, "attrs": {"a": "abcdef"}}], limits=small
        )
    with pytest.raises(PolicyError, match="nested more than 10 levels"):
        Entities.from_json(
            [{"uid": {"type": "U", "id": "x"}, "attrs": {"a": [[[[[[[[[[[[1]]]]]]]]]]]]}}],
            limits=small,
        )
    with pytest.raises(PolicyError, match="positive integer"):
        Limits(max_steps=0)


def test_hand_built_ast_is_checked_too() -> None:
    expr: policy_pkg.Expr = Literal(True)
    for _ in range(300):
        expr = policy_pkg.Not(expr)
    deep = policy_pkg.Policy(
        "deep", Effect.PERMIT, conditions=(policy_pkg.Condition("when", expr),)
    )
    with pytest.raises(PolicyError, match="nested more than 200 levels"):
        PolicySet([deep])
    with pytest.raises(PolicyError, match="duplicate policy id"):
        PolicySet([deep.__class__("x", Effect.PERMIT), deep.__class__("x", Effect.FORBID)])


# -- public API ------------------------------------------------------------------------


def test_all_is_complete_and_sorted() -> None:
    exported = policy_pkg.__all__
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))
    public = {n for n in dir(policy_pkg) if not n.startswith("_") and n[0].isupper()}
    assert public - {"Decision"} <= set(exported)
    for name in exported:
        assert hasattr(policy_pkg, name)


def test_policy_error_is_a_lion_error() -> None:
    assert issubclass(PolicyError, LionError)
