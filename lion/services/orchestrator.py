"""The Orchestrator: many branches as actors on one Runner, and delegation that only narrows.

Each branch runs as an actor of one `lion.kernel.actor.Runner` (one task
group, bounded mailboxes, supervision). Branches and the host talk to a
branch only by messages in its mailbox: an instruction to run (`ask`) or a
note from another branch (`send`); nothing else touches a branch while it
runs. Leaving ``async with Orchestrator(session)`` drains every mailbox, and
`report` says what happened to every accepted message.

Delegation (`spawn`, `handoff`): a child branch gets capability tokens
derived from its parent's own tokens by `authority.transfer` with narrowed
rights, scope and expiry, never minted fresh. Each grant the child asks for
must be covered, at that moment, by one of the parent's valid tokens;
otherwise the whole delegation is refused with `DelegationRefused` and the
refusal is recorded in the session log as a DENY Observation (a performed
delegation is a PERMIT). Since every child token's chain runs through its
parent's token, revoking the parent (`revoke`) revokes every descendant.
The spec is `spec/delegation.lion`; the `Delegation` bind drives this class.
"""

from __future__ import annotations

import types
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

import msgspec

from lion.errors import CapabilityError, ServiceError
from lion.kernel.actor import (
    Actor,
    ActorRef,
    Context,
    Failure,
    Overflow,
    Runner,
    ShutdownReport,
    Supervision,
)
from lion.kernel.capability import Capability, CapabilityToken
from lion.kernel.decision import Decision
from lion.kernel.observable import Effect, Observation
from lion.kernel.patterns import narrower_or_equal
from lion.kernel.tokens import decode_token
from lion.services.branch import Branch, find_branch
from lion.services.gate import CHAT
from lion.services.messages import Instruction, RoledMessage
from lion.services.session import Session
from lion.services.tools import ToolLike, as_tool

__all__ = ["DELEGATE", "DelegationRefused", "Grant", "Mail", "Orchestrator"]

#: The action of the Observation recording a delegation (resource `branch/<child>`).
DELEGATE = "delegate"
Op = Literal["chat", "communicate", "operate"]


class DelegationRefused(CapabilityError):
    """A delegation asked for authority the parent's valid capabilities do not cover."""


@dataclass(frozen=True, slots=True)
class Grant:
    """Authority a child asks for: `rights` on resources matching the pattern `resource`."""

    resource: str
    rights: frozenset[str]

    def __str__(self) -> str:
        return f"{_show(self.rights)} on `{self.resource}`"


class Mail(msgspec.Struct, frozen=True):
    """A note one branch (or the host) sends another; it joins the receiver's history."""

    sender: str
    text: str


class _Run(msgspec.Struct, frozen=True):
    op: str
    text: str
    max_rounds: int


class _History(msgspec.Struct, frozen=True):
    pass


class _BranchActor(Actor[object, object]):
    """Runs one branch. A restart makes a fresh actor around the same branch (see docs)."""

    def __init__(self, branch: Branch) -> None:
        self.branch = branch

    async def receive(self, message: object, ctx: Context) -> object:
        branch = self.branch
        if isinstance(message, _Run):
            if message.op == "chat":
                return await branch.chat(message.text)
            if message.op == "communicate":
                return await branch.communicate(message.text)
            return await branch.operate(message.text, max_rounds=message.max_rounds)
        if isinstance(message, Mail):
            branch.messages.include(
                Instruction(content=f"message from `{message.sender}`: {message.text}")
            )
            return None
        if isinstance(message, _History):
            # JSON text is immutable, so the history can leave the actor as a reply
            return tuple(m.to_json() for m in branch.messages)
        raise ServiceError(f"branch `{branch.name}` got a message it does not understand")


def _show(rights: Iterable[str]) -> str:
    return "{" + ", ".join(f"`{r}`" for r in sorted(rights)) + "}"


