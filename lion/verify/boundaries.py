"""What a spec says about where its behaviour changes: the numbers to test near,
and how long a machine run must be to reach its limits.

Off-by-one bugs live at the constants a spec compares with (``n < LIMIT``,
``x >= 3``), so the generators draw ``c - 1``, ``c`` and ``c + 1`` for every
such ``c`` far more often than a uniform draw would. And a bug that shows only
once a counter is full is found only by runs long enough to fill it, so the
default run length is derived from the machine's bounded state.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lion.spec import ast
from lion.verify.values import domain

__all__ = ["MIN_STEPS", "STEP_CAP", "default_max_steps", "near", "reach", "spec_numbers"]

MIN_STEPS = 16  # never shorter than the runs of lion-verify before the default was derived
STEP_CAP = 64  # a derived default above this would make conformance slow; use --max-steps
_REACH_CAP = 1_000  # stop counting once a machine is clearly too big to fill


def _walk(node: Any, found: set[int], consts: dict[str, ast.Const]) -> None:
    """Collect the int literals and int constants used anywhere under `node`."""
    if isinstance(node, ast.Lit):
        if isinstance(node.value, int) and not isinstance(node.value, bool):
            found.add(node.value)
        return
    if isinstance(node, ast.Unary) and node.op == "-" and isinstance(node.operand, ast.Lit):
        value = node.operand.value
        if isinstance(value, int) and not isinstance(value, bool):
            found.add(-value)
        return
    if isinstance(node, ast.Var) and node.kind == "const" and node.name in consts:
        _walk(consts[node.name].value, found, consts)
        return
    if isinstance(node, tuple):
        for item in node:
            _walk(item, found, consts)
        return
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            if f.name not in ("pos", "ty"):
                _walk(getattr(node, f.name), found, consts)


def spec_numbers(module: ast.Module) -> tuple[int, ...]:
    """Every int constant and int literal of the module and its imports, sorted.

    Literals in arithmetic (``n + 1``) come along with those in comparisons:
    both mark where a result changes, and the set stays small.
    """
    found: set[int] = set()
    consts = module.consts
    for c in consts.values():
        _walk(c.value, found, consts)
    for fn in module.fns.values():
        _walk(fn.body, found, consts)
    for m in module.machines.values():
        for a in (m.init, *m.actions):
            _walk(a.requires, found, consts)
            _walk(a.updates, found, consts)
    for d in module.definitions:
        if isinstance(d, ast.Theorem | ast.Invariant):
            _walk(d.body, found, consts)
    return tuple(sorted(found))


def near(numbers: tuple[int, ...] | list[int], ty: ast.IntType) -> list[int]:
    """c - 1, c and c + 1 for each number c, and the type's own bounds, within its range."""
    values = {n + d for n in numbers for d in (-1, 0, 1)}
    values |= {b for b in (ty.lo, ty.hi) if b is not None}
    return sorted(
        v for v in values if (ty.lo is None or v >= ty.lo) and (ty.hi is None or v <= ty.hi)
    )


def _distance(ty: ast.Type) -> int:
    """Steps that may be needed to move a variable of type `ty` from one end to the other."""
    if isinstance(ty, ast.IntType):
        return ty.hi - ty.lo if ty.lo is not None and ty.hi is not None else 0
    if isinstance(ty, ast.SetType):
        try:
            return len(domain(ty.elem))
        except ValueError:
            return 0
    if isinstance(ty, ast.SeqType):
        return ty.bound  # one append per element fills it
    if isinstance(ty, ast.MapType):
        try:
            keys = len(domain(ty.key))
        except ValueError:
            return 0
        return keys * _distance(ty.value)
    return 0  # records and options hold data, not counters: any step may set them


def reach(machine: ast.Machine) -> int:
    """The steps it takes to drive the machine's fullest variable to its limit.

    A bounded int counts its range (``int[0..10]`` needs 10 increments), a set
    over a finite type its number of possible members, a ``seq<T, N>`` its N, a map its keys times
    its values' distance; records and options count nothing. It is a lower
    bound on what a run must be able to do, not a measure of the state space.
    """
    return min(_REACH_CAP, max((_distance(v.ty) for v in machine.vars), default=0))


def default_max_steps(machine: ast.Machine) -> int:
    """The default length bound of a machine run: its reach plus half again plus 4 for
    the other actions interleaved, at least MIN_STEPS and at most STEP_CAP."""
    r = reach(machine)
    return max(MIN_STEPS, min(STEP_CAP, r + r // 2 + 4))
