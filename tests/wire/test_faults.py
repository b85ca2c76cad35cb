"""Against a misbehaving local server: every fault gives the right retry or a clear error.

Each test asserts the exact number of requests the server received, so no
request is sent more often than the retry budget allows, and runs under a
timeout, so nothing hangs. Backoffs are tiny to keep the suite fast.
"""

from __future__ import annotations

import time

import anyio
import pytest

from lion import errors
from lion.wire import (
    ChatClient,
    ChatRequest,
    LlamaCpp,
    Message,
    NvidiaNIM,
    OpenAI,
    RateLimits,
    RetryPolicy,
    Timeouts,
)

from .servers import (
    DONE,
    FaultServer,
    Hang,
    Raw,
    Reply,
    Reset,
    Stream,
    chunk,
    completion_body,
    wait_until,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

FAST = RetryPolicy(max_retries=2, base_delay=0.001, max_delay=0.005, retry_after_cap=0.2)
REQUEST = ChatRequest(model="m", messages=[Message.user("hi")])


def client(server: FaultServer, **kw: object) -> ChatClient:
    kw.setdefault("retry", FAST)
    return ChatClient(OpenAI(server.base_url, api_key="k"), **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------ retries


async def test_429_with_retry_after_is_retried_after_the_wait(fault_server: FaultServer) -> None:
    fault_server.plan(Reply(429, {"error": {"message": "slow down"}}, {"retry-after-ms": "120"}))
    async with client(fault_server) as c:
        start = time.monotonic()
        reply = await c.chat(REQUEST)
        elapsed = time.monotonic() - start
    assert reply.content == "ok"
    assert fault_server.count == 2
    assert elapsed >= 0.12


async def test_retry_after_in_seconds_is_capped(fault_server: FaultServer) -> None:
    fault_server.plan(Reply(429, {"error": {"message": "later"}}, {"retry-after": "3600"}))
    async with client(fault_server) as c:
        start = time.monotonic()
        await c.chat(REQUEST)
    assert time.monotonic() - start < 2  # waited the 0.2 s cap, not an hour
    assert fault_server.count == 2


async def test_quota_429_is_not_retried(fault_server: FaultServer) -> None:
    body = {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota",
                      "code": "insufficient_quota"}}  # fmt: skip
    fault_server.plan(default=Reply(429, body, {"x-request-id": "req-q"}))
    async with client(fault_server) as c:
        with pytest.raises(errors.RateLimitError) as info:
            await c.chat(REQUEST)
    assert fault_server.count == 1
    assert info.value.code == "insufficient_quota"
    assert info.value.request_id == "req-q"


async def test_rate_limit_429_gives_up_after_the_budget(fault_server: FaultServer) -> None:
    fault_server.plan(default=Reply(429, {"error": {"message": "rate limited"}}))
    async with client(fault_server) as c:
        with pytest.raises(errors.RateLimitError, match="rate limited"):
            await c.chat(REQUEST)
    assert fault_server.count == 3  # 1 + max_retries


async def test_500s_then_success(fault_server: FaultServer) -> None:
    fault_server.plan(Reply(500, {"error": {"message": "boom"}}), Reply(503, b"unavailable"))
    async with client(fault_server) as c:
        reply = await c.chat(REQUEST)
    assert reply.content == "ok"
    assert fault_server.count == 3


@pytest.mark.parametrize("retries", [0, 1, 3])
async def test_5xx_never_exceeds_the_retry_budget(fault_server: FaultServer, retries: int) -> None:
    fault_server.plan(
        default=Reply(502, {"error": {"message": "bad gateway"}}, {"x-request-id": "r-1"})
    )
    policy = RetryPolicy(max_retries=retries, base_delay=0.001, max_delay=0.002)
    async with client(fault_server, retry=policy) as c:
        with pytest.raises(errors.ServerError) as info:
            await c.chat(REQUEST)
    assert fault_server.count == 1 + retries
    assert info.value.status == 502
    assert info.value.message == "bad gateway"
    assert info.value.request_id == "r-1"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.AuthenticationError),
        (404, errors.BadRequestError),
        (422, errors.BadRequestError),
    ],
)
async def test_client_errors_are_not_retried(
    fault_server: FaultServer, status: int, cls: type[errors.APIError]
) -> None:
    fault_server.plan(default=Reply(status, {"error": {"message": f"nope {status}", "code": "c"}}))
    async with client(fault_server) as c:
        with pytest.raises(cls) as info:
            await c.chat(REQUEST)
    assert fault_server.count == 1
    assert info.value.status == status
    assert info.value.message == f"nope {status}"


