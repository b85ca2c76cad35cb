"""Each proof obligation as an SMT-LIB 2 script: every `(check-sat)` answering unsat
means the obligation holds.

An obligation is one or more *cases*, the ways it could fail, each a query of
its own (as the prover asks them: one query per action is far easier for a
solver than their disjunction); the obligation holds when every case is
unsat. A file holds each case between `(push 1)` and `(pop 1)`:

=====================  ==========================================================
obligation             cases (each satisfiable iff the obligation fails that way)
=====================  ==========================================================
theorem (smt)          wf(vars) and not body
invariant (induction)  base: init runs and breaks it; then one per action: a
                       well-formed state satisfying it and its lemmas, an
                       enabled step, and a state after that breaks it
invariant (bounded k)  init, k chosen steps, and a violation at some depth <= k
M.ranges               one per step (init, each action): from a well-formed
                       state satisfying the invariants the prover assumed, the
                       state after leaves a declared range
=====================  ==========================================================

The side questions the prover also asks (is the theorem vacuous, can init or
an action fire at all) are not part of the formula; the exported query is the
proof, not its sanity checks. The formulas are built from the prover's own
encoding (`_Prover._step` and friends), so they say what the prover proved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import z3

from lion.spec import ast
from lion.verify.encode import Sym
from lion.verify.proofs import Strategy
from lion.verify.prove import Result, Status, _Prover

__all__ = ["Obligation", "expected_answer", "file_name", "obligations", "write_smt2"]


@dataclass(frozen=True)
class Obligation:
    """One obligation as queries: some case is satisfiable iff the obligation fails."""

    chapter: str
    name: str
    kind: str  # "theorem" | "invariant" | "ranges"
    cases: tuple[z3.BoolRef, ...]
    # What Z3's own proof run said; the query must be unsat when this is PROVED/BOUNDED.
    status: Status


def expected_answer(status: Status) -> str | None:
    """The answer the query must get given the prover's status, when that is determined.

    PROVED and BOUNDED mean every question the prover asked was unsat; REFUTED and
    NOT INDUCTIVE mean one was sat. VACUOUS and UNKNOWN say nothing definite about
    this formula (a vacuous theorem's query is unsat, a vacuous machine's may not
    be; an UNKNOWN may be a downgrade of a formula that is unsat).
    """
    if status in (Status.PROVED, Status.BOUNDED):
        return "unsat"
    if status in (Status.REFUTED, Status.NOT_INDUCTIVE):
        return "sat"
    return None


def file_name(chapter: str, name: str) -> str:
    """``chapter.name.smt2``, with characters unsafe in a file name replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{chapter}.{name}") + ".smt2"


class _Builder:
    def __init__(self, module: ast.Module, strategies: Mapping[str, Strategy]) -> None:
        self.module = module
        self.strategies = strategies
        self.p = _Prover(module, 1.0)
        self.enc = self.p.enc

    def theorem(self, thm: ast.Theorem) -> list[z3.BoolRef]:
        env = {b.name: self.enc.fresh(b.ty, b.name) for b in thm.binders}
        wf = [self.enc.wf(b.ty, env[b.name]) for b in thm.binders]
        return [z3.And(*wf, z3.Not(self.enc.enc(thm.body, env)))]

    def induction(self, inv: ast.Invariant, lemmas: list[ast.Invariant]) -> list[z3.BoolRef]:
        p, m = self.p, self.module.machines[inv.machine]
        args0 = p._params(m.init.params, "init.")
        guard0, s0 = p._step(m, m.init, {}, args0)
        cases = [z3.And(*p._wf_all(m.init.params, args0), guard0, z3.Not(p._prop(inv.body, s0)))]
        for a in m.actions:
            state = p._params(m.vars, "")
            args = p._params(a.params, f"{a.name}.")
            guard, post = p._step(m, a, state, args)
            cases.append(
                z3.And(
                    *p._wf_all(m.vars, state),
                    *p._wf_all(a.params, args),
                    guard,
                    p._prop(inv.body, state),
                    *[p._prop(lemma.body, state) for lemma in lemmas],
                    z3.Not(p._prop(inv.body, post)),
                )
            )
        return cases

    def bounded(self, inv: ast.Invariant, bound: int) -> list[z3.BoolRef]:
        p, m = self.p, self.module.machines[inv.machine]
        args0 = p._params(m.init.params, "init.")
        guard0, s0 = p._step(m, m.init, {}, args0)
        facts = [*p._wf_all(m.init.params, args0), guard0]
        states = [s0]
        for depth in range(bound if m.actions else 0):
            sel = z3.Int(f"step{depth}")
            facts += [sel >= 0, sel < len(m.actions)]
            nxt: dict[str, Sym] = {}
            for j, a in enumerate(m.actions):
                args = p._params(a.params, f"{depth}.{a.name}.")
                guard, post = p._step(m, a, states[depth], args)
                facts += [*p._wf_all(a.params, args), z3.Implies(sel == j, guard)]
                for v in m.vars:
                    nxt[v.name] = (
                        post[v.name]
                        if j == 0
                        else self.enc.ite(v.ty, sel == j, post[v.name], nxt[v.name])
                    )
            states.append(nxt)
        violated = z3.Or(*[z3.Not(p._prop(inv.body, s)) for s in states])
        return [z3.And(*facts, violated)]

    def ranges(self, m: ast.Machine, assumed: list[ast.Invariant]) -> list[z3.BoolRef]:
        p = self.p
        cases = []
        for a in (m.init, *m.actions):
            state = {} if a is m.init else p._params(m.vars, "")
            args = p._params(a.params, f"{a.name}.")
            guard, post = p._step(m, a, state, args)
            facts = [*p._wf_all(a.params, args), guard]
            if a is not m.init:
                facts += [*p._wf_all(m.vars, state), *[p._prop(i.body, state) for i in assumed]]
            leaves = z3.Not(z3.And(*p._wf_all(m.vars, post), z3.BoolVal(True)))
            cases.append(z3.And(*facts, leaves))
        return cases


