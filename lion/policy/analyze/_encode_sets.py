"""Equality, sets and the built-in methods, for ``Encoder`` (a mixin kept in its own module).

Equality is Cedar's: values of different kinds are never equal and never an
error. Two data sets (or records) are equal iff their ids (arrays) are; so
that a model's unequal ids concretize to unequal sets, each such comparison
gets a witness element (key) on which they differ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import z3

from lion.kernel.policy import Span
from lion.kernel.policy import _ast as A
from lion.policy.analyze._sorts import VR, VSt, select
from lion.policy.analyze._sym import FALSE, TRUE, Sym, and_, const, not_, or_, unpack

if TYPE_CHECKING:
    from lion.errors import AnalysisError
    from lion.policy.analyze._world import World

__all__ = ["SetOps"]

_PRIMITIVE = ("bool", "long", "string", "entity", "decimal", "datetime", "duration", "ipaddr")
_SET_METHODS = ("contains", "containsAll", "containsAny", "isEmpty")


class SetOps:
    """Equality and method calls; needs ``w``, ``expr``, ``value`` and ``unsupported``."""

    w: World

    if TYPE_CHECKING:

        def expr(self, e: A.Expr) -> Sym: ...

        def value(self, sym: Sym, span: Span | None) -> Any: ...

        def unsupported(self, what: str, span: Span | None) -> AnalysisError: ...

        def ext_method(self, e: A.MethodCall) -> Sym: ...

    # -- equality ---------------------------------------------------------------------------

    def eq(self, a: Sym, b: Sym, span: Span | None) -> Any:
        """The Bool term ``a == b`` (ignoring operand errors, which the caller adds)."""
        if a.kind == "litset" or b.kind == "litset":
            return self._eq_litset(a, b, span)
        if a.kind is not None and b.kind is not None:
            if a.kind != b.kind:
                return FALSE
            if a.kind in _PRIMITIVE:
                return a.val == b.val
            if a.kind == "set":
                self._set_witness(a.val, b.val)
                return a.val == b.val
            self._record_witness(a.val, b.val)
            return a.val == b.val
        va, vb = self.value(a, span), self.value(b, span)
        if a.kind in ("set", None) and b.kind in ("set", None):
            both = and_(VSt.is_(va), VSt.is_(vb))
            self._set_witness(VSt.get(va), VSt.get(vb), both)
        if a.kind in ("record", None) and b.kind in ("record", None):
            both = and_(VR.is_(va), VR.is_(vb))
            self._record_witness(VR.get(va), VR.get(vb), both)
        return va == vb

    def _set_witness(self, i: Any, j: Any, when: Any = TRUE) -> None:
        # One witness per pair of set terms (a policy set repeats its comparisons).
        if i.eq(j) or not self.w.first_witness("set", i, j):
            return
        w = self.w
        d = w.set_witness()
        w.side.append(z3.Implies(and_(when, i != j), w.member(i, d) != w.member(j, d)))

    def _record_witness(self, r: Any, q: Any, when: Any = TRUE) -> None:
        if r.eq(q) or not self.w.first_witness("record", r, q):
            return
        k = self.w.witness_key()
        self.w.side.append(z3.Implies(and_(when, r != q), select(r, k) != select(q, k)))

    def _eq_litset(self, a: Sym, b: Sym, span: Span | None) -> Any:
        if a.kind != "litset":
            a, b = b, a
        if b.kind == "litset":
            # Equal iff each contains the other.
            left = and_(*(or_(*(self.eq(x, y, span) for y in b.val)) for x in a.val))
            right = and_(*(or_(*(self.eq(y, x, span) for x in a.val)) for y in b.val))
            return and_(left, right)
        if b.kind in _PRIMITIVE or b.kind == "record":
            return FALSE
        if not a.val:  # `[]`: equal to a data set iff it is empty
            te, set_id = unpack(b, "set")
            return and_(not_(te), self.w.is_empty(set_id))
        if any(x.kind not in _PRIMITIVE for x in a.val):
            raise self.unsupported(
                "comparing a set literal of non-primitive values with a set from data", span
            )
        # Equal iff the data set holds every element and nothing else.
        te, set_id = unpack(b, "set")
        values = tuple(self.value(x, span) for x in a.val)
        holds_all = and_(*(self.w.member(set_id, v) for v in values))
        return and_(not_(te), holds_all, self.w.literal_contains_all(values, set_id))

    # -- methods ----------------------------------------------------------------------------

    def method(self, e: A.MethodCall) -> Sym:
        w = self.w
        recv = self.expr(e.obj)
        if e.method in ("hasTag", "getTag"):
            te, x = unpack(recv, "entity")
            key = self.expr(e.args[0])
            tk, k = unpack(key, "string")
            err = or_(recv.err, te, key.err, tk)
            has, val = w.tag(x, k)
            if e.method == "hasTag":
                return Sym(err, "bool", and_(w.exists(x), has))
            return Sym(or_(err, not_(w.exists(x)), not_(has)), None, w.data(val))
        if e.method not in _SET_METHODS:
            return self.ext_method(e)
        if recv.kind == "litset":
            recv_err, recv_te = recv.err, FALSE
        else:
            recv_err = recv.err
            recv_te, _ = unpack(recv, "set")
        if e.method == "isEmpty":
            if recv.kind == "litset":
                return Sym(recv_err, "bool", const(not recv.val))
            _, set_id = unpack(recv, "set")
            return Sym(or_(recv_err, recv_te), "bool", w.is_empty(set_id))
        arg = self.expr(e.args[0])
        if e.method == "contains":
            return Sym(or_(recv_err, recv_te, arg.err), "bool", self._has(recv, arg, e.span))
        # containsAll / containsAny: the argument must be a set too.
        if arg.kind != "litset":
            if arg.kind not in ("set", None):
                return Sym(TRUE, "bool", FALSE)
            arg_te, small = unpack(arg, "set")
            err = or_(recv_err, recv_te, arg.err, arg_te)
            return Sym(err, "bool", self._with_data_set(e, recv, small))
        hits = [self._has(recv, x, e.span) for x in arg.val]
        val = and_(*hits) if e.method == "containsAll" else or_(*hits)
        return Sym(or_(recv_err, recv_te, arg.err), "bool", val)

    def _with_data_set(self, e: A.MethodCall, recv: Sym, small: Any) -> Any:
        """``recv.containsAll(s)`` / ``recv.containsAny(s)`` for a set ``s`` from data."""
        w = self.w
        if recv.kind == "litset":
            if e.method == "containsAny":
                return or_(*(w.member(small, self.value(x, e.span)) for x in recv.val))
            if any(x.kind not in _PRIMITIVE for x in recv.val):
                raise self.unsupported(
                    "`containsAll` of a set from data in a set literal of non-primitive values",
                    e.span,
                )
            return w.literal_contains_all(tuple(self.value(x, e.span) for x in recv.val), small)
        _, big = unpack(recv, "set")
        if e.method == "containsAll":
            return w.contains_all(big, small)
        return w.contains_any(big, small)

    def _has(self, recv: Sym, element: Sym, span: Span | None) -> Any:
        """Whether the set ``recv`` contains ``element`` (errors aside)."""
        if recv.kind == "litset":
            return or_(*(self.eq(element, x, span) for x in recv.val))
        _, set_id = unpack(recv, "set")
        return self.w.member(set_id, self.value(element, span))
