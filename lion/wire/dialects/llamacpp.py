"""llama.cpp's server (and llama-cpp-python's), with its quirks smoothed over.

What it does differently from the OpenAI API, and what this dialect does:

* an assistant turn with ``tool_calls`` needs ``content: ""``, not null: set it;
* ``tool_choice: "required"`` gives a 500: with one tool, name that tool; with
  several, refuse before sending;
* a ``json_schema`` response format is refused, but ``{"type": "json_object",
  "schema": ...}`` works: rewrite it; ``guided.json`` becomes the same, and
  ``guided.grammar`` (GBNF) and ``guided.choice`` become a ``grammar``;
* in streamed tool calls ``id`` and ``name`` repeat in every delta: the stream
  assembler sets them once, for every dialect;
* it answers one request at a time: ``max_concurrency`` is 1;
* it reports a request that fails validation as a 500 (``N validation
  error(s)``): that is a :class:`~lion.errors.BadRequestError`, not retried.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from lion.errors import BadRequestError
from lion.wire.dialects._base import Dialect
from lion.wire.dto import ChatRequest, ErrorInfo, Guided

_VALIDATION = re.compile(r"^\d+ validation errors?:")


def _gbnf_literal(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def choice_grammar(choices: list[str]) -> str:
    """A GBNF grammar whose only sentences are ``choices``."""
    if not choices:
        raise BadRequestError("`guided.choice` needs at least one choice")
    return "root ::= " + " | ".join(_gbnf_literal(c) for c in choices)


class LlamaCpp(Dialect):
    """llama.cpp's OpenAI-compatible server at ``base_url`` (e.g. ``http://127.0.0.1:8080/v1``)."""

    name: ClassVar[str] = "llama.cpp"
    max_concurrency: int | None = 1

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        stream_usage: bool = True,
        max_concurrency: int | None = 1,
    ) -> None:
        super().__init__(base_url, api_key, headers=headers, stream_usage=stream_usage)
        self.max_concurrency = max_concurrency

    def is_client_error(self, info: ErrorInfo) -> bool:
        return (info.status or 0) >= 500 and _VALIDATION.search(info.message) is not None

    def adapt(self, body: dict[str, Any], request: ChatRequest) -> None:
        for message in body["messages"]:
            if message.get("tool_calls") and message.get("content") is None:
                message["content"] = ""
        if body.get("tool_choice") == "required":
            tools = body.get("tools") or []
            if len(tools) != 1:
                raise BadRequestError(
                    f"the `{self.name}` server cannot force a call among {len(tools)} tools: "
                    "name one with `ToolChoice.named(...)`"
                )
            body["tool_choice"] = {
                "type": "function",
                "function": {"name": tools[0]["function"]["name"]},
            }
        fmt = body.get("response_format")
        if fmt is not None and fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema")
            body["response_format"] = {"type": "json_object", "schema": schema}

    def place_guided(self, body: dict[str, Any], guided: Guided) -> None:
        kind = guided.kind()
        if kind == "json":
            body["response_format"] = {"type": "json_object", "schema": guided.json}
        elif kind == "grammar":
            body["grammar"] = guided.grammar
        elif kind == "choice":
            body["grammar"] = choice_grammar(guided.choice or [])
        else:
            raise BadRequestError(f"the `{self.name}` dialect has no `guided_{kind}`")
