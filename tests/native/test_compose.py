"""The Rust morphism composition agrees with `lion.kernel.compose`.

Morphisms cross the boundary as `(source, target, required, pre, post, name)`
tuples; each test builds the same morphisms both ways and compares whole
results, and for refusals the error class and message.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from itertools import pairwise
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lion import _native
from lion.errors import LionError
from lion.kernel import compose as ref

EXAMPLES = settings(max_examples=int(os.environ.get("LION_EXAMPLES", 100)))

Outcome = tuple[Any, ...]


def as_tuple(m: ref.Morphism) -> tuple[Any, ...]:
    return (m.source, m.target, m.required, m.pre, m.post, m.name)


def outcome(call: Callable[[], Any]) -> Outcome:
    try:
        value = call()
    except LionError as error:
        return ("error", type(error).__name__, str(error))
    return ("ok", as_tuple(value) if isinstance(value, ref.Morphism) else value)


names = st.sampled_from(["A", "B", "C", "é x", "it's"])
#: Objects are sets of ports: a name, a tuple of distinct names in any order, or a set.
objects = st.one_of(
    names,
    st.lists(names, unique=True, max_size=3).map(tuple),
    st.frozensets(names, max_size=3),
    st.sets(names, max_size=2),
)
caps = st.frozensets(st.sampled_from(["read", "write", "net"]), max_size=3)
conds = st.frozensets(st.sampled_from(["p", "q", "r", "s"]), max_size=3)
fields = st.tuples(objects, objects, caps, conds, conds, st.sampled_from(["", "f", "g", "h"]))


def both(field: tuple[Any, ...]) -> tuple[ref.Morphism, tuple[Any, ...]]:
    """The same morphism as a Python `Morphism` and as a native tuple."""
    py = ref.Morphism(*field)
    native = _native.morphism(*field)
    assert native == as_tuple(py)
    return py, native


bad_objects = st.sampled_from(
    [
        "",
        ("A", ""),
        ("",),
        ["A"],
        5,
        ("A", 5),
        None,
        ("A", "A"),
        ("é x", "B", "é x", "B"),
        frozenset({""}),
        frozenset({"A", 5}),
        {"A", ""},
    ]
)
bad_names = st.sampled_from(["read", 5, [""], ["a", 5], [["x"]], None, ()])
bad_conds = st.sampled_from(["", [""], [5], 5, [["x"]], "p", ("p", "q")])


@EXAMPLES
@given(
    source=objects | bad_objects,
    target=objects | bad_objects,
    required=caps | bad_names,
    pre=conds | bad_conds,
    post=conds | bad_conds,
    name=st.sampled_from(["", "m"]),
)
def test_construction_accepts_and_refuses_alike(
    source: Any, target: Any, required: Any, pre: Any, post: Any, name: str
) -> None:
    if required is None:
        required = frozenset()
    expected = outcome(lambda: ref.Morphism(source, target, required, pre, post, name))
    assert outcome(lambda: _native.morphism(source, target, required, pre, post, name)) == expected


@EXAMPLES
@given(f=fields, g=fields, link=st.booleans())
def test_compose_and_product_agree(f: tuple[Any, ...], g: tuple[Any, ...], link: bool) -> None:
    if link:  # make `f ; g` defined most of the time
        g = (f[1], *g[1:])
    pf, nf = both(f)
    pg, ng = both(g)
    assert outcome(lambda: _native.compose_morphisms(nf, ng)) == outcome(
        lambda: ref.compose(pf, pg)
    )
    assert outcome(lambda: _native.product_morphisms(nf, ng)) == outcome(
        lambda: ref.product(pf, pg)
    )
    # A 5-tuple without a name gets the default name, as a Morphism without one does.
    assert outcome(lambda: _native.compose_morphisms(f[:5], g[:5])) == outcome(
        lambda: ref.compose(ref.Morphism(*f[:5]), ref.Morphism(*g[:5]))
    )


@EXAMPLES
@given(f=fields, g=fields)
def test_product_does_not_depend_on_order_finding_5(f: tuple[Any, ...], g: tuple[Any, ...]) -> None:
    # Issue 11, finding 5: `f @ g` and `g @ f` must be one morphism (or both refused), and
    # each composes with the identity on its ports, in either backend.
    pf, nf = both(f)
    pg, ng = both(g)
    left = outcome(lambda: _native.product_morphisms(nf, ng))
    right = outcome(lambda: _native.product_morphisms(ng, nf))
    assert left[0] == right[0]
    if left[0] == "error":
        assert "the ports of a product must be disjoint" in left[2]
        return
    assert left[1][:5] == right[1][:5] == as_tuple(ref.product(pg, pf))[:5]
    fg = left[1]
    assert list(fg[0]) == sorted(set(fg[0])) and list(fg[1]) == sorted(set(fg[1]))
    for source in (fg[0], fg[0][::-1], frozenset(fg[0])):
        composed = _native.compose_morphisms(_native.identity_morphism(source), fg)
        assert composed[:5] == fg[:5]
    assert _native.compose_morphisms(fg, _native.identity_morphism(fg[1][::-1]))[:5] == fg[:5]


def test_product_refusal_names_the_shared_ports() -> None:
    f = _native.morphism(("B", "A"), "C", name="f")
    g = _native.morphism(("A", "B"), "D", name="g")
    with pytest.raises(ref.CompositionError, match="ports `A`, `B` are in both sources") as info:
        _native.product_morphisms(f, g)
    with pytest.raises(ref.CompositionError) as expected:
        ref.product(
            ref.Morphism(("B", "A"), "C", name="f"), ref.Morphism(("A", "B"), "D", name="g")
        )
    assert str(info.value) == str(expected.value)


@EXAMPLES
@given(chain=st.lists(fields, min_size=1, max_size=5), link=st.booleans())
def test_compose_all_agrees(chain: list[tuple[Any, ...]], link: bool) -> None:
    if link:
        chain = [chain[0]] + [(prev[1], *cur[1:]) for prev, cur in pairwise(chain)]
    pairs = [both(field) for field in chain]
    py = [p for p, _ in pairs]
    native = [n for _, n in pairs]
    assert outcome(lambda: _native.compose_all_morphisms(*native)) == outcome(
        lambda: ref.compose_all(*py)
    )


@EXAMPLES
@given(obj=objects | bad_objects, f=fields)
def test_identity_is_a_unit(obj: Any, f: tuple[Any, ...]) -> None:
    expected = outcome(lambda: ref.identity(obj))
    assert outcome(lambda: _native.identity_morphism(obj)) == expected
    pf, nf = both(f)
    left = _native.compose_morphisms(_native.identity_morphism(f[0]), nf)
    assert left[:5] == nf[:5] == as_tuple(ref.compose(ref.identity(f[0]), pf))[:5]


@EXAMPLES
@given(f=fields, granted=caps, authority=caps)
def test_secure_and_grant_agree(f: tuple[Any, ...], granted: Any, authority: Any) -> None:
    pf, nf = both(f)
    assert _native.secure_morphism(nf, granted) == ref.secure(pf, granted)
    assert _native.grant_capabilities(f[2], authority) == ref.grant(f[2], authority)


@pytest.mark.parametrize("bad", [None, "A", ("A", "B"), ("A", "B", (), (), (), "n", "extra")])
def test_non_morphisms_are_refused(bad: Any) -> None:
    good = _native.identity_morphism("A")
    with pytest.raises(ref.CompositionError, match="compose expects two morphisms"):
        _native.compose_morphisms(good, bad)
    with pytest.raises(ref.CompositionError, match="product expects two morphisms"):
        _native.product_morphisms(bad, good)


def test_predicates_are_refused_natively() -> None:
    with pytest.raises(ref.CompositionError, match="condition names only"):
        _native.morphism("A", "B", pre=cast(Any, [callable]))
