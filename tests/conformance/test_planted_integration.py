"""Planted IPU bugs that the concurrent `Runner` bind (spec/integration.lion) must catch.

Each test breaks the real kernel the way a plausible bug would and asserts
that conformance finds a run where the implementation and the spec disagree,
shrinks it, and saves an input that replays the failure.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from lion.kernel import ipu, ledger, observable

from .planted import caught


def test_approval_recheck_removed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def no_recheck(self: ipu.IPU, request: Any, base: Any) -> Any:
        return base  # trusts the capability check made before the approver's await

    monkeypatch.setattr(ipu.IPU, "_recheck_capability", no_recheck)
    # it needs an approval pending while its capability is revoked: a rarer run
    result = caught("Runner", tmp_path, examples=4000)
    assert "revoke" in result.failing_text and "approve" in result.failing_text


BACKENDS = ["python", "rust"]  # the IPU is Python; "rust" runs it on the Rust authority


@pytest.mark.parametrize("backend", BACKENDS)
def test_perform_on_deny_without_visible_change(
    backend: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = ipu.IPU.execute

    async def performs_denied_free_effects(self: ipu.IPU, request: Any, perform: Any) -> Any:
        try:
            return await real(self, request, perform)
        except ipu.EffectDenied:
            if not request.costs:  # "nothing changes anyway": the effect runs regardless
                outcome = perform()
                if hasattr(outcome, "__await__"):
                    with contextlib.suppress(Exception):  # the bug ignores how it ended
                        await outcome
            raise

    monkeypatch.setattr(ipu.IPU, "execute", performs_denied_free_effects)
    result = caught("Runner", tmp_path, backend=backend)
    # perform ran (and is parked) for a call the spec denies
    assert "arrive" in result.failing_text and "Performing" in result.message


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("field", ["reason", "granted", "determining"])
def test_observation_with_an_empty_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, field: str, backend: str
) -> None:
    real = observable.ObservationLog.append

    def blanks(self: observable.ObservationLog, obs: observable.Observation) -> Any:
        empty: Any = "" if field == "reason" else ()
        return real(self, msgspec.structs.replace(obs, **{field: empty}))

    monkeypatch.setattr(observable.ObservationLog, "append", blanks)
    result = caught("Runner", tmp_path, backend=backend)
    # the lane's status cannot be classified: the observation is shown instead
    assert "observation Observation(" in result.message


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_repeated_request_recorded_once_iscaught(
    backend: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # An audit log that drops an entry equal (but for ids and sequence) to the last one:
    # compared as a set of requests, the second identical request would be invisible.
    real = observable.ObservationLog.append

    def deduplicates(self: observable.ObservationLog, obs: observable.Observation) -> Any:
        last = self.snapshot()[-1:] if len(self) else ()
        key = (obs.principal, obs.effect, obs.decision, obs.reason)
        if last and (last[0].principal, last[0].effect, last[0].decision, last[0].reason) == key:
            return last[0]
        return real(self, obs)

    monkeypatch.setattr(observable.ObservationLog, "append", deduplicates)
    result = caught("Runner", tmp_path, backend=backend)
    assert result.failing_text.count("arrive(") >= 2


def test_reservation_released_twice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = ledger.Ledger.release

    def twice(self: ledger.Ledger, reservation: ledger.Reservation) -> None:
        real(self, reservation)
        reservation.settled = False  # a second release slips through
        real(self, reservation)

    monkeypatch.setattr(ledger.Ledger, "release", twice)
    result = caught("Runner", tmp_path)
    assert "finish" in result.failing_text and "false" in result.failing_text


def test_check_without_reservation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = ledger.Ledger.admit

    def unreserved(self: ledger.Ledger, costs: Any, check: Any) -> Any:
        reservation = real(self, costs, check)
        if isinstance(reservation, ledger.Reservation):  # checked, then the hold is dropped
            ledger._add(self._reserved, reservation.costs, -1)
            reservation.costs.clear()
        return reservation

    monkeypatch.setattr(ledger.Ledger, "admit", unreserved)
    caught("Runner", tmp_path)


def test_policy_asked_about_another_effect(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = ipu.IPU._check_policy

    def asks_about_search(self: ipu.IPU, request: Any, base: Any) -> Any:
        # the old `policy_request=` hole: the policy decides a request that is not the effect
        decoy = ipu.EffectRequest(
            principal=request.principal,
            effect=observable.Effect("call", "tool/Search"),
            subject=request.subject,
        )
        return real(self, decoy, base)

    monkeypatch.setattr(ipu.IPU, "_check_policy", asks_about_search)
    caught("Runner", tmp_path)


def test_invariants_skipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ipu.IPU, "_check_invariants", lambda self, counters: None)
    result = caught("Runner", tmp_path)
    assert "Pay" in result.failing_text


def test_indeterminate_fails_open(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = ipu.IPU._ask_approver

    async def approver_errors_permit(self: ipu.IPU, request: Any, ask: Any) -> Any:
        verdict = await real(self, request, ask)
        if verdict.cause == "approver":  # a refusal treated as "no objection"
            return ipu._Verdict(
                ipu.Decision.PERMIT,
                "approver did not object",
                "none",
                verdict.requested,
                verdict.granted,
                verdict.determining,
            )
        return verdict

    monkeypatch.setattr(ipu.IPU, "_ask_approver", approver_errors_permit)
    result = caught("Runner", tmp_path)
    assert "approve" in result.failing_text


def test_log_sequence_gap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = observable.ObservationLog.append

    def skips_a_number(self: observable.ObservationLog, obs: observable.Observation) -> Any:
        stored = real(self, obs)
        if len(self) == 2:  # the audit trail gets a gap
            self._entries[-1] = msgspec.structs.replace(stored, sequence=2)
        return stored

    monkeypatch.setattr(observable.ObservationLog, "append", skips_a_number)
    caught("Runner", tmp_path)


def test_decision_recorded_twice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = ipu.IPU._record

    def records_twice(self: ipu.IPU, request: Any, verdict: Any, *rest: Any) -> Any:
        if rest and rest[0]:  # an effect was performed: logged once more
            real(self, request, verdict)
        return real(self, request, verdict, *rest)

    monkeypatch.setattr(ipu.IPU, "_record", records_twice)
    result = caught("Runner", tmp_path)
    assert "finish" in result.failing_text
