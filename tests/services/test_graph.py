"""Operation graphs: building (cycles refused), and running (dependencies, limit,
retries, budget, conditions, expansion, cancellation, progress, Branch operations)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest

from lion.errors import GraphCycleError, GraphError
from lion.services.graph import Graph, OperationId, operation
from lion.services.graph_run import Executor, OpStatus, Progress, RunResult, run_graph
from lion.services.models import ScriptedModel
from lion.services.session import Session

from .test_docs import ROOT, run_quick_start

KEY = b"graph-test-key-0123456789abcdef-0123456"
CHAT = '@id("chat") permit(principal, action == Action::"chat", resource);'


async def value(parents: Mapping[OperationId, Any], v: Any = None) -> Any:
    return v


async def collect(parents: Mapping[OperationId, Any]) -> dict[OperationId, Any]:
    return dict(parents)


def run(graph: Graph, **options: Any) -> RunResult:
    async def main() -> RunResult:
        return await run_graph(graph, **options)

    return anyio.run(main)


class Flaky:
    """An operation that raises its first `failures` attempts, then returns "ok"."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self, parents: Mapping[OperationId, Any]) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"attempt {self.calls} failed")
        return "ok"


# -- building -------------------------------------------------------------------------


def test_ids_are_names_made_unique_and_explicit_names_must_be_new() -> None:
    g = Graph()
    assert g.add_operation(value) == "value"
    assert g.add_operation(value) == "value_2"
    assert g.add_operation(value, name="x") == "x"
    with pytest.raises(GraphError, match="already in the graph"):
        g.add_operation(value, name="x")
    assert len(g) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"depends_on": ["nope"]}, "no operation `nope`"),
        ({"retries": -1}, "retries must be an int >= 0"),
        ({"w": 1}, "cannot be called with these arguments"),
    ],
)
def test_malformed_operations_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(GraphError, match=message):
        Graph().add_operation(value, **kwargs)


def test_a_plain_function_or_an_unknown_branch_operation_is_refused() -> None:
    def sync(parents: Any) -> None:
        return None

    g = Graph()
    with pytest.raises(GraphError, match="must be an async function"):
        g.add_operation(sync)
    with pytest.raises(GraphError, match="not a Branch operation"):
        g.add_operation("delete", branch=object())
    with pytest.raises(GraphError, match="needs `branch=`"):
        g.add_operation("chat", instruction="hi")


def test_a_dependency_that_closes_a_cycle_is_refused_and_named() -> None:
    g = Graph()
    a = g.add_operation(value, name="a")
    b = g.add_operation(value, name="b", depends_on=[a])
    c = g.add_operation(value, name="c", depends_on=[b])
    with pytest.raises(GraphCycleError) as info:
        g.add_dependency(a, c)
    assert info.value.cycle == ("a", "c", "b", "a")
    assert "`a` -> `c` -> `b` -> `a`" in str(info.value)
    assert g.operations[a].depends_on == ()  # the graph is unchanged
    with pytest.raises(GraphCycleError, match="`b` -> `b`"):
        g.add_dependency(b, b)
    g.add_dependency(c, a)  # a shortcut is no cycle
    assert g.operations[c].depends_on == (b, a)


def test_a_forward_dependency_added_later_is_respected() -> None:
    g = Graph()
    late = g.add_operation(value, name="late", v=1)
    early = g.add_operation(value, name="early", v=2)
    g.add_dependency(late, early)  # `late` was added first but waits for `early`
    result = run(g)
    assert result.order == ["early", "late"]


# -- running ---------------------------------------------------------------------------


def test_aggregation_receives_every_parent_result() -> None:
    g = Graph()
    a = g.add_operation(value, v=1)
    b = g.add_operation(value, v=2)
    total = g.add_operation(collect, depends_on=[a, b])
    result = run(g)
    assert result[total] == {a: 1, b: 2}
    assert result.ok and result.order[-1] == total
    assert result.status == dict.fromkeys([a, b, total], OpStatus.DONE)


