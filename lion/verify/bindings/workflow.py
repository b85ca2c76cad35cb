"""`spec/workflow.lion` machine `Workflow` <-> the real graph executor
(`lion.services.graph_run.Executor`).

`init(d, r, c)` builds a real `Graph` of four operations `s0`..`s3` (retries
`r[s]`, a condition answering `c[s]`; `s` depends on each `t < s` in `d[s]`,
the spec's `downward`) and
starts `Executor.run()` on a private event loop, with the spec's
concurrency limit and budget. Each operation is a puppet: an
attempt parks on a future the adapter holds. The spec's actions are those
await points:

- ``run(s)``: the attempt of `s` under way returns; ``fail(s)``: it raises.
  Enabled exactly when an attempt of `s` is really parked (the executor
  started it); the adapter never decides what starts.

After each action the loop runs until no task is ready, so the executor has
reacted (started what it starts) and a run is a deterministic interleaving
that replays from its recorded actions. Every variable is read off the run:
`deps`, `allowed` and `cond` from the executor's graph (`cond` by asking
each operation's condition), `running` from the attempts actually parked
(reported as text, so it cannot match, if the executor's own `running`
disagrees), `done`, `failed`, `skipped`, `attempts`, `budget` and `taken`
from the executor's state.
"""

from __future__ import annotations

import asyncio
import atexit
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from lion.services.graph import Condition, Graph, OperationId
from lion.services.graph_run import Executor
from lion.verify.values import MapValue

__all__ = ["RustWorkflowModel", "WorkflowModel"]

STEPS = range(4)
BUDGET = 6  # the spec's BUDGET
LIMIT = 2  # the spec's LIMIT
_MAX_TURNS = 10_000  # event-loop turns allowed for one event to settle


class _AttemptFailed(Exception):
    """What a puppet raises when the harness says its attempt fails."""


def _op(s: int) -> OperationId:
    return OperationId(f"s{s}")


def _step(op: OperationId) -> int:
    return int(op[1:])


def _answers(answer: bool) -> Condition:
    """A condition that gives `answer` whatever the parents' results."""

    def condition(parents: Mapping[OperationId, Any]) -> bool:
        return answer

    return condition


def _asks(condition: Condition | None) -> bool:
    """What an operation's condition answers (no condition: it runs)."""
    return True if condition is None else bool(condition({}))


class WorkflowModel:
    """The spec's `Workflow` machine, played by an Executor running puppet operations."""

    backend: ClassVar[str] = "python"
    _open: ClassVar[list[WorkflowModel]] = []

    def __init__(self) -> None:
        # The harness drops a model after its run; close those left open here,
        # where no event loop is running.
        WorkflowModel.close_all()
        WorkflowModel._open.append(self)
        self.loop = asyncio.SelectorEventLoop()  # private: its run queue is visible
        self.parked: dict[int, asyncio.Future[bool]] = {}
        self.executor: Executor | None = None
        self.task: asyncio.Task[Any] | None = None

    @staticmethod
    def close_all() -> None:
        """Close every model still open (the harness never says when a run is over)."""
        while WorkflowModel._open:
            WorkflowModel._open.pop().close()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        if self.task is not None and not self.task.done():
            self.task.cancel()
            self._settle()
        self.loop.close()

    async def _puppet(self, parents: Mapping[OperationId, Any], step: int) -> int:
        future: asyncio.Future[bool] = self.loop.create_future()
        self.parked[step] = future
        try:
            ok = await future
        finally:
            del self.parked[step]
        if not ok:
            raise _AttemptFailed(f"attempt of s{step} failed")
        return step

    def _settle(self, then: Callable[[], object] | None = None) -> None:
        """Run `then` inside the loop, then the loop until no task is ready."""

        async def idle() -> None:
            if then is not None:
                then()
            ready = self.loop._ready  # type: ignore[attr-defined]  # asyncio's run queue
            for _ in range(_MAX_TURNS):
                await asyncio.sleep(0)
                if not ready:
                    return
            raise RuntimeError("the executor did not settle")

        self.loop.run_until_complete(idle())
        if self.task is not None and self.task.done() and not self.task.cancelled():
            error = self.task.exception()
            if error is not None:
                raise error

    # -- the machine interface ---------------------------------------------------------

    def init(self, d: MapValue, r: MapValue, c: MapValue) -> bool:
        graph = Graph()
        for s in STEPS:
            graph.add_operation(
                self._puppet,
                name=_op(s),
                depends_on=[_op(t) for t in sorted(d[s]) if t < s],
                retries=r[s],
                condition=_answers(bool(c[s])),
                step=s,
            )
        self.executor = self.new_executor(graph)
        executor = self.executor

        def start() -> None:
            self.task = self.loop.create_task(executor.run())

        self._settle(start)
        return True

    def new_executor(self, graph: Graph) -> Executor:
        return Executor(graph, limit=LIMIT, budget=BUDGET)

    def step(self, action: str, *args: Any) -> bool:
        if action not in ("run", "fail"):
            raise ValueError(f"unknown action `{action}`")
        future = self.parked.get(args[0])
        if future is None or future.done():
            return False  # no attempt of this step is under way
        self._settle(lambda: future.set_result(action == "run"))
        return True

    def state(self) -> dict[str, Any]:
        ex = self.executor
        assert ex is not None
        ops = ex.operations
        under_way = frozenset(self.parked)
        said = frozenset(_step(op) for op in ex.running)
        running: Any = (
            under_way
            if under_way == said
            else f"attempts under way {sorted(under_way)}, executor says {sorted(said)}"
        )
        return {
            "deps": MapValue(
                {s: frozenset(_step(t) for t in ops[_op(s)].depends_on) for s in STEPS}
            ),
            "allowed": MapValue({s: ops[_op(s)].retries for s in STEPS}),
            "cond": MapValue({s: _asks(ops[_op(s)].condition) for s in STEPS}),
            "running": running,
            "done": frozenset(_step(op) for op in ex.done),
            "failed": frozenset(_step(op) for op in ex.failed),
            "skipped": frozenset(_step(op) for op in ex.skipped),
            "attempts": MapValue({s: ex.attempts[_op(s)] for s in STEPS}),
            "budget": ex.budget_left,
            "taken": ex.steps_taken,
        }


atexit.register(WorkflowModel.close_all)


class RustWorkflowModel(WorkflowModel):
    """The same machine for `--backend rust`: the executor is Python only, so the
    Rust run checks the same code (the bind needs a target per backend)."""

    backend = "rust"
