"""Every public error LION raises, in one tree.

::

    LionError
    ├── SpecError                 a .lion spec is malformed (syntax, names, types)
    │   └── SpecEvaluationError   evaluating a spec went wrong (a value left its declared range)
    ├── VerifyError               lion-verify could not run a check (not "the check failed")
    ├── KernelError               the kernel refused or could not do something
    │   ├── CapabilityError       a token is forged, tampered, truncated, expired or revoked
    │   │   └── RevocationStoreError  the revocation store could not be read or written
    │   ├── PolicyError           a policy, entity set or request is malformed
    │   │   └── SchemaError       a Cedar schema is malformed (syntax, names, types)
    │   ├── ActorError            mailbox full, actor stopped, runner misuse
    │   │   ├── MailboxFullError      a mailbox refused a message (REFUSE, or WAIT timed out)
    │   │   ├── ActorStoppedError     the actor or runner stopped before taking the message
    │   │   ├── AskTimeoutError       an ask got no reply within its timeout
    │   │   └── DeadlockError         waiting would close a cycle of actors waiting on each other
    │   ├── InvariantViolation    the IPU refused a step that would break an invariant
    │   └── BackendError          the requested kernel backend is unavailable
    ├── AnalysisError             policy analysis cannot encode a construct exactly
    │   └── AnalysisInternalError a counterexample did not replay as claimed (the encoding broke)
    ├── DomainError               Element/Pile/Progression/Event/FieldModel misuse
    │   ├── ItemNotFoundError
    │   ├── ItemExistsError
    │   ├── DeserializationError  malformed serialized data
    │   └── ReplyValidationError  a model reply does not fit its structured-output type
    ├── ServiceError              the runtime (Session, Branch, models) refused or could not act
    │   ├── ModelRequestRefused   real model requests are switched off (tests, offline runs)
    │   ├── ScriptError           a ScriptedModel has no reply left, or one it cannot give
    │   ├── GraphError            an operation graph is malformed (unknown or duplicate operation)
    │   │   └── GraphCycleError   a dependency would close a cycle; the cycle is named
    │   └── MCPError              talking to an MCP server failed
    │       ├── MCPConnectionError    no connection, it dropped, or no answer in time
    │       └── MCPToolError          the server answered a tool call with an error
    ├── ToolError                 a tool is defined wrongly, or a call to one does not fit
    │   ├── ToolDefinitionError   a function cannot be a tool (name, hints, *args), or a duplicate
    │   ├── ToolArgumentError     a tool call's arguments are malformed or do not fit its schema
    │   └── UnknownToolError      no tool by that name is registered
    └── WireError                 talking to a model server failed
        ├── APIError              the server answered with an error status
        │   ├── AuthenticationError   401, 403
        │   ├── BadRequestError       400, 404, 409, 422 and other client errors
        │   ├── RateLimitError        429 (quota or rate)
        │   └── ServerError           5xx
        ├── TimeoutError          connect, read or total timeout
        ├── ConnectionError       could not connect, or the connection dropped
        └── ProtocolError         the server's bytes are not what the protocol says

Messages are lowercase, without a trailing period, and quote the user's input
in backticks. Errors that point into a source file carry its location.
"""

from __future__ import annotations

__all__ = [
    "APIError",
    "ActorError",
    "ActorStoppedError",
    "AnalysisError",
    "AnalysisInternalError",
    "AskTimeoutError",
    "AuthenticationError",
    "BackendError",
    "BadRequestError",
    "CapabilityError",
    "ConnectionError",
    "DeadlockError",
    "DeserializationError",
    "DomainError",
    "GraphCycleError",
    "GraphError",
    "InvariantViolation",
    "ItemExistsError",
    "ItemNotFoundError",
    "KernelError",
    "LionError",
    "MCPConnectionError",
    "MCPError",
    "MCPToolError",
    "MailboxFullError",
    "ModelRequestRefused",
    "PolicyError",
    "ProtocolError",
    "RateLimitError",
    "ReplyValidationError",
    "RevocationStoreError",
    "SchemaError",
    "ScriptError",
    "ServerError",
    "ServiceError",
    "SourceLocation",
    "SpecError",
    "SpecEvaluationError",
    "TimeoutError",
    "ToolArgumentError",
    "ToolDefinitionError",
    "ToolError",
    "UnknownToolError",
    "VerifyError",
    "WireError",
]

from dataclasses import dataclass


class LionError(Exception):
    """Root of every error LION raises on purpose."""


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """A point in a source file: 1-based line and column."""

    path: str
    line: int
    column: int
    source_line: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"

    def caret(self) -> str:
        """The source line with a caret under the column, or '' if unknown."""
        if not self.source_line:
            return ""
        pad = "".join("\t" if ch == "\t" else " " for ch in self.source_line[: self.column - 1])
        return f"{self.source_line}\n{pad}^"


