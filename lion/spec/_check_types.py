"""Type relations the checker uses: finiteness, compatibility, join."""

from __future__ import annotations

from lion.spec.ast import (
    BoolType,
    EnumType,
    IntType,
    OptionType,
    RecordType,
    SeqType,
    Type,
)

__all__ = ["MAX_DOMAIN", "MAX_SEQ", "compatible", "domain_size", "is_finite", "join"]

# The largest finite type a set, map key or inner quantifier may range over.
MAX_DOMAIN = 256
# The largest bound of a `seq<T, N>`: Z3 holds one symbolic element per position.
MAX_SEQ = 64


def domain_size(ty: Type) -> int | None:
    """Number of values of a finite type, or None if the type is infinite."""
    if isinstance(ty, BoolType):
        return 2
    if isinstance(ty, EnumType):
        return len(ty.variants)
    if isinstance(ty, IntType):
        return None if ty.lo is None or ty.hi is None else ty.hi - ty.lo + 1
    if isinstance(ty, OptionType):
        inner = domain_size(ty.elem)
        return None if inner is None else inner + 1
    if isinstance(ty, RecordType):
        total = 1
        for _, fty in ty.fields:
            size = domain_size(fty)
            if size is None:
                return None
            total *= size
            if total > 1 << 20:
                return total
        return total
    return None


def is_finite(ty: Type) -> bool:
    size = domain_size(ty)
    return size is not None and size <= MAX_DOMAIN


def compatible(actual: Type, expected: Type) -> bool:
    """May a value of type `actual` stand where `expected` is wanted?

    Integers are compatible at the top level whatever their bounds, and so are
    sequences whatever their length bounds, of one element type or of ints (a
    bound is a range obligation, checked when a value is stored); inside other
    containers the element types must match exactly, since they fix the encoding.
    """
    if isinstance(actual, IntType) and isinstance(expected, IntType):
        return True
    if isinstance(actual, SeqType) and isinstance(expected, SeqType):
        # Elements are checked when stored too (an int in a seq is a z3 Int whatever its
        # range), so the element ints may differ in range as well.
        both_int = isinstance(actual.elem, IntType) and isinstance(expected.elem, IntType)
        return both_int or actual.elem == expected.elem
    return actual == expected


def join(a: Type | None, b: Type | None) -> Type:
    """The type of a value that is either an `a` or a `b` (the branches of an `if`)."""
    assert a is not None and b is not None
    if a == b:
        return a
    if isinstance(a, IntType) and isinstance(b, IntType):
        if a.bounded and b.bounded:
            assert a.lo is not None and b.lo is not None
            assert a.hi is not None and b.hi is not None
            return IntType(min(a.lo, b.lo), max(a.hi, b.hi))
        return IntType()
    if isinstance(a, SeqType) and isinstance(b, SeqType) and compatible(a, b):
        return SeqType(join(a.elem, b.elem), max(a.bound, b.bound))
    return a
