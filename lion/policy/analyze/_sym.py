"""Symbolic values: a Z3 term, its kind when known statically, and when it is an error.

A ``Sym`` is the symbolic result of an expression: ``err`` holds exactly when
the evaluator raises an evaluation error, and otherwise ``val`` is the value.
When the kind is known (a literal, an operator's result) ``val`` is the bare
payload (Bool, 64-bit vector, String, Int); when it is not (an attribute read
from data) ``val`` is a ``V``. ``litset`` is a set literal, kept as its
element ``Sym``s so that membership stays a disjunction of equalities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import z3

from lion.errors import AnalysisError
from lion.kernel.policy import Span
from lion.policy.analyze._sorts import NONE, VB, VE, VL, VR, VS, VSt, long_val, string_val

__all__ = ["FALSE", "TRUE", "Kind", "Sym", "and_", "lift", "not_", "or_", "unpack"]

Kind = Literal["bool", "long", "string", "entity", "set", "record", "litset"] | None

TRUE = z3.BoolVal(True)
FALSE = z3.BoolVal(False)

_DUMMY: dict[str, Any] = {
    "bool": FALSE,
    "long": long_val(0),
    "string": string_val(""),
    "entity": z3.IntVal(0),
    "set": z3.IntVal(0),
    "record": z3.K(z3.IntSort(), NONE),
}

_CTORS = {"bool": VB, "long": VL, "string": VS, "entity": VE, "set": VSt, "record": VR}


@dataclass(frozen=True, slots=True)
class Sym:
    """A symbolic value: ``err`` (a Bool term), ``kind`` and ``val`` (see the module doc)."""

    err: Any
    kind: Kind
    val: Any


def or_(*terms: Any) -> Any:
    """Disjunction that drops constant FALSE and short-circuits constant TRUE."""
    kept = []
    for t in terms:
        if z3.is_true(t):
            return TRUE
        if not z3.is_false(t):
            kept.append(t)
    if not kept:
        return FALSE
    return kept[0] if len(kept) == 1 else z3.Or(*kept)


def and_(*terms: Any) -> Any:
    """Conjunction that drops constant TRUE and short-circuits constant FALSE."""
    kept = []
    for t in terms:
        if z3.is_false(t):
            return FALSE
        if not z3.is_true(t):
            kept.append(t)
    if not kept:
        return TRUE
    return kept[0] if len(kept) == 1 else z3.And(*kept)


def not_(term: Any) -> Any:
    if z3.is_true(term):
        return FALSE
    if z3.is_false(term):
        return TRUE
    return z3.Not(term)


def lift(sym: Sym, span: Span | None) -> Any:
    """``sym``'s value as a ``V`` term."""
    if sym.kind is None:
        return sym.val
    if sym.kind == "litset":
        raise AnalysisError(
            f"{_at(span)}a set literal used as a value (compared with a non-literal, "
            "stored in a record or a set, or chosen by `if`) cannot be encoded exactly"
        )
    return _CTORS[sym.kind].make(sym.val)


def unpack(sym: Sym, kind: str) -> tuple[Any, Any]:
    """(type error, payload) for using ``sym`` where a ``kind`` is needed."""
    if sym.kind == kind:
        return FALSE, sym.val
    if sym.kind is None:
        ctor = _CTORS[kind]
        return not_(ctor.is_(sym.val)), ctor.get(sym.val)
    return TRUE, _DUMMY[kind]


def _at(span: Span | None) -> str:
    return f"{span}: " if span is not None else ""