class _Located(LionError):
    """An error that may point at a place in a source file."""

    def __init__(self, message: str, location: SourceLocation | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(self.render())

    def render(self) -> str:
        if self.location is None:
            return self.message
        text = f"{self.location}: {self.message}"
        caret = self.location.caret()
        return f"{text}\n{caret}" if caret else text


class SpecError(_Located):
    """A spec file is malformed: a syntax, name or type error."""


class SpecEvaluationError(SpecError):
    """Evaluating a spec on concrete values failed, e.g. a value left its declared range."""


class VerifyError(LionError):
    """lion-verify could not carry out a check (bad configuration, missing bind)."""


class KernelError(LionError):
    """The kernel refused a request or could not carry it out."""


class CapabilityError(KernelError):
    """A capability token is not valid: forged, tampered, truncated, expired or revoked."""


class RevocationStoreError(CapabilityError):
    """The revocation store could not be opened, read or written (verification fails closed)."""


class PolicyError(_Located, KernelError):
    """A policy, entity set or request is malformed."""


class SchemaError(PolicyError):
    """A Cedar schema is malformed: a syntax error, an unknown name, a bad type."""


class ActorError(KernelError):
    """An actor or the runner was misused, or a mailbox refused a message."""


class MailboxFullError(ActorError):
    """A bounded mailbox refused a message: full under REFUSE, or still full after WAIT."""


class ActorStoppedError(ActorError):
    """The actor (or its runner) stopped before the message was taken or answered."""


class AskTimeoutError(ActorError):
    """An ask got no reply within its timeout (the message, once accepted, stays accepted)."""


class DeadlockError(ActorError):
    """Waiting would close a cycle of actors each waiting on the next, so it was refused."""


class InvariantViolation(KernelError):
    """The IPU refused a step because it would break a registered invariant."""


class BackendError(KernelError):
    """The requested kernel backend is not available."""


class AnalysisError(LionError):
    """Policy analysis cannot answer exactly: a construct it does not encode (named, with
    its location), or an input it cannot read."""


class AnalysisInternalError(AnalysisError):
    """A counterexample from the encoding did not replay as claimed through a backend:
    the encoding is wrong, and the analysis refuses to answer."""


class DomainError(LionError):
    """Misuse of a domain structure (Element, Pile, Progression, Event, FieldModel)."""


class ItemNotFoundError(DomainError, KeyError):
    """The item is not in the collection."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ItemExistsError(DomainError):
    """The item is already in a collection that does not allow duplicates."""


class DeserializationError(DomainError):
    """Serialized data is malformed or does not describe the expected type."""


class ReplyValidationError(DomainError):
    """A model's reply does not fit the structured-output type asked for."""


class ServiceError(LionError):
    """The runtime (Session, Branch, models) refused or could not do something."""


class ModelRequestRefused(ServiceError):
    """Real model requests are off (``LION_ALLOW_MODEL_REQUESTS=0``, ``refuse_model_requests``)."""


class ScriptError(ServiceError):
    """A ScriptedModel ran out of replies, or holds a reply it cannot give."""


class GraphError(ServiceError):
    """An operation graph is malformed: an unknown or duplicate operation, a bad argument."""


class GraphCycleError(GraphError):
    """A dependency would close a cycle; ``cycle`` lists it, first operation repeated last."""

    def __init__(self, message: str, *, cycle: tuple[str, ...] = ()) -> None:
        self.cycle = cycle
        super().__init__(message)


class MCPError(ServiceError):
    """Talking to an MCP server failed; `server` names it, `tool` the tool called (if any)."""

    def __init__(self, message: str, *, server: str, tool: str | None = None) -> None:
        self.server = server
        self.tool = tool
        super().__init__(message)


class MCPConnectionError(MCPError):
    """No connection to the MCP server, it dropped, or no answer came in time."""


class MCPToolError(MCPError):
    """The MCP server answered a tool call with an error (the tool failed or refused)."""


class ToolError(LionError):
    """A tool is defined wrongly, or a call to a tool does not fit it."""


class ToolDefinitionError(ToolError):
    """A function cannot become a tool (bad name, a parameter without a type hint,
    ``*args``), or a registry already has a tool by that name."""


class ToolArgumentError(ToolError):
    """A tool call's arguments are malformed JSON, too long, or do not fit the tool's schema.

    ``tool`` is the tool's name and ``path`` the argument path (``$.field``, or
    ``$`` for the arguments as a whole).
    """

    def __init__(self, message: str, *, tool: str = "", path: str = "$") -> None:
        self.tool = tool
        self.path = path
        super().__init__(message)


class UnknownToolError(ToolError, KeyError):
    """No tool by that name is registered (a KeyError, so mappings behave)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class WireError(LionError):
    """Talking to a model server failed."""


class APIError(WireError):
    """The server answered with an error status.

    ``status`` is the HTTP status, ``message`` the provider's own message and
    ``request_id`` the server's request id when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        code: str | None = None,
        body: object = None,
    ) -> None:
        self.message = message
        self.status = status
        self.request_id = request_id
        self.code = code
        self.body = body
        where = f"status {status}" if status is not None else "error"
        rid = f" (request id {request_id})" if request_id else ""
        super().__init__(f"{where}: {message}{rid}")


class AuthenticationError(APIError):
    """401 or 403: the API key is missing, wrong or lacks permission."""


class BadRequestError(APIError):
    """A client error other than auth and rate limits: 400, 404, 409, 422, ..."""


class RateLimitError(APIError):
    """429: too many requests or tokens, or the quota is exhausted."""


class ServerError(APIError):
    """5xx: the server failed."""


class TimeoutError(WireError):
    """A connect, read or total timeout expired."""


class ConnectionError(WireError):
    """The connection could not be made or was dropped."""


class ProtocolError(WireError):
    """The server sent something the protocol does not allow (bad JSON, bad SSE, cut stream)."""
