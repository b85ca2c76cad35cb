"""The event-stream parser, chunk decoding, and the assembly of streamed completions."""

from __future__ import annotations

import itertools
import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lion import errors
from lion.wire.dto import ChatCompletionChunk
from lion.wire.sse import ChunkDecoder, SSEEvent, SSEParser, StreamAssembler


def parse(*pieces: bytes) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for piece in pieces:
        events.extend(parser.feed(piece))
    return events + parser.close()


def test_basic_events() -> None:
    events = parse(b"data: one\n\ndata: two\n\n")
    assert [e.data for e in events] == ["one", "two"]
    assert all(e.event == "message" for e in events)


def test_multi_line_data_joins_with_newlines() -> None:
    assert parse(b"data: a\ndata: b\ndata:\ndata:c\n\n")[0].data == "a\nb\n\nc"


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending(eol: bytes) -> None:
    text = b"event: x" + eol + b"data: 1" + eol + eol + b"data: 2" + eol + eol
    assert [(e.event, e.data) for e in parse(text)] == [("x", "1"), ("message", "2")]


def test_crlf_split_across_chunks() -> None:
    assert [e.data for e in parse(b"data: 1\r", b"\n\r", b"\ndata: 2\r", b"\r")] == ["1", "2"]


def test_comments_ids_retry_and_unknown_fields() -> None:
    (event,) = parse(b": keep-alive\nid: 7\nretry: 1500\nfoo: bar\ndata: x\n\n")
    assert (event.data, event.id, event.retry) == ("x", "7", 1500)


def test_only_one_space_after_the_colon_is_dropped() -> None:
    assert parse(b"data:  two spaces\n\n")[0].data == " two spaces"


def test_blank_lines_without_data_dispatch_nothing() -> None:
    assert parse(b"\n\n\nevent: ping\n\ndata: x\n\n") == [SSEEvent(data="x")]


def test_bom_is_skipped_even_when_split() -> None:
    assert [e.data for e in parse(b"\xef", b"\xbb\xbfdata: x\n\n")] == ["x"]


def test_utf8_split_inside_a_character() -> None:
    raw = "data: héllo ✓\n\n".encode()
    cut = raw.index("✓".encode()) + 1
    assert parse(raw[:cut], raw[cut:])[0].data == "héllo ✓"


def test_partial_event_is_held_back() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: x\n") == []
    assert parser.has_partial
    assert [e.data for e in parser.feed(b"\n")] == ["x"]
    assert not parser.has_partial


STREAM = (
    b": hello\r\n"
    b'data: {"a": 1}\r\n\r\n'
    b"event: error\ndata: line1\ndata: line2\n\n"
    b"id: 3\rdata: \xc3\xa9t\xc3\xa9\r\r"
    b"data: [DONE]\n\n"
)


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_chunking_gives_the_same_events(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(STREAM)]
    pieces = [STREAM[a:b] for a, b in itertools.pairwise(bounds)]
    assert parse(*pieces) == parse(STREAM)
    assert [e.data for e in parse(STREAM)] == ['{"a": 1}', "line1\nline2", "été", "[DONE]"]


# ------------------------------------------------------------------ chunks


def data(obj: object) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def test_decoder_stops_at_done_and_ignores_what_follows() -> None:
    decoder = ChunkDecoder()
    chunks = decoder.feed(
        data({"id": "c", "choices": []}) + b"data: [DONE]\n\n" + data({"id": "after"})
    )
    assert [c.id for c in chunks] == ["c"]
    assert decoder.done
    decoder.close()  # no complaint


def test_decoder_tolerates_unknown_fields_and_events() -> None:
    decoder = ChunkDecoder()
    chunks = decoder.feed(
        b'event: metrics\ndata: {"tps": 3}\n\n'
        + data({"id": "c", "new_field": [1], "choices": [{"delta": {"content": "x", "what": 1}}]})
    )
    assert chunks[0].choices[0].delta.content == "x"


def test_decoder_error_member() -> None:
    decoder = ChunkDecoder()
    with pytest.raises(errors.RateLimitError, match="slow down"):
        decoder.feed(data({"error": {"message": "slow down", "code": 429}}))


def test_decoder_truncation() -> None:
    decoder = ChunkDecoder()
    decoder.feed(data({"id": "c"}))
    with pytest.raises(errors.ProtocolError, match="before"):
        decoder.close()
    decoder = ChunkDecoder()
    decoder.feed(b'data: {"id": ')
    with pytest.raises(errors.ProtocolError, match="middle of an event"):
        decoder.close()


# ---------------------------------------------------------------- assembly


def chunk(**delta: object) -> ChatCompletionChunk:
    return ChatCompletionChunk(
        id="c1", model="m", created=5, choices=[{"index": 0, "delta": delta}]
    )  # type: ignore[list-item]


def decode(obj: dict[str, object]) -> ChatCompletionChunk:
    return msgspec.convert(obj, ChatCompletionChunk)


def calls(*deltas: dict[str, object], index: int = 0) -> ChatCompletionChunk:
    """A chunk whose one choice carries these tool-call deltas."""
    return decode({"id": "c", "choices": [{"index": index, "delta": {"tool_calls": list(deltas)}}]})


def call(index: int, arguments: str, **head: str) -> dict[str, object]:
    """One tool-call delta; ``head`` may give ``id``, ``type`` and ``name``."""
    function: dict[str, str] = {"arguments": arguments}
    if "name" in head:
        function["name"] = head.pop("name")
    return {"index": index, **head, "function": function}


def test_tool_calls_assembled_per_index_openai_style() -> None:
    asm = StreamAssembler()
    asm.add(calls(call(0, "", id="call_a", type="function", name="f")))
    asm.add(calls(call(1, '{"y"', id="call_b", type="function", name="g")))
    asm.add(calls(call(0, '{"x": ')))
    asm.add(calls(call(0, "1}")))
    asm.add(calls(call(1, ": 2}")))
    asm.add(decode({"id": "c", "choices": [{"delta": {}, "finish_reason": "tool_calls"}]}))
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    asm.add(decode({"id": "c", "choices": [], "usage": usage}))
    done = asm.completion()
    assert [(t.id, t.function.name, t.function.arguments) for t in done.tool_calls] == [
        ("call_a", "f", '{"x": 1}'),
        ("call_b", "g", '{"y": 2}'),
    ]
    assert done.message.content is None
    assert done.finish_reason == "tool_calls"
    assert done.usage is not None
    assert done.usage.total_tokens == 3


def test_tool_calls_llama_style_id_and_name_repeat() -> None:
    asm = StreamAssembler()
    for piece in ["{", '"city"', ": ", '"Paris"', "}"]:
        asm.add(calls(call(0, piece, id="call_1", type="function", name="get_weather")))
    (tc,) = asm.completion().tool_calls
    assert (tc.id, tc.function.name, tc.function.arguments) == (
        "call_1",
        "get_weather",
        '{"city": "Paris"}',
    )


def test_text_and_several_choices() -> None:
    asm = StreamAssembler()
    first = [
        {"index": 1, "delta": {"role": "assistant", "content": "B"}},
        {"index": 0, "delta": {"content": "A"}},
    ]
    asm.add(decode({"id": "c", "model": "m", "choices": first}))
    asm.add(
        decode(
            {
                "id": "c",
                "choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": "stop"}],
            }
        )
    )
    done = asm.completion()
    assert [c.message.content for c in done.choices] == ["Aa", "B"]
    assert done.id == "c"
    assert done.model == "m"
    assert done.choices[0].finish_reason == "stop"
