"""format_policies on random input: a fixed point that keeps the AST, the decisions, and
Cedar's reading.

Two generators: random policy text from the Cedar agreement test (well-typed-ish
conditions, evaluated on random requests by LION and by cedarpy), and random
ASTs of any shape (nonsense types, every operator under every other, odd
strings and attribute names) that stress parentheses and escaping.
``LION_EXAMPLES`` scales the example counts.
"""

from __future__ import annotations

import functools
import json
import os
import re
import string
from pathlib import Path
from typing import Any

import cedarpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lion.kernel.policy import Decision, PolicySet, Response, parse_policies
from lion.kernel.policy import _ast as A
from lion.kernel.policy._parse import RESERVED
from lion.kernel.policy._values import INT_MAX, INT_MIN, EntityUID
from lion.policy.format import format_policies
from tests._modules import load

EXAMPLES = int(os.environ.get("LION_EXAMPLES", 100))


G = load("kernel/test_policy_cedar.py")
_AT = re.compile(r" \(at \d+:\d+\)")


def meaning(response: Response) -> tuple[Any, ...]:
    """A response without source positions (error messages name them: `(at 3:14)`)."""
    return (
        response.decision,
        response.determining,
        tuple((e.policy_id, _AT.sub("", e.message)) for e in response.errors),
        tuple(
            (r.policy_id, r.effect, r.value, r.error and _AT.sub("", r.error))
            for r in response.results
        ),
    )


def cedar_answer(result: Any) -> tuple[Any, ...]:
    return (
        result.decision,
        tuple(sorted(result.diagnostics.reasons)),
        len(result.diagnostics.errors),
    )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(
    policies=G.policy_texts(),
    entities=G.entity_lists(),
    requests=st.lists(G.requests, min_size=1, max_size=4),
    width=st.sampled_from([80, 80, 40, 1000]),
)
def test_random_policy_text_keeps_its_meaning(
    policies: str, entities: list[dict[str, Any]], requests: list[dict[str, Any]], width: int
) -> None:
    out = format_policies(policies, width=width)
    assert format_policies(out, width=width) == out
    assert repr(parse_policies(out)) == repr(parse_policies(policies))
    before, after = PolicySet.from_str(policies), PolicySet.from_str(out)
    cedar_before = cedarpy.is_authorized_batch(requests, policies, entities)
    cedar_after = cedarpy.is_authorized_batch(requests, out, entities)
    for request, c0, c1 in zip(requests, cedar_before, cedar_after, strict=True):
        ours = after.evaluate(request, entities)
        assert meaning(ours) == meaning(before.evaluate(request, entities))
        assert cedar_answer(c1) == cedar_answer(c0), (out, request)
        if not c1.diagnostics.errors:  # LION refines Cedar: no Cedar error, same decision
            expected = Decision.PERMIT if c1.decision == cedarpy.Decision.Allow else Decision.DENY
            assert ours.decision is expected, (out, request, ours.explain())


# -- random ASTs of any shape -----------------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=6)
_IDENTS = st.sampled_from(["a", "b_1", "_x", "permit", "when", "Action", *sorted(RESERVED)])
_NAMES = _IDENTS.filter(lambda n: n not in RESERVED)
_ATTRS = st.one_of(_IDENTS, _TEXT)
_TYPES = st.sampled_from(["User", "Group", "A::B", "Ns::Sub::T"])
_UIDS = st.builds(EntityUID, _TYPES, _TEXT)

_leaves = st.one_of(
    st.builds(A.Literal, st.booleans()),
    st.builds(
        A.Literal,
        st.one_of(st.integers(INT_MIN, INT_MAX), st.sampled_from([0, 1, -1, INT_MIN, INT_MAX])),
    ),
    st.builds(A.Literal, _TEXT),
    st.builds(A.Literal, _UIDS),
    st.builds(A.Var, st.sampled_from(["principal", "action", "resource", "context"])),
)

_METHODS = {"contains": 1, "containsAll": 1, "containsAny": 1, "isEmpty": 0}
_METHODS |= {"hasTag": 1, "getTag": 1}
_METHODS |= {m: 1 for m in ("lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual")}
_METHODS |= {m: 0 for m in ("isIpv4", "isIpv6", "isLoopback", "isMulticast")}
_METHODS |= {"isInRange": 1, "offset": 1, "durationSince": 1, "toDate": 0, "toTime": 0}
_METHODS |= {m: 0 for m in ("toDays", "toHours", "toMinutes", "toSeconds", "toMilliseconds")}


def _neg(arg: A.Expr) -> A.Expr:
    # `-5` is read as the literal -5, so the parser never builds `Neg(5)`
    if isinstance(arg, A.Literal) and type(arg.value) is int and arg.value > 0:
        return A.Literal(-arg.value)
    return A.Neg(arg)


