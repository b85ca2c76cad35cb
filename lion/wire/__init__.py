"""lion.wire: chat completions over pure HTTP, for NVIDIA NIM and OpenAI-compatible servers.

* :mod:`lion.wire.dto` — msgspec structs: the canonical :class:`ChatRequest`,
  responses, stream chunks, tool calls, usage, error bodies;
* :mod:`lion.wire.dialects` — :class:`OpenAI`, :class:`NvidiaNIM`,
  :class:`LlamaCpp`: the canonical request adapted to each server;
* :mod:`lion.wire.transport` — httpx with pooling, timeouts, retries with
  backoff, rate and concurrency limits, and size limits on what a server sends
  (:class:`SizeLimits`);
* :mod:`lion.wire.sse` — the incremental event-stream parser and chunk assembly;
* :class:`ChatClient` — ``chat(request)`` and ``stream(request)``.

Errors are the ``WireError`` subtree of :mod:`lion.errors`. Importing this
package loads msgspec only; httpx and anyio load with the first use of
:class:`ChatClient` (or :mod:`lion.wire.transport`).
"""

from __future__ import annotations

__all__ = [
    "ChatClient",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatRequest",
    "ChatStream",
    "Dialect",
    "ErrorInfo",
    "FunctionCall",
    "FunctionDef",
    "Guided",
    "LlamaCpp",
    "Message",
    "NvidiaNIM",
    "OpenAI",
    "ParamRange",
    "RateLimits",
    "ResponseFormat",
    "RetryPolicy",
    "SSEParser",
    "SizeLimits",
    "StreamAssembler",
    "Timeouts",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "Transport",
    "Usage",
]

from typing import TYPE_CHECKING, Any

from lion.wire.dialects import Dialect, LlamaCpp, NvidiaNIM, OpenAI, ParamRange
from lion.wire.dto import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    ErrorInfo,
    FunctionCall,
    FunctionDef,
    Guided,
    Message,
    ResponseFormat,
    Tool,
    ToolCall,
    ToolChoice,
    Usage,
)
from lion.wire.settings import RateLimits, RetryPolicy, SizeLimits, Timeouts
from lion.wire.sse import SSEParser, StreamAssembler

if TYPE_CHECKING:
    from lion.wire.client import ChatClient, ChatStream
    from lion.wire.transport import Transport

_LAZY = {
    "ChatClient": "lion.wire.client",
    "ChatStream": "lion.wire.client",
    "Transport": "lion.wire.transport",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module `lion.wire` has no attribute `{name}`")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
