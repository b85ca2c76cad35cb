"""The Z3 sorts of the encoding and exact conversions of strings and longs.

A dynamically typed policy value is a ``V``::

    V = B(Bool) | L(BitVec 64) | S(String) | E(Int) | St(Int) | R(Array Int O)
      | Dec(BitVec 64) | Dt(BitVec 64) | Dur(BitVec 64) | Ip(Int)
    O = none | some(V)

An entity is an ``Int`` (literal uids get fixed numbers, every other number
is a fresh uid); a decimal is its value times 10**4, a datetime and a
duration their milliseconds; an ip address is an opaque ``Int`` id (no
policy operation on addresses is encoded, so only equality matters); a set
is an ``Int`` id whose members are given by the uninterpreted ``mem``; a
record is an array from attribute-name numbers to ``O`` (``none``: no such
attribute), so record equality is array equality.
"""

from __future__ import annotations

import ctypes
from typing import Any

import z3
from z3 import z3core

__all__ = [
    "DATETIME_MAX",
    "DATETIME_MIN",
    "INT_MAX",
    "INT_MIN",
    "KEY",
    "LONG",
    "NONE",
    "ONONE",
    "OPT",
    "OSOME",
    "VB",
    "VE",
    "VL",
    "VR",
    "VS",
    "V",
    "VDec",
    "VDt",
    "VDur",
    "VIp",
    "VSt",
    "fast",
    "function",
    "long_val",
    "select",
    "signed",
    "string_of",
    "string_val",
]

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1

_DAY = 86_400_000
_MAX_OFFSET = (23 * 60 + 59) * 60_000
#: The instants a datetime in JSON can denote: 0000-01-01 to 9999-12-31, with an offset.
DATETIME_MIN = -62_167_219_200_000 - _MAX_OFFSET
DATETIME_MAX = 253_402_300_800_000 - 1 + _MAX_OFFSET

_DECLARE = """
(declare-datatypes ((V 0) (O 0))
  (((B (b Bool)) (L (l (_ BitVec 64))) (S (s String)) (E (e Int)) (St (st Int))
    (R (r (Array Int O))) (Dec (dec (_ BitVec 64))) (Dt (dt (_ BitVec 64)))
    (Dur (dur (_ BitVec 64))) (Ip (ip Int)))
   ((none) (some (val V)))))
(declare-const v V)
(declare-const o O)
(assert (= v v))
(assert (= o o))
"""


def _sorts() -> tuple[Any, Any]:
    # z3py cannot declare a datatype whose field is an array of a datatype being
    # declared; SMT-LIB can, so the two sorts come from parsing a declaration.
    parsed = z3.parse_smt2_string(_DECLARE)
    return parsed[0].arg(0).sort(), parsed[1].arg(0).sort()


V, OPT = _sorts()
LONG = z3.BitVecSort(64)
KEY = z3.IntSort()


_CTX = z3.main_ctx()


def fast(decl: z3.FuncDeclRef) -> Any:
    """``decl`` as a Python callable that builds applications through Z3's C API
    (z3py's argument coercion costs more than the term; arguments must be Z3 terms)."""
    ref, ast, arity = _CTX.ref(), decl.as_func_decl(), decl.arity()

    def apply(*args: Any, _keep: z3.FuncDeclRef = decl) -> Any:
        # `_keep` holds a reference to the declaration: the raw pointer dies with it.
        array = (z3core.Ast * arity)()
        for i, arg in enumerate(args):
            array[i] = arg.as_ast()
        return z3.z3._to_expr_ref(z3core.Z3_mk_app(ref, ast, arity, array), _CTX)

    return apply


def function(name: str, *sig: Any) -> Any:
    """An uninterpreted function, as a fast callable."""
    return fast(z3.Function(name, *sig))


def select(array: Any, key: Any) -> Any:
    """``array[key]`` through the C API."""
    return z3.z3._to_expr_ref(z3core.Z3_mk_select(_CTX.ref(), array.as_ast(), key.as_ast()), _CTX)


class _Ctor:
    """Constructor, recognizer and accessor of one ``V`` or ``O`` alternative."""

    __slots__ = ("get", "is_", "make")

    def __init__(self, sort: Any, index: int) -> None:
        make = sort.constructor(index)
        self.make: Any = fast(make)
        self.is_: Any = fast(sort.recognizer(index))
        self.get: Any = fast(sort.accessor(index, 0)) if make.arity() else None


VB, VL, VS, VE, VSt, VR, VDec, VDt, VDur, VIp = (_Ctor(V, i) for i in range(10))
ONONE, OSOME = _Ctor(OPT, 0), _Ctor(OPT, 1)
NONE = ONONE.make()


def long_val(value: int) -> z3.BitVecNumRef:
    """A 64-bit constant (two's complement) for a Python int in the long range."""
    return z3.BitVecVal(value & (2**64 - 1), 64)


def signed(value: z3.BitVecNumRef) -> int:
    """The signed Python int of a 64-bit model value."""
    raw = int(value.as_long())
    return raw - 2**64 if raw >= 2**63 else raw


def string_val(text: str) -> z3.SeqRef:
    """A Z3 string constant holding exactly ``text`` (``StringVal`` would read escapes)."""
    ctx = z3.main_ctx()
    points = [ord(ch) for ch in text]
    array = (ctypes.c_uint * len(points))(*points)
    return z3.SeqRef(z3core.Z3_mk_u32string(ctx.ref(), len(points), array), ctx)


def string_of(value: z3.ExprRef) -> str:
    """The Python text of a Z3 string constant from a model."""
    ctx = z3.main_ctx()
    length = z3core.Z3_get_string_length(ctx.ref(), value.as_ast())
    array = (ctypes.c_uint * length)()
    z3core.Z3_get_string_contents(ctx.ref(), value.as_ast(), length, array)
    return "".join(map(chr, array))