def _chain(kind: type[A.And] | type[A.Or], args: list[A.Expr]) -> A.Expr:
    # the parser splices a first-place chain of the same kind into the outer one
    if isinstance(args[0], kind):
        return kind((*args[0].args, *args[1:]))
    return kind(tuple(args))


def _record(fields: dict[str, A.Expr]) -> A.Expr:
    return A.RecordExpr(tuple(fields.items()))


def _extend(inner: st.SearchStrategy[A.Expr]) -> st.SearchStrategy[A.Expr]:
    method = st.sampled_from(sorted(_METHODS)).flatmap(
        lambda m: st.builds(
            lambda obj, args: A.MethodCall(obj, m, tuple(args)),  # type: ignore[arg-type]
            inner,
            st.lists(inner, min_size=_METHODS[m], max_size=_METHODS[m]),
        )
    )
    return st.one_of(
        st.builds(A.Not, inner),
        st.builds(_neg, inner),
        st.builds(
            A.BinaryOp,
            st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "in"]),
            inner,
            inner,
        ),
        st.builds(_chain, st.sampled_from([A.And, A.Or]), st.lists(inner, min_size=2, max_size=3)),
        st.builds(A.IfThenElse, inner, inner, inner),
        st.builds(A.GetAttr, inner, _ATTRS),
        st.builds(A.HasAttr, inner, _ATTRS),
        st.builds(
            A.Like, inner, st.builds(A.Pattern, st.lists(_TEXT, min_size=1, max_size=3).map(tuple))
        ),
        st.builds(A.IsType, inner, _TYPES, st.one_of(st.none(), inner)),
        method,
        st.builds(
            lambda name, arg: A.ExtCall(name, (arg,)),
            st.sampled_from(["decimal", "ip", "datetime", "duration"]),
            st.one_of(st.builds(A.Literal, _TEXT), inner),
        ),
        st.lists(inner, max_size=3).map(lambda xs: A.SetExpr(tuple(xs))),
        st.dictionaries(_ATTRS, inner, max_size=3).map(_record),
    )


def _operators(inner: st.SearchStrategy[A.Expr]) -> st.SearchStrategy[A.Expr]:
    """Only operators, so that every operator often sits under every other."""
    return st.one_of(
        st.builds(A.Not, inner),
        st.builds(_neg, inner),
        st.builds(
            A.BinaryOp,
            st.sampled_from(["==", "<", "+", "-", "*", "in"]),
            inner,
            inner,
        ),
        st.builds(_chain, st.sampled_from([A.And, A.Or]), st.lists(inner, min_size=2, max_size=3)),
        st.builds(A.IfThenElse, inner, inner, inner),
        st.builds(A.GetAttr, inner, st.sampled_from(["a", "if"])),
        st.builds(A.HasAttr, inner, st.sampled_from(["a", "b", "x y"])),
        st.builds(A.Like, inner, st.just(A.Pattern(("a", "")))),
        st.builds(A.IsType, inner, _TYPES, st.one_of(st.none(), inner)),
    )


_small_leaves = st.one_of(
    st.builds(A.Literal, st.sampled_from([0, 1, -1, INT_MIN, True])),
    st.builds(A.Var, st.sampled_from(["principal", "context"])),
)


@functools.cache
def _operator_trees(depth: int) -> st.SearchStrategy[A.Expr]:
    # explicit depth: st.recursive rarely nests an operator three deep
    if depth == 0:
        return _small_leaves
    sub = _operator_trees(depth - 1)
    return st.one_of(_operators(sub), _operators(sub), _operators(sub), _small_leaves)


exprs = st.one_of(st.recursive(_leaves, _extend, max_leaves=12), _operator_trees(3))


def _scope(var: str) -> st.SearchStrategy[A.Scope]:
    uids = _UIDS if var != "action" else st.builds(EntityUID, st.just("Action"), _TEXT)
    options = [
        st.just(A.Scope()),
        uids.map(lambda u: A.Scope("==", None, (u,))),
        uids.map(lambda u: A.Scope("in", None, (u,))),
    ]
    if var == "action":
        options.append(
            st.lists(uids, max_size=3)
            .filter(lambda us: len(us) != 1)
            .map(lambda us: A.Scope("in", None, tuple(us)))
        )
    else:
        slot = f"?{var}"
        options += [
            _TYPES.map(lambda t: A.Scope("is", t, ())),
            st.tuples(_TYPES, uids).map(lambda tu: A.Scope("is_in", tu[0], (tu[1],))),
            st.sampled_from(["==", "in"]).map(lambda op: A.Scope(op, None, (), slot)),
            _TYPES.map(lambda t: A.Scope("is_in", t, (), slot)),
        ]
    return st.one_of(*options)


