"""Spec mutation testing: do the theorems and binds of a chapter have teeth?

A *mutant* is the chapter with one small change to its model (see
`lion.verify._mutants_gen` for the mechanical operators and
`lion.verify._mutants_named` for the historic survivors of issue 17). Each
mutant is judged in order:

1. **equivalent**: Z3 shows the mutated function (or action, or init) gives
   the same result as the original on every input (every state and argument);
   no check can tell them apart, and the reason is reported;
2. **refuted**: some theorem, invariant or `M.ranges` that reads the mutated
   definition is no longer PROVED (REFUTED, NOT INDUCTIVE or VACUOUS); only
   those obligations are proved again, with the per-obligation timeout;
3. **caught**: conformance, with the chapter's binds that read the mutated
   definition run against the mutated spec on a few random inputs: the real
   implementation disagrees with it;
4. else it **survived**: neither the proofs nor the implementation notice.

The score of a chapter is killed (refuted + caught) over the non-equivalent mutants.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import z3

from lion.errors import SpecError
from lion.spec import ast
from lion.spec.load import load_text
from lion.verify._mutants_conform import exhaustive
from lion.verify._mutants_gen import (
    OPERATORS,
    called,
    expr_references,
    model_definitions,
    references,
    sites,
)
from lion.verify._mutants_named import NAMED
from lion.verify.conformance import check_bind
from lion.verify.encode import Encoder
from lion.verify.proofs import Strategy
from lion.verify.prove import Status, obligation_names, prove_module

__all__ = [
    "OPERATORS",
    "ChapterReport",
    "Mutant",
    "Outcome",
    "generate",
    "judge",
    "mutate_chapter",
]

EQUIVALENCE_TIMEOUT = 2.0  # seconds for the equivalence check of one mutant
DEFAULT_EXAMPLES = 1000  # conformance inputs per bind and mutant (as lion-verify)


@dataclass(frozen=True)
class Mutant:
    """One mutated chapter and where it differs from the original."""

    id: str  # "<chapter file>:<n>" or "<chapter file>:<name>" for named ones
    chapter: str
    path: str
    operator: str  # one of OPERATORS, or "named"
    where: str
    line: int
    column: int
    description: str
    module: ast.Module = field(repr=False, compare=False)
    touched: frozenset[str] = frozenset()
    machine: str | None = None  # for an action mutant, its machine

    def location(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operator": self.operator,
            "location": {"path": self.path, "line": self.line, "column": self.column},
            "where": self.where,
            "description": self.description,
        }


@dataclass
class Outcome:
    mutant: Mutant
    verdict: str  # "refuted" | "caught" | "survived" | "equivalent"
    by: str = ""  # the obligation or bind that killed it
    reason: str = ""
    seconds: float = 0.0
    unknown: tuple[str, ...] = ()  # obligations that timed out on this mutant

    @property
    def killed(self) -> bool:
        return self.verdict in ("refuted", "caught")

    def to_json(self) -> dict[str, Any]:
        return {
            **self.mutant.to_json(),
            "verdict": self.verdict,
            "by": self.by,
            "reason": self.reason,
            "unknown": list(self.unknown),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class ChapterReport:
    chapter: str
    path: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    available: int = 0  # mutants before --max sampling
    baseline: list[str] = field(default_factory=list)  # obligations the original does not prove

    def count(self, verdict: str) -> int:
        return sum(1 for o in self.outcomes if o.verdict == verdict)

    @property
    def non_equivalent(self) -> int:
        return len(self.outcomes) - self.count("equivalent")

    @property
    def killed(self) -> int:
        return self.count("refuted") + self.count("caught")

    @property
    def score(self) -> float:
        return 1.0 if self.non_equivalent == 0 else self.killed / self.non_equivalent

    @property
    def ok(self) -> bool:
        return self.count("survived") == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "chapter": self.chapter,
            "path": self.path,
            "available": self.available,
            "not_proved_in_original": self.baseline,
            "generated": len(self.outcomes),
            "refuted": self.count("refuted"),
            "caught": self.count("caught"),
            "survived": self.count("survived"),
            "equivalent": self.count("equivalent"),
            "score": round(self.score, 4),
            "seconds": round(self.seconds, 2),
            "by_operator": self.by_operator(),
            "survivors": [o.to_json() for o in self.outcomes if o.verdict == "survived"],
            "equivalents": [o.to_json() for o in self.outcomes if o.verdict == "equivalent"],
            "mutants": [o.to_json() for o in self.outcomes],
        }

    def by_operator(self) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for o in self.outcomes:
            row = table.setdefault(o.mutant.operator, {})
            row[o.verdict] = row.get(o.verdict, 0) + 1
        return table


# ---- building mutants


def _with(module: ast.Module, new: ast.Fn | ast.Const | ast.Machine) -> ast.Module:
    """`module` with its definition of `new.name` replaced by `new`."""
    defs = tuple(
        new if type(d) is type(new) and d.name == new.name else d for d in module.definitions
    )
    fns, consts, machines = dict(module.fns), dict(module.consts), dict(module.machines)
    if isinstance(new, ast.Fn):
        fns[new.name] = new
    elif isinstance(new, ast.Const):
        consts[new.name] = new
    else:
        machines[new.name] = new
    return dataclasses.replace(module, definitions=defs, fns=fns, consts=consts, machines=machines)


def _mechanical(module: ast.Module) -> Iterator[Mutant]:
    stem = Path(module.path).stem
    for n, site in enumerate(sites(module, model_definitions(module))):
        d = site.definition
        yield Mutant(
            id=f"{stem}:{n}",
            chapter=module.chapter,
            path=module.path,
            operator=site.operator,
            where=site.where,
            line=site.pos.line,
            column=site.pos.column,
            description=_describe(module.source, site.pos, site.description),
            module=_with(module, d),
            touched=frozenset({d.name}),
            machine=d.name if isinstance(d, ast.Machine) else None,
        )


def _describe(source: str, pos: ast.Pos, change: str, width: int = 48) -> str:
    """`change`, then the source text it changes: from `pos` to the end of its line, or
    (for a dropped left conjunct, marked by the generator) to where the right one starts."""
    change, _, until = change.partition("\x00")
    lines = source.splitlines()
    if not 0 < pos.line <= len(lines):
        return f"{change}: (no source)"
    text = lines[pos.line - 1][pos.column - 1 :]
    if until:
        line, column = (int(x) for x in until.split(":"))
        if line == pos.line and column > pos.column:
            text = text[: column - pos.column].rstrip().removesuffix("and").rstrip()
    text = text.rstrip()
    return f"{change}: `{text[:width]}{'...' if len(text) > width else ''}`"


def _named(module: ast.Module) -> Iterator[Mutant]:
    """The named mutants of this chapter; a patch that no longer applies is a SpecError."""
    stem = Path(module.path).stem
    for named in NAMED:
        if named.file != stem:
            continue
        at = module.source.find(named.old)
        if at < 0 or module.source.count(named.old) != 1:
            raise SpecError(
                f"named mutant `{named.name}`: its original text is not found once in "
                f"{module.path}; update lion/verify/_mutants_named.py"
            )
        line = module.source.count("\n", 0, at) + 1
        text = module.source.replace(named.old, named.new)
        yield Mutant(
            id=f"{stem}:{named.name}",
            chapter=module.chapter,
            path=module.path,
            operator="named",
            where=", ".join(named.touched),
            line=line,
            column=1,
            description=named.description,
            module=load_text(text, module.path),
            touched=frozenset(named.touched),
        )


def generate(
    module: ast.Module, *, limit: int | None = None, seed: int = 0
) -> tuple[list[Mutant], int]:
    """The mutants of `module` (named ones always, then mechanical ones, at most `limit`
    in all, sampled with `seed`), and how many there were before sampling."""
    named = list(_named(module))
    mechanical = list(_mechanical(module))
    available = len(named) + len(mechanical)
    if limit is not None and len(named) + len(mechanical) > limit:
        keep = max(limit - len(named), 0)
        picked = sorted(random.Random(seed).sample(range(len(mechanical)), keep))
        mechanical = [mechanical[i] for i in picked]
    return named + mechanical, available


# ---- judging one mutant


def _differs(s: z3.Solver) -> bool:
    """Is the difference asserted in `s` possible? (An unknown counts as possible.)"""
    return bool(s.check() != z3.unsat)


def _equivalent(ctx: _Context, m: Mutant) -> str | None:
    """Why no check can tell mutant `m` from the original, or None.

    Every *use* of what the mutant changed is compared with Z3: each function a
    theorem, an invariant or a bind calls directly, and each init and action of a
    machine, when it reaches the changed definition, must give the same result
    (the same guard and the same updates) on every input and every state.
    """
    if m.operator == "named":
        return None
    enc0, enc1 = Encoder(ctx.module), Encoder(m.module)
    compared: list[str] = []
    for name in sorted(ctx.fn_roots):
        if not references(ctx.module, {name}) & m.touched:
            continue
        f0, f1 = ctx.module.fns[name], m.module.fns[name]
        s = z3.Solver()
        s.set("timeout", int(EQUIVALENCE_TIMEOUT * 1000))
        env = {p.name: enc0.fresh(p.ty, f"p.{p.name}") for p in f0.params}
        s.add(*[enc0.wf(p.ty, env[p.name]) for p in f0.params])
        s.add(z3.Not(enc0.eq(f0.result, enc0.enc(f0.body, env), enc1.enc(f1.body, env))))
        if _differs(s):
            return None
        compared.append(f"`{name}`")
    for machine in ctx.module.definitions:
        if (
            not isinstance(machine, ast.Machine)
            or not references(ctx.module, {machine.name}) & m.touched
        ):
            continue
        mutated = m.module.machines[machine.name]
        pairs = [(machine.init, mutated.init, True)]
        pairs += [(a, b, False) for a, b in zip(machine.actions, mutated.actions, strict=True)]
        for a0, a1, is_init in pairs:
            if a0 == a1 and not references(ctx.module, _action_calls(a0)) & m.touched:
                continue  # the same text, reading nothing that changed
            facts = [] if is_init else [i.body for i in ctx.invariants.get(machine.name, [])]
            if _action_differs(machine, enc0, enc1, a0, a1, is_init, facts):
                return None
        compared.append(f"every action of `{machine.name}`")
    if not compared:
        return None
    return (
        f"{', '.join(compared)}: the same results as the original on every input, in every "
        "state where the original's proved invariants hold"
    )


def _action_differs(
    machine: ast.Machine,
    enc0: Encoder,
    enc1: Encoder,
    a0: ast.Action,
    a1: ast.Action,
    is_init: bool,
    facts: Sequence[ast.Expr] = (),
) -> bool:
    types = {v.name: v.ty for v in machine.vars}
    s = z3.Solver()
    s.set("timeout", int(EQUIVALENCE_TIMEOUT * 1000))
    state = {} if is_init else {v.name: enc0.fresh(v.ty, f"s.{v.name}") for v in machine.vars}
    args = {p.name: enc0.fresh(p.ty, f"a.{p.name}") for p in a0.params}
    s.add(*[enc0.wf(types[n], v) for n, v in state.items()])
    s.add(*[enc0.wf(p.ty, args[p.name]) for p in a0.params])
    # Only states where the original's proved invariants hold matter: every reachable one.
    s.add(*[enc0.enc(f, {}, state) for f in facts])

    def guard(enc: Encoder, a: ast.Action) -> z3.BoolRef:
        return z3.And(*[enc.enc(r, args, state) for r in a.requires], z3.BoolVal(True))

    def post(enc: Encoder, a: ast.Action) -> dict[str, Any]:
        after = dict(state)
        after.update({t: enc.enc(e, args, state) for t, e in a.updates})
        return after

    g0, g1 = guard(enc0, a0), guard(enc1, a1)
    p0, p1 = post(enc0, a0), post(enc1, a1)
    same = [enc0.eq(types[t], p0[t], p1[t]) for t in types if t in p0 and t in p1]
    s.add(z3.Or(g0 != g1, z3.And(g0, z3.Not(z3.And(*same, z3.BoolVal(True))))))
    return _differs(s)


@dataclass
class _Context:
    """What a chapter's mutants share: its strategies, and who reads what."""

    module: ast.Module
    strategies: Mapping[str, Strategy]
    obligation_refs: dict[str, set[str]]
    bind_refs: dict[str, set[str]]
    fn_roots: set[str]  # functions a theorem, an invariant or a bind calls directly
    proved: set[str]  # the obligations the original proves: only these can kill
    invariants: dict[str, list[ast.Invariant]]  # per machine, its PROVED invariants

    @classmethod
    def of(
        cls,
        module: ast.Module,
        strategies: Mapping[str, Strategy],
        timeout: float = 10.0,
        baseline: bool = True,
    ) -> _Context:
        """What the mutants of `module` share; proves the original once (its PROVED
        obligations are the ones a mutant can break, and its invariants hold in every
        reachable state, which the equivalence check may assume)."""
        refs: dict[str, set[str]] = {}
        for t in module.theorems:
            refs[t.name] = expr_references(module, t.body)
        for inv in module.invariants:
            refs[inv.name] = expr_references(module, inv.body) | references(module, {inv.machine})
        for name in obligation_names(module):
            if name.endswith(".ranges"):
                refs[name] = references(module, {name.removesuffix(".ranges")})
        binds = {b.name: references(module, {b.name}) for b in module.binds}
        roots = {b.name for b in module.binds if b.name in module.fns}
        for body in [t.body for t in module.theorems] + [i.body for i in module.invariants]:
            roots |= {n for n in called(body) if n in module.fns}
        if baseline:
            results = prove_module(module, strategies, timeout=timeout)
            proved = {r.name for r in results if r.status.ok}
        else:  # the caller vouches that the original proves
            proved = set(obligation_names(module))
        invariants: dict[str, list[ast.Invariant]] = {}
        for inv in module.invariants:
            if inv.name in proved:
                invariants.setdefault(inv.machine, []).append(inv)
        return cls(module, strategies, refs, binds, roots, proved, invariants)


