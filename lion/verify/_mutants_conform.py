"""Conformance of a mutant's function binds on every input, when there are few."""

from __future__ import annotations

import itertools

from lion.spec import ast
from lion.verify.conformance import resolve, target_of
from lion.verify.exact import describe_pair, exact_equal
from lion.verify.interpret import Interpreter
from lion.verify.values import domain, format_value

__all__ = ["EXHAUSTIVE_LIMIT", "exhaustive"]

EXHAUSTIVE_LIMIT = 5000  # a function bind over at most this many inputs is checked on all


def exhaustive(module: ast.Module, bind: ast.Bind, backend: str) -> str | None:
    """For a function bind over a small finite domain: the first input on which the
    implementation and the (mutated) spec disagree, checked on every input, or None
    (also when the domain is too large: random conformance follows)."""
    fn = module.fns.get(bind.name)
    if fn is None:
        return None
    size = 1
    for p in fn.params:
        n = _size(p.ty)
        if n is None:
            return None
        size *= n
        if size > EXHAUSTIVE_LIMIT:
            return None
    impl = resolve(target_of(bind, backend))
    interp = Interpreter(module)
    for args in itertools.product(*(domain(p.ty) for p in fn.params)):
        expected = interp.call(fn.name, *args)
        try:
            actual = impl(*args)
        except Exception as exc:  # the implementation must be total on spec inputs
            return f"implementation raised {type(exc).__name__}: {exc}"
        if not exact_equal(actual, expected, fn.result):
            shown, spec = describe_pair(actual, expected, fn.result)
            text = ", ".join(
                f"{p.name} = {format_value(a, p.ty)}" for p, a in zip(fn.params, args, strict=True)
            )
            return f"spec gives {spec}, implementation gives {shown} on {text}"
    return None


def _size(ty: ast.Type) -> int | None:
    """How many values `ty` has, when that is small enough to enumerate; else None."""
    if isinstance(ty, ast.BoolType):
        return 2
    if isinstance(ty, ast.EnumType):
        return len(ty.variants)
    if isinstance(ty, ast.IntType):
        return None if ty.lo is None or ty.hi is None else ty.hi - ty.lo + 1
    if isinstance(ty, ast.OptionType):
        n = _size(ty.elem)
        return None if n is None else n + 1
    if isinstance(ty, ast.SetType):
        n = _size(ty.elem)
        return None if n is None or n > 12 else 2**n
    if isinstance(ty, ast.RecordType):
        total = 1
        for _, t in ty.fields:
            n = _size(t)
            if n is None or total * n > EXHAUSTIVE_LIMIT:
                return None
            total *= n
        return total
    return None  # maps, strings, unbounded ints: drawn at random
