"""Actors: private state, bounded mailboxes, supervision, one task group.

The runtime side of chapter 3 of the spec (``spec/actors.lion``)::

    async with Runner() as runner:
        counter = runner.spawn(Counter, mailbox_size=8, overflow=Overflow.REFUSE)
        await counter.send(("add", 2))
        assert await counter.ask(("get",), timeout=1.0) == 2
    # leaving the block drains every mailbox; runner.report says what happened

The pure, synchronous pieces — :class:`Mailbox` (``lion.kernel._mailbox``),
:func:`decide_restart`, :func:`would_deadlock` and :func:`check_immutable`
(``lion.kernel._actor_pure``) — are small deterministic functions over plain
values that conformance binds to the spec, re-exported here. This module is
the async :class:`Runner`, which only drives those pieces and adds waiting.

How each theorem of the chapter is met:

- Isolation. An actor's state lives in the object its factory returns; the
  runner hands out :class:`ActorRef` handles that can only send and ask, so
  only the actor's own ``receive`` changes it. Messages, and replies to asks,
  must be immutable values (see :func:`check_immutable`); mutable ones are
  rejected with :class:`~lion.errors.ActorError`, never copied or frozen
  behind the caller's back.
- Deadlock freedom. Every blocking operation has a finite timeout, and the
  runner keeps a wait-for graph: an edge ``a -> b`` for EVERY outstanding
  wait of a handler of ``a`` on ``b`` (an ask, or a WAIT send to a full
  mailbox) — a handler that asks from a task group has several at once, and
  the same target asked twice is two edges. An edge that would close a cycle
  over all of them — including ``a -> a``, an actor asking itself — is
  refused at once with :class:`~lion.errors.DeadlockError`, so the graph stays
  acyclic and some waited-on actor is always free to make progress: no
  reachable state has every live actor waiting on another.
- Per-sender FIFO. One FIFO mailbox per actor; WAIT senders queue in arrival
  order and are admitted in that order the moment a slot frees (the slot is
  handed over, not raced for).
- No silent loss. Every accepted message ends in exactly one place: handled
  (``processed``), failed (a :class:`Failure`), or listed in
  :attr:`ShutdownReport.unprocessed`.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import inspect
import math
import types
from abc import ABC, abstractmethod
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeAlias, TypeVar

import anyio
import anyio.abc
import anyio.lowlevel

from lion.errors import (
    ActorError,
    ActorStoppedError,
    AskTimeoutError,
    DeadlockError,
    MailboxFullError,
)
from lion.kernel._actor_pure import (
    Overflow,
    Strategy,
    Supervision,
    SupervisionAction,
    check_duration,
    check_immutable,
    decide_restart,
    wait_path,
    would_deadlock,
)
from lion.kernel._mailbox import Mailbox, MailboxPhase, Offer

__all__ = [
    "EXTERNAL",
    "Actor",
    "ActorRef",
    "ActorStatus",
    "Context",
    "DeadlockCheck",
    "Envelope",
    "Failure",
    "Mailbox",
    "MailboxPhase",
    "Offer",
    "Overflow",
    "Runner",
    "ShutdownReport",
    "Strategy",
    "Supervision",
    "SupervisionAction",
    "check_immutable",
    "decide_restart",
    "wait_path",
    "would_deadlock",
]

M = TypeVar("M")
R = TypeVar("R")

EXTERNAL: Final = "<external>"
"""The sender name of messages sent from outside any actor (unless ``sender=`` says otherwise)."""

DEFAULT_MAILBOX_SIZE: Final = 64
DEFAULT_SEND_TIMEOUT: Final = 5.0
DEFAULT_ASK_TIMEOUT: Final = 30.0

DeadlockCheck: TypeAlias = Callable[[Mapping[str, Collection[str]], str, str], bool]
"""``(waiting_on, waiter, target) -> bool``: :func:`would_deadlock` or a backend's port of it."""


# =============================================================================
# Records
# =============================================================================


@dataclass(frozen=True, slots=True)
class Envelope:
    """An accepted message and who sent it."""

    sender: str
    message: object