def _reduced(ctx: _Context, m: Mutant) -> ast.Module:
    """The mutant with each machine cut down to the actions that differ from the original.

    Sound for induction: the base case and the steps of unchanged actions are the
    original's, which are PROVED, so an invariant (or `M.ranges`) of the mutant is
    PROVED exactly when the steps of the changed actions go through; a step that
    fails here fails in the full machine too. Not for `bounded K` (reachability
    needs every action): a machine with a bounded invariant is kept whole.
    """
    module = m.module
    for original in ctx.module.definitions:
        if not isinstance(original, ast.Machine):
            continue
        bounded = any(
            inv.machine == original.name
            and ctx.strategies.get(inv.name, Strategy("induction")).kind != "induction"
            for inv in ctx.module.invariants
        )
        mutated = module.machines.get(original.name)
        if bounded or mutated is None or mutated == original:
            continue
        before = {a.name: a for a in original.actions}
        keep = tuple(
            a
            for a in mutated.actions
            if before.get(a.name) != a or references(module, _action_calls(a)) & m.touched
        )
        module = _with(module, dataclasses.replace(mutated, actions=keep))
    return module


def _action_calls(a: ast.Action) -> set[str]:
    names: set[str] = set()
    for e in (*a.requires, *(v for _, v in a.updates)):
        names |= called(e)
    return names


