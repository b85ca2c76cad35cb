"""The executor of operation graphs (`lion.services.graph`).

One scheduler task owns the run's state; each attempt of an operation runs
in its own task of one task group and reports back through a stream, so the
state changes only between awaits of the scheduler, one event at a time:

- when every dependency of an operation is done, its condition (if any) is
  asked once: false skips it, and whatever depends on a skipped or failed
  operation is skipped in turn;
- after every event (and at the start) the scheduler starts queued
  operations in the order they were added, while the budget lasts and the
  concurrency limiter has a slot; readiness is counted, not rescanned;
- every attempt spends one step, first attempts and retries alike;
- a failed attempt is queued again while the operation has retries left,
  else the operation has failed for good;
- when nothing runs, the run ends; an operation never started is NOT_RUN
  (the budget was spent, or a dependency did not run).

This is the `Workflow` machine of `spec/workflow.lion`: its `run(s)` and
`fail(s)` are an attempt returning or raising; the live state (`running`,
`done`, `failed`, `skipped`, `attempts`, `budget_left`, `steps_taken`) is
what the bind (`lion.verify.bindings.workflow`) compares with the spec after
every event.
"""

from __future__ import annotations

import enum
import heapq
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectSendStream

from lion.errors import GraphError
from lion.services.graph import Graph, Operation, OperationId, OperationSpec

__all__ = ["Executor", "OpStatus", "Progress", "RunResult", "run_graph"]


class OpStatus(enum.Enum):
    """How an operation ended."""

    DONE = "done"
    FAILED = "failed"  # its last attempt raised and no retry was left (or allowed by the budget)
    SKIPPED = "skipped"  # its condition was false, or a dependency failed or was skipped
    NOT_RUN = "not_run"  # never started: the step budget was spent, or a dependency did not run


@dataclass(frozen=True)
class Progress:
    """One event of a run, for a progress callback."""

    op: OperationId
    event: str  # "started" | "done" | "retrying" | "failed" | "skipped"
    attempt: int
    finished: int  # operations done, failed or skipped so far
    total: int  # operations in the run (expansions included)
    steps_taken: int


@dataclass
class RunResult:
    """What a run produced: results, how each operation ended, and why."""

    results: dict[OperationId, Any]
    status: dict[OperationId, OpStatus]
    order: list[OperationId]  # done and failed operations, in the order they finished
    errors: dict[
        OperationId, BaseException
    ]  # each operation's last exception (a retry may have won)
    reasons: dict[OperationId, str]  # why an operation failed, was skipped or did not run
    attempts: dict[OperationId, int]
    steps_taken: int
    budget_left: int
    budget_exhausted: bool = field(default=False)

    @property
    def ok(self) -> bool:
        """Every operation is done."""
        return all(s is OpStatus.DONE for s in self.status.values())

    def __getitem__(self, op: OperationId | str) -> Any:
        return self.results[OperationId(op)]

    def with_status(self, status: OpStatus) -> list[OperationId]:
        return [op for op, s in self.status.items() if s is status]


class _Outcome(NamedTuple):
    op: OperationId
    ok: bool
    value: Any  # the result, or the exception


