"""Checker rules for `* / %`, `seq<T, N>` and `sum`/`count` (mixed into the checker).

Arithmetic: `*`, `/` and `%` take and give unbounded `int`, as `+` and `-`
do; a bounded slot that receives the result checks its range when the value
is stored (the interpreter raises, a machine's `M.ranges` obligation proves
it). Division truncates towards zero, as Rust's does, and `%` takes the sign
of the dividend. A divisor must be nonzero by its type or by the conditions
it is evaluated under: the checker computes the interval of every divisor
from the declared ranges of what it reads (`interval`), narrows it by the
comparisons with a literal that hold there (`if d != 0 then x / d`, `d > 0
and x / d > 1`: the `facts`), and rejects a division whose divisor may still
be 0.

Sequences: `seq<T, N>` holds at most N elements. Like an int range, the
bound is checked when a value is stored, so `append(s, x)` on a
`seq<T, N>` has type `seq<T, N + 1>`. `s[i]` is `some(element)` or `none`
when `i` is out of bounds, so indexing is total.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from lion.errors import SpecError
from lion.spec import ast
from lion.spec._check_types import MAX_SEQ, domain_size, is_finite
from lion.spec.ast import BoolType, IntType, OptionType, SeqType, SetType, Type

__all__ = ["SEQ_BUILTINS", "Fact", "Interval", "LanguageRules", "interval"]

SEQ_BUILTINS = ("len", "append", "sum", "count")

Interval = tuple[int | None, int | None]  # inclusive; None is unbounded on that side
# A checked bool expression known to be true (or false), and the scope it was checked in.
Fact = tuple[ast.Expr, bool, Mapping[str, Any]]

_FLIP = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
_MIRROR = {"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}

_INT = IntType()
_BOOL = BoolType()


class _Host(Protocol):
    """What the rules need from the checker they are mixed into."""

    facts: list[Fact]

    def error(self, message: str, pos: ast.Pos) -> SpecError: ...

    def infer(self, e: ast.Expr, env: Mapping[str, Any], want: Type | None = None) -> ast.Expr: ...

    def expect(self, e: ast.Expr, ty: Type, env: Mapping[str, Any]) -> ast.Expr: ...

    def local(self, ty: Type) -> Any: ...

    def const_value(self, name: str) -> ast.Expr | None: ...


class LanguageRules:
    @contextlib.contextmanager
    def assuming(
        self: _Host, cond: ast.Expr, holds: bool, env: Mapping[str, Any], *, active: bool = True
    ) -> Iterator[None]:
        """Check what is inside the block knowing that `cond` is `holds` there."""
        if active:
            self.facts.append((cond, holds, env))
        try:
            yield
        finally:
            if active:
                self.facts.pop()

    def arith(self: _Host, e: ast.Binary, env: Mapping[str, Any]) -> ast.Expr:
        left = self.expect(e.left, _INT, env)
        right = self.expect(e.right, _INT, env)
        if e.op in ("/", "%"):
            lo, hi = interval(right, self.const_value)
            for known in _known(right, self.facts, env):
                if known is None:  # `d != 0` holds here
                    lo = hi = 1
                    break
                lo, hi = _meet((lo, hi), known)
            if not ((lo is not None and lo > 0) or (hi is not None and hi < 0)):
                shown = f"[{_show(lo, '-inf')}, {_show(hi, 'inf')}]"
                raise self.error(
                    f"`{e.op}` may divide by zero: the divisor may be anything in {shown}; "
                    "give it a range without 0 (`int[1..9]`) or divide by `max(d, 1)`",
                    e.right.pos,
                )
        return ast.Binary(e.op, left, right, e.pos, _INT)

    def set_lit(self: _Host, e: ast.SetLit, env: Mapping[str, Any], want: Type | None) -> ast.Expr:
        if isinstance(want, SetType):
            items = tuple(self.expect(i, want.elem, env) for i in e.items)
            return ast.SetLit(items, e.pos, want)
        if not e.items:
            raise self.error(
                "cannot tell the type of `{}` here; it needs a set type from its context", e.pos
            )
        first = self.infer(e.items[0], env)
        assert first.ty is not None
        elem = first.ty
        if not is_finite(elem):
            raise self.error(
                f"set elements must have a finite type, `{elem}` is not "
                "(an integer literal set needs a bounded int type from its context)",
                e.pos,
            )
        rest = tuple(self.expect(i, elem, env) for i in e.items[1:])
        return ast.SetLit((first, *rest), e.pos, SetType(elem))

    def seq_type(self: _Host, elem: Type, bound: int, pos: ast.Pos) -> Type:
        if not 0 < bound <= MAX_SEQ:
            raise self.error(f"a seq bound must be between 1 and {MAX_SEQ}, got {bound}", pos)
        if isinstance(elem, OptionType):
            raise self.error(
                "`seq<option<T>, N>` is not allowed (`s[i]` is already an option): use an enum",
                pos,
            )
        return SeqType(elem, bound)

    def seq_lit(self: _Host, e: ast.SeqLit, env: Mapping[str, Any], want: Type | None) -> ast.Expr:
        if isinstance(want, SeqType):
            items = tuple(self.expect(i, want.elem, env) for i in e.items)
            # More items than the bound: a range check where the value is stored, as for
            # `append` (a comparison `s == [a, b, c]` stores nothing).
            return ast.SeqLit(items, e.pos, SeqType(want.elem, max(want.bound, len(items))))
        if not e.items:
            raise self.error(
                "cannot tell the type of `[]` here; it needs a seq type from its context", e.pos
            )
        first = self.infer(e.items[0], env)
        assert first.ty is not None
        rest = tuple(self.expect(i, first.ty, env) for i in e.items[1:])
        ty = SeqType(first.ty, len(e.items))
        if isinstance(first.ty, OptionType):
            raise self.error("a seq of options is not allowed: use an enum", e.pos)
        return ast.SeqLit((first, *rest), e.pos, ty)

    def seq_index(self: _Host, e: ast.Index, target: ast.Expr, env: Mapping[str, Any]) -> ast.Expr:
        assert isinstance(target.ty, SeqType)
        key = self.expect(e.key, _INT, env)
        return ast.Index(target, key, e.pos, OptionType(target.ty.elem))

    def seq_call(
        self: _Host, e: ast.Call, env: Mapping[str, Any], want: Type | None = None
    ) -> ast.Expr:
        """`len(s)`, `append(s, x)`, `sum(s)`, `sum(x in s, e)`, `count(x in s, p)`."""
        if e.fn in ("sum", "count") and len(e.args) == 2:
            return LanguageRules.aggregate(self, e, env)
        if e.fn == "count" or len(e.args) != (2 if e.fn == "append" else 1):
            usage = {
                "len": "`len(s)`",
                "append": "`append(s, x)`",
                "sum": "`sum(s)` or `sum(x in s, e)`",
                "count": "`count(x in s, p)`",
            }[e.fn]
            raise self.error(f"`{e.fn}` is written {usage}", e.pos)
        arg = self.infer(e.args[0], env, want if e.fn == "append" else None)
        if e.fn == "sum":
            if not (isinstance(arg.ty, SetType) and isinstance(arg.ty.elem, IntType)):
                raise self.error(f"`sum(s)` needs a set of ints, found `{arg.ty}`", e.pos)
            return ast.Aggregate("sum", "", arg, None, e.pos, _INT)
        if not isinstance(arg.ty, SeqType):
            raise self.error(f"`{e.fn}` needs a seq, found `{arg.ty}`", e.pos)
        if e.fn == "len":
            return ast.Call("len", (arg,), e.pos, _INT, builtin=True)
        item = self.expect(e.args[1], arg.ty.elem, env)
        grown = SeqType(arg.ty.elem, arg.ty.bound + 1)
        return ast.Call("append", (arg, item), e.pos, grown, builtin=True)

    def aggregate(self: _Host, e: ast.Call, env: Mapping[str, Any]) -> ast.Expr:
        head, body = e.args
        if not (
            isinstance(head, ast.Binary) and head.op == "in" and isinstance(head.left, ast.Name)
        ):
            raise self.error(
                f"`{e.fn}` over a set is written `{e.fn}(x in s, ...)`: a name, `in`, a set",
                e.pos,
            )
        source = self.infer(head.right, env)
        if not isinstance(source.ty, SetType):
            raise self.error(f"`{e.fn}(x in s, ...)` needs a set, found `{source.ty}`", e.pos)
        assert is_finite(source.ty.elem)
        inner = {**env, head.left.name: self.local(source.ty.elem)}
        checked = self.expect(body, _INT if e.fn == "sum" else _BOOL, inner)
        return ast.Aggregate(e.fn, head.left.name, source, checked, e.pos, _INT)


def _strip(e: Any) -> Any:
    """`e` without positions, so that two occurrences of one expression compare equal."""
    if isinstance(e, tuple):
        return tuple(_strip(x) for x in e)
    if dataclasses.is_dataclass(e) and not isinstance(e, type):
        return (
            type(e).__name__,
            tuple(_strip(getattr(e, f.name)) for f in dataclasses.fields(e) if f.name != "pos"),
        )
    return e


def _vars(e: Any) -> Iterator[str]:
    if isinstance(e, ast.Var) and e.kind in ("local", "state"):
        yield e.name
    elif isinstance(e, tuple):
        for x in e:
            yield from _vars(x)
    elif dataclasses.is_dataclass(e) and not isinstance(e, type):
        for f in dataclasses.fields(e):
            yield from _vars(getattr(e, f.name))


def _known(
    divisor: ast.Expr, facts: list[Fact], env: Mapping[str, Any]
) -> Iterator[Interval | None]:
    """What the facts in force say about `divisor`: an interval, or None for `!= 0`.

    A fact counts only if every variable it reads still means what it meant there
    (a `let` or a quantifier in between may have rebound the name)."""
    target = _strip(divisor)
    for fact, holds, scope in facts:
        if all(env.get(n) is scope.get(n) for n in _vars(fact)):
            yield from _compare(fact, holds, target)


def _compare(fact: ast.Expr, holds: bool, target: Any) -> Iterator[Interval | None]:
    if isinstance(fact, ast.Unary) and fact.op == "not":
        yield from _compare(fact.operand, not holds, target)
        return
    if not isinstance(fact, ast.Binary):
        return
    if (fact.op == "and" and holds) or (fact.op == "or" and not holds):
        yield from _compare(fact.left, holds, target)
        yield from _compare(fact.right, holds, target)
        return
    if fact.op not in _FLIP:
        return
    op = fact.op if holds else _FLIP[fact.op]
    left, right = fact.left, fact.right
    if _strip(right) == target:
        left, right, op = right, left, _MIRROR[op]
    if _strip(left) != target or not isinstance(right, ast.Lit):
        return
    c = right.value
    if not isinstance(c, int) or isinstance(c, bool):
        return
    if op == "!=":
        if c == 0:
            yield None
    elif op == "==":
        yield (c, c)
    elif op == "<":
        yield (None, c - 1)
    elif op == "<=":
        yield (None, c)
    elif op == ">":
        yield (c + 1, None)
    else:
        yield (c, None)


def _members(ty: Type | None) -> int | None:
    """The most elements a set of type `ty` can have."""
    return domain_size(ty.elem) if isinstance(ty, SetType) else None


def _show(bound: int | None, unbounded: str) -> str:
    return unbounded if bound is None else str(bound)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def interval(e: ast.Expr, const_value: Any, lets: Mapping[str, Interval] | None = None) -> Interval:
    """Bounds on the value of a checked int expression, from the declared ranges of what
    it reads (a value in a typed slot is always within its range: the interpreter checks
    every store). Sound, not tight; None on a side means no bound is known."""
    lets = lets or {}

    def of_type(ty: Type | None) -> Interval:
        if isinstance(ty, IntType):
            return (ty.lo, ty.hi)
        return (None, None)

    def go(x: ast.Expr, scope: Mapping[str, Interval]) -> Interval:
        if isinstance(x, ast.Lit) and isinstance(x.value, int) and not isinstance(x.value, bool):
            return (x.value, x.value)
        if isinstance(x, ast.Var):
            if x.kind == "local" and x.name in scope:
                return scope[x.name]
            if x.kind == "const":
                value = const_value(x.name)
                if value is not None:
                    return _meet(go(value, {}), of_type(x.ty))
            return of_type(x.ty)
        if isinstance(x, ast.Unary) and x.op == "-":
            lo, hi = go(x.operand, scope)
            return (None if hi is None else -hi, None if lo is None else -lo)
        if isinstance(x, ast.Binary) and x.op in ("+", "-", "*", "/", "%"):
            return _binary(x.op, go(x.left, scope), go(x.right, scope))
        if isinstance(x, ast.If):
            return _hull(go(x.then, scope), go(x.orelse, scope))
        if isinstance(x, ast.Let):
            return go(x.body, {**scope, x.name: go(x.value, scope)})
        if isinstance(x, ast.Call) and x.builtin and x.fn in ("min", "max"):
            (alo, ahi), (blo, bhi) = go(x.args[0], scope), go(x.args[1], scope)
            if x.fn == "min":
                return (_opt(min, alo, blo, none_wins=True), _opt(min, ahi, bhi))
            return (_opt(max, alo, blo), _opt(max, ahi, bhi, none_wins=True))
        if isinstance(x, ast.Call) and x.builtin and x.fn == "len":
            arg_ty = x.args[0].ty
            return (0, arg_ty.bound if isinstance(arg_ty, SeqType) else None)
        if isinstance(x, ast.Call) and x.builtin and x.fn == "card":
            return (0, _members(x.args[0].ty))
        if isinstance(x, ast.Aggregate) and x.kind == "count":
            return (0, _members(x.source.ty))
        return of_type(x.ty)

    return go(e, lets)


def _opt(f: Any, a: int | None, b: int | None, *, none_wins: bool = False) -> int | None:
    """min/max of two bounds where None is unbounded: for a lower bound of `min` (or an
    upper bound of `max`) an unbounded side stays unbounded (`none_wins`)."""
    if a is None or b is None:
        if none_wins:
            return None
        return b if a is None else a
    result: int = f(a, b)
    return result


def _hull(a: Interval, b: Interval) -> Interval:
    lo = None if a[0] is None or b[0] is None else min(a[0], b[0])
    hi = None if a[1] is None or b[1] is None else max(a[1], b[1])
    return (lo, hi)


def _meet(a: Interval, b: Interval) -> Interval:
    lo = a[0] if b[0] is None else b[0] if a[0] is None else max(a[0], b[0])
    hi = a[1] if b[1] is None else b[1] if a[1] is None else min(a[1], b[1])
    return (lo, hi)


def _binary(op: str, a: Interval, b: Interval) -> Interval:
    if op == "+":
        return (
            None if a[0] is None or b[0] is None else a[0] + b[0],
            None if a[1] is None or b[1] is None else a[1] + b[1],
        )
    if op == "-":
        return (
            None if a[0] is None or b[1] is None else a[0] - b[1],
            None if a[1] is None or b[0] is None else a[1] - b[0],
        )
    if None in a or None in b:
        if op == "%" and None not in b:
            # |a % b| < |b| whatever a is
            m = max(abs(b[0] or 0), abs(b[1] or 0)) - 1
            return (-m, m)
        return (None, None)
    alo, ahi = a
    blo, bhi = b
    assert alo is not None and ahi is not None and blo is not None and bhi is not None
    if op == "*":
        corners = [x * y for x in (alo, ahi) for y in (blo, bhi)]
        return (min(corners), max(corners))
    if blo <= 0 <= bhi:
        return (None, None)  # the checker rejects such a divisor; nothing to say here
    if op == "/":
        # Truncating division is monotone in each argument over a box whose divisor side
        # does not contain 0, so its extremes are at the corners.
        corners = [_trunc_div(x, y) for x in (alo, ahi) for y in (blo, bhi)]
        return (min(corners), max(corners))
    m = max(abs(blo), abs(bhi)) - 1  # `%`: |r| < |b|, |r| <= |a|, sign of a
    lo = 0 if alo >= 0 else max(alo, -m)
    hi = 0 if ahi <= 0 else min(ahi, m)
    return (lo, hi)
