"""Server-sent events: an incremental parser, and chat-chunk decoding and assembly.

:class:`SSEParser` follows the WHATWG event-stream rules: lines end in CRLF, LF
or CR (a CR at the end of one network chunk may pair with an LF at the start of
the next); ``data:`` lines of one event join with LF; a blank line dispatches;
lines starting with ``:`` are comments; one space after the colon is dropped.
Bytes are split into lines before any decoding, so a UTF-8 character cut in two
by the network is never decoded in halves.

:class:`ChunkDecoder` turns events into :class:`ChatCompletionChunk` and knows
the end (``[DONE]``) and errors (an ``event: error``, or a chunk with an
``error`` member). :class:`StreamAssembler` folds chunks into one
:class:`ChatCompletion`: text concatenated, tool calls assembled per index
(arguments concatenated, id and name set once, since some servers, llama.cpp
among them, repeat them in every delta), the usage chunk kept.
"""

from __future__ import annotations

__all__ = ["ChunkDecoder", "SSEEvent", "SSEParser", "StreamAssembler"]

import msgspec

from lion.errors import APIError, ProtocolError
from lion.wire import _errors
from lion.wire.dto import (
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    FunctionCall,
    Message,
    ToolCall,
    Usage,
)
from lion.wire.settings import SizeLimits

_BOM = b"\xef\xbb\xbf"
_DEFAULTS = SizeLimits()
_RETRY_DIGITS = 10  # a reconnection time past 10 digits of ms (115 days) is noise: ignored


