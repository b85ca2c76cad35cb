"""Models: the scripted test double and the switch that refuses real requests."""

from __future__ import annotations

import anyio
import httpx
import msgspec
import pytest

from lion.errors import LionError, ModelRequestRefused, ScriptError, ServiceError
from lion.services.models import (
    ALLOW_ENV_VAR,
    ClientModel,
    Model,
    ScriptedModel,
    call,
    model_requests_allowed,
    refuse_model_requests,
)
from lion.wire import ChatClient, ChatRequest, LlamaCpp, Message


def ask(model: Model, text: str = "hi") -> msgspec.Struct:
    request = ChatRequest(model=model.name, messages=[Message.user(text)])
    return anyio.run(model.complete, request)


def test_a_script_answers_in_order_and_keeps_the_requests() -> None:
    model = ScriptedModel(["first", call("search", {"q": "lion"}), "last"])
    assert isinstance(model, Model)
    first = ask(model, "one")
    assert first.choices[0].message.content == "first"  # type: ignore[attr-defined]
    assert first.choices[0].finish_reason == "stop"  # type: ignore[attr-defined]
    second = ask(model, "two").choices[0]  # type: ignore[attr-defined]
    assert second.finish_reason == "tool_calls"
    (tc,) = second.message.tool_calls
    assert (tc.id, tc.function.name, tc.function.arguments) == ("call_1", "search", '{"q":"lion"}')
    assert ask(model).choices[0].message.content == "last"  # type: ignore[attr-defined]
    assert [r.messages[0].content for r in model.requests] == ["one", "two", "hi"]
    with pytest.raises(ScriptError, match="no reply for request 4: its script holds 3"):
        ask(model)


def test_a_script_may_be_a_function_of_the_messages() -> None:
    model = ScriptedModel(lambda messages: f"you said {messages[-1].content}")
    assert ask(model, "ping").choices[0].message.content == "you said ping"  # type: ignore[attr-defined]
    assert ask(model, "pong").choices[0].message.content == "you said pong"  # type: ignore[attr-defined]


def test_several_calls_raw_arguments_and_whole_messages() -> None:
    model = ScriptedModel(
        [
            [call("a", {"x": 1}), call("b", "{not json", id="mine")],
            Message(role="assistant", content="done", tool_calls=[call("c")]),
        ]
    )
    calls = ask(model).choices[0].message.tool_calls  # type: ignore[attr-defined]
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_1", "a", '{"x":1}'),
        ("mine", "b", "{not json"),
    ]
    message = ask(model).choices[0].message  # type: ignore[attr-defined]
    assert message.content == "done" and message.tool_calls[0].id == "call_2"


@pytest.mark.parametrize(
    "reply", [42, Message(role="user", content="not mine"), [call("a"), "text"]]
)
def test_a_reply_it_cannot_give_is_a_clear_error(reply: object) -> None:
    model = ScriptedModel([reply])  # type: ignore[list-item]
    with pytest.raises(ScriptError, match="scripted"):
        ask(model)
    assert issubclass(ScriptError, ServiceError) and issubclass(ServiceError, LionError)


def test_real_requests_can_be_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        body = {"choices": [{"message": {"role": "assistant", "content": "real"}}]}
        return httpx.Response(200, json=body)

    async def main() -> str:
        client = ChatClient(
            LlamaCpp("http://127.0.0.1:9/v1"), http_transport=httpx.MockTransport(handler)
        )
        async with client:
            model = ClientModel(client, "smollm2")
            completion = await model.complete(ChatRequest(model="x", messages=[Message.user("a")]))
            with refuse_model_requests():
                assert not model_requests_allowed()
                with pytest.raises(ModelRequestRefused, match="`smollm2` refused"):
                    await model.complete(ChatRequest(model="x", messages=[Message.user("b")]))
            monkeypatch.setenv(ALLOW_ENV_VAR, "0")
            with pytest.raises(ModelRequestRefused):
                await model.complete(ChatRequest(model="x", messages=[Message.user("c")]))
            return str(completion.choices[0].message.content)

    assert anyio.run(main) == "real"
    assert len(sent) == 1  # the refused requests never left the process
    assert msgspec.json.decode(sent[0].content)["model"] == "smollm2"


def test_a_client_model_needs_a_name() -> None:
    with pytest.raises(ServiceError, match="non-empty"):
        ClientModel(None, "")  # type: ignore[arg-type]