class Orchestrator:
    """Branches of one session as actors, with delegation by attenuation.

    ``async with Orchestrator(session) as orch``; `add` a session branch,
    `spawn` children from it, `ask` and `send`. Supervision: a branch whose
    handler raises (the asker gets an `ActorError` with the cause) is
    restarted with the same branch, at most `max_restarts` times within
    `restart_window` seconds; the next failure stops it (`max_restarts=0`:
    stop at the first failure). Every failure is in `failures`.
    """

    def __init__(
        self,
        session: Session,
        *,
        mailbox_size: int = 16,
        overflow: Overflow = Overflow.WAIT,
        send_timeout: float = 5.0,
        ask_timeout: float = 60.0,
        max_restarts: int = 2,
        restart_window: float = 60.0,
        max_rounds: int = 4,
    ) -> None:
        self.session = session
        self.id = uuid.uuid4()
        self.mailbox_size = mailbox_size
        self.overflow = overflow
        self.send_timeout = send_timeout
        self.ask_timeout = ask_timeout
        self.max_rounds = max_rounds
        self.supervision = (
            Supervision.restart(max_restarts=max_restarts, window=restart_window)
            if max_restarts > 0
            else Supervision.stop()
        )
        self._runner: Runner | None = None
        self._branches: dict[str, Branch] = {}
        self._refs: dict[str, ActorRef[object, object]] = {}
        self._parents: dict[str, str | None] = {}
        self._spawned: list[str] = []

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Orchestrator:
        if self._runner is not None:
            raise ServiceError("an orchestrator can be entered only once")
        self._runner = Runner(would_deadlock=self.session.backend.would_deadlock)
        await self._runner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> bool:
        assert self._runner is not None
        try:
            return await self._runner.__aexit__(*exc)
        finally:
            # delegated authority ends with the orchestrator; the session's own
            # branches are the session's to revoke
            for name in self._spawned:
                self._revoke_tokens(self._branches[name].tokens)

    @property
    def report(self) -> ShutdownReport | None:
        """What happened to every accepted message, once the orchestrator has shut down."""
        return None if self._runner is None else self._runner.report

    @property
    def failures(self) -> tuple[Failure, ...]:
        """Every branch handler that raised, and what supervision did about it."""
        return () if self._runner is None else self._runner.failures

    @property
    def branches(self) -> Mapping[str, Branch]:
        return types.MappingProxyType(self._branches)

    def parent_of(self, branch: Branch | str) -> str | None:
        """The branch `branch` was delegated from, or None for one added from the session."""
        return self._parents[self._branch(branch).name]

    def status(self, branch: Branch | str) -> str:
        """`running` or `stopped` (by supervision or shutdown)."""
        return str(self._refs[self._branch(branch).name].status)

    def _running(self) -> Runner:
        if self._runner is None or self._runner.report is not None:
            raise ServiceError(
                "the orchestrator is not running: use `async with Orchestrator(...)`"
            )
        return self._runner

    def _branch(self, branch: Branch | str) -> Branch:
        return find_branch(self._branches, branch, "this orchestrator")

    def _start(self, branch: Branch, parent: str | None) -> None:
        runner = self._running()
        self._refs[branch.name] = runner.spawn(
            lambda: _BranchActor(branch),
            name=branch.name,
            mailbox_size=self.mailbox_size,
            overflow=self.overflow,
            send_timeout=self.send_timeout,
            supervision=self.supervision,
        )
        self._branches[branch.name] = branch
        self._parents[branch.name] = parent

    def add(self, branch: Branch | str) -> Branch:
        """Run a branch as an actor: one of the session's (by object or name), or one
        the host built on the session's gate with tokens from its authority."""
        self._running()
        if isinstance(branch, Branch) and branch.gate is self.session.gate:
            found = branch
        else:
            found = self.session.get_branch(branch)
        if found.name in self._branches:
            raise ServiceError(f"branch `{found.name}` is already in this orchestrator")
        self._start(found, None)
        return found

    # --- messages ----------------------------------------------------------------------------

    async def ask(
        self,
        branch: Branch | str,
        instruction: str,
        *,
        op: Op = "chat",
        timeout: float | None = None,
    ) -> str:
        """Run `chat`, `communicate` or `operate` inside the branch's actor; its answer."""
        if op not in ("chat", "communicate", "operate"):
            raise ServiceError(f"op must be `chat`, `communicate` or `operate`, got `{op!r}`")
        ref = self._refs[self._branch(branch).name]
        answer = await ref.ask(
            _Run(op, instruction, self.max_rounds), timeout=timeout or self.ask_timeout
        )
        assert isinstance(answer, str)
        return answer

    async def send(self, to: Branch | str, text: str, *, sender: str = "host") -> None:
        """Put a note in `to`'s mailbox; it joins `to`'s history when handled."""
        if sender != "host":
            self._branch(sender)  # a note is from a known branch or from the host
        await self._refs[self._branch(to).name].send(Mail(sender, text))

    async def history(self, branch: Branch | str) -> tuple[RoledMessage, ...]:
        """A copy of the branch's messages, read by its own actor."""
        ref = self._refs[self._branch(branch).name]
        texts = await ref.ask(_History(), timeout=self.ask_timeout)
        assert isinstance(texts, tuple)
        return tuple(RoledMessage.from_json(t) for t in texts)

    # --- delegation --------------------------------------------------------------------------

    def spawn(
        self,
        parent: Branch | str,
        name: str,
        *,
        tools: Sequence[ToolLike | str] | None = None,
        rights: Iterable[str] | None = None,
        scope: str | None = None,
        expiry: int | None = None,
        chat: bool = True,
        system: str | None = None,
    ) -> Branch:
        """A child of `parent`, running as an actor, with authority derived from the parent's.

        The child asks for: `chat` on its model (unless `chat=False`); for each
        of its `tools` (default: all the parent's; a name picks one of them),
        the tool's right on the tool's resource, or `rights` on `scope` where
        given; with no tools, `rights` on `scope`. `expiry` (default: each
        parent token's own) must not be later than the parent's. Anything the
        parent's valid tokens do not cover: `DelegationRefused`, recorded.
        """
        source, picked, tokens = self._authorize(parent, name, tools, rights, scope, expiry, chat)
        return self._make(source, name, picked, tokens, system, ())

    async def handoff(
        self,
        parent: Branch | str,
        child_name: str,
        instruction: str,
        *,
        tools: Sequence[ToolLike | str] | None = None,
        rights: Iterable[str] | None = None,
        scope: str | None = None,
        expiry: int | None = None,
        chat: bool = True,
        op: Op = "operate",
        timeout: float | None = None,
    ) -> str:
        """Hand the conversation to a new child: narrowed authority (as `spawn`) and a
        copy of the parent's history, read by the parent's actor; then the child answers."""
        # the delegation is decided (and a refusal recorded) before anything else
        source, picked, tokens = self._authorize(
            parent, child_name, tools, rights, scope, expiry, chat
        )
        try:
            history = await self.history(source)
            child = self._make(source, child_name, picked, tokens, None, history)
        except BaseException:
            self._revoke_tokens(tokens)  # no child: nobody may hold what it was given
            raise
        return await self.ask(child, instruction, op=op, timeout=timeout)

    def _authorize(
        self,
        parent: Branch | str,
        name: str,
        tools: Sequence[ToolLike | str] | None,
        rights: Iterable[str] | None,
        scope: str | None,
        expiry: int | None,
        chat: bool,
    ) -> tuple[Branch, list[ToolLike], list[CapabilityToken]]:
        self._running()
        source = self._branch(parent)
        self._check_new_name(name)
        picked = self._pick_tools(source, tools)
        grants = self._grants(source, picked, rights, scope, chat)
        return source, picked, self._delegate(source, name, grants, expiry)

    def _check_new_name(self, name: object) -> None:
        if not isinstance(name, str) or not name:
            raise ServiceError(f"branch name must be a non-empty str, got `{name!r}`")
        if name in self._branches or name in self.session.branches:
            raise ServiceError(f"a branch named `{name}` already exists")

    def _make(
        self,
        source: Branch,
        name: str,
        tools: Sequence[ToolLike],
        tokens: Sequence[CapabilityToken],
        system: str | None,
        history: Sequence[RoledMessage],
    ) -> Branch:
        self._check_new_name(name)  # again: a handoff awaited the history meanwhile
        child = Branch(
            name,
            gate=source.gate,
            model=source.model,
            tools=tools,
            tokens=tokens,
            system=system,
            session=source.session,
            on_deny=source.on_deny,
            options=source.options,
        )
        for message in history:
            child.messages.include(message)
        self._start(child, source.name)
        self._spawned.append(name)
        return child

    @staticmethod
    def _pick_tools(source: Branch, tools: Sequence[ToolLike | str] | None) -> list[ToolLike]:
        if tools is None:
            return list(source.tools.values())
        picked: list[ToolLike] = []
        for t in tools:
            if not isinstance(t, str):
                picked.append(as_tool(t))
                continue
            found = source.tools.get(t)
            if found is None:
                raise ServiceError(f"branch `{source.name}` has no tool `{t}` to delegate")
            picked.append(found)
        return picked

    @staticmethod
    def _grants(
        source: Branch,
        tools: Sequence[ToolLike],
        rights: Iterable[str] | None,
        scope: str | None,
        chat: bool,
    ) -> list[Grant]:
        if isinstance(rights, str):  # a bare string would become a set of characters
            raise ServiceError(f"rights must be a collection of strings, got the string `{rights}`")
        wanted = None if rights is None else frozenset(rights)
        grants: list[Grant] = []
        if chat:
            grants.append(Grant(f"model/{source.model.name}", frozenset({CHAT})))
        for t in tools:
            grants.append(
                Grant(
                    t.resource if scope is None else scope,
                    frozenset({t.right}) if wanted is None else wanted,
                )
            )
        if not tools and (wanted is not None or scope is not None):
            if wanted is None or scope is None:
                raise ServiceError("a child without tools needs both `rights` and `scope`")
            grants.append(Grant(scope, wanted))
        return list(dict.fromkeys(grants))  # without repeats, in order

    def _valid(self, source: Branch) -> list[tuple[CapabilityToken | str, Capability]]:
        """The parent's tokens that verify now and are held by it: its current authority."""
        held = []
        for token in source.tokens:
            try:
                cap = self.session.authority.verify(token)
            except CapabilityError:
                continue  # revoked, expired or foreign: not authority it can pass on
            if cap.holder == source.name:
                held.append((token, cap))
        return held

    @staticmethod
    def _covers(cap: Capability, grant: Grant, expiry: int | None) -> bool:
        return (
            grant.rights <= cap.rights
            and narrower_or_equal(grant.resource, cap.resource)
            and (expiry is None or expiry <= cap.expiry)
        )

    def _covering(
        self,
        held: Sequence[tuple[CapabilityToken | str, Capability]],
        grant: Grant,
        expiry: int | None,
    ) -> tuple[CapabilityToken | str, Capability] | None:
        return next((tc for tc in held if self._covers(tc[1], grant, expiry)), None)

    @staticmethod
    def _child_expiry(cap: Capability, expiry: int | None) -> int:
        return cap.expiry if expiry is None else expiry

    def _derive(
        self,
        parent: str,
        child: str,
        token: CapabilityToken | str,
        cap: Capability,
        grant: Grant,
        expiry: int | None,
    ) -> CapabilityToken:
        return self.session.authority.transfer(
            token,
            child,
            by=parent,
            rights=grant.rights,
            resource=grant.resource,
            expiry=self._child_expiry(cap, expiry),
        )

    def _delegate(
        self, source: Branch, child: str, grants: Sequence[Grant], expiry: int | None
    ) -> list[CapabilityToken]:
        held = self._valid(source)
        chosen: list[tuple[Grant, tuple[CapabilityToken | str, Capability]]] = []
        for grant in grants:
            found = self._covering(held, grant, expiry)
            if found is None:
                self._refuse(source, child, self._why(source, held, grant, expiry))
            chosen.append((grant, found))
        tokens: list[CapabilityToken] = []
        try:
            for grant, (token, cap) in chosen:
                tokens.append(self._derive(source.name, child, token, cap, grant, expiry))
        except CapabilityError as exc:  # revoked meanwhile, or the store failed: fail closed
            self._revoke_tokens(tokens)
            self._refuse(source, child, f"the kernel refused to derive it: {exc}")
        used = tuple(cap.id for _, (_, cap) in chosen)
        self._record(source, child, Decision.PERMIT, f"delegated {len(tokens)} grants", used)
        return tokens

    def _why(
        self,
        source: Branch,
        held: Sequence[tuple[CapabilityToken | str, Capability]],
        grant: Grant,
        expiry: int | None,
    ) -> str:
        for _, cap in held:
            if self._covers(cap, grant, None):
                return (
                    f"it asks for {grant} until {expiry}, later than the parent's "
                    f"capability `{cap.id}` ({cap.expiry})"
                )
        caps = "; ".join(f"{_show(c.rights)} on `{c.resource}`" for _, c in held) or "nothing"
        return (
            f"it asks for {grant}, which no valid capability of the parent covers (it holds {caps})"
        )

    def _refuse(self, source: Branch, child: str, why: str) -> NoReturn:
        reason = f"branch `{source.name}` cannot delegate to `{child}`: {why}"
        self._record(source, child, Decision.DENY, reason, ())
        raise DelegationRefused(reason)

    def _record(
        self,
        source: Branch,
        child: str,
        decision: Decision,
        reason: str,
        used: tuple[str, ...],
    ) -> None:
        effect = Effect(DELEGATE, f"branch/{child}")
        permitted = decision is Decision.PERMIT
        self.session.log.append(
            Observation(
                subject=self.id,
                effect=effect,
                principal=source.name,
                decision=decision,
                reason=reason,
                requested=tuple(_token_id(t) for t in source.tokens),
                granted=used,  # the parent's capabilities the child's derive from
                effects=(effect,) if permitted else (),
            )
        )

    # --- revocation --------------------------------------------------------------------------

    def revoke(self, branch: Branch | str) -> None:
        """Revoke the branch's tokens; every branch delegated from it loses them too."""
        self._revoke_tokens(self._branch(branch).tokens)

    def _revoke_tokens(self, tokens: Iterable[CapabilityToken | str]) -> None:
        for token in tokens:
            self.session.authority.revoke(token)

    def refusals(self) -> tuple[Observation, ...]:
        """The refused delegations recorded in the session log, in order."""
        return tuple(
            o
            for o in self.session.log
            if o.subject == self.id and o.effect.action == DELEGATE and not o.permitted
        )


def _token_id(token: CapabilityToken | str) -> str:
    if isinstance(token, CapabilityToken):
        return token.id
    try:
        return decode_token(token).id
    except CapabilityError:
        return "<malformed>"