class Executor:
    """Runs a graph once. `limit` bounds the attempts running at once (an int, or
    an anyio CapacityLimiter shared with other runs); `budget` bounds the
    attempts of the whole run; `progress` is called with every Progress event."""

    def __init__(
        self,
        graph: Graph,
        *,
        limit: int | anyio.CapacityLimiter = 8,
        budget: int = 1000,
        progress: Callable[[Progress], None] | None = None,
    ) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int | anyio.CapacityLimiter):
            raise GraphError(f"limit must be an int >= 1 or a CapacityLimiter, not `{limit!r}`")
        if isinstance(limit, int) and limit < 1:
            raise GraphError(f"limit must be >= 1, not `{limit}`")
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
            raise GraphError(f"budget must be an int >= 0, not `{budget!r}`")
        # the run's own copy: expansions grow it, never the caller's graph
        self.graph = Graph()
        self.graph._ops = dict(graph.operations)
        self.graph._expansions = {op: list(graph.expansions(op)) for op in graph.operations}
        self.limiter = anyio.CapacityLimiter(limit) if isinstance(limit, int) else limit
        self.budget = budget
        self.progress = progress
        # live state, one event at a time
        self.running: set[OperationId] = set()
        self.done: set[OperationId] = set()
        self.failed: set[OperationId] = set()  # failed for good: no retry left
        self.skipped: dict[OperationId, str] = {}
        self.attempts: dict[OperationId, int] = {}
        self.budget_left = budget
        self.steps_taken = 0
        self.results: dict[OperationId, Any] = {}
        self.errors: dict[OperationId, BaseException] = {}
        self.reasons: dict[OperationId, str] = {}
        self.order: list[OperationId] = []
        self._started = False
        # readiness, kept up to date event by event (no rescans: O(log n) per event)
        self._index: dict[OperationId, int] = {}
        self._waiting: dict[OperationId, int] = {}  # dependencies not yet done
        self._dependents: dict[OperationId, list[OperationId]] = {}
        self._queue: list[tuple[int, OperationId]] = []  # may start, by insertion order
        self.attempts.update(dict.fromkeys(self.graph.operations, 0))
        self._tg: anyio.abc.TaskGroup | None = None
        self._send: MemoryObjectSendStream[_Outcome] | None = None

    @property
    def operations(self) -> Mapping[OperationId, Operation]:
        return self.graph.operations

    async def run(self) -> RunResult:
        """Run every operation that can run; cancelling the caller cancels the attempts."""
        if self._started:
            raise GraphError("an Executor runs its graph once: make a new one")
        self._started = True
        send, receive = anyio.create_memory_object_stream[_Outcome](math.inf)
        with send, receive:
            async with anyio.create_task_group() as tg:
                self._tg, self._send = tg, send
                for op in self.operations:
                    self._register(op)
                for op in list(self.operations):
                    if self._waiting[op] == 0:
                        self._dependencies_done(op)
                await self._launch()
                while self.running:
                    self._settle(await receive.receive())
                    await self._launch()
        return self._result()

    # -- the scheduler's steps ----------------------------------------------------------

    def _register(self, op: OperationId) -> None:
        """Count what `op` still waits for (every edge known before any is acted on)."""
        self._index[op] = len(self._index)
        self.attempts.setdefault(op, 0)
        deps = self.operations[op].depends_on
        self._waiting[op] = sum(1 for d in deps if d not in self.done)
        for d in deps:
            self._dependents.setdefault(d, []).append(op)

    def _dependencies_done(self, op: OperationId) -> None:
        """Every dependency of `op` is done: ask its condition (once), then queue it."""
        node = self.operations[op]
        if node.condition is not None:
            try:
                go = bool(node.condition(self._parents(node)))
            except Exception as exc:
                self._fail(op, exc, f"its condition raised {type(exc).__name__}: {exc}")
                return
            if not go:
                self._skip(op, "its condition is false")
                return
        self._enqueue(op)

    def _enqueue(self, op: OperationId) -> None:
        """`op` may start (a first attempt, or a retry)."""
        heapq.heappush(self._queue, (self._index[op], op))

    def _release_dependents(self, op: OperationId, dependents: list[OperationId]) -> None:
        """`op` is done: each dependent waits for one operation fewer."""
        for other in dependents:
            self._waiting[other] -= 1
            if self._waiting[other] == 0 and other not in self.skipped:
                self._dependencies_done(other)

    def _may_retry(self, op: OperationId) -> bool:
        return self.attempts[op] <= self.operations[op].retries

    def _spend(self, op: OperationId) -> None:
        self.budget_left -= 1
        self.steps_taken += 1
        self.attempts[op] += 1

    async def _launch(self) -> None:
        """Start queued operations, lowest first, while the budget and the limiter allow."""
        while self._queue:
            node = self.operations[self._queue[0][1]]
            if self.budget_left <= 0:
                return  # what is left is reported when the run ends
            borrower = object()
            try:
                self.limiter.acquire_on_behalf_of_nowait(borrower)
            except anyio.WouldBlock:
                if self.running:
                    return  # one of ours will finish and free a slot
                await self.limiter.acquire_on_behalf_of(borrower)  # held by other runs
            heapq.heappop(self._queue)
            self._start(node, borrower)

    def _start(self, node: Operation, borrower: object) -> None:
        self._spend(node.id)
        self.running.add(node.id)
        self._emit(node.id, "started")
        assert self._tg is not None
        self._tg.start_soon(self._attempt, node, borrower, name=f"operation {node.id}")

    async def _attempt(self, node: Operation, borrower: object) -> None:
        try:
            try:
                value = await node.fn(self._parents(node), **node.kwargs)
            except Exception as exc:
                outcome = _Outcome(node.id, False, exc)
            else:
                outcome = _Outcome(node.id, True, value)
        finally:
            self.limiter.release_on_behalf_of(borrower)
        assert self._send is not None
        self._send.send_nowait(outcome)

    def _settle(self, outcome: _Outcome) -> None:
        op = outcome.op
        self.running.discard(op)
        if not outcome.ok:
            self.errors[op] = outcome.value
            if self._may_retry(op):
                self._emit(op, "retrying")
                self._enqueue(op)  # started by the next _launch if the budget allows
                return
            self._fail(op, outcome.value, f"attempt {self.attempts[op]} raised")
            return
        try:
            specs = self._expansions(op, outcome.value)
        except Exception as exc:
            self._fail(op, exc, f"expanding its result raised {type(exc).__name__}: {exc}")
            return
        dependents = list(self._dependents.get(op, ()))
        self.results[op] = outcome.value
        self.done.add(op)
        self.order.append(op)
        self._emit(op, "done")
        # New operations depend on `op` alone, which is done: they never close a cycle.
        added = []
        for spec, gather_into in specs:
            new = self.graph._add(spec, (op,), exact=False)
            self._register(new)
            if gather_into is not None:
                self.graph.add_dependency(gather_into, new)
                self._waiting[gather_into] += 1
                self._dependents.setdefault(new, []).append(gather_into)
            added.append(new)
        for new in added:
            self._dependencies_done(new)
        self._release_dependents(op, dependents)

    def _expansions(
        self, op: OperationId, result: Any
    ) -> list[tuple[OperationSpec, OperationId | None]]:
        """The operations derived from `op`'s result, each with the operation gathering it."""
        found = []
        for expansion in self.graph.expansions(op):
            specs = expansion.fn(result)
            if inspect.isawaitable(specs):
                raise GraphError(f"the expansion of `{op}` must be a plain function, not async")
            for spec in specs:
                if not isinstance(spec, OperationSpec):
                    raise GraphError(
                        f"the expansion of `{op}` returned `{spec!r}`, not an operation()"
                    )
                found.append((spec, expansion.gather_into))
        return found

    def _fail(self, op: OperationId, exc: BaseException, reason: str) -> None:
        self.failed.add(op)
        self.errors[op] = exc
        self.reasons[op] = reason
        self.order.append(op)
        self._emit(op, "failed")
        self._skip_dependents(op, f"dependency `{op}` failed")

    def _skip(self, op: OperationId, reason: str) -> None:
        self.skipped[op] = reason
        self.reasons[op] = reason
        self._emit(op, "skipped")
        self._skip_dependents(op, f"dependency `{op}` was skipped")

    def _skip_dependents(self, op: OperationId, reason: str) -> None:
        for other in self._dependents.get(op, ()):
            if other not in self.skipped and self.attempts[other] == 0:
                self._skip(other, reason)

    def _parents(self, node: Operation) -> dict[OperationId, Any]:
        return {d: self.results[d] for d in node.depends_on}

    def _emit(self, op: OperationId, event: str) -> None:
        if self.progress is not None:
            finished = len(self.done) + len(self.failed) + len(self.skipped)
            self.progress(
                Progress(
                    op,
                    event,
                    self.attempts[op],
                    finished,
                    len(self.operations),
                    self.steps_taken,
                )
            )

    def _result(self) -> RunResult:
        status: dict[OperationId, OpStatus] = {}
        order = list(self.order)
        for op in self.operations:
            if op in self.done:
                status[op] = OpStatus.DONE
            elif op in self.failed:
                status[op] = OpStatus.FAILED
            elif op in self.skipped:
                status[op] = OpStatus.SKIPPED
            elif self.attempts[op] > 0:  # a failed attempt whose retry found no budget
                status[op] = OpStatus.FAILED
                order.append(op)
                self.reasons[op] = (
                    f"attempt {self.attempts[op]} raised and the step budget of "
                    f"{self.budget} was spent before a retry"
                )
            else:
                status[op] = OpStatus.NOT_RUN
                waiting = [d for d in self.operations[op].depends_on if d not in self.done]
                self.reasons[op] = (
                    f"not run: dependency `{waiting[0]}` did not run"
                    if waiting
                    else f"not run: the step budget of {self.budget} was spent"
                )
        return RunResult(
            results=dict(self.results),
            status=status,
            order=order,
            errors=dict(self.errors),
            reasons=dict(self.reasons),
            attempts=dict(self.attempts),
            steps_taken=self.steps_taken,
            budget_left=self.budget_left,
            budget_exhausted=any(s is OpStatus.NOT_RUN for s in status.values())
            or any(status[op] is OpStatus.FAILED and op not in self.failed for op in status),
        )


async def run_graph(
    graph: Graph,
    *,
    limit: int | anyio.CapacityLimiter = 8,
    budget: int = 1000,
    progress: Callable[[Progress], None] | None = None,
) -> RunResult:
    """Run `graph` once with a new Executor."""
    return await Executor(graph, limit=limit, budget=budget, progress=progress).run()
