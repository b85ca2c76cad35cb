"""A branch's messages: typed Elements that round-trip to JSON and turn into wire messages.

`System`, `Instruction`, `AssistantResponse`, `ActionRequest` and
`ActionResponse` are the v0 message kinds. Each is an `Element` (an id, a
creation time, JSON and MessagePack round trips through `Element.from_json`)
and knows the chat `Message` it becomes on the wire.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from lion.domain import Element
from lion.services.provenance import Source
from lion.wire.dto import Message, ToolCall

__all__ = [
    "ActionRequest",
    "ActionResponse",
    "AssistantResponse",
    "Instruction",
    "RoledMessage",
    "System",
    "source_of",
    "to_wire",
]


class RoledMessage(Element, kw_only=True):
    """A message of a conversation; `content` is its text."""

    role: ClassVar[str] = ""
    content: str = ""

    def to_wire(self) -> Message:
        """The chat message a model server receives for this one."""
        return Message(role=self.role, content=self.content)


class System(RoledMessage, kw_only=True):
    """The system prompt."""

    role: ClassVar[str] = "system"


class Instruction(RoledMessage, kw_only=True):
    """What the user (or the host) asks."""

    role: ClassVar[str] = "user"


class AssistantResponse(RoledMessage, kw_only=True):
    """What the model answered: text, and the tool calls it asked for."""

    role: ClassVar[str] = "assistant"
    tool_calls: list[ToolCall] = msgspec.field(default_factory=list)

    def to_wire(self) -> Message:
        # llama.cpp's server wants "" (not null) beside tool calls
        return Message(role="assistant", content=self.content, tool_calls=self.tool_calls or None)


class ActionRequest(RoledMessage, kw_only=True):
    """One tool call the model asked for (kept as its own message for the record)."""

    role: ClassVar[str] = "assistant"
    call_id: str = ""
    function: str = ""
    arguments: str = ""


class ActionResponse(RoledMessage, kw_only=True):
    """What a tool call came to: its output, or why there is none (`outcome`).

    `trusted` says whether the output is trusted content for provenance: the
    tool is declared trusted and no argument that produced it was untrusted.
    """

    role: ClassVar[str] = "tool"
    call_id: str = ""
    function: str = ""
    outcome: str = ""
    trusted: bool = False

    def to_wire(self) -> Message:
        return Message(role="tool", content=self.content, tool_call_id=self.call_id)


def to_wire(messages: Any) -> list[Message]:
    """The wire messages of a conversation (ActionRequests travel in their AssistantResponse)."""
    return [m.to_wire() for m in messages if not isinstance(m, ActionRequest)]


def source_of(message: RoledMessage) -> Source | None:
    """Where a message's content came from, for provenance (None: it vouches for nothing).

    The system prompt and instructions are trusted; a tool's output is its
    tool's (trusted only as `ActionResponse.trusted` says); a denial or an
    invalid call is the runtime's own text, and the model's words are no source.
    """
    if isinstance(message, System):
        return Source.system(message.content)
    if isinstance(message, Instruction):
        return Source.user(message.content)
    if isinstance(message, ActionResponse) and message.outcome in ("done", "failed"):
        content = _structured(message.content) if message.outcome == "done" else message.content
        return Source.tool(message.function or "?", content, trust=message.trusted)
    return None


def _structured(content: str) -> Any:
    """A tool's result as its structure again when the gate wrote it as JSON, so its fields
    count as whole values for provenance; otherwise the text."""
    if content[:1] in ("{", "["):
        try:
            return msgspec.json.decode(content)
        except msgspec.DecodeError:
            pass
    return content
