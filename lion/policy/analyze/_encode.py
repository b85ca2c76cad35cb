"""Policies -> Z3: each expression to a ``Sym``, each policy to its TRUE and UNKNOWN conditions.

The rules follow ``lion.kernel.policy._evaluate`` case by case: an operand
error makes the result an error, ``&&``/``||`` are strong Kleene over all
operands (any FALSE, resp. TRUE, decides, whatever the others are), ``if``
with an unknown condition has a value only when both branches have the same
one, arithmetic errors on 64-bit overflow. A construct the encoding cannot
decide exactly raises ``AnalysisError`` naming it and its location.
"""

from __future__ import annotations

from typing import Any

import z3

from lion.errors import AnalysisError
from lion.kernel.policy import EntityUID, Span
from lion.kernel.policy import _ast as A
from lion.policy.analyze._encode_ext import ExtOps
from lion.policy.analyze._encode_sets import SetOps
from lion.policy.analyze._sorts import (
    INT_MIN,
    NONE,
    OSOME,
    VE,
    VR,
    VSt,
    long_val,
    select,
    string_val,
)
from lion.policy.analyze._sym import (
    FALSE,
    TRUE,
    Sym,
    and_,
    const,
    lift,
    not_,
    or_,
    unpack,
)
from lion.policy.analyze._world import World

__all__ = ["Encoder"]

_RE = z3.ReSort(z3.StringSort())


def _where(span: Span | None, path: str) -> str:
    return f"{path}:{span}" if span is not None else path


