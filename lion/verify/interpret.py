"""The executable semantics of a checked spec: evaluate functions, expressions and
machine steps on concrete values (see `lion.verify.values` for the representation).

This is the oracle the kernel implementations are checked against, so it is
kept as direct as possible: one case per construct, no optimisation tricks.
Every evaluation terminates: functions cannot recurse and quantifiers range
over finite types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lion.errors import SourceLocation, SpecEvaluationError
from lion.spec import ast
from lion.spec.ast import IntType, MapType, OptionType, RecordType, SeqType, SetType, Type
from lion.verify.values import EnumValue, MapValue, RecordValue, domain

__all__ = ["Interpreter", "State", "conforms", "trunc_div", "trunc_mod"]

State = dict[str, Any]


def conforms(value: Any, ty: Type) -> bool:
    """Is `value` a well-formed value of spec type `ty` (including int ranges)?"""
    if isinstance(ty, OptionType):
        return value is None or conforms(value, ty.elem)
    if isinstance(ty, ast.BoolType):
        return isinstance(value, bool)
    if isinstance(ty, IntType):
        if not isinstance(value, int) or isinstance(value, bool):
            return False
        return (ty.lo is None or value >= ty.lo) and (ty.hi is None or value <= ty.hi)
    if isinstance(ty, ast.StringType):
        return isinstance(value, str)
    if isinstance(ty, ast.EnumType):
        return (
            isinstance(value, EnumValue) and value.enum == ty.name and value.variant in ty.variants
        )
    if isinstance(ty, RecordType):
        return (
            isinstance(value, RecordValue)
            and value.record == ty.name
            and set(value) == {n for n, _ in ty.fields}
            and all(conforms(value[n], t) for n, t in ty.fields)
        )
    if isinstance(ty, SetType):
        return isinstance(value, frozenset) and all(conforms(v, ty.elem) for v in value)
    if isinstance(ty, SeqType):
        return (
            isinstance(value, tuple)
            and len(value) <= ty.bound
            and all(conforms(v, ty.elem) for v in value)
        )
    if isinstance(ty, MapType):
        keys = domain(ty.key)
        return (
            isinstance(value, MapValue)
            and len(value) == len(keys)
            and all(k in value and conforms(value[k], ty.value) for k in keys)
        )
    return False


def trunc_div(a: int, b: int) -> int:
    """`a / b` in the spec language: truncated towards zero (Rust's `/`, not Python's `//`)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def trunc_mod(a: int, b: int) -> int:
    """`a % b`: the remainder of `trunc_div`, with the sign of `a` (Rust's `%`)."""
    return a - b * trunc_div(a, b)


MEMO_SIZE = 200_000  # remembered function calls per interpreter