@dataclass(frozen=True, slots=True)
class Failure:
    """A handler that raised, and what supervision did about it.

    ``restart_error`` is set when a restart was due but the factory itself
    raised, which stops the actor instead.
    """

    actor: str
    sender: str
    message: object
    error: Exception
    action: SupervisionAction
    time: float
    restart_error: Exception | None = None


@dataclass(frozen=True, slots=True)
class ShutdownReport:
    """What happened to every accepted message, per actor.

    For each actor: ``accepted == processed + failed + len(unprocessed)``.
    ``unprocessed`` lists, oldest first, the messages that were accepted but
    never handled: left in the mailbox, interrupted mid-handler by a
    shutdown without drain, or stranded by a supervision stop.
    """

    unprocessed: Mapping[str, tuple[Envelope, ...]]
    accepted: Mapping[str, int]
    processed: Mapping[str, int]
    failed: Mapping[str, int]
    failures: tuple[Failure, ...]

    @property
    def drained(self) -> bool:
        """True when every accepted message was handled (processed or failed)."""
        return not any(self.unprocessed.values())


# =============================================================================
# Actors and references
# =============================================================================


class ActorStatus(enum.StrEnum):
    """Whether an actor still takes messages."""

    RUNNING = "running"
    STOPPED = "stopped"


class Actor(ABC, Generic[M, R]):
    """Subclass and implement :meth:`receive`; instance attributes are the private state.

    The runner calls ``receive`` for one message at a time, so the handler
    needs no locks. What it returns is the reply to an ``ask`` (ignored for
    ``send``) and must be immutable.
    """

    @abstractmethod
    async def receive(self, message: M, ctx: Context) -> R:
        """Handle one message."""


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler knows about the message it is handling."""

    ref: ActorRef[Any, Any]  # the actor's own reference
    sender: str
    runner: Runner


class ActorRef(Generic[M, R]):
    """A handle to send to and ask an actor. It gives no access to the actor's state."""

    __slots__ = ("_name", "_runner")

    def __init__(self, runner: Runner, name: str) -> None:
        self._runner = runner
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def status(self) -> ActorStatus:
        return self._runner._cell(self._name).status

    @property
    def queued(self) -> int:
        """How many accepted messages wait in the mailbox."""
        return len(self._runner._cell(self._name).mailbox)

    async def send(
        self, message: M, *, timeout: float | None = None, sender: str | None = None
    ) -> None:
        """Enqueue ``message``; returns once it is accepted.

        A full mailbox refuses at once (REFUSE) or makes the sender wait up to
        ``timeout`` (default: the actor's ``send_timeout``) for a slot (WAIT);
        either way the refusal is a :class:`~lion.errors.MailboxFullError`.
        """
        await self._runner._send(self._name, message, timeout, sender)

    def send_nowait(self, message: M, *, sender: str | None = None) -> None:
        """Enqueue ``message`` now or raise :class:`~lion.errors.MailboxFullError`; never waits."""
        self._runner._send_nowait(self._name, message, sender)

    async def ask(
        self,
        message: M,
        *,
        timeout: float = DEFAULT_ASK_TIMEOUT,
        sender: str | None = None,
    ) -> R:
        """Send ``message`` and wait for the handler's reply, all within ``timeout`` seconds.

        Raises :class:`~lion.errors.AskTimeoutError` when no reply came in time
        (the message, once accepted, is still handled), ActorError when the
        handler raised, ActorStoppedError when the actor or runner stopped
        first, and DeadlockError when the ask would wait in a cycle.
        """
        reply: R = await self._runner._ask(self._name, message, timeout, sender)
        return reply

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ActorRef)
            and other._runner is self._runner
            and other._name == self._name
        )

    def __hash__(self) -> int:
        return hash((id(self._runner), self._name))

    def __repr__(self) -> str:
        return f"ActorRef({self._name!r})"


# =============================================================================
# The runner
# =============================================================================


@dataclass(eq=False, slots=True)
class _Reply:
    event: anyio.Event
    done: bool = False
    value: object = None
    error: BaseException | None = None

    def resolve(self, value: object) -> None:
        if not self.done:
            self.done, self.value = True, value
            self.event.set()

    def fail(self, error: BaseException) -> None:
        if not self.done:
            self.done, self.error = True, error
            self.event.set()


@dataclass(eq=False, slots=True)
class _Letter:
    """What a mailbox holds: the message and, for an ask, where the reply goes."""

    message: object
    reply: _Reply | None
    accepted: bool = False