@st.composite
def policies(draw: st.DrawFn) -> list[A.Policy]:
    out = []
    for index in range(draw(st.integers(1, 3))):
        keys = draw(st.lists(_IDENTS.filter(lambda k: k != "id"), max_size=2, unique=True))
        annotations = [(k, draw(_TEXT)) for k in keys]
        if draw(st.booleans()):
            annotations.insert(0, ("id", f"p{index}"))
        out.append(
            A.Policy(
                id=f"p{index}" if annotations and annotations[0][0] == "id" else f"policy{index}",
                effect=draw(st.sampled_from(list(A.Effect))),
                principal=draw(_scope("principal")),
                action=draw(_scope("action")),
                resource=draw(_scope("resource")),
                conditions=tuple(
                    A.Condition(kind, expr)
                    for kind, expr in draw(
                        st.lists(st.tuples(st.sampled_from(["when", "unless"]), exprs), max_size=2)
                    )
                ),
                annotations=tuple(annotations),
            )
        )
    return out


@settings(
    max_examples=EXAMPLES * 2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(policy_list=policies(), width=st.sampled_from([80, 80, 30, 1000]))
def test_random_asts_read_back_exactly(policy_list: list[A.Policy], width: int) -> None:
    out = format_policies(policy_list, width=width)
    assert repr(parse_policies(out)) == repr(tuple(policy_list)), out
    assert format_policies(out, width=width) == out
    cedarpy.format_policies(out)  # raises if Cedar cannot parse it
    if width == 80:
        lines = out.splitlines()
        # only a single token (a long string) may overflow
        assert all(len(line) <= 80 or '"' in line for line in lines), out


@given(
    names=st.lists(st.text(string.ascii_letters + "_", min_size=1, max_size=4), max_size=3),
)
def test_attribute_names_are_bare_exactly_when_the_parser_reads_them_bare(
    names: list[str],
) -> None:
    expr: A.Expr = A.Var("context")
    for name in names:
        expr = A.GetAttr(expr, name)
    policy = A.Policy("policy0", A.Effect.PERMIT, conditions=(A.Condition("when", expr),))
    out = format_policies([policy])
    assert repr(parse_policies(out)) == repr((policy,))
    for name in names:
        bare = name not in RESERVED and not name.startswith("__cedar")
        assert (f".{name}" in out) or not bare


@settings(max_examples=EXAMPLES * 3, deadline=None, database=None)
@given(expr=_operator_trees(5))
def test_operators_under_operators_read_back_exactly(expr: A.Expr) -> None:
    policy = A.Policy("policy0", A.Effect.FORBID, conditions=(A.Condition("unless", expr),))
    out = format_policies([policy], width=60)
    assert repr(parse_policies(out)) == repr((policy,)), out
    cedarpy.format_policies(out)


# -- comments ---------------------------------------------------------------------------


def _gaps(text: str) -> list[int]:
    """Offsets of spaces outside string literals: a comment may start there."""
    out, inside, index = [], False, 0
    while index < len(text):
        ch = text[index]
        if inside and ch == "\\":
            index += 2
            continue
        if ch == '"':
            inside = not inside
        elif ch == " " and not inside:
            out.append(index)
        index += 1
    return out


@settings(max_examples=EXAMPLES, deadline=None, database=None)
@given(policies=G.policy_texts(), data=st.data())
def test_comments_anywhere_are_kept_and_the_result_is_a_fixed_point(
    policies: str, data: st.DataObject
) -> None:
    gaps = _gaps(policies)
    chosen = sorted(data.draw(st.sets(st.sampled_from(gaps), max_size=4)) if gaps else [])
    text = policies
    for number, at in enumerate(reversed(chosen)):
        blank = "\n" if data.draw(st.booleans()) else ""
        text = f'{text[:at]} // note {number} "x" ; //\n{blank}{text[at:]}'
    if data.draw(st.booleans()):
        text = "// head\n\n" + text + "\n// tail\n"
    out = format_policies(text)
    assert format_policies(out) == out
    assert repr(parse_policies(out)) == repr(parse_policies(policies))
    said = sorted(line[line.index("//") :].rstrip() for line in text.splitlines() if "//" in line)
    kept = sorted(line[line.index("//") :] for line in out.splitlines() if "//" in line)
    assert said == kept


def test_the_policy_corpus_formats_to_a_fixed_point() -> None:
    corpus = Path(__file__).resolve().parents[1] / "corpus" / "policy"
    paths = sorted(corpus.rglob("*.json"))
    assert paths
    for path in paths:
        case = json.loads(path.read_text())
        text = case["policies"]
        out = format_policies(text)
        assert format_policies(out) == out, path
        assert repr(parse_policies(out)) == repr(parse_policies(text)), path
        cedarpy.format_policies(out)
