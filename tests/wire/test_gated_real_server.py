"""A Branch on the real llama.cpp server: the model's tool call passes the gate, or is denied.

SmolLM2-135M is tiny, so the test names the tool (`tool_choice`) and asserts
what the kernel guarantees, never what the model says.
"""

from __future__ import annotations

import pytest

from lion.kernel.decision import Decision
from lion.kernel.observable import Effect
from lion.services import ClientModel, Session, Tool
from lion.services.messages import ActionResponse
from lion.wire import ChatClient, LlamaCpp, ToolChoice

from .servers import LlamaServer

pytestmark = [pytest.mark.anyio, pytest.mark.server, pytest.mark.timeout(180)]

KEY = b"gated-real-server-key-0123456789abcdef"
CALLS: list[str] = []


def get_weather(city: str) -> str:
    """The current weather in a city.

    Args:
        city: the city's name
    """
    CALLS.append(city)
    return f"sunny in {city}"


@pytest.mark.parametrize(("backend", "allowed"), [("python", True), ("rust", False)])
async def test_a_real_model_call_and_its_tool_call_pass_the_gate(
    llama_server: LlamaServer, backend: str, allowed: bool
) -> None:
    weather = "permit" if allowed else "forbid"
    policies = f"""
    @id("chat") permit(principal, action == Action::"chat", resource);
    @id("weather") {weather}(principal, action == Action::"get_weather", resource);
    """
    CALLS.clear()
    async with ChatClient(LlamaCpp(llama_server.base_url, api_key=llama_server.api_key)) as c:
        model = ClientModel(c, llama_server.model)
        async with Session(policies=policies, model=model, key=KEY, backend=backend) as s:
            branch = s.new_branch(
                "forecaster",
                tools=[Tool(get_weather)],
                options={"temperature": 0.0, "seed": 1, "max_tokens": 48},
            )
            answer = await branch.operate(
                "What is the weather in Oslo?",
                max_rounds=1,
                tool_choice=ToolChoice.named("get_weather"),
            )
            log = s.log.snapshot()
    assert isinstance(answer, str)
    effects = [(o.effect, o.decision) for o in log]
    assert effects[0] == (Effect("chat", f"model/{llama_server.model}"), Decision.PERMIT)
    assert effects[1][0] == Effect("call", "tool/get_weather")
    assert effects[2] == (Effect("chat", f"model/{llama_server.model}"), Decision.PERMIT)
    (response,) = [m for m in branch.messages if isinstance(m, ActionResponse)]
    if allowed:
        assert effects[1][1] is Decision.PERMIT and len(CALLS) == 1
        assert response.outcome == "done" and response.content == f"sunny in {CALLS[0]}"
    else:
        assert effects[1][1] is Decision.DENY and CALLS == []
        assert response.outcome == "denied" and "weather" in response.content


async def test_a_real_streamed_chat_is_one_gated_effect(llama_server: LlamaServer) -> None:
    policies = '@id("chat") permit(principal, action == Action::"chat", resource);'
    async with ChatClient(LlamaCpp(llama_server.base_url, api_key=llama_server.api_key)) as c:
        model = ClientModel(c, llama_server.model)
        async with Session(policies=policies, model=model, key=KEY, backend="rust") as s:
            branch = s.new_branch("talker", options={"max_tokens": 12, "temperature": 0.0})
            pieces = []
            async with branch.stream_chat("Say hello.") as stream:
                async for piece in stream:
                    pieces.append(piece)
            log = s.log.snapshot()
    assert len(pieces) > 1 and "".join(pieces).strip()
    (obs,) = log
    assert obs.decision is Decision.PERMIT
    assert obs.effects == (Effect("chat", f"model/{llama_server.model}"),)
