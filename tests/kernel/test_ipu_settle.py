"""Costs known only afterwards (`spent=`) and batches held whole (`IPU.reserve`)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from lion.errors import KernelError
from lion.kernel.capability import CapabilityAuthority
from lion.kernel.decision import Decision
from lion.kernel.ipu import IPU, EffectRequest, InvariantDenied
from lion.kernel.ledger import Ledger, Reservation
from lion.kernel.observable import Effect

KEY = b"ipu-settle-key-0123456789abcdef-012345678"
CALL = Effect("call", "tool/x")


class Permit:
    def evaluate(self, request: Any, entities: Any) -> Any:
        class Answer:
            decision = Decision.PERMIT
            determining = ("p",)

        return Answer()


@pytest.fixture
def ipu() -> IPU:
    return IPU(CapabilityAuthority(KEY, clock=lambda: 10), Permit(), budgets={"tokens": 100})


def request(ipu: IPU, **kwargs: Any) -> EffectRequest:
    token = ipu.authority.mint("a", "tool/*", ["call"], 1000)
    return EffectRequest(principal="a", effect=CALL, tokens=(token,), **kwargs)


def test_only_what_was_spent_is_committed(ipu: IPU) -> None:
    done = anyio.run(
        lambda: ipu.execute(
            request(ipu, costs={"tokens": 60}), lambda: 7, spent=lambda r: {"tokens": r}
        )
    )
    assert done.result == 7 and ipu.committed == {"tokens": 7} and ipu.reserved == {}
    assert done.observation.reason.endswith("; spent tokens=7")
    # the unspent 53 went back: another 60 fits
    anyio.run(
        lambda: ipu.execute(request(ipu, costs={"tokens": 60}), lambda: 0, spent=lambda r: {})
    )
    assert ipu.committed == {"tokens": 7}


def test_a_report_above_the_reservation_is_cut_and_a_failing_report_charges_it_all(
    ipu: IPU,
) -> None:
    done = anyio.run(
        lambda: ipu.execute(
            request(ipu, costs={"tokens": 10}), lambda: 0, spent=lambda r: {"tokens": 10**9, "x": 1}
        )
    )
    assert ipu.committed == {"tokens": 10}
    assert "reported more than reserved" in done.observation.reason

    def broken(result: int) -> dict[str, int]:
        raise ValueError("no usage")

    done = anyio.run(
        lambda: ipu.execute(request(ipu, costs={"tokens": 5}), lambda: 0, spent=broken)
    )
    assert ipu.committed == {"tokens": 15}
    assert "spent unknown (ValueError: no usage): charged as reserved" in done.observation.reason


def test_a_batch_hold_is_checked_once_and_drawn_from(ipu: IPU) -> None:
    hold = ipu.reserve({"tokens": 90})
    assert hold.refusal is None and ipu.reserved == {"tokens": 90}
    # an effect outside the batch no longer fits: the hold counts
    with pytest.raises(InvariantDenied):
        anyio.run(lambda: ipu.execute(request(ipu, costs={"tokens": 20}), lambda: 0))
    for _ in range(3):
        anyio.run(lambda: ipu.execute(request(ipu, costs={"tokens": 30}, hold=hold), lambda: 0))
    with pytest.raises(InvariantDenied, match="short: tokens by 30"):
        anyio.run(lambda: ipu.execute(request(ipu, costs={"tokens": 30}, hold=hold), lambda: 0))
    ipu.release(hold)
    assert ipu.committed == {"tokens": 90} and ipu.reserved == {} and ipu.in_flight == 0


def test_a_refused_hold_denies_every_effect_of_the_batch(ipu: IPU) -> None:
    hold = ipu.reserve({"tokens": 101})
    assert hold.refusal is not None and "budget `tokens`" in hold.refusal
    with pytest.raises(InvariantDenied, match="the batch does not fit"):
        anyio.run(lambda: ipu.execute(request(ipu, costs={"tokens": 1}, hold=hold), lambda: 0))
    ipu.release(hold)  # nothing to give back
    assert ipu.reserved == {} and ipu.in_flight == 0 and len(ipu.log) == 1


def test_the_ledger_refuses_to_commit_more_than_reserved() -> None:
    ledger = Ledger()
    held = ledger.admit({"a": 2}, None)
    assert isinstance(held, Reservation)
    with pytest.raises(KernelError, match="spent more than reserved"):
        ledger.commit(held, {"a": 3})
    assert ledger.reserved == {"a": 2}  # nothing changed: still held
    ledger.commit(held, {"a": 1})
    assert ledger.committed == {"a": 1} and ledger.reserved == {}
    with pytest.raises(KernelError):
        EffectRequest(principal="a", effect=CALL, hold="not a hold")  # type: ignore[arg-type]


def test_an_approver_that_defers_leaves_the_effect_undone_and_recorded_indeterminate() -> None:
    from lion.kernel.ipu import DEFER, EffectDeferred

    class Unknown:
        def evaluate(self, request: Any, entities: Any) -> Any:
            class Answer:
                decision = Decision.INDETERMINATE
                determining = ()
                erroring = ("needs-a-person",)

            return Answer()

    asked: list[Any] = []
    ipu = IPU(
        CapabilityAuthority(KEY, clock=lambda: 10),
        Unknown(),
        approver=lambda request, response: asked.append(request) or DEFER,
    )
    performed: list[int] = []
    with pytest.raises(EffectDeferred) as deferred:
        anyio.run(lambda: ipu.execute(request(ipu), lambda: performed.append(1)))
    obs = deferred.value.observation
    assert performed == [] and len(asked) == 1
    assert obs.decision is Decision.INDETERMINATE and obs.effects == ()
    assert "deferred to a later decision" in obs.reason and "needs-a-person" in obs.reason
    assert ipu.in_flight == 0 and ipu.reserved == {} and len(ipu.log) == 1
