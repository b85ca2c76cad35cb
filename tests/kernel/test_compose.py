"""Morphisms: category laws, the parallel product, and security preservation.

The same properties are theorems of `spec/composition.lion` (`compose_checked`
and `tensor_checked` there are `compose` and `product` here)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lion.errors import KernelError
from lion.kernel.compose import (
    CompositionError,
    Morphism,
    compose,
    compose_all,
    grant,
    holds,
    identity,
    product,
    secure,
)

EXAMPLES = int(os.environ.get("LION_EXAMPLES", 100))

OBJECTS = ("A", "B", "C", "D")
caps = st.frozensets(st.sampled_from(["read", "write", "exec", "net", "admin"]), max_size=4)
conds = st.frozensets(st.sampled_from(["p", "q", "r", "s", "t"]), max_size=4)
objects = st.sampled_from(OBJECTS)
#: Objects of several ports, given in any order (the kernel sorts them).
port_sets = st.lists(st.sampled_from(OBJECTS), unique=True, max_size=3).map(tuple)


@st.composite
def morphisms(draw: st.DrawFn, source: str | None = None, target: str | None = None) -> Morphism:
    return Morphism(
        source if source is not None else draw(objects),
        target if target is not None else draw(objects),
        draw(caps),
        draw(conds),
        draw(conds),
    )


@st.composite
def wide_morphisms(draw: st.DrawFn) -> Morphism:
    return Morphism(draw(port_sets), draw(port_sets), draw(caps), draw(conds), draw(conds))


def disjoint(f: Morphism, g: Morphism) -> bool:
    return not (set(f.source) & set(g.source)) and not (set(f.target) & set(g.target))


@st.composite
def chains(draw: st.DrawFn) -> tuple[Morphism, Morphism, Morphism]:
    a, b, c, d = (draw(objects) for _ in range(4))
    return draw(morphisms(a, b)), draw(morphisms(b, c)), draw(morphisms(c, d))


def test_composition_unions_requirements_and_threads_conditions() -> None:
    f = Morphism("A", "B", {"read"}, pre={"logged_in"}, post={"fetched"}, name="fetch")
    g = Morphism("B", "C", {"write"}, pre={"fetched", "quota"}, post={"saved"}, name="save")
    fg = compose(f, g)
    assert (fg.source, fg.target) == (("A",), ("C",))
    assert fg.required == {"read", "write"}
    assert fg.pre == {"logged_in", "quota"}  # `fetched` is established by f
    assert fg.post == {"fetched", "saved"}
    assert fg.name == "fetch ; save"
    assert f >> g == fg


def test_composition_is_defined_only_when_types_match() -> None:
    f = Morphism("A", "B", name="f")
    g = Morphism("C", "D", name="g")
    with pytest.raises(
        CompositionError, match="target `B` of `f` is not source `C` of `g`"
    ) as info:
        compose(f, g)
    assert isinstance(info.value, KernelError)
    with pytest.raises(CompositionError, match="expects two morphisms"):
        compose(f, "g")  # type: ignore[arg-type]
    with pytest.raises(CompositionError, match="expects two morphisms"):
        product("f", g)  # type: ignore[arg-type]
    with pytest.raises(CompositionError, match="expects two morphisms"):
        product(f, "g")  # type: ignore[arg-type]


def test_objects_are_sets_of_ports_kept_sorted() -> None:
    m = Morphism(("C", "A", "B"), {"E", "D"})
    assert (m.source, m.target) == (("A", "B", "C"), ("D", "E"))
    assert m == Morphism(("A", "B", "C"), ("E", "D"))
    assert m.name == "(A, B, C) -> (D, E)"
    assert identity(("B", "A")) == identity(frozenset({"A", "B"}))
    assert identity(("B", "A")).source == ("A", "B")
    with pytest.raises(CompositionError, match=r"source `\('A', 'B', 'A'\)` names port `A` twice"):
        Morphism(("A", "B", "A"), "C")
    with pytest.raises(CompositionError, match="expected a name, or a tuple or set of names"):
        Morphism(["A"], "B")  # type: ignore[arg-type]


def test_product_does_not_depend_on_order_finding_5() -> None:
    # Issue 11, finding 5: with ordered ports, `f @ g` and `g @ f` differed, and only one
    # of them composed with the identity on (A, B).
    f = Morphism("B", "D", {"read"}, pre="p", name="f")
    g = Morphism("A", "C", {"net"}, post="q", name="g")
    assert f @ g == g @ f
    assert (f @ g).source == (g @ f).source == ("A", "B")
    assert (f @ g).target == ("C", "D")
    for fg in (f @ g, g @ f):
        assert identity(("A", "B")) >> fg == fg
        assert identity(("B", "A")) >> fg == fg
        assert fg >> identity(("D", "C")) == fg
    assert (f @ g).name == "(f ⊗ g)" and (g @ f).name == "(g ⊗ f)"  # names keep the order


def test_product_refuses_shared_ports() -> None:
    f = Morphism(("A", "B"), "C", name="f")
    with pytest.raises(
        CompositionError,
        match="cannot put `f` beside `g`: port `B` is in both sources, and the ports of a "
        "product must be disjoint",
    ):
        product(f, Morphism("B", "D", name="g"))
    with pytest.raises(CompositionError, match="ports `A`, `B` are in both sources"):
        product(f, Morphism(("B", "A"), "D", name="g"))
    with pytest.raises(CompositionError, match="port `C` is in both targets"):
        product(Morphism("D", "C", name="g"), f)
    with pytest.raises(CompositionError, match="beside"):
        f @ f
    # The unit has no ports, so it fits beside anything, itself included.
    assert product(identity(()), identity(())) == identity(())


def test_a_single_condition_or_predicate_is_one_atom() -> None:
    def ready(state: object) -> bool:
        return True

    m = Morphism("A", "B", pre="logged_in", post=ready)
    assert m.pre == {"logged_in"}
    assert m.post == {ready}
    with pytest.raises(AttributeError):
        m.required = frozenset({"admin"})  # type: ignore[misc]


def test_product_places_morphisms_side_by_side() -> None:
    f = Morphism("A", "B", {"read"}, pre="p", post="q")
    g = Morphism("C", "D", {"net"}, pre="r", post="s")
    fg = product(f, g)
    assert (fg.source, fg.target) == (("A", "C"), ("B", "D"))
    assert fg.required == {"read", "net"}
    assert fg.pre == {"p", "r"}
    assert fg.post == {"q", "s"}
    assert f @ g == fg
    # Products compose with products of matching shape.
    h = Morphism(("B", "D"), "E", {"write"})
    assert compose(fg, h).source == ("A", "C")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"source": ""}, "not an object"),
        ({"source": ("A", 1)}, "not an object"),
        ({"source": ["A"]}, "not an object"),
        ({"target": ("B", "B")}, "names port `B` twice"),
        ({"required": "read"}, "is a string"),
        ({"required": [1]}, "non-empty strings"),
        ({"required": 5}, "not a set of names"),
        ({"pre": [3]}, "expected condition names or predicates"),
        ({"post": 7}, "not a set of conditions"),
    ],
)
def test_malformed_morphisms_are_refused(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"source": "A", "target": "B"}
    args.update(kwargs)
    with pytest.raises(CompositionError, match=match):
        Morphism(**args)


def test_names_do_not_affect_equality() -> None:
    assert Morphism("A", "B", {"r"}, name="x") == Morphism("A", "B", {"r"}, name="y")
    assert Morphism("A", "B", {"r"}) != Morphism("A", "B", {"w"})
    assert Morphism("A", "B") == Morphism(("A",), ("B",))


@settings(max_examples=EXAMPLES, deadline=None)
@given(f=morphisms())
def test_identity_laws(f: Morphism) -> None:
    assert compose(identity(f.source), f) == f
    assert compose(f, identity(f.target)) == f
    assert identity(f.source).required == frozenset()


@settings(max_examples=EXAMPLES, deadline=None)
@given(fgh=chains())
def test_associativity(fgh: tuple[Morphism, Morphism, Morphism]) -> None:
    f, g, h = fgh
    assert compose(compose(f, g), h) == compose(f, compose(g, h))
    assert compose_all(f, g, h) == compose(f, compose(g, h))


def _product(f: Morphism, g: Morphism) -> Morphism | None:
    try:
        return product(f, g)
    except CompositionError:
        return None


@settings(max_examples=EXAMPLES, deadline=None)
@given(f=wide_morphisms(), g=wide_morphisms(), h=wide_morphisms())
def test_product_is_commutative_and_associative_with_the_unit(
    f: Morphism, g: Morphism, h: Morphism
) -> None:
    fg = _product(f, g)
    assert (fg is not None) == disjoint(f, g)
    assert _product(g, f) == fg  # both refused, or the same morphism
    gh = _product(g, h)
    left = None if fg is None else _product(fg, h)
    right = None if gh is None else _product(f, gh)
    assert left == right
    unit = identity(())
    assert product(unit, f) == f
    assert product(f, unit) == f
    if fg is not None:
        assert identity(f.source + g.source) >> fg == fg
        assert fg >> identity(g.target + f.target) == fg
    if not set(f.source) & set(g.source):
        both = product(identity(f.source), identity(g.source))
        assert both == identity(f.source + g.source)


@settings(max_examples=EXAMPLES, deadline=None)
@given(fgh=chains(), granted=caps, other=wide_morphisms())
def test_composition_and_product_preserve_security(
    fgh: tuple[Morphism, Morphism, Morphism], granted: frozenset[str], other: Morphism
) -> None:
    f, g, _ = fgh
    if secure(f, granted) and secure(g, granted):
        assert secure(compose(f, g), granted)
    # And the converse: a composite is secure only if both parts are.
    assert secure(compose(f, g), granted) == (secure(f, granted) and secure(g, granted))
    side_by_side = _product(f, other)
    if side_by_side is not None:
        both = secure(f, granted) and secure(other, granted)
        assert secure(side_by_side, granted) == both


@settings(max_examples=EXAMPLES, deadline=None)
@given(required=caps, authority=caps)
def test_least_authority_grant(required: frozenset[str], authority: frozenset[str]) -> None:
    given_ = grant(required, authority)
    assert given_ <= required
    assert given_ <= authority
    m = Morphism("A", "B", required)
    assert secure(m, given_) == (required <= authority)


def test_secure_is_subset() -> None:
    m = Morphism("A", "B", {"read", "write"})
    assert secure(m, {"read", "write", "net"})
    assert not secure(m, {"read"})
    assert secure(identity("A"), set())


def test_holds_checks_named_and_predicate_conditions_fail_closed() -> None:
    env = {"positive": lambda s: s > 0, "small": lambda s: s < 10}

    def even(s: int) -> bool:
        return s % 2 == 0

    m = Morphism("A", "B", pre={"positive", even}, post={"small"})
    assert holds(m.pre, 4, env)
    assert not holds(m.pre, 3, env)
    assert not holds(m.pre, -2, env)
    assert holds(m.post, 9, env)
    assert holds(frozenset(), None)
    assert not holds({"positive"}, "text", env)  # the predicate raises: not holding
    assert not holds({lambda s: 1}, 0)  # type: ignore[arg-type,return-value]  # not a bool
    with pytest.raises(CompositionError, match="condition `missing` is not defined"):
        holds({"missing"}, 1, env)


def test_public_api_is_listed_and_sorted() -> None:
    import lion.kernel.compose as module

    names = module.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    assert all(hasattr(module, name) for name in names)


def test_conformance_catches_an_ordered_or_merging_product(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bind of `tensor_checked` compares whole results, object order included."""
    from pathlib import Path

    from lion.kernel import compose as kc
    from lion.spec.load import load_paths
    from lion.verify.conformance import check_bind

    (module,) = load_paths([Path(__file__).resolve().parents[2] / "spec" / "composition.lion"])
    bind = next(b for b in module.binds if b.name == "tensor_checked")
    assert check_bind(module, bind, examples=200).ok
    real = kc.product

    def merges_shared_ports(f: Morphism, g: Morphism) -> Morphism:
        return Morphism(
            frozenset(f.source) | frozenset(g.source),
            frozenset(f.target) | frozenset(g.target),
            f.required | g.required,
            f.pre | g.pre,
            f.post | g.post,
        )

    def keeps_argument_order(f: Morphism, g: Morphism) -> Morphism:
        fg = real(f, g)
        object.__setattr__(fg, "source", f.source + g.source)  # the old, ordered product
        return fg

    for bug in (merges_shared_ports, keeps_argument_order):
        monkeypatch.setattr(kc, "product", bug)
        result = check_bind(module, bind, examples=1000)
        assert not result.ok, bug.__name__
