"""Actors: private state, bounded mailboxes, supervision, one task group.

The runtime side of chapter 3 of the spec (``spec/actors.lion``)::

    async with Runner() as runner:
        counter = runner.spawn(Counter, mailbox_size=8, overflow=Overflow.REFUSE)
        await counter.send(("add", 2))
        assert await counter.ask(("get",), timeout=1.0) == 2
    # leaving the block drains every mailbox; runner.report says what happened

The file has two halves. The first is pure and synchronous — :class:`Mailbox`
(re-exported from ``lion.kernel._mailbox``), :func:`decide_restart`,
:func:`would_deadlock` and :func:`check_immutable` — small deterministic
functions over plain values that conformance binds to the spec. The second is
the async :class:`Runner`, which only drives those pieces and adds waiting.

How each theorem of the chapter is met:

- Isolation. An actor's state lives in the object its factory returns; the
  runner hands out :class:`ActorRef` handles that can only send and ask, so
  only the actor's own ``receive`` changes it. Messages, and replies to asks,
  must be immutable values (see :func:`check_immutable`); mutable ones are
  rejected with :class:`~lion.errors.ActorError`, never copied or frozen
  behind the caller's back.
- Deadlock freedom. Every blocking operation has a finite timeout, and the
  runner keeps a wait-for graph: an edge ``a -> b`` while a handler of ``a``
  waits on ``b`` (an ask, or a WAIT send to a full mailbox). An edge that
  would close a cycle — including ``a -> a``, an actor asking itself — is
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
import dataclasses
import datetime
import decimal
import enum
import fractions
import inspect
import math
import pathlib
import types
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

import anyio
import anyio.abc
import anyio.lowlevel
import msgspec

from lion.errors import (
    ActorError,
    ActorStoppedError,
    AskTimeoutError,
    DeadlockError,
    MailboxFullError,
)
from lion.kernel._mailbox import Mailbox, MailboxPhase, Offer

__all__ = [
    "EXTERNAL",
    "Actor",
    "ActorRef",
    "ActorStatus",
    "Context",
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
    "would_deadlock",
]

M = TypeVar("M")
R = TypeVar("R")

EXTERNAL: Final = "<external>"
"""The sender name of messages sent from outside any actor (unless ``sender=`` says otherwise)."""

DEFAULT_MAILBOX_SIZE: Final = 64
DEFAULT_SEND_TIMEOUT: Final = 5.0
DEFAULT_ASK_TIMEOUT: Final = 30.0


# =============================================================================
# Pure parts: plain values in, plain values out
# =============================================================================


class Overflow(enum.StrEnum):
    """What a send does when the mailbox is full (``spawn`` also takes "wait" or "refuse")."""

    WAIT = "wait"  # wait (in arrival order) up to a timeout, then MailboxFullError
    REFUSE = "refuse"  # MailboxFullError at once; the message is not enqueued


class Strategy(enum.StrEnum):
    """What happens to an actor whose handler raised."""

    RESTART = "restart"
    STOP = "stop"


class SupervisionAction(enum.StrEnum):
    """What supervision did after a failure."""

    RESTARTED = "restarted"
    STOPPED = "stopped"


def _check_duration(value: object, what: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ActorError(f"{what} must be a finite number of seconds above 0, got `{value!r}`")
    return float(value)


@dataclass(frozen=True, slots=True)
class Supervision:
    """An actor's supervision policy.

    RESTART replaces the actor with a fresh one from its factory, at most
    ``max_restarts`` times within any ``window`` seconds; the next failure
    stops it. STOP stops it at the first failure. The mailbox survives a
    restart, so no accepted message is dropped by one.
    """

    strategy: Strategy = Strategy.STOP
    max_restarts: int = 3
    window: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.strategy, Strategy):
            raise ActorError(f"supervision strategy must be a `Strategy`, got `{self.strategy!r}`")
        mr = self.max_restarts
        if isinstance(mr, bool) or not isinstance(mr, int) or mr < 0:
            raise ActorError(f"max_restarts must be an integer of at least 0, got `{mr!r}`")
        _check_duration(self.window, "supervision window")

    @classmethod
    def restart(cls, max_restarts: int = 3, window: float = 60.0) -> Supervision:
        """Restart on failure, at most ``max_restarts`` times within ``window`` seconds."""
        return cls(Strategy.RESTART, max_restarts, window)

    @classmethod
    def stop(cls) -> Supervision:
        """Stop at the first failure."""
        return cls(Strategy.STOP)


def decide_restart(
    policy: Supervision, history: tuple[float, ...], now: float
) -> tuple[SupervisionAction, tuple[float, ...]]:
    """Decide what to do about a failure at time ``now``.

    ``history`` holds the times of earlier restarts. Returns the action and the
    new history: restarts older than the window are forgotten, and a restart
    is recorded only when one is granted.
    """
    if policy.strategy is Strategy.STOP:
        return SupervisionAction.STOPPED, history
    recent = tuple(t for t in history if now - t < policy.window)
    if len(recent) >= policy.max_restarts:
        return SupervisionAction.STOPPED, recent
    return SupervisionAction.RESTARTED, (*recent, now)


def would_deadlock(waiting_on: Mapping[str, str], waiter: str, target: str) -> bool:
    """Would adding the wait ``waiter -> target`` close a cycle in the wait-for graph?

    ``waiting_on`` maps each waiting actor to the one actor it waits on (a
    handler waits on at most one thing at a time). Following the chain from
    ``target`` either ends at an actor that waits on nobody (no cycle) or
    reaches ``waiter`` (a cycle).
    """
    seen: set[str] = set()
    node: str | None = target
    while node is not None and node not in seen:
        if node == waiter:
            return True
        seen.add(node)
        node = waiting_on.get(node)
    # A cycle not through `waiter` cannot exist while the graph is kept acyclic;
    # if one did, adding this edge would not close a new one.
    return False


_ATOMIC_TYPES: Final = frozenset(
    {
        type(None),
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        decimal.Decimal,
        fractions.Fraction,
        datetime.date,
        datetime.datetime,
        datetime.time,
        datetime.timedelta,
        datetime.timezone,
        uuid.UUID,
        range,
        type(Ellipsis),
    }
)

_ALLOWED: Final = (
    "None, bool, int, float, complex, str, bytes, Decimal, Fraction, date/time values, UUID, "
    "pure paths, enum members, and tuples, frozensets, frozen dataclasses or frozen msgspec "
    "Structs of these"
)


def _has_instance_dict(value: object) -> bool:
    return hasattr(value, "__dict__")


def check_immutable(value: object, *, what: str = "message") -> None:
    """Raise :class:`ActorError` unless ``value`` is deeply immutable.

    Accepted: atoms (None, bool, int, float, complex, str, bytes, Decimal,
    Fraction, date/time values, UUID, pure paths, ranges), enum members whose
    value is immutable, and tuples (including named tuples), frozensets,
    frozen dataclasses and frozen msgspec Structs whose contents are
    immutable, to any depth. Everything else — lists, dicts, sets, bytearrays,
    plain objects, functions — is refused, because a reference to it would let
    two actors share state. The error names the path to the offending part.
    """
    stack: list[tuple[object, str]] = [(value, what)]
    seen: set[int] = set()
    while stack:
        item, path = stack.pop()
        kind = type(item)
        if kind in _ATOMIC_TYPES or isinstance(item, pathlib.PurePath):
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, enum.Enum):
            stack.append((item.value, f"{path}.value"))
        elif isinstance(item, tuple | frozenset) and not _has_instance_dict(item):
            if isinstance(item, tuple):
                stack.extend((x, f"{path}[{i}]") for i, x in enumerate(item))
            else:
                stack.extend((x, f"{path}{{element}}") for x in item)
        elif isinstance(item, msgspec.Struct) and item.__struct_config__.frozen:
            stack.extend((getattr(item, f), f"{path}.{f}") for f in item.__struct_fields__)
        elif (
            dataclasses.is_dataclass(item)
            and not isinstance(item, type)
            and getattr(kind, "__dataclass_params__").frozen  # noqa: B009 - not in typeshed
        ):
            stack.extend(
                (getattr(item, f.name), f"{path}.{f.name}") for f in dataclasses.fields(item)
            )
        else:
            raise ActorError(
                f"{path} of type `{kind.__qualname__}` is mutable; actor messages and replies "
                f"must be immutable values: {_ALLOWED}"
            )


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
    """

    def __init__(self) -> None:
        self._state = _State.NEW
        self._tg: anyio.abc.TaskGroup | None = None
        self._cells: dict[str, _Cell] = {}
        self._failures: list[Failure] = []
        self._waiting_on: dict[str, str] = {}
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
            timeout = _check_duration(timeout, "shutdown timeout")
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
        timeout = _check_duration(send_timeout, "send_timeout")
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
        limit = cell.send_timeout if timeout is None else _check_duration(timeout, "timeout")
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
                self._waiting_on.pop(me.name, None)
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
        limit = _check_duration(timeout, "ask timeout")
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
                self._waiting_on.pop(me.name, None)
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
        if would_deadlock(self._waiting_on, me.name, target.name):
            if me is target:
                raise DeadlockError(
                    f"actor `{me.name}` would wait on itself; "
                    "it cannot handle a message while its handler waits"
                )
            chain = [target.name]
            while chain[-1] != me.name:
                chain.append(self._waiting_on[chain[-1]])
            cycle = " -> ".join(f"`{n}`" for n in [me.name, *chain])
            raise DeadlockError(f"waiting would close the cycle {cycle}; refused")
        self._waiting_on[me.name] = target.name

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
