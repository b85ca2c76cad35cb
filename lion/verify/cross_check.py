"""A second opinion: every obligation re-proved by cvc5 from its SMT-LIB 2 text.

Z3 proves the obligations (`lion.verify.prove`); a bug in Z3, or in how a
query is handed to it, could make a false theorem PROVED. Here each
obligation's query (`lion.verify.smt_export`) is written as SMT-LIB 2 and
given, as text, to Z3 and to cvc5. A *disagreement* is one solver saying
sat (the obligation fails) where the other says unsat (it holds), or the
text's answer contradicting the status of the proof run; that is an error
(`lion-verify --cross-check` exits 3 naming the obligation). A solver that
answers unknown or runs out of time is reported, not a disagreement.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import z3

from lion.errors import VerifyError
from lion.spec import ast
from lion.verify.proofs import Strategy
from lion.verify.prove import Result, Status
from lion.verify.smt_export import Obligation, expected_answer, obligations, to_smt2, write_smt2

__all__ = [
    "CrossCheck",
    "Verdict",
    "cross_check",
    "cvc5_available",
    "run_cvc5",
    "run_z3",
    "second_opinion",
]

SOLVERS = ("z3", "cvc5")


@dataclass
class Verdict:
    """Both solvers' answers on one obligation's query."""

    chapter: str
    name: str
    status: str  # the proof run's status
    answers: dict[str, str] = field(default_factory=dict)  # solver -> sat | unsat | unknown
    seconds: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)  # why a solver said unknown

    @property
    def disagreement(self) -> str | None:
        """A sentence naming the conflict, or None when the answers are compatible."""
        definite = {s: a for s, a in self.answers.items() if a in ("sat", "unsat")}
        expected = expected_answer(Status(self.status))
        if len(set(definite.values())) > 1:
            said = ", ".join(f"{s} says {a}" for s, a in definite.items())
            return f"{self.chapter}.{self.name}: the solvers disagree ({said})"
        if expected is not None:
            for solver, answer in definite.items():
                if answer != expected:
                    return (
                        f"{self.chapter}.{self.name}: {solver} says {answer} on the exported "
                        f"query, but the proof run found {self.status} (expected {expected})"
                    )
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "chapter": self.chapter,
            "status": self.status,
            "answers": dict(self.answers),
            "seconds": {s: round(t, 4) for s, t in self.seconds.items()},
            "reasons": dict(self.reasons),
            "disagreement": self.disagreement,
        }


@dataclass
class CrossCheck:
    verdicts: list[Verdict]

    @property
    def disagreements(self) -> list[str]:
        return [d for v in self.verdicts if (d := v.disagreement) is not None]

    def proved(self, solver: str) -> int:
        """How many queries the solver answered unsat (the obligation holds)."""
        return sum(1 for v in self.verdicts if v.answers.get(solver) == "unsat")

    def count(self, solver: str, answer: str) -> int:
        return sum(1 for v in self.verdicts if v.answers.get(solver) == answer)

    def seconds(self, solver: str) -> float:
        return sum(v.seconds.get(solver, 0.0) for v in self.verdicts)

    def summary(self) -> list[str]:
        n = len(self.verdicts)
        lines = []
        for solver in SOLVERS:
            if not any(solver in v.answers for v in self.verdicts):
                continue
            lines.append(
                f"{solver}: {self.proved(solver)}/{n} proved (unsat), "
                f"{self.count(solver, 'sat')} refuted (sat), "
                f"{self.count(solver, 'unknown')} unknown, {self.seconds(solver):.1f} s"
            )
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "obligations": len(self.verdicts),
            "proved": {s: self.proved(s) for s in SOLVERS},
            "unknown": {s: self.count(s, "unknown") for s in SOLVERS},
            "seconds": {s: round(self.seconds(s), 3) for s in SOLVERS},
            "disagreements": self.disagreements,
            "verdicts": [v.to_json() for v in self.verdicts],
        }


def cvc5_available() -> bool:
    try:
        import cvc5  # type: ignore[import-untyped, import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def combine(answers: list[str], reason: str = "") -> tuple[str, str]:
    """One answer for an obligation from the answers of its cases: sat if any case is
    sat (it fails), unsat if every case is, else unknown."""
    if not answers:
        return "unknown", reason or "no (check-sat) answer"
    if "sat" in answers:
        return "sat", ""
    if all(a == "unsat" for a in answers):
        return "unsat", ""
    odd = next(a for a in answers if a != "unsat")
    return "unknown", reason or odd


def run_z3(text: str, timeout: float) -> tuple[str, str]:
    """Z3's answer on an SMT-LIB 2 script, read from the text as cvc5 reads it."""
    ctx = z3.Context()
    script = f"(set-option :timeout {int(timeout * 1000)})\n{text}"
    try:
        out = z3.Z3_eval_smtlib2_string(ctx.ref(), script)
    except z3.Z3Exception as exc:
        return "unknown", f"z3 could not read the query: {exc}"
    answers = [line.strip() for line in str(out).splitlines() if line.strip()]
    bad = [a for a in answers if a not in ("sat", "unsat", "unknown")]
    if bad:
        return "unknown", f"z3: {bad[0]}"
    return combine(answers)


