"""Obligations -> Z3 -> results.

A theorem is PROVED when its negation is unsat, REFUTED with a counterexample
when it is sat, UNKNOWN when Z3 gives up or times out. A theorem of the form
`H implies C` whose hypothesis H cannot be satisfied is VACUOUS: it holds, but
says nothing.

A machine invariant is proved by induction (init establishes it; every
enabled action preserves it, assuming it and any `using` lemmas before the
step) or checked to a bound k (every state reachable in at most k steps
satisfies it). An invariant that holds in the checked states but is not
preserved from some arbitrary state is NOT_INDUCTIVE, reported with the
counterexample to induction. Each machine with bounded ints also gets a
`ranges` obligation: every action keeps every variable inside its declared
range. Induction steps assume the ranges (and their `using` lemmas), and the
ranges obligation assumes the invariants proved by induction; each is
preserved assuming all, so their conjunction is inductive. That makes each
PROVED sound only when everything it assumed is PROVED too: an invariant whose
lemma, or whose machine's ranges, is not PROVED is reported UNKNOWN, and
`only` proves what an answer depends on even when it reports only the answer.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import z3

from lion.spec import ast
from lion.spec.ast import IntType, MapType, OptionType, RecordType, SetType, Type
from lion.verify.encode import Encoder, Sym
from lion.verify.proofs import Strategy
from lion.verify.values import format_value

__all__ = [
    "Result",
    "Status",
    "TraceStep",
    "dependencies",
    "obligation_names",
    "prove_module",
    "with_dependencies",
]

DEFAULT_TIMEOUT = 10.0
# When induction fails, search this deep for a real violation before saying
# "not inductive": a short trace turns a vague failure into a concrete bug.
CTI_SEARCH_DEPTH = 4


class Status(enum.Enum):
    PROVED = "PROVED"
    BOUNDED = "BOUNDED"  # holds in every state reachable within the bound
    REFUTED = "REFUTED"
    NOT_INDUCTIVE = "NOT INDUCTIVE"
    VACUOUS = "VACUOUS"
    UNKNOWN = "UNKNOWN"

    @property
    def ok(self) -> bool:
        return self in (Status.PROVED, Status.BOUNDED)


@dataclass(frozen=True)
class TraceStep:
    """One step of a machine trace: the action taken, its arguments, the state after."""

    action: str
    args: dict[str, Any]
    state: dict[str, Any]
    text: str  # the step written in spec terms


@dataclass
class Result:
    name: str
    chapter: str
    kind: str  # "theorem" | "invariant" | "ranges"
    strategy: str
    status: Status
    seconds: float
    path: str = ""
    doc: str = ""
    message: str = ""
    # For a REFUTED theorem: the quantified variables' values (spec values and text).
    counterexample: dict[str, Any] = field(default_factory=dict)
    counterexample_text: dict[str, str] = field(default_factory=dict)
    # For a machine: the trace to the violation, or the counterexample to induction.
    trace: list[TraceStep] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "chapter": self.chapter,
            "kind": self.kind,
            "strategy": self.strategy,
            "result": self.status.value,
            "ok": self.status.ok,
            "seconds": round(self.seconds, 4),
            "file": self.path,
            "doc": self.doc,
            "message": self.message,
            "counterexample": self.counterexample_text,
            "trace": [{"action": s.action, "text": s.text} for s in self.trace],
        }


def _has_bounded_int(ty: Type) -> bool:
    if isinstance(ty, IntType):
        return ty.bounded
    if isinstance(ty, RecordType):
        return any(_has_bounded_int(t) for _, t in ty.fields)
    if isinstance(ty, MapType):
        return _has_bounded_int(ty.value)
    if isinstance(ty, OptionType):
        return _has_bounded_int(ty.elem)
    if isinstance(ty, SetType):
        return False  # elements are indexed by the domain, never out of range
    return isinstance(ty, ast.SeqType)  # a seq's length bound is a range, as an int's


def hypotheses(body: ast.Expr) -> list[ast.Expr]:
    """The hypotheses of `H1 implies (H2 implies C)`, split at top-level `and`s."""
    hyps: list[ast.Expr] = []
    while isinstance(body, ast.Binary) and body.op == "implies":
        hyps.extend(_conjuncts(body.left))
        body = body.right
    return hyps


def _conjuncts(e: ast.Expr) -> list[ast.Expr]:
    if isinstance(e, ast.Binary) and e.op == "and":
        return [*_conjuncts(e.left), *_conjuncts(e.right)]
    return [e]


class _Prover:
    def __init__(self, module: ast.Module, timeout: float) -> None:
        self.module = module
        self.enc = Encoder(module)
        self.timeout = timeout

    def solver(self, timeout: float | None) -> z3.Solver:
        s = z3.Solver()
        s.set("timeout", int((timeout or self.timeout) * 1000))
        return s

    # ---- theorems
    def theorem(self, thm: ast.Theorem, strategy: Strategy) -> Result:
        result = self._result(thm.name, "theorem", strategy, thm.doc)
        if strategy.kind != "smt":
            result.status = Status.UNKNOWN
            result.message = f"a theorem is proved with `smt`, not `{strategy.kind}`"
            return result
        env = {b.name: self.enc.fresh(b.ty, b.name) for b in thm.binders}
        wf = [self.enc.wf(b.ty, env[b.name]) for b in thm.binders]
        s = self.solver(strategy.timeout)
        s.add(*wf)
        s.add(z3.Not(self.enc.enc(thm.body, env)))
        answer = s.check()
        if answer == z3.sat:
            model = s.model()
            result.status = Status.REFUTED
            for b in thm.binders:
                value = self.enc.value(model, b.ty, env[b.name])
                result.counterexample[b.name] = value
                result.counterexample_text[b.name] = format_value(value, b.ty)
            result.message = "counterexample: " + ", ".join(
                f"{k} = {v}" for k, v in result.counterexample_text.items()
            )
        elif answer == z3.unsat:
            hyps = hypotheses(thm.body)
            result.status = Status.PROVED
            if hyps:
                v = self.solver(strategy.timeout)
                v.add(*wf, *[self.enc.enc(h, env) for h in hyps])
                vacuity = v.check()
                if vacuity == z3.unsat:
                    result.status = Status.VACUOUS
                    result.message = (
                        "the hypotheses can never hold together, so the theorem says nothing"
                    )
                elif vacuity == z3.unknown:
                    result.message = "vacuity check inconclusive: " + v.reason_unknown()
        else:
            result.status = Status.UNKNOWN
            result.message = f"z3 gave up: {s.reason_unknown()}"
        return result

    # ---- machines
    def _params(self, params: tuple[ast.Param, ...], prefix: str) -> dict[str, Sym]:
        return {p.name: self.enc.fresh(p.ty, f"{prefix}{p.name}") for p in params}

    def _wf_all(self, params: tuple[ast.Param, ...], values: Mapping[str, Sym]) -> list[z3.BoolRef]:
        return [self.enc.wf(p.ty, values[p.name]) for p in params]

    def _step(
        self, m: ast.Machine, a: ast.Action, state: Mapping[str, Sym], args: Mapping[str, Sym]
    ) -> tuple[z3.BoolRef, dict[str, Sym]]:
        guard = z3.And(*[self.enc.enc(r, args, state) for r in a.requires], z3.BoolVal(True))
        post = dict(state)
        for target, expr in a.updates:
            post[target] = self.enc.enc(expr, args, state)
        return guard, post

    def _prop(self, body: ast.Expr, state: Mapping[str, Sym]) -> z3.BoolRef:
        return self.enc.enc(body, {}, state)

    def _describe_state(
        self, m: ast.Machine, model: z3.ModelRef, state: Mapping[str, Sym]
    ) -> tuple[dict[str, Any], str]:
        values = {v.name: self.enc.value(model, v.ty, state[v.name]) for v in m.vars}
        text = ", ".join(f"{v.name} = {format_value(values[v.name], v.ty)}" for v in m.vars)
        return values, text

    def _describe_args(
        self, a: ast.Action, model: z3.ModelRef, args: Mapping[str, Sym]
    ) -> tuple[dict[str, Any], str]:
        values = {p.name: self.enc.value(model, p.ty, args[p.name]) for p in a.params}
        text = ", ".join(format_value(values[p.name], p.ty) for p in a.params)
        return values, f"{a.name}({text})"

    def invariant(
        self, inv: ast.Invariant, strategy: Strategy, lemmas: list[ast.Invariant]
    ) -> Result:
        m = self.module.machines[inv.machine]
        result = self._result(inv.name, "invariant", strategy, inv.doc)
        if strategy.kind == "bounded":
            return self._bounded(m, inv, strategy, result, strategy.bound)
        if strategy.kind != "induction":
            result.status = Status.UNKNOWN
            result.message = (
                f"an invariant is proved by `induction` or `bounded K`, not `{strategy.kind}`"
            )
            return result
        # Base case: every initial state satisfies the invariant.
        s = self.solver(strategy.timeout)
        args = self._params(m.init.params, "init.")
        guard, s0 = self._step(m, m.init, {}, args)
        s.add(*self._wf_all(m.init.params, args), guard)
        if s.check() == z3.unsat:
            result.status = Status.VACUOUS
            result.message = "init can never run (its `requires` is unsatisfiable)"
            return result
        s.add(z3.Not(self._prop(inv.body, s0)))
        answer = s.check()
        if answer != z3.unsat:
            return (
                self._bounded(m, inv, strategy, result, 0)
                if answer == z3.sat
                else self._unknown(result, s)
            )
        # Inductive step, action by action.
        for a in m.actions:
            s = self.solver(strategy.timeout)
            state = self._params(m.vars, "")
            args = self._params(a.params, f"{a.name}.")
            guard, post = self._step(m, a, state, args)
            s.add(*self._wf_all(m.vars, state), *self._wf_all(a.params, args), guard)
            s.add(self._prop(inv.body, state))
            s.add(*[self._prop(lemma.body, state) for lemma in lemmas])
            s.add(z3.Not(self._prop(inv.body, post)))
            answer = s.check()
            if answer == z3.unknown:
                return self._unknown(result, s)
            if answer == z3.sat:
                model = s.model()
                before, before_text = self._describe_state(m, model, state)
                arg_values, call = self._describe_args(a, model, args)
                after, after_text = self._describe_state(m, model, post)
                cti = [
                    TraceStep(
                        "(arbitrary state satisfying the invariant)", {}, before, before_text
                    ),
                    TraceStep(a.name, arg_values, after, f"{call} -> {after_text}"),
                ]
                # Is there a real violation close to init? Then it is refuted, not just
                # non-inductive.
                found = self._bounded(
                    m,
                    inv,
                    strategy,
                    self._result(inv.name, "invariant", strategy, inv.doc),
                    CTI_SEARCH_DEPTH,
                )
                if found.status == Status.REFUTED:
                    return found
                result.status = Status.NOT_INDUCTIVE
                result.trace = cti
                result.message = (
                    f"not inductive: from a state satisfying it ({before_text}), "
                    f"{call} leads to {after_text}, which violates it; no violation is "
                    f"reachable within {CTI_SEARCH_DEPTH} steps: strengthen the invariant or "
                    "add lemmas with `using`"
                )
                return result
        result.status = Status.PROVED
        return result

    def _unknown(self, result: Result, s: z3.Solver) -> Result:
        result.status = Status.UNKNOWN
        result.message = f"z3 gave up: {s.reason_unknown()}"
        return result

    def _bounded(
        self, m: ast.Machine, inv: ast.Invariant, strategy: Strategy, result: Result, bound: int
    ) -> Result:
        """Bounded model checking from init: is a violation reachable within `bound` steps?"""
        s = self.solver(strategy.timeout)
        args0 = self._params(m.init.params, "init.")
        guard0, s0 = self._step(m, m.init, {}, args0)
        s.add(*self._wf_all(m.init.params, args0), guard0)
        states = [s0]
        choices: list[tuple[z3.ArithRef, list[dict[str, Sym]]]] = []
        for depth in range(bound + 1):
            s.push()
            s.add(z3.Not(self._prop(inv.body, states[depth])))
            answer = s.check()
            if answer == z3.sat:
                result.status = Status.REFUTED
                result.trace = self._trace(m, s.model(), args0, states, choices, depth)
                steps = "; ".join(step.text for step in result.trace)
                result.message = f"violated after {depth} step(s): {steps}"
                return result
            if answer == z3.unknown:
                return self._unknown(result, s)
            s.pop()
            if depth == bound or not m.actions:
                break
            sel = z3.Int(f"step{depth}")
            s.add(sel >= 0, sel < len(m.actions))
            nxt: dict[str, Sym] = {}
            arg_list = []
            for j, a in enumerate(m.actions):
                args = self._params(a.params, f"{depth}.{a.name}.")
                arg_list.append(args)
                guard, post = self._step(m, a, states[depth], args)
                s.add(*self._wf_all(a.params, args), z3.Implies(sel == j, guard))
                for v in m.vars:
                    nxt[v.name] = (
                        post[v.name]
                        if j == 0
                        else self.enc.ite(v.ty, sel == j, post[v.name], nxt[v.name])
                    )
            choices.append((sel, arg_list))
            states.append(nxt)
        result.status = Status.BOUNDED if strategy.kind == "bounded" else result.status
        result.message = f"holds in every state reachable within {bound} step(s)"
        return result

    def _trace(
        self,
        m: ast.Machine,
        model: z3.ModelRef,
        args0: Mapping[str, Sym],
        states: list[dict[str, Sym]],
        choices: list[tuple[z3.ArithRef, list[dict[str, Sym]]]],
        depth: int,
    ) -> list[TraceStep]:
        init_args, init_call = self._describe_args(m.init, model, args0)
        values, text = self._describe_state(m, model, states[0])
        trace = [TraceStep("init", init_args, values, f"{init_call} -> {text}")]
        for i in range(depth):
            sel, arg_list = choices[i]
            j = model.eval(sel, model_completion=True).as_long()
            a = m.actions[j]
            arg_values, call = self._describe_args(a, model, arg_list[j])
            values, text = self._describe_state(m, model, states[i + 1])
            trace.append(TraceStep(a.name, arg_values, values, f"{call} -> {text}"))
        return trace

    def ranges(self, m: ast.Machine, invariants: list[ast.Invariant]) -> Result:
        """Every action keeps every variable within its declared int ranges."""
        strategy = Strategy("induction")
        result = self._result(
            f"{m.name}.ranges",
            "ranges",
            strategy,
            f"every action of {m.name} keeps its variables in range",
        )
        for a in (m.init, *m.actions):
            s = self.solver(None)
            state = {} if a is m.init else self._params(m.vars, "")
            args = self._params(a.params, f"{a.name}.")
            guard, post = self._step(m, a, state, args)
            if a is not m.init:
                s.add(*self._wf_all(m.vars, state))
                s.add(*[self._prop(inv.body, state) for inv in invariants])
            s.add(*self._wf_all(a.params, args), guard)
            if s.check() == z3.unsat:
                # An action that can never fire makes every "preserved by all actions"
                # claim about it empty: report it rather than prove it.
                result.status = Status.VACUOUS
                result.message = f"`{a.name}` can never fire: its `requires` is unsatisfiable" + (
                    " in any state satisfying the invariants"
                    if invariants and a is not m.init
                    else ""
                )
                return result
            s.add(z3.Not(z3.And(*self._wf_all(m.vars, post), z3.BoolVal(True))))
            answer = s.check()
            if answer == z3.unknown:
                return self._unknown(result, s)
            if answer == z3.sat:
                model = s.model()
                arg_values, call = self._describe_args(a, model, args)
                steps = []
                if a is not m.init:
                    before, before_text = self._describe_state(m, model, state)
                    steps.append(TraceStep("(state)", {}, before, before_text))
                after, after_text = self._describe_state(m, model, post)
                steps.append(TraceStep(a.name, arg_values, after, f"{call} -> {after_text}"))
                result.status = Status.REFUTED
                result.trace = steps
                result.message = f"`{a.name}` can leave a declared range: " + "; ".join(
                    t.text for t in steps
                )
                return result
        result.status = Status.PROVED
        return result

    def _result(self, name: str, kind: str, strategy: Strategy, doc: str) -> Result:
        return Result(
            name=name,
            chapter=self.module.chapter,
            kind=kind,
            strategy=str(strategy),
            status=Status.UNKNOWN,
            seconds=0.0,
            path=self.module.path,
            doc=doc,
        )


def _ranged_machines(module: ast.Module) -> list[ast.Machine]:
    """The machines with a `ranges` obligation: those with a bounded int somewhere."""
    return [
        d
        for d in module.definitions
        if isinstance(d, ast.Machine) and any(_has_bounded_int(v.ty) for v in d.vars)
    ]


def obligation_names(module: ast.Module) -> list[str]:
    names = [d.name for d in module.definitions if isinstance(d, ast.Theorem | ast.Invariant)]
    names.extend(f"{m.name}.ranges" for m in _ranged_machines(module))
    return names


def dependencies(
    module: ast.Module, strategies: Mapping[str, Strategy] | None = None
) -> dict[str, tuple[str, ...]]:
    """What each obligation's PROVED assumes, by obligation name.

    An invariant proved by induction assumes its `using` lemmas and, when its
    machine has ranges, `M.ranges` (each step starts from a state whose
    variables are in range); `M.ranges` assumes every invariant of `M` proved
    by induction. Theorems and bounded checks assume nothing.
    """
    strategies = strategies or {}
    ranged = {m.name for m in _ranged_machines(module)}
    deps: dict[str, tuple[str, ...]] = {t.name: () for t in module.theorems}
    by_induction: dict[str, list[str]] = {m: [] for m in ranged}
    for inv in module.invariants:
        strategy = strategies.get(inv.name, Strategy("induction"))
        if strategy.kind != "induction":
            deps[inv.name] = ()
            continue
        ranges = (f"{inv.machine}.ranges",) if inv.machine in ranged else ()
        deps[inv.name] = (*strategy.lemmas, *ranges)
        if inv.machine in ranged:
            by_induction[inv.machine].append(inv.name)
    for machine, names in by_induction.items():
        deps[f"{machine}.ranges"] = tuple(names)
    return deps


def with_dependencies(deps: Mapping[str, tuple[str, ...]], names: set[str]) -> set[str]:
    """`names` and every obligation they depend on, transitively (unknown names are kept
    out: a lemma that is not an obligation is reported where it is used)."""
    needed = set(names)
    frontier = list(needed)
    while frontier:
        for dep in deps.get(frontier.pop(), ()):
            if dep in deps and dep not in needed:
                needed.add(dep)
                frontier.append(dep)
    return needed


def prove_module(
    module: ast.Module,
    strategies: Mapping[str, Strategy] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    only: set[str] | None = None,
) -> Iterator[Result]:
    """Discharge every obligation of a checked module, yielding results as they finish.

    With `only`, the named obligations are reported, but what their answers
    depend on (see `dependencies`) is proved too, so that each answer is the
    one a full run gives: the dependencies of a PROVED, and the invariants a
    `ranges` obligation assumes (a result that is not PROVED cannot be
    downgraded, so its dependencies are not needed). A PROVED that assumed
    something not PROVED is downgraded to UNKNOWN, naming what it assumed; a
    result that may still be downgraded is held back until that is settled.
    """
    strategies = strategies or {}
    prover = _Prover(module, timeout)
    invariants = {inv.name: inv for inv in module.invariants}
    definitions = {
        d.name: d for d in module.definitions if isinstance(d, ast.Theorem | ast.Invariant)
    }
    ranged = _ranged_machines(module)
    deps = dependencies(module, strategies)
    outcomes: dict[str, Status] = {}

    def asked(name: str) -> bool:
        return only is None or name in only or f"{module.chapter}.{name}" in only

    def prove(d: ast.Theorem | ast.Invariant) -> Result:
        start = time.perf_counter()
        if isinstance(d, ast.Theorem):
            r = prover.theorem(d, strategies.get(d.name, Strategy("smt")))
        else:
            strategy = strategies.get(d.name, Strategy("induction"))
            lemmas = [invariants.get(n) for n in strategy.lemmas]
            bad = [
                n
                for n, lem in zip(strategy.lemmas, lemmas, strict=True)
                if lem is None or lem.machine != d.machine
            ]
            if bad:
                r = prover._result(d.name, "invariant", strategy, d.doc)
                r.message = f"lemma `{bad[0]}` is not an invariant of `{d.machine}`"
            else:
                r = prover.invariant(d, strategy, [lem for lem in lemmas if lem is not None])
        r.seconds = time.perf_counter() - start
        outcomes[d.name] = r.status
        return r

    # What was asked, in definition order, then what the answers turn out to need.
    order = {name: i for i, name in enumerate([*definitions, *deps])}
    queue = sorted((name for name in deps if asked(name)), key=order.__getitem__)
    ranges_needed: set[str] = set()
    held: list[Result] = []  # PROVED, pending what they assumed
    while queue:
        name = queue.pop(0)
        if name in outcomes or name in ranges_needed or name not in deps:
            continue
        if name not in definitions:  # `M.ranges`: proved last, once its invariants are
            ranges_needed.add(name)
            queue.extend(deps[name])
            continue
        r = prove(definitions[name])
        if r.status == Status.PROVED and deps[name]:
            held.append(r)
            queue.extend(deps[name])
        elif asked(name):
            yield r
    # Assuming lemmas is sound when every lemma is itself proved by induction (possibly
    # assuming this invariant in turn: then their conjunction is inductive).
    _downgrade(held, outcomes, deps, final=False)
    # Ranges last: they assume every invariant of the machine that is still PROVED, as
    # the induction steps of those invariants assume the ranges. Each is preserved
    # assuming all of them, so their conjunction is inductive: sound when every one of
    # them is PROVED. If the ranges are not, no invariant of the machine is.
    ranges_results: list[Result] = []
    for m in ranged:
        name = f"{m.name}.ranges"
        if name not in ranges_needed:
            continue
        assumed = [invariants[n] for n in deps[name] if outcomes.get(n) == Status.PROVED]
        start = time.perf_counter()
        r = prover.ranges(m, assumed)
        r.seconds = time.perf_counter() - start
        outcomes[name] = r.status
        ranges_results.append(r)
    _downgrade(held, outcomes, deps, final=True)
    held.sort(key=lambda r: order[r.name])
    for r in held:
        if asked(r.name):
            yield r
    for r in ranges_results:
        if asked(r.name):
            yield r


def _downgrade(
    held: list[Result],
    outcomes: dict[str, Status],
    deps: Mapping[str, tuple[str, ...]],
    *,
    final: bool,
) -> None:
    """Downgrade to UNKNOWN each PROVED in `held` that assumed something not PROVED, until
    nothing changes (one downgrade can break another's lemma).

    Before `final`, only what is settled counts (the ranges come later); at the end an
    assumption with no outcome counts as not proved.
    """
    changed = True
    while changed:
        changed = False
        for r in held:
            if r.status != Status.PROVED:
                continue
            weak = [
                n
                for n in deps.get(r.name, ())
                if (n in outcomes or final) and outcomes.get(n) != Status.PROVED
            ]
            if not weak:
                continue
            reasons = []
            for n in weak:
                status = outcomes.get(n)
                what = "was not checked" if status is None else f"is {status.value}"
                if n.endswith(".ranges"):
                    reasons.append(
                        f"`{n}` (every variable within its declared range), which {what}"
                    )
                else:
                    reasons.append(f"the lemma `{n}`, which {what}")
            r.status = outcomes[r.name] = Status.UNKNOWN
            r.message = "not proved: the induction assumed " + " and ".join(reasons)
            changed = True
