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
from z3 import z3core

from lion.errors import AnalysisError
from lion.kernel.policy import Span
from lion.policy.analyze._sorts import (
    NONE,
    VB,
    VE,
    VL,
    VR,
    VS,
    VDec,
    VDt,
    VDur,
    VIp,
    VSt,
    long_val,
    string_val,
)

__all__ = ["FALSE", "TRUE", "Kind", "Sym", "and_", "const", "lift", "not_", "or_", "unpack"]

Kind = (
    Literal[
        "bool",
        "long",
        "string",
        "entity",
        "set",
        "record",
        "litset",
        "decimal",
        "datetime",
        "duration",
        "ipaddr",
    ]
    | None
)

TRUE = z3.BoolVal(True)
FALSE = z3.BoolVal(False)

_CTX = z3.main_ctx()
_REF = _CTX.ref()


def _bool(ast: Any) -> Any:
    return z3.BoolRef(ast, _CTX)


def _array(terms: list[Any]) -> Any:
    array = (z3core.Ast * len(terms))()
    for i, t in enumerate(terms):
        array[i] = t.as_ast()
    return array


# The connectives below call Z3's C API directly: z3py's coercions and sort checks
# cost more than the terms themselves, and every argument here is already a Bool.

_DUMMY: dict[str, Any] = {
    "bool": FALSE,
    "long": long_val(0),
    "string": string_val(""),
    "entity": z3.IntVal(0),
    "set": z3.IntVal(0),
    "record": z3.K(z3.IntSort(), NONE),
    "decimal": long_val(0),
    "datetime": long_val(0),
    "duration": long_val(0),
    "ipaddr": z3.IntVal(0),
}

_CTORS = {
    "bool": VB,
    "long": VL,
    "string": VS,
    "entity": VE,
    "set": VSt,
    "record": VR,
    "decimal": VDec,
    "datetime": VDt,
    "duration": VDur,
    "ipaddr": VIp,
}


@dataclass(frozen=True, slots=True)
class Sym:
    """A symbolic value: ``err`` (a Bool term), ``kind`` and ``val`` (see the module doc)."""

    err: Any
    kind: Kind
    val: Any


def or_(*terms: Any) -> Any:
    """Disjunction that drops ``FALSE`` and short-circuits ``TRUE`` (by identity: cheap)."""
    kept = []
    for t in terms:
        if t is TRUE:
            return TRUE
        if t is not FALSE:
            kept.append(t)
    if not kept:
        return FALSE
    if len(kept) == 1:
        return kept[0]
    return _bool(z3core.Z3_mk_or(_REF, len(kept), _array(kept)))


def and_(*terms: Any) -> Any:
    """Conjunction that drops ``TRUE`` and short-circuits ``FALSE`` (by identity)."""
    kept = []
    for t in terms:
        if t is FALSE:
            return FALSE
        if t is not TRUE:
            kept.append(t)
    if not kept:
        return TRUE
    if len(kept) == 1:
        return kept[0]
    return _bool(z3core.Z3_mk_and(_REF, len(kept), _array(kept)))


def not_(term: Any) -> Any:
    if term is TRUE:
        return FALSE
    if term is FALSE:
        return TRUE
    return _bool(z3core.Z3_mk_not(_REF, term.as_ast()))


def const(value: bool) -> Any:
    """The shared ``TRUE`` or ``FALSE`` term (what ``and_``/``or_`` recognise)."""
    return TRUE if value else FALSE


def lift(sym: Sym, span: Span | None) -> Any:
    """``sym``'s value as a ``V`` term."""
    if sym.kind is None:
        return sym.val
    if sym.kind == "litset":  # callers go through Encoder.value, which names the place
        raise AnalysisError(f"{_at(span)}a set literal used as a value cannot be encoded exactly")
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
