"""The decision rule: its cases, and the chapter-4 properties (order and duplicate
independence, monotonicity in information) as Hypothesis properties."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from lion.kernel.policy import Decision, Effect, Kleene, PolicySet, combine

EXAMPLES = int(os.environ.get("LION_EXAMPLES", 200))

P, F = Effect.PERMIT, Effect.FORBID
T, FA, U = Kleene.TRUE, Kleene.FALSE, Kleene.UNKNOWN

triples = st.lists(
    st.tuples(
        st.sampled_from(list(Effect)),
        st.sampled_from([f"p{i}" for i in range(6)]),
        st.sampled_from(list(Kleene)),
    ),
    max_size=8,
)


def test_empty_set_denies_by_default() -> None:
    assert combine([]) == (Decision.DENY, ())


def test_decision_table() -> None:
    cases = [
        ([(P, "a", T)], (Decision.PERMIT, ("a",))),
        ([(P, "a", FA)], (Decision.DENY, ())),
        ([(P, "a", U)], (Decision.INDETERMINATE, ())),
        ([(F, "f", T)], (Decision.DENY, ("f",))),
        ([(F, "f", U)], (Decision.DENY, ())),  # no permit could apply: default deny
        ([(P, "a", T), (F, "f", T)], (Decision.DENY, ("f",))),
        ([(P, "a", T), (F, "f", U)], (Decision.INDETERMINATE, ("a",))),
        ([(P, "a", T), (F, "f", FA)], (Decision.PERMIT, ("a",))),
        ([(P, "a", U), (F, "f", T)], (Decision.DENY, ("f",))),
        ([(P, "a", U), (P, "b", T)], (Decision.PERMIT, ("b",))),
        ([(P, "b", T), (P, "a", T), (F, "g", T), (F, "f", T)], (Decision.DENY, ("f", "g"))),
        ([(P, "b", T), (P, "a", T)], (Decision.PERMIT, ("a", "b"))),
    ]
    for items, expected in cases:
        assert combine(items) == expected, items


def reference(items: list[tuple[Effect, str, Kleene]]) -> Decision:
    """The rule as stated in DESIGN.md, written independently of ``combine``."""
    forbid_true = any(e is F and v is T for e, _, v in items)
    forbid_maybe = any(e is F and v is not FA for e, _, v in items)
    permit_true = any(e is P and v is T for e, _, v in items)
    permit_maybe = any(e is P and v is not FA for e, _, v in items)
    if permit_true and not forbid_maybe:
        return Decision.PERMIT
    if forbid_true or not permit_maybe:
        return Decision.DENY
    return Decision.INDETERMINATE


@settings(max_examples=EXAMPLES)
@given(triples)
def test_combine_matches_the_stated_rule(items: list[tuple[Effect, str, Kleene]]) -> None:
    decision, determining = combine(items)
    assert decision is reference(items)
    assert list(determining) == sorted(set(determining))
    true_forbids = {i for e, i, v in items if e is F and v is T}
    true_permits = {i for e, i, v in items if e is P and v is T}
    if true_forbids:
        assert set(determining) == true_forbids
    elif decision is Decision.DENY:
        assert determining == ()
    else:
        assert set(determining) == true_permits


@settings(max_examples=EXAMPLES)
@given(triples, st.randoms(use_true_random=False), st.data())
def test_order_and_duplicates_do_not_matter(
    items: list[tuple[Effect, str, Kleene]], rnd: object, data: st.DataObject
) -> None:
    shuffled = list(items)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    extra = data.draw(st.lists(st.sampled_from(items), max_size=4)) if items else []
    assert combine(shuffled + extra) == combine(items)


@settings(max_examples=EXAMPLES)
@given(triples, st.data())
def test_refining_unknowns_never_flips_a_definite_decision(
    items: list[tuple[Effect, str, Kleene]], data: st.DataObject
) -> None:
    before, _ = combine(items)
    refined = [(e, i, data.draw(st.sampled_from([T, FA])) if v is U else v) for e, i, v in items]
    after, _ = combine(refined)
    if before is not Decision.INDETERMINATE:
        assert after is before
    # And refining everything always reaches a definite decision.
    assert after is not Decision.INDETERMINATE


@settings(max_examples=EXAMPLES)
@given(st.sampled_from(list(Kleene)), st.sampled_from(list(Kleene)))
def test_kleene_connectives_are_strong_kleene(a: Kleene, b: Kleene) -> None:
    order = {FA: 0, U: 1, T: 2}
    assert order[a & b] == min(order[a], order[b])
    assert order[a | b] == max(order[a], order[b])
    assert ~(a & b) is (~a | ~b)
    assert ~~a is a


CONDITIONS = {
    T: "true",
    FA: "false",
    U: "context.missing",  # an error: unknown
}


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(list(Effect)), st.sampled_from(list(Kleene))),
        min_size=1,
        max_size=5,
    ),
    st.randoms(use_true_random=False),
)
def test_policy_set_order_and_duplicates_do_not_matter(
    spec: list[tuple[Effect, Kleene]], rnd: object
) -> None:
    texts = [
        f'@id("r{i}") {effect.value}(principal, action, resource) when {{ {CONDITIONS[value]} }};'
        for i, (effect, value) in enumerate(spec)
    ]
    request = {"principal": 'U::"a"', "action": 'A::"b"', "resource": 'R::"c"', "context": {}}
    first = PolicySet.from_str("\n".join(texts)).evaluate(request)
    shuffled = list(texts)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    second = PolicySet.from_str("\n".join(shuffled)).evaluate(request)
    # Messages carry line:col, which moves with the policy; the ids must not change.
    assert (first.decision, first.determining, first.erroring) == (
        second.decision,
        second.determining,
        second.erroring,
    )
    # The policy set agrees with combine over its own per-policy values.
    assert (first.decision, first.determining) == combine(
        (e, f"r{i}", v) for i, (e, v) in enumerate(spec)
    )
    assert first.erroring == tuple(sorted(f"r{i}" for i, (_, v) in enumerate(spec) if v is U))


# -- monotonicity of the evaluator itself ------------------------------------------
# Put a hole `H` in an expression. With H an error (unknown), whatever definite value
# the expression gets must be the value it gets for every concrete H.

HOLE_ATOMS = st.sampled_from(["H", "H", "true", "false", "1", "context.n", '"a"'])


def _hole_exprs() -> st.SearchStrategy[str]:
    return st.recursive(
        HOLE_ATOMS,
        lambda sub: st.one_of(
            st.tuples(sub, st.sampled_from(["&&", "||", "==", "!=", "<", "+", "*"]), sub).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            sub.map(lambda x: f"(!{x})"),
            st.tuples(sub, sub, sub).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})"),
            st.lists(sub, max_size=2).map(lambda xs: "[" + ", ".join(xs) + "]"),
            st.tuples(sub, sub).map(lambda t: f"[{t[0]}].contains({t[1]})"),
        ),
        max_leaves=8,
    )


def _value(expr: str) -> tuple[Kleene, str | None]:
    ps = PolicySet.from_str(f"permit(principal, action, resource) when {{ {expr} }};")
    request = {"principal": 'U::"a"', "action": 'A::"b"', "resource": 'R::"c"', "context": {"n": 2}}
    (result,) = ps.evaluate_policies(request)
    return result.value, result.error


@settings(max_examples=EXAMPLES, deadline=None)
@given(_hole_exprs())
def test_evaluation_is_monotone_in_information(expr: str) -> None:
    unknown, _ = _value(expr.replace("H", "context.missing"))
    if unknown is Kleene.UNKNOWN:
        return
    for filler in ("true", "false", "0", '"a"', "[]"):
        assert _value(expr.replace("H", filler))[0] is unknown, (expr, filler)
