"""Hypothesis strategies derived from spec types.

Public API: users reuse these to property-test their own policies and
capabilities against the spec. Values follow `lion.verify.values`.

Strings are opaque identifiers in the spec, so by default they are drawn from
a small pool, which makes equal identifiers (the interesting case) likely.

Ints: given the spec's numbers (`lion.verify.boundaries.spec_numbers`), half
of the draws are ``c - 1``, ``c`` or ``c + 1`` for one of them (or a bound of
the range), the other half uniform over the range ([-1000, 1000] when
unbounded): an off-by-one at a spec constant is then hit within a few dozen
examples instead of one in two thousand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from lion.spec import ast
from lion.spec.ast import (
    BoolType,
    EnumType,
    IntType,
    MapType,
    OptionType,
    RecordType,
    SeqType,
    SetType,
    StringType,
    Type,
)
from lion.verify.boundaries import near
from lion.verify.values import EnumValue, MapValue, RecordValue, domain

__all__ = ["DEFAULT_STRINGS", "args_of", "from_type", "state_of"]

DEFAULT_STRINGS = ("alice", "bob", "carol", "")
# Unbounded ints: wide enough to cross any small threshold a spec writes.
INT_RANGE = (-1000, 1000)


def from_type(
    ty: Type,
    *,
    strings: st.SearchStrategy[str] | None = None,
    numbers: Sequence[int] = (),
) -> st.SearchStrategy[Any]:
    """A strategy producing well-formed values of spec type `ty`; ints favour the
    neighbourhood of `numbers` (a spec's constants and literals) and their range's bounds."""
    text = strings if strings is not None else st.sampled_from(DEFAULT_STRINGS)
    if isinstance(ty, BoolType):
        return st.booleans()
    if isinstance(ty, IntType):
        lo = ty.lo if ty.lo is not None else INT_RANGE[0]
        hi = ty.hi if ty.hi is not None else INT_RANGE[1]
        uniform = st.integers(lo, hi)
        edges = near(list(numbers), ty) if numbers or ty.bounded else []
        # Uniform first: shrinking moves towards the first branch, whose values
        # shrink towards zero, so a failure still shrinks to its smallest input.
        return st.one_of(uniform, st.sampled_from(edges)) if edges else uniform
    if isinstance(ty, StringType):
        return text
    if isinstance(ty, EnumType):
        return st.sampled_from([EnumValue(ty.name, v) for v in ty.variants])
    if isinstance(ty, RecordType):
        names = [name for name, _ in ty.fields]
        return st.tuples(
            *[from_type(fty, strings=strings, numbers=numbers) for _, fty in ty.fields]
        ).map(lambda vs: RecordValue(ty.name, dict(zip(names, vs, strict=True))))
    if isinstance(ty, SetType):
        return st.frozensets(st.sampled_from(domain(ty.elem)))
    if isinstance(ty, SeqType):
        elem = from_type(ty.elem, strings=strings, numbers=numbers)
        return st.lists(elem, max_size=ty.bound).map(tuple)
    if isinstance(ty, MapType):
        keys = domain(ty.key)
        value = from_type(ty.value, strings=strings, numbers=numbers)
        return st.tuples(*[value for _ in keys]).map(
            lambda vs: MapValue(dict(zip(keys, vs, strict=True)))
        )
    if isinstance(ty, OptionType):
        return st.none() | from_type(ty.elem, strings=strings, numbers=numbers)
    raise TypeError(f"no strategy for `{ty}`")


def args_of(
    params: tuple[ast.Param, ...],
    *,
    strings: st.SearchStrategy[str] | None = None,
    numbers: Sequence[int] = (),
) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments for a function, action or theorem: a dict from parameter name to value,
    in parameter order (so ``*args.values()`` is a valid positional call)."""
    names = [p.name for p in params]
    return st.tuples(*[from_type(p.ty, strings=strings, numbers=numbers) for p in params]).map(
        lambda values: dict(zip(names, values, strict=True))
    )


def state_of(
    machine: ast.Machine,
    *,
    strings: st.SearchStrategy[str] | None = None,
    numbers: Sequence[int] = (),
) -> st.SearchStrategy[dict[str, Any]]:
    """An arbitrary (not necessarily reachable) state of a machine."""
    return args_of(machine.vars, strings=strings, numbers=numbers)
