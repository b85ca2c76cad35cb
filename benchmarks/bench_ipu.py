"""The IPU's cost per effect: one after another vs 8 concurrent, on each kernel backend.

Every effect passes the whole gate: a capability verified by the backend's
authority, a real policy set (the backend's engine), a budget invariant with
its reservation, an Observation, and a `perform` that yields once to the
event loop. Concurrency must not make the gate dearer: 8 effects in flight
should cost at most 1.5x per effect what the same effects cost in sequence.
Both sides start one task per effect (in sequence: a task group of one at a
time), so the ratio measures the IPU under concurrency, not anyio's cost of
spawning tasks.
"""

from __future__ import annotations

import time

import anyio

from benchmarks._table import Row

KEY = b"benchmark-ipu-key-0123456789abcdef-0123"
EFFECTS = 4000
POLICY = '@id("agents-call") permit(principal, action == Action::"call", resource);'


def _per_effect_us(backend_name: str, concurrency: int) -> float:
    from lion.kernel.backend import get_backend
    from lion.kernel.ipu import IPU, EffectRequest
    from lion.kernel.observable import Effect

    backend = get_backend(backend_name)
    authority = backend.authority(KEY, clock=lambda: 100)
    token = authority.mint("agent", "tool/*", ["call"], 10_000).encode()
    ipu = IPU(authority, backend.policy_set(POLICY), budgets={"calls": EFFECTS})
    request = EffectRequest(
        principal="agent", effect=Effect("call", "tool/search"), tokens=(token,), costs={"calls": 1}
    )

    async def perform() -> None:
        await anyio.sleep(0)

    async def main() -> float:
        start = time.perf_counter()
        for _ in range(EFFECTS // concurrency):
            async with anyio.create_task_group() as tg:
                for _ in range(concurrency):
                    tg.start_soon(ipu.execute, request, perform)
        return time.perf_counter() - start

    best = anyio.run(main)
    assert len(ipu.log) == EFFECTS and ipu.committed["calls"] == EFFECTS
    return best / EFFECTS * 1e6


def run() -> list[Row]:
    rows = []
    measured = {}
    for backend in ("rust", "python"):
        sequential = min(_per_effect_us(backend, 1) for _ in range(3))
        concurrent = min(_per_effect_us(backend, 8) for _ in range(3))
        measured[backend] = sequential
        rows.append(
            Row(
                f"IPU per effect, 8 concurrent vs sequential ({backend} kernel)",
                concurrent,
                "sequential",
                sequential,
                ">= 0.67x",
            )
        )
    rows.append(
        Row("IPU per effect, sequential", measured["rust"], "python kernel", measured["python"])
    )
    return rows
