"""Shared helpers for benchmarks: timing and one table format for every module."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One comparison: LION's time against a peer's, measured in the same run."""

    case: str
    lion_us: float
    peer: str
    peer_us: float
    target: str = ""  # e.g. ">= 10x"; empty when there is no target

    @property
    def ratio(self) -> float:
        """How many times faster LION is than the peer (> 1 is better)."""
        return self.peer_us / self.lion_us if self.lion_us else float("inf")


def per_call_us(fn: Callable[[], object], *, min_time: float = 0.3, repeat: int = 5) -> float:
    """Best-of-`repeat` microseconds per call, each repeat running >= `min_time` seconds."""
    n = 1
    while True:  # find a loop count that takes long enough to time reliably
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time / 5:
            break
        n *= 4
    n = max(1, int(n * (min_time / max(elapsed, 1e-9))))
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e6


def print_table(rows: list[Row]) -> None:
    header = ("case", "lion", "peer", "peer time", "speed-up", "target")
    lines = [
        (
            r.case,
            f"{r.lion_us:,.2f} us",
            r.peer,
            f"{r.peer_us:,.2f} us",
            f"{r.ratio:,.2f}x",
            r.target,
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    for line in [header, *lines]:
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip())
