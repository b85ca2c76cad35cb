"""Against a real OpenAI-compatible server: llama-cpp-python with SmolLM2-135M on 127.0.0.1.

The model is tiny, so the tests assert what the protocol guarantees (shapes,
tool-call assembly, schema-constrained JSON, errors), never what it says.
"""

from __future__ import annotations

import json

import anyio
import pytest

from lion.errors import AuthenticationError
from lion.wire import (
    ChatClient,
    ChatRequest,
    Guided,
    LlamaCpp,
    Message,
    RateLimits,
    ResponseFormat,
    Tool,
    ToolChoice,
)

from .servers import LlamaServer

pytestmark = [pytest.mark.anyio, pytest.mark.server, pytest.mark.timeout(120)]

WEATHER = Tool.of(
    "get_weather",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "The current weather in a city.",
)
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


def client(server: LlamaServer, **kw: object) -> ChatClient:
    return ChatClient(LlamaCpp(server.base_url, api_key=server.api_key), **kw)  # type: ignore[arg-type]


def ask(server: LlamaServer, text: str, **kw: object) -> ChatRequest:
    return ChatRequest(
        model=server.model,
        messages=[Message.user(text)],
        temperature=0.0,
        seed=1,
        **kw,  # type: ignore[arg-type]
    )


async def test_plain_chat(llama_server: LlamaServer) -> None:
    async with client(llama_server) as c:
        reply = await c.chat(ask(llama_server, "Say hello.", max_tokens=12))
    assert reply.id.startswith("chatcmpl")
    assert reply.message.role == "assistant"
    assert isinstance(reply.content, str)
    assert reply.content
    assert reply.finish_reason in ("stop", "length")
    assert reply.usage is not None
    assert reply.usage.completion_tokens <= 12
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


async def test_streaming_assembles_the_same_text(llama_server: LlamaServer) -> None:
    request = ask(llama_server, "Count from one to five.", max_tokens=16)
    async with client(llama_server) as c:
        whole = await c.chat(request)
        pieces: list[str] = []
        async with c.stream(request) as stream:
            async for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta.content:
                        pieces.append(choice.delta.content)
            streamed = stream.completion()
    assert len(pieces) > 1
    assert streamed.content == "".join(pieces)
    assert streamed.content == whole.content  # temperature 0 and a seed: the same text
    assert streamed.finish_reason == whole.finish_reason
    assert streamed.message.role == "assistant"


async def test_tool_call_with_a_named_tool_choice(llama_server: LlamaServer) -> None:
    request = ask(
        llama_server,
        "What is the weather in Paris?",
        max_tokens=40,
        tools=[WEATHER],
        tool_choice=ToolChoice.named("get_weather"),
    )
    async with client(llama_server) as c:
        reply = await c.chat(request)
        async with c.stream(request) as stream:
            streamed = await stream.collect()
    for completion in (reply, streamed):
        assert completion.finish_reason == "tool_calls"
        (call,) = completion.tool_calls
        assert call.function.name == "get_weather"
        assert call.id
        assert isinstance(json.loads(call.function.arguments).get("city"), str)
    # llama.cpp repeats id and name in every delta; the assembler keeps one of each
    assert streamed.tool_calls[0].function.name == "get_weather"
    assert streamed.tool_calls[0].function.arguments == reply.tool_calls[0].function.arguments


async def test_required_tool_choice_with_one_tool_becomes_that_tool(
    llama_server: LlamaServer,
) -> None:
    request = ask(
        llama_server, "Weather in Oslo?", max_tokens=40, tools=[WEATHER], tool_choice="required"
    )
    async with client(llama_server) as c:
        reply = await c.chat(request)
    assert [t.function.name for t in reply.tool_calls] == ["get_weather"]


async def test_tool_result_round_trip(llama_server: LlamaServer) -> None:
    first = ask(
        llama_server,
        "What is the weather in Paris?",
        max_tokens=40,
        tools=[WEATHER],
        tool_choice=ToolChoice.named("get_weather"),
    )
    async with client(llama_server) as c:
        reply = await c.chat(first)
        call = reply.tool_calls[0]
        assert reply.message.content is None  # llama.cpp needs "" here: the dialect sends it
        history = [
            *first.messages,
            reply.message,
            Message.tool(call.id, json.dumps({"city": "Paris", "sky": "sunny", "celsius": 21})),
        ]
        second = await c.chat(
            ChatRequest(
                model=llama_server.model,
                messages=history,
                tools=[WEATHER],
                max_tokens=24,
                temperature=0.0,
            )
        )
    assert second.content
    assert not second.tool_calls


async def test_structured_output_follows_the_schema(llama_server: LlamaServer) -> None:
    async with client(llama_server) as c:
        by_format = await c.chat(
            ask(
                llama_server,
                "Bob is 30 years old. Reply with his name and age as JSON.",
                max_tokens=48,
                response_format=ResponseFormat.schema("person", PERSON),
            )
        )
        by_guided = await c.chat(
            ask(
                llama_server,
                "Bob is 30 years old. Reply with his name and age as JSON.",
                max_tokens=48,
                guided=Guided(json=PERSON),
            )
        )
        choice = await c.chat(
            ask(llama_server, "Is the sky blue?", max_tokens=4, guided=Guided(choice=["yes", "no"]))
        )
    for reply in (by_format, by_guided):
        data = json.loads(reply.content or "")
        assert isinstance(data["name"], str)
        assert isinstance(data["age"], int)
    assert choice.content in ("yes", "no")


async def test_a_wrong_api_key_is_an_authentication_error(llama_server: LlamaServer) -> None:
    async with ChatClient(LlamaCpp(llama_server.base_url, api_key="wrong")) as c:
        with pytest.raises(AuthenticationError) as info:
            await c.chat(ask(llama_server, "hi", max_tokens=4))
    err = info.value
    assert err.status == 401
    assert "invalid api key" in err.message.lower()
    assert err.request_id  # uvicorn's x-request-id


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_four_concurrent_requests(llama_server: LlamaServer, concurrency: int) -> None:
    """The server answers one at a time: the client queues them (limit 1) or the server does."""
    replies: list[str | None] = [None] * 4
    async with client(llama_server, limits=RateLimits(max_concurrency=concurrency)) as c:

        async def one(i: int) -> None:
            reply = await c.chat(ask(llama_server, f"Name a colour number {i}.", max_tokens=6))
            replies[i] = reply.content

        with anyio.fail_after(90):
            async with anyio.create_task_group() as tg:
                for i in range(4):
                    tg.start_soon(one, i)
    assert all(isinstance(r, str) and r for r in replies)


async def test_concurrent_streams_do_not_cut_each_other_off(llama_server: LlamaServer) -> None:
    results: list[str] = []
    async with client(llama_server, limits=RateLimits(max_concurrency=2)) as c:

        async def one(i: int) -> None:
            async with c.stream(ask(llama_server, f"Say {i}.", max_tokens=8)) as stream:
                results.append((await stream.collect()).content or "")

        with anyio.fail_after(90):
            async with anyio.create_task_group() as tg:
                for i in range(2):
                    tg.start_soon(one, i)
    assert len(results) == 2
    assert all(results)
