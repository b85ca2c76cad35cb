"""Models the runtime talks to: a server over the wire, or a script for tests.

A `Model` completes one `ChatRequest`. `ClientModel` sends it to a server
through `lion.wire.ChatClient`; `ScriptedModel` answers from a list of replies
(or a function of the messages) without any network, so agents can be tested
offline, the way pydantic-ai's TestModel allows.

Real requests can be refused process-wide, so a test suite cannot reach a
server by accident: set ``LION_ALLOW_MODEL_REQUESTS=0``, or use
``with refuse_model_requests(): ...``. A refused request raises
`ModelRequestRefused` before anything is sent.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias, runtime_checkable

import msgspec

from lion.errors import ModelRequestRefused, ScriptError, ServiceError
from lion.wire.dto import (
    ChatCompletion,
    ChatRequest,
    Choice,
    FunctionCall,
    Message,
    ToolCall,
    Usage,
)

if TYPE_CHECKING:
    from lion.wire.client import ChatClient

__all__ = [
    "ALLOW_ENV_VAR",
    "ClientModel",
    "Model",
    "Reply",
    "ScriptedModel",
    "call",
    "model_requests_allowed",
    "refuse_model_requests",
]

ALLOW_ENV_VAR: Final = "LION_ALLOW_MODEL_REQUESTS"
_REFUSED: contextvars.ContextVar[bool] = contextvars.ContextVar("lion_refuse_models", default=False)


@runtime_checkable
class Model(Protocol):
    """Something that completes chat requests."""

    @property
    def name(self) -> str:
        """The model name requests are made for."""
        ...

    async def complete(self, request: ChatRequest) -> ChatCompletion:
        """The whole completion of `request`."""
        ...

    def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """The answer's text to `request`, piece by piece as it is generated."""
        ...


def model_requests_allowed() -> bool:
    """False inside `refuse_model_requests()` or when LION_ALLOW_MODEL_REQUESTS is 0/false/no."""
    if _REFUSED.get():
        return False
    flag = os.environ.get(ALLOW_ENV_VAR, "").strip().lower()
    return flag not in {"0", "false", "no", "off"}


@contextlib.contextmanager
def refuse_model_requests() -> Iterator[None]:
    """Within the block (and tasks started in it), every `ClientModel` request is refused."""
    token = _REFUSED.set(True)
    try:
        yield
    finally:
        _REFUSED.reset(token)


class ClientModel:
    """A model served over HTTP: `client` speaks the server's dialect, `name` is the model id."""

    def __init__(self, client: ChatClient, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ServiceError(f"model name must be a non-empty str, got `{name!r}`")
        self.client = client
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def _allowed(self) -> None:
        if not model_requests_allowed():
            raise ModelRequestRefused(
                f"request to model `{self._name}` refused: real model requests are off "
                f"({ALLOW_ENV_VAR}=0 or refuse_model_requests()); use a ScriptedModel in tests"
            )

    async def complete(self, request: ChatRequest) -> ChatCompletion:
        self._allowed()
        return await self.client.chat(msgspec.structs.replace(request, model=self._name))

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        self._allowed()
        async with self.client.stream(msgspec.structs.replace(request, model=self._name)) as s:
            async for chunk in s:
                for choice in chunk.choices:
                    if choice.delta.content:
                        yield choice.delta.content

    def __repr__(self) -> str:
        return f"ClientModel({self._name!r}, {type(self.client.dialect).__name__})"


def call(name: str, arguments: Mapping[str, Any] | str | None = None, *, id: str = "") -> ToolCall:
    """A tool call for a script: `call("search", {"query": "lion"})`.

    `arguments` may be a mapping (encoded as JSON) or the raw JSON text a
    model would send, malformed on purpose if a test wants that.
    """
    text = (
        arguments if isinstance(arguments, str) else msgspec.json.encode(arguments or {}).decode()
    )
    return ToolCall(id=id, function=FunctionCall(name=name, arguments=text))


#: One scripted answer: text, a tool call, several tool calls, or a whole assistant Message.
Reply: TypeAlias = "str | ToolCall | Sequence[ToolCall] | Message"


class ScriptedModel:
    """A model that answers from a script, for tests and offline demos.

    `script` is a sequence of replies, used in order (one per request), or a
    function of the request's messages returning one. A reply is a str (the
    assistant's text), a `ToolCall` (see `call`) or a list of them, or a whole
    assistant `Message`. Tool calls without an id get `call_<n>`. Every
    request is kept in `requests`. Running out of replies raises
    `ScriptError`, naming how many requests the script answered.
    """

    def __init__(
        self,
        script: Sequence[Reply] | Callable[[list[Message]], Reply],
        *,
        name: str = "scripted",
    ) -> None:
        if isinstance(script, str | Message | ToolCall):
            script = [script]
        self._script = script
        self._name = name
        self._next = 0
        self._ids = itertools.count(1)
        self.requests: list[ChatRequest] = []

    @property
    def name(self) -> str:
        return self._name

    async def complete(self, request: ChatRequest) -> ChatCompletion:
        return self._answer(request)

    def _answer(self, request: ChatRequest) -> ChatCompletion:
        self.requests.append(request)
        if callable(self._script):
            reply = self._script(list(request.messages))
        else:
            if self._next >= len(self._script):
                raise ScriptError(
                    f"scripted model `{self._name}` has no reply for request "
                    f"{self._next + 1}: its script holds {len(self._script)}"
                )
            reply = self._script[self._next]
        self._next += 1
        message = self._message(reply)
        finish = "tool_calls" if message.tool_calls else "stop"
        text = message.content if isinstance(message.content, str) else ""
        usage = Usage(
            prompt_tokens=sum(len(str(m.content or "")) for m in request.messages) // 4,
            completion_tokens=len(text) // 4,
        )
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
        return ChatCompletion(
            id=f"scripted-{self._next}",
            model=self._name,
            choices=[Choice(message=message, finish_reason=finish)],
            usage=usage,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """The scripted text reply, word by word (a scripted tool call cannot be streamed)."""
        completion = self._answer(request)
        message = completion.choices[0].message
        if message.tool_calls:
            raise ScriptError(
                f"scripted model `{self._name}`: reply {self._next} is a tool call; "
                "streaming gives text only"
            )
        text = message.content if isinstance(message.content, str) else ""
        for piece in re.findall(r"\S+\s*|\s+", text):
            yield piece

    def _message(self, reply: Any) -> Message:
        if isinstance(reply, Message):
            if reply.role != "assistant":
                raise ScriptError(
                    f"scripted model `{self._name}`: a scripted Message must have role "
                    f"`assistant`, got `{reply.role}`"
                )
            calls = reply.tool_calls
            return msgspec.structs.replace(reply, tool_calls=self._with_ids(calls) or None)
        if isinstance(reply, str):
            return Message(role="assistant", content=reply)
        if isinstance(reply, ToolCall):
            reply = [reply]
        if isinstance(reply, Sequence) and all(isinstance(c, ToolCall) for c in reply):
            return Message(role="assistant", content="", tool_calls=self._with_ids(list(reply)))
        raise ScriptError(
            f"scripted model `{self._name}`: reply `{reply!r}` is not a str, ToolCall, "
            "list of ToolCalls or assistant Message"
        )

    def _with_ids(self, calls: list[ToolCall] | None) -> list[ToolCall]:
        return [
            c if c.id else msgspec.structs.replace(c, id=f"call_{next(self._ids)}")
            for c in calls or []
        ]

    def __repr__(self) -> str:
        size = "a function" if callable(self._script) else f"{len(self._script)} replies"
        return f"ScriptedModel({self._name!r}, {size})"
