"""Each dialect turns the one canonical request into the body its server accepts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lion import errors
from lion.wire import (
    ChatRequest,
    Guided,
    LlamaCpp,
    Message,
    NvidiaNIM,
    OpenAI,
    ParamRange,
    ResponseFormat,
    Tool,
    ToolCall,
    ToolChoice,
)
from lion.wire.dialects.llamacpp import choice_grammar
from lion.wire.dialects.nvidia import HOSTED_URL as NIM_HOSTED
from lion.wire.dto import ErrorInfo, FunctionCall

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
TOOL = Tool.of("f", {"type": "object", "properties": {}})


def req(**kw: Any) -> ChatRequest:
    return ChatRequest(
        model=kw.pop("model", "m"), messages=kw.pop("messages", [Message.user("hi")]), **kw
    )


def body(dialect: Any, request: ChatRequest, *, stream: bool = False) -> dict[str, Any]:
    encoded = dialect.encode(request, stream=stream)
    assert json.loads(encoded) == dialect.body(request, stream=stream)
    return json.loads(encoded)  # type: ignore[no-any-return]


# ------------------------------------------------------------------ openai


def test_openai_sends_only_what_is_set() -> None:
    d = OpenAI("http://127.0.0.1:1/v1/")
    assert d.url == "http://127.0.0.1:1/v1/chat/completions"
    assert body(d, req()) == {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert "authorization" not in d.headers()


def test_openai_stream_asks_for_usage() -> None:
    b = body(OpenAI("http://x/v1", stream_usage=True), req(), stream=True)
    assert b["stream"] is True
    assert b["stream_options"] == {"include_usage": True}
    assert "stream_options" not in body(
        OpenAI("http://x/v1", stream_usage=False), req(), stream=True
    )


def test_openai_hosted_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(errors.AuthenticationError, match="OPENAI_API_KEY"):
        OpenAI()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert OpenAI().headers()["authorization"] == "Bearer sk-env"
    assert OpenAI(api_key="sk-given").headers()["authorization"] == "Bearer sk-given"


def test_openai_guided_json_becomes_a_json_schema_format() -> None:
    b = body(OpenAI("http://x/v1"), req(guided=Guided(json=SCHEMA)))
    assert b["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": SCHEMA},
    }
    assert "guided" not in b


@pytest.mark.parametrize(
    "guided", [Guided(regex="a+"), Guided(choice=["a"]), Guided(grammar="root ::= x")]
)
def test_openai_refuses_other_constraints(guided: Guided) -> None:
    with pytest.raises(errors.BadRequestError, match="`openai` dialect has no `guided_"):
        OpenAI("http://x/v1").encode(req(guided=guided))


def test_guided_needs_exactly_one_constraint() -> None:
    with pytest.raises(errors.BadRequestError, match="exactly one"):
        OpenAI("http://x/v1").encode(req(guided=Guided(json=SCHEMA, regex="x")))
    with pytest.raises(errors.BadRequestError, match="exactly one"):
        OpenAI("http://x/v1").encode(req(guided=Guided()))


def test_extra_body_merges_nested() -> None:
    nim = NvidiaNIM("http://nim:8000/v1", nvext="nested")
    b = body(
        nim,
        req(guided=Guided(regex="[0-9]+"), extra_body={"nvext": {"top_k": 5}, "ignore_eos": True}),
    )
    assert b["nvext"] == {"guided_regex": "[0-9]+", "top_k": 5}
    assert b["ignore_eos"] is True


def test_bad_base_url() -> None:
    with pytest.raises(errors.BadRequestError, match="not an http"):
        OpenAI("127.0.0.1:8000")


# -------------------------------------------------------------------- nim


def test_nim_hosted_reads_nvidia_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NVIDIA_API_KEY", raising=False)
    with pytest.raises(errors.AuthenticationError, match="NVIDIA_API_KEY"):
        NvidiaNIM()
    monkeypatch.setenv("NVIDIA_API_KEY", "nvapi-x")
    nim = NvidiaNIM()
    assert nim.url == NIM_HOSTED + "/chat/completions"
    assert nim.headers()["authorization"] == "Bearer nvapi-x"
    assert nim.hosted


def test_nim_self_hosted_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NVIDIA_API_KEY", raising=False)
    nim = NvidiaNIM("http://127.0.0.1:8000/v1")
    assert not nim.hosted
    assert "authorization" not in nim.headers()


@pytest.mark.parametrize(
    ("guided", "params"),
    [
        (Guided(json=SCHEMA), {"guided_json": SCHEMA}),
        (Guided(regex="[a-z]+"), {"guided_regex": "[a-z]+"}),
        (Guided(choice=["yes", "no"]), {"guided_choice": ["yes", "no"]}),
        (Guided(grammar="root ::= x", backend="xgrammar"),
         {"guided_grammar": "root ::= x", "guided_decoding_backend": "xgrammar"}),
    ],
)  # fmt: skip
@pytest.mark.parametrize("placement", ["nested", "top"])
def test_nim_guided_placement(guided: Guided, params: dict[str, Any], placement: str) -> None:
    b = body(NvidiaNIM("http://nim/v1", nvext=placement), req(guided=guided))  # type: ignore[arg-type]
    if placement == "nested":
        assert b["nvext"] == params
        assert not set(params) & set(b)
    else:
        assert {k: b[k] for k in params} == params
        assert "nvext" not in b


def test_nim_passes_a_json_schema_format_through() -> None:
    fmt = ResponseFormat.schema("out", SCHEMA, strict=True)
    b = body(NvidiaNIM("http://nim/v1"), req(response_format=fmt))
    assert b["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": SCHEMA, "strict": True},
    }


def test_nim_bad_settings() -> None:
    with pytest.raises(errors.BadRequestError, match="`nvext`"):
        NvidiaNIM("http://nim/v1", nvext="inside")  # type: ignore[arg-type]
    with pytest.raises(errors.BadRequestError, match="`range_policy`"):
        NvidiaNIM("http://nim/v1", range_policy="ignore")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("param", "value"),
    [("temperature", 1.5), ("temperature", -0.1), ("top_p", 0.0), ("max_tokens", 0)],
)
def test_nim_ranges_refuse_by_default(param: str, value: float) -> None:
    with pytest.raises(errors.BadRequestError, match=f"`{param}` = {value} is outside"):
        NvidiaNIM("http://nim/v1").encode(req(model="meta/llama-3.1-8b-instruct", **{param: value}))


def test_nim_ranges_clamp() -> None:
    nim = NvidiaNIM("http://nim/v1", range_policy="clamp")
    b = body(nim, req(temperature=1.5, top_p=0.0, max_tokens=0, presence_penalty=-3.0))
    assert b["temperature"] == 1.0
    assert 0.0 < b["top_p"] < 1e-300
    assert b["max_tokens"] == 1
    assert isinstance(b["max_tokens"], int)
    assert b["presence_penalty"] == -2.0
    assert body(nim, req(temperature=0.7))["temperature"] == 0.7


def test_nim_ranges_per_model_glob_and_off() -> None:
    ranges = {
        "acme/*": {"temperature": ParamRange(0.0, 5.0)},
        "*": {"temperature": ParamRange(0.0, 0.5)},
    }
    nim = NvidiaNIM("http://nim/v1", ranges=ranges)
    assert body(nim, req(model="acme/big", temperature=4.0))["temperature"] == 4.0
    with pytest.raises(errors.BadRequestError, match=r"outside \[0, 0.5\] for model `other`"):
        nim.encode(req(model="other", temperature=0.6))
    assert (
        body(NvidiaNIM("http://nim/v1", range_policy="off"), req(temperature=9.0))["temperature"]
        == 9.0
    )
    assert (
        body(NvidiaNIM("http://nim/v1"), req(model="openai/gpt-oss-20b", temperature=1.5))[
            "temperature"
        ]
        == 1.5
    )


def test_param_range_text() -> None:
    assert str(ParamRange(0.0, 1.0, low_open=True)) == "(0, 1]"
    assert str(ParamRange(1, None)) == "[1, inf]"


# ---------------------------------------------------------------- llama.cpp


def test_llama_assistant_tool_turn_gets_empty_content() -> None:
    call = ToolCall(id="c1", function=FunctionCall(name="f", arguments="{}"))
    messages = [Message.user("hi"), Message.assistant(tool_calls=[call]), Message.tool("c1", "42")]
    b = body(LlamaCpp("http://l/v1"), req(messages=messages))
    wire_call = {"id": "c1", "function": {"name": "f", "arguments": "{}"}, "type": "function"}
    assert b["messages"][1] == {"role": "assistant", "content": "", "tool_calls": [wire_call]}
    assert b["messages"][2] == {"role": "tool", "content": "42", "tool_call_id": "c1"}
    # the OpenAI dialect leaves it out
    assert "content" not in body(OpenAI("http://x/v1"), req(messages=messages))["messages"][1]


def test_llama_required_tool_choice() -> None:
    b = body(LlamaCpp("http://l/v1"), req(tools=[TOOL], tool_choice="required"))
    assert b["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    with pytest.raises(errors.BadRequestError, match="among 2 tools"):
        LlamaCpp("http://l/v1").encode(req(tools=[TOOL, Tool.of("g")], tool_choice="required"))
    named = body(LlamaCpp("http://l/v1"), req(tools=[TOOL], tool_choice=ToolChoice.named("f")))
    assert named["tool_choice"] == {"function": {"name": "f"}, "type": "function"}


def test_llama_json_schema_becomes_json_object_with_schema() -> None:
    b = body(LlamaCpp("http://l/v1"), req(response_format=ResponseFormat.schema("x", SCHEMA)))
    assert b["response_format"] == {"type": "json_object", "schema": SCHEMA}
    b = body(LlamaCpp("http://l/v1"), req(guided=Guided(json=SCHEMA)))
    assert b["response_format"] == {"type": "json_object", "schema": SCHEMA}


def test_llama_grammars() -> None:
    assert (
        body(LlamaCpp("http://l/v1"), req(guided=Guided(grammar='root ::= "a"')))["grammar"]
        == 'root ::= "a"'
    )
    b = body(LlamaCpp("http://l/v1"), req(guided=Guided(choice=["yes", 'say "no"\n'])))
    assert b["grammar"] == 'root ::= "yes" | "say \\"no\\"\\n"'
    with pytest.raises(errors.BadRequestError, match="at least one"):
        choice_grammar([])
    with pytest.raises(errors.BadRequestError, match="no `guided_regex`"):
        LlamaCpp("http://l/v1").encode(req(guided=Guided(regex="x")))


def test_llama_concurrency_advice_and_validation_errors() -> None:
    assert LlamaCpp("http://l/v1").max_concurrency == 1
    assert LlamaCpp("http://l/v1", max_concurrency=None).max_concurrency is None
    llama = LlamaCpp("http://l/v1")
    assert llama.is_client_error(ErrorInfo(message="2 validation errors:\n ...", status=500))
    assert not llama.is_client_error(ErrorInfo(message="2 validation errors:", status=400))
    assert not llama.is_client_error(ErrorInfo(message="out of memory", status=500))
    assert not OpenAI("http://x/v1").is_client_error(
        ErrorInfo(message="1 validation error:", status=500)
    )


def test_canonical_request_is_not_mutated() -> None:
    call = ToolCall(id="c1", function=FunctionCall(name="f"))
    request = req(
        messages=[Message.assistant(tool_calls=[call])], tools=[TOOL], tool_choice="required"
    )
    LlamaCpp("http://l/v1").encode(request)
    assert request.messages[0].content is None
    assert request.tool_choice == "required"