@pytest.mark.parametrize("status", [408, 409])
async def test_408_and_409_are_retried(fault_server: FaultServer, status: int) -> None:
    fault_server.plan(Reply(status, {"error": {"message": "again"}}))
    async with client(fault_server) as c:
        await c.chat(REQUEST)
    assert fault_server.count == 2


async def test_x_should_retry_overrides_the_status(fault_server: FaultServer) -> None:
    fault_server.plan(
        default=Reply(500, {"error": {"message": "final"}}, {"x-should-retry": "false"})
    )
    async with client(fault_server) as c:
        with pytest.raises(errors.ServerError):
            await c.chat(REQUEST)
    assert fault_server.count == 1


async def test_llama_validation_500_is_a_bad_request_and_not_retried(
    fault_server: FaultServer,
) -> None:
    body = {"error": {"message": "1 validation error:\n  {'type': 'literal_error'}",
                      "type": "internal_server_error", "param": None, "code": None}}  # fmt: skip
    fault_server.plan(default=Reply(500, body))
    async with ChatClient(LlamaCpp(fault_server.base_url), retry=FAST) as c:
        with pytest.raises(errors.BadRequestError, match="validation error") as info:
            await c.chat(REQUEST)
    assert info.value.status == 500
    assert fault_server.count == 1


# --------------------------------------------------------------- connections


async def test_connection_reset_then_success(fault_server: FaultServer) -> None:
    fault_server.plan(Reset())
    async with client(fault_server) as c:
        reply = await c.chat(REQUEST)
    assert reply.content == "ok"
    assert fault_server.count == 2


async def test_connection_resets_give_a_connection_error(fault_server: FaultServer) -> None:
    fault_server.plan(default=Reset())
    async with client(fault_server) as c:
        with pytest.raises(errors.ConnectionError, match=r"connection to `http://127\.0\.0\.1"):
            await c.chat(REQUEST)
    assert fault_server.count == 3


async def test_nothing_listening_is_a_connection_error() -> None:
    server = FaultServer()
    url = server.base_url
    server.close()
    async with ChatClient(OpenAI(url), retry=FAST) as c:
        with pytest.raises(errors.ConnectionError):
            await c.chat(REQUEST)


async def test_hung_response_is_a_read_timeout_within_the_budget(fault_server: FaultServer) -> None:
    fault_server.plan(default=Hang(10))
    policy = RetryPolicy(max_retries=1, base_delay=0.001, max_delay=0.002)
    async with client(fault_server, retry=policy, timeouts=Timeouts(read=0.2, total=5)) as c:
        start = time.monotonic()
        with pytest.raises(errors.TimeoutError, match="read timeout"):
            await c.chat(REQUEST)
    assert time.monotonic() - start < 2
    assert fault_server.count == 2


async def test_total_timeout_bounds_the_whole_call(fault_server: FaultServer) -> None:
    fault_server.plan(default=Hang(10))
    async with client(fault_server, timeouts=Timeouts(read=5, total=0.3)) as c:
        start = time.monotonic()
        with pytest.raises(errors.TimeoutError, match=r"total timeout of 0\.3 s"):
            await c.chat(REQUEST)
    assert time.monotonic() - start < 1.5
    assert fault_server.count == 1


async def test_no_total_timeout(fault_server: FaultServer) -> None:
    fault_server.plan(Reply(500, {"error": {"message": "once"}}))
    async with client(fault_server, timeouts=Timeouts(total=None)) as c:
        assert (await c.chat(REQUEST)).content == "ok"
        fault_server.plan(Stream([chunk("s"), DONE]))
        async with c.stream(REQUEST) as stream:
            assert (await stream.collect()).content == "s"
    assert fault_server.count == 3


