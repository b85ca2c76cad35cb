"""The chat client: a dialect on top of a transport, with ``chat`` and ``stream``.

::

    async with ChatClient(LlamaCpp("http://127.0.0.1:8080/v1")) as client:
        reply = await client.chat(ChatRequest(model="m", messages=[Message.user("hi")]))
        async with client.stream(request) as stream:
            async for chunk in stream:
                ...
            whole = stream.completion()
"""

from __future__ import annotations

__all__ = ["ChatClient", "ChatStream"]

import contextlib
import math
from collections import deque
from collections.abc import Mapping
from types import TracebackType

import anyio
import httpx
import msgspec

from lion import errors
from lion.wire import _body, _errors
from lion.wire.dialects import Dialect
from lion.wire.dto import ChatCompletion, ChatCompletionChunk, ChatRequest
from lion.wire.settings import RateLimits, RetryPolicy, SizeLimits, Timeouts
from lion.wire.sse import ChunkDecoder, StreamAssembler
from lion.wire.transport import Transport

_completion_decoder = msgspec.json.Decoder(ChatCompletion)
_DRAIN_LIMIT = 64 * 1024  # past this, closing the connection is cheaper than reading on


class ChatClient:
    """Chat completions against one server, spoken in its dialect.

    ``limits.max_concurrency`` defaults to the dialect's advice (1 for
    llama.cpp, which answers one request at a time). Give ``http_client`` to
    share a pool (the client then does not close it), or ``http_transport`` to
    put an ``httpx.MockTransport`` under the real one in tests. ``sizes``
    bounds what the server may send (see :class:`~lion.wire.settings.SizeLimits`).
    """

    def __init__(
        self,
        dialect: Dialect,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        limits: RateLimits | None = None,
        sizes: SizeLimits | None = None,
        http_client: httpx.AsyncClient | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        limits = limits or RateLimits()
        if limits.max_concurrency is None and dialect.max_concurrency is not None:
            limits = msgspec.structs.replace(limits, max_concurrency=dialect.max_concurrency)
        self.dialect = dialect
        self.transport = Transport(
            headers=dialect.headers(),
            timeouts=timeouts,
            retry=retry,
            limits=limits,
            sizes=sizes,
            http_client=http_client,
            http_transport=http_transport,
            client_error=dialect.is_client_error,
            secrets=dialect.secrets(),
        )
        self._url = dialect.url
        self._shown = self.transport.display(self._url)

    def __repr__(self) -> str:
        return f"ChatClient({self.dialect!r})"

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def chat(self, request: ChatRequest) -> ChatCompletion:
        """Send ``request`` and return the whole completion."""
        body = self.dialect.encode(request)
        cost = self.transport.estimate(body, request.max_tokens)
        response, content = await self.transport.post(self._url, body, cost=cost)
        completion = decode_completion(content, where=self._shown, headers=response.headers)
        self.transport.settle(cost, completion.usage)
        return completion

    def stream(self, request: ChatRequest) -> ChatStream:
        """Stream ``request``: ``async with client.stream(r) as s: async for chunk in s: ...``."""
        return ChatStream(self, request)


class ChatStream:
    """An open streamed completion: iterate for chunks, then :meth:`completion` for the whole.

    Opening retries like :meth:`ChatClient.chat` until the server answers 2xx;
    once chunks flow nothing is retried. The stream ends at ``data: [DONE]``;
    bytes that end before it raise :class:`~lion.errors.ProtocolError`, an error
    event raises the matching :class:`~lion.errors.APIError`. Leaving the
    ``async with`` (normally, by an error, or by cancellation) closes the
    connection and gives back the concurrency slot.
    """

    def __init__(self, client: ChatClient, request: ChatRequest) -> None:
        self._client = client
        self._request = request
        self._response: httpx.Response | None = None
        self._bytes: _body.DecodedStream | None = None
        self._decoder = ChunkDecoder(client.transport.sizes)
        self._assembler = StreamAssembler()
        self._queue: deque[ChatCompletionChunk] = deque()
        self._deadline = math.inf
        self._cost = 0
        self._closed = False
        self._drained = False
        read = client.transport.timeouts.read
        self._read_timeout = math.inf if read is None else read

    async def __aenter__(self) -> ChatStream:
        client = self._client
        transport = client.transport
        body = client.dialect.encode(self._request, stream=True)
        self._cost = transport.estimate(body, self._request.max_tokens)
        self._deadline = transport.deadline()
        self._response = await transport.open_stream(
            client._url, body, cost=self._cost, deadline=self._deadline
        )
        try:
            decoder = _body.decoder_for(
                self._response,
                limit=transport.sizes.max_stream_bytes,
                limit_name="max_stream_bytes",
                what=f"the stream from `{client._shown}`",
            )
        except BaseException:
            await self.aclose()
            raise
        self._bytes = _body.DecodedStream(self._response, decoder)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._closed or self._response is None:
            return
        self._closed = True
        try:
            with anyio.CancelScope(shield=True):
                if self._bytes is not None:
                    with contextlib.suppress(Exception):  # the response closes whatever it left
                        await self._bytes.aclose()
                await self._response.aclose()
        finally:
            transport = self._client.transport
            transport.release()
            transport.settle(self._cost, self._assembler.usage)

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        queue = self._queue
        while not queue:
            if self._decoder.done:
                await self._drain()
                raise StopAsyncIteration
            data = await self._read()
            try:
                if data is None:
                    queue.extend(self._decoder.close())  # raises unless [DONE] was seen
                    if not queue:
                        raise StopAsyncIteration
                else:
                    queue.extend(self._decoder.feed(data))
            except errors.APIError as exc:  # an error event may echo the key back
                raise self._scrub(exc) from None
        chunk = queue.popleft()
        self._assembler.add(chunk)
        return chunk

    def _scrub(self, exc: errors.APIError) -> errors.APIError:
        transport = self._client.transport
        exc.message = transport.redact(exc.message)
        exc.args = tuple(transport.redact(a) if isinstance(a, str) else a for a in exc.args)
        return exc

    async def _drain(self) -> None:
        """Read what follows ``[DONE]`` (normally nothing): the connection goes back to the pool."""
        if self._drained:
            return
        self._drained = True
        extra = 0
        with contextlib.suppress(errors.WireError):
            while extra <= _DRAIN_LIMIT:
                data = await self._read()
                if data is None:
                    return
                extra += len(data)

    async def _read(self) -> bytes | None:
        if self._bytes is None or self._closed:
            raise errors.ProtocolError(
                "the stream is not open: use `async with client.stream(...)`"
            )
        url = self._client._shown
        try:
            remaining = self._deadline - anyio.current_time()
            if remaining > self._read_timeout:  # the read timeout fires first: no scope needed
                return await self._bytes.next()
            with anyio.fail_after(max(0.0, remaining)):
                return await self._bytes.next()
        except TimeoutError as exc:  # the builtin, from fail_after: the total budget is spent
            total = self._client.transport.timeouts.total
            raise errors.TimeoutError(
                f"`{url}` took longer than the total timeout of {total:g} s"
            ) from exc
        except httpx.TimeoutException as exc:
            raise errors.TimeoutError(
                f"read timeout in the middle of the stream from `{url}`"
            ) from exc
        except httpx.HTTPError as exc:
            transport = self._client.transport
            text = transport.redact(str(exc) or type(exc).__name__)
            raise errors.ProtocolError(f"the stream from `{url}` broke off: {text}") from exc

    def completion(self) -> ChatCompletion:
        """Everything received so far, assembled as one completion."""
        return self._assembler.completion()

    async def collect(self) -> ChatCompletion:
        """Read the stream to its end and return the assembled completion."""
        async for _ in self:
            pass
        return self.completion()


def decode_completion(
    content: bytes, *, where: str = "the server", headers: Mapping[str, str] | None = None
) -> ChatCompletion:
    """A non-streamed answer as a :class:`ChatCompletion`; anything else is a ProtocolError.

    ``headers`` give the request id for the error message (looked up only on an error).
    """
    try:
        completion = _completion_decoder.decode(content)
    except msgspec.DecodeError as exc:
        raise errors.ProtocolError(
            f"the response from `{where}` is not a chat completion: {exc}{_rid(headers)}"
        ) from exc
    if not completion.choices:
        info = _errors.error_info(content, status=None)
        raise errors.ProtocolError(
            f"the response from `{where}` has no choices: {info.message}{_rid(headers)}"
        )
    return completion


def _rid(headers: Mapping[str, str] | None) -> str:
    rid = _errors.request_id(headers) if headers is not None else None
    return f" (request id {rid})" if rid else ""
