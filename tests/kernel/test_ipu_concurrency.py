"""The IPU under concurrency: effects that overlap, await points, reservations (issue 11).

Each of the first tests is a finding that failed on the old IPU: the invariant
was checked on a state the caller computed, with nothing held between check
and perform, and the capability was not checked again after the approver.
Every test runs on both kernels' capability authorities.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import pytest

from lion.errors import KernelError
from lion.kernel.backend import Authority, get_backend
from lion.kernel.decision import Decision
from lion.kernel.ipu import (
    IPU,
    CapabilityDenied,
    EffectDenied,
    EffectRequest,
    InvariantDenied,
    PolicyResponse,
)
from lion.kernel.observable import Effect

T = TypeVar("T")
KEY = b"ipu-concurrency-key-0123456789abcdef"
PAY = Effect("call", "tool/pay")


@dataclass(frozen=True)
class Answer:
    decision: Decision
    determining: frozenset[str] = frozenset()


class Fixed:
    def __init__(self, decision: Decision) -> None:
        self.decision = decision

    def evaluate(self, request: Any, entities: Any) -> Answer:
        return Answer(self.decision)


class Clock:
    def __init__(self, now: int = 1000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture(params=["python", "rust"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def authority_for(backend: str, clock: Clock | None = None) -> Authority:
    return get_backend(backend).authority(KEY, clock=clock or Clock())


def pay(token: Any, cost: int = 1, principal: str = "alice") -> EffectRequest:
    return EffectRequest(principal=principal, effect=PAY, tokens=(token,), costs={"spent": cost})


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(fn)


def test_two_concurrent_payments_cannot_both_spend_the_last_unit(backend: str) -> None:
    # finding 1: both were PERMITted and `spent` ended at 2 under `spent <= 1`
    authority = authority_for(backend)
    token = authority.mint("alice", "tool/*", ["call"], 2000)
    ipu = IPU(authority, Fixed(Decision.PERMIT), {"limit": lambda c: c["spent"] <= 1})
    performed: list[int] = []
    denied: list[EffectDenied] = []

    async def one(i: int) -> None:
        async def perform() -> None:
            await anyio.sleep(0.01)  # both are in flight at once
            performed.append(i)

        try:
            await ipu.execute(pay(token), perform)
        except InvariantDenied as exc:
            denied.append(exc)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(one, 0)
            tg.start_soon(one, 1)

    run(main)
    assert len(performed) == 1 and len(denied) == 1
    assert ipu.committed == {"spent": 1} and ipu.reserved == {}
    assert "invariant `limit` would be broken (counters would be spent=2)" in str(denied[0])
    assert [o.decision for o in ipu.log] == [Decision.DENY, Decision.PERMIT]


@pytest.mark.parametrize("how", ["revoke", "expire"])
def test_a_capability_lost_while_the_approver_thinks_denies(backend: str, how: str) -> None:
    # finding 2: the approver revoked the token (or the clock passed its expiry)
    # before answering True, and the effect still ran
    clock = Clock(1000)
    authority = authority_for(backend, clock)
    root = authority.mint("alice", "tool/*", ["call"], 2000)
    token = authority.attenuate(root, expiry=1500)

    async def approver(request: EffectRequest, response: PolicyResponse) -> bool:
        await anyio.sleep(0)
        if how == "revoke":
            authority.revoke(root)  # an ancestor: the whole chain is revoked
        else:
            clock.now = 1500
        return True

    ipu = IPU(authority, Fixed(Decision.INDETERMINATE), approver=approver)
    performed: list[int] = []
    with pytest.raises(CapabilityDenied) as info:
        run(lambda: ipu.execute(pay(token), lambda: performed.append(1)))
    assert performed == []
    obs = info.value.observation
    assert obs.decision is Decision.DENY and obs.granted == ()
    assert "approver approved, but the capability no longer covers it" in obs.reason
    assert ("revoked" if how == "revoke" else "expired") in obs.reason
    assert ipu.log.snapshot() == (obs,)
    assert ipu.reserved == {} and ipu.committed == {}


def test_a_failed_perform_releases_its_reservation(backend: str) -> None:
    authority = authority_for(backend)
    token = authority.mint("alice", "tool/*", ["call"], 2000)
    ipu = IPU(authority, Fixed(Decision.PERMIT), budgets={"spent": 1})

    def boom() -> None:
        raise OSError("card declined")

    with pytest.raises(OSError, match="card declined"):
        run(lambda: ipu.execute(pay(token), boom))
    assert ipu.reserved == {} and ipu.committed == {} and ipu.in_flight == 0
    # the unit it held is free again
    assert run(lambda: ipu.execute(pay(token), lambda: "ok")).result == "ok"
    assert ipu.committed == {"spent": 1}


def test_a_cancelled_perform_releases_its_reservation(backend: str) -> None:
    authority = authority_for(backend)
    token = authority.mint("alice", "tool/*", ["call"], 2000)
    ipu = IPU(authority, Fixed(Decision.PERMIT), budgets={"spent": 1})
    seen: list[int] = []

    async def main() -> None:
        async def slow() -> None:
            seen.append(ipu.reserved["spent"])
            await anyio.sleep(10)

        with anyio.move_on_after(0.05):
            await ipu.execute(pay(token), slow)

    run(main)
    assert seen == [1]  # it held the unit while it ran
    assert ipu.reserved == {} and ipu.committed == {}
    (obs,) = ipu.log.snapshot()
    assert obs.effects == () and "perform failed: CancelledError" in obs.reason


def test_independent_effects_run_concurrently(backend: str) -> None:
    authority = authority_for(backend)
    token = authority.mint("alice", "tool/*", ["call"], 2000)
    ipu = IPU(authority, Fixed(Decision.PERMIT), budgets={"spent": 1})
    inside = 0
    most = 0

    async def main() -> None:
        gate = anyio.Event()

        async def perform() -> None:
            nonlocal inside, most
            inside += 1
            most = max(most, inside)
            if most == 8:
                gate.set()
            with anyio.fail_after(5):
                await gate.wait()
            inside -= 1

        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(ipu.execute, pay(token, cost=0), perform)

    run(main)
    assert most == 8  # all eight were performing at the same moment
    assert len(ipu.log) == 8 and all(o.permitted for o in ipu.log)


def test_uniqueness_is_a_claim_that_concurrent_effects_cannot_share(backend: str) -> None:
    authority = authority_for(backend)
    token = authority.mint("alice", "tool/*", ["call"], 2000)

    def at_most_once(counters: Any) -> bool:
        return all(v <= 1 for k, v in counters.items() if k.startswith("order:"))

    ipu = IPU(authority, Fixed(Decision.PERMIT), {"orders are unique": at_most_once})
    made: list[str] = []

    async def create(order: str) -> None:
        async def perform() -> None:
            await anyio.sleep(0.01)
            made.append(order)

        request = EffectRequest(
            principal="alice", effect=PAY, tokens=(token,), costs={f"order:{order}": 1}
        )
        with contextlib.suppress(InvariantDenied):
            await ipu.execute(request, perform)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for order in ["a", "b", "a", "a", "b", "c"]:
                tg.start_soon(create, order)

    run(main)
    assert sorted(made) == ["a", "b", "c"]
    assert ipu.committed == {"order:a": 1, "order:b": 1, "order:c": 1}


def test_registering_needs_a_quiet_ipu_and_a_state_that_holds(backend: str) -> None:
    authority = authority_for(backend)
    token = authority.mint("alice", "tool/*", ["call"], 2000)
    with pytest.raises(KernelError, match=r"budget `spent`.*would be broken"):
        IPU(authority, Fixed(Decision.PERMIT), budgets={"spent": 1}, state={"spent": 2})
    ipu = IPU(authority, Fixed(Decision.PERMIT), state={"spent": 2})
    with pytest.raises(KernelError, match="cannot register"):
        ipu.register("limit", lambda c: c["spent"] <= 1)

    async def main() -> None:
        async def perform() -> None:
            with pytest.raises(KernelError, match="1 effects are in flight"):
                ipu.register("later", lambda c: True)

        await ipu.execute(pay(token), perform)

    run(main)
    assert ipu.invariants == ()


@pytest.mark.parametrize(
    ("costs", "match"),
    [
        ({"spent": -1}, "expected 0 to 2\\*\\*63-1"),
        ({"spent": 1.5}, "expected an int"),
        ({"spent": True}, "expected an int"),
        ({"": 1}, "not a non-empty str"),
        ([("spent", 1)], "must be a mapping"),
    ],
)
def test_bad_costs_are_refused_before_anything_happens(costs: Any, match: str) -> None:
    with pytest.raises(KernelError, match=match):
        EffectRequest(principal="alice", effect=PAY, costs=costs)
