"""An agent step: a scripted model asks for one tool call, the tool runs, the model answers.

LION's `Branch.operate` passes every call through the kernel (two model calls
and one tool call, each a capability check, a policy decision, a ledger
reservation and an Observation), on each backend. The peer is pydantic-ai's
`Agent` with a `FunctionModel` playing the same script and the same tool,
ungated. Also reported: the gate's own share of a LION step (the same step
with a gate that performs without asking the IPU).
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from benchmarks._table import Row

STEPS = 300
POLICIES = """
@id("chat") permit(principal, action == Action::"chat", resource);
@id("search") permit(principal, action == Action::"search", resource);
"""


def search(query: str) -> str:
    """Look something up.

    Args:
        query: what to look for
    """
    return f"found {query}"


def _lion_step_us(backend: str, *, gated: bool = True) -> float:
    from lion.domain import Pile
    from lion.services import ScriptedModel, Session, Tool, call
    from lion.services.messages import RoledMessage

    def script(messages: list[Any]) -> Any:
        return "done" if messages[-1].role == "tool" else call("search", {"query": "lion"})

    session = Session(
        policies=POLICIES, model=ScriptedModel(script), key=b"bench-runtime-" * 3, backend=backend
    )
    tool = Tool(search, blocking=False)
    branch = session.new_branch("agent", tools=[tool])
    if not gated:
        branch.gate = _Ungated(session.gate.ipu)

    async def steps(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            branch.messages = Pile(item_type=RoledMessage)  # each step starts a conversation
            answer = await branch.operate("What is LION?")
            assert answer == "done"
        return time.perf_counter() - start

    anyio.run(steps, 20)  # warm up
    best = min(anyio.run(steps, STEPS) for _ in range(3))
    if gated:
        assert len(session.log) >= 3 * STEPS
    return best / STEPS * 1e6


class _Ungated:
    """The gate's interface without the IPU: only for measuring the gate's share."""

    def __init__(self, ipu: Any) -> None:
        self.ipu = ipu

    async def call_model(self, caller: Any, model: Any, request: Any, **_: Any) -> Any:
        return await model.complete(request)

    async def call_tool(self, caller: Any, tool: Any, call: Any, **_: Any) -> Any:
        from lion.services.gate import Outcome, ToolOutcome

        arguments = tool.validate(call.function.arguments)
        result = await tool.invoke(arguments)
        return ToolOutcome(call, Outcome.DONE, str(result), result=result)


def _pydantic_ai_step_us() -> float:
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("search", {"query": "lion"})])
        return ModelResponse(parts=[TextPart("done")])

    agent = Agent(FunctionModel(script))
    agent.tool_plain(search)

    async def steps(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            result = await agent.run("What is LION?")
            assert result.output == "done"
        return time.perf_counter() - start

    anyio.run(steps, 20)
    return min(anyio.run(steps, STEPS) for _ in range(3)) / STEPS * 1e6


def run() -> list[Row]:
    peer = _pydantic_ai_step_us()
    rows = []
    for backend in ("rust", "python"):
        gated = _lion_step_us(backend)
        rows.append(
            Row(
                f"agent step, one tool call, gated ({backend} kernel)",
                gated,
                "pydantic-ai FunctionModel",
                peer,
                ">= 2x",
            )
        )
    ungated = _lion_step_us("rust", gated=False)
    gated = _lion_step_us("rust")
    rows.append(
        Row(
            "the gate per effect (rust; 3 effects a step) vs the ungated step",
            (gated - ungated) / 3,
            "ungated step",
            ungated,
            "gate < 10 us",
        )
    )
    return rows