@pytest.mark.parametrize("seed", range(6))
def test_an_operation_starts_only_after_its_dependencies_finish(seed: int) -> None:
    rng = random.Random(seed)
    events: list[tuple[str, OperationId]] = []

    async def step(parents: Mapping[OperationId, Any], me: str) -> str:
        events.append(("start", OperationId(me)))
        await anyio.sleep(rng.random() / 500)
        events.append(("end", OperationId(me)))
        return me

    g = Graph()
    ids: list[OperationId] = []
    for i in range(12):
        deps = [d for d in ids if rng.random() < 0.3]
        ids.append(g.add_operation(step, name=f"op{i}", depends_on=deps, me=f"op{i}"))
    result = run(g, limit=3)
    assert result.ok
    for op in ids:
        started = events.index(("start", op))
        for dep in g.operations[op].depends_on:
            assert events.index(("end", dep)) < started, f"{op} started before {dep} ended"


def test_the_concurrency_limit_holds_and_a_shared_limiter_bounds_two_runs() -> None:
    now = 0
    peak = 0

    async def busy(parents: Mapping[OperationId, Any]) -> None:
        nonlocal now, peak
        now += 1
        peak = max(peak, now)
        await anyio.sleep(0.005)
        now -= 1

    def wide() -> Graph:
        g = Graph()
        for _ in range(9):
            g.add_operation(busy)
        return g

    assert run(wide(), limit=3).ok
    assert peak == 3

    peak = 0
    shared = anyio.CapacityLimiter(4)

    async def two() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(Executor(wide(), limit=shared).run)
            tg.start_soon(Executor(wide(), limit=shared).run)

    anyio.run(two)
    assert peak == 4 and shared.borrowed_tokens == 0


def test_retries_are_bounded_and_a_failure_skips_what_depends_on_it() -> None:
    g = Graph()
    recovers = Flaky(2)
    gives_up = Flaky(5)
    a = g.add_operation(recovers, name="recovers", retries=2)
    b = g.add_operation(gives_up, name="gives_up", retries=1)
    after = g.add_operation(value, name="after", depends_on=[b])
    later = g.add_operation(value, name="later", depends_on=[after])
    result = run(g)
    assert result.status[a] is OpStatus.DONE and result.attempts[a] == 3
    assert result.status[b] is OpStatus.FAILED and result.attempts[b] == 2
    assert gives_up.calls == 2  # exactly 1 + retries attempts
    assert str(result.errors[b]) == "attempt 2 failed"
    assert result.status[after] is result.status[later] is OpStatus.SKIPPED
    assert result.reasons[after] == "dependency `gives_up` failed"
    assert result.reasons[later] == "dependency `after` was skipped"
    assert result.steps_taken == 5 and not result.ok


def test_every_attempt_spends_the_budget_and_the_rest_is_reported_not_run() -> None:
    g = Graph()
    first = g.add_operation(Flaky(1), name="first", retries=3)
    second = g.add_operation(value, name="second", depends_on=[first])
    third = g.add_operation(value, name="third", depends_on=[second])
    result = run(g, budget=3)
    assert result.steps_taken == 3 and result.budget_left == 0
    assert result.attempts == {first: 2, second: 1, third: 0}  # the failed attempt was paid
    assert result.status[third] is OpStatus.NOT_RUN
    assert result.reasons[third] == "not run: the step budget of 3 was spent"
    assert result.budget_exhausted and result.with_status(OpStatus.NOT_RUN) == [third]


def test_a_retry_the_budget_cannot_pay_for_is_a_failure_saying_so() -> None:
    g = Graph()
    op = g.add_operation(Flaky(9), name="op", retries=5)
    after = g.add_operation(value, name="after", depends_on=[op])
    result = run(g, budget=2)
    assert result.status[op] is OpStatus.FAILED and result.attempts[op] == 2
    assert "budget of 2 was spent before a retry" in result.reasons[op]
    assert result.status[after] is OpStatus.NOT_RUN
    assert result.reasons[after] == "not run: dependency `op` did not run"


def test_a_zero_budget_runs_nothing() -> None:
    g = Graph()
    g.add_operation(value)
    result = run(g, budget=0)
    assert result.status == {"value": OpStatus.NOT_RUN} and result.steps_taken == 0


