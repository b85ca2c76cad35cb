"""Issue 15, the wire: a hostile server on 127.0.0.1 gets bounded memory, bounded time and
a ``lion.errors`` class for everything it tries.

Each test was written against the code before the fix and failed there: bodies
read whole (a gzip bomb grew the process by hundreds of MiB), SSE lines rebuilt
per chunk, keys and URL passwords in messages, a reported usage of 10**15
sinking the token bucket, and bare ``ValueError`` from an SSE ``retry`` of 5,000
digits or an error code ``"²"``. Memory is measured with tracemalloc (Python
and zlib allocations both go through it), time as a ratio to a benign input of
the same size, never as an absolute.
"""

from __future__ import annotations

import gzip
import json
import logging
import socket
import time
import tracemalloc
import zlib
from dataclasses import dataclass

import anyio
import pytest

from lion import errors
from lion.wire import ChatClient, ChatRequest, Message, OpenAI, RateLimits, RetryPolicy
from lion.wire.dto import MAX_REPORTED_TOKENS, Usage
from lion.wire.settings import SizeLimits

from .servers import DONE, Action, FaultServer, Recorded, Reply, Stream, chunk, completion_body

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

MiB = 1024 * 1024
NO_RETRY = RetryPolicy(max_retries=0)
REQUEST = ChatRequest(model="m", messages=[Message.user("hi")])


def client(server: FaultServer, **kw: object) -> ChatClient:
    kw.setdefault("retry", NO_RETRY)
    return ChatClient(OpenAI(server.base_url, api_key="k-test"), **kw)  # type: ignore[arg-type]


@dataclass
class Head(Action):
    """A response head, then ``body`` (bytes, or an iterator of chunks sent as they come)."""

    headers: dict[str, str]
    pieces: int = 0  # how many times to send ``piece`` after ``body``
    body: bytes = b""
    piece: bytes = b""
    status: int = 200
    sent: int = 0

    def __call__(self, server: FaultServer, conn: socket.socket, request: Recorded) -> bool:
        head = f"HTTP/1.1 {self.status} OK\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in self.headers.items()
        )
        conn.sendall(head.encode() + b"\r\n")
        conn.sendall(self.body)  # apart: a concatenated copy would count in the client's peak
        chunked = self.headers.get("transfer-encoding") == "chunked"
        try:
            for _ in range(self.pieces):
                data = (
                    f"{len(self.piece):x}\r\n".encode() + self.piece + b"\r\n"
                    if chunked
                    else self.piece
                )
                conn.sendall(data)
                self.sent += len(self.piece)
            if chunked:
                conn.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the client hung up: what we want to see
        return False


