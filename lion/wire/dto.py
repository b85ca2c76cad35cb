"""Chat-completion data on the wire, as msgspec structs.

One canonical request (:class:`ChatRequest`) that every dialect adapts, and the
response shapes every OpenAI-compatible server answers with
(:class:`ChatCompletion`, :class:`ChatCompletionChunk`). Decoding ignores
fields it does not know, so a server that adds fields does not break us; most
response fields have defaults, so a server that leaves one out does not either.

Request structs use ``omit_defaults``: a field left at ``None`` is not sent.
Structs whose ``type`` tag must always be sent (:class:`Tool`,
:class:`ToolCall`, :class:`ToolChoice`) do not.
"""

from __future__ import annotations

__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatRequest",
    "Choice",
    "ChunkChoice",
    "Delta",
    "ErrorInfo",
    "FunctionCall",
    "FunctionCallDelta",
    "FunctionDef",
    "Guided",
    "JsonSchema",
    "Message",
    "ResponseFormat",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolChoiceFunction",
    "Usage",
]

from typing import Any

import msgspec

from lion.errors import BadRequestError

# --------------------------------------------------------------------------- tools


class FunctionDef(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A function the model may call: its name, what it does, its JSON-schema parameters."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(msgspec.Struct, kw_only=True):
    """A tool offered to the model (only ``type="function"`` exists today)."""

    function: FunctionDef
    type: str = "function"

    @classmethod
    def of(
        cls, name: str, parameters: dict[str, Any] | None = None, description: str | None = None
    ) -> Tool:
        """A function tool from its name, parameter schema and description."""
        return cls(function=FunctionDef(name=name, description=description, parameters=parameters))


class FunctionCall(msgspec.Struct, kw_only=True):
    """A call the model made: the function's name and its arguments as a JSON string."""

    name: str
    arguments: str = ""


class ToolCall(msgspec.Struct, kw_only=True):
    """One tool call in an assistant message."""

    id: str
    function: FunctionCall
    type: str = "function"


class ToolChoiceFunction(msgspec.Struct, kw_only=True):
    name: str


class ToolChoice(msgspec.Struct, kw_only=True):
    """A named tool choice: the model must call this function."""

    function: ToolChoiceFunction
    type: str = "function"

    @classmethod
    def named(cls, name: str) -> ToolChoice:
        return cls(function=ToolChoiceFunction(name=name))


# ------------------------------------------------------------------------ messages


class Message(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A chat message, in a request or in a response.

    ``content`` is a string, a list of content parts (``{"type": "text", ...}``,
    ``{"type": "image_url", ...}``) or ``None`` (an assistant turn that only calls
    tools). ``reasoning_content`` is what reasoning models put beside the answer.
    """

    role: str
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None
    refusal: str | None = None

    @classmethod
    def system(cls, content: str) -> Message:
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str | list[dict[str, Any]]) -> Message:
        return cls(role="user", content=content)

    @classmethod
    def assistant(
        cls, content: str | None = None, tool_calls: list[ToolCall] | None = None
    ) -> Message:
        return cls(role="assistant", content=content, tool_calls=tool_calls)

    @classmethod
    def tool(cls, tool_call_id: str, content: str) -> Message:
        """The result of a tool call, sent back to the model."""
        return cls(role="tool", tool_call_id=tool_call_id, content=content)


# ------------------------------------------------------------- structured output


class JsonSchema(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``response_format.json_schema``: a named JSON schema the reply must satisfy."""

    name: str
    schema: dict[str, Any]
    description: str | None = None
    strict: bool | None = None


class ResponseFormat(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``response_format``: ``text``, ``json_object`` or ``json_schema``."""

    type: str
    json_schema: JsonSchema | None = None

    @classmethod
    def json_object(cls) -> ResponseFormat:
        return cls(type="json_object")

    @classmethod
    def schema(
        cls, name: str, schema: dict[str, Any], *, strict: bool | None = None
    ) -> ResponseFormat:
        """A ``json_schema`` response format."""
        return cls(
            type="json_schema", json_schema=JsonSchema(name=name, schema=schema, strict=strict)
        )


class Guided(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Constrained decoding in NIM's (vLLM's) terms: set exactly one of the four.

    Dialects place these where their server reads them (NIM: under ``nvext`` or at
    the top level; llama.cpp: a JSON schema or a GBNF grammar) or refuse them.
    """

    json: dict[str, Any] | None = None
    regex: str | None = None
    choice: list[str] | None = None
    grammar: str | None = None
    backend: str | None = None  # NIM's guided_decoding_backend, e.g. "xgrammar"

    def kind(self) -> str:
        """Which constraint is set (``json``, ``regex``, ``choice`` or ``grammar``)."""
        set_ = [k for k in ("json", "regex", "choice", "grammar") if getattr(self, k) is not None]
        if len(set_) != 1:
            raise BadRequestError(f"set exactly one guided constraint, got {set_ or 'none'}")
        return set_[0]


# ------------------------------------------------------------------------- request


class ChatRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The canonical chat-completion request that every dialect adapts.

    ``guided`` is canonical-only (dialects translate it); ``extra_body`` is
    merged into the body at the top level as the escape hatch for anything
    else a server accepts. ``stream`` is not here: the client sets it.
    """

    model: str
    messages: list[Message]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    tools: list[Tool] | None = None
    tool_choice: str | ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    user: str | None = None
    guided: Guided | None = None
    extra_body: dict[str, Any] | None = None


# ------------------------------------------------------------------------ response


#: The most tokens one reported count may claim; a larger report is cut to this.
MAX_REPORTED_TOKENS = 100_000_000


class Usage(msgspec.Struct, kw_only=True):
    """Token counts the server reports, each clamped to ``[0, MAX_REPORTED_TOKENS]``.

    Budgets and rate limits are settled with these numbers, so a server that
    reports ``10**15`` (or a negative count, to be given tokens back) is not believed.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __post_init__(self) -> None:
        for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
            value = getattr(self, name)
            if not 0 <= value <= MAX_REPORTED_TOKENS:
                setattr(self, name, min(max(value, 0), MAX_REPORTED_TOKENS))


class Choice(msgspec.Struct, kw_only=True):
    message: Message
    index: int = 0
    finish_reason: str | None = None
    logprobs: Any = None


class ChatCompletion(msgspec.Struct, kw_only=True):
    """A whole chat-completion response."""

    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[Choice] = msgspec.field(default_factory=list)
    usage: Usage | None = None
    system_fingerprint: str | None = None

    @property
    def message(self) -> Message:
        """The first choice's message (servers send one unless ``n > 1``)."""
        if not self.choices:
            raise IndexError("the response has no choices")
        return self.choices[0].message

    @property
    def content(self) -> str | None:
        """The first choice's text, or None when it only calls tools."""
        content = self.message.content
        if isinstance(content, list):  # content parts: join their text
            return "".join(str(p.get("text", "")) for p in content)
        return content

    @property
    def tool_calls(self) -> list[ToolCall]:
        return self.message.tool_calls or []

    @property
    def finish_reason(self) -> str | None:
        return self.choices[0].finish_reason if self.choices else None


# -------------------------------------------------------------------------- stream


class FunctionCallDelta(msgspec.Struct, kw_only=True):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(msgspec.Struct, kw_only=True):
    """A piece of a tool call in a stream; pieces with the same ``index`` belong together."""

    index: int = 0
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None


class Delta(msgspec.Struct, kw_only=True):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(msgspec.Struct, kw_only=True):
    delta: Delta = msgspec.field(default_factory=Delta)
    index: int = 0
    finish_reason: str | None = None
    logprobs: Any = None


class ChatCompletionChunk(msgspec.Struct, kw_only=True):
    """One ``data:`` event of a streamed completion.

    The usage chunk (``stream_options.include_usage``) has no choices and a
    ``usage``. ``error`` is set when a server reports an error inside the stream.
    """

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChunkChoice] = msgspec.field(default_factory=list)
    usage: Usage | None = None
    system_fingerprint: str | None = None
    error: Any = None


# -------------------------------------------------------------------------- errors


class ErrorInfo(msgspec.Struct, kw_only=True, frozen=True):
    """An error body, normalised from any of the shapes servers send.

    The shapes: OpenAI's and NIM's ``{"error": {"message", "type", "code", "param"}}``
    (``error`` may also be a bare string); NIM's flat
    ``{"object": "error", "message", "type", "code"}``; the hosted NVIDIA
    gateway's ``{"status", "title", "detail"}``; FastAPI's ``{"detail": ...}``.
    """

    message: str
    type: str | None = None
    code: str | None = None
    param: str | None = None
    status: int | None = None

    @property
    def is_quota(self) -> bool:
        """The account is out of quota: a 429 that no retry can fix."""
        return "insufficient_quota" in (self.code, self.type)
