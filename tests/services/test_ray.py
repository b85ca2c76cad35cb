"""Tools and graph operations on a local Ray cluster: decided on the driver, run on Ray.

One local cluster (2 CPUs, no dashboard) serves the whole module and is shut
down after it. Every tool here appends a line to a journal file when it
runs, so the tests count what actually executed in a Ray worker.
"""

from __future__ import annotations

import functools
import os
import re
import runpy
import sys
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
import ray

from lion.errors import GraphError, ServiceError, ToolDefinitionError
from lion.kernel.decision import Decision
from lion.services.gate import Outcome
from lion.services.graph import Graph, OperationId
from lion.services.messages import ActionResponse
from lion.services.models import ScriptedModel, call
from lion.services.ray_exec import RayExecutor, RayTool, ray_operation
from lion.services.session import Session
from lion.services.tools import Tool

KEY = b"ray-executor-test-key-0123456789abcdef-01"
POLICIES = """
@id("chat") permit(principal, action == Action::"chat", resource);
@id("lookup") permit(principal, action == Action::"lookup", resource);
@id("no-delete") forbid(principal, action == Action::"delete", resource);
@id("echo") permit(principal, action == Action::"slow_echo", resource);
"""
TOPICS = ("kernels", "policies", "budgets")


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[RayExecutor]:
    # this module is imported by path (importlib mode), which workers cannot repeat:
    # ship its functions by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    executor = RayExecutor(num_cpus=2, log_to_driver=False).start()
    try:
        yield executor
    finally:
        executor.shutdown()
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


# -- tools: each records that it ran, and where -------------------------------------


def lookup(topic: str, journal: str) -> str:
    """Look a topic up."""
    with open(journal, "a") as f:
        f.write(f"lookup {topic} {os.getpid()}\n")
    if topic == "budgets":
        raise ValueError(f"no data on `{topic}`")
    return f"{topic}: {len(topic)} letters"


def delete(path: str, journal: str) -> str:
    """Delete a file."""
    with open(journal, "a") as f:
        f.write(f"delete {path} {os.getpid()}\n")
    return f"deleted {path}"


async def slow_echo(text: str, delay_ms: int, journal: str) -> str:
    """Echo after a delay (an async tool)."""
    await anyio.sleep(delay_ms / 1000)
    with open(journal, "a") as f:
        f.write(f"echo {text} {os.getpid()}\n")
    return text


