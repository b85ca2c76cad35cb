"""The wire structs: what they send, and how tolerantly they read."""

from __future__ import annotations

import msgspec
import pytest

from lion.wire.dto import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    Message,
    ResponseFormat,
    Tool,
    ToolChoice,
)

decode = msgspec.json.decode


def test_request_omits_unset_fields_but_keeps_type_tags() -> None:
    request = ChatRequest(
        model="m",
        messages=[Message.system("s"), Message.user("u")],
        tools=[Tool.of("f")],
        tool_choice=ToolChoice.named("f"),
        response_format=ResponseFormat.json_object(),
    )
    assert msgspec.to_builtins(request) == {
        "model": "m",
        "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
        "tools": [{"function": {"name": "f"}, "type": "function"}],
        "tool_choice": {"function": {"name": "f"}, "type": "function"},
        "response_format": {"type": "json_object"},
    }


def test_content_parts_round_trip() -> None:
    parts = [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "data:x"}},
    ]
    message = Message.user(parts)
    assert msgspec.json.decode(msgspec.json.encode(message), type=Message) == message


def test_completion_tolerates_unknown_and_missing_fields() -> None:
    raw = b"""{"choices": [{"message": {"role": "assistant", "content": "hi", "audio": null,
               "annotations": []}, "finish_reason": "stop", "stop_reason": 2}],
               "service_tier": "default", "prompt_logprobs": null}"""
    completion = decode(raw, type=ChatCompletion)
    assert completion.content == "hi"
    assert completion.id == ""
    assert completion.usage is None
    assert completion.finish_reason == "stop"
    assert completion.tool_calls == []


def test_completion_with_tool_calls_and_null_content() -> None:
    raw = b"""{"id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
               "tool_calls": [{"id": "c", "type": "function",
                               "function": {"name": "f", "arguments": "{}"}}],
               "function_call": {"name": "f", "arguments": "{}"}}, "finish_reason": "tool_calls"}],
               "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3,
                         "completion_tokens_details": {"reasoning_tokens": 0}}}"""
    completion = decode(raw, type=ChatCompletion)
    assert completion.content is None
    assert completion.tool_calls[0].function.name == "f"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 3


def test_content_parts_in_a_reply_join_their_text() -> None:
    parts = b'[{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]'
    raw = b'{"choices": [{"message": {"role": "assistant", "content": ' + parts + b"}}]}"
    assert decode(raw, type=ChatCompletion).content == "ab"


def test_no_choices() -> None:
    with pytest.raises(IndexError, match="no choices"):
        _ = ChatCompletion().message
    assert ChatCompletion().finish_reason is None


def test_chunk_defaults() -> None:
    chunk = decode(b'{"choices": [{"delta": {}}]}', type=ChatCompletionChunk)
    assert chunk.choices[0].delta.content is None
    assert chunk.choices[0].index == 0
    assert chunk.error is None