async def test_a_backoff_longer_than_the_budget_fails_at_once(fault_server: FaultServer) -> None:
    fault_server.plan(default=Reply(429, {"error": {"message": "wait"}}, {"retry-after": "30"}))
    policy = RetryPolicy(max_retries=2, retry_after_cap=60)
    async with client(fault_server, retry=policy, timeouts=Timeouts(total=1)) as c:
        start = time.monotonic()
        with pytest.raises(errors.RateLimitError):
            await c.chat(REQUEST)
    assert time.monotonic() - start < 0.5
    assert fault_server.count == 1


# ------------------------------------------------------------------ payloads


async def test_malformed_json_is_a_protocol_error(fault_server: FaultServer) -> None:
    fault_server.plan(Reply(200, b'{"id": "x", "choices": [', {"x-request-id": "bad-1"}))
    async with client(fault_server) as c:
        with pytest.raises(errors.ProtocolError, match=r"not a chat completion.*bad-1"):
            await c.chat(REQUEST)
    assert fault_server.count == 1


async def test_json_of_the_wrong_shape_is_a_protocol_error(fault_server: FaultServer) -> None:
    fault_server.plan(Reply(200, {"choices": "none"}))
    async with client(fault_server) as c:
        with pytest.raises(errors.ProtocolError):
            await c.chat(REQUEST)


async def test_garbage_instead_of_http_is_not_retried_forever(fault_server: FaultServer) -> None:
    fault_server.plan(default=Raw(b"SSH-2.0-OpenSSH\r\n\r\n"))
    async with client(fault_server) as c:
        with pytest.raises(errors.ConnectionError):
            await c.chat(REQUEST)
    assert fault_server.count == 3


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        ({"error": {"message": "model not found", "type": "NotFoundError", "code": 404}},
         "model not found", "404"),
        ({"object": "error", "message": "bad max_tokens", "type": "BadRequestError", "code": 400},
         "bad max_tokens", "400"),
        ({"status": 400, "title": "Bad Request", "detail": "temperature must be <= 1"},
         "Bad Request: temperature must be <= 1", None),
    ],
)  # fmt: skip
async def test_the_three_nim_error_shapes(
    fault_server: FaultServer, body: dict[str, object], message: str, code: str | None
) -> None:
    fault_server.plan(default=Reply(400, body, {"nvcf-reqid": "nv-7"}))
    nim = NvidiaNIM(fault_server.base_url, range_policy="off")
    async with ChatClient(nim, retry=FAST) as c:
        with pytest.raises(errors.BadRequestError) as info:
            await c.chat(REQUEST)
    assert info.value.message == message
    assert info.value.code == code
    assert info.value.request_id == "nv-7"
    assert fault_server.count == 1


# ------------------------------------------------------------------- streams


async def test_stream_happy_path(fault_server: FaultServer) -> None:
    usage = (
        b'data: {"id":"chatcmpl-s","choices":[],'
        b'"usage":{"prompt_tokens":2,"completion_tokens":2,"total_tokens":4}}\n\n'
    )
    fault_server.plan(
        Stream([chunk(role="assistant"), chunk("Hel"), chunk("lo", finish="stop"), usage, DONE])
    )
    async with client(fault_server) as c, c.stream(REQUEST) as stream:
        whole = await stream.collect()
    assert whole.content == "Hello"
    assert whole.usage is not None
    assert whole.usage.total_tokens == 4
    sent = fault_server.requests[0].json()
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


async def test_finished_streams_give_their_connection_back(fault_server: FaultServer) -> None:
    fault_server.plan(*[Stream([chunk("a"), DONE]) for _ in range(3)])
    async with client(fault_server) as c:
        for _ in range(3):
            async with c.stream(REQUEST) as stream:
                assert (await stream.collect()).content == "a"
        await c.chat(REQUEST)
    assert [r.connection for r in fault_server.requests] == [1, 1, 1, 1]


