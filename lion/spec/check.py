"""Name resolution and type checking: untyped Module -> checked Module.

Rules that make every spec total and every definition terminate:

- a definition may use only definitions before it (or imported), so functions
  cannot recurse and record types cannot contain themselves;
- sets, map keys and quantifiers inside expressions range over *finite* types
  (bool, enums, bounded ints, options and records of those), small enough to
  enumerate, so evaluation never loops and the Z3 encoding stays decidable.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from lion.errors import SourceLocation, SpecError
from lion.spec import ast
from lion.spec._check_lang import SEQ_BUILTINS, Fact, LanguageRules
from lion.spec._check_match import MatchRules
from lion.spec._check_types import MAX_DOMAIN, compatible, domain_size, is_finite, join
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

__all__ = ["BUILTINS", "MAX_DOMAIN", "check_module", "domain_size", "is_finite"]


BOOL = BoolType()
INT = IntType()
STRING = StringType()

BUILTINS = ("card", "is_some", "is_none", "fill", "min", "max", *SEQ_BUILTINS)


@dataclass
class _Scope:
    """What a module can see: its own earlier definitions and its imports'."""

    types: dict[str, Type]
    variants: dict[str, list[EnumType]]
    consts: dict[str, ast.Const]
    fns: dict[str, ast.Fn]
    machines: dict[str, ast.Machine]
    origin: dict[str, str]  # name -> path of the module that defined it


@dataclass(frozen=True)
class _Local:
    ty: Type
    kind: str  # "local" | "state" | "const"