def test_conditions_skip_an_operation_and_its_dependents() -> None:
    g = Graph()
    score = g.add_operation(value, name="score", v=3)
    high = g.add_operation(
        value, name="high", depends_on=[score], condition=lambda r: r[score] > 5, v="high"
    )
    low = g.add_operation(
        value, name="low", depends_on=[score], condition=lambda r: r[score] <= 5, v="low"
    )
    after_high = g.add_operation(value, name="after_high", depends_on=[high])
    broken = g.add_operation(value, name="broken", depends_on=[score], condition=lambda r: r["x"])
    result = run(g)
    assert result[low] == "low"
    assert result.status[high] is OpStatus.SKIPPED
    assert result.reasons[high] == "its condition is false"
    assert result.status[after_high] is OpStatus.SKIPPED
    assert result.status[broken] is OpStatus.FAILED
    assert "its condition raised KeyError" in result.reasons[broken]
    assert result.steps_taken == 2  # skipped operations spend nothing


def test_a_root_whose_condition_is_false_skips_operations_added_after_it() -> None:
    g = Graph()
    flag = g.add_operation(value, name="flag", condition=lambda parents: False)
    first = g.add_operation(value, name="first", depends_on=[flag])
    second = g.add_operation(value, name="second", depends_on=[first])
    result = run(g)
    assert result.status == dict.fromkeys([flag, first, second], OpStatus.SKIPPED)
    assert result.reasons[second] == "dependency `first` was skipped"
    assert result.steps_taken == 0


def test_expanded_operations_may_be_skipped_and_so_is_what_gathers_them() -> None:
    g = Graph()
    src = g.add_operation(value, name="src", v=[1, -1])
    end = g.add_operation(collect, name="end", depends_on=[src])
    g.expand_from_result(
        src,
        lambda xs: [operation(value, v=x, condition=lambda p, x=x: x > 0) for x in xs],
        gather_into=end,
    )
    result = run(g)
    assert result.status["value"] is OpStatus.DONE
    assert result.status["value_2"] is OpStatus.SKIPPED
    assert result.status[end] is OpStatus.SKIPPED
    assert result.reasons[end] == "dependency `value_2` was skipped"


def test_expansion_adds_operations_that_depend_only_on_the_finished_one() -> None:
    async def items(parents: Mapping[OperationId, Any]) -> list[int]:
        return [1, 2, 3]

    async def square(parents: Mapping[OperationId, Any], n: int) -> int:
        assert list(parents) == ["items"]  # the expanded operation sees its source's result
        return n * n

    g = Graph()
    src = g.add_operation(items)
    total = g.add_operation(collect, name="total", depends_on=[src])
    g.expand_from_result(src, lambda ns: [operation(square, n=n) for n in ns], gather_into=total)
    ex = Executor(g)
    result = anyio.run(ex.run)
    assert result[total] == {"items": [1, 2, 3], "square": 1, "square_2": 4, "square_3": 9}
    new = [op for op in ex.operations if op.startswith("square")]
    assert len(new) == 3
    # new nodes depend on the finished source alone: no cycle can pass through them
    assert all(ex.operations[op].depends_on == (src,) for op in new)
    assert result.order.index("total") > max(result.order.index(op) for op in new)
    assert len(g) == 2  # the caller's graph is untouched: each run has its own copy


def test_expansion_can_never_close_a_cycle() -> None:
    """Expanded operations wait for their (finished) source only, and `gather_into`
    must already wait for the source, so every run's final graph is acyclic."""
    g = Graph()
    a = g.add_operation(value, name="a", v=[1, 2])
    b = g.add_operation(value, name="b", v=[3], depends_on=[a])
    with pytest.raises(GraphError, match="does not depend on `b`"):
        g.expand_from_result(b, lambda r: [], gather_into=a)  # would close a -> new -> b -> a
    end = g.add_operation(collect, name="end", depends_on=[b])
    g.expand_from_result(a, lambda r: [operation(value, v=x) for x in r], gather_into=end)
    g.expand_from_result(b, lambda r: [operation(value, v=x) for x in r], gather_into=end)
    ex = Executor(g)
    assert anyio.run(ex.run).ok
    ops = ex.operations
    assert len(ops) == 6
    for op in ops:  # no operation reaches itself along its dependencies
        assert ex.graph._path(op, op) == (op,)
        assert all(ex.graph._path(d, op) is None for d in ops[op].depends_on)


