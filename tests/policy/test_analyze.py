"""Policy analysis: each query's answer, its counterexamples, and the replay that checks them."""

from __future__ import annotations

from typing import Any

import pytest

from lion.errors import AnalysisError, AnalysisInternalError, PolicyError
from lion.kernel.backend import get_backend, rust_available
from lion.kernel.policy import Decision, PolicySet
from lion.policy.analyze import (
    Counterexample,
    always_allows,
    always_denies,
    diff,
    equivalent,
    implies,
    never_indeterminate,
)

BACKENDS = ("python", "rust") if rust_available() else ("python",)

OLD = """
@id("admins") permit(principal in Group::"admins", action, resource);
@id("read-own") permit(principal, action in Action::"read", resource)
  when { resource has owner && resource.owner == principal };
@id("edit-own") permit(principal, action in Action::"edit", resource)
  when { resource has owner && resource.owner == principal };
@id("no-delete-without-mfa") forbid(principal, action == Action::"delete", resource)
  unless { context has mfa && context.mfa == true };
"""

# The refactor merges the two owner rules into one with an action list, and
# (the planted bug) lets `delete` slip into the list.
REFACTORED = """
@id("admins") permit(principal in Group::"admins", action, resource);
@id("own") permit(
  principal,
  action in [Action::"read", Action::"edit", Action::"delete"],
  resource
) when { resource has owner && resource.owner == principal };
@id("no-delete-without-mfa") forbid(principal, action == Action::"delete", resource)
  unless { context has mfa && context.mfa == true };
"""

FIXED = REFACTORED.replace(', Action::"delete"]', "]")


def decide(text: str, cx: Counterexample) -> Decision:
    """The decision of every backend for the counterexample (they must agree)."""
    decisions = {
        get_backend(name).policy_set(text).evaluate(cx.request, cx.entities).decision
        for name in BACKENDS
    }
    assert len(decisions) == 1, decisions
    return decisions.pop()


def test_implies_finds_the_planted_bug_and_the_evaluator_confirms_it() -> None:
    answer = implies(REFACTORED, OLD)
    assert not answer.holds
    cx = answer.counterexample
    assert cx is not None
    assert cx.decisions == {"a": "PERMIT", "b": decide(OLD, cx).name}
    assert decide(REFACTORED, cx) is Decision.PERMIT
    assert decide(OLD, cx) is not Decision.PERMIT
    # The only way in is the new `delete` (or an action in it) through the owner rule, with mfa.
    delete = {"type": "Action", "id": "delete"}
    action = cx.request["action"]
    parents = [p for e in cx.entities if e["uid"] == action for p in e["parents"]]
    assert action == delete or delete in parents
    if action == delete:
        assert cx.request["context"].get("mfa") is True
    # The old set permits nothing the refactor does not (the refactor only widens).
    assert implies(OLD, REFACTORED).holds


def test_the_fixed_refactor_is_equivalent() -> None:
    assert equivalent(FIXED, OLD).holds
    assert implies(FIXED, OLD).holds
    answer = equivalent(REFACTORED, OLD)
    assert not answer.holds and answer.counterexample is not None
    cx = answer.counterexample
    assert decide(REFACTORED, cx).name == cx.decisions["a"] != cx.decisions["b"]


def test_kleene_rewrites_are_equivalent_and_three_valued_differences_are_not() -> None:
    a = "permit(principal, action, resource) when { !(context.x && principal.y) };"
    b = "permit(principal, action, resource) when { !context.x || !principal.y };"
    assert equivalent(a, b).holds
    c = "permit(principal, action, resource) when { context.n < 5 };"
    d = "permit(principal, action, resource) when { !(context.n >= 5) };"
    assert equivalent(c, d).holds
    # `x + 1 > x` errors at the largest long where `x < max` is just false.
    e = "permit(principal, action, resource) when { context.x + 1 > context.x };"
    f = "permit(principal, action, resource) when { context.x < 9223372036854775807 };"
    answer = equivalent(e, f)
    assert not answer.holds and answer.counterexample is not None
    cx = answer.counterexample
    assert decide(e, cx).name == cx.decisions["a"]
    assert decide(f, cx).name == cx.decisions["b"]
    assert cx.decisions["a"] != cx.decisions["b"]


def test_hierarchy_is_transitive() -> None:
    a = 'permit(principal in Group::"a", action, resource) when { Group::"a" in Group::"b" };'
    b = 'permit(principal in Group::"b", action, resource);'
    assert implies(a, b).holds
    answer = implies(b, a)
    assert not answer.holds and answer.counterexample is not None
    assert decide(b, answer.counterexample) is Decision.PERMIT