@dataclass(eq=False, slots=True)
class _Waiter:
    """A WAIT sender queued for a slot in a full mailbox."""

    sender: str
    letter: _Letter
    event: anyio.Event
    error: ActorError | None = None


@dataclass(eq=False)
class _Cell:
    """The runner's record of one actor. Nothing outside the runner holds it."""

    name: str
    factory: Callable[[], Actor[Any, Any]]
    instance: Actor[Any, Any]
    mailbox: Mailbox[_Letter]
    overflow: Overflow
    send_timeout: float
    supervision: Supervision
    ref: ActorRef[Any, Any]
    runner: Runner
    status: ActorStatus = ActorStatus.RUNNING
    waiters: deque[_Waiter] = field(default_factory=deque)
    wake: anyio.Event = field(default_factory=anyio.Event)
    done: anyio.Event = field(default_factory=anyio.Event)
    scope: anyio.CancelScope | None = None
    aborted: bool = False
    current: tuple[str, _Letter] | None = None
    restarts: tuple[float, ...] = ()
    stranded: list[tuple[str, _Letter]] = field(default_factory=list)
    processed: int = 0
    failed: int = 0


# The actor whose handler is running in the current task, if any.
_current_cell: contextvars.ContextVar[_Cell | None] = contextvars.ContextVar(
    "lion_current_actor", default=None
)


