"""Planted executor bugs that the `Workflow` bind (spec/workflow.lion) must catch.

Each test breaks the real graph executor the way a plausible bug would and
asserts that conformance finds a run where it and the spec disagree, shrinks
it, and saves an input that replays the failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from lion.services import graph_run
from lion.services.graph import Operation, OperationId

from .planted import caught


def test_starts_before_a_dependency_finished(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real_start = graph_run.Executor._start
    release = graph_run.Executor._release_dependents

    def start_releases(self: graph_run.Executor, node: Operation, borrower: object) -> None:
        real_start(self, node, borrower)
        if self.attempts[node.id] == 1:  # the bug: a started dependency counts as finished
            release(self, node.id, list(self._dependents.get(node.id, ())))

    monkeypatch.setattr(graph_run.Executor, "_start", start_releases)
    result = caught("Workflow", tmp_path, examples=300)
    assert "init(" in result.failing_text


def test_retries_one_time_too_many(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def off_by_one(self: graph_run.Executor, op: OperationId) -> bool:
        return self.attempts[op] <= self.operations[op].retries + 1

    monkeypatch.setattr(graph_run.Executor, "_may_retry", off_by_one)
    result = caught("Workflow", tmp_path, examples=300)
    assert "fail(" in result.failing_text


def test_failed_attempt_spends_no_budget(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = graph_run.Executor._settle

    def refunds_failures(self: graph_run.Executor, outcome: graph_run._Outcome) -> None:
        if not outcome.ok:  # the bug: only successful attempts are charged
            self.budget_left += 1
            self.steps_taken -= 1
        real(self, outcome)

    monkeypatch.setattr(graph_run.Executor, "_settle", refunds_failures)
    result = caught("Workflow", tmp_path, examples=300)
    assert "fail(" in result.failing_text


def test_concurrency_limit_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def unlimited(self: graph_run.Executor, limit: object) -> None:
        self.limiter = anyio.CapacityLimiter(100)  # the bug: the caller's limit is dropped

    real = graph_run.Executor.__init__

    def init(self: graph_run.Executor, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        unlimited(self, kwargs.get("limit"))

    monkeypatch.setattr(graph_run.Executor, "__init__", init)
    result = caught("Workflow", tmp_path, examples=300)
    assert "init(" in result.failing_text