def journal(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def tools(path: Path, on_ray: bool) -> list[Any]:
    made = [
        Tool(functools.partial(f, journal=str(path)), name=f.__name__) for f in (lookup, delete)
    ]
    return [RayTool(t) for t in made] if on_ray else made


def session(script: Any) -> Session:
    return Session(policies=POLICIES, model=ScriptedModel(script), key=KEY, backend="python")


# -- a denied and a permitted call ----------------------------------------------------------


def test_a_permitted_call_runs_on_ray_and_a_denied_one_is_never_dispatched(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal"
    s = session([[call("lookup", {"topic": "kernels"}), call("delete", {"path": "/"})], "ok"])
    branch = s.new_branch("b1", tools=tools(path, on_ray=True))
    assert anyio.run(lambda: branch.operate("go")) == "ok"

    lines = journal(path)
    assert [line.split()[:2] for line in lines] == [["lookup", "kernels"]]  # no delete ran
    assert int(lines[0].split()[2]) != os.getpid()  # it ran in a Ray worker, not here
    responses = [m.content for m in branch.messages if isinstance(m, ActionResponse)]
    assert responses[0] == "kernels: 7 letters"
    assert responses[1].startswith("denied: ")
    decided = [(o.effect.resource, o.decision, len(o.effects)) for o in s.log]
    assert ("tool/lookup", Decision.PERMIT, 1) in decided
    assert ("tool/delete", Decision.DENY, 0) in decided


def test_a_remote_exception_is_a_tool_failure_the_model_reads(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    model = ScriptedModel([call("lookup", {"topic": "budgets"}), "no data"])
    s = Session(policies=POLICIES, model=model, key=KEY, backend="python")
    branch = s.new_branch("b1", tools=tools(path, on_ray=True))
    assert anyio.run(lambda: branch.operate("go")) == "no data"

    told = "error: tool `lookup` failed: ValueError: no data on `budgets`"
    assert [m.content for m in branch.messages if isinstance(m, ActionResponse)] == [told]
    assert any(m.content == told for m in model.requests[-1].messages)  # the model saw it
    failed = [o for o in s.log if o.effect.resource == "tool/lookup"]
    assert len(failed) == 1 and failed[0].decision is Decision.PERMIT and not failed[0].effects
    assert failed[0].reason.endswith("perform failed: ValueError: no data on `budgets`")
    assert [line.split()[:2] for line in journal(path)] == [["lookup", "budgets"]]


def test_concurrent_calls_come_back_in_call_order_each_observed_once(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    echo = RayTool(Tool(functools.partial(slow_echo, journal=str(path)), name="slow_echo"))
    delays = {"a": 600, "b": 300, "c": 0}  # the first call finishes last
    calls = [call("slow_echo", {"text": t, "delay_ms": d}, id=t) for t, d in delays.items()]
    s = session([])
    branch = s.new_branch("b1", tools=[echo])
    outcomes = anyio.run(lambda: branch.act(calls, strategy="concurrent"))
    assert [o.content for o in outcomes] == ["a", "b", "c"]  # in call order
    assert all(o.outcome is Outcome.DONE and o.observation is not None for o in outcomes)
    assert sorted(line.split()[1] for line in journal(path)) == ["a", "b", "c"]
    observed = [o for o in s.log if o.effect.resource == "tool/slow_echo"]
    assert sorted(o.id for o in observed) == sorted(
        o.observation.id for o in outcomes if o.observation
    )
    assert all(o.decision is Decision.PERMIT and len(o.effects) == 1 for o in observed)


# -- operations ---------------------------------------------------------------------------


def squares(parents: Mapping[OperationId, Any], values: list[int]) -> list[int]:
    return [v * v for v in values]


def total(parents: Mapping[OperationId, Any]) -> dict[str, Any]:
    found = sorted(str(r) for op, r in parents.items() if op != "squares")
    return {"sum": sum(parents[OperationId("squares")]), "answers": found}


def where(parents: Mapping[OperationId, Any]) -> int:
    return os.getpid()


def test_an_operation_runs_on_ray_with_its_parents_and_arguments() -> None:
    graph = Graph()
    first = graph.add_operation(ray_operation(squares), values=[1, 2, 3])
    last = graph.add_operation(ray_operation(total), depends_on=[first])
    pid = graph.add_operation(ray_operation(where))
    result = anyio.run(lambda: graph.run(limit=2))
    assert result.ok and result[first] == [1, 4, 9]
    assert result[last] == {"sum": 14, "answers": []}
    assert result[pid] != os.getpid()


def researcher(messages: list[Any]) -> Any:
    """The scripted model of each branch: look the topic up and try to delete it, then sum up."""
    if messages[-1].role == "tool":
        told = [m.content for m in messages if m.role == "tool"]
        return "summary: " + " | ".join(told)
    asked = next(m.content for m in messages if m.role == "user")
    topic = asked.split()[1]
    return [
        call("lookup", {"topic": topic}, id=f"{topic}-1"),
        call("delete", {"path": topic}, id=f"{topic}-2"),
    ]


def local(fn: Any) -> Any:
    """`fn` as a graph operation run here (what ray_operation runs on Ray)."""

    @functools.wraps(fn)
    async def run(parents: Mapping[OperationId, Any], **kwargs: Any) -> Any:
        return fn(parents, **kwargs)

    return run


def run_research(path: Path, on_ray: bool) -> tuple[Any, Session]:
    s = session(researcher)
    op = ray_operation if on_ray else local
    graph = Graph()
    first = graph.add_operation(op(squares), values=[1, 2, 3])
    research = [
        graph.add_operation(
            "operate",
            branch=s.new_branch(topic, tools=tools(path, on_ray)),
            depends_on=[first],
            instruction=f"Research {topic}",
            action_strategy="concurrent",
        )
        for topic in TOPICS
    ]
    graph.add_operation(op(total), depends_on=[first, *research])
    return anyio.run(lambda: graph.run(limit=4)), s


def audit(s: Session) -> Counter[tuple[Any, ...]]:
    return Counter(
        (
            o.principal,
            o.effect.action,
            o.effect.resource,
            o.decision,
            tuple((e.action, e.resource) for e in o.effects),
            o.reason.rpartition("perform failed: ")[2] if "perform failed" in o.reason else "",
        )
        for o in s.log
    )


def test_the_same_graph_gives_the_same_results_and_audit_log_locally_and_on_ray(
    tmp_path: Path,
) -> None:
    here, here_session = run_research(tmp_path / "here", on_ray=False)
    there, there_session = run_research(tmp_path / "there", on_ray=True)

    assert here.ok and there.ok
    assert there.results == here.results
    assert there.status == here.status
    assert audit(there_session) == audit(here_session)
    # the log is not trivially equal: it holds permits, denials and a failed tool
    decisions = Counter((key[2], key[3]) for key in audit(there_session).elements())
    assert decisions[("tool/lookup", Decision.PERMIT)] == 3
    assert decisions[("tool/delete", Decision.DENY)] == 3
    assert decisions[("model/scripted", Decision.PERMIT)] == 6
    assert "ValueError: no data on `budgets`" in {key[5] for key in audit(there_session)}
    # the same tools ran, here in this process and there in Ray workers
    ran_here, ran_there = journal(tmp_path / "here"), journal(tmp_path / "there")
    assert sorted(x.split()[:2] for x in ran_here) == sorted(x.split()[:2] for x in ran_there)
    assert {int(x.split()[2]) for x in ran_here} == {os.getpid()}
    assert os.getpid() not in {int(x.split()[2]) for x in ran_there}
    summary = there[OperationId("total")]
    assert summary["sum"] == 14 and len(summary["answers"]) == 3


def broken(parents: Mapping[OperationId, Any]) -> int:
    raise KeyError("missing")


def test_a_failing_operation_fails_with_its_own_exception_and_is_retried() -> None:
    graph = Graph()
    op = graph.add_operation(ray_operation(broken), retries=1)
    result = anyio.run(lambda: graph.run())
    assert result.status[op].value == "failed" and result.attempts[op] == 2
    assert type(result.errors[op]) is KeyError


def test_what_cannot_be_shipped_is_refused_with_a_clear_error() -> None:
    lock = threading.Lock()

    def guarded(x: int) -> int:
        with lock:
            return x

    with pytest.raises(ToolDefinitionError, match=r"tool `guarded` cannot run on Ray.*pickle"):
        RayTool(guarded)

    async def op(parents: Mapping[OperationId, Any]) -> int:
        with lock:
            return 1

    with pytest.raises(GraphError, match=r"operation `op` cannot run on Ray.*pickle"):
        ray_operation(op)
    with pytest.raises(GraphError, match="plain function"):
        ray_operation(Tool(squares))  # type: ignore[arg-type]
    with pytest.raises(ToolDefinitionError, match="only a plain Python tool"):
        RayTool(RayTool(squares))  # type: ignore[arg-type]
    with pytest.raises(ServiceError, match="sizes a local cluster"):
        RayExecutor("auto", num_cpus=2)


def test_a_call_given_up_on_is_cancelled_on_ray_and_recorded_as_not_performed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal"
    echo = RayTool(Tool(functools.partial(slow_echo, journal=str(path)), name="slow_echo"))
    s = session([])
    branch = s.new_branch("b1", tools=[echo])

    async def give_up() -> None:
        with anyio.move_on_after(0.5):
            await branch.act([call("slow_echo", {"text": "late", "delay_ms": 1500})])
        await anyio.sleep(1.5)  # past the tool's delay: it would have written by now

    anyio.run(give_up)
    assert journal(path) == []  # the task was cancelled in the worker
    (observed,) = [o for o in s.log if o.effect.resource == "tool/slow_echo"]
    assert observed.decision is Decision.PERMIT and observed.effects == ()
    assert "perform failed" in observed.reason


def test_off_asyncio_the_result_is_waited_for_in_a_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lion.services import ray_exec

    monkeypatch.setattr(ray_exec, "_on_asyncio", lambda: False)  # as under trio
    path = tmp_path / "journal"
    calls = [call("lookup", {"topic": "kernels"}), call("lookup", {"topic": "budgets"})]
    branch = session([]).new_branch("b1", tools=tools(path, on_ray=True))
    outcomes = anyio.run(lambda: branch.act(calls))
    assert [o.content for o in outcomes] == [
        "kernels: 7 letters",
        "error: tool `lookup` failed: ValueError: no data on `budgets`",
    ]


def test_without_a_cluster_nothing_is_dispatched_and_the_call_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    path = tmp_path / "journal"
    branch = session([]).new_branch("b1", tools=tools(path, on_ray=True))
    (outcome,) = anyio.run(lambda: branch.act([call("lookup", {"topic": "kernels"})]))
    assert outcome.outcome is Outcome.FAILED
    assert "no cluster is connected" in outcome.content
    assert journal(path) == []


def test_the_guide_quick_start_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LION_CAPABILITY_KEY", "ray-quick-start-key-0123456789abcdef")
    doc = (Path(__file__).resolve().parents[2] / "docs" / "ray.md").read_text()
    match = re.search(r"## Quick start\n\n```python\n(.*?)```", doc, re.S)
    assert match is not None
    script = tmp_path / "quick_start.py"
    script.write_text(match.group(1))
    runpy.run_path(str(script), run_name="__main__")  # uses this module's cluster
    assert capsys.readouterr().out.splitlines() == [
        "4 Done.",
        "worker chat model/scripted PERMIT 1",
        "worker call tool/search PERMIT 1",
        "worker call tool/remove DENY 0",
        "worker chat model/scripted PERMIT 1",
    ]
    assert ray.is_initialized()  # the quick start's executor did not shut our cluster down


def test_parents_that_cannot_be_sent_fail_the_operation_before_dispatch() -> None:
    async def make_lock(parents: Mapping[OperationId, Any]) -> Any:
        return threading.Lock()

    graph = Graph()
    lock = graph.add_operation(make_lock)  # runs here: its result stays in this process
    op = graph.add_operation(ray_operation(where), depends_on=[lock])
    result = anyio.run(lambda: graph.run())
    error = result.errors[op]
    assert isinstance(error, ServiceError)
    assert str(error).startswith(
        "ray: operation `where` was not dispatched: its arguments cannot be sent to a worker"
    )