class _Checker(LanguageRules, MatchRules):
    def __init__(self, module: ast.Module, imported: list[ast.Module]) -> None:
        self.module = module
        self.lines = module.source.splitlines()
        self.scope = _Scope({}, {}, {}, {}, {}, {})
        self.facts: list[Fact] = []  # conditions known to hold where a divisor is checked
        for dep in imported:
            self._import(dep)

    def local(self, ty: Type) -> _Local:
        return _Local(ty, "local")

    def const_value(self, name: str) -> ast.Expr | None:
        const = self.scope.consts.get(name)
        return None if const is None else const.value

    # ---- errors
    def error(self, message: str, pos: ast.Pos) -> SpecError:
        line_text = self.lines[pos.line - 1] if 0 < pos.line <= len(self.lines) else ""
        return SpecError(message, SourceLocation(self.module.path, pos.line, pos.column, line_text))

    def _claim(self, name: str, pos: ast.Pos) -> None:
        taken = name in self.scope.origin
        if taken:
            where = self.scope.origin[name]
            also = "" if where == self.module.path else f" (in {where})"
            raise self.error(f"`{name}` is already defined{also}", pos)
        self.scope.origin[name] = self.module.path

    def _import(self, dep: ast.Module) -> None:
        for name, enum in dep.enums.items():
            self.scope.types.setdefault(name, enum)
            for v in enum.variants:
                if enum not in self.scope.variants.setdefault(v, []):
                    self.scope.variants[v].append(enum)
        for name, rec in dep.records.items():
            self.scope.types.setdefault(name, rec)
        self.scope.consts.update(dep.consts)
        self.scope.fns.update(dep.fns)
        self.scope.machines.update(dep.machines)
        for name in [*dep.enums, *dep.records, *dep.consts, *dep.fns, *dep.machines]:
            self.scope.origin.setdefault(name, dep.path)
        for d in dep.definitions:
            if isinstance(d, ast.TypeAlias):
                self.scope.types.setdefault(d.name, d.ty)
                self.scope.origin.setdefault(d.name, dep.path)

    # ---- module
    def run(self) -> ast.Module:
        out: list[ast.Definition] = []
        for d in self.module.definitions:
            checked = self.definition(d)
            out.append(checked)
        types = self.scope.types
        return dataclasses.replace(
            self.module,
            definitions=tuple(out),
            enums={n: t for n, t in types.items() if isinstance(t, EnumType) and t.name == n},
            records={n: t for n, t in types.items() if isinstance(t, RecordType) and t.name == n},
            fns=dict(self.scope.fns),
            consts=dict(self.scope.consts),
            machines=dict(self.scope.machines),
        )

    def definition(self, d: ast.Definition) -> ast.Definition:
        if isinstance(d, ast.EnumDef):
            self._claim(d.name, d.pos)
            if len(set(d.variants)) != len(d.variants):
                dup = next(v for v in d.variants if d.variants.count(v) > 1)
                raise self.error(f"enum `{d.name}` lists `{dup}` twice", d.pos)
            enum = EnumType(d.name, d.variants)
            self.scope.types[d.name] = enum
            for v in d.variants:
                self.scope.variants.setdefault(v, []).append(enum)
            return d
        if isinstance(d, ast.RecordDef):
            self._claim(d.name, d.pos)
            seen: set[str] = set()
            fields: list[tuple[str, Type]] = []
            for f in d.fields:
                if f.name in seen:
                    raise self.error(f"record `{d.name}` declares field `{f.name}` twice", f.pos)
                seen.add(f.name)
                fields.append((f.name, self.resolve_type(f.ty, f.pos)))
            rec = RecordType(d.name, tuple(fields))
            self.scope.types[d.name] = rec
            return ast.RecordDef(d.name, tuple(ast.Param(n, t) for n, t in fields), d.pos)
        if isinstance(d, ast.TypeAlias):
            self._claim(d.name, d.pos)
            ty = self.resolve_type(d.ty, d.pos)
            self.scope.types[d.name] = ty
            return ast.TypeAlias(d.name, ty, d.pos)
        if isinstance(d, ast.Const):
            self._claim(d.name, d.pos)
            ty = self.resolve_type(d.ty, d.pos)
            value = self.expect(d.value, ty, {})
            const = ast.Const(d.name, ty, value, d.pos)
            self.scope.consts[d.name] = const
            return const
        if isinstance(d, ast.Fn):
            return self.fn(d)
        if isinstance(d, ast.Machine):
            return self.machine(d)
        if isinstance(d, ast.Invariant):
            return self.invariant(d)
        if isinstance(d, ast.Theorem):
            return self.theorem(d)
        return self.bind(d)

    def fn(self, d: ast.Fn) -> ast.Fn:
        self._claim(d.name, d.pos)
        params = self.params(d.params, f"function `{d.name}`")
        result = self.resolve_type(d.result, d.pos)
        env = {p.name: _Local(p.ty, "local") for p in params}
        # The function is added to scope only after its body checks: no recursion.
        body = self.expect(d.body, result, env)
        fn = ast.Fn(d.name, params, result, body, d.pos)
        self.scope.fns[d.name] = fn
        return fn

    def params(self, params: tuple[ast.Param, ...], owner: str) -> tuple[ast.Param, ...]:
        seen: set[str] = set()
        out: list[ast.Param] = []
        for p in params:
            if p.name in seen:
                raise self.error(f"{owner} has two parameters named `{p.name}`", p.pos)
            seen.add(p.name)
            out.append(ast.Param(p.name, self.resolve_type(p.ty, p.pos), p.pos))
        return tuple(out)

    def machine(self, d: ast.Machine) -> ast.Machine:
        self._claim(d.name, d.pos)
        vars_ = self.params(d.vars, f"machine `{d.name}`")
        state = {v.name: _Local(v.ty, "state") for v in vars_}
        init = self.action(d.init, {}, vars_, d.name, is_init=True)
        names = set()
        actions = []
        for a in d.actions:
            if a.name in names:
                raise self.error(f"machine `{d.name}` has two actions named `{a.name}`", a.pos)
            names.add(a.name)
            actions.append(self.action(a, state, vars_, d.name, is_init=False))
        m = ast.Machine(d.name, vars_, init, tuple(actions), d.pos, ghosts=d.ghosts)
        self.scope.machines[d.name] = m
        return m

    def action(
        self,
        a: ast.Action,
        state: Mapping[str, _Local],
        vars_: tuple[ast.Param, ...],
        machine: str,
        *,
        is_init: bool,
    ) -> ast.Action:
        params = self.params(a.params, f"action `{a.name}`")
        env = dict(state)
        for p in params:
            if p.name in env:
                raise self.error(f"parameter `{p.name}` shadows a variable of `{machine}`", p.pos)
            env[p.name] = _Local(p.ty, "local")
        var_types = {v.name: v.ty for v in vars_}
        updates = []
        with contextlib.ExitStack() as guarded:
            # A guard is evaluated only when the ones before it held, the updates only when
            # all of them did: a divisor may rely on them.
            requires = []
            for r in a.requires:
                requires.append(self.expect(r, BOOL, env))
                guarded.enter_context(self.assuming(requires[-1], True, env))
            for target, value in a.updates:
                if target not in var_types:
                    raise self.error(
                        f"`{target}` is not a variable of machine `{machine}`", value.pos
                    )
                updates.append((target, self.expect(value, var_types[target], env)))
        if is_init:
            missing = [v.name for v in vars_ if v.name not in dict(a.updates)]
            if missing:
                raise self.error(
                    f"init of `{machine}` must assign every variable; missing "
                    + ", ".join(f"`{m}`" for m in missing),
                    a.pos,
                )
        return ast.Action(a.name, params, tuple(requires), tuple(updates), a.pos)

    def invariant(self, d: ast.Invariant) -> ast.Invariant:
        self._claim(d.name, d.pos)
        machine = self.scope.machines.get(d.machine)
        if machine is None:
            raise self.error(f"unknown machine `{d.machine}`", d.pos)
        env = {v.name: _Local(v.ty, "state") for v in machine.vars}
        return ast.Invariant(d.name, d.machine, self.expect(d.body, BOOL, env), d.doc, d.pos)

    def theorem(self, d: ast.Theorem) -> ast.Theorem:
        self._claim(d.name, d.pos)
        binders = self.params(d.binders, f"theorem `{d.name}`")
        env = {b.name: _Local(b.ty, "local") for b in binders}
        return ast.Theorem(d.name, binders, self.expect(d.body, BOOL, env), d.doc, d.pos)

    def bind(self, d: ast.Bind) -> ast.Bind:
        if d.name not in self.scope.fns and d.name not in self.scope.machines:
            raise self.error(f"`bind {d.name}`: no function or machine named `{d.name}`", d.pos)
        kinds: set[str] = set()
        for kind, ref in d.targets:
            if kind not in ("python", "rust"):
                raise self.error(
                    f"unknown bind target `{kind}`, expected `python` or `rust`", d.pos
                )
            if kind in kinds:
                raise self.error(f"`bind {d.name}` names `{kind}` twice", d.pos)
            kinds.add(kind)
            if kind == "python" and (ref.count(":") != 1 or not all(ref.split(":"))):
                raise self.error(
                    f"python bind target `{ref}` must look like `module:attribute`", d.pos
                )
        return d

    # ---- types
    def resolve_type(self, ty: Type, pos: ast.Pos) -> Type:
        if isinstance(ty, ast.NamedType):
            found = self.scope.types.get(ty.name)
            if found is None:
                raise self.error(f"unknown type `{ty.name}`", ty.pos if ty.pos.line else pos)
            return found
        if isinstance(ty, SetType):
            elem = self.resolve_type(ty.elem, pos)
            if not is_finite(elem):
                raise self.error(
                    f"set elements must have a finite type of at most {MAX_DOMAIN} values, "
                    f"`{elem}` is not",
                    pos,
                )
            return SetType(elem)
        if isinstance(ty, MapType):
            key = self.resolve_type(ty.key, pos)
            if not is_finite(key):
                raise self.error(
                    f"map keys must have a finite type of at most {MAX_DOMAIN} values, "
                    f"`{key}` is not",
                    pos,
                )
            return MapType(key, self.resolve_type(ty.value, pos))
        if isinstance(ty, SeqType):
            return self.seq_type(self.resolve_type(ty.elem, pos), ty.bound, pos)
        if isinstance(ty, OptionType):
            elem = self.resolve_type(ty.elem, pos)
            if isinstance(elem, OptionType):
                raise self.error("`option<option<T>>` is not allowed: use an enum", pos)
            return OptionType(elem)
        return ty

    # ---- expressions
    def expect(self, e: ast.Expr, ty: Type, env: Mapping[str, _Local]) -> ast.Expr:
        out = self.infer(e, env, ty)
        assert out.ty is not None
        if not compatible(out.ty, ty):
            raise self.error(f"type mismatch: expected `{ty}`, found `{out.ty}`", e.pos)
        return out

    def infer(self, e: ast.Expr, env: Mapping[str, _Local], want: Type | None = None) -> ast.Expr:
        r = dataclasses.replace
        if isinstance(e, ast.Lit):
            if isinstance(e.value, bool):
                return r(e, ty=BOOL)
            if isinstance(e.value, int):
                return r(e, ty=want if isinstance(want, IntType) else INT)
            return r(e, ty=STRING)
        if isinstance(e, ast.Name):
            return self.name(e, env)
        if isinstance(e, ast.NoneLit):
            if not isinstance(want, OptionType):
                raise self.error(
                    "cannot tell the type of `none` here; it needs an option type from its context",
                    e.pos,
                )
            return r(e, ty=want)
        if isinstance(e, ast.SomeLit):
            inner_want = want.elem if isinstance(want, OptionType) else None
            value = self.infer(e.value, env, inner_want)
            assert value.ty is not None
            elem = (
                inner_want
                if inner_want is not None and compatible(value.ty, inner_want)
                else value.ty
            )
            if isinstance(elem, OptionType):
                raise self.error("`option<option<T>>` is not allowed: use an enum", e.pos)
            return ast.SomeLit(value, e.pos, OptionType(elem))
        if isinstance(e, ast.SetLit):
            return self.set_lit(e, env, want)
        if isinstance(e, ast.SeqLit):
            return self.seq_lit(e, env, want)
        if isinstance(e, ast.RecordLit):
            return self.record_lit(e, env)
        if isinstance(e, ast.Field):
            return self.field(e, env)
        if isinstance(e, ast.Index):
            target = self.infer(e.target, env)
            if isinstance(target.ty, SeqType):
                return self.seq_index(e, target, env)
            if not isinstance(target.ty, MapType):
                raise self.error(f"`[...]` needs a map or a seq, found `{target.ty}`", e.pos)
            key = self.expect(e.key, target.ty.key, env)
            return ast.Index(target, key, e.pos, target.ty.value)
        if isinstance(e, ast.RecordUpdate):
            target = self.infer(e.target, env, want)
            if not isinstance(target.ty, RecordType):
                raise self.error(f"`with {{...}}` needs a record, found `{target.ty}`", e.pos)
            fields = tuple(
                (name, self.expect(value, self.field_type(target.ty, name, e.pos), env))
                for name, value in e.fields
            )
            return ast.RecordUpdate(target, fields, e.pos, target.ty)
        if isinstance(e, ast.MapUpdate):
            target = self.infer(e.target, env, want)
            if not isinstance(target.ty, MapType):
                raise self.error(f"`with [k: v]` needs a map, found `{target.ty}`", e.pos)
            key = self.expect(e.key, target.ty.key, env)
            value = self.expect(e.value, target.ty.value, env)
            return ast.MapUpdate(target, key, value, e.pos, target.ty)
        if isinstance(e, ast.Unary):
            if e.op == "not":
                return ast.Unary("not", self.expect(e.operand, BOOL, env), e.pos, BOOL)
            return ast.Unary("-", self.expect(e.operand, INT, env), e.pos, INT)
        if isinstance(e, ast.Binary):
            return self.binary(e, env, want)
        if isinstance(e, ast.If):
            cond = self.expect(e.cond, BOOL, env)
            with self.assuming(cond, True, env):
                then = self.infer(e.then, env, want)
            assert then.ty is not None
            with self.assuming(cond, False, env):
                orelse = self.expect(
                    e.orelse,
                    want if want is not None and compatible(then.ty, want) else then.ty,
                    env,
                )
            return ast.If(cond, then, orelse, e.pos, self.join(then.ty, orelse.ty))
        if isinstance(e, ast.Let):
            value = self.infer(e.value, env)
            assert value.ty is not None
            inner = {**env, e.name: _Local(value.ty, "local")}
            body = self.infer(e.body, inner, want)
            return ast.Let(e.name, value, body, e.pos, body.ty)
        if isinstance(e, ast.Match):
            return self.match(e, env, want)
        if isinstance(e, ast.Call):
            return self.call(e, env, want)
        if isinstance(e, ast.Quant):
            binders = self.params(e.binders, f"`{e.kind}`")
            inner = dict(env)
            for b in binders:
                if not is_finite(b.ty):
                    raise self.error(
                        f"`{e.kind}` inside an expression needs a finite type of at most "
                        f"{MAX_DOMAIN} values, `{b.ty}` is not",
                        b.pos,
                    )
                inner[b.name] = _Local(b.ty, "local")
            return ast.Quant(e.kind, binders, self.expect(e.body, BOOL, inner), e.pos, BOOL)
        raise self.error(f"unexpected expression {type(e).__name__}", e.pos)

    def join(self, a: Type | None, b: Type | None) -> Type:
        return join(a, b)

    def name(self, e: ast.Name, env: Mapping[str, _Local]) -> ast.Expr:
        local = env.get(e.name)
        if local is not None:
            return ast.Var(e.name, local.kind, e.pos, local.ty)
        const = self.scope.consts.get(e.name)
        if const is not None:
            return ast.Var(e.name, "const", e.pos, const.ty)
        enums = self.scope.variants.get(e.name, [])
        if len(enums) == 1:
            return ast.EnumValueLit(enums[0].name, e.name, e.pos, enums[0])
        if len(enums) > 1:
            options = " or ".join(f"`{en.name}.{e.name}`" for en in enums)
            raise self.error(f"`{e.name}` is ambiguous: write {options}", e.pos)
        if e.name in self.scope.fns:
            raise self.error(f"function `{e.name}` must be called: `{e.name}(...)`", e.pos)
        raise self.error(f"unknown name `{e.name}`", e.pos)

    def field_type(self, rec: RecordType, name: str, pos: ast.Pos) -> Type:
        fty = rec.field_type(name)
        if fty is None:
            fields = ", ".join(f"`{f}`" for f, _ in rec.fields)
            raise self.error(f"record `{rec.name}` has no field `{name}` (fields: {fields})", pos)
        return fty

    def field(self, e: ast.Field, env: Mapping[str, _Local]) -> ast.Expr:
        # `Enum.Variant` when the head names an enum type and not a variable
        if isinstance(e.target, ast.Name) and e.target.name not in env:
            enum = self.scope.types.get(e.target.name)
            if isinstance(enum, EnumType):
                if e.name not in enum.variants:
                    raise self.error(f"enum `{enum.name}` has no variant `{e.name}`", e.pos)
                return ast.EnumValueLit(enum.name, e.name, e.pos, enum)
        target = self.infer(e.target, env)
        if not isinstance(target.ty, RecordType):
            raise self.error(f"`.{e.name}` needs a record, found `{target.ty}`", e.pos)
        return ast.Field(target, e.name, e.pos, self.field_type(target.ty, e.name, e.pos))

    def record_lit(self, e: ast.RecordLit, env: Mapping[str, _Local]) -> ast.Expr:
        rec = self.scope.types.get(e.record)
        if not isinstance(rec, RecordType):
            raise self.error(f"unknown record type `{e.record}`", e.pos)
        given = [n for n, _ in e.fields]
        for n in given:
            if given.count(n) > 1:
                raise self.error(f"field `{n}` given twice", e.pos)
        missing = [f for f, _ in rec.fields if f not in given]
        if missing:
            raise self.error(
                f"`{rec.name}(...)` is missing " + ", ".join(f"`{m}`" for m in missing), e.pos
            )
        values = dict(e.fields)
        fields = tuple(
            (f, self.expect(values[f], self.field_type(rec, f, e.pos), env)) for f, _ in rec.fields
        )
        for n in given:
            self.field_type(rec, n, e.pos)
        return ast.RecordLit(rec.name, fields, e.pos, rec)

    def binary(self, e: ast.Binary, env: Mapping[str, _Local], want: Type | None) -> ast.Expr:
        op = e.op
        if op in ("and", "or", "implies", "iff"):
            left = self.expect(e.left, BOOL, env)
            # The right side is evaluated only when `and`/`implies` found the left true and
            # `or` found it false: a divisor there may rely on that.
            with self.assuming(left, op != "or", env, active=op != "iff"):
                right = self.expect(e.right, BOOL, env)
            return ast.Binary(op, left, right, e.pos, BOOL)
        if op in ("==", "!="):
            literal = (ast.SetLit, ast.SeqLit, ast.NoneLit)
            if isinstance(e.left, literal) and not isinstance(e.right, literal):
                # `[] == s`: the literal takes its type from the other side
                right = self.infer(e.right, env)
                assert right.ty is not None
                left = self.expect(e.left, right.ty, env)
                return ast.Binary(op, left, right, e.pos, BOOL)
            left = self.infer(e.left, env)
            assert left.ty is not None
            right = self.expect(e.right, left.ty, env)
            return ast.Binary(op, left, right, e.pos, BOOL)
        if op in ("<", "<=", ">", ">="):
            return ast.Binary(
                op, self.expect(e.left, INT, env), self.expect(e.right, INT, env), e.pos, BOOL
            )
        if op in ("+", "-"):
            return ast.Binary(
                op, self.expect(e.left, INT, env), self.expect(e.right, INT, env), e.pos, INT
            )
        if op in ("*", "/", "%"):
            return self.arith(e, env)
        if op == "in":
            right = self.infer(e.right, env)
            if not isinstance(right.ty, SetType | SeqType):
                raise self.error(
                    f"`in` needs a set or a seq on its right, found `{right.ty}`", e.pos
                )
            left = self.expect(e.left, right.ty.elem, env)
            return ast.Binary(op, left, right, e.pos, BOOL)
        # subset, union, inter, minus: both sides sets of one element type
        left = self.infer(e.left, env, want if isinstance(want, SetType) else None)
        if not isinstance(left.ty, SetType):
            raise self.error(f"`{op}` needs sets, found `{left.ty}`", e.left.pos)
        right = self.expect(e.right, left.ty, env)
        return ast.Binary(op, left, right, e.pos, BOOL if op == "subset" else left.ty)

    def call(self, e: ast.Call, env: Mapping[str, _Local], want: Type | None) -> ast.Expr:
        def arity(n: int) -> None:
            if len(e.args) != n:
                raise self.error(f"`{e.fn}` takes {n} argument(s), {len(e.args)} given", e.pos)

        if e.fn in BUILTINS and e.fn not in self.scope.fns:
            if e.fn in SEQ_BUILTINS:
                return self.seq_call(e, env, want)
            if e.fn == "card":
                arity(1)
                arg = self.infer(e.args[0], env)
                if not isinstance(arg.ty, SetType):
                    raise self.error(f"`card` needs a set, found `{arg.ty}`", e.pos)
                return ast.Call("card", (arg,), e.pos, INT, builtin=True)
            if e.fn in ("is_some", "is_none"):
                arity(1)
                arg = self.infer(e.args[0], env)
                if not isinstance(arg.ty, OptionType):
                    raise self.error(f"`{e.fn}` needs an option, found `{arg.ty}`", e.pos)
                return ast.Call(e.fn, (arg,), e.pos, BOOL, builtin=True)
            if e.fn == "fill":
                arity(1)
                if not isinstance(want, MapType):
                    raise self.error(
                        "cannot tell the type of `fill(...)` here; it needs a map "
                        "type from its context",
                        e.pos,
                    )
                return ast.Call(
                    "fill", (self.expect(e.args[0], want.value, env),), e.pos, want, builtin=True
                )
            arity(2)  # min, max
            a, b = (self.expect(x, INT, env) for x in e.args)
            return ast.Call(e.fn, (a, b), e.pos, self.join(a.ty, b.ty), builtin=True)
        fn = self.scope.fns.get(e.fn)
        if fn is None:
            if e.fn in self.scope.types and isinstance(self.scope.types[e.fn], RecordType):
                raise self.error(
                    f"record `{e.fn}` is built with named fields: `{e.fn}(field: value, ...)`",
                    e.pos,
                )
            raise self.error(
                f"unknown function `{e.fn}` (a function may call only functions defined before it)",
                e.pos,
            )
        arity(len(fn.params))
        args = tuple(self.expect(a, p.ty, env) for a, p in zip(e.args, fn.params, strict=True))
        return ast.Call(fn.name, args, e.pos, fn.result)


def check_module(module: ast.Module, imported: list[ast.Module] | None = None) -> ast.Module:
    """Resolve names and check types; returns the module with every `ty` filled in.

    `imported` are the already-checked modules this one imports.
    """
    try:
        return _Checker(module, imported or []).run()
    except RecursionError:
        raise SpecError("spec is nested too deeply", SourceLocation(module.path, 1, 1)) from None
