"""A Branch: one conversation with a model, whose every call passes the session's gate.

A branch holds its messages (a `Pile` of typed messages), its tools, its
principal name and the capability tokens its session granted it. It never
reaches a model or a tool except through `Gate`: the model call is the effect
`chat` on `model/<name>`, each tool call `call` on `tool/<name>`, decided by
the IPU with the branch as principal.

The v0 operations, so far: `chat` (one exchange, not kept), `communicate`
(kept in the history), `act` (run given tool calls) and `operate` (the model
may call tools, for a bounded number of rounds; the host, never the model,
chooses whether calls run one after another or concurrently).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import anyio
import msgspec

from lion.domain import FieldModel, OperableModel, Pile
from lion.domain.operable_model import json_schema
from lion.domain.reply import parse_reply
from lion.errors import LionError, ReplyValidationError, ServiceError
from lion.kernel.capability import CapabilityToken
from lion.kernel.ipu import EffectDenied
from lion.services.approvals import Pending, RunPaused, arguments_hash
from lion.services.gate import Caller, Gate, Outcome, ToolOutcome
from lion.services.messages import (
    ActionRequest,
    ActionResponse,
    AssistantResponse,
    Instruction,
    RoledMessage,
    System,
    source_of,
    to_wire,
)
from lion.services.models import Model
from lion.services.provenance import (
    Label,
    ProvenanceError,
    ProvenanceIndex,
    result_trusted,
    to_context,
)
from lion.services.tools import ToolLike, ToolRegistry
from lion.wire.dto import ChatRequest, ResponseFormat, ToolCall, ToolChoice

if TYPE_CHECKING:
    from lion.wire.dto import ChatCompletion

__all__ = ["Branch"]

T = TypeVar("T")
_REACT = "Think step by step. Use the tools when they help; when you know enough, give the answer."
REACT_EXTEND = "Look at the tool results. Call tools again if you need more; otherwise answer."
_FINISH = "No more tool calls: give your final answer now."
Strategy = Literal["sequential", "concurrent"]
#: ChatRequest fields a branch may set for all its requests (sampling and length).
OPTIONS = frozenset(
    {"temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty", "frequency_penalty"}
)
OnDeny = Literal["tell", "raise"]
Operation = Literal["operate", "ReAct"]
#: What `response_format` takes: a type msgspec decodes, an OperableModel, or FieldModels.
ResponseType = type[Any] | OperableModel | Sequence[FieldModel]


class Branch:
    """A conversation whose model and tool calls all pass the gate.

    Made by `Session.new_branch`, which mints its tokens; `gate` and `model`
    come from the session. `on_deny="raise"` makes a denied tool call raise
    `EffectDenied` instead of telling the model.
    """

    def __init__(
        self,
        name: str,
        *,
        gate: Gate,
        model: Model,
        tools: Sequence[ToolLike] = (),
        tokens: Sequence[str | CapabilityToken] = (),
        system: str | None = None,
        session: str = "",
        on_deny: OnDeny = "tell",
        options: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ServiceError(f"branch name must be a non-empty str, got `{name!r}`")
        if on_deny not in ("tell", "raise"):
            raise ServiceError(f"on_deny must be `tell` or `raise`, got `{on_deny!r}`")
        self.name = name
        self.gate = gate
        self.model = model
        self.tools = ToolRegistry(tools)
        self.tokens: tuple[str | CapabilityToken, ...] = tuple(tokens)
        self._caller: Caller | None = None
        self.session = session
        self.on_deny: OnDeny = on_deny
        self.options = _checked_options(options or {})
        self.messages: Pile[RoledMessage] = Pile(item_type=RoledMessage)
        self._index = ProvenanceIndex()
        self._indexed: tuple[Pile[RoledMessage] | None, int] = (None, 0)  # which pile, how far
        if system is not None:
            self.messages.include(System(content=system))

    @property
    def provenance(self) -> ProvenanceIndex:
        """The history as provenance sources, indexed up to the last message."""
        pile, done = self._indexed
        history = list(self.messages)
        if pile is not self.messages or done > len(history):  # replaced or cut: start again
            self._index, done = ProvenanceIndex(), 0
        for message in history[done:]:
            source = source_of(message)
            if source is not None:
                self._index.add(source)
        self._indexed = (self.messages, len(history))
        return self._index

    @property
    def caller(self) -> Caller:
        """Who this branch is to the gate; made again only when its tokens change."""
        cached = self._caller
        if cached is None or cached.tokens is not self.tokens or cached.session != self.session:
            cached = self._caller = Caller(self.name, self.tokens, session=self.session)
        return cached

    def __repr__(self) -> str:
        return f"Branch({self.name!r}, {len(self.messages)} messages, {len(self.tools)} tools)"

    # --- one model call ----------------------------------------------------------------------

    def _request(
        self,
        history: Sequence[RoledMessage],
        *,
        tools: bool = False,
        tool_choice: str | ToolChoice | None = None,
        response_format: ResponseFormat | None = None,
    ) -> ChatRequest:
        offered = tools and len(self.tools) > 0
        return ChatRequest(
            model=self.model.name,
            messages=to_wire(history),
            tools=self.tools.to_wire() if offered else None,
            tool_choice=tool_choice if offered else None,
            response_format=response_format,
            **self.options,
        )

    async def _complete(
        self,
        history: Sequence[RoledMessage],
        *,
        tools: bool,
        tool_choice: str | ToolChoice | None = None,
        response_format: ResponseFormat | None = None,
    ) -> AssistantResponse:
        request = self._request(
            history, tools=tools, tool_choice=tool_choice, response_format=response_format
        )
        completion: ChatCompletion = await self.gate.call_model(self.caller, self.model, request)
        if not completion.choices:
            raise ServiceError(f"model `{self.model.name}` answered with no choices")
        message = completion.choices[0].message
        text = message.content if isinstance(message.content, str) else ""
        return AssistantResponse(content=text or "", tool_calls=list(message.tool_calls or []))

    async def chat(self, instruction: str) -> str:
        """Ask once, with the history as context; neither question nor answer is kept."""
        answer = await self._complete(
            [*self.messages, Instruction(content=instruction)], tools=False
        )
        return answer.content

    @contextlib.asynccontextmanager
    async def stream_chat(self, instruction: str) -> AsyncIterator[AsyncIterator[str]]:
        """`chat`, with the answer's text arriving piece by piece; nothing is kept.

        ``async with branch.stream_chat("Hi") as pieces: async for text in pieces: ...``.
        The model call is one gated effect, recorded when the stream ends.
        """
        request = self._request([*self.messages, Instruction(content=instruction)])
        async with self.gate.stream_model(self.caller, self.model, request) as pieces:
            yield pieces

    @overload
    async def communicate(self, instruction: str) -> str: ...
    @overload
    async def communicate(
        self, instruction: str, *, response_format: type[T], parse_retries: int = 2
    ) -> T: ...
    @overload
    async def communicate(
        self,
        instruction: str,
        *,
        response_format: OperableModel | Sequence[FieldModel],
        parse_retries: int = 2,
    ) -> Any: ...
    async def communicate(
        self,
        instruction: str,
        *,
        response_format: ResponseType | None = None,
        parse_retries: int = 2,
    ) -> Any:
        """Ask and keep the exchange in the history; with `response_format`, a parsed value.

        `response_format` is a type msgspec can decode (a Struct, a dataclass,
        ...), an OperableModel (its `new_model()`), or FieldModels (the fields
        of one record). Its JSON schema goes to the server; the
        answer is parsed tolerantly (`lion.domain.parse_reply`) and, if it does
        not fit, the model is told why and asked again, at most `parse_retries`
        more times (each a gated model call), before ReplyValidationError.
        """
        if response_format is None:
            asked = Instruction(content=instruction)
            answer = await self._complete([*self.messages, asked], tools=False)
            self.messages.include(asked)
            self.messages.include(answer)
            return answer.content
        _check_count(parse_retries, "parse_retries")
        self.messages.include(Instruction(content=instruction))
        return await self._parsed(response_format, parse_retries)

    async def _parsed(self, response_format: ResponseType, parse_retries: int) -> Any:
        """Ask for an answer in `response_format` until it parses, at most `parse_retries` again.

        Each attempt is a gated model call without tools, kept in the history;
        a reply that does not fit is answered with why, so the model can mend it.
        """
        target = _reply_type(response_format)
        name = getattr(target, "__name__", "Reply")
        schema = ResponseFormat.schema(name, json_schema(target))
        for attempt in range(parse_retries + 1):
            answer = await self._complete(list(self.messages), tools=False, response_format=schema)
            self.messages.include(answer)
            try:
                return parse_reply(answer.content, target).value
            except ReplyValidationError as exc:
                if attempt == parse_retries:
                    raise
                self.messages.include(
                    Instruction(
                        content=f"Your reply does not fit the required format: {exc}. "
                        "Answer again with only the JSON object."
                    )
                )
        raise AssertionError("unreachable")  # pragma: no cover

    # --- tools -------------------------------------------------------------------------------

    async def act(
        self, calls: Sequence[ToolCall], *, strategy: Strategy = "sequential"
    ) -> list[ToolOutcome]:
        """Run tool calls through the gate, in order or concurrently; record each outcome.

        A call whose decision is deferred (`Outcome.PENDING`: INDETERMINATE and
        no approver) is recorded as asked for, without a result yet;
        `operate` and `ReAct` then stop with `RunPaused`.
        """
        return await self._act(calls, strategy)

    async def _act(
        self,
        calls: Sequence[ToolCall],
        strategy: Strategy,
        *,
        told: Mapping[str, str] | None = None,
        asked: bool = True,
    ) -> list[ToolOutcome]:
        """`act`; `told` adds a note to the result of some calls (by id), and with
        `asked=False` the calls' ActionRequests are already in the history (a resumed run)."""
        _check_strategy(strategy)
        outcomes: list[ToolOutcome | None] = [None] * len(calls)
        caller = self.caller
        # concurrent calls are one batch: with budgets, reserved whole or refused whole
        hold = self.gate.reserve_batch(caller, len(calls)) if strategy == "concurrent" else None

        # the batch is labelled against the history before it, if any policy reads labels
        provenance = self.provenance if self.gate.labels_wanted else None

        async def one(i: int, call: ToolCall) -> None:
            tool = self.tools.get(call.function.name)
            outcomes[i] = await self.gate.call_tool(
                caller, tool, call, hold=hold, provenance=provenance
            )

        if strategy == "sequential":
            for i, call in enumerate(calls):
                await one(i, call)
        else:
            try:
                async with anyio.create_task_group() as tg:
                    for i, call in enumerate(calls):
                        tg.start_soon(one, i, call)
            finally:
                if hold is not None:
                    self.gate.ipu.release(hold)
        done = [o for o in outcomes if o is not None]
        for outcome in done:
            call = outcome.call
            if asked:
                self.messages.include(
                    ActionRequest(
                        call_id=call.id,
                        function=call.function.name,
                        arguments=call.function.arguments,
                    )
                )
            if outcome.outcome is Outcome.PENDING:
                continue  # its result comes when the run is resumed
            note = (told or {}).get(call.id)
            tool = self.tools.get(call.function.name)
            declared = tool is not None and tool.trust == "trusted"
            self.messages.include(
                ActionResponse(
                    content=outcome.content if note is None else f"{outcome.content}: {note}",
                    call_id=call.id,
                    function=call.function.name,
                    outcome=outcome.outcome.value,
                    # taint: an untrusted argument makes even a trusted tool's output untrusted
                    trusted=result_trusted(declared, outcome.labels),
                )
            )
        if self.on_deny == "raise":
            for outcome in done:
                if outcome.outcome is Outcome.DENIED and isinstance(outcome.error, EffectDenied):
                    raise outcome.error
        return done

    @overload
    async def operate(
        self,
        instruction: str,
        *,
        max_rounds: int = 4,
        action_strategy: Strategy = "sequential",
        tool_choice: str | ToolChoice | None = None,
    ) -> str: ...
    @overload
    async def operate(
        self,
        instruction: str,
        *,
        max_rounds: int = 4,
        action_strategy: Strategy = "sequential",
        tool_choice: str | ToolChoice | None = None,
        response_format: type[T],
        parse_retries: int = 2,
    ) -> T: ...
    @overload
    async def operate(
        self,
        instruction: str,
        *,
        max_rounds: int = 4,
        action_strategy: Strategy = "sequential",
        tool_choice: str | ToolChoice | None = None,
        response_format: OperableModel | Sequence[FieldModel],
        parse_retries: int = 2,
    ) -> Any: ...
    async def operate(
        self,
        instruction: str,
        *,
        max_rounds: int = 4,
        action_strategy: Strategy = "sequential",
        tool_choice: str | ToolChoice | None = None,
        response_format: ResponseType | None = None,
        parse_retries: int = 2,
    ) -> Any:
        """Ask, let the model call tools (through the gate) for at most `max_rounds`, answer.

        Everything is kept in the history. After the last round the model is
        asked once more without tools, so a run always ends in an answer.
        `action_strategy` (the host's choice, never the model's) runs each
        round's calls one after another or concurrently. `tool_choice`
        (`"auto"`, `"none"`, `"required"` or a named tool) is sent with every
        round that offers tools. With `response_format` (as for
        `communicate`) the answer is a parsed value: once the tools are done,
        the model is asked for it in that format, with `parse_retries`.
        """
        _check_count(max_rounds, "max_rounds")
        _check_strategy(action_strategy)
        _check_format(response_format, parse_retries)
        self.messages.include(Instruction(content=instruction))
        return await self._answer(
            max_rounds, action_strategy, tool_choice, None, response_format, parse_retries
        )

    async def ReAct(  # the v0 name users know
        self,
        instruction: str,
        *,
        max_extensions: int = 3,
        action_strategy: Strategy = "sequential",
        tool_choice: str | ToolChoice | None = None,
        response_format: ResponseType | None = None,
        parse_retries: int = 2,
    ) -> Any:
        """Reason and act: a first round, then at most `max_extensions` more, then an answer.

        Like `operate`, but the model is told to reason step by step and,
        after each round of tool results, asked whether it needs more; the
        number of extensions is bounded by the host, so a run always ends.
        """
        _check_count(max_extensions, "max_extensions")
        _check_strategy(action_strategy)
        _check_format(response_format, parse_retries)
        self.messages.include(Instruction(content=f"{instruction}\n\n{_REACT}"))
        return await self._answer(
            1 + max_extensions,
            action_strategy,
            tool_choice,
            REACT_EXTEND,
            response_format,
            parse_retries,
        )

    async def _answer(
        self,
        rounds: int,
        strategy: Strategy,
        tool_choice: str | ToolChoice | None,
        between: str | None,
        response_format: ResponseType | None,
        parse_retries: int,
    ) -> Any:
        """The tool rounds, then the answer: text, or parsed into `response_format`
        (for `operate`, `ReAct` and a resumed run of either)."""
        text = await self._rounds(
            rounds, strategy, tool_choice, between=between, answer=response_format is None
        )
        if response_format is None:
            return text
        return await self._parsed(response_format, parse_retries)

    async def _rounds(
        self,
        rounds: int,
        strategy: Strategy,
        tool_choice: str | ToolChoice | None,
        *,
        between: str | None = None,
        answer: bool = True,
    ) -> str:
        """Up to `rounds` model calls with tools, acting on each; then an answer without tools.

        With `answer=False` the caller asks for the answer itself (in a
        format): a round that calls no tools ends the loop, and its text is
        kept but no plain final answer is asked for.
        """
        for done in range(rounds):
            reply = await self._complete(list(self.messages), tools=True, tool_choice=tool_choice)
            self.messages.include(reply)
            if not reply.tool_calls:
                return reply.content
            outcomes = await self._act(reply.tool_calls, strategy)
            if any(o.outcome is Outcome.PENDING for o in outcomes):
                operation: Operation = "operate" if between is None else "ReAct"
                raise self._paused(operation, rounds - done - 1, strategy, outcomes)
            if between is not None and done + 1 < rounds:
                self.messages.include(Instruction(content=between))
        if between is not None:
            self.messages.include(Instruction(content=_FINISH))
        if not answer:
            return ""
        final = await self._complete(list(self.messages), tools=False)
        self.messages.include(final)
        return final.content

    def _labels(self, arguments: Mapping[str, Any]) -> dict[str, Label]:
        """Labels for a person to read (the gate skips them when no policy reads them)."""
        try:
            return self.provenance.label(arguments)
        except ProvenanceError:
            return {}

    def _paused(
        self,
        operation: Operation,
        rounds_left: int,
        strategy: Strategy,
        outcomes: Sequence[ToolOutcome],
    ) -> RunPaused:
        """The run stops: its history and its pending calls, sealed by the session."""
        approvals = self.gate.approvals
        if approvals is None:
            raise ServiceError(
                "a tool call was deferred, but this branch's gate cannot pause a run "
                "(make the branch with Session.new_branch)"
            )
        pending = [
            Pending(
                call_id=o.call.id,
                tool=o.call.function.name,
                arguments=dict(o.arguments),
                arguments_hash=arguments_hash(o.arguments),
                provenance=to_context(o.labels or self._labels(o.arguments)),
                explanation=o.observation.reason if o.observation is not None else "",
            )
            for o in outcomes
            if o.outcome is Outcome.PENDING
        ]
        run = approvals.pause(
            self.name,
            operation,
            self.messages.to_json(),
            pending,
            rounds_left=rounds_left,
            strategy=strategy,
        )
        return RunPaused(run)

    # --- history -----------------------------------------------------------------------------

    def clone(self, name: str, tokens: Sequence[str | CapabilityToken] = ()) -> Branch:
        """A new branch with a copy of this one's history and tools, and only `tokens`.

        Authority is not copied: the session derives the clone's tokens (see
        `Session.clone_branch`), so a clone never holds more than it is given.
        """
        twin = Branch(
            name,
            gate=self.gate,
            model=self.model,
            tools=list(self.tools.values()),
            tokens=tokens,
            session=self.session,
            on_deny=self.on_deny,
            options=self.options,
        )
        for message in self.messages:
            twin.messages.include(message)
        return twin


