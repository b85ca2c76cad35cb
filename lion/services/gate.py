"""The gate: the one place where the runtime turns a call into an effect and asks the IPU.

Every model call is the effect `chat` on `model/<name>`; every tool call is
`<tool.right>` (default `call`) on `tool.resource` (default `tool/<name>`).
The gate builds the `EffectRequest` from the call itself and hands it to
`IPU.execute`, whose `perform` is the only code that reaches a tool or a
model. The policy request is built from the effect by `runtime_request`:
principal `Agent::"<principal>"`, action `Action::"<tool name>"` (one Cedar
action per tool) or `Action::"chat"`, resource `Tool::"<tool name>"` or
`Model::"<model name>"`, context the validated arguments plus the session.

Tool calls never crash the caller: arguments that do not validate, an
unknown tool, a denial and a tool that raises each come back as a
`ToolOutcome` whose `content` is what the model is told. A denial is also an
Observation (the IPU records it); bad arguments never reach the IPU, since
nothing was asked for.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import msgspec

from lion.errors import ToolArgumentError
from lion.kernel.capability import CapabilityToken
from lion.kernel.ipu import IPU, EffectDeferred, EffectDenied, EffectRequest, describe_error
from lion.kernel.ledger import Counters, Reservation
from lion.kernel.observable import Effect, Observation
from lion.kernel.patterns import covers
from lion.services.approvals import Approvals
from lion.services.budget import Meter
from lion.services.context import policy_json
from lion.services.models import Model
from lion.services.provenance import Label, ProvenanceError, ProvenanceIndex, to_context
from lion.wire.dto import ChatCompletion, ChatRequest, ToolCall

__all__ = [
    "CHAT",
    "Caller",
    "Gate",
    "GatedTool",
    "Outcome",
    "ToolOutcome",
    "current_call",
    "model_effect",
    "runtime_request",
    "tool_action",
    "tool_effect",
]

CHAT = "chat"
_TOOL_PREFIX = "tool/"
_MODEL_PREFIX = "model/"


_SERVING: contextvars.ContextVar[ToolCall | None] = contextvars.ContextVar(
    "lion_serving_call", default=None
)


def current_call() -> ToolCall | None:
    """The tool call being performed, inside a tool's function (None elsewhere).

    Two calls with the same tool and arguments are told apart by their id.
    """
    return _SERVING.get()


class GatedTool(Protocol):
    """What the gate needs from a tool (lion.services.tools.Tool fits)."""

    name: str
    resource: str
    right: str

    def validate(self, arguments: str | bytes | Mapping[str, Any]) -> dict[str, Any]: ...

    async def invoke(self, arguments: Mapping[str, Any]) -> Any: ...


@dataclass(frozen=True)
class Caller:
    """Who is calling: the principal (a branch) and the capability tokens it presents."""

    principal: str
    tokens: tuple[str | CapabilityToken, ...] = ()
    session: str = ""
    # the tokens to present per effect, worked out once (a Caller's tokens never change)
    _presenting: dict[Effect, tuple[str | CapabilityToken, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def presenting(self, effect: Effect) -> tuple[str | CapabilityToken, ...]:
        """The tokens that name `effect` (the key that fits the lock), else all of them.

        Only a choice of what to show: the IPU verifies whatever is presented,
        and when nothing here fits it sees every token and says why each fails.
        Trying the fitting token first spares the IPU a failed check per
        other token on every call.
        """
        known = self._presenting.get(effect)
        if known is None:
            known = self._presenting[effect] = self._choose(effect)
        return known

    def _choose(self, effect: Effect) -> tuple[str | CapabilityToken, ...]:
        tokens = [t for t in self.tokens if isinstance(t, CapabilityToken)]
        rights = [t for t in tokens if effect.action in t.capability.rights]
        # exactly this resource first (a branch's own tokens), then any pattern that covers it
        fitting = tuple(t for t in rights if t.capability.resource == effect.resource) or tuple(
            t for t in rights if covers(t.capability.resource, effect.resource)
        )
        return fitting or self.tokens


class Outcome(enum.StrEnum):
    """How a tool call ended."""

    DONE = "done"  # performed, and the tool returned
    FAILED = "failed"  # performed, and the tool raised
    DENIED = "denied"  # the IPU refused it (capability, policy, approver or invariant)
    PENDING = "pending"  # INDETERMINATE, and the decision was deferred (see approvals)
    INVALID = "invalid"  # the arguments do not fit the tool, or there is no such tool


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """The end of one tool call, and what the model is told about it."""

    call: ToolCall
    outcome: Outcome
    content: str
    result: Any = None
    observation: Observation | None = None
    error: BaseException | None = field(default=None, repr=False)
    labels: Mapping[str, Label] = field(default_factory=dict, repr=False)  # the arguments'
    arguments: Mapping[str, Any] = field(default_factory=dict, repr=False)  # validated, as JSON

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.DONE


def tool_effect(tool: GatedTool) -> Effect:
    return Effect(tool.right, tool.resource)


def model_effect(model: Model) -> Effect:
    return Effect(CHAT, f"{_MODEL_PREFIX}{model.name}")


def _entity_name(resource: str, prefix: str) -> str:
    return resource[len(prefix) :] if resource.startswith(prefix) else resource


def tool_action(resource: str) -> str:
    """The Cedar action (and `Tool` id) of a tool call: its resource without `tool/`."""
    return _entity_name(resource, _TOOL_PREFIX)


def runtime_request(request: EffectRequest) -> dict[str, Any]:
    """The Cedar request for an effect, built from the effect alone (plus its context).

    A model call (`chat` on `model/<m>`) is `Action::"chat"` on `Model::"<m>"`;
    anything else is a tool call: `Action::"<tool>"` on `Tool::"<tool>"`, the
    tool's name being its resource without the `tool/` prefix.
    """
    effect = request.effect
    if effect.action == CHAT and effect.resource.startswith(_MODEL_PREFIX):
        action, resource = (
            CHAT,
            {"type": "Model", "id": _entity_name(effect.resource, _MODEL_PREFIX)},
        )
    else:
        name = tool_action(effect.resource)
        action, resource = name, {"type": "Tool", "id": name}
    return {
        "principal": {"type": "Agent", "id": request.principal},
        "action": {"type": "Action", "id": action},
        "resource": resource,
        "context": dict(request.context),
    }


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return msgspec.json.encode(value).decode()
    except (TypeError, msgspec.EncodeError):
        return repr(value)


class Gate:
    """Asks the IPU about every model and tool call, and runs only what it permits.

    With a `meter` (the session's budgets), each call also reserves what it
    may spend, a model call is settled with the usage the server reports,
    and the policy context holds what is left (`context.budget`).
    """

    def __init__(
        self, ipu: IPU, meter: Meter | None = None, approvals: Approvals | None = None
    ) -> None:
        self.ipu = ipu
        self.meter = meter
        self.approvals = approvals  # what pauses a run when a decision is deferred
        # Labelling arguments costs time in proportion to the history, so a gate whose
        # policies never read `context.provenance` skips it (Session keeps this current).
        self.labels_wanted = True

    def _left(
        self, meter: Meter, caller: Caller, hold: Reservation | None = None
    ) -> dict[str, int]:
        """What the caller may still spend, not counting the batch's hold this call draws on."""
        used = self.ipu.projected
        if hold is not None and hold.costs:
            used = Counters({k: v - hold.costs.get(k, 0) for k, v in used.items()})
        return meter.remaining(caller.principal, used)

    def _model_call(
        self, caller: Caller, model: Model, request: ChatRequest
    ) -> tuple[EffectRequest, ChatRequest]:
        """The effect of asking `model` (`chat` on `model/<name>`), and the request to send."""
        costs: dict[str, int] = {}
        context: dict[str, Any] = {"session": caller.session, "messages": len(request.messages)}
        if self.meter is not None:
            left = self._left(
                self.meter, caller
            )  # one reading serves the reservation and the policy
            costs, request = self.meter.model_costs(caller.principal, request, left)
            context["budget"] = left
        effect = model_effect(model)
        effect_request = EffectRequest(
            principal=caller.principal,
            effect=effect,
            tokens=caller.presenting(effect),
            costs=costs,
            context=context,
        )
        return effect_request, request

    def reserve_batch(self, caller: Caller, calls: int) -> Reservation | None:
        """With budgets, hold what `calls` tool calls cost, so a batch runs whole or not at all."""
        if self.meter is None or calls == 0:
            return None
        costs = {k: v * calls for k, v in self.meter.tool_costs(caller.principal).items()}
        return self.ipu.reserve(costs)

    async def call_tool(
        self,
        caller: Caller,
        tool: GatedTool | None,
        call: ToolCall,
        *,
        hold: Reservation | None = None,
        provenance: ProvenanceIndex | None = None,
    ) -> ToolOutcome:
        """Validate, decide, perform: the tool's answer, or why there is none, for the model.

        `hold` is the batch's reservation (`reserve_batch`) the call draws from.
        With `provenance` (the conversation so far), each argument is labelled
        with where its value appears, and the policy sees the labels as
        `context.provenance` (docs/provenance.md).
        """
        name = call.function.name
        if tool is None:
            return ToolOutcome(
                call, Outcome.INVALID, f"error: there is no tool `{name}`; nothing was done"
            )
        try:
            arguments = tool.validate(call.function.arguments or "{}")
        except ToolArgumentError as exc:
            return ToolOutcome(
                call,
                Outcome.INVALID,
                f"error: invalid arguments: {exc}; nothing was done",
                error=exc,
            )
        effect = tool_effect(tool)
        # the policy sees JSON values (enums, Structs, dates as the wire would send them)
        plain = policy_json(msgspec.to_builtins(arguments))
        context: dict[str, Any] = {"arguments": plain, "session": caller.session}
        if self.meter is not None:
            context["budget"] = self._left(self.meter, caller, hold)
        labels: dict[str, Label] = {}
        if provenance is not None:
            try:
                labels = provenance.label(plain)
            except ProvenanceError as exc:  # nothing asked for, so nothing for the IPU to record
                return ToolOutcome(
                    call, Outcome.INVALID, f"error: {exc}; nothing was done", error=exc
                )
            context["provenance"] = to_context(labels)
        request = EffectRequest(
            principal=caller.principal,
            effect=effect,
            tokens=caller.presenting(effect),
            costs=self.meter.tool_costs(caller.principal) if self.meter is not None else {},
            context=context,
            hold=hold,
        )

        async def perform() -> Any:
            serving = _SERVING.set(call)  # so the tool (and a test) can tell which call it runs
            try:
                return await tool.invoke(arguments)
            finally:
                _SERVING.reset(serving)

        try:
            execution = await self.ipu.execute(request, perform)
        except EffectDeferred as exc:
            return ToolOutcome(
                call,
                Outcome.PENDING,
                "pending: this call waits for a person's decision",
                observation=exc.observation,
                error=exc,
                labels=labels,
                arguments=plain,
            )
        except EffectDenied as exc:
            reason = exc.observation.reason
            return ToolOutcome(
                call,
                Outcome.DENIED,
                f"denied: {reason}",
                observation=exc.observation,
                error=exc,
                labels=labels,
            )
        except Exception as exc:  # the tool raised: the model is told, the branch goes on
            recorded = self.ipu.log.for_subject(request.subject)  # the PERMIT, perform failed
            return ToolOutcome(
                call,
                Outcome.FAILED,
                f"error: tool `{name}` failed: {describe_error(exc)}",
                observation=recorded[-1] if recorded else None,
                error=exc,
                labels=labels,
            )
        return ToolOutcome(
            call,
            Outcome.DONE,
            _as_text(execution.result),
            result=execution.result,
            observation=execution.observation,
            labels=labels,
        )

    async def call_model(
        self, caller: Caller, model: Model, request: ChatRequest
    ) -> ChatCompletion:
        """Decide the model call as an effect and, on PERMIT, send it; EffectDenied otherwise."""

        effect_request, request = self._model_call(caller, model, request)

        async def perform() -> ChatCompletion:
            return await model.complete(request)

        meter = self.meter
        if meter is None:
            return (await self.ipu.execute(effect_request, perform)).result

        def spent(completion: ChatCompletion) -> Mapping[str, int]:
            return meter.model_spent(caller.principal, request, completion)

        return (await self.ipu.execute(effect_request, perform, spent=spent)).result

    @contextlib.asynccontextmanager
    async def stream_model(
        self, caller: Caller, model: Model, request: ChatRequest
    ) -> AsyncIterator[AsyncIterator[str]]:
        """Decide the model call, then stream its text: ``async with gate.stream_model(...) as s``.

        The whole stream is the effect's `perform`: the Observation is
        recorded when the stream ends (or fails, or the reader stops early).
        A denial raises EffectDenied when the block is entered, before any
        text; nothing is sent to the model.
        """
        effect_request, request = self._model_call(caller, model, request)
        # no usage is reported for a stream: the whole reservation is charged
        # no buffer: perform (and so the effect) ends only once the reader has every piece
        send, receive = anyio.create_memory_object_stream[str](max_buffer_size=0)
        started = anyio.Event()
        outcome: list[BaseException] = []

        async def perform() -> None:
            started.set()
            async with send:
                async for piece in model.stream(request):
                    await send.send(piece)

        async def run() -> None:
            try:
                await self.ipu.execute(effect_request, perform)
            except BaseException as exc:  # handed to the reader below
                outcome.append(exc)
                send.close()
            finally:
                started.set()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                await started.wait()
                if outcome and isinstance(outcome[0], EffectDenied):
                    raise outcome[0]
                async with receive:
                    yield receive
        except BaseExceptionGroup as group:  # one error, the reader's or ours: raise it as is
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        if outcome and not isinstance(outcome[0], anyio.BrokenResourceError):
            raise outcome[0]