def judge(
    ctx: _Context,
    m: Mutant,
    *,
    timeout: float,
    examples: int,
    backend: str,
    seed: int,
) -> Outcome:
    """Equivalent, refuted, caught or survived: see the module docstring."""
    start = time.perf_counter()
    outcome = Outcome(m, "survived")
    reason = _equivalent(ctx, m)
    if reason is not None:
        outcome.verdict, outcome.reason = "equivalent", reason
        outcome.seconds = time.perf_counter() - start
        return outcome
    affected = {
        n for n, refs in ctx.obligation_refs.items() if refs & m.touched and n in ctx.proved
    }
    unknown: list[str] = []
    if affected:
        proved = _reduced(ctx, m)
        for r in prove_module(proved, ctx.strategies, timeout=timeout, only=affected):
            if r.status == Status.UNKNOWN:
                unknown.append(r.name)
            elif not r.status.ok:
                outcome.verdict, outcome.by = "refuted", r.name
                outcome.reason = f"{r.status.value}: {r.message}"[:300]
                break
    outcome.unknown = tuple(unknown)
    if outcome.verdict == "survived" and examples:
        for b in m.module.binds:
            refs = ctx.bind_refs.get(b.name, set()) | references(m.module, {b.name})
            if not refs & m.touched:
                continue
            try:
                mismatch = exhaustive(m.module, b, backend)
                if mismatch is not None:
                    outcome.verdict, outcome.by, outcome.reason = "caught", b.name, mismatch
                    break
                checked = check_bind(
                    m.module, b, examples=examples, backends=(backend,), seed=seed, shrink=False
                )
            except SpecError as exc:  # the mutated spec itself fails on a generated input
                outcome.verdict, outcome.by = "caught", b.name
                outcome.reason = f"the mutated spec fails: {exc}"[:300]
                break
            if not checked.ok:
                outcome.verdict, outcome.by = "caught", b.name
                text = f" on {checked.failing_text}" if checked.failing_text else ""
                outcome.reason = f"{checked.message}{text}"[:300]
                break
    if outcome.verdict == "survived":
        outcome.reason = "no obligation fails and every bind conforms" + (
            f" ({', '.join(unknown)} UNKNOWN)" if unknown else ""
        )
    outcome.seconds = time.perf_counter() - start
    return outcome