async def test_malformed_sse_is_a_protocol_error(fault_server: FaultServer) -> None:
    fault_server.plan(Stream([chunk("a"), b"data: {not json\n\n", DONE]))
    async with client(fault_server) as c, c.stream(REQUEST) as stream:
        with pytest.raises(errors.ProtocolError, match="not a chat-completion chunk"):
            await stream.collect()
        assert stream.completion().content == "a"
    assert fault_server.count == 1


async def test_error_event_mid_stream(fault_server: FaultServer) -> None:
    err = b'data: {"error": {"message": "the model crashed", "type": "server_error", "code": 500}}'
    err += b"\n\n"
    fault_server.plan(Stream([chunk("par"), err, DONE]))
    async with client(fault_server) as c, c.stream(REQUEST) as stream:
        with pytest.raises(errors.ServerError, match="the model crashed") as info:
            await stream.collect()
    assert info.value.status == 500
    assert fault_server.count == 1  # chunks already flowed: no retry


async def test_named_error_event_mid_stream(fault_server: FaultServer) -> None:
    err = b'event: error\ndata: {"message": "overloaded", "type": "overloaded_error"}\n\n'
    fault_server.plan(Stream([chunk("x"), err]))
    async with client(fault_server) as c, c.stream(REQUEST) as stream:
        with pytest.raises(errors.APIError, match="overloaded"):
            await stream.collect()


async def test_stream_ending_without_done_is_a_protocol_error(fault_server: FaultServer) -> None:
    fault_server.plan(Stream([chunk("a"), chunk("b")], end="clean"))
    async with client(fault_server) as c, c.stream(REQUEST) as stream:
        with pytest.raises(errors.ProtocolError, match="before `data: \\[DONE\\]`"):
            await stream.collect()
    assert fault_server.count == 1


async def test_stream_cut_in_the_middle_of_an_event(fault_server: FaultServer) -> None:
    fault_server.plan(Stream([chunk("a"), b'data: {"id": "x", "choi'], end="clean"))
    async with client(fault_server) as c, c.stream(REQUEST) as stream:
        with pytest.raises(errors.ProtocolError, match="in the middle of an event"):
            await stream.collect()


async def test_dropped_connection_mid_stream_is_a_protocol_error(fault_server: FaultServer) -> None:
    fault_server.plan(Stream([chunk("a"), chunk("b")], end="drop"))
    async with client(fault_server) as c, c.stream(REQUEST) as stream:
        with pytest.raises(errors.ProtocolError, match="broke off"):
            await stream.collect()
    assert fault_server.count == 1


async def test_stream_is_retried_until_it_opens(fault_server: FaultServer) -> None:
    fault_server.plan(
        Reply(503, {"error": {"message": "warming up"}}), Reset(), Stream([chunk("ok"), DONE])
    )
    async with client(fault_server) as c, c.stream(REQUEST) as stream:
        assert (await stream.collect()).content == "ok"
    assert fault_server.count == 3


async def test_stream_that_never_opens_raises_the_server_error(fault_server: FaultServer) -> None:
    fault_server.plan(
        default=Reply(401, {"status": 401, "title": "Unauthorized", "detail": "bad key"})
    )
    async with client(fault_server) as c:
        with pytest.raises(errors.AuthenticationError, match="Unauthorized: bad key"):
            async with c.stream(REQUEST):
                pass
    assert fault_server.count == 1


async def test_stalled_stream_hits_the_read_timeout(fault_server: FaultServer) -> None:
    fault_server.plan(Stream([chunk("a"), chunk("b"), DONE], pause=2.0))
    async with client(fault_server, timeouts=Timeouts(read=0.2)) as c, c.stream(REQUEST) as stream:
        with pytest.raises(errors.TimeoutError, match="read timeout"):
            await stream.collect()


async def test_stream_total_timeout(fault_server: FaultServer) -> None:
    fault_server.plan(Stream([chunk("a")] * 50 + [DONE], pause=0.05))
    async with client(fault_server, timeouts=Timeouts(read=1, total=0.4)) as c:
        start = time.monotonic()
        with pytest.raises(errors.TimeoutError, match="total timeout"):
            async with c.stream(REQUEST) as stream:
                await stream.collect()
    assert time.monotonic() - start < 1.5


