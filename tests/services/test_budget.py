"""Budgets: reserved before each call, settled with the real usage, whole batches or nothing."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from lion.errors import ServiceError
from lion.kernel.ipu import InvariantDenied
from lion.services.budget import Budget, Price
from lion.services.gate import Outcome
from lion.services.models import ScriptedModel, call
from lion.services.session import Session
from lion.services.tools import Tool
from lion.wire.dto import ChatCompletion, ChatRequest, Usage

KEY = b"budget-test-key-0123456789abcdef-01234567"
POLICIES = """
@id("chat") permit(principal, action == Action::"chat", resource);
@id("ping") permit(principal, action == Action::"ping", resource)
  when { context.budget.tool_calls > 0 };
"""
ran: list[str] = []


def ping(n: int) -> str:
    """Ping."""
    ran.append(str(n))
    return f"pong {n}"


@pytest.fixture(params=["python", "rust"])
def backend(request: pytest.FixtureRequest) -> str:
    ran.clear()
    return str(request.param)


def make(backend: str, script: Any = "hello", **kwargs: Any) -> Session:
    model = script if not isinstance(script, str | list) else ScriptedModel([script] * 50)
    return Session(policies=POLICIES, model=model, key=KEY, backend=backend, **kwargs)


def test_model_requests_stop_at_the_session_budget(backend: str) -> None:
    s = make(backend, budget=Budget(model_requests=2))
    branch = s.new_branch("b")
    for _ in range(2):
        assert anyio.run(branch.chat, "hi") == "hello"
    with pytest.raises(InvariantDenied) as denied:
        anyio.run(branch.chat, "hi")
    assert "budgets" in denied.value.observation.reason
    assert len(s.model.requests) == 2  # type: ignore[attr-defined]  # nothing sent
    assert (
        s.ipu.committed["model_requests"] == 2 and s.ipu.committed["branch/b/model_requests"] == 2
    )


def test_tokens_are_reserved_as_a_bound_and_settled_with_the_reported_usage(backend: str) -> None:
    s = make(backend, "one two three four five six seven eight", budget=Budget(output_tokens=40))
    branch = s.new_branch("b")
    anyio.run(branch.chat, "hello there, how are you?")
    sent = s.model.requests[0]  # type: ignore[attr-defined]
    assert sent.max_tokens == 40  # the server is told to stop at the budget
    assert s.ipu.committed["output_tokens"] == 39 // 4  # what the server reported, not the bound
    assert s.ipu.committed["input_tokens"] > 0 and s.ipu.reserved == {}
    assert "spent" in s.log[-1].reason
    anyio.run(branch.chat, "hi")
    assert s.model.requests[1].max_tokens == 40 - 39 // 4  # type: ignore[attr-defined]


class Boasting:
    """A server that reports far more tokens than it may have used."""

    name = "boast"

    async def complete(self, request: ChatRequest) -> ChatCompletion:
        reply = ScriptedModel(["ok"], name="boast")
        completion = await reply.complete(request)
        completion.usage = Usage(prompt_tokens=10**12, completion_tokens=10**12)
        return completion

    def stream(self, request: ChatRequest) -> Any:
        raise NotImplementedError


def test_a_usage_report_above_the_reservation_is_cut_to_it_and_noted(backend: str) -> None:
    s = make(
        backend,
        Boasting(),
        budget=Budget(output_tokens=100, cost=10**6),
        prices={"boast": Price(input=1_000_000, output=2_000_000)},
    )
    branch = s.new_branch("b")
    anyio.run(branch.chat, "hi")
    assert s.ipu.committed["output_tokens"] == 100
    assert s.ipu.committed["cost"] <= 10**6
    assert "reported more than reserved" in s.log[-1].reason
    assert s.ipu.projected["output_tokens"] <= 100


def test_a_concurrent_batch_that_does_not_fit_does_not_partly_run(backend: str) -> None:
    s = make(backend, budget=Budget(tool_calls=2))
    branch = s.new_branch("b", tools=[Tool(ping, blocking=False)])
    outcomes = anyio.run(
        lambda: branch.act([call("ping", {"n": i}) for i in range(3)], strategy="concurrent")
    )
    assert [o.outcome for o in outcomes] == [Outcome.DENIED] * 3 and ran == []
    assert all("the batch does not fit" in o.observation.reason for o in outcomes)
    assert len(s.log) == 3 and s.ipu.in_flight == 0 and s.ipu.reserved == {}
    outcomes = anyio.run(
        lambda: branch.act([call("ping", {"n": i}) for i in range(2)], strategy="concurrent")
    )
    assert all(o.ok for o in outcomes) and sorted(ran) == ["0", "1"]
    assert s.ipu.committed["tool_calls"] == 2 and s.ipu.reserved == {}


def test_eight_concurrent_branches_cannot_overspend(backend: str) -> None:
    s = make(backend, budget=Budget(tool_calls=5))
    branches = [s.new_branch(f"b{i}", tools=[Tool(ping, blocking=False)]) for i in range(8)]

    async def main() -> list[Any]:
        results: list[Any] = []

        async def spend(branch: Any) -> None:
            for n in range(2):
                results.extend(await branch.act([call("ping", {"n": n})]))

        async with anyio.create_task_group() as tg:
            for branch in branches:
                tg.start_soon(spend, branch)
        return results

    results = anyio.run(main)
    assert sum(o.ok for o in results) == 5 == len(ran)
    assert s.ipu.committed["tool_calls"] == 5
    denied = [o for o in results if o.outcome is Outcome.DENIED]
    assert len(denied) == 11
    # the last ones are refused by the policy, which sees nothing left in context.budget
    assert {o.observation.reason.split(" ")[0] for o in denied} <= {"invariant", "policy"}


def test_a_branch_budget_limits_that_branch_only(backend: str) -> None:
    s = make(backend, budget=Budget())
    tight = s.new_branch("tight", budget=Budget(model_requests=1))
    free = s.new_branch("free")
    anyio.run(tight.chat, "hi")
    with pytest.raises(InvariantDenied):
        anyio.run(tight.chat, "hi")
    for _ in range(3):
        anyio.run(free.chat, "hi")
    assert s.ipu.committed["model_requests"] == 4


def test_bad_budgets_are_refused() -> None:
    s = make("python")
    with pytest.raises(ServiceError, match="needs a session made with `budget=`"):
        s.new_branch("b", budget=Budget(tool_calls=1))
    with pytest.raises(ServiceError, match="at least 0"):
        Budget(tool_calls=-1)
    with pytest.raises(ServiceError, match="an int or None"):
        Budget(cost=1.5)  # type: ignore[arg-type]
    with pytest.raises(ServiceError, match="must be a Budget"):
        make("python", budget={"tool_calls": 1})