def test_always_allows_and_always_denies() -> None:
    assert always_allows("permit(principal, action, resource);").holds
    assert always_denies("").holds
    assert always_denies(
        "permit(principal, action, resource); forbid(principal, action, resource);"
    ).holds
    answer = always_allows(OLD)
    assert not answer.holds and answer.counterexample is not None
    assert decide(OLD, answer.counterexample) is not Decision.PERMIT
    answer = always_denies(OLD)
    assert not answer.holds and answer.counterexample is not None
    assert decide(OLD, answer.counterexample) is not Decision.DENY


def test_never_indeterminate() -> None:
    safe = """
    permit(principal, action, resource) when { context has mfa };
    permit(principal, action, resource) when { principal has level && principal.level == 3 };
    forbid(principal, action, resource) when { resource in [Group::"a", Doc::"b"] };
    """
    assert never_indeterminate(safe).holds
    risky = safe + "permit(principal, action, resource) when { principal.level > 3 };"
    answer = never_indeterminate(risky)
    assert not answer.holds and answer.counterexample is not None
    cx = answer.counterexample
    assert cx.unknown["a"] == ("policy3",)
    response = PolicySet.from_str(risky).evaluate(cx.request, cx.entities)
    assert response.erroring == ("policy3",)
    # The guard on `has` is not enough without a schema: the level may be a string.
    guarded = (
        "permit(principal, action, resource) when { principal has level && principal.level > 3 };"
    )
    answer = never_indeterminate(guarded)
    assert not answer.holds and answer.counterexample is not None
    assert PolicySet.from_str(guarded).evaluate(
        answer.counterexample.request, answer.counterexample.entities
    ).erroring == ("policy0",)


def test_diff_lists_distinct_replayed_requests() -> None:
    answer = diff(REFACTORED, OLD, limit=5)
    assert not answer.holds
    assert 1 <= len(answer.counterexamples) <= 5
    seen = set()
    for cx in answer.counterexamples:
        assert decide(REFACTORED, cx).name == cx.decisions["a"]
        assert decide(OLD, cx).name == cx.decisions["b"]
        assert cx.decisions["a"] != cx.decisions["b"]
        seen.add(repr((cx.request, cx.entities)))
    assert len(seen) == len(answer.counterexamples)
    assert diff(FIXED, OLD).holds and diff(FIXED, OLD).counterexamples == ()


def test_sets_records_tags_and_like_round_trip_through_counterexamples() -> None:
    a = """
    permit(principal, action, resource) when {
      principal.roles.contains("admin") && context.req == {"kind": "x", "n": 2} &&
      resource.getTag("level") == 3 && principal.name like "a*z" &&
      principal in resource.viewers && !context.tags.isEmpty()
    };
    """
    answer = implies(a, "")  # a request that `a` permits
    assert not answer.holds and answer.counterexample is not None
    cx = answer.counterexample
    assert decide(a, cx) is Decision.PERMIT
    principal = next(e for e in cx.entities if e["uid"] == cx.request["principal"])
    assert "admin" in principal["attrs"]["roles"]
    assert cx.request["context"]["req"] == {"kind": "x", "n": 2}


def test_extension_values_in_data_and_policies() -> None:
    # Datetimes compare with `<`; `+ 0` is a type error on them: not equivalent.
    a = "permit(principal, action, resource) when { context.t < context.u };"
    b = (
        "permit(principal, action, resource) when "
        "{ context.t < context.u && context.t + 0 == context.t };"
    )
    answer = equivalent(a, b)
    assert not answer.holds and answer.counterexample is not None
    cx = answer.counterexample
    assert decide(a, cx).name == cx.decisions["a"] != cx.decisions["b"] == decide(b, cx).name
    # Decimal, datetime and duration methods, in counterexamples as `__extn` values.
    c = """
    permit(principal, action, resource) when {
      context.price.greaterThan(decimal("10.25")) &&
      context.when.offset(duration("1h")) < datetime("2024-01-01") &&
      context.when.toTime().toMinutes() == 90 &&
      context.took.toSeconds() >= 3
    };
    """
    answer = implies(c, "")
    assert not answer.holds and answer.counterexample is not None
    cx = answer.counterexample
    assert decide(c, cx) is Decision.PERMIT
    context = cx.request["context"]
    assert context["price"]["__extn"]["fn"] == "decimal"
    assert context["when"]["__extn"]["fn"] == "datetime"
    assert context["took"]["__extn"]["fn"] == "duration"
    assert implies(
        'permit(principal, action, resource) when { decimal("1.5").lessThan(context.d) };',
        'permit(principal, action, resource) when { decimal("1.4").lessThan(context.d) };',
    ).holds
    # Addresses in data are compared by equality, exactly, without encoding `ip`.
    e = "permit(principal, action, resource) when { context.src == context.dst };"
    answer = always_denies(e)
    assert not answer.holds and answer.counterexample is not None
    assert decide(e, answer.counterexample) is not Decision.DENY