def test_an_expansion_that_raises_fails_its_source() -> None:
    g = Graph()
    src = g.add_operation(value, name="src", v=1)
    after = g.add_operation(value, name="after", depends_on=[src])
    g.expand_from_result(src, lambda r: [operation(value, v=x) for x in r])  # int is not iterable
    result = run(g)
    assert result.status[src] is OpStatus.FAILED
    assert "expanding its result raised TypeError" in result.reasons[src]
    assert result.status[after] is OpStatus.SKIPPED


def test_cancelling_a_run_cancels_the_attempts_and_returns_every_slot() -> None:
    finished: list[str] = []
    limiter = anyio.CapacityLimiter(2)

    async def forever(parents: Mapping[OperationId, Any], me: str) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            finished.append(me)

    g = Graph()
    for name in ("a", "b", "c"):
        g.add_operation(forever, name=name, me=name)
    ex = Executor(g, limit=limiter)

    async def main() -> None:
        with anyio.move_on_after(0.05):
            await ex.run()

    anyio.run(main)
    assert sorted(finished) == ["a", "b"]  # the two running attempts were cancelled
    assert limiter.borrowed_tokens == 0
    assert ex.steps_taken == 2 and ex.attempts["c"] == 0


def test_progress_reports_every_event_in_order() -> None:
    seen: list[Progress] = []
    g = Graph()
    a = g.add_operation(Flaky(1), name="a", retries=1)
    g.add_operation(value, name="b", depends_on=[a])
    assert run(g, progress=seen.append).ok
    assert [(p.op, p.event, p.attempt) for p in seen] == [
        ("a", "started", 1),
        ("a", "retrying", 1),
        ("a", "started", 2),
        ("a", "done", 2),
        ("b", "started", 1),
        ("b", "done", 1),
    ]
    assert seen[-1].finished == seen[-1].total == 2 and seen[-1].steps_taken == 3


def test_an_executor_runs_once_and_its_options_are_checked() -> None:
    ex = Executor(Graph())
    anyio.run(ex.run)
    with pytest.raises(GraphError, match="runs its graph once"):
        anyio.run(ex.run)
    with pytest.raises(GraphError, match="limit must be >= 1"):
        Executor(Graph(), limit=0)
    with pytest.raises(GraphError, match="budget must be an int >= 0"):
        Executor(Graph(), budget=-1)


def test_branch_operations_run_through_the_gate_with_parent_results_as_context() -> None:
    model = ScriptedModel(["LION gates effects.", "It proves its kernel.", "Summary: both."])

    async def main() -> tuple[RunResult, Session]:
        async with Session(policies=CHAT, model=model, key=KEY) as session:
            branch = session.new_branch("writer")
            g = Graph()
            a = g.add_operation("chat", branch=branch, instruction="What does LION gate?")
            b = g.add_operation("chat", branch=branch, instruction="What does it prove?")
            g.add_operation("chat", branch=branch, depends_on=[a, b], instruction="Summarise.")
            return await g.run(limit=1), session

    result, session = anyio.run(main)
    assert result.ok
    assert result["writer.chat_3"] == "Summary: both."
    last = model.requests[-1].messages[-1].content
    assert last.startswith("Summarise.")
    assert "- writer.chat: LION gates effects." in last
    assert "- writer.chat_2: It proves its kernel." in last
    assert [o.effect.action for o in session.log] == ["chat"] * 3  # every call was gated


def test_the_guide_quick_start_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LION_CAPABILITY_KEY", "docs-quick-start-key-0123456789abcdef")
    assert run_quick_start(ROOT / "docs" / "graphs.md", tmp_path, capsys) == [
        "LION checks capabilities and policies before every effect.",
        "writer.chat done",
        "writer.chat_3 done",
        "writer.chat_4 done",
        "writer.chat_2 done",
        "steps: 4",
    ]