class Interpreter:
    """Evaluates the definitions of one checked module (and those it imports)."""

    def __init__(self, module: ast.Module) -> None:
        self.module = module
        self._consts: dict[str, Any] = {}
        # Spec functions are pure and values hashable, so calls can be remembered.
        self._memo: dict[tuple[str, tuple[Any, ...]], Any] = {}

    # ---- errors
    def _fail(self, message: str, pos: ast.Pos) -> SpecEvaluationError:
        lines = self.module.source.splitlines()
        text = lines[pos.line - 1] if 0 < pos.line <= len(lines) else ""
        return SpecEvaluationError(
            message, SourceLocation(self.module.path, pos.line, pos.column, text)
        )

    def _store(self, value: Any, ty: Type, what: str, pos: ast.Pos) -> Any:
        """Check a value entering a typed slot; only int ranges can actually fail."""
        if isinstance(ty, IntType) and ty.bounded and not conforms(value, ty):
            raise self._fail(f"{what} is {value}, outside `{ty}`", pos)
        if isinstance(ty, SeqType) and not conforms(value, ty):
            if len(value) > ty.bound:
                raise self._fail(
                    f"{what} has {len(value)} elements, more than the bound of `{ty}`", pos
                )
            raise self._fail(f"{what} is {value}, outside `{ty}`", pos)
        return value

    # ---- public entry points
    def call(self, name: str, *args: Any) -> Any:
        """Call spec function `name` on concrete arguments."""
        fn = self.module.fns.get(name)
        if fn is None:
            raise KeyError(f"no function `{name}` in {self.module.path}")
        return self._call(fn, list(args), fn.pos)

    def const(self, name: str) -> Any:
        if name not in self._consts:
            c = self.module.consts[name]
            self._consts[name] = self._store(
                self.eval(c.value, {}), c.ty, f"constant `{name}`", c.pos
            )
        return self._consts[name]

    def holds(self, theorem: ast.Theorem, values: Mapping[str, Any]) -> bool:
        """Does the theorem's body hold for these values of its variables?"""
        return bool(self.eval(theorem.body, dict(values)))

    def invariant_holds(self, invariant: ast.Invariant, state: Mapping[str, Any]) -> bool:
        return bool(self.eval(invariant.body, {}, state))

    def init(self, machine: str, *args: Any) -> State | None:
        """The initial state of `machine`, or None if init's `requires` fails."""
        m = self.module.machines[machine]
        return self._apply(m, m.init, {}, list(args))

    def step(self, machine: str, action: str, state: Mapping[str, Any], *args: Any) -> State | None:
        """The state after `action`, or None when its guard does not hold (not enabled)."""
        m = self.module.machines[machine]
        for a in m.actions:
            if a.name == action:
                return self._apply(m, a, dict(state), list(args))
        raise KeyError(f"machine `{machine}` has no action `{action}`")

    def enabled(self, machine: str, action: str, state: Mapping[str, Any], *args: Any) -> bool:
        return self.step(machine, action, state, *args) is not None

    # ---- machinery
    def _apply(self, m: ast.Machine, a: ast.Action, state: State, args: list[Any]) -> State | None:
        if len(args) != len(a.params):
            raise TypeError(f"`{a.name}` takes {len(a.params)} argument(s), {len(args)} given")
        env = {
            p.name: self._store(v, p.ty, f"argument `{p.name}`", p.pos)
            for p, v in zip(a.params, args, strict=True)
        }
        if not all(self.eval(r, env, state) for r in a.requires):
            return None
        new = dict(state)
        types = {v.name: v.ty for v in m.vars}
        for target, expr in a.updates:  # simultaneous: every right side reads `state`
            new[target] = self._store(
                self.eval(expr, env, state),
                types[target],
                f"`{m.name}.{target}` after `{a.name}`",
                expr.pos,
            )
        return new

    def _call(self, fn: ast.Fn, args: list[Any], pos: ast.Pos) -> Any:
        key = (fn.name, tuple(args))
        if key in self._memo:
            return self._memo[key]
        env = {
            p.name: self._store(v, p.ty, f"argument `{p.name}` of `{fn.name}`", pos)
            for p, v in zip(fn.params, args, strict=True)
        }
        result = self._store(
            self.eval(fn.body, env), fn.result, f"the result of `{fn.name}`", fn.pos
        )
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        self._memo[key] = result
        return result

    def eval(
        self, e: ast.Expr, env: Mapping[str, Any], state: Mapping[str, Any] | None = None
    ) -> Any:
        """Evaluate a checked expression; `state` holds machine variables."""
        st = state or {}
        ev = self.eval
        if isinstance(e, ast.Lit):
            return e.value
        if isinstance(e, ast.Var):
            if e.kind == "local":
                return env[e.name]
            if e.kind == "state":
                return st[e.name]
            return self.const(e.name)
        if isinstance(e, ast.EnumValueLit):
            return EnumValue(e.enum, e.variant)
        if isinstance(e, ast.Binary):
            return self._binary(e, env, st)
        if isinstance(e, ast.Unary):
            v = ev(e.operand, env, st)
            return (not v) if e.op == "not" else -v
        if isinstance(e, ast.If):
            return ev(e.then, env, st) if ev(e.cond, env, st) else ev(e.orelse, env, st)
        if isinstance(e, ast.Let):
            return ev(e.body, {**env, e.name: ev(e.value, env, st)}, st)
        if isinstance(e, ast.Field):
            return ev(e.target, env, st)[e.name]
        if isinstance(e, ast.Index):
            target, key = ev(e.target, env, st), ev(e.key, env, st)
            if isinstance(e.target.ty, SeqType):  # total: none out of bounds
                return target[key] if 0 <= key < len(target) else None
            return target[key]
        if isinstance(e, ast.Call):
            args = [ev(a, env, st) for a in e.args]
            if e.builtin:
                return self._builtin(e, args)
            return self._call(self.module.fns[e.fn], args, e.pos)
        if isinstance(e, ast.NoneLit):
            return None
        if isinstance(e, ast.SomeLit):
            return ev(e.value, env, st)
        if isinstance(e, ast.SetLit):
            return frozenset(ev(i, env, st) for i in e.items)
        if isinstance(e, ast.SeqLit):
            assert isinstance(e.ty, SeqType)
            elem = e.ty.elem
            return tuple(self._store(ev(i, env, st), elem, "an element", i.pos) for i in e.items)
        if isinstance(e, ast.Aggregate):
            return self._aggregate(e, env, st)
        if isinstance(e, ast.RecordLit):
            assert isinstance(e.ty, RecordType)
            fields = dict(e.ty.fields)
            return RecordValue(
                e.record,
                {
                    n: self._store(ev(x, env, st), fields[n], f"field `{n}`", x.pos)
                    for n, x in e.fields
                },
            )
        if isinstance(e, ast.RecordUpdate):
            assert isinstance(e.ty, RecordType)
            fields = dict(e.ty.fields)
            return ev(e.target, env, st).replace(
                **{
                    n: self._store(ev(x, env, st), fields[n], f"field `{n}`", x.pos)
                    for n, x in e.fields
                }
            )
        if isinstance(e, ast.MapUpdate):
            assert isinstance(e.ty, MapType)
            value = self._store(ev(e.value, env, st), e.ty.value, "the map value", e.pos)
            return ev(e.target, env, st).set(ev(e.key, env, st), value)
        if isinstance(e, ast.Match):
            return self._match(e, env, st)
        if isinstance(e, ast.Quant):
            return self._quant(e, env, st, 0)
        raise TypeError(f"cannot evaluate unchecked node {type(e).__name__}")

    def _binary(self, e: ast.Binary, env: Mapping[str, Any], st: Mapping[str, Any]) -> Any:
        op = e.op
        left = self.eval(e.left, env, st)
        # Short-circuit the connectives: totality makes this unobservable, it only saves work.
        if op == "and":
            return bool(left) and bool(self.eval(e.right, env, st))
        if op == "or":
            return bool(left) or bool(self.eval(e.right, env, st))
        if op == "implies":
            return (not left) or bool(self.eval(e.right, env, st))
        right = self.eval(e.right, env, st)
        if op == "iff":
            return bool(left) == bool(right)
        if op == "==":
            return left == right
        if op == "!=":
            return left != right
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
            if right == 0:  # the checker rules this out; a value out of its range may not
                raise self._fail(f"division by zero in `{op}`", e.pos)
            return trunc_div(left, right) if op == "/" else trunc_mod(left, right)
        if op == "in":
            return left in right
        if op == "subset":
            return left <= right
        if op == "union":
            return left | right
        if op == "inter":
            return left & right
        if op == "minus":
            return left - right
        raise TypeError(f"unknown operator {op}")

    def _builtin(self, e: ast.Call, args: list[Any]) -> Any:
        if e.fn == "card":
            return len(args[0])
        if e.fn == "is_some":
            return args[0] is not None
        if e.fn == "is_none":
            return args[0] is None
        if e.fn == "fill":
            assert isinstance(e.ty, MapType)
            value = self._store(args[0], e.ty.value, "the map value", e.pos)
            return MapValue({k: value for k in domain(e.ty.key)})
        if e.fn == "min":
            return min(args[0], args[1])
        if e.fn == "len":
            return len(args[0])
        if e.fn == "append":
            assert isinstance(e.ty, SeqType)
            return (*args[0], self._store(args[1], e.ty.elem, "the appended element", e.pos))
        return max(args[0], args[1])

    def _aggregate(self, e: ast.Aggregate, env: Mapping[str, Any], st: Mapping[str, Any]) -> int:
        source = self.eval(e.source, env, st)
        if e.body is None:  # sum(s)
            return sum(source)
        values = [self.eval(e.body, {**env, e.var: x}, st) for x in source]
        if e.kind == "count":
            return sum(1 for v in values if v)
        return sum(values)

    def _match(self, e: ast.Match, env: Mapping[str, Any], st: Mapping[str, Any]) -> Any:
        subject = self.eval(e.subject, env, st)
        for arm in e.arms:
            if arm.kind == "wildcard":
                return self.eval(arm.body, env, st)
            if arm.kind == "variants" and subject.variant in arm.names:
                return self.eval(arm.body, env, st)
            if arm.kind == "none" and subject is None:
                return self.eval(arm.body, env, st)
            if arm.kind == "some" and subject is not None:
                return self.eval(arm.body, {**env, arm.names[0]: subject}, st)
        raise self._fail(f"no arm matches {subject!r}", e.pos)  # the checker forbids this

    def _quant(self, e: ast.Quant, env: Mapping[str, Any], st: Mapping[str, Any], i: int) -> bool:
        if i == len(e.binders):
            return bool(self.eval(e.body, env, st))
        b = e.binders[i]
        values = (self._quant(e, {**env, b.name: v}, st, i + 1) for v in domain(b.ty))
        return all(values) if e.kind == "forall" else any(values)