def test_set_relations_between_data_sets() -> None:
    some = (
        "permit(principal, action, resource) when { principal.roles.containsAny(resource.roles) };"
    )
    answer = implies(some, "")
    assert not answer.holds and answer.counterexample is not None
    assert decide(some, answer.counterexample) is Decision.PERMIT
    # All of a non-empty set in another means they overlap: needs the subset instances.
    a = "permit(principal, action, resource) when { principal.roles.containsAll(resource.roles) };"
    b = (
        "permit(principal, action, resource) when { principal.roles.containsAll(resource.roles)"
        " && (resource.roles.isEmpty() || principal.roles.containsAny(resource.roles)) };"
    )
    assert equivalent(a, b).holds
    c = b.replace("resource.roles.isEmpty() || ", "")
    answer = equivalent(a, c)
    assert not answer.holds and answer.counterexample is not None
    cx = answer.counterexample
    assert decide(a, cx).name == cx.decisions["a"] != cx.decisions["b"] == decide(c, cx).name


SCHEMA = """
entity Group;
entity User in [Group] { level: Long, nick?: String, roles: Set<String>, boss?: User };
entity Doc { owner: User, public: Bool };
action read, edit appliesTo { principal: [User], resource: [Doc], context: { mfa: Bool } };
"""


def test_a_schema_restricts_the_requests_and_counterexamples_conform() -> None:
    from lion.policy.schema import Schema
    from lion.policy.validate import conforms

    schema = Schema.from_cedar(SCHEMA)
    head = "permit(principal, action, resource) when "
    # Typed and guarded: never UNKNOWN with the schema, but without it `nick` may be a long.
    guarded = head + '{ principal has nick && principal.nick like "a*" };'
    assert never_indeterminate(guarded, schema).holds
    assert not never_indeterminate(guarded).holds
    # No schema type rules out a missing entity: the principal may not exist.
    typed = head + "{ principal.level > 3 };"
    answer = never_indeterminate(typed, schema)
    assert not answer.holds and answer.counterexample is not None
    cx = answer.counterexample
    assert conforms(schema, cx.request, cx.entities) == ()
    assert cx.request["principal"] not in [e["uid"] for e in cx.entities]
    # Only the declared actions, principal and resource types occur.
    assert always_denies("permit(principal is Doc, action, resource);", schema).holds
    assert not always_denies("permit(principal is Doc, action, resource);").holds
    answer = implies(
        'permit(principal in Group::"g", action, resource);',
        'permit(principal, action == Action::"read", resource);',
        schema,
    )
    assert not answer.holds and answer.counterexample is not None
    cx = answer.counterexample
    assert cx.request["action"] == {"type": "Action", "id": "edit"}
    assert conforms(schema, cx.request, cx.entities) == ()
    assert decide('permit(principal in Group::"g", action, resource);', cx) is Decision.PERMIT
    # A recursive entity type (a boss is a User), through two attribute reads.
    boss = (
        head + "{ principal has boss && principal.boss.level > 2 && resource.owner == principal };"
    )
    answer = implies(boss, "", schema)
    assert not answer.holds and answer.counterexample is not None
    cx = answer.counterexample
    assert conforms(schema, cx.request, cx.entities) == ()
    assert decide(boss, cx) is Decision.PERMIT


def test_set_literal_equality_with_a_data_set() -> None:
    head = "permit(principal, action, resource) when "
    eq = head + "{ context.s == [1, 2] };"
    assert equivalent(eq, head + "{ [2, 1, 2] == context.s };").holds
    # Equal means "holds both and nothing else" on sets (and is FALSE, not an error, on
    # a non-set, where `containsAll` is a type error).
    both = head + "{ context.s.containsAll([1, 2]) && [1, 2].containsAll(context.s) };"
    assert implies(eq, both).holds
    answer = equivalent(eq, head + "{ context.s.containsAll([1, 2]) };")
    assert not answer.holds and answer.counterexample is not None
    cx = answer.counterexample
    assert decide(eq, cx).name == cx.decisions["a"] != cx.decisions["b"]