# ------------------------------------------------------- limits and cancellation


async def test_concurrency_limit_holds_at_the_server(fault_server: FaultServer) -> None:
    fault_server.plan(default=Reply(delay=0.05))
    limits = RateLimits(max_concurrency=2)
    async with client(fault_server, limits=limits) as c, anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(c.chat, REQUEST)
    assert fault_server.count == 8
    assert fault_server.max_in_flight == 2


async def test_cancelled_request_releases_its_slot(fault_server: FaultServer) -> None:
    fault_server.plan(Hang(10))
    async with client(fault_server, limits=RateLimits(max_concurrency=1)) as c:
        async with anyio.create_task_group() as tg:
            tg.start_soon(c.chat, REQUEST)
            assert await anyio.to_thread.run_sync(wait_until, lambda: fault_server.count == 1)
            tg.cancel_scope.cancel()
        with anyio.fail_after(2):  # the one slot is free again
            reply = await c.chat(REQUEST)
    assert reply.content == "ok"
    assert fault_server.count == 2


async def test_cancelled_waiter_takes_no_slot(fault_server: FaultServer) -> None:
    fault_server.plan(Reply(delay=0.3))
    async with client(fault_server, limits=RateLimits(max_concurrency=1)) as c:
        async with anyio.create_task_group() as tg:
            tg.start_soon(c.chat, REQUEST)  # holds the slot for 0.3 s
            await anyio.sleep(0.05)
            with anyio.move_on_after(0.05):
                await c.chat(REQUEST)  # waits for the slot, then is cancelled
        with anyio.fail_after(2):
            await c.chat(REQUEST)
    assert fault_server.count == 2  # the cancelled waiter never sent anything


async def test_leaving_a_stream_early_releases_its_slot(fault_server: FaultServer) -> None:
    fault_server.plan(Stream([chunk("a"), chunk("b"), DONE], pause=0.5))
    async with client(fault_server, limits=RateLimits(max_concurrency=1)) as c:
        with anyio.move_on_after(0.2):
            async with c.stream(REQUEST) as stream:
                async for _ in stream:
                    pass
        with anyio.fail_after(2):
            assert (await c.chat(REQUEST)).content == "ok"


async def test_requests_per_minute_spaces_requests(fault_server: FaultServer) -> None:
    # 600 a minute is 10 a second, holding one second's worth: 10 at once, then one per 0.1 s
    async with client(fault_server, limits=RateLimits(requests_per_minute=600)) as c:
        start = time.monotonic()
        for _ in range(13):
            await c.chat(REQUEST)
        elapsed = time.monotonic() - start
    assert fault_server.count == 13
    assert 0.25 <= elapsed < 2.0


async def test_tokens_per_minute_settles_against_reported_usage(fault_server: FaultServer) -> None:
    # 60,000 tokens a minute is 1,000 a second, the bucket holding 1,000. Each call is
    # estimated at about 120 (body / 4 + max_tokens 100) but the server reports 1,000
    # used: the first call empties the bucket, the second waits ~0.12 s for its
    # estimate and leaves a debt of 880, the third waits ~1 s for that and its own.
    usage = {"prompt_tokens": 900, "completion_tokens": 100, "total_tokens": 1000}
    fault_server.plan(default=Reply(body=completion_body(usage=usage)))
    request = ChatRequest(model="m", messages=[Message.user("hi")], max_tokens=100)
    async with client(fault_server, limits=RateLimits(tokens_per_minute=60_000)) as c:
        start = time.monotonic()
        for _ in range(3):
            await c.chat(request)
        elapsed = time.monotonic() - start
    assert 1.0 <= elapsed < 3.0


async def test_headers_and_body_on_the_wire(fault_server: FaultServer) -> None:
    async with ChatClient(
        OpenAI(fault_server.base_url, api_key="sk-1", headers={"x-team": "lion"})
    ) as c:
        await c.chat(ChatRequest(model="m", messages=[Message.user("hi")], temperature=0.5))
    (sent,) = fault_server.requests
    assert sent.method == "POST"
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-1"
    assert sent.headers["x-team"] == "lion"
    assert sent.json() == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.5,
    }
