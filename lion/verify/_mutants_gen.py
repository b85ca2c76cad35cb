"""Mechanical spec mutants, built from the checked AST (no text patching).

Each mutant changes one place of one *model* definition (a function, a
constant, a machine's init or action) and keeps every type: the checked nodes
are rebuilt with `dataclasses.replace`, so the mutated module is as checked as
the original. The operator classes (`OPERATORS`):

- ``flip``: ``==``/``!=``, ``<``/``<=``, ``>``/``>=``, ``and``/``or``, ``+``/``-``
- ``drop-conjunct``: ``a and b`` becomes ``a``, or ``b``
- ``drop-guard``: one ``requires`` of an action (or init) is removed
- ``swap-branches``: ``if c then a else b`` becomes ``if c then b else a``
- ``off-by-one``: an int literal or constant ``c`` becomes ``c - 1`` or ``c + 1``
- ``negate-bool``: ``true``/``false`` swapped

Theorems and invariants are never mutated (they are the specification), nor is
what only states them (a bool function or a constant that no machine and no
bind reaches, a function only invariants or ghost updates read), nor the
updates of `ghost var`s (the bookkeeping an invariant reads): mutating those
weakens the claim, not the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lion.spec import ast

__all__ = ["OPERATORS", "Site", "model_definitions", "references", "sites"]

OPERATORS = (
    "flip",
    "drop-conjunct",
    "drop-guard",
    "swap-branches",
    "off-by-one",
    "negate-bool",
)

_FLIPS = {
    "==": "!=",
    "!=": "==",
    "<": "<=",
    "<=": "<",
    ">": ">=",
    ">=": ">",
    "and": "or",
    "or": "and",
    "+": "-",
    "-": "+",
}


@dataclass(frozen=True)
class Site:
    """One mutation of one definition: the new definition and what changed."""

    definition: ast.Fn | ast.Const | ast.Machine
    operator: str
    pos: ast.Pos
    where: str  # e.g. "fn k_and", "Workflow.run requires", "const BUDGET"
    description: str


def _is_expr(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and hasattr(value, "ty") and hasattr(value, "pos")


def _children(e: Any) -> Iterator[tuple[str, Any]]:
    for f in dataclasses.fields(e):
        if f.name in ("ty", "pos"):
            continue
        yield f.name, getattr(e, f.name)


def _local(e: ast.Expr) -> Iterator[tuple[ast.Expr, str, str, ast.Pos]]:
    """The mutants of node `e` itself: (replacement, operator, description, where)."""
    for new, op, text in _local_changes(e):
        where = e.pos
        if op == "drop-conjunct" and isinstance(e, ast.Binary):  # point at the conjunct that goes
            if new is e.left:
                where = e.right.pos
            else:  # the left one, which ends where the right one starts
                text = f"{text}\x00{e.right.pos.line}:{e.right.pos.column}"
        yield new, op, text, where


def _local_changes(e: ast.Expr) -> Iterator[tuple[ast.Expr, str, str]]:
    if isinstance(e, ast.Binary):
        if e.op in _FLIPS:
            yield (
                dataclasses.replace(e, op=_FLIPS[e.op]),
                "flip",
                f"`{e.op}` becomes `{_FLIPS[e.op]}`",
            )
        if e.op == "and":
            yield e.left, "drop-conjunct", "the right conjunct of `and` is dropped"
            yield e.right, "drop-conjunct", "the left conjunct of `and` is dropped"
    elif isinstance(e, ast.If):
        yield (
            dataclasses.replace(e, then=e.orelse, orelse=e.then),
            "swap-branches",
            "the `then` and `else` branches are swapped",
        )
    elif isinstance(e, ast.Lit):
        if isinstance(e.value, bool):
            yield (
                dataclasses.replace(e, value=not e.value),
                "negate-bool",
                f"`{str(e.value).lower()}` becomes `{str(not e.value).lower()}`",
            )
        elif isinstance(e.value, int):
            ty = e.ty
            for delta in (-1, 1):
                if isinstance(ty, ast.IntType) and ty.bounded:
                    assert ty.lo is not None and ty.hi is not None
                    if not ty.lo <= e.value + delta <= ty.hi:
                        continue  # not a value of its type: the mutant would not check
                yield (
                    dataclasses.replace(e, value=e.value + delta),
                    "off-by-one",
                    f"`{e.value}` becomes `{e.value + delta}`",
                )


def _mutate_value(value: Any) -> Iterator[tuple[Any, str, ast.Pos, str]]:
    """Every mutant of a field value: an expression, an arm, or tuples of them."""
    if isinstance(value, tuple):
        for i, item in enumerate(value):
            for new, op, pos, text in _mutate_value(item):
                yield (*value[:i], new, *value[i + 1 :]), op, pos, text
    elif isinstance(value, ast.Arm):
        for new, op, pos, text in expr_sites(value.body):
            yield dataclasses.replace(value, body=new), op, pos, text
    elif _is_expr(value):
        yield from expr_sites(value)


def expr_sites(e: ast.Expr) -> Iterator[tuple[ast.Expr, str, ast.Pos, str]]:
    """Every single-place mutant of expression `e`, as the whole mutated expression."""
    for new, op, text, where in _local(e):
        yield new, op, where, text
    for name, value in _children(e):
        for new, op, pos, text in _mutate_value(value):
            yield dataclasses.replace(e, **{name: new}), op, pos, text


def _action_sites(
    m: ast.Machine, a: ast.Action, is_init: bool
) -> Iterator[tuple[ast.Action, str, ast.Pos, str, str]]:
    label = f"{m.name}.{'init' if is_init else a.name}"
    for i, guard in enumerate(a.requires):
        rest = a.requires[:i] + a.requires[i + 1 :]
        yield (
            dataclasses.replace(a, requires=rest),
            "drop-guard",
            guard.pos,
            f"{label} requires",
            "a `requires` is dropped",
        )
        for new, op, pos, text in expr_sites(guard):
            guards = (*a.requires[:i], new, *a.requires[i + 1 :])
            yield dataclasses.replace(a, requires=guards), op, pos, f"{label} requires", text
    ghosts: frozenset[str] = getattr(m, "ghosts", frozenset())
    for i, (target, value) in enumerate(a.updates):
        if target in ghosts:
            continue  # a ghost's bookkeeping states the claim: it is not the model
        for new, op, pos, text in expr_sites(value):
            updates = (*a.updates[:i], (target, new), *a.updates[i + 1 :])
            yield (
                dataclasses.replace(a, updates=updates),
                op,
                pos,
                f"{label}: {target} =",
                text,
            )


def sites(module: ast.Module, names: set[str]) -> Iterator[Site]:
    """Every mechanical mutant of the definitions of `module` named in `names`."""
    for d in module.definitions:
        if d.name not in names:
            continue
        if isinstance(d, ast.Fn):
            for new, op, pos, text in expr_sites(d.body):
                fn = dataclasses.replace(d, body=new)
                yield Site(fn, op, pos, f"fn {d.name}", text)
        elif isinstance(d, ast.Const):
            if isinstance(d.value, ast.Lit) and isinstance(d.value.value, int):
                for new, op, _, text in expr_sites(d.value):
                    yield Site(
                        dataclasses.replace(d, value=new), op, d.pos, f"const {d.name}", text
                    )
        elif isinstance(d, ast.Machine):
            for a, is_init in [(d.init, True), *((x, False) for x in d.actions)]:
                for new_a, op, pos, where, text in _action_sites(d, a, is_init):
                    if is_init:
                        m = dataclasses.replace(d, init=new_a)
                    else:
                        acts = tuple(new_a if x is a else x for x in d.actions)
                        m = dataclasses.replace(d, actions=acts)
                    yield Site(m, op, pos, where, text)


# ---- what refers to what


def _refs(value: Any, out: set[str]) -> None:
    if isinstance(value, tuple):
        for item in value:
            _refs(item, out)
    elif isinstance(value, ast.Arm):
        _refs(value.body, out)
    elif isinstance(value, ast.Call):
        if not value.builtin:
            out.add(value.fn)
        _refs(value.args, out)
    elif isinstance(value, ast.Var):
        if value.kind == "const":
            out.add(value.name)
    elif _is_expr(value):
        for _, child in _children(value):
            _refs(child, out)


def _direct(module: ast.Module, name: str) -> set[str]:
    out: set[str] = set()
    if name in module.fns:
        _refs(module.fns[name].body, out)
    elif name in module.consts:
        _refs(module.consts[name].value, out)
    elif name in module.machines:
        m = module.machines[name]
        for a in (m.init, *m.actions):
            _refs(a.requires, out)
            _refs(tuple(v for _, v in a.updates), out)
    return out


def references(module: ast.Module, roots: set[str]) -> set[str]:
    """`roots` and every function, constant and machine they reach, transitively."""
    seen = set(roots)
    frontier = list(roots)
    while frontier:
        for name in _direct(module, frontier.pop()):
            if name not in seen:
                seen.add(name)
                frontier.append(name)
    return seen


def called(e: ast.Expr) -> set[str]:
    """The functions and constants `e` names directly."""
    out: set[str] = set()
    _refs(e, out)
    return out


def expr_references(module: ast.Module, e: ast.Expr) -> set[str]:
    out: set[str] = set()
    _refs(e, out)
    return references(module, out)


def model_definitions(module: ast.Module) -> set[str]:
    """The names of this module's own definitions that mutants change.

    Machines and binds, and the functions and constants they reach; and the
    functions (not bool: predicates state claims) that theorems are about, such as
    a combining algorithm no bind reaches. Not the functions and constants that
    only invariants read: those observe a state, they are part of the claim.
    """
    own = [d for d in module.definitions if isinstance(d, ast.Fn | ast.Const | ast.Machine)]
    machines = [m for m in own if isinstance(m, ast.Machine)]
    roots = {b.name for b in module.binds if b.name not in module.machines}
    for m in machines:  # what the machine computes, not the ghost bookkeeping of its claims
        ghosts: frozenset[str] = getattr(m, "ghosts", frozenset())
        roots.add(m.name)
        for a in (m.init, *m.actions):
            _refs(a.requires, roots)
            _refs(tuple(v for t, v in a.updates if t not in ghosts), roots)
    reached = set(roots)
    for name in roots - {m.name for m in machines}:
        reached |= references(module, {name})
    stated: set[str] = set()  # what theorems are about (invariants only observe a state)
    for t in module.theorems:
        stated |= references(module, called(t.body))
    subjects = {
        d.name
        for d in own
        if isinstance(d, ast.Fn) and d.name in stated and not isinstance(d.result, ast.BoolType)
    }
    return {d.name for d in own if d.name in reached} | subjects
