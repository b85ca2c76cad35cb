"""The owner's controls (machine `Controls` in spec/integration.lion): they prove, with teeth.

Each mutant changes the machine the way a runtime bug would (a plan that keeps
a token, a resume that ignores the argument hash, a settle that commits the
reported usage uncut, a batch checked call by call) and must make the named
obligation REFUTED; together they cover every obligation of `Controls`, so
none of them holds merely because it cannot fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lion.spec.load import load_paths
from lion.verify.cli import _proofs_for
from lion.verify.prove import Status, prove_module

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec" / "integration.lion"
PROOFS = ROOT / "proofs"

_ASK = (
    "    mstatus = mstatus with [m: if tokens_spent + tokens_reserved + bound <= TOKEN_LIMIT"
    " then Asking else TooBig]\n"
    "    mheld = mheld with [m: if tokens_spent + tokens_reserved + bound <= TOKEN_LIMIT"
    " then bound else 0]\n"
    "    tokens_reserved = tokens_reserved + (if tokens_spent + tokens_reserved + bound"
    " <= TOKEN_LIMIT then bound else 0)\n"
)

# (what the bug is, original text, mutated text, how often it occurs, the obligation it refutes)
MUTANTS = [
    (
        "a batch runs while the run is paused",
        "    requires run != Paused\n    requires c != d\n",
        "    requires c != d\n",
        1,
        "paused_runs_nothing",
    ),
    (
        "a stray decision is accepted while the run is not paused",
        "    requires run == Paused\n    requires not (c in inrun)\n",
        "    requires not (c in inrun)\n",
        1,
        "strays_only_while_paused",
    ),
    (
        "a run starts out waiting on a call",
        "    inrun = {}\n",
        "    inrun = {C0}\n",
        1,
        "running_waits_on_nothing",
    ),
    (
        "a batch that does not fit is charged as if one call fitted",
        "    calls_spent = calls_spent + ran(outcome(authority, policy, t,"
        " calls_spent + 2 <= CALL_LIMIT))",
        "    calls_spent = calls_spent + ran(outcome(authority, policy, t,"
        " calls_spent + 1 <= CALL_LIMIT))",
        1,
        "calls_spent_counts_runs",
    ),
    (
        "fixing a plan leaves the branch's tokens as they were",
        "    authority = authority inter (p union {Read})\n",
        "    authority = authority\n",
        1,
        "plan_narrows",
    ),
    (
        "the plan keeps a token for a side-effecting tool it dropped",
        "authority = authority inter (p union {Read})",
        "authority = authority inter (p union {Read, Mail})",
        1,
        "plan_narrows",
    ),
    (
        "resume trusts the capability check made before the pause (a plan fixed since)",
        "  if not (t in auth) then NoCap\n  else if not yes then Declined\n",
        "  if not yes then Declined\n",
        1,
        "plan_respected",
    ),
    (
        "a call the policy left INDETERMINATE runs without asking anyone",
        "  else if pol[t] == INDETERMINATE then Waiting\n",
        "  else if pol[t] == INDETERMINATE then (if room then Ran else NoRoom)\n",
        1,
        "approval_exact",
    ),
    (
        "resume accepts a decision for other arguments (another argument hash)",
        "c in inrun implies (dcount[c] == 1 and dhash[c] == arg[c])",
        "c in inrun implies dcount[c] == 1",
        1,
        "approval_exact",
    ),
    (
        "resume accepts a call decided twice",
        "c in inrun implies (dcount[c] == 1 and dhash[c] == arg[c])",
        "c in inrun implies (dcount[c] >= 1 and dhash[c] == arg[c])",
        1,
        "approval_exact",
    ),
    (
        "a run that was resumed can be resumed again",
        "  run == Paused and not expired and strays",
        "  run != Running and not expired and strays",
        1,
        "decision_used_once",
    ),
    (
        "an expired run is resumed",
        "run == Paused and not expired and strays",
        "run == Paused and strays",
        1,
        "expired_decides_nothing",
    ),
    (
        "a paused run's calls can be made again while it waits",
        "    requires run != Paused\n    requires status[c] == Unused\n",
        "    requires status[c] == Unused or status[c] == Waiting\n",
        1,
        "paused_calls_wait",
    ),
    (
        "a call the policy denied waits for a decision",
        "  else if pol[t] == DENY then Forbidden\n",
        "  else if pol[t] == DENY then Waiting\n",
        1,
        "waiting_is_indeterminate",
    ),
    (
        "a model call that fails keeps its reservation",
        "    mstatus = mstatus with [m: Crashed]\n    mheld = mheld with [m: 0]\n"
        "    tokens_reserved = tokens_reserved - mheld[m]\n",
        "    mstatus = mstatus with [m: Crashed]\n    mheld = mheld with [m: 0]\n",
        1,
        "model_reservations_tracked",
    ),
    (
        "a settle commits the reported usage uncut",
        "tokens_spent = tokens_spent + min(used, mheld[m])",
        "tokens_spent = tokens_spent + used",
        1,
        "within_budget_controls",
    ),
    (
        "a model call is admitted without counting the reservations of calls in flight",
        _ASK,
        _ASK.replace("tokens_spent + tokens_reserved + bound", "tokens_spent + bound"),
        1,
        "within_budget_controls",
    ),
    (
        "a batch is checked call by call, so it runs partly",
        "outcome(authority, policy, t, calls_spent + 2 <= CALL_LIMIT)",
        "outcome(authority, policy, t, calls_spent + 1 <= CALL_LIMIT)",
        7,
        "batch_whole",
    ),
    (
        "stray decisions are counted past their bound",
        "    requires strays < 2\n",
        "    requires strays < 3\n",
        1,
        "Controls.ranges",
    ),
]


def _prove(text: str, tmp_path: Path, only: set[str] | None = None) -> dict[str, Status]:
    # the chapter imports policy: it sits beside it, as in spec/
    (tmp_path / "policy.lion").write_text((SPEC.parent / "policy.lion").read_text("utf-8"), "utf-8")
    target = tmp_path / "integration.lion"
    target.write_text(text, encoding="utf-8")
    (module,) = load_paths([target])
    results = prove_module(module, _proofs_for(module, PROOFS), only=only)
    return {r.name: r.status for r in results}


def _controls_obligations() -> set[str]:
    (module,) = load_paths([SPEC])
    return {i.name for i in module.invariants if i.machine == "Controls"} | {"Controls.ranges"}


def test_the_chapter_proves(tmp_path: Path) -> None:
    statuses = _prove(SPEC.read_text(encoding="utf-8"), tmp_path)
    assert set(statuses) >= _controls_obligations() | {"mediation_at_start", "within_budget"}
    assert set(statuses.values()) == {Status.PROVED}, statuses


def test_every_controls_obligation_has_a_mutant() -> None:
    assert _controls_obligations() == {killer for *_, killer in MUTANTS}


@pytest.mark.parametrize(
    ("bug", "old", "new", "count", "killer"),
    MUTANTS,
    ids=[f"{m[4]}-{i}" for i, m in enumerate(MUTANTS)],
)
def test_mutant_is_refuted(
    tmp_path: Path, bug: str, old: str, new: str, count: int, killer: str
) -> None:
    text = SPEC.read_text(encoding="utf-8")
    assert text.count(old) == count, f"mutant does not apply: {old!r}"
    statuses = _prove(text.replace(old, new), tmp_path, only={killer})
    assert statuses[killer] is Status.REFUTED, f"{bug}: {statuses}"