def run_cvc5(text: str, timeout: float) -> tuple[str, str]:
    """cvc5's answer on an SMT-LIB 2 script, through its own SMT-LIB parser."""
    import cvc5  # type: ignore[import-untyped, import-not-found, unused-ignore]

    tm = cvc5.TermManager()
    solver = cvc5.Solver(tm)
    solver.setOption("tlimit-per", str(int(timeout * 1000)))
    symbols = cvc5.SymbolManager(tm)
    parser = cvc5.InputParser(solver, symbols)
    parser.setStringInput(cvc5.InputLanguage.SMT_LIB_2_6, text, "query")
    answers: list[str] = []
    try:
        while True:
            cmd = parser.nextCommand()
            if cmd.isNull():
                break
            out = cmd.invoke(solver, symbols)
            if cmd.getCommandName() == "check-sat":
                answers.append(out.strip())
    except RuntimeError as exc:  # cvc5 raises RuntimeError on bad input
        return "unknown", f"cvc5 could not read the query: {exc}"
    return combine(answers)


_RUNNERS = {"z3": run_z3, "cvc5": run_cvc5}


def cross_check(
    obligations: Iterable[Obligation],
    *,
    timeout: float,
    progress: Any = None,
) -> CrossCheck:
    """Answer every obligation's query with Z3 and cvc5; VerifyError if cvc5 is missing."""
    if not cvc5_available():
        raise VerifyError("--cross-check needs cvc5: pip install cvc5 (or the `dev` extra)")
    obs = list(obligations)
    verdicts = []
    for i, ob in enumerate(obs, start=1):
        text = to_smt2(ob)
        v = Verdict(ob.chapter, ob.name, ob.status.value)
        for solver in SOLVERS:
            start = time.perf_counter()
            answer, reason = _RUNNERS[solver](text, timeout)
            v.seconds[solver] = time.perf_counter() - start
            v.answers[solver] = answer
            if reason:
                v.reasons[solver] = reason
        verdicts.append(v)
        if progress is not None:
            said = ", ".join(f"{s} {a}" for s, a in v.answers.items())
            progress(f"[cross-check {i}/{len(obs)}] {ob.chapter}.{ob.name}: {said}")
    return CrossCheck(verdicts)


def second_opinion(
    plans: Iterable[tuple[ast.Module, Mapping[str, Strategy]]],
    results: Iterable[Result],
    *,
    export: Path | None,
    cross: bool,
    timeout: float,
    progress: Any = None,
) -> CrossCheck | None:
    """What `--export-smt DIR` and `--cross-check` do after the proofs: write the queries,
    and answer each with both solvers (None when not asked to)."""
    obs = obligations(plans, results)
    if export is not None:
        try:
            paths = write_smt2(obs, export)
        except OSError as exc:
            raise VerifyError(f"cannot write SMT-LIB files to {export}: {exc}") from None
        if progress is not None:
            progress(f"lion-verify: wrote {len(paths)} SMT-LIB 2 queries to {export}")
    if not cross:
        return None
    return cross_check(obs, timeout=timeout, progress=progress)
