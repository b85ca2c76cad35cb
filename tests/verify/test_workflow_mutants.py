"""The Workflow chapter (spec/workflow.lion): it proves, and every obligation has teeth.

Each mutant changes the machine the way an executor bug would and must make
the named obligation REFUTED; together they cover every obligation, so none
of them holds merely because it cannot fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lion.spec.load import load_paths
from lion.verify.cli import _proofs_for
from lion.verify.prove import Status, prove_module

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec" / "workflow.lion"
PROOFS = ROOT / "proofs"

# (what the bug is, original text, mutated text, the obligation it must refute)
MUTANTS = [
    (
        "a step starts once its dependencies have started, not finished",
        "not (s in skipped) and deps[s] subset done\n",
        "not (s in skipped) and deps[s] subset (done union running)\n",
        "dag_order",
    ),
    (
        "a step is retried once more than it allows",
        "if attempts[s] > allowed[s] then failed union {s}",
        "if attempts[s] > allowed[s] + 1 then failed union {s}",
        "retries_bounded",
    ),
    (
        "a failed step waits for a retry it has no room for",
        "if attempts[s] > allowed[s] then failed union {s}",
        "if attempts[s] > allowed[s] + 1 then failed union {s}",
        "retry_has_room",
    ),
    (
        "a failed attempt is refunded",
        "    budget = budget -\n      card(starts(deps, running minus {s}, done, failed_after(",
        "    budget = budget + 1 -\n      card(starts(deps, running minus {s}, done, failed_after(",
        "workflow_terminates",
    ),
    (
        "an attempt of the last step is not counted",
        "with [3: a[3] + one_if(3 in started)]",
        "with [3: a[3]]",
        "workflow_terminates",
    ),
    (
        "a step that returns stays running, so an event need not bring the run closer to its end",
        "    running = (running minus {s}) union\n"
        "      starts(deps, running minus {s}, done union {s}",
        "    running = running union\n      starts(deps, running minus {s}, done union {s}",
        "workflow_ranked",
    ),
    (
        "the concurrency limit is ignored",
        "  let room = min(budget, LIMIT - card(running));",
        "  let room = budget;",
        "concurrency_bounded",
    ),
    (
        "the executor starts steps the budget cannot pay for",
        "  let room = min(budget, LIMIT - card(running));",
        "  let room = min(budget + 1, LIMIT - card(running));",
        "Workflow.ranges",
    ),
    (
        "a done step is started again",
        "  not (s in running) and not (s in done) and not (s in failed) and not (s in skipped)",
        "  not (s in running) and not (s in failed) and not (s in skipped)",
        "well_formed",
    ),
    (
        "conditions are never asked",
        "attempts[s] == 0 and deps[s] subset done and not cond[s]",
        "attempts[s] == 0 and deps[s] subset done and not cond[s] and false",
        "condition_respected",
    ),
    (
        "a step is skipped while its dependencies are all done",
        "  attempts[s] == 0 and deps[s] subset done and not cond[s]",
        "  attempts[s] == 0 and deps[s] subset done",
        "skips_are_justified",
    ),
    (
        "a skip is not passed on to what depends on the skipped step",
        "(deps[s] inter (failed union skipped)) != {}",
        "(deps[s] inter failed) != {}",
        "run_decides_everything",
    ),
]


def _prove(text: str, tmp_path: Path, only: set[str] | None = None) -> dict[str, Status]:
    target = tmp_path / "workflow.lion"
    target.write_text(text, encoding="utf-8")
    (module,) = load_paths([target])
    results = prove_module(module, _proofs_for(module, PROOFS), only=only)
    return {r.name: r.status for r in results}


def test_the_chapter_proves(tmp_path: Path) -> None:
    statuses = _prove(SPEC.read_text(encoding="utf-8"), tmp_path)
    assert set(statuses) >= {"dag_order", "retries_bounded", "workflow_terminates"}
    assert set(statuses.values()) == {Status.PROVED}, statuses


def test_every_obligation_says_what_it_guarantees() -> None:
    (module,) = load_paths([SPEC])
    assert module.chapter == "Workflow"
    for obligation in [*module.theorems, *module.invariants]:
        assert obligation.doc, f"`{obligation.name}` has no plain-English line"


def test_every_obligation_has_a_mutant(tmp_path: Path) -> None:
    statuses = _prove(SPEC.read_text(encoding="utf-8"), tmp_path)
    assert set(statuses) == {killer for *_, killer in MUTANTS}


@pytest.mark.parametrize(
    ("bug", "old", "new", "killer"), MUTANTS, ids=[f"{m[3]}-{i}" for i, m in enumerate(MUTANTS)]
)
def test_mutant_is_refuted(tmp_path: Path, bug: str, old: str, new: str, killer: str) -> None:
    text = SPEC.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"mutant does not apply: {old!r}"
    statuses = _prove(text.replace(old, new), tmp_path, only={killer})
    assert statuses[killer] is Status.REFUTED, f"{bug}: {statuses}"
