"""Planted executor bugs that the `Workflow` bind (spec/workflow.lion) must catch.

Each bug breaks the real graph executor the way a plausible bug would. The
search tests assert that conformance finds a run where it and the spec
disagree, shrinks it, and saves an input that replays the failure; the
corpus test asserts that the shrunk runs kept in
`tests/corpus/conformance/workflow.Workflow.*.json` catch every bug at once.

Regenerate that corpus with ``python -m tests.conformance.test_planted_workflow``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from lion.services import graph_run
from lion.services.graph import Operation, OperationId

from .planted import caught, find_bind

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "conformance"


def starts_before_a_dependency_finished(monkeypatch: pytest.MonkeyPatch) -> None:
    real_start = graph_run.Executor._start
    release = graph_run.Executor._release_dependents

    def start_releases(self: graph_run.Executor, node: Operation, borrower: object) -> None:
        real_start(self, node, borrower)
        if self.attempts[node.id] == 1:  # the bug: a started dependency counts as finished
            release(self, node.id, list(self._dependents.get(node.id, ())))

    monkeypatch.setattr(graph_run.Executor, "_start", start_releases)


def retries_one_time_too_many(monkeypatch: pytest.MonkeyPatch) -> None:
    def off_by_one(self: graph_run.Executor, op: OperationId) -> bool:
        return self.attempts[op] <= self.operations[op].retries + 1

    monkeypatch.setattr(graph_run.Executor, "_may_retry", off_by_one)


def failed_attempt_spends_no_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    real = graph_run.Executor._settle

    def refunds_failures(self: graph_run.Executor, outcome: graph_run._Outcome) -> None:
        if not outcome.ok:  # the bug: only successful attempts are charged
            self.budget_left += 1
            self.steps_taken -= 1
        real(self, outcome)

    monkeypatch.setattr(graph_run.Executor, "_settle", refunds_failures)


def concurrency_limit_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    real = graph_run.Executor.__init__

    def init(self: graph_run.Executor, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        self.limiter = anyio.CapacityLimiter(100)  # the bug: the caller's limit is dropped

    monkeypatch.setattr(graph_run.Executor, "__init__", init)


def condition_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_condition(self: graph_run.Executor, op: OperationId) -> None:
        self._enqueue(op)  # the bug: the condition is never asked

    monkeypatch.setattr(graph_run.Executor, "_dependencies_done", no_condition)


def skip_not_passed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    def skip_alone(self: graph_run.Executor, op: OperationId, reason: str) -> None:
        self.skipped[op] = reason  # the bug: what depends on a skipped step is left waiting
        self.reasons[op] = reason

    monkeypatch.setattr(graph_run.Executor, "_skip", skip_alone)


# each bug, and the variables of which the first to disagree must be one
BUGS: dict[str, tuple[Callable[[pytest.MonkeyPatch], None], tuple[str, ...]]] = {
    "starts_before_a_dependency_finished": (
        starts_before_a_dependency_finished,
        ("running", "done", "failed", "skipped", "attempts"),
    ),
    "retries_one_time_too_many": (retries_one_time_too_many, ("running", "failed")),
    "failed_attempt_spends_no_budget": (failed_attempt_spends_no_budget, ("budget", "taken")),
    "concurrency_limit_ignored": (concurrency_limit_ignored, ("running",)),
    "condition_ignored": (condition_ignored, ("running", "skipped")),
    "skip_not_passed_on": (skip_not_passed_on, ("skipped",)),
}


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_the_search_catches_the_bug(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bug: str
) -> None:
    plant, variables = BUGS[bug]
    plant(monkeypatch)
    result = caught("Workflow", tmp_path, examples=300)
    assert any(f"`{v}` is" in result.message for v in variables), result.message


@pytest.mark.parametrize("backend", ["python", "rust"])
@pytest.mark.parametrize("bug", sorted(BUGS))
def test_the_saved_corpus_catches_the_bug(
    monkeypatch: pytest.MonkeyPatch, bug: str, backend: str
) -> None:
    from lion.verify.conformance import replay_corpus

    module, bind = find_bind("Workflow")
    assert replay_corpus(module, bind, CORPUS, backend) == []  # the real executor passes
    BUGS[bug][0](monkeypatch)
    assert replay_corpus(module, bind, CORPUS, backend) != []


def _regenerate() -> None:
    """Search each bug once more and keep its shrunk run in the corpus, per backend."""
    from lion.verify.conformance import check_bind

    module, bind = find_bind("Workflow")
    for name, (plant, _) in sorted(BUGS.items()):
        for backend in ("python", "rust"):
            with pytest.MonkeyPatch.context() as mp:
                plant(mp)
                result = check_bind(module, bind, examples=1000, backends=(backend,), corpus=CORPUS)
            print(f"{name} ({backend}): {result.failing_text}")


if __name__ == "__main__":
    _regenerate()