def mutate_chapter(
    module: ast.Module,
    strategies: Mapping[str, Strategy],
    *,
    limit: int | None = None,
    seed: int = 0,
    timeout: float = 3.0,
    examples: int = DEFAULT_EXAMPLES,
    backend: str = "python",
    progress: Callable[[str], None] | None = None,
    only_ids: Sequence[str] | None = None,
    baseline: bool = True,
) -> ChapterReport:
    """Generate the mutants of one chapter and judge each one.

    With `baseline` (the default) the original is proved first: only what it proves
    can kill a mutant, and its proved invariants bound the equivalence check. Pass
    False only for a chapter known to prove in full.
    """
    start = time.perf_counter()
    report = ChapterReport(module.chapter, module.path)
    mutants, report.available = generate(module, limit=limit, seed=seed)
    if only_ids is not None:
        mutants = [m for m in mutants if m.id in only_ids]
    ctx = _Context.of(module, strategies, baseline=baseline)
    report.baseline = sorted(set(obligation_names(module)) - ctx.proved)
    if progress is not None and report.baseline:
        progress(
            f"lion-verify mutate: {module.chapter}: not PROVED in the original, so not used: "
            + ", ".join(report.baseline)
        )
    for i, m in enumerate(mutants, start=1):
        o = judge(ctx, m, timeout=timeout, examples=examples, backend=backend, seed=seed)
        report.outcomes.append(o)
        if progress is not None:
            by = f" by {o.by}" if o.by else ""
            progress(
                f"[{module.chapter} {i}/{len(mutants)}] {m.id} {m.location()} {m.operator}: "
                f"{o.verdict.upper()}{by} ({o.seconds:.2f} s)"
            )
    report.seconds = time.perf_counter() - start
    return report