async def _peak(fn: object) -> tuple[BaseException | None, int]:
    """Run ``fn()`` under tracemalloc; what it raised and the peak of traced memory."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    raised: BaseException | None = None
    try:
        await fn()  # type: ignore[operator]
    except BaseException as exc:
        raised = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return raised, peak


# ------------------------------------------------------------------ bodies


def _bomb(size: int) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * MiB
    return b"".join([z.compress(block) for _ in range(size // MiB)] + [z.flush()])


async def test_a_gzip_bomb_is_refused_while_decoding(fault_server: FaultServer) -> None:
    bomb = _bomb(128 * MiB)  # about 128 KiB on the wire
    assert len(bomb) < 200 * 1024
    fault_server.plan(
        Head(
            {
                "content-type": "application/json",
                "content-encoding": "gzip",
                "content-length": str(len(bomb)),
            },
            body=bomb,
        )
    )
    async with client(fault_server, sizes=SizeLimits(max_body_bytes=4 * MiB)) as c:
        raised, peak = await _peak(lambda: c.chat(REQUEST))
    assert isinstance(raised, errors.ProtocolError), raised
    assert "max_body_bytes" in str(raised) and "4194304" in str(raised)
    assert peak < 12 * MiB, f"peak {peak / MiB:.1f} MiB while refusing a 128 MiB bomb"


async def test_a_good_gzip_body_is_decoded(fault_server: FaultServer) -> None:
    raw = gzip.compress(json.dumps(completion_body("zipped")).encode())
    fault_server.plan(
        Head(
            {
                "content-type": "application/json",
                "content-encoding": "gzip",
                "content-length": str(len(raw)),
            },
            body=raw,
        )
    )
    async with client(fault_server) as c:
        reply = await c.chat(REQUEST)
    assert reply.content == "zipped"
    assert "gzip" in fault_server.requests[0].headers["accept-encoding"]


async def test_an_endless_plain_body_is_cut_at_the_limit(fault_server: FaultServer) -> None:
    action = Head(
        {"content-type": "application/json", "transfer-encoding": "chunked"},
        pieces=4096,
        piece=b" " * 65536,
    )  # 256 MiB if read to the end
    fault_server.plan(action)
    async with client(fault_server, sizes=SizeLimits(max_body_bytes=2 * MiB)) as c:
        raised, peak = await _peak(lambda: c.chat(REQUEST))
    assert isinstance(raised, errors.ProtocolError) and "max_body_bytes" in str(raised)
    assert peak < 10 * MiB, f"peak {peak / MiB:.1f} MiB"
    assert action.sent < 64 * MiB  # the client stopped reading; it did not drain 256 MiB


async def test_an_announced_huge_body_is_refused_before_reading(fault_server: FaultServer) -> None:
    fault_server.plan(
        Head({"content-type": "application/json", "content-length": str(300 * MiB)}, body=b"{")
    )
    async with client(fault_server) as c:
        with pytest.raises(
            errors.ProtocolError, match=r"announces 314572800 bytes.*max_body_bytes"
        ):
            await c.chat(REQUEST)


async def test_an_unknown_encoding_is_a_protocol_error(fault_server: FaultServer) -> None:
    fault_server.plan(
        Head({"content-encoding": "br", "content-length": "4"}, body=b"\x0b\x01\x80{")
    )
    async with client(fault_server) as c:
        with pytest.raises(errors.ProtocolError, match="unsupported `content-encoding` `br`"):
            await c.chat(REQUEST)


async def test_a_huge_error_body_is_read_only_up_to_the_cap(fault_server: FaultServer) -> None:
    message = b'{"error": {"message": "' + b"x" * (32 * MiB) + b'"}}'
    fault_server.plan(
        Head(
            {"content-type": "application/json", "content-length": str(len(message))},
            body=message,
            status=400,
        )
    )
    async with client(fault_server) as c:
        raised, peak = await _peak(lambda: c.chat(REQUEST))
    assert isinstance(raised, errors.BadRequestError) and raised.status == 400
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB for a 32 MiB error body"


# ------------------------------------------------------------------ streams


async def test_a_long_sse_line_is_refused_while_streaming(fault_server: FaultServer) -> None:
    action = Head(
        {"content-type": "text/event-stream", "transfer-encoding": "chunked"},
        body=b"",
        pieces=1024,
        piece=b"x" * 16384,
    )  # 16 MiB, no newline
    action.body = b"10\r\ndata: xxxxxxxxxx\r\n"  # a chunk of 16 bytes opening the line
    fault_server.plan(action)
    async with client(fault_server) as c:

        async def run() -> None:
            async with c.stream(REQUEST) as s:
                await s.collect()

        raised, peak = await _peak(run)
    assert isinstance(raised, errors.ProtocolError), raised
    assert "max_line_bytes` = 1048576" in str(raised)
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"


async def test_piled_up_data_lines_are_refused(fault_server: FaultServer) -> None:
    fault_server.plan(
        Stream([chunk("a")] + [b"data:\n" * 10_000] * 20 + [DONE])  # 200,000 empty data lines
    )
    async with client(fault_server, sizes=SizeLimits(max_event_bytes=64 * 1024)) as c:

        async def run() -> None:
            async with c.stream(REQUEST) as s:
                await s.collect()

        raised, peak = await _peak(run)
    assert isinstance(raised, errors.ProtocolError) and "max_event_bytes` = 65536" in str(raised)
    assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB"


async def test_an_endless_stream_is_cut_at_the_stream_limit(fault_server: FaultServer) -> None:
    fault_server.plan(Stream([chunk("word ")] * 50_000))  # about 10 MiB of chunks, no [DONE]
    async with client(fault_server, sizes=SizeLimits(max_stream_bytes=MiB)) as c:
        with pytest.raises(errors.ProtocolError, match="max_stream_bytes` = 1048576"):
            async with c.stream(REQUEST) as s:
                await s.collect()


async def test_a_gzipped_stream_is_decoded(fault_server: FaultServer) -> None:
    raw = gzip.compress(chunk("a") + chunk("b", finish="stop") + DONE)
    fault_server.plan(
        Head(
            {
                "content-type": "text/event-stream",
                "content-encoding": "gzip",
                "content-length": str(len(raw)),
            },
            body=raw,
        )
    )
    async with client(fault_server) as c, c.stream(REQUEST) as s:
        whole = await s.collect()
    assert whole.content == "ab"


async def test_an_sse_retry_of_5000_digits_is_ignored(fault_server: FaultServer) -> None:
    fault_server.plan(Stream([b"retry: " + b"9" * 5000 + b"\n", chunk("fine"), DONE]))
    async with client(fault_server) as c, c.stream(REQUEST) as s:
        whole = await s.collect()
    assert whole.content == "fine"


@pytest.mark.parametrize("code", ["²", "9" * 5000, "١٢٣"])
async def test_a_strange_error_code_is_an_api_error(fault_server: FaultServer, code: str) -> None:
    fault_server.plan(Reply(400, {"error": {"message": "bad", "code": code}}))
    async with client(fault_server) as c:
        with pytest.raises(errors.BadRequestError) as info:
            await c.chat(REQUEST)
    assert info.value.status == 400 and info.value.code == code


async def test_a_strange_error_code_in_a_stream_is_an_api_error(fault_server: FaultServer) -> None:
    event = b'event: error\ndata: {"error": {"message": "no", "code": "\xc2\xb2"}}\n\n'
    fault_server.plan(Stream([chunk("a"), event]))
    async with client(fault_server) as c:
        with pytest.raises(errors.APIError, match="no") as info:
            async with c.stream(REQUEST) as s:
                await s.collect()
    assert info.value.status is None and info.value.code == "²"


# ------------------------------------------------------------------ secrets


@pytest.mark.parametrize("key", ["sk-secret-key\n", "sk-secret\x00key", " sk-secret-key", "sk-é"])
async def test_a_bad_api_key_fails_before_any_request(fault_server: FaultServer, key: str) -> None:
    with pytest.raises(errors.AuthenticationError) as info:
        OpenAI(fault_server.base_url, api_key=key)
    assert "secret" not in str(info.value) and "api key" in str(info.value)
    dialect = OpenAI(fault_server.base_url, api_key="fine-key")
    with pytest.raises(errors.AuthenticationError):
        dialect.api_key = key  # checked when set, not only when constructed
    assert dialect.api_key == "fine-key"
    assert fault_server.count == 0


async def test_a_trailing_newline_gets_a_hint(fault_server: FaultServer) -> None:
    with pytest.raises(errors.AuthenticationError, match="trailing newline"):
        OpenAI(fault_server.base_url, api_key="sk-from-a-file\n")


async def test_a_bad_header_value_is_named_not_shown(fault_server: FaultServer) -> None:
    with pytest.raises(errors.BadRequestError, match="header `x-api-key`") as info:
        OpenAI(fault_server.base_url, headers={"x-api-key": "hunter2-top\n"})
    assert "hunter2" not in str(info.value)


async def test_url_credentials_never_show(
    fault_server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://bob:hunter2-pw@127.0.0.1:{fault_server.port}/v1"
    dialect = OpenAI(url, api_key="sk-live-abcdef")
    assert "hunter2" not in repr(dialect) and "sk-live" not in repr(dialect)
    fault_server.plan(Reply(401, {"error": {"message": "key sk-live-abcdef is not valid"}}))
    caplog.set_level(logging.DEBUG)
    async with ChatClient(dialect, retry=NO_RETRY) as c:
        assert "hunter2" not in repr(c)
        with pytest.raises(errors.AuthenticationError) as info:
            await c.chat(REQUEST)
    assert "sk-live-abcdef" not in str(info.value) and "***" in str(info.value)
    sent = fault_server.requests[0]
    assert sent.headers["authorization"].startswith("Basic ")  # the credentials still go
    assert "hunter2" not in caplog.text and "sk-live-abcdef" not in caplog.text


async def test_a_connection_error_does_not_show_url_credentials() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    dialect = OpenAI(f"http://bob:hunter2-pw@127.0.0.1:{port}/v1?api_key=qq-secret-1")
    async with ChatClient(dialect, retry=NO_RETRY) as c:
        with pytest.raises(errors.ConnectionError) as info:
            await c.chat(REQUEST)
    text = str(info.value)
    assert "hunter2" not in text and "qq-secret-1" not in text and "127.0.0.1" in text


# ------------------------------------------------------------------ usage


def test_reported_usage_is_clamped() -> None:
    import msgspec

    usage = msgspec.json.decode(
        b'{"prompt_tokens": -5, "completion_tokens": 1000000000000000, "total_tokens": 7}',
        type=Usage,
    )
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
        0,
        MAX_REPORTED_TOKENS,
        7,
    )


async def test_a_lying_usage_report_does_not_stall_later_calls(fault_server: FaultServer) -> None:
    lie = completion_body(
        usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 10**15}
    )
    fault_server.plan(Reply(200, lie), default=Reply())
    async with client(fault_server, limits=RateLimits(tokens_per_minute=6_000_000)) as c:
        await c.chat(REQUEST)
        bucket = c.transport._tpm
        assert bucket is not None
        assert bucket.level >= -6_000_000  # at most a minute's worth of debt, not -1e15
        bucket.give_back(6_000_000)  # what a minute's refill would do
        start = time.monotonic()
        with anyio.fail_after(5):
            await c.chat(REQUEST)
        assert time.monotonic() - start < 5


async def test_a_mock_transport_body_is_bounded_too() -> None:
    """Responses an httpx.MockTransport builds are already read: counted, not re-read."""
    import httpx

    big = json.dumps(completion_body("y" * (2 * MiB))).encode()
    stream = chunk("a") + chunk("b") + DONE

    def handler(request: httpx.Request) -> httpx.Response:
        wanted = json.loads(request.content).get("stream")
        return httpx.Response(200, content=stream if wanted else big)

    dialect = OpenAI("http://127.0.0.1:9/v1")
    mock = httpx.MockTransport(handler)
    async with ChatClient(dialect, http_transport=mock, retry=NO_RETRY) as c:
        assert (await c.chat(REQUEST)).content == "y" * (2 * MiB)
        async with c.stream(REQUEST) as s:
            assert (await s.collect()).content == "ab"
    small = SizeLimits(max_body_bytes=MiB, max_stream_bytes=100)
    async with ChatClient(dialect, http_transport=mock, retry=NO_RETRY, sizes=small) as c:
        with pytest.raises(errors.ProtocolError, match="max_body_bytes"):
            await c.chat(REQUEST)
        with pytest.raises(errors.ProtocolError, match="max_stream_bytes"):
            async with c.stream(REQUEST) as s:
                await s.collect()


async def test_an_error_event_echoing_the_key_is_redacted(fault_server: FaultServer) -> None:
    event = b'event: error\ndata: {"error": {"message": "bad key k-test-secret"}}\n\n'
    fault_server.plan(Stream([chunk("a"), event]))
    dialect = OpenAI(fault_server.base_url, api_key="k-test-secret")
    async with ChatClient(dialect, retry=NO_RETRY) as c:
        with pytest.raises(errors.APIError) as info:
            async with c.stream(REQUEST) as s:
                await s.collect()
    assert "k-test-secret" not in str(info.value) and "bad key ***" in info.value.message


async def test_transport_send_still_returns_a_read_response(fault_server: FaultServer) -> None:
    raw = gzip.compress(json.dumps(completion_body("sent")).encode())
    fault_server.plan(Head({"content-encoding": "gzip", "content-length": str(len(raw))}, body=raw))
    async with client(fault_server) as c:
        response = await c.transport.send(c.dialect.url, b"{}")
    assert json.loads(response.content)["choices"][0]["message"]["content"] == "sent"
    assert "content-encoding" not in response.headers  # the body it holds is decoded


def test_size_limits_must_be_positive_ints() -> None:
    with pytest.raises(errors.BadRequestError, match="max_line_bytes"):
        SizeLimits(max_line_bytes=0)
    with pytest.raises(errors.BadRequestError, match="max_body_bytes"):
        SizeLimits(max_body_bytes=True)