def obligations(
    plans: Iterable[tuple[ast.Module, Mapping[str, Strategy]]], results: Iterable[Result]
) -> list[Obligation]:
    """The query of every obligation in `results` (those of other kinds or strategies
    the prover does not discharge with Z3 are left out)."""
    by_path = {m.path: (m, s) for m, s in plans}
    done = list(results)
    status_of = {(r.path, r.name): r.status for r in done}
    out: list[Obligation] = []
    for r in done:
        if r.path not in by_path:
            continue
        module, strategies = by_path[r.path]
        b = _Builder(module, strategies)
        invariants = {i.name: i for i in module.invariants}
        formula: list[z3.BoolRef] | None = None
        if r.kind == "theorem":
            thm = next((t for t in module.theorems if t.name == r.name), None)
            strategy = strategies.get(r.name, Strategy("smt"))
            if thm is not None and strategy.kind == "smt":
                formula = b.theorem(thm)
        elif r.kind == "invariant" and r.name in invariants:
            inv = invariants[r.name]
            strategy = strategies.get(r.name, Strategy("induction"))
            if strategy.kind == "bounded":
                formula = b.bounded(inv, strategy.bound)
            elif strategy.kind == "induction":
                lemmas = [invariants[n] for n in strategy.lemmas if n in invariants]
                if len(lemmas) == len(strategy.lemmas):
                    formula = b.induction(inv, lemmas)
        elif r.kind == "ranges":
            machine = module.machines.get(r.name.removesuffix(".ranges"))
            if machine is not None:
                # The prover assumed the machine's invariants proved by induction; when
                # the ranges are PROVED those are exactly the ones that stayed PROVED.
                assumed = [
                    i
                    for i in module.invariants
                    if i.machine == machine.name
                    and strategies.get(i.name, Strategy("induction")).kind == "induction"
                    and status_of.get((r.path, i.name)) == Status.PROVED
                ]
                formula = b.ranges(machine, assumed)
        if formula is not None:
            out.append(Obligation(r.chapter, r.name, r.kind, tuple(formula), r.status))
    return out


def to_smt2(ob: Obligation) -> str:
    """The obligation as an SMT-LIB 2 script: one ``(check-sat)`` per case, each between
    ``(push 1)`` and ``(pop 1)``; the obligation holds when every answer is unsat."""
    parts = [
        f"; {ob.chapter}.{ob.name} ({ob.kind}): holds when every check-sat below answers unsat\n"
        f"; z3 (lion-verify): {ob.status.value}\n"
        "(set-logic ALL)\n"
    ]
    for i, case in enumerate(ob.cases, start=1):
        s = z3.Solver()
        s.add(case)
        body = str(s.to_smt2())
        # z3 writes a header and `(set-info :status unknown)` of its own: drop them.
        lines = [
            line
            for line in body.splitlines()
            if not line.startswith("; benchmark") and not line.startswith("(set-info :status")
        ]
        parts.append(
            f"; case {i} of {len(ob.cases)}\n(push 1)\n" + "\n".join(lines) + "\n(pop 1)\n"
        )
    return "".join(parts)


def write_smt2(obs: Iterable[Obligation], directory: Path) -> list[Path]:
    """Write one ``chapter.name.smt2`` per obligation into `directory` (created)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for ob in obs:
        path = directory / file_name(ob.chapter, ob.name)
        path.write_text(to_smt2(ob), encoding="utf-8")
        paths.append(path)
    return paths