class Encoder(SetOps, ExtOps):
    """Compiles the expressions and policies of one analysis over one ``World``."""

    def __init__(self, world: World, path: str = "<policies>") -> None:
        self.w = world
        self.path = path
        self._cache: dict[int, Sym] = {}
        self._keep: list[A.Expr] = []  # keeps cached nodes alive, so their ids stay theirs

    def unsupported(self, what: str, span: Span | None) -> AnalysisError:
        return AnalysisError(
            f"{_where(span, self.path)}: {what} cannot be encoded exactly by the analysis"
        )

    def value(self, sym: Sym, span: Span | None) -> Any:
        """``sym`` as a ``V`` term (AnalysisError for a set literal)."""
        if sym.kind == "litset":
            raise self.unsupported(
                "a set literal used as a value (a record field, a member looked up in a set "
                "from data, or a branch of `if`)",
                span,
            )
        return lift(sym, span)

    # -- policies ---------------------------------------------------------------------------

    def scope(self, scope: A.Scope, var: Any) -> Any:
        if scope.slot is not None:
            raise self.unsupported(f"the unlinked slot `{scope.slot}`", None)
        w = self.w
        if scope.op == "all":
            return TRUE
        if scope.op == "==":
            return var == w.uid(scope.entities[0])
        if scope.op == "in":
            return or_(*(w.is_in(var, w.uid(t)) for t in scope.entities))
        assert scope.entity_type is not None
        typed = w.has_type(var, scope.entity_type)
        if scope.op == "is":
            return typed
        return and_(typed, w.is_in(var, w.uid(scope.entities[0])))

    def policy(self, policy: A.Policy) -> tuple[Any, Any]:
        """(TRUE condition, UNKNOWN condition) of one static or linked policy.

        Policies with the same scope and conditions (whatever their ids) share one
        encoding: the two sides of a comparison are mostly the same policies.
        """
        # repr tells `Literal(True)` from `Literal(1)`, which `==` does not; spans are left out.
        key = repr((policy.principal, policy.action, policy.resource, policy.conditions))
        found = self.w.policy_cache.get(key)
        if found is None:
            found = self.w.policy_cache[key] = self._policy(policy)
        return found

    def _policy(self, policy: A.Policy) -> tuple[Any, Any]:
        w = self.w
        in_scope = and_(
            self.scope(policy.principal, w.principal),
            self.scope(policy.action, w.action),
            self.scope(policy.resource, w.resource),
        )
        falses = []
        unknowns = []
        for cond in policy.conditions:
            sym = self.expr(cond.expr)
            type_err, b = unpack(sym, "bool")
            ok = and_(not_(sym.err), not_(type_err))
            unknowns.append(not_(ok))
            falses.append(and_(ok, b if cond.kind == "unless" else not_(b)))
        any_false = or_(*falses)
        is_true = and_(in_scope, not_(any_false), not_(or_(*unknowns)))
        is_unknown = and_(in_scope, not_(any_false), or_(*unknowns))
        return is_true, is_unknown

    # -- expressions ------------------------------------------------------------------------

    def expr(self, e: A.Expr) -> Sym:
        # By identity: equal ASTs may differ in kind (`Literal(True) == Literal(1)` in Python).
        found = self._cache.get(id(e))
        if found is None:
            found = self._expr(e)
            self._cache[id(e)] = found
            self._keep.append(e)
        return found

    def _expr(self, e: A.Expr) -> Sym:
        w = self.w
        span = e.span
        if isinstance(e, A.Literal):
            return self.literal(e.value)
        if isinstance(e, A.Var):
            if e.name == "context":
                return Sym(FALSE, "record", w.context)
            return Sym(FALSE, "entity", getattr(w, e.name))
        if isinstance(e, A.SetExpr):
            elements = tuple(self.expr(x) for x in e.elements)
            return Sym(or_(*(x.err for x in elements)), "litset", elements)
        if isinstance(e, A.RecordExpr):
            record = z3.K(z3.IntSort(), NONE)
            errs = []
            for name, x in e.fields:
                sym = self.expr(x)
                errs.append(sym.err)
                record = z3.Store(record, w.key(name), OSOME.make(self.value(sym, x.span)))
            return Sym(or_(*errs), "record", record)
        if isinstance(e, A.Not):
            arg = self.expr(e.arg)
            te, b = unpack(arg, "bool")
            return Sym(or_(arg.err, te), "bool", not_(b))
        if isinstance(e, A.Neg):
            arg = self.expr(e.arg)
            te, v = unpack(arg, "long")
            return Sym(or_(arg.err, te, v == long_val(INT_MIN)), "long", -v)
        if isinstance(e, A.BinaryOp):
            return self.binary(e)
        if isinstance(e, A.And | A.Or):
            return self.junction(e)
        if isinstance(e, A.IfThenElse):
            return self.if_then_else(e)
        if isinstance(e, A.GetAttr):
            return self.get_attr(self.expr(e.obj), w.key(e.attr))
        if isinstance(e, A.HasAttr):
            obj = self.expr(e.obj)
            return self.has_attr(obj, w.key(e.attr))
        if isinstance(e, A.Like):
            arg = self.expr(e.arg)
            te, s = unpack(arg, "string")
            return Sym(or_(arg.err, te), "bool", w.like(s, e.pattern, _pattern))
        if isinstance(e, A.IsType):
            arg = self.expr(e.arg)
            te, x = unpack(arg, "entity")
            typed = w.has_type(x, e.entity_type)
            if e.in_ is None:
                return Sym(or_(arg.err, te), "bool", typed)
            inside = self.in_(x, self.expr(e.in_), e.in_.span)
            err = or_(arg.err, te, and_(typed, inside.err))
            return Sym(err, "bool", and_(typed, inside.val))
        if isinstance(e, A.MethodCall):
            return self.method(e)
        if isinstance(e, A.ExtCall):
            return self.ext_call(e)
        name = type(e).__name__
        raise self.unsupported(f"the expression `{name}`", span)

    def literal(self, value: Any) -> Sym:
        if isinstance(value, bool):
            return Sym(FALSE, "bool", const(value))
        if isinstance(value, int):
            return Sym(FALSE, "long", long_val(value))
        if isinstance(value, str):
            return Sym(FALSE, "string", string_val(value))
        if isinstance(value, EntityUID):
            return Sym(FALSE, "entity", self.w.uid(value))
        raise self.unsupported(f"the literal `{value}`", None)

    def binary(self, e: A.BinaryOp) -> Sym:
        left = self.expr(e.left)
        if e.op == "in":
            te, x = unpack(left, "entity")
            inside = self.in_(x, self.expr(e.right), e.right.span)
            return Sym(or_(left.err, te, inside.err), "bool", inside.val)
        right = self.expr(e.right)
        if e.op in ("==", "!="):
            same = self.eq(left, right, e.span)
            return Sym(or_(left.err, right.err), "bool", same if e.op == "==" else not_(same))
        if e.op in ("<", "<=", ">", ">="):
            return self.compare(e.op, left, right, e.span)
        ta, a = unpack(left, "long")
        tb, b = unpack(right, "long")
        err = or_(left.err, right.err, ta, tb)
        if e.op == "+":
            ok = and_(z3.BVAddNoOverflow(a, b, True), z3.BVAddNoUnderflow(a, b))
            return Sym(or_(err, not_(ok)), "long", a + b)
        if e.op == "-":
            ok = and_(z3.BVSubNoOverflow(a, b), z3.BVSubNoUnderflow(a, b, True))
            return Sym(or_(err, not_(ok)), "long", a - b)
        ok = and_(z3.BVMulNoOverflow(a, b, True), z3.BVMulNoUnderflow(a, b))
        return Sym(or_(err, not_(ok)), "long", a * b)

    def in_(self, x: Any, target: Sym, span: Span | None) -> Sym:
        """``x in target``: an entity, a set literal of entities, or a data set of entities."""
        w = self.w
        if target.kind == "entity":
            return Sym(target.err, "bool", w.is_in(x, target.val))
        if target.kind == "litset":
            errs = [target.err]
            hits = []
            for element in target.val:
                te, y = unpack(element, "entity")
                errs.append(te)
                hits.append(and_(not_(te), w.is_in(x, y)))
            return Sym(or_(*errs), "bool", or_(*hits))
        if target.kind == "set":
            all_entities = w.all_entities_in(target.val)
            return Sym(or_(target.err, not_(all_entities)), "bool", w.in_data_set(x, target.val))
        if target.kind is None:
            v = target.val
            set_id = VSt.get(v)
            is_entity, is_set = VE.is_(v), VSt.is_(v)
            all_entities = w.all_entities_in(set_id)
            err = or_(
                target.err, and_(not_(is_entity), not_(is_set)), and_(is_set, not_(all_entities))
            )
            val = z3.If(is_entity, w.is_in(x, VE.get(v)), w.in_data_set(x, set_id))
            return Sym(err, "bool", val)
        return Sym(TRUE, "bool", FALSE)

    def junction(self, e: A.And | A.Or) -> Sym:
        decisive = isinstance(e, A.Or)
        decides = []
        fails = []
        for arg in e.args:
            sym = self.expr(arg)
            te, b = unpack(sym, "bool")
            ok = and_(not_(sym.err), not_(te))
            fails.append(not_(ok))
            decides.append(and_(ok, b if decisive else not_(b)))
        decided = or_(*decides)
        err = and_(not_(decided), or_(*fails))
        return Sym(err, "bool", decided if decisive else not_(decided))

    def if_then_else(self, e: A.IfThenElse) -> Sym:
        cond = self.expr(e.cond)
        then = self.expr(e.then)
        else_ = self.expr(e.else_)
        te, c = unpack(cond, "bool")
        cond_ok = and_(not_(cond.err), not_(te))
        same = self.eq(then, else_, e.span)
        err = z3.If(
            cond_ok,
            z3.If(c, then.err, else_.err),
            or_(then.err, else_.err, not_(same)),
        )
        if then.kind == else_.kind and then.kind != "litset":
            kind = then.kind
            a, b = then.val, else_.val
        else:
            kind = None
            a, b = self.value(then, e.then.span), self.value(else_, e.else_.span)
        return Sym(
            z3.simplify(err) if z3.is_const(err) else err, kind, z3.If(and_(cond_ok, not_(c)), b, a)
        )

    def get_attr(self, obj: Sym, key: Any) -> Sym:
        w = self.w
        if obj.kind == "record":
            found = select(obj.val, key)
            return Sym(or_(obj.err, not_(OSOME.is_(found))), None, w.data(OSOME.get(found)))
        if obj.kind == "entity":
            found = select(w.attrs(obj.val), key)
            missing = or_(not_(w.exists(obj.val)), not_(OSOME.is_(found)))
            return Sym(or_(obj.err, missing), None, w.data(OSOME.get(found)))
        if obj.kind is None:
            v = obj.val
            x = w.entity(VE.get(v))
            in_record = select(VR.get(v), key)
            in_entity = select(w.attrs(x), key)
            is_record, is_entity = VR.is_(v), VE.is_(v)
            err = or_(
                obj.err,
                z3.If(
                    is_record,
                    not_(OSOME.is_(in_record)),
                    z3.If(
                        is_entity,
                        or_(not_(w.exists(x)), not_(OSOME.is_(in_entity))),
                        TRUE,
                    ),
                ),
            )
            val = z3.If(is_record, OSOME.get(in_record), OSOME.get(in_entity))
            return Sym(err, None, w.data(val))
        return Sym(TRUE, None, OSOME.get(NONE))

    def has_attr(self, obj: Sym, key: Any) -> Sym:
        w = self.w
        if obj.kind == "record":
            return Sym(obj.err, "bool", OSOME.is_(select(obj.val, key)))
        if obj.kind == "entity":
            found = OSOME.is_(select(w.attrs(obj.val), key))
            return Sym(obj.err, "bool", and_(w.exists(obj.val), found))
        if obj.kind is None:
            v = obj.val
            x = w.entity(VE.get(v))
            is_record, is_entity = VR.is_(v), VE.is_(v)
            err = or_(obj.err, and_(not_(is_record), not_(is_entity)))
            in_entity = and_(w.exists(x), OSOME.is_(select(w.attrs(x), key)))
            val = z3.If(is_record, OSOME.is_(select(VR.get(v), key)), in_entity)
            return Sym(err, "bool", val)
        return Sym(TRUE, "bool", FALSE)


def _pattern(pattern: A.Pattern) -> Any:
    parts: list[Any] = []
    for i, chunk in enumerate(pattern.chunks):
        if i:
            parts.append(z3.Star(z3.AllChar(_RE)))
        if chunk:
            parts.append(z3.Re(string_val(chunk)))
    if not parts:
        return z3.Re(string_val(""))
    return parts[0] if len(parts) == 1 else z3.Concat(*parts)