class _State(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    CLOSING = "closing"
    CLOSED = "closed"


class Runner:
    """Runs actors as tasks of exactly one anyio task group.

    Use as ``async with Runner() as runner``. Leaving the block normally
    drains (as ``shutdown(drain=True)``); leaving it with an exception stops
    every actor at once and reports what was left. Either way
    :attr:`report` then holds the :class:`ShutdownReport`.

    ``would_deadlock`` is the ask guard (default: the Python reference
    :func:`would_deadlock`); ``Runner(would_deadlock=get_backend("rust").would_deadlock)``
    takes it from the Rust core instead.
    """

    def __init__(self, *, would_deadlock: DeadlockCheck | None = None) -> None:
        self._state = _State.NEW
        self._tg: anyio.abc.TaskGroup | None = None
        self._cells: dict[str, _Cell] = {}
        self._failures: list[Failure] = []
        # The wait-for relation: for each actor, a multiset of the actors its
        # handler waits on, one edge per outstanding ask or blocking send.
        self._waits: dict[str, Counter[str]] = {}
        self._would_deadlock = would_deadlock  # None: this module's `would_deadlock`
        self._report: ShutdownReport | None = None
        self._closed: anyio.Event | None = None
        self._serial = 0

    # -- lifecycle -------------------------------------------------------------

    async def __aenter__(self) -> Runner:
        if self._state is not _State.NEW:
            raise ActorError("a runner can be entered only once; create a new `Runner`")
        # INVARIANT: the only task group this module ever creates.
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        self._closed = anyio.Event()
        self._state = _State.RUNNING
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> bool:
        assert self._tg is not None
        raised: BaseException | None = None
        if exc is None and self._report is None and self._state is _State.RUNNING:
            try:
                await self.shutdown(drain=True)
            except BaseException as err:  # cancelled while draining: stop the rest below
                raised = err
                exc_type, exc, tb = type(err), err, err.__traceback__
        if self._report is None:
            self._state = _State.CLOSING
            self._close_intake()
            self._abort_all()
        try:
            suppressed = bool(await self._tg.__aexit__(exc_type, exc, tb))
        except BaseExceptionGroup as group:
            # Actor tasks never raise, so a group holding only the body's own
            # error is just anyio's wrapping: let the body's error through as is.
            if exc is None or group.exceptions != (exc,):
                raise
            suppressed = False
        finally:
            self._finish()
        if raised is not None and not suppressed:
            raise raised
        return suppressed

    async def shutdown(self, *, drain: bool = True, timeout: float | None = None) -> ShutdownReport:
        """Stop accepting messages, then drain or stop every actor, and report.

        With ``drain`` every accepted message is handled before the actors
        stop (for at most ``timeout`` seconds, if given; what is left then is
        reported). Without it the actors stop at once — a handler in progress
        is cancelled — and every accepted message not yet handled is listed in
        the report. Asks still waiting get ActorStoppedError. While draining,
        mailboxes are closed to everyone, actors included. Calling it again
        returns the same report.
        """
        if self._report is not None:
            return self._report
        if self._state is _State.NEW:
            raise ActorError("runner is not running; use `async with Runner() as runner`")
        me = _current_cell.get()
        if me is not None and me.runner is self:
            raise ActorError(
                f"actor `{me.name}` cannot await shutdown of its own runner from its handler; "
                "it would wait for itself"
            )
        assert self._closed is not None
        if self._state is _State.CLOSING:  # another task is shutting down
            await self._closed.wait()
            assert self._report is not None
            return self._report
        if timeout is not None:
            timeout = check_duration(timeout, "shutdown timeout")
        self._state = _State.CLOSING
        self._close_intake()
        try:
            if drain:
                with anyio.move_on_after(math.inf if timeout is None else timeout):
                    for cell in list(self._cells.values()):
                        await cell.done.wait()
        finally:
            # Also when the caller is cancelled mid-drain: never leave a half shutdown.
            self._abort_all()
            with anyio.CancelScope(shield=True):
                for cell in list(self._cells.values()):
                    await cell.done.wait()
            report = self._finish()
        return report

    def _close_intake(self) -> None:
        for cell in self._cells.values():
            cell.mailbox.close()
            self._reject_waiters(cell, "the runner is shutting down")
            cell.wake.set()

    def _abort_all(self) -> None:
        for cell in self._cells.values():
            cell.aborted = True
            if cell.scope is not None:
                cell.scope.cancel()

    def _finish(self) -> ShutdownReport:
        """Collect the report once every actor task has ended; fail asks left waiting."""
        if self._report is not None:
            return self._report
        unprocessed: dict[str, tuple[Envelope, ...]] = {}
        for cell in self._cells.values():
            left = [*cell.stranded]
            cell.stranded.clear()
            if cell.current is not None:
                left.insert(0, cell.current)
                cell.current = None
            left.extend(cell.mailbox.drain())
            cell.status = ActorStatus.STOPPED
            for _, letter in left:
                if letter.reply is not None:
                    letter.reply.fail(
                        ActorStoppedError(
                            f"actor `{cell.name}` stopped before handling the message"
                        )
                    )
            unprocessed[cell.name] = tuple(Envelope(s, letter.message) for s, letter in left)
        cells = self._cells.values()
        self._report = ShutdownReport(
            unprocessed=types.MappingProxyType(unprocessed),
            accepted=types.MappingProxyType({c.name: c.mailbox.accepted for c in cells}),
            processed=types.MappingProxyType({c.name: c.processed for c in cells}),
            failed=types.MappingProxyType({c.name: c.failed for c in cells}),
            failures=tuple(self._failures),
        )
        self._state = _State.CLOSED
        if self._closed is not None:
            self._closed.set()
        return self._report

    # -- spawning and lookup ---------------------------------------------------

    def spawn(
        self,
        actor: Callable[[], Actor[M, R]],
        *,
        name: str | None = None,
        mailbox_size: int = DEFAULT_MAILBOX_SIZE,
        overflow: Overflow = Overflow.WAIT,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
        supervision: Supervision | None = None,
    ) -> ActorRef[M, R]:
        """Start an actor as a task of the runner's task group and return its reference.

        ``actor`` is a factory — an :class:`Actor` subclass or a callable
        returning a fresh instance — called now and again on every restart.
        """
        if self._state is not _State.RUNNING or self._tg is None:
            if self._state is _State.NEW:
                raise ActorError("runner is not running; use `async with Runner() as runner`")
            raise ActorStoppedError("runner is shutting down; it accepts no new actors")
        if isinstance(actor, Actor):
            raise ActorError(
                f"spawn expects a factory (an `Actor` subclass or a callable returning a fresh "
                f"actor), got the instance `{actor!r}`; a restart needs fresh state"
            )
        if not callable(actor):
            raise ActorError(f"spawn expects an actor factory, got `{actor!r}`")
        try:
            overflow = Overflow(overflow)
        except (ValueError, TypeError):
            raise ActorError(
                f"overflow must be `Overflow.WAIT` or `Overflow.REFUSE`, got `{overflow!r}`"
            ) from None
        if supervision is None:
            supervision = Supervision()
        elif not isinstance(supervision, Supervision):
            raise ActorError(f"supervision must be a `Supervision`, got `{supervision!r}`")
        timeout = check_duration(send_timeout, "send_timeout")
        mailbox: Mailbox[_Letter] = Mailbox(mailbox_size)
        name = self._new_name(actor) if name is None else self._check_name(name)
        instance = _make(actor, name)
        ref: ActorRef[M, R] = ActorRef(self, name)
        cell = _Cell(name, actor, instance, mailbox, overflow, timeout, supervision, ref, self)
        self._cells[name] = cell
        self._tg.start_soon(self._run, cell, name=f"lion actor {name}")
        return ref

    def ref(self, name: str) -> ActorRef[Any, Any]:
        """The reference of the actor called ``name``."""
        return self._cell(name).ref

    @property
    def names(self) -> tuple[str, ...]:
        """Every actor's name, in spawn order."""
        return tuple(self._cells)

    @property
    def failures(self) -> tuple[Failure, ...]:
        """Every handler failure so far, in order."""
        return tuple(self._failures)

    @property
    def report(self) -> ShutdownReport | None:
        """The shutdown report, once the runner has shut down."""
        return self._report

    def _cell(self, name: str) -> _Cell:
        try:
            return self._cells[name]
        except KeyError:
            raise ActorError(f"no actor named `{name}` in this runner") from None

    def _check_name(self, name: object) -> str:
        if not isinstance(name, str) or not name or name.startswith("<"):
            raise ActorError(
                f"actor name must be a non-empty string not starting with `<`, got `{name!r}`"
            )
        if name in self._cells:
            raise ActorError(f"an actor named `{name}` already exists in this runner")
        return name

    def _new_name(self, factory: object) -> str:
        base = getattr(factory, "__name__", "actor")
        while True:
            self._serial += 1
            name = f"{base}-{self._serial}"
            if name not in self._cells:
                return name

    # -- sending ---------------------------------------------------------------

    def _sender(self, me: _Cell | None, sender: str | None) -> str:
        if me is not None:
            if sender is not None and sender != me.name:
                raise ActorError(
                    f"actor `{me.name}` sends as itself, not as `{sender}`; drop `sender=`"
                )
            return me.name
        if sender is None:
            return EXTERNAL
        if not isinstance(sender, str) or not sender:
            raise ActorError(f"sender must be a non-empty string, got `{sender!r}`")
        return sender

    def _offer(self, cell: _Cell, sender: str, letter: _Letter) -> Offer:
        """Offer without waiting; queued WAIT senders keep their turn."""
        if cell.mailbox.closed or cell.status is not ActorStatus.RUNNING:
            return Offer.CLOSED
        if cell.waiters:
            return Offer.FULL
        result = cell.mailbox.offer(sender, letter)
        if result is Offer.ACCEPTED:
            letter.accepted = True
            cell.wake.set()
        return result

    def _refusal(self, cell: _Cell, result: Offer) -> ActorError:
        if result is Offer.CLOSED:
            why = "has stopped" if cell.status is ActorStatus.STOPPED else "is shutting down"
            return ActorStoppedError(f"actor `{cell.name}` {why}; it accepts no messages")
        return MailboxFullError(
            f"mailbox of actor `{cell.name}` is full ({cell.mailbox.capacity} messages)"
        )

    def _send_nowait(self, name: str, message: object, sender: str | None) -> None:
        cell = self._cell(name)
        check_immutable(message)
        letter = _Letter(message, None)
        result = self._offer(cell, self._sender(_own(self), sender), letter)
        if result is not Offer.ACCEPTED:
            raise self._refusal(cell, result)

    async def _send(
        self, name: str, message: object, timeout: float | None, sender: str | None
    ) -> None:
        cell = self._cell(name)
        check_immutable(message)
        me = _own(self)
        who = self._sender(me, sender)
        limit = cell.send_timeout if timeout is None else check_duration(timeout, "timeout")
        await anyio.lowlevel.checkpoint()
        letter = _Letter(message, None)
        await self._deliver(cell, me, who, letter, limit, hold_edge=True)

    async def _deliver(
        self,
        cell: _Cell,
        me: _Cell | None,
        who: str,
        letter: _Letter,
        limit: float,
        *,
        hold_edge: bool,
    ) -> None:
        """Get ``letter`` accepted, waiting for a slot if the actor's overflow is WAIT."""
        result = self._offer(cell, who, letter)
        if result is Offer.ACCEPTED:
            return
        if result is Offer.CLOSED or cell.overflow is Overflow.REFUSE:
            raise self._refusal(cell, result)
        if hold_edge and me is not None:
            self._add_edge(me, cell)
        waiter = _Waiter(who, letter, anyio.Event())
        cell.waiters.append(waiter)
        try:
            with anyio.move_on_after(limit):
                await waiter.event.wait()
        finally:
            if hold_edge and me is not None:
                self._remove_edge(me, cell)
            if not letter.accepted and waiter.error is None:
                # Timed out or cancelled: leave no trace in the queue.
                with contextlib.suppress(ValueError):
                    cell.waiters.remove(waiter)
        if letter.accepted:
            return
        if waiter.error is not None:
            raise waiter.error
        raise MailboxFullError(
            f"mailbox of actor `{cell.name}` stayed full ({cell.mailbox.capacity} messages) "
            f"for {limit:g} s"
        )

    async def _ask(self, name: str, message: object, timeout: float, sender: str | None) -> Any:
        cell = self._cell(name)
        check_immutable(message)
        me = _own(self)
        who = self._sender(me, sender)
        limit = check_duration(timeout, "ask timeout")
        await anyio.lowlevel.checkpoint()
        reply = _Reply(anyio.Event())
        letter = _Letter(message, reply)
        if me is not None:
            self._add_edge(me, cell)
        try:
            with anyio.move_on_after(limit):
                await self._deliver(cell, me, who, letter, math.inf, hold_edge=False)
                await reply.event.wait()
        finally:
            if me is not None:
                self._remove_edge(me, cell)
        if reply.done:
            if reply.error is not None:
                raise reply.error
            return reply.value
        if not letter.accepted:
            raise MailboxFullError(
                f"mailbox of actor `{cell.name}` stayed full ({cell.mailbox.capacity} messages) "
                f"for the ask's {limit:g} s"
            )
        raise AskTimeoutError(
            f"actor `{cell.name}` did not reply within {limit:g} s; "
            "the message stays accepted: it is still handled, or reported at shutdown"
        )

    def _add_edge(self, me: _Cell, target: _Cell) -> None:
        """Record that a handler of ``me`` waits on ``target``, unless that closes a cycle.

        Every outstanding wait is an edge, however many a handler has (asks
        started concurrently from a task group): the check sees them all.
        """
        check = would_deadlock if self._would_deadlock is None else self._would_deadlock
        if check(self._waits, me.name, target.name):
            if me is target:
                raise DeadlockError(
                    f"actor `{me.name}` would wait on itself; "
                    "it cannot handle a message while its handler waits"
                )
            chain = wait_path(self._waits, target.name, me.name) or (target.name, me.name)
            cycle = " -> ".join(f"`{n}`" for n in [me.name, *chain])
            raise DeadlockError(f"waiting would close the cycle {cycle}; refused")
        self._waits.setdefault(me.name, Counter())[target.name] += 1

    def _remove_edge(self, me: _Cell, target: _Cell) -> None:
        """One wait of ``me`` on ``target`` ended; the others stay."""
        edges = self._waits.get(me.name)
        if edges is None or edges[target.name] <= 0:
            return
        edges[target.name] -= 1
        if edges[target.name] == 0:
            del edges[target.name]
            if not edges:
                del self._waits[me.name]

    @property
    def waits(self) -> Mapping[str, tuple[str, ...]]:
        """The wait-for relation now: each waiting actor and every actor it waits on.

        A read-only snapshot; a target appears once per outstanding wait
        (two concurrent asks of ``b`` are ``("b", "b")``), sorted by name.
        """
        return types.MappingProxyType(
            {name: tuple(sorted(edges.elements())) for name, edges in self._waits.items()}
        )

    def _reject_waiters(self, cell: _Cell, why: str) -> None:
        while cell.waiters:
            waiter = cell.waiters.popleft()
            waiter.error = ActorStoppedError(f"actor `{cell.name}` took no message: {why}")
            waiter.event.set()

    def _admit_waiters(self, cell: _Cell) -> None:
        """Hand freed slots to queued WAIT senders, oldest first."""
        while cell.waiters and not cell.mailbox.full:
            waiter = cell.waiters.popleft()
            result = cell.mailbox.offer(waiter.sender, waiter.letter)
            if result is not Offer.ACCEPTED:  # cannot happen: the slot was just checked
                cell.waiters.appendleft(waiter)
                return
            waiter.letter.accepted = True
            waiter.event.set()

    # -- running an actor ------------------------------------------------------

    async def _run(self, cell: _Cell) -> None:
        _current_cell.set(cell)
        try:
            with anyio.CancelScope() as scope:
                cell.scope = scope
                if cell.aborted:
                    scope.cancel()
                await self._serve(cell)
        finally:
            cell.done.set()

    async def _serve(self, cell: _Cell) -> None:
        while cell.status is ActorStatus.RUNNING:
            # A checkpoint per message: fairness between actors, and a cancel
            # point that never falls between taking a message and recording it.
            await anyio.lowlevel.checkpoint()
            if cell.mailbox.empty:
                if cell.mailbox.closed:
                    cell.mailbox.finish()  # drained: the mailbox is done
                    return
                cell.wake = anyio.Event()
                await cell.wake.wait()
                continue
            sender, letter = cell.mailbox.take()
            cell.current = (sender, letter)
            self._admit_waiters(cell)
            await self._handle(cell, sender, letter)
            cell.current = None

    async def _handle(self, cell: _Cell, sender: str, letter: _Letter) -> None:
        ctx = Context(cell.ref, sender, self)
        try:
            reply = await cell.instance.receive(letter.message, ctx)
            if letter.reply is not None:
                check_immutable(reply, what="reply")
        except Exception as error:
            self._on_failure(cell, sender, letter, error)
            return
        cell.processed += 1
        if letter.reply is not None:
            letter.reply.resolve(reply)

    def _on_failure(self, cell: _Cell, sender: str, letter: _Letter, error: Exception) -> None:
        cell.failed += 1
        now = anyio.current_time()
        action, cell.restarts = decide_restart(cell.supervision, cell.restarts, now)
        restart_error: Exception | None = None
        if action is SupervisionAction.RESTARTED:
            try:
                cell.instance = _make(cell.factory, cell.name)
            except Exception as err:
                restart_error, action = err, SupervisionAction.STOPPED
        self._failures.append(
            Failure(cell.name, sender, letter.message, error, action, now, restart_error)
        )
        if letter.reply is not None:
            failed = ActorError(
                f"actor `{cell.name}` failed handling the message: {type(error).__name__}: {error}"
            )
            failed.__cause__ = error
            letter.reply.fail(failed)
        if action is SupervisionAction.STOPPED:
            self._stop(cell)

    def _stop(self, cell: _Cell) -> None:
        """Supervision stop: refuse new messages and strand (for the report) the queued ones."""
        cell.status = ActorStatus.STOPPED
        cell.mailbox.close()
        self._reject_waiters(cell, "it was stopped by supervision")
        for entry in cell.mailbox.drain():
            cell.stranded.append(entry)
            if entry[1].reply is not None:
                entry[1].reply.fail(
                    ActorStoppedError(
                        f"actor `{cell.name}` was stopped by supervision before handling "
                        "the message"
                    )
                )


def _own(runner: Runner) -> _Cell | None:
    """The actor of ``runner`` whose handler is running in this task, if any."""
    me = _current_cell.get()
    return me if me is not None and me.runner is runner else None


def _make(factory: Callable[[], Actor[Any, Any]], name: str) -> Actor[Any, Any]:
    try:
        instance = factory()
    except Exception as error:
        raise ActorError(
            f"factory of actor `{name}` raised {type(error).__name__}: {error}"
        ) from error
    if not isinstance(instance, Actor):
        raise ActorError(
            f"factory of actor `{name}` returned `{type(instance).__qualname__}`, "
            "expected an `Actor` instance"
        )
    if not inspect.iscoroutinefunction(instance.receive):
        raise ActorError(f"actor `{name}`: `receive` must be an `async def` method")
    return instance
