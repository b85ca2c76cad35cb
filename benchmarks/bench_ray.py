"""Ray on this machine: what an operation costs there, and where it pays (2 CPUs).

A local Ray cluster with 2 CPUs is started (and shut down) here. Each row
compares the same work run by LION's graph executor in this process ("lion")
and with its work in Ray tasks ("peer" is Ray), so the speed-up column reads
"how many times faster local is": below 1 means Ray wins.

- trivial operations (return a number), one at a time and 8 at a time:
  Ray's per-operation overhead (submit, schedule, pickle both ways, await);
- a trivial tool call through the whole gate (capability, policy, invariants,
  Observation), the tool's function in this process or in a Ray task;
- operations that sleep 100 ms: local one after another vs Ray, 2 at a time;
- operations of pure-Python work that takes 100 ms on one thread (they hold
  the GIL): local in 2 threads vs Ray, 2 at a time (Ray's workers are
  processes).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio

from benchmarks._table import Row

KEY = b"benchmark-ray-key-0123456789abcdef-0123456"
TRIVIAL = 300
TOOL_CALLS = 200
SLOW = 8  # operations of 100 ms
POLICY = """
@id("chat") permit(principal, action == Action::"chat", resource);
@id("echo") permit(principal, action == Action::"echo", resource);
"""


def trivial(parents: Mapping[str, Any], i: int) -> int:
    return i


def sleepy(parents: Mapping[str, Any], i: int) -> int:
    time.sleep(0.1)
    return i


def busy(parents: Mapping[str, Any], i: int, rounds: int = 1) -> int:
    total = 0
    for k in range(rounds):  # a fixed amount of pure-Python work: holds the GIL all along
        total += k
    return i


def _rounds_per_100ms() -> int:
    """How many rounds of `busy` take 100 ms here, on one thread."""
    rounds = 100_000
    while True:
        start = time.perf_counter()
        busy({}, 0, rounds)
        elapsed = time.perf_counter() - start
        if elapsed > 0.02:
            return int(rounds * 0.1 / elapsed)
        rounds *= 4


def echo(text: str) -> str:
    """Say it back."""
    return text


def _local(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def run(parents: Mapping[str, Any], **kwargs: Any) -> Any:
        return fn(parents, **kwargs)

    return run


def _threaded(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def run(parents: Mapping[str, Any], **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(functools.partial(fn, parents, **kwargs))

    return run


def _graph_seconds(
    wrap: Callable[..., Any], fn: Callable[..., Any], n: int, limit: int, **kwargs: Any
) -> float:
    from lion.services.graph import Graph

    graph = Graph()
    for i in range(n):
        graph.add_operation(wrap(fn), i=i, **kwargs)

    async def main() -> float:
        start = time.perf_counter()
        result = await graph.run(limit=limit, budget=n)
        elapsed = time.perf_counter() - start
        assert result.ok, result.reasons
        return elapsed

    return anyio.run(main)


def _tool_calls_seconds(on_ray: bool) -> float:
    from lion import Session
    from lion.services import ScriptedModel
    from lion.services.models import call
    from lion.services.ray_exec import RayTool
    from lion.services.tools import Tool

    session = Session(policies=POLICY, model=ScriptedModel([]), key=KEY)
    tool = RayTool(echo) if on_ray else Tool(echo)
    branch = session.new_branch("bench", tools=[tool])
    calls = [call("echo", {"text": "hi"})]

    async def main() -> float:
        start = time.perf_counter()
        for _ in range(TOOL_CALLS):
            (outcome,) = await branch.act(calls)
            assert outcome.ok, outcome.content
        return time.perf_counter() - start

    return anyio.run(main)


def run() -> list[Row]:
    from lion.services.ray_exec import RayExecutor, ray_operation

    rows = []
    with RayExecutor(num_cpus=2, log_to_driver=False):
        _graph_seconds(ray_operation, trivial, 16, 4)  # start the workers before timing
        for limit in (1, 8):
            local = min(_graph_seconds(_local, trivial, TRIVIAL, limit) for _ in range(3))
            remote = min(_graph_seconds(ray_operation, trivial, TRIVIAL, limit) for _ in range(3))
            rows.append(
                Row(
                    f"trivial operation, {limit} at a time: local vs Ray (per operation)",
                    local / TRIVIAL * 1e6,
                    "on Ray",
                    remote / TRIVIAL * 1e6,
                )
            )
        local = min(_tool_calls_seconds(False) for _ in range(3))
        remote = min(_tool_calls_seconds(True) for _ in range(3))
        rows.append(
            Row(
                "gated tool call (echo), one at a time: local vs Ray (per call)",
                local / TOOL_CALLS * 1e6,
                "on Ray",
                remote / TOOL_CALLS * 1e6,
            )
        )
        local = _graph_seconds(_local, sleepy, SLOW, 1)
        remote = _graph_seconds(ray_operation, sleepy, SLOW, 2)
        rows.append(
            Row(
                f"{SLOW} operations sleeping 100 ms: local in sequence vs Ray 2 at a time",
                local / SLOW * 1e6,
                "on Ray",
                remote / SLOW * 1e6,
                "< 0.67x (Ray pays)",
            )
        )
        rounds = _rounds_per_100ms()
        local = _graph_seconds(_threaded, busy, SLOW, 2, rounds=rounds)
        remote = _graph_seconds(ray_operation, busy, SLOW, 2, rounds=rounds)
        rows.append(
            Row(
                f"{SLOW} operations busy 100 ms (GIL): local 2 threads vs Ray 2 at a time",
                local / SLOW * 1e6,
                "on Ray",
                remote / SLOW * 1e6,
                "< 0.67x (Ray pays)",
            )
        )
    return rows
