"""Checked spec expressions -> Z3 terms, by symbolic evaluation.

Every spec value becomes a structured *symbolic value*:

=============  ===============================================================
bool           z3 Bool
int            z3 Int, plus a range constraint for `int[lo..hi]`
string         z3 String (only equality is used: strings are opaque ids)
enum           a constant of a z3 EnumSort
record         `RecSym`: one symbolic value per field (flattened, no datatype)
set<T>         `SetSym`: one Bool per value of the finite type T
seq<T, N>      `SeqSym`: an Int length and N symbolic T (positions >= length unused)
map<K, V>      `MapSym`: one symbolic V per value of the finite type K
option<T>      `OptSym`: a Bool "is some" and a symbolic T (ignored when none)
=============  ===============================================================

Sets and maps over finite types become fixed-size tuples, so the whole
encoding is quantifier-free; functions are inlined (they cannot recurse), and
`forall` inside expressions expands over the finite domain. `sum` and `count`
over a set are sums over its domain; `a / b` truncates towards zero, written
with SMT-LIB's Euclidean `div` (equal for a >= 0, mirrored for a < 0).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import z3

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
from lion.verify.values import EnumValue, MapValue, RecordValue, domain

__all__ = ["Encoder", "MapSym", "OptSym", "RecSym", "SeqSym", "SetSym", "Sym"]


@dataclass(frozen=True)
class RecSym:
    fields: dict[str, Any]


@dataclass(frozen=True)
class SetSym:
    bits: tuple[z3.BoolRef, ...]


@dataclass(frozen=True)
class SeqSym:
    """A sequence: `length` and one symbolic element per position.

    INVARIANT: 0 <= length <= len(items) wherever the value is well formed; `append`
    adds a position, so a `seq<T, N>` value may carry more than N (its range check,
    as for ints, is `length <= N`).
    """

    length: z3.ArithRef
    items: tuple[Any, ...]


@dataclass(frozen=True)
class MapSym:
    values: tuple[Any, ...]


@dataclass(frozen=True)
class OptSym:
    some: z3.BoolRef
    value: Any


Sym = Any  # z3.ExprRef | RecSym | SetSym | MapSym | OptSym

_ENUM_SORTS: dict[tuple[str, tuple[str, ...]], tuple[z3.SortRef, list[z3.ExprRef]]] = {}


def enum_sort(ty: EnumType) -> tuple[z3.SortRef, list[z3.ExprRef]]:
    """One z3 EnumSort per spec enum (by name and variants) for the whole process."""
    key = (ty.name, ty.variants)
    if key not in _ENUM_SORTS:
        # A distinct z3 name per key: two specs may both define an enum `State`.
        sort_name = (
            ty.name
            if not any(k[0] == ty.name for k in _ENUM_SORTS)
            else f"{ty.name}!{len(_ENUM_SORTS)}"
        )
        sort, consts = z3.EnumSort(sort_name, list(ty.variants))
        _ENUM_SORTS[key] = (sort, list(consts))
    return _ENUM_SORTS[key]


class Encoder:
    """Symbolically evaluates the expressions of one checked module."""

    def __init__(self, module: ast.Module) -> None:
        self.module = module
        self._consts: dict[str, Sym] = {}

    # ---- building symbolic values
    def fresh(self, ty: Type, name: str) -> Sym:
        """A fresh unconstrained symbolic value of type `ty`, named after `name`."""
        if isinstance(ty, BoolType):
            return z3.Bool(name)
        if isinstance(ty, IntType):
            return z3.Int(name)
        if isinstance(ty, StringType):
            return z3.String(name)
        if isinstance(ty, EnumType):
            return z3.Const(name, enum_sort(ty)[0])
        if isinstance(ty, RecordType):
            return RecSym({f: self.fresh(t, f"{name}.{f}") for f, t in ty.fields})
        if isinstance(ty, SetType):
            return SetSym(tuple(z3.Bool(f"{name}[{i}]") for i in range(len(domain(ty.elem)))))
        if isinstance(ty, MapType):
            return MapSym(
                tuple(self.fresh(ty.value, f"{name}[{i}]") for i in range(len(domain(ty.key))))
            )
        if isinstance(ty, OptionType):
            return OptSym(z3.Bool(f"{name}?"), self.fresh(ty.elem, f"{name}!"))
        if isinstance(ty, SeqType):
            return SeqSym(
                z3.Int(f"{name}#len"),
                tuple(self.fresh(ty.elem, f"{name}@{i}") for i in range(ty.bound)),
            )
        raise TypeError(f"no encoding for {ty}")

    def wf(self, ty: Type, s: Sym) -> z3.BoolRef:
        """The constraint that `s` is a well-formed value of `ty` (int ranges)."""
        if isinstance(ty, IntType):
            parts = []
            if ty.lo is not None:
                parts.append(s >= ty.lo)
            if ty.hi is not None:
                parts.append(s <= ty.hi)
            return z3.And(*parts) if parts else z3.BoolVal(True)
        if isinstance(ty, RecordType):
            return z3.And(*[self.wf(t, s.fields[f]) for f, t in ty.fields], z3.BoolVal(True))
        if isinstance(ty, MapType):
            return z3.And(*[self.wf(ty.value, v) for v in s.values], z3.BoolVal(True))
        if isinstance(ty, OptionType):
            return z3.Implies(s.some, self.wf(ty.elem, s.value))
        if isinstance(ty, SeqType):
            items = [z3.Implies(i < s.length, self.wf(ty.elem, x)) for i, x in enumerate(s.items)]
            return z3.And(s.length >= 0, s.length <= min(ty.bound, len(s.items)), *items)
        return z3.BoolVal(True)

    def const(self, value: Any, ty: Type) -> Sym:
        """The symbolic value of a concrete value."""
        if isinstance(ty, OptionType):
            if value is None:
                return OptSym(z3.BoolVal(False), self._default(ty.elem))
            return OptSym(z3.BoolVal(True), self.const(value, ty.elem))
        if isinstance(ty, BoolType):
            return z3.BoolVal(bool(value))
        if isinstance(ty, IntType):
            return z3.IntVal(int(value))
        if isinstance(ty, StringType):
            return z3.StringVal(str(value))
        if isinstance(ty, EnumType):
            return enum_sort(ty)[1][ty.variants.index(value.variant)]
        if isinstance(ty, RecordType):
            return RecSym({f: self.const(value[f], t) for f, t in ty.fields})
        if isinstance(ty, SetType):
            return SetSym(tuple(z3.BoolVal(v in value) for v in domain(ty.elem)))
        if isinstance(ty, MapType):
            return MapSym(tuple(self.const(value[k], ty.value) for k in domain(ty.key)))
        if isinstance(ty, SeqType):
            items = [self.const(v, ty.elem) for v in value]
            pad = [self._default(ty.elem) for _ in range(ty.bound - len(items))]
            return SeqSym(z3.IntVal(len(items)), (*items, *pad))
        raise TypeError(f"no encoding for {ty}")

    def _default(self, ty: Type) -> Sym:
        """Some fixed value of `ty`, used as the payload of `none`."""
        if isinstance(ty, BoolType):
            return z3.BoolVal(False)
        if isinstance(ty, IntType):
            return z3.IntVal(ty.lo if ty.lo is not None else 0)
        if isinstance(ty, StringType):
            return z3.StringVal("")
        if isinstance(ty, EnumType):
            return enum_sort(ty)[1][0]
        if isinstance(ty, RecordType):
            return RecSym({f: self._default(t) for f, t in ty.fields})
        if isinstance(ty, SetType):
            return SetSym(tuple(z3.BoolVal(False) for _ in domain(ty.elem)))
        if isinstance(ty, MapType):
            return MapSym(tuple(self._default(ty.value) for _ in domain(ty.key)))
        if isinstance(ty, OptionType):
            return OptSym(z3.BoolVal(False), self._default(ty.elem))
        if isinstance(ty, SeqType):
            return SeqSym(z3.IntVal(0), tuple(self._default(ty.elem) for _ in range(ty.bound)))
        raise TypeError(f"no encoding for {ty}")

    def _padded(self, ty: SeqType, a: SeqSym, size: int) -> tuple[Any, ...]:
        """`a`'s items filled up to `size` positions (the new ones are never read)."""
        return (*a.items, *[self._default(ty.elem) for _ in range(size - len(a.items))])

    # ---- structural operations
    def eq(self, ty: Type, a: Sym, b: Sym) -> z3.BoolRef:
        if isinstance(ty, RecordType):
            return z3.And(
                *[self.eq(t, a.fields[f], b.fields[f]) for f, t in ty.fields], z3.BoolVal(True)
            )
        if isinstance(ty, SetType):
            return z3.And(*[x == y for x, y in zip(a.bits, b.bits, strict=True)], z3.BoolVal(True))
        if isinstance(ty, MapType):
            return z3.And(
                *[self.eq(ty.value, x, y) for x, y in zip(a.values, b.values, strict=True)],
                z3.BoolVal(True),
            )
        if isinstance(ty, OptionType):
            return z3.And(a.some == b.some, z3.Implies(a.some, self.eq(ty.elem, a.value, b.value)))
        if isinstance(ty, SeqType):
            size = max(len(a.items), len(b.items))
            pairs = zip(self._padded(ty, a, size), self._padded(ty, b, size), strict=True)
            same = [
                z3.Implies(i < a.length, self.eq(ty.elem, x, y)) for i, (x, y) in enumerate(pairs)
            ]
            return z3.And(a.length == b.length, *same)
        return a == b

    def ite(self, ty: Type, c: z3.BoolRef, a: Sym, b: Sym) -> Sym:
        if isinstance(ty, RecordType):
            return RecSym({f: self.ite(t, c, a.fields[f], b.fields[f]) for f, t in ty.fields})
        if isinstance(ty, SetType):
            return SetSym(tuple(z3.If(c, x, y) for x, y in zip(a.bits, b.bits, strict=True)))
        if isinstance(ty, MapType):
            return MapSym(
                tuple(self.ite(ty.value, c, x, y) for x, y in zip(a.values, b.values, strict=True))
            )
        if isinstance(ty, OptionType):
            return OptSym(z3.If(c, a.some, b.some), self.ite(ty.elem, c, a.value, b.value))
        if isinstance(ty, SeqType):
            size = max(len(a.items), len(b.items))
            pairs = zip(self._padded(ty, a, size), self._padded(ty, b, size), strict=True)
            return SeqSym(
                z3.If(c, a.length, b.length),
                tuple(self.ite(ty.elem, c, x, y) for x, y in pairs),
            )
        return z3.If(c, a, b)

    def _key_eqs(self, key_ty: Type, key: Sym) -> list[z3.BoolRef]:
        return [self.eq(key_ty, key, self.const(v, key_ty)) for v in domain(key_ty)]

    # ---- concrete values back from a model
    def value(self, model: z3.ModelRef, ty: Type, s: Sym) -> Any:
        if isinstance(ty, OptionType):
            if not z3.is_true(model.eval(s.some, model_completion=True)):
                return None
            return self.value(model, ty.elem, s.value)
        if isinstance(ty, BoolType):
            return z3.is_true(model.eval(s, model_completion=True))
        if isinstance(ty, IntType):
            return model.eval(s, model_completion=True).as_long()
        if isinstance(ty, StringType):
            return model.eval(s, model_completion=True).as_string()
        if isinstance(ty, EnumType):
            v = model.eval(s, model_completion=True)
            consts = enum_sort(ty)[1]
            for variant, c in zip(ty.variants, consts, strict=True):
                if v.eq(c):
                    return EnumValue(ty.name, variant)
            return EnumValue(ty.name, ty.variants[0])
        if isinstance(ty, RecordType):
            return RecordValue(
                ty.name, {f: self.value(model, t, s.fields[f]) for f, t in ty.fields}
            )
        if isinstance(ty, SetType):
            return frozenset(
                v
                for v, bit in zip(domain(ty.elem), s.bits, strict=True)
                if z3.is_true(model.eval(bit, model_completion=True))
            )
        if isinstance(ty, MapType):
            return MapValue(
                {
                    k: self.value(model, ty.value, v)
                    for k, v in zip(domain(ty.key), s.values, strict=True)
                }
            )
        if isinstance(ty, SeqType):
            n = model.eval(s.length, model_completion=True).as_long()
            return tuple(self.value(model, ty.elem, x) for x in s.items[: max(0, n)])
        raise TypeError(f"no encoding for {ty}")

    # ---- expressions
    def enc(
        self, e: ast.Expr, env: Mapping[str, Sym], state: Mapping[str, Sym] | None = None
    ) -> Sym:
        st = state or {}
        if isinstance(e, ast.Lit):
            assert e.ty is not None
            return self.const(e.value, e.ty)
        if isinstance(e, ast.Var):
            if e.kind == "local":
                return env[e.name]
            if e.kind == "state":
                return st[e.name]
            return self._const(e.name)
        if isinstance(e, ast.EnumValueLit):
            assert isinstance(e.ty, EnumType)
            return self.const(EnumValue(e.enum, e.variant), e.ty)
        if isinstance(e, ast.Binary):
            return self._binary(e, env, st)
        if isinstance(e, ast.Unary):
            v = self.enc(e.operand, env, st)
            return z3.Not(v) if e.op == "not" else -v
        if isinstance(e, ast.If):
            assert e.ty is not None
            return self.ite(
                e.ty,
                self.enc(e.cond, env, st),
                self.enc(e.then, env, st),
                self.enc(e.orelse, env, st),
            )
        if isinstance(e, ast.Let):
            return self.enc(e.body, {**env, e.name: self.enc(e.value, env, st)}, st)
        if isinstance(e, ast.Field):
            return self.enc(e.target, env, st).fields[e.name]
        if isinstance(e, ast.Index):
            if isinstance(e.target.ty, SeqType):
                return self._seq_at(
                    e.target.ty, self.enc(e.target, env, st), self.enc(e.key, env, st)
                )
            return self._lookup(e.target, e.key, env, st)
        if isinstance(e, ast.Call):
            return self._call(e, env, st)
        if isinstance(e, ast.NoneLit):
            assert isinstance(e.ty, OptionType)
            return self.const(None, e.ty)
        if isinstance(e, ast.SomeLit):
            return OptSym(z3.BoolVal(True), self.enc(e.value, env, st))
        if isinstance(e, ast.SetLit):
            assert isinstance(e.ty, SetType)
            items = [self.enc(i, env, st) for i in e.items]
            elem = e.ty.elem
            return SetSym(
                tuple(
                    z3.Or(
                        *[self.eq(elem, item, self.const(v, elem)) for item in items],
                        z3.BoolVal(False),
                    )
                    for v in domain(elem)
                )
            )
        if isinstance(e, ast.SeqLit):
            assert isinstance(e.ty, SeqType)
            items = [self.enc(i, env, st) for i in e.items]
            pad = [self._default(e.ty.elem) for _ in range(e.ty.bound - len(items))]
            return SeqSym(z3.IntVal(len(items)), (*items, *pad))
        if isinstance(e, ast.Aggregate):
            return self._aggregate(e, env, st)
        if isinstance(e, ast.RecordLit):
            return RecSym({n: self.enc(x, env, st) for n, x in e.fields})
        if isinstance(e, ast.RecordUpdate):
            base = self.enc(e.target, env, st)
            return RecSym({**base.fields, **{n: self.enc(x, env, st) for n, x in e.fields}})
        if isinstance(e, ast.MapUpdate):
            assert isinstance(e.ty, MapType)
            base = self.enc(e.target, env, st)
            key = self.enc(e.key, env, st)
            value = self.enc(e.value, env, st)
            return MapSym(
                tuple(
                    self.ite(e.ty.value, hit, value, old)
                    for hit, old in zip(self._key_eqs(e.ty.key, key), base.values, strict=True)
                )
            )
        if isinstance(e, ast.Match):
            return self._match(e, env, st)
        if isinstance(e, ast.Quant):
            return self._quant(e, env, st)
        raise TypeError(f"cannot encode unchecked node {type(e).__name__}")

    def _const(self, name: str) -> Sym:
        if name not in self._consts:
            self._consts[name] = self.enc(self.module.consts[name].value, {})
        return self._consts[name]

    def _lookup(
        self, target: ast.Expr, key_e: ast.Expr, env: Mapping[str, Sym], st: Mapping[str, Sym]
    ) -> Sym:
        assert isinstance(target.ty, MapType)
        m = self.enc(target, env, st)
        key = self.enc(key_e, env, st)
        hits = self._key_eqs(target.ty.key, key)
        result = m.values[-1]
        for hit, v in zip(reversed(hits[:-1]), reversed(m.values[:-1]), strict=True):
            result = self.ite(target.ty.value, hit, v, result)
        return result

    def _binary(self, e: ast.Binary, env: Mapping[str, Sym], st: Mapping[str, Sym]) -> Sym:
        op = e.op
        left = self.enc(e.left, env, st)
        right = self.enc(e.right, env, st)
        if op == "and":
            return z3.And(left, right)
        if op == "or":
            return z3.Or(left, right)
        if op == "implies":
            return z3.Implies(left, right)
        if op == "iff":
            return left == right
        if op in ("==", "!="):
            assert e.left.ty is not None
            same = self.eq(e.left.ty, left, right)
            return same if op == "==" else z3.Not(same)
        if op == "<":
            return left < right
        if op == "<=":
            return left <= right
        if op == ">":
            return left > right
        if op == ">=":
            return left >= right
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if op in ("/", "%"):
            # SMT-LIB `div` is Euclidean; it truncates for a >= 0, so mirror a < 0.
            q = z3.If(left >= 0, left / right, -((-left) / right))
            return q if op == "/" else left - right * q
        if op == "in" and isinstance(e.right.ty, SeqType):
            elem = e.right.ty.elem
            return z3.Or(
                *[
                    z3.And(i < right.length, self.eq(elem, left, x))
                    for i, x in enumerate(right.items)
                ],
                z3.BoolVal(False),
            )
        if op == "in":
            assert isinstance(e.right.ty, SetType)
            elem = e.right.ty.elem
            return z3.Or(
                *[
                    z3.And(hit, bit)
                    for hit, bit in zip(self._key_eqs(elem, left), right.bits, strict=True)
                ],
                z3.BoolVal(False),
            )
        if op == "subset":
            return z3.And(
                *[z3.Implies(a, b) for a, b in zip(left.bits, right.bits, strict=True)],
                z3.BoolVal(True),
            )
        pairs = zip(left.bits, right.bits, strict=True)
        if op == "union":
            return SetSym(tuple(z3.Or(a, b) for a, b in pairs))
        if op == "inter":
            return SetSym(tuple(z3.And(a, b) for a, b in pairs))
        if op == "minus":
            return SetSym(tuple(z3.And(a, z3.Not(b)) for a, b in pairs))
        raise TypeError(f"unknown operator {op}")

    def _call(self, e: ast.Call, env: Mapping[str, Sym], st: Mapping[str, Sym]) -> Sym:
        args = [self.enc(a, env, st) for a in e.args]
        if not e.builtin:
            fn = self.module.fns[e.fn]
            return self.enc(fn.body, {p.name: a for p, a in zip(fn.params, args, strict=True)})
        if e.fn == "card":
            return z3.Sum(*[z3.If(b, 1, 0) for b in args[0].bits], z3.IntVal(0))
        if e.fn == "is_some":
            return args[0].some
        if e.fn == "is_none":
            return z3.Not(args[0].some)
        if e.fn == "fill":
            assert isinstance(e.ty, MapType)
            return MapSym(tuple(args[0] for _ in domain(e.ty.key)))
        if e.fn == "len":
            return args[0].length
        if e.fn == "append":
            assert isinstance(e.ty, SeqType)
            s, x = args
            items = tuple(
                self.ite(e.ty.elem, s.length == i, x, old) for i, old in enumerate(s.items)
            )
            return SeqSym(s.length + 1, (*items, x))
        a, b = args
        if e.fn == "min":
            return z3.If(a <= b, a, b)
        return z3.If(a >= b, a, b)

    def _match(self, e: ast.Match, env: Mapping[str, Sym], st: Mapping[str, Sym]) -> Sym:
        assert e.ty is not None
        subject = self.enc(e.subject, env, st)
        sty = e.subject.ty
        # Build the ite chain from the last arm backwards.
        result: Sym = None
        for arm in reversed(e.arms):
            if arm.kind == "some":
                assert isinstance(sty, OptionType)
                body = self.enc(arm.body, {**env, arm.names[0]: subject.value}, st)
                cond = subject.some
            else:
                body = self.enc(arm.body, env, st)
                if arm.kind == "wildcard":
                    cond = z3.BoolVal(True)
                elif arm.kind == "none":
                    cond = z3.Not(subject.some)
                else:
                    assert isinstance(sty, EnumType)
                    cond = z3.Or(
                        *[subject == self.const(EnumValue(sty.name, n), sty) for n in arm.names]
                    )
            result = body if result is None else self.ite(e.ty, cond, body, result)
        return result

    def _quant(self, e: ast.Quant, env: Mapping[str, Sym], st: Mapping[str, Sym]) -> Sym:
        combos = itertools.product(*(domain(b.ty) for b in e.binders))
        terms = []
        for combo in combos:
            inner = dict(env)
            for b, v in zip(e.binders, combo, strict=True):
                inner[b.name] = self.const(v, b.ty)
            terms.append(self.enc(e.body, inner, st))
        if e.kind == "forall":
            return z3.And(*terms, z3.BoolVal(True))
        return z3.Or(*terms, z3.BoolVal(False))

    def _seq_at(self, ty: SeqType, s: SeqSym, i: z3.ArithRef) -> OptSym:
        """`s[i]`: some element when 0 <= i < length, else none."""
        if not s.items:
            return OptSym(z3.BoolVal(False), self._default(ty.elem))
        value = s.items[-1]
        for j in range(len(s.items) - 2, -1, -1):
            value = self.ite(ty.elem, i == j, s.items[j], value)
        return OptSym(z3.And(i >= 0, i < s.length), value)

    def _aggregate(self, e: ast.Aggregate, env: Mapping[str, Sym], st: Mapping[str, Sym]) -> Sym:
        assert isinstance(e.source.ty, SetType)
        elem = e.source.ty.elem
        bits = self.enc(e.source, env, st).bits
        terms = []
        for v, bit in zip(domain(elem), bits, strict=True):
            if e.body is None:  # sum(s): the elements themselves
                terms.append(z3.If(bit, z3.IntVal(v), 0))
                continue
            body = self.enc(e.body, {**env, e.var: self.const(v, elem)}, st)
            if e.kind == "count":
                terms.append(z3.If(z3.And(bit, body), 1, 0))
            else:
                terms.append(z3.If(bit, body, 0))
        return z3.Sum(*terms, z3.IntVal(0))