def test_policy_set_input_and_paths(tmp_path: Any) -> None:
    path = tmp_path / "p.cedar"
    path.write_text(OLD)
    assert equivalent(path, PolicySet.from_str(OLD)).holds
    # A parsed set is replayed as it is (python) and through its formatted text (rust).
    answer = implies(PolicySet.from_str(REFACTORED), PolicySet.from_str(OLD))
    assert not answer.holds and answer.counterexample is not None
    assert decide(REFACTORED, answer.counterexample) is Decision.PERMIT


@pytest.mark.parametrize(
    ("condition", "construct"),
    [
        ('ip("10.0.0.1").isLoopback()', "ip"),
        ("context.a.isInRange(context.b)", "isInRange"),
        ('decimal(context.s).lessThan(decimal("2.0"))', "computed string"),
        ("[{a: 1}].containsAll(resource.roles)", "containsAll"),
        ("context.s == [1, [2]]", "set literal"),
        ("{a: [1]} == context.r", "set literal"),
    ],
)
def test_constructs_the_encoding_cannot_decide_are_refused(condition: str, construct: str) -> None:
    text = f"permit(principal, action, resource) when {{ {condition} }};"
    with pytest.raises(AnalysisError) as info:
        always_denies(text)
    assert construct in str(info.value)
    assert "<policies>:1:" in str(info.value)


def test_bad_policy_text_is_a_policy_error() -> None:
    with pytest.raises(PolicyError):
        equivalent("permit(principal, action, resource", "")


def test_a_counterexample_that_does_not_replay_is_an_internal_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Break the encoding of `<` (as `<=`): the replay must catch the false claim."""
    from lion.policy.analyze import _encode

    real = _encode.Encoder.binary

    def broken(self: Any, e: Any) -> Any:
        sym = real(self, e)
        if e.op == "<":
            right = self.expr(e.right)
            left = self.expr(e.left)
            return type(sym)(sym.err, "bool", left.val <= right.val)
        return sym

    monkeypatch.setattr(_encode.Encoder, "binary", broken)
    a = "permit(principal, action, resource) when { 1 < 1 };"
    with pytest.raises(AnalysisInternalError, match="does not replay"):
        always_denies(a)


def test_linked_templates_are_analysed_and_replayed_with_their_links() -> None:
    template = '@id("t") permit(principal == ?principal, action, resource) when { context.ok };'
    linked = PolicySet.from_str(template).link("t", "alice", {"?principal": 'User::"alice"'})
    static = 'permit(principal == User::"alice", action, resource) when { context.ok };'
    assert equivalent(linked, static).holds
    answer = always_denies(linked)
    assert not answer.holds and answer.counterexample is not None
    cx = answer.counterexample
    assert cx.request["principal"] == {"type": "User", "id": "alice"}
    assert cx.unknown["a"] or cx.decisions["a"] == "PERMIT"


def test_every_diff_counterexample_of_linked_sets_replays_with_the_links() -> None:
    # the Rust replay of a parsed set is built once, links included: a later
    # counterexample used to be replayed on the text alone, without the links
    text = (
        '@id("t") permit(principal == ?principal, action, resource) when { context.n > 0 };\n'
        '@id("f") forbid(principal, action, resource) when { context.m > 0 };\n'
        '@id("g") permit(principal, action, resource) when { context.k > 0 };'
    )
    alice = {"?principal": 'User::"alice"'}
    a = PolicySet.from_str(text).link("t", "l1", alice)
    b = PolicySet.from_str(text.replace("context.n > 0", "context.n > 5")).link("t", "l1", alice)
    answer = diff(a, b, limit=5)
    assert not answer.holds
    assert len(answer.counterexamples) >= 2
    for cx in answer.counterexamples:
        for name in ("python", "rust") if rust_available() else ("python",):
            engine = get_backend(name).policy_set(text).link("t", "l1", alice)
            got = engine.evaluate(cx.request, cx.entities).decision.name
            assert got == cx.decisions["a"]


def test_templates_are_ignored_until_linked() -> None:
    text = "permit(principal == ?principal, action, resource);\n"
    try:
        PolicySet.from_str(text)
    except PolicyError as exc:
        if "not supported" in str(exc):
            pytest.skip("the parser does not read templates yet")
        raise
    assert always_denies(text).holds
