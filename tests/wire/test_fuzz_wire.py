"""Fuzzing the wire's parsers and decoders: only ``lion.errors`` classes, bounded state, no hang.

The targets: the SSE parser (any bytes, any chunking, small limits), the
chunk decoder, the response decoder (``decode_completion``, error bodies of any
shape), the content decoder (gzip/deflate/identity, corrupt or not), the
``retry-after`` reader, and a hostile server sending any bytes at all as its
answer. ``LION_EXAMPLES`` sets the examples per target (default 150; the long
run of issue 15 uses 100000).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import time
import zlib
from collections.abc import Iterator

import anyio
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lion import errors
from lion.wire import ChatClient, ChatRequest, Message, OpenAI, RetryPolicy, Timeouts
from lion.wire._body import BodyDecoder
from lion.wire._errors import api_error, error_info
from lion.wire.client import decode_completion
from lion.wire.settings import SizeLimits, retry_after
from lion.wire.sse import ChunkDecoder, SSEEvent, SSEParser

from .servers import FaultServer, Raw

EXAMPLES = int(os.environ.get("LION_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

pytestmark = pytest.mark.timeout(max(120, EXAMPLES // 20))

LINE, EVENT = 64, 160  # tiny limits, so the fuzzer reaches them

_TOKENS = [b"data:", b"data: ", b"event:", b"id:", b"retry:", b":", b"\n", b"\r", b"\r\n",
           b"\n\n", b"[DONE]", b"\xef\xbb\xbf", b"9" * 30, b"\xc2\xb2", b"\x00", b"{", b"}",
           b'{"choices": []}', b"error", b" "]  # fmt: skip
sse_bytes = st.lists(st.sampled_from(_TOKENS) | st.binary(max_size=40), max_size=60).map(b"".join)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in [*points, len(data)]:
        out.append(data[last:p])
        last = p
    return out


def _parse(chunks: list[bytes]) -> tuple[list[SSEEvent], bool]:
    parser = SSEParser(max_line_bytes=LINE, max_event_bytes=EVENT)
    events: list[SSEEvent] = []
    try:
        for c in chunks:
            events += parser.feed(c)
            # the state stays within the limits whatever came in
            held = len(parser._pending) + sum(map(len, parser._parts))
            assert held <= LINE + 1 and parser._since <= EVENT
        events += parser.close()
    except errors.ProtocolError:
        return events, True
    return events, False


@FUZZ
@given(sse_bytes, st.lists(st.integers(min_value=0), max_size=12))
def test_sse_parser_any_bytes_any_chunking(data: bytes, cuts: list[int]) -> None:
    whole, whole_failed = _parse([data])
    pieces, pieces_failed = _parse(_chunks(data, cuts))
    assert whole_failed == pieces_failed
    if not whole_failed:
        assert pieces == whole


@FUZZ
@given(sse_bytes, st.lists(st.integers(min_value=0), max_size=8))
def test_chunk_decoder_raises_only_lion_errors(data: bytes, cuts: list[int]) -> None:
    decoder = ChunkDecoder(SizeLimits(max_line_bytes=LINE, max_event_bytes=EVENT))
    try:
        for c in _chunks(data, cuts):
            decoder.feed(c)
        decoder.close()
    except (errors.ProtocolError, errors.APIError) as exc:
        assert str(exc)


_KEYS = st.sampled_from(
    ["error", "message", "code", "status", "type", "title", "detail", "param", "choices", "usage"]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from(["²", "9" * 5000, "١٢٣", "429", "500", "insufficient_quota"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(_KEYS | st.text(max_size=5), inner, max_size=5),
    max_leaves=20,
)  # fmt: skip


@FUZZ
@given(json_values, st.sampled_from([None, 400, 401, 429, 500, 503]))
def test_any_error_body_becomes_an_api_error(body: object, status: int | None) -> None:
    raw = msgspec.json.encode(body)
    for given_body in (body, raw, raw[: len(raw) // 2]):
        info = error_info(given_body, status=status)
        exc = api_error(info, request_id="r")
        assert isinstance(exc, errors.APIError) and str(exc)
        assert exc.status is None or 100 <= exc.status <= 999


@FUZZ
@given(json_values | st.binary(max_size=200))
def test_the_response_decoder_raises_only_protocol_errors(value: object) -> None:
    raw = value if isinstance(value, bytes) else msgspec.json.encode(value)
    try:
        completion = decode_completion(raw, where="fuzz")
    except errors.ProtocolError as exc:
        assert "fuzz" in str(exc)
    else:
        assert completion.choices
        if completion.usage is not None:
            assert 0 <= completion.usage.total_tokens <= 100_000_000


@FUZZ
@given(
    st.binary(max_size=3000),
    st.sampled_from(
        ["gzip", "deflate", "gzip, gzip", "deflate, gzip", None, "identity", "br", "x-gzip"]
    ),
    st.booleans(),
    st.lists(st.integers(min_value=0), max_size=8),
)
def test_the_content_decoder(
    data: bytes, encoding: str | None, valid: bool, cuts: list[int]
) -> None:
    payload = data
    if valid and encoding in ("gzip", "x-gzip"):
        payload = gzip.compress(data)
    elif valid and encoding == "gzip, gzip":
        payload = gzip.compress(gzip.compress(data))
    elif valid and encoding == "deflate, gzip":  # deflate applied first, so undone last
        payload = gzip.compress(zlib.compress(data))
    elif valid and encoding == "deflate":
        payload = zlib.compress(data)
    limit = 2048
    out: list[bytes] = []
    try:
        decoder = BodyDecoder(encoding, limit=limit, limit_name="max_body_bytes", what="body")
        for c in _chunks(payload, cuts):
            out += decoder.feed(c)
        out += decoder.finish()
    except errors.ProtocolError as exc:
        assert sum(map(len, out)) <= limit
        decodable = valid and encoding != "br" and len(data) <= limit
        assert not decodable, f"a valid `{encoding}` body of {len(data)} bytes was refused: {exc}"
        return
    assert sum(map(len, out)) <= limit
    if valid and encoding != "br":
        assert b"".join(out) == data


@FUZZ
@given(
    st.text(max_size=60)
    | st.sampled_from(["1e999", "nan", "-0", "Fri, 31 Dec 9999 23:59:59 GMT", "9" * 5000,
                       "Mon, 01 Jan 0001 00:00:00 GMT"])
)  # fmt: skip
def test_retry_after_never_raises(text: str) -> None:
    for headers in ({"retry-after": text}, {"retry-after-ms": text}):
        value = retry_after(headers)
        assert value is None or value >= 0.0


# ------------------------------------------------------------------ a hostile server


_STATUS = st.sampled_from([b"200 OK", b"400 Bad", b"429 Slow", b"500 Oops", b"999 X", b"2 Y"])
_HEADER = st.sampled_from([
    b"content-type: application/json", b"content-type: text/event-stream",
    b"content-encoding: gzip", b"content-encoding: br", b"transfer-encoding: chunked",
    b"content-length: 5", b"content-length: 99999999999", b"retry-after: 1e999",
    b"x-request-id: \xff\xfe", b"x-should-retry: false",
])  # fmt: skip
_BODY = sse_bytes | st.sampled_from([b"{}", b'{"choices": [{"message": {"content": "x"}}]}',
                                     gzip.compress(b"{}"), b"5\r\nhello\r\n0\r\n\r\n"])  # fmt: skip
responses = st.builds(
    lambda status, headers, body: b"HTTP/1.1 " + status + b"\r\n" + b"".join(
        h + b"\r\n" for h in headers) + b"\r\n" + body,
    _STATUS, st.lists(_HEADER, max_size=4), _BODY,
) | st.binary(max_size=200)  # fmt: skip


@pytest.fixture(scope="module")
def hostile() -> Iterator[FaultServer]:
    server = FaultServer()
    try:
        yield server
    finally:
        server.close()


@settings(
    max_examples=max(20, EXAMPLES // 5), deadline=None, suppress_health_check=list(HealthCheck)
)
@given(raw=responses, stream=st.booleans())
def test_any_answer_from_a_hostile_server(hostile: FaultServer, raw: bytes, stream: bool) -> None:
    # one server for every example: starting one costs more than the example
    hostile.plan(default=Raw(raw))
    dialect = OpenAI(hostile.base_url, api_key="k-fuzz")
    request = ChatRequest(model="m", messages=[Message.user("hi")])
    timeouts = Timeouts(connect=1, read=0.3, total=2)

    async def main() -> None:
        async with ChatClient(dialect, retry=RetryPolicy(max_retries=0), timeouts=timeouts) as c:
            if stream:
                async with c.stream(request) as s:
                    await s.collect()
            else:
                await c.chat(request)

    start = time.monotonic()
    with contextlib.suppress(errors.LionError):  # any LionError is fine; nothing else is
        anyio.run(main)
    assert time.monotonic() - start < 5


# ------------------------------------------------------------------ linear time


def _best(chunks: list[bytes], rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        parser = SSEParser(max_line_bytes=64 << 20, max_event_bytes=64 << 20)
        start = time.perf_counter()
        for c in chunks:
            parser.feed(c)
        best = min(best, time.perf_counter() - start)
    return best


def test_a_long_line_parses_in_time_linear_in_its_length() -> None:
    size, step = 4 << 20, 4096
    long_line = b"data: " + b"x" * size + b"\n\n"
    benign = (b"data: " + b"x" * 200 + b"\n\n") * (size // 208)  # same bytes, short lines
    hostile = _best([long_line[i : i + step] for i in range(0, len(long_line), step)])
    normal = _best([benign[i : i + step] for i in range(0, len(benign), step)])
    # before the fix the pending line was copied per chunk: about 100x slower than benign
    assert hostile < 4 * normal + 0.01, f"{hostile:.3f} s for one line vs {normal:.3f} s"
