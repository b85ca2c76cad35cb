"""Planted runtime bugs that the `Controls` bind (spec/integration.lion) must catch.

Each test breaks the real runtime (Session, Approvals, Gate, IPU, ledger) the
way a plausible bug would and asserts that conformance finds a run where the
runtime and the spec disagree, shrinks it, and saves an input that replays.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any
from unittest import mock

import msgspec
import pytest

from lion.kernel import ipu, ledger
from lion.services import approvals, gate, plan, session
from lion.verify.conformance import BindResult, check_bind

from . import planted
from .planted import find_bind

EXAMPLES = 3000  # a bound: each planted bug was found within 700 runs (most within 100)


def caught(name: str, tmp_path: Path, *, examples: int) -> BindResult:
    """`planted.caught` without shrinking: a shrink of these runs costs a minute."""
    return planted.caught(name, tmp_path, examples=examples, shrink=False)


def test_the_runtime_conforms(tmp_path: Path) -> None:
    module, bind = find_bind("Controls")
    result = check_bind(module, bind, examples=300, backends=("python",), corpus=tmp_path)
    assert result.ok, result.failing_text


def test_resume_accepts_a_decision_for_other_arguments(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = approvals.Approvals.check

    def lax(self: approvals.Approvals, run: Any, decisions: Any) -> Any:
        pending = {p.call_id: p.arguments_hash for p in run.pending}
        same = [  # the hash a decision names is taken to be the pending one
            msgspec.structs.replace(d, arguments_hash=pending[d.call_id])
            if d.call_id in pending
            else d
            for d in decisions
        ]
        return real(self, run, same)

    monkeypatch.setattr(approvals.Approvals, "check", lax)
    result = caught("Controls", tmp_path, examples=EXAMPLES)
    assert "resume(" in result.failing_text


def test_plan_keeps_a_dropped_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = plan.attenuated

    def keeps_mail(tokens: Any, tools: Any, keep: Any, attenuate: Any) -> Any:
        return real(tokens, tools, [*keep, tools["Mail"]], attenuate)  # Mail stays, planned or not

    monkeypatch.setattr(session, "attenuated", keeps_mail)
    result = caught("Controls", tmp_path, examples=EXAMPLES)
    assert "fix_plan" in result.failing_text


def test_settle_commits_the_reported_usage_uncut(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def uncut(spent: Any, result: Any, reserved: Any) -> Any:
        return dict(spent(result)), "; spent as reported"

    monkeypatch.setattr(ipu, "_within_reservation", uncut)
    result = caught("Controls", tmp_path, examples=EXAMPLES)
    assert "reply" in result.failing_text


def test_batch_runs_partly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # no hold for the batch: each call is checked on its own, so the first may run
    monkeypatch.setattr(gate.Gate, "reserve_batch", lambda self, caller, calls: None)
    result = caught("Controls", tmp_path, examples=EXAMPLES)
    assert "batch" in result.failing_text


def test_batch_hold_never_released(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ipu.IPU, "release", lambda self, hold: None)
    result = caught("Controls", tmp_path, examples=EXAMPLES)
    assert "batch" in result.failing_text


def test_resumed_run_accepted_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(approvals.Approvals, "mark_resumed", lambda self, run: None)
    result = caught("Controls", tmp_path, examples=EXAMPLES)
    assert "resume" in result.failing_text


def test_expiry_not_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = approvals.Approvals.check

    def timeless(self: approvals.Approvals, run: Any, decisions: Any) -> Any:
        with mock.patch.object(approvals, "time", types.SimpleNamespace(time=lambda: 0.0)):
            return real(self, run, decisions)

    monkeypatch.setattr(approvals.Approvals, "check", timeless)
    result = caught("Controls", tmp_path, examples=EXAMPLES)
    assert "expire" in result.failing_text


def test_deferred_call_runs_without_a_decision(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = approvals.Approvals.approver

    def yes_when_in_doubt(self: approvals.Approvals, request: Any, response: Any) -> Any:
        answer = real(self, request, response)
        return True if answer is ipu.DEFER else answer

    monkeypatch.setattr(approvals.Approvals, "approver", yes_when_in_doubt)
    caught("Controls", tmp_path, examples=EXAMPLES)


def test_reservation_kept_after_a_failed_model_call(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = ledger.Ledger.release

    def keeps_output_tokens(self: ledger.Ledger, reservation: ledger.Reservation) -> None:
        held = reservation.costs.get("output_tokens", 0)
        real(self, reservation)
        if held:  # the model call's output tokens stay reserved
            ledger._add(self._reserved, {"output_tokens": held}, 1)

    monkeypatch.setattr(ledger.Ledger, "release", keeps_output_tokens)
    result = caught("Controls", tmp_path, examples=EXAMPLES)
    assert "fail" in result.failing_text