def _checked_options(options: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        names = ", ".join(f"`{n}`" for n in unknown)
        allowed = ", ".join(f"`{n}`" for n in sorted(OPTIONS))
        raise ServiceError(f"unknown request options {names}: expected some of {allowed}")
    return dict(options)


def find_branch(branches: Mapping[str, Branch], branch: Branch | str, where: str) -> Branch:
    """`branch` (or the branch of that name) among `branches`, or why not, naming `where`."""
    key = branch.name if isinstance(branch, Branch) else branch
    try:
        return branches[key]
    except KeyError:
        known = ", ".join(f"`{n}`" for n in branches) or "none"
        raise ServiceError(f"no branch named `{key}` in {where} (known: {known})") from None


def _check_strategy(strategy: object) -> None:
    if strategy not in ("sequential", "concurrent"):
        raise ServiceError(f"strategy must be `sequential` or `concurrent`, got `{strategy!r}`")


def _reply_type(response_format: object) -> type[Any]:
    """The type a reply is parsed into: the type itself, or the Struct of an OperableModel."""
    try:
        if isinstance(response_format, OperableModel):
            return response_format.new_model("Reply")
        if isinstance(response_format, Sequence) and not isinstance(response_format, str):
            return OperableModel(list(response_format)).new_model("Reply")
    except LionError as exc:
        raise ServiceError(f"response_format: {exc}") from exc
    if not isinstance(response_format, type):
        raise ServiceError(
            "response_format must be a type (a msgspec Struct, a dataclass, ...), an "
            f"OperableModel or FieldModels, got `{response_format!r}`"
        )
    try:
        msgspec.json.schema(response_format)
    except (TypeError, ValueError) as exc:
        raise ServiceError(f"response_format `{response_format.__name__}`: {exc}") from None
    return response_format


def _check_format(response_format: object, parse_retries: object) -> None:
    """A bad format or retry count fails before any call."""
    if response_format is not None:
        _check_count(parse_retries, "parse_retries")
        _reply_type(response_format)


def _check_count(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ServiceError(f"{what} must be an int of at least 0, got `{value!r}`")
