"""Reading response bodies under a size limit, decoding ``content-encoding`` ourselves.

httpx decodes gzip with no bound on the output of one call, so a 64 KiB network
chunk of a gzip bomb becomes 64 MiB before anyone can count it. Here the raw
bytes (transfer encoding already removed) are decompressed at most
:data:`PIECE` bytes at a time, and every piece is counted against the limit
before the next one is made: memory stays near the limit whatever the ratio.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator

import httpx

from lion.errors import ProtocolError

#: Largest piece one decompression step may produce.
PIECE = 64 * 1024
#: The encodings we decode; httpx advertises the same unless brotli/zstd are installed.
ACCEPT_ENCODING = "gzip, deflate"
_MAX_STAGES = 4  # "gzip, gzip, ..." deeper than this is an attack, not a configuration


class _Stage:
    """One decoding step: bytes in with :meth:`feed`, at most ``n`` bytes out per :meth:`read`."""

    def feed(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, n: int) -> bytes:
        raise NotImplementedError

    def flush(self) -> bytes:
        return b""


class _Identity(_Stage):
    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held = b""

    def feed(self, data: bytes) -> None:
        self._held = self._held + data if self._held else data

    def read(self, n: int) -> bytes:
        out, self._held = self._held[:n], self._held[n:]
        return out


class _Zlib(_Stage):
    """gzip (``wbits`` 16+15), or deflate: zlib-wrapped, else raw as some servers send it."""

    __slots__ = ("_d", "_deflate", "_name", "_out", "_tail")

    def __init__(self, name: str) -> None:
        self._name = name
        self._deflate = name == "deflate"
        self._d = zlib.decompressobj(zlib.MAX_WBITS if self._deflate else 16 + zlib.MAX_WBITS)
        self._tail = b""
        self._out = 0

    def feed(self, data: bytes) -> None:
        self._tail = self._tail + data if self._tail else data

    def read(self, n: int) -> bytes:
        while self._tail and not self._d.eof:
            data = self._tail
            try:
                out = self._d.decompress(data, n)
            except zlib.error as exc:
                if self._deflate and not self._out:  # raw deflate, without the zlib header
                    self._deflate = False
                    self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise ProtocolError(f"the `{self._name}` body is corrupt: {exc}") from None
            stuck = not out and len(self._d.unconsumed_tail) == len(data)
            self._tail = self._d.unconsumed_tail
            self._deflate = False  # the first bytes decoded: the format is settled
            if out:
                self._out += len(out)
                return out
            if stuck:  # no progress: never spin
                raise ProtocolError(f"the `{self._name}` body is corrupt: no progress")
        if self._d.eof:
            self._tail = b""  # bytes after the end of the compressed stream are ignored
        return b""

    def flush(self) -> bytes:
        try:
            return self._d.flush(PIECE)
        except zlib.error as exc:
            raise ProtocolError(f"the `{self._name}` body is corrupt: {exc}") from None


def _stages(header: str | None) -> list[_Stage]:
    if not header:
        return [_Identity()]
    names = [n.strip().lower() for n in header.split(",") if n.strip()]
    names = [n for n in names if n != "identity"]
    if len(names) > _MAX_STAGES:
        raise ProtocolError(f"`content-encoding` names {len(names)} encodings; at most 4 are read")
    stages: list[_Stage] = []
    for name in reversed(names):  # the last encoding applied is the first to undo
        if name not in ("gzip", "x-gzip", "deflate"):
            raise ProtocolError(f"unsupported `content-encoding` `{name[:40]}`")
        stages.append(_Zlib(name))
    return stages or [_Identity()]


class BodyDecoder:
    """Raw bytes in, decoded pieces out, the decoded total checked against ``limit``.

    ``what`` says in the error whose body it is, ``limit_name`` which setting
    was exceeded, so the :class:`~lion.errors.ProtocolError` names both.
    """

    __slots__ = ("_stages", "limit", "limit_name", "total", "what")

    def __init__(self, encoding: str | None, *, limit: int, limit_name: str, what: str) -> None:
        self._stages = _stages(encoding)
        self.limit = limit
        self.limit_name = limit_name
        self.what = what
        self.total = 0

    def feed(self, raw: bytes) -> Iterator[bytes]:
        """Decode ``raw``, a piece at a time; raises once the decoded total passes the limit."""
        self._stages[0].feed(raw)
        while True:
            piece = self._pull(len(self._stages) - 1)
            if not piece:
                return
            yield self.count(piece)

    def finish(self) -> Iterator[bytes]:
        """The raw bytes ended: what the decoders still hold, first stage first."""
        last = len(self._stages) - 1
        for i, stage in enumerate(self._stages):
            yield from self.feed(b"")
            rest = stage.flush()
            if rest and i < last:
                self._stages[i + 1].feed(rest)
            elif rest:
                yield self.count(rest)
        yield from self.feed(b"")

    def _pull(self, i: int) -> bytes:
        stage = self._stages[i]
        while True:
            out = stage.read(PIECE)
            if out or i == 0:
                return out
            more = self._pull(i - 1)
            if not more:
                return b""
            stage.feed(more)

    @property
    def plain(self) -> bool:
        """No ``content-encoding``: the raw bytes are the body."""
        return isinstance(self._stages[0], _Identity) and len(self._stages) == 1

    def count(self, piece: bytes) -> bytes:
        """``piece``, counted against the limit (raises past it)."""
        self.total += len(piece)
        if self.total > self.limit:
            raise ProtocolError(
                f"{self.what} is larger than `{self.limit_name}` = {self.limit} bytes"
                " (raise the limit in `SizeLimits` if the server is trusted)"
            )
        return piece


def decoder_for(response: httpx.Response, *, limit: int, limit_name: str, what: str) -> BodyDecoder:
    """A decoder for ``response``; refuses at once a plain body whose length exceeds ``limit``."""
    encoding = length = None
    for name, value in response.headers.raw:  # one pass over raw bytes: this is per request
        low = name.lower()
        if low == b"content-encoding":
            encoding = value.decode("latin-1")
        elif low == b"content-length":
            length = value
    decoder = BodyDecoder(encoding, limit=limit, limit_name=limit_name, what=what)
    plain = not encoding and length is not None and length.isdigit() and len(length) < 20
    if plain and length is not None and int(length) > limit:
        raise ProtocolError(
            f"{what} announces {int(length)} bytes, more than `{limit_name}` = {limit} bytes"
        )
    return decoder


def _already_read(response: httpx.Response) -> bytes | None:
    """The body httpx already holds (decoded), as for a response an ``httpx.MockTransport``
    built from ``content=``; None for a body still to come from the network."""
    try:
        return response.content
    except httpx.ResponseNotRead:
        return None


async def read_body(response: httpx.Response, decoder: BodyDecoder) -> bytes:
    """The whole decoded body; the limit is checked as each piece is decoded, never after."""
    held = _already_read(response)
    if held is not None:
        return decoder.count(held)
    parts: list[bytes] = []
    if decoder.plain:  # the usual case: raw pieces are the body, only counted
        async for raw in response.aiter_raw():
            parts.append(decoder.count(raw))
        return parts[0] if len(parts) == 1 else b"".join(parts)
    async for raw in response.aiter_raw():
        parts.extend(decoder.feed(raw))
    parts.extend(decoder.finish())
    return b"".join(parts)


async def read_capped(response: httpx.Response, cap: int) -> bytes:
    """At most ``cap`` decoded bytes of an error answer; the rest is not read.

    The status already says what went wrong, so a long error body is cut, not refused.
    """
    decoder = BodyDecoder(
        response.headers.get("content-encoding"), limit=cap, limit_name="cap", what="error body"
    )
    held = _already_read(response)
    if held is not None:
        return held[:cap]
    parts: list[bytes] = []
    size = 0
    try:
        async for raw in response.aiter_raw():
            for piece in decoder.feed(raw):
                parts.append(piece)
                size += len(piece)
            if size >= cap:
                break
        else:
            parts.extend(decoder.finish())
    except ProtocolError:  # past the cap, or a corrupt encoding: keep what decoded
        pass
    return b"".join(parts)[:cap]


class DecodedStream:
    """A streamed body as decoded pieces, with the total checked against a limit.

    :meth:`next` returns the next piece, or ``None`` at the end. httpx's errors
    pass through (the caller maps them, with its timeouts).
    """

    __slots__ = ("_decoder", "_done", "_pieces", "_raw")

    def __init__(self, response: httpx.Response, decoder: BodyDecoder) -> None:
        held = _already_read(response)
        if held is not None:  # already decoded by httpx: only counted here
            decoder = BodyDecoder(
                None, limit=decoder.limit, limit_name=decoder.limit_name, what=decoder.what
            )
        self._raw: AsyncIterator[bytes] = response.aiter_raw() if held is None else _one(held)
        self._decoder = decoder
        self._pieces: Iterator[bytes] = iter(())
        self._done = False

    async def next(self) -> bytes | None:
        while True:
            piece = next(self._pieces, None)
            if piece is not None:
                return piece
            if self._done:
                return None
            try:
                raw = await self._raw.__anext__()
            except StopAsyncIteration:
                self._done = True
                self._pieces = self._decoder.finish()
                continue
            self._pieces = self._decoder.feed(raw)

    async def aclose(self) -> None:
        aclose = getattr(self._raw, "aclose", None)
        if aclose is not None:
            await aclose()


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
