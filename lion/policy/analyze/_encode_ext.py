"""Ordering and the extension types, for ``Encoder`` (a mixin in its own module).

``<``/``<=``/``>``/``>=`` take two longs, two datetimes or two durations.
``decimal``, ``datetime`` and ``duration`` constructors on a string literal
are evaluated when encoding (a malformed literal is an error every time);
their methods are 64-bit arithmetic with the evaluator's overflow errors.
``ip`` and the address methods are not encoded (AnalysisError); address
values in data are still represented (by an opaque id), so equality on them
stays exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import z3

from lion.kernel.policy import Span
from lion.kernel.policy import _ast as A
from lion.kernel.policy._extensions import (
    ExtensionError,
    parse_datetime,
    parse_decimal,
    parse_duration,
)
from lion.policy.analyze._sorts import VL, VDt, VDur, long_val
from lion.policy.analyze._sym import FALSE, TRUE, Sym, and_, not_, or_, unpack

if TYPE_CHECKING:
    from lion.errors import AnalysisError
    from lion.policy.analyze._world import World

__all__ = ["ExtOps"]

MS_PER_DAY = 86_400_000
_ORDERED = ("long", "datetime", "duration")
_DECIMAL_ORDER = {
    "lessThan": "<",
    "lessThanOrEqual": "<=",
    "greaterThan": ">",
    "greaterThanOrEqual": ">=",
}
_UNITS = {
    "toDays": MS_PER_DAY,
    "toHours": 3_600_000,
    "toMinutes": 60_000,
    "toSeconds": 1000,
    "toMilliseconds": 1,
}


def _order(op: str, a: Any, b: Any) -> Any:
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


class ExtOps:
    """Comparisons and extension calls; needs ``w``, ``expr``, ``value`` and ``unsupported``."""

    w: World

    if TYPE_CHECKING:

        def expr(self, e: A.Expr) -> Sym: ...

        def value(self, sym: Sym, span: Span | None) -> Any: ...

        def unsupported(self, what: str, span: Span | None) -> AnalysisError: ...

    def compare(self, op: str, left: Sym, right: Sym, span: Span | None) -> Sym:
        """``left op right`` on two longs, two datetimes or two durations."""
        err = or_(left.err, right.err)
        if left.kind == right.kind and left.kind in _ORDERED:
            return Sym(err, "bool", _order(op, left.val, right.val))
        if left.kind not in (*_ORDERED, None) or right.kind not in (*_ORDERED, None):
            return Sym(TRUE, "bool", FALSE)
        a, b = self.value(left, span), self.value(right, span)
        longs = and_(VL.is_(a), VL.is_(b))
        datetimes = and_(VDt.is_(a), VDt.is_(b))
        durations = and_(VDur.is_(a), VDur.is_(b))
        ok = or_(longs, datetimes, durations)
        x = z3.If(VL.is_(a), VL.get(a), z3.If(VDt.is_(a), VDt.get(a), VDur.get(a)))
        y = z3.If(VL.is_(b), VL.get(b), z3.If(VDt.is_(b), VDt.get(b), VDur.get(b)))
        return Sym(or_(err, not_(ok)), "bool", _order(op, x, y))

    def ext_call(self, e: A.ExtCall) -> Sym:
        if e.name == "ip":
            raise self.unsupported("the extension function `ip` (ip addresses)", e.span)
        if len(e.args) != 1:
            return Sym(TRUE, e.name, long_val(0))
        arg = e.args[0]
        if not isinstance(arg, A.Literal) or not isinstance(arg.value, str):
            if isinstance(arg, A.Literal):  # a literal of another type: a type error
                return Sym(TRUE, e.name, long_val(0))
            raise self.unsupported(
                f"`{e.name}` applied to a computed string (only literals are encoded)", e.span
            )
        try:
            if e.name == "decimal":
                number = parse_decimal(arg.value).scaled
            elif e.name == "datetime":
                number = parse_datetime(arg.value).millis
            else:
                number = parse_duration(arg.value).millis
        except ExtensionError:
            return Sym(TRUE, e.name, long_val(0))
        return Sym(FALSE, e.name, long_val(number))

    def ext_method(self, e: A.MethodCall) -> Sym:
        method = e.method
        if method in ("isIpv4", "isIpv6", "isLoopback", "isMulticast", "isInRange"):
            raise self.unsupported(f"the ip address method `{method}`", e.span)
        args = [self.expr(x) for x in (e.obj, *e.args)]
        errs = [x.err for x in args]
        if method in _DECIMAL_ORDER:
            return self._typed(args, errs, ("decimal", "decimal"), "bool", method)
        if method in _UNITS:
            return self._typed(args, errs, ("duration",), "long", method)
        if method in ("toDate", "toTime"):
            result = "datetime" if method == "toDate" else "duration"
            return self._typed(args, errs, ("datetime",), result, method)
        if method == "offset":
            return self._typed(args, errs, ("datetime", "duration"), "datetime", method)
        if method == "durationSince":
            return self._typed(args, errs, ("datetime", "datetime"), "duration", method)
        raise self.unsupported(f"the method `{method}`", e.span)

    def _typed(
        self, args: list[Sym], errs: list[Any], kinds: tuple[str, ...], result: str, method: str
    ) -> Sym:
        if len(args) != len(kinds):
            return Sym(TRUE, "bool", FALSE)
        payloads = []
        for sym, kind in zip(args, kinds, strict=True):
            te, v = unpack(sym, kind)
            errs.append(te)
            payloads.append(v)
        err = or_(*errs)
        if method in _DECIMAL_ORDER:
            return Sym(err, "bool", _order(_DECIMAL_ORDER[method], *payloads))
        if method in _UNITS:
            return Sym(err, "long", payloads[0] / long_val(_UNITS[method]))  # truncates to zero
        day = long_val(MS_PER_DAY)
        if method == "toTime":
            return Sym(err, "duration", _floor_mod(payloads[0], day))
        if method == "toDate":
            m = payloads[0]
            r = _floor_mod(m, day)
            ok = z3.BVSubNoUnderflow(m, r, True)
            return Sym(or_(err, not_(ok)), "datetime", m - r)
        a, b = payloads
        if method == "offset":
            ok = and_(z3.BVAddNoOverflow(a, b, True), z3.BVAddNoUnderflow(a, b))
            return Sym(or_(err, not_(ok)), "datetime", a + b)
        ok = and_(z3.BVSubNoOverflow(a, b), z3.BVSubNoUnderflow(a, b, True))
        return Sym(or_(err, not_(ok)), "duration", a - b)


def _floor_mod(m: Any, divisor: Any) -> Any:
    """Python's ``m % divisor`` for a positive divisor (the sign of the divisor)."""
    return m % divisor  # z3py's `%` on bit-vectors is bvsmod