class SSEEvent(msgspec.Struct):
    """One dispatched event: its type (``message`` unless named), data, and last id."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEParser:
    """Feed bytes as they arrive; get back the events they complete.

    Bounded in memory and linear in time: an unterminated line is kept as a
    list of the chunks that brought it (joined once, when its end arrives), a
    line longer than ``max_line_bytes`` or an event whose data passes
    ``max_event_bytes`` raises :class:`~lion.errors.ProtocolError` as soon as
    the byte that crosses the limit arrives.
    """

    __slots__ = (
        "_cr",
        "_data",
        "_event",
        "_id",
        "_parts",
        "_pending",
        "_plen",
        "_quiet",
        "_retry",
        "_since",
        "_started",
        "max_event_bytes",
        "max_line_bytes",
    )

    def __init__(
        self,
        *,
        max_line_bytes: int = _DEFAULTS.max_line_bytes,
        max_event_bytes: int = _DEFAULTS.max_event_bytes,
    ) -> None:
        self.max_line_bytes = max_line_bytes
        self.max_event_bytes = max_event_bytes
        self._quiet = min(max_line_bytes, max_event_bytes)  # below it, no limit can be reached
        self._pending = b""  # the unterminated line (and maybe a trailing CR)
        self._parts: list[bytes] = []  # chunks since, without a line end: joined once, later
        self._plen = 0  # len(_pending) + len(_parts), kept while _parts grows
        self._cr = False  # the pending bytes end in CR: the next LF belongs to it
        self._data: list[bytes] = []
        self._since = 0  # bytes of complete lines since the last blank line: the event so far
        self._event = b""
        self._id: str | None = None
        self._retry: int | None = None
        self._started = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not self._started:
            started = self._start(chunk)
            if started is None:
                return []
            chunk = started
        elif b"\n" not in chunk and not self._cr and b"\r" not in chunk:
            # no line ends here: keep the chunk (no copy), so a long line costs O(length)
            if chunk:
                parts = self._parts
                if not parts:
                    self._plen = len(self._pending)
                parts.append(chunk)
                self._plen += len(chunk)
                if self._plen > self.max_line_bytes:
                    self._line_too_long()
            return []
        pending = self._pending
        if self._parts:  # a line that came in several chunks: joined once, now
            buf = b"".join([pending, *self._parts, chunk])
            self._parts = []
        else:
            buf = pending + chunk if pending else chunk
        if b"\r" in buf:
            hold = buf.endswith(b"\r")  # might be the first half of a CRLF
            if hold:
                buf = buf[:-1]
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = buf.split(b"\n")
            rest = lines.pop()
            self._pending = rest + b"\r" if hold else rest
            self._cr = hold
        else:
            lines = buf.split(b"\n")
            rest = self._pending = lines.pop()
            self._cr = False
        if not lines:
            if len(rest) > self.max_line_bytes:
                self._line_too_long()
            return []
        n = len(buf)
        done = n - len(rest)  # bytes of the complete lines
        if self._since + n > self._quiet:  # near a limit: check each line
            if len(rest) > self.max_line_bytes or any(
                len(line) > self.max_line_bytes for line in lines
            ):
                self._line_too_long()
            self._count_event(lines, len(rest))
        else:
            # The event size is the bytes since the last blank line, found per feed (one
            # rfind), not per line, while the whole buffer cannot reach either limit.
            j = buf.rfind(b"\n\n", 0, done)
            if j >= 0:
                self._since = done - j - 2
            elif buf[:1] == b"\n":
                self._since = done - 1
            else:
                self._since += done
        events: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append(self._dispatch())
                    data = self._data
                else:
                    self._event = b""
                continue
            if line[:6] == b"data: ":  # the usual line first: no partition, no second slice
                data.append(line[6:])
                continue
            if line[0] == 58:  # b":" comment
                continue
            name, colon, value = line.partition(b":")
            if colon and value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                data.append(value)
            elif name == b"event":
                self._event = value
            elif name == b"id" and b"\x00" not in value:
                self._id = value.decode("utf-8", "replace")
            elif name == b"retry" and value.isdigit() and len(value) <= _RETRY_DIGITS:
                self._retry = int(value)
            # any other field is ignored, as the spec says; so is a retry too long to mean anything
        return events

    def _start(self, chunk: bytes) -> bytes | None:
        """The first bytes: drop a BOM (None while they may still be the start of one)."""
        buf = self._pending + chunk
        if len(buf) < len(_BOM) and _BOM.startswith(buf):
            self._pending = buf
            return None
        self._started = True
        self._pending = b""
        return buf[len(_BOM) :] if buf.startswith(_BOM) else buf

    def close(self) -> list[SSEEvent]:
        """The bytes ended: a held-back CR still ends its line (an unterminated line is dropped)."""
        if self._cr:
            return self.feed(b"\n")
        return []

    def _count_event(self, lines: list[bytes], pending: int) -> None:
        since, limit = self._since, self.max_event_bytes
        for line in lines:
            since = since + len(line) + 1 if line else 0
            if since > limit:
                break
        self._since = since
        if since + pending > limit:
            self._data, self._since = [], 0
            raise ProtocolError(
                f"an event is larger than `max_event_bytes` = {limit} bytes"
                " (counted from its first line to the blank line that ends it)"
            )

    def _line_too_long(self) -> None:
        self._pending, self._parts, self._plen, self._cr = b"", [], 0, False
        raise ProtocolError(
            f"an event-stream line is longer than `max_line_bytes` = {self.max_line_bytes} bytes"
        )

    def _dispatch(self) -> SSEEvent:
        data = self._data
        text = (data[0] if len(data) == 1 else b"\n".join(data)).decode("utf-8", "replace")
        event = SSEEvent(
            data=text,
            event=self._event.decode("utf-8", "replace") if self._event else "message",
            id=self._id,
            retry=self._retry,
        )
        self._data = []
        self._event = b""
        return event

    @property
    def has_partial(self) -> bool:
        """Bytes or data lines were received that no blank line has dispatched yet."""
        parts = [self._pending, *self._parts]
        return bool(self._data) or any(p.strip(b"\r\n") for p in parts)


_chunk_decoder = msgspec.json.Decoder(ChatCompletionChunk)


class ChunkDecoder:
    """Events in, chunks out; raises on error events and knows when the stream is done."""

    __slots__ = ("done", "parser")

    def __init__(self, limits: SizeLimits | None = None) -> None:
        lim = limits or _DEFAULTS
        self.parser = SSEParser(
            max_line_bytes=lim.max_line_bytes, max_event_bytes=lim.max_event_bytes
        )
        self.done = False

    def feed(self, data: bytes) -> list[ChatCompletionChunk]:
        return self._events(self.parser.feed(data))

    def _events(self, events: list[SSEEvent]) -> list[ChatCompletionChunk]:
        chunks: list[ChatCompletionChunk] = []
        for event in events:
            if self.done:
                break  # anything after [DONE] is ignored
            chunk = self.event(event)
            if chunk is not None:
                chunks.append(chunk)
        return chunks

    def event(self, event: SSEEvent) -> ChatCompletionChunk | None:
        payload = event.data
        if payload == "[DONE]":
            self.done = True
            return None
        if event.event == "error":
            raise self._error(payload)
        if event.event not in ("message", "chunk", "completion") or not payload.strip():
            return None  # a named event we do not know (keep-alives, metrics), or empty data
        try:
            chunk = _chunk_decoder.decode(payload)
        except msgspec.DecodeError as exc:
            snippet = payload[:200]
            raise ProtocolError(
                f"a stream event is not a chat-completion chunk: {exc}: `{snippet}`"
            ) from exc
        if chunk.error is not None:
            raise self._error(payload)
        return chunk

    def close(self) -> list[ChatCompletionChunk]:
        """The bytes ended: return the last chunks; raise unless ``[DONE]`` was among them."""
        chunks = self._events(self.parser.close())
        if not self.done:
            what = (
                "in the middle of an event" if self.parser.has_partial else "before `data: [DONE]`"
            )
            raise ProtocolError(f"the stream was cut off {what}")
        return chunks

    @staticmethod
    def _error(payload: str) -> APIError:
        try:
            body = msgspec.json.decode(payload)
        except msgspec.DecodeError:
            body = payload
        info = _errors.error_info(body)
        return _errors.api_error(info, body=body)


class _ToolCallParts(msgspec.Struct):
    id: str | None = None
    type: str | None = None
    name: str | None = None
    arguments: list[str] = msgspec.field(default_factory=list)


class _ChoiceParts(msgspec.Struct):
    role: str | None = None
    content: list[str] = msgspec.field(default_factory=list)
    reasoning: list[str] = msgspec.field(default_factory=list)
    refusal: list[str] = msgspec.field(default_factory=list)
    tool_calls: dict[int, _ToolCallParts] = msgspec.field(default_factory=dict)
    finish_reason: str | None = None


class StreamAssembler:
    """Folds chunks into the :class:`ChatCompletion` a non-streamed call would give."""

    __slots__ = ("_choices", "created", "id", "model", "system_fingerprint", "usage")

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created = 0
        self.system_fingerprint: str | None = None
        self.usage: Usage | None = None
        self._choices: dict[int, _ChoiceParts] = {}

    def add(self, chunk: ChatCompletionChunk) -> None:
        if not self.id:
            self.id, self.model, self.created = chunk.id, chunk.model, chunk.created
        if chunk.system_fingerprint is not None:
            self.system_fingerprint = chunk.system_fingerprint
        if chunk.usage is not None:
            self.usage = chunk.usage
        for c in chunk.choices:
            parts = self._choices.get(c.index)
            if parts is None:
                parts = self._choices[c.index] = _ChoiceParts()
            d = c.delta
            if d.role is not None and parts.role is None:
                parts.role = d.role
            if d.content:
                parts.content.append(d.content)
            if d.reasoning_content:
                parts.reasoning.append(d.reasoning_content)
            if d.refusal:
                parts.refusal.append(d.refusal)
            if d.tool_calls:
                for tc in d.tool_calls:
                    call = parts.tool_calls.get(tc.index)
                    if call is None:
                        call = parts.tool_calls[tc.index] = _ToolCallParts()
                    if tc.id and call.id is None:
                        call.id = tc.id
                    if tc.type and call.type is None:
                        call.type = tc.type
                    f = tc.function
                    if f is not None:
                        if f.name and call.name is None:
                            call.name = f.name
                        if f.arguments:
                            call.arguments.append(f.arguments)
            if c.finish_reason is not None:
                parts.finish_reason = c.finish_reason

    def completion(self) -> ChatCompletion:
        """What has been assembled so far, as a whole completion."""
        choices = []
        for index in sorted(self._choices):
            p = self._choices[index]
            calls = [
                ToolCall(
                    id=t.id or f"call_{index}_{i}",
                    type=t.type or "function",
                    function=FunctionCall(name=t.name or "", arguments="".join(t.arguments)),
                )
                for i, t in sorted(p.tool_calls.items())
            ]
            has_text = bool(p.content) or not calls
            message = Message(
                role=p.role or "assistant",
                content="".join(p.content) if has_text else None,
                tool_calls=calls or None,
                reasoning_content="".join(p.reasoning) if p.reasoning else None,
                refusal="".join(p.refusal) if p.refusal else None,
            )
            choices.append(Choice(index=index, message=message, finish_reason=p.finish_reason))
        return ChatCompletion(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=choices,
            usage=self.usage,
            system_fingerprint=self.system_fingerprint,
        )
