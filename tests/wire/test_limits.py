"""Backoff, retry-after and the token bucket, on a fake clock where timing matters."""

from __future__ import annotations

import anyio
import pytest

from lion.wire.limits import TokenBucket
from lion.wire.settings import RetryPolicy, retry_after

pytestmark = pytest.mark.timeout(30)


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    policy = RetryPolicy()
    for retry, full in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (9, 8.0)]:
        for _ in range(50):
            assert 0.75 * full <= policy.backoff(retry) <= full


def test_retry_after_forms() -> None:
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "bad", "retry-after": "1.5"}) == 1.5
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({"retry-after": "-1"}) is None
    assert retry_after({}) is None


def test_delay_honours_retry_after_up_to_the_cap() -> None:
    policy = RetryPolicy(retry_after_cap=5)
    assert policy.delay(0, {"retry-after": "3"}) == 3
    assert policy.delay(0, {"retry-after": "30"}) == 5
    assert policy.delay(0, {"retry-after-ms": "10"}) == 0.01
    assert 0.375 <= policy.delay(0, {}) <= 0.5


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


def bucket(per_minute: float, t: FakeTime, burst: float = 1.0) -> TokenBucket:
    return TokenBucket(per_minute, burst=burst, clock=t.clock, sleep=t.sleep)


@pytest.mark.anyio
async def test_bucket_rate_and_burst() -> None:
    t = FakeTime()
    b = bucket(120, t, burst=2.0)  # 2 a second, holding 4
    for _ in range(4):
        await b.acquire()
    assert t.now == 0.0
    for _ in range(4):
        await b.acquire()
    assert t.now == pytest.approx(2.0)  # 4 more at 2 a second


@pytest.mark.anyio
async def test_bucket_large_amount_goes_into_debt() -> None:
    t = FakeTime()
    b = bucket(60, t)  # 1 a second, holding 1
    await b.acquire(5)  # more than the bucket holds: taken when full
    assert t.now == 0.0
    assert b.level == pytest.approx(-4.0)
    await b.acquire(1)
    assert t.now == pytest.approx(5.0)  # the debt was repaid first


@pytest.mark.anyio
async def test_bucket_give_back_settles() -> None:
    t = FakeTime()
    b = bucket(600, t)  # 10 a second, holding 10
    await b.acquire(10)
    b.give_back(6)
    assert b.level == pytest.approx(6)
    b.give_back(100)
    assert b.level == pytest.approx(10)  # never above capacity


@pytest.mark.anyio
async def test_cancelled_waiter_takes_nothing() -> None:
    b = TokenBucket(60)  # real clock: 1 a second
    await b.acquire()
    level = b.level
    with anyio.move_on_after(0.05) as scope:
        await b.acquire()
    assert scope.cancelled_caught
    assert b.level == pytest.approx(level, abs=0.1)  # refilled a little, took nothing
    assert not b._lock.locked()


def test_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0)
