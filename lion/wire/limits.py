"""Token buckets for client-side rate limits, safe under cancellation."""

from __future__ import annotations

__all__ = ["TokenBucket"]

import math
import time
from collections.abc import Awaitable, Callable

import anyio


class TokenBucket:
    """A bucket of ``per_minute / 60`` tokens a second, holding ``burst`` seconds' worth.

    :meth:`acquire` waits, first come first served, until the bucket holds the
    amount (or is full, for an amount larger than the bucket: the level then
    goes negative, and later callers wait for the debt to be repaid, so the
    long-run rate holds). A caller cancelled while waiting takes nothing.

    The debt has a floor, one minute's worth of tokens (and at least a bucket):
    an estimate settled against a huge reported usage can delay later calls by
    at most a minute, never forever. Amounts that are not finite are refused.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst: float = 1.0,
        minimum: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit must be positive")
        self.rate = per_minute / 60.0
        self.capacity = max(minimum, self.rate * burst)
        self.level = self.capacity
        self.floor = -max(per_minute, self.capacity)
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._lock = anyio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self, amount: float = 1.0) -> None:
        amount = _finite(amount)
        need = min(amount, self.capacity)
        async with self._lock:  # FIFO: the head of the queue waits, the rest wait for it
            self._refill()
            while self.level < need:
                await self._sleep((need - self.level) / self.rate)
                self._refill()
            # INVARIANT: nothing is taken until here, so a cancelled waiter takes nothing
            self.level = max(self.floor, self.level - amount)

    def give_back(self, amount: float) -> None:
        """Return ``amount`` (negative: take more), e.g. to settle an estimate against usage."""
        self._refill()
        self.level = min(self.capacity, max(self.floor, self.level + _finite(amount)))


def _finite(amount: float) -> float:
    # NaN would make every comparison false (never wait), inf would wait forever
    if not math.isfinite(amount):
        raise ValueError(f"a token amount must be finite, not {amount}")
    return amount
