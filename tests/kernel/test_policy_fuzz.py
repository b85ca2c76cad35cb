"""Fuzzing the policy parser, the entity loader and the request loader on both backends.

Each input is hostile-shaped: token soup from the policy vocabulary, mutated
valid policies, lone surrogates, deep nesting, huge numbers, floats, nulls,
duplicate keys. Whatever comes in, both backends must answer alike: accept
(and then decide the same) or raise ``PolicyError``, nothing else, and never
hang (a per-example deadline). ``LION_EXAMPLES`` sets the examples per target
(default 60, about two seconds). A long run outlasts pytest's 600 s timeout,
so lift it: ``LION_EXAMPLES=20000 pytest --timeout 0 --hypothesis-show-statistics
tests/kernel/test_policy_fuzz.py`` (20,000 per target: 0 failures, about 21
minutes on two shared cores).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lion.errors import PolicyError
from lion.kernel import backend as kb

EXAMPLES = int(os.environ.get("LION_EXAMPLES", 60))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=10),  # a hang, not a slow machine
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=EXAMPLES <= 60,  # `make test` runs the same inputs every time
)
PY = kb.get_backend("python")
RUST = kb.get_backend("rust")


def _outcome(fn: Any) -> tuple[str, Any]:
    """("ok", value) or ("error", message); anything but PolicyError fails the test."""
    try:
        return "ok", fn()
    except PolicyError as exc:
        message = str(exc)
        message.encode("utf-8")  # every message is printable, whatever the input
        return "error", message


# --- policy text -------------------------------------------------------------------------

TOKENS = [
    "permit",
    "forbid",
    "(",
    ")",
    "principal",
    "action",
    "resource",
    "context",
    ",",
    ";",
    "when",
    "unless",
    "{",
    "}",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "!",
    "-",
    "+",
    "*",
    "in",
    "is",
    "has",
    "like",
    "if",
    "then",
    "else",
    "true",
    "false",
    "[",
    "]",
    ":",
    "::",
    ".",
    "@id",
    '"a"',
    '"\\u{d800}"',
    '"\\u{1F600}"',
    '"a*b"',
    '"\\x7f"',
    "User",
    'User::"alice"',
    "?principal",
    "0",
    "9223372036854775807",
    "9223372036854775808",
    "-1",
    "contains",
    "containsAll",
    "isEmpty",
    "getTag",
    "ip",
    "\ud800",
    "\x00",
    "é",
    "𝒳",
    " ",
    "\n",
    "//",
    "/*",
]
SEEDS = [
    "permit(principal, action, resource);",
    '@id("a") forbid(principal == User::"x", action in [Action::"r"], resource is Doc)'
    ' when { context.n > 1 && context has s || !(context.s like "a*") };',
    'permit(principal in Group::"g", action, resource) unless { if true then 1 + 2 * 3 == 7'
    ' else [1, 2].contains(3) } when { {a: 1}["a"] == -1 };',
]
token_soup = st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        piece = draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=3)))
        cut = draw(st.integers(0, 3))
        text = text[:at] + piece + text[at + cut :]
    return text


NESTERS = [("(", ")"), ("!(", ")"), ("[", "]"), ("{a: ", "}"), ("-(", ")")]
nesting = st.tuples(
    st.sampled_from(NESTERS), st.integers(0, 3000), st.sampled_from(["1", "true", "context"])
).map(
    lambda t: (
        "permit(principal, action, resource) when { "
        + t[0][0] * t[1]
        + t[2]
        + t[0][1] * t[1]
        + " };"
    )
)
policy_texts = st.one_of(token_soup, mutated(), nesting, st.text(max_size=80))
REQUEST = {
    "principal": 'User::"alice"',
    "action": 'Action::"r"',
    "resource": 'Doc::"d"',
    "context": {"n": 2, "s": "ab", "a": 1},
}


@FUZZ
@given(text=policy_texts)
def test_policy_text_fuzz(text: str) -> None:
    py = _outcome(lambda: PY.policy_set(text))
    rust = _outcome(lambda: RUST.policy_set(text))
    assert py[0] == rust[0], (py, rust)
    if py[0] == "ok":
        assert len(py[1]) == len(rust[1])
        entities = [{"uid": {"type": "User", "id": "alice"}, "parents": []}]
        a = py[1].evaluate(REQUEST, PY.entities(entities))
        b = rust[1].evaluate(REQUEST, RUST.entities(entities))
        assert (a.decision, tuple(a.determining)) == (b.decision, tuple(b.determining))


# --- entities and requests ---------------------------------------------------------------

hostile_strings = st.one_of(
    st.sampled_from(["", "a", "User", "A::B", "1x", "\ud800", "a\udfffb", "é", "x" * 200]),
    st.text(max_size=8),
)
hostile_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    hostile_strings,
)
hostile_json = st.recursive(
    hostile_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(
                st.sampled_from(["type", "id", "__entity", "__extn", "fn", "uid", "parents"]),
                hostile_strings,
            ),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=12,
)
uids = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["U", "G", "a b"]), "id": hostile_strings}),
    hostile_json,
)
entity_items = st.one_of(
    st.fixed_dictionaries(
        {"uid": uids},
        optional={
            "attrs": st.dictionaries(hostile_strings, hostile_json, max_size=3),
            "parents": st.lists(uids, max_size=3),
            "tags": hostile_json,
        },
    ),
    hostile_json,
)
entity_lists = st.one_of(st.lists(entity_items, max_size=6), hostile_json)


def _as_text(data: Any) -> str | None:
    try:
        return json.dumps(data)
    except (ValueError, TypeError):
        return None  # floats such as nan are still JSON-encodable; this is belt and braces


@FUZZ
@given(data=entity_lists, as_text=st.booleans())
def test_entities_fuzz(data: Any, as_text: bool) -> None:
    if as_text:
        text = _as_text(data)
        if text is not None:
            data = text
    py = _outcome(lambda: PY.entities(data))
    rust = _outcome(lambda: RUST.entities(data))
    assert py[0] == rust[0], (py, rust)
    if py[0] == "ok":
        assert len(py[1]) == len(rust[1])


requests = st.one_of(
    st.fixed_dictionaries(
        {"principal": uids, "action": uids, "resource": uids},
        optional={"context": hostile_json},
    ),
    st.fixed_dictionaries(
        {
            "principal": st.just('User::"alice"'),
            "action": st.sampled_from(['Action::"r"', 'Action :: "r"', 'A::"\\u{d800}"']),
            "resource": st.sampled_from(['Doc::"d"', 'Doc::"\ud800"', "Doc::d"]),
            "context": st.dictionaries(hostile_strings, hostile_json, max_size=3),
        }
    ),
    hostile_json,
)
RULES = (
    "permit(principal, action, resource) when { context has n && context.n > 1 };\n"
    'forbid(principal, action, resource) when { context.s like "a*" };'
)


@pytest.fixture(scope="module")
def engines() -> tuple[Any, Any]:
    return PY.policy_set(RULES), RUST.policy_set(RULES)


@FUZZ
@given(request=requests, as_text=st.booleans())
def test_request_fuzz(engines: tuple[Any, Any], request: Any, as_text: bool) -> None:
    if as_text:
        text = _as_text(request)
        if text is not None:
            request = text
    py = _outcome(lambda: engines[0].evaluate(request, None))
    rust = _outcome(lambda: engines[1].evaluate(request, None))
    assert py[0] == rust[0], (py, rust)
    if py[0] == "ok":
        assert (py[1].decision, tuple(py[1].determining)) == (
            rust[1].decision,
            tuple(rust[1].determining),
        )
