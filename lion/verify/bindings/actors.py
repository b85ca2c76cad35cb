"""`spec/actors.lion` machine `Mailbox` <-> `lion.kernel._mailbox.Mailbox`.

The spec bounds its state space (at most 3 messages per sender, 8 in all);
this adapter enforces those model bounds itself and numbers each sender's
messages, then lets the kernel mailbox decide everything else: whether a
message is accepted, which one is delivered next, what shutdown reports.
The spec's ghost variables (`sent`, `received`, `in_order`) are not compared;
`last` is the message `take()` actually returned.

`spec/actors.lion` machine `System` <-> the real `lion.kernel.actor.Runner`:
see :class:`SystemModel`.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import anyio
import anyio.abc

from lion.errors import ActorError, DeadlockError
from lion.kernel._mailbox import Mailbox, MailboxPhase, Offer
from lion.kernel.actor import (
    Actor,
    ActorRef,
    Context,
    DeadlockCheck,
    Overflow,
    Runner,
    would_deadlock,
)
from lion.verify.values import EnumValue, MapValue, RecordValue

__all__ = [
    "MailboxModel",
    "RustMailboxModel",
    "RustSystemModel",
    "SystemModel",
    "closes_cycle",
    "closes_cycle_rust",
]

CAPACITY = 2
_PHASE = {
    MailboxPhase.RUNNING: "Running",
    MailboxPhase.STOPPING: "Stopping",
    MailboxPhase.STOPPED: "Stopped",
}


class MailboxModel:
    """The spec's `Mailbox` machine, played by the kernel's mailbox."""

    def __init__(self) -> None:
        self.box: Any = self.new_mailbox(CAPACITY)
        self.sent: dict[str, int] = {}
        self.last: Any = None  # the message the last take() returned

    @staticmethod
    def new_mailbox(capacity: int) -> Any:
        return Mailbox(capacity)

    def init(self) -> bool:
        return True

    def step(self, action: str, *args: Any) -> bool:
        box = self.box
        if action == "send":
            sender = args[0].variant
            n = self.sent.get(sender, 0)
            if n >= 3 or box.accepted >= 8:  # the spec's model bounds
                return False
            msg = RecordValue("Msg", {"sender": args[0], "seq": n})
            if box.offer(sender, msg) != Offer.ACCEPTED:
                return False
            self.sent[sender] = n + 1
            return True
        if action == "deliver":
            if box.phase == MailboxPhase.STOPPED:
                return False
            try:
                _, self.last = box.take()
            except ActorError:
                return False
            return True
        if action == "stop":
            if box.closed:
                return False
            box.close()
            return True
        if action == "abandon":
            if box.phase != MailboxPhase.STOPPING:
                return False
            box.drain()
            return True
        if action == "finish":
            if box.phase != MailboxPhase.STOPPING:
                return False
            try:
                box.finish()
            except ActorError:
                return False
            return True
        raise ValueError(f"unknown action `{action}`")

    def state(self) -> dict[str, Any]:
        pending = [m for _, m in self.box.pending()]
        return {
            "head": pending[0] if pending else None,
            "second": pending[1] if len(pending) > 1 else None,
            "accepted": self.box.accepted,
            "processed": self.box.taken,
            "reported": self.box.drained,
            "phase": EnumValue("Phase", _PHASE[self.box.phase]),
            "last": self.last,
        }


def closes_cycle(w: MapValue, a: EnumValue, b: EnumValue) -> bool:
    """The runner's deadlock check on the spec's wait-for map."""
    return would_deadlock(_waits(w), a.variant, b.variant)


def _waits(w: MapValue) -> dict[str, list[str]]:
    """The spec's `waits` (a set per actor) as the runner's wait-for relation."""
    return {x.variant: sorted(y.variant for y in ys) for x, ys in w.items()}


class RustMailboxModel(MailboxModel):
    """The same machine on the Rust core's mailbox (phases and offers as strings)."""

    @staticmethod
    def new_mailbox(capacity: int) -> Any:
        from lion import _native

        return _native.Mailbox(capacity)


def closes_cycle_rust(w: MapValue, a: EnumValue, b: EnumValue) -> bool:
    """The Rust core's deadlock check on the spec's wait-for map."""
    from lion import _native

    return _native.would_deadlock(_waits(w), a.variant, b.variant)


# =============================================================================
# The System machine, played by real actors on a real Runner
# =============================================================================

ACTORS = ("A", "B", "C", "D", "E")
_MAILBOX = 2  # each puppet's mailbox: small, so that WAIT senders and asks queue for slots
_FOREVER = 1e9  # a timeout no run reaches: waits end by a reply, a slot or cancellation
_MAX_TURNS = 10_000  # event-loop turns allowed for one step to settle


@dataclass(eq=False)
class _Ask:
    """One real wait of a handler of `asker` on `target`: an ask, or a blocked WAIT send."""

    id: int
    asker: str
    target: str
    kind: str = "ask"  # "ask" | "block"
    scope: anyio.CancelScope | None = None
    # None while outstanding; then "replied", "admitted" (a send got its slot),
    # "refused" (DeadlockError) or "cancelled"
    outcome: str | None = None


@dataclass(eq=False)
class _Handler:
    """A running handler of one actor: it obeys the adapter's commands in its own task."""

    serving: _Ask | None  # the ask it answers by returning; None for a host handler
    wake: anyio.Event
    commands: deque[tuple[Any, ...]] = field(default_factory=deque)
    children: dict[int, _Ask] = field(default_factory=dict)  # its asks in flight

    def order(self, *command: Any) -> None:
        self.commands.append(command)
        self.wake.set()


class _Puppet(Actor[tuple[str, int], int]):
    """An actor whose handler does what the adapter says, from inside the handler.

    Every message starts a handler that opens a task group and then obeys
    commands: `ask` starts a real wait on another actor as a child task (an
    ask, or a WAIT send: so a handler has several outstanding at once), `set`
    changes the actor's own state, `return` ends the handler (the reply, if
    the message was an ask). Fillers, sent messages and asks that have
    already ended (cancelled) are handled at once.
    """

    def __init__(self, model: SystemModel, name: str) -> None:
        self.model = model
        self.name = name
        self.value = 0  # the actor's private state: the spec's state[name]

    async def receive(self, message: tuple[str, int], ctx: Context) -> int:
        kind, ask_id = message
        ask = self.model.asks.get(ask_id) if kind == "ask" else None
        self.model.queued[self.name].remove(message)
        if kind in ("fill", "block") or (kind == "ask" and (ask is None or ask.outcome)):
            return self.value  # a filler, a sent message, or an ask nobody waits for
        handler = _Handler(ask, anyio.Event())
        self.model.current[self.name] = handler
        try:
            async with anyio.create_task_group() as tg:
                while True:
                    await handler.wake.wait()
                    handler.wake = anyio.Event()
                    command: tuple[Any, ...] = (
                        handler.commands.popleft() if handler.commands else ("",)
                    )
                    if command[0] == "ask":
                        tg.start_soon(self._ask, handler, command[1])
                    elif command[0] == "set":
                        self.value = command[1]
                    elif command[0] == "return":
                        break
                    if handler.commands:
                        handler.wake.set()
        finally:
            self.model.current[self.name] = None
        return self.value

    async def _ask(self, handler: _Handler, ask: _Ask) -> None:
        handler.children[ask.id] = ask
        try:
            with anyio.CancelScope() as scope:
                ask.scope = scope
                try:
                    ref = self.model.refs[ask.target]
                    if ask.kind == "ask":
                        await ref.ask(("ask", ask.id), timeout=_FOREVER)
                        ask.outcome = "replied"
                    else:
                        await ref.send(("block", ask.id), timeout=_FOREVER)
                        ask.outcome = "admitted"
                except DeadlockError:
                    ask.outcome = "refused"
            if ask.outcome is None:
                ask.outcome = "cancelled"
        finally:
            del handler.children[ask.id]


class SystemModel:
    """The spec's `System` machine, played by five real actors on a real `Runner`.

    Each spec actor is a :class:`_Puppet` of that name. Every actor always has
    a handler running (a *host* handler, started by an external message, when
    it has nothing else to do), and every spec action is done by real actors:

    - ``ask(a, b)``: a's current handler starts a real ``ask`` of ``b`` as a
      child task of a task group inside the handler, so a handler can have
      several asks outstanding. A DeadlockError from the runner is "not
      enabled"; otherwise the ask stays outstanding (b's handler, when it
      takes the message, waits for the adapter).
    - ``block(a, b)``: the adapter fills b's mailbox (capacity 2) from outside
      (no edges), then a's handler sends to ``b`` with overflow WAIT, as a
      child task, and blocks for a slot. DeadlockError is "not enabled".
    - ``answer(a, b)``: every outstanding wait of ``a`` on ``b`` ends. An ask
      ends by b's real reply when b's handler is free (no asks in flight),
      a's message is the next live one in b's queue and no blocked send waits
      on b; a blocked send ends by getting its slot when it is the only one
      waiting and b is free; otherwise the wait is cancelled (its task's
      cancel scope), as a timeout would end it. Every ending is real; the
      runner must drop the edge in each.
    - ``handle(a, v)``: a's handler sets its own state, only when it has no
      ask in flight (the handler itself knows; the runner is not asked).

    The asyncio event loop is private to the adapter and is stepped until no
    task is ready after each action (nothing uses wall-clock time: asks never
    time out), so a run is deterministic and replays from the corpus.
    ``state()`` reads ``waits`` off the runner (``Runner.waits``, its
    wait-for relation, abstracted to the set of targets per actor) and
    ``state`` off the actors; ``before`` and ``handler`` are spec ghosts.
    """

    backend: ClassVar[str] = "python"
    _open: ClassVar[list[SystemModel]] = []

    def __init__(self) -> None:
        # The harness drops a model after its run; close those left open here,
        # where no event loop is running.
        SystemModel.close_all()
        SystemModel._open.append(self)
        # a plain selector loop (whatever the event loop policy), whose run
        # queue `_settle` can see
        self.loop = asyncio.SelectorEventLoop()
        self.asks: dict[int, _Ask] = {}
        self.ids = itertools.count()
        self.current: dict[str, _Handler | None] = dict.fromkeys(ACTORS)
        # each actor's queue as the adapter knows it, in arrival order: the
        # messages in its mailbox, then those of its blocked WAIT senders
        self.queued: dict[str, list[tuple[str, int]]] = {a: [] for a in ACTORS}
        self.puppets = {a: _Puppet(self, a) for a in ACTORS}
        self.refs: dict[str, ActorRef[tuple[str, int], int]] = {}
        self.runner: Runner | None = None
        self._stop: anyio.Event | None = None
        self._main = self.loop.create_task(self._serve())
        self._settle()
        self._hosts()

    def deadlock_check(self) -> DeadlockCheck | None:
        return None  # the runner's default: the Python reference

    @staticmethod
    def close_all() -> None:
        """Close every model still open (the harness never says when a run is over)."""
        while SystemModel._open:
            SystemModel._open.pop().close()

    async def _serve(self) -> None:
        self._stop = anyio.Event()
        async with Runner(would_deadlock=self.deadlock_check()) as runner:
            self.runner = runner
            for name, puppet in self.puppets.items():
                self.refs[name] = runner.spawn(
                    lambda p=puppet: p,  # type: ignore[misc]
                    name=name,
                    mailbox_size=_MAILBOX,
                    overflow=Overflow.WAIT,
                )
            await self._stop.wait()
            await runner.shutdown(drain=False)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        if self._stop is not None:
            self._settle(self._stop.set)
        if not self._main.done():
            self._main.cancel()
            self._settle()
        self.loop.close()

    # -- stepping the event loop -----------------------------------------------

    def _settle(self, then: Callable[[], object] | None = None) -> None:
        """Run `then` inside the loop, then the loop until no task is ready.

        When it returns every effect of the step is visible.
        """

        async def idle() -> None:
            if then is not None:
                then()
            ready = self.loop._ready  # type: ignore[attr-defined]  # asyncio's run queue
            for _ in range(_MAX_TURNS):
                await asyncio.sleep(0)
                if not ready:
                    return
            raise RuntimeError("the actor system did not settle")

        self.loop.run_until_complete(idle())

    def _hosts(self) -> None:
        """Give every idle actor a host handler, so that it can ask and change state."""

        def send() -> None:
            for name in ACTORS:
                if self.current[name] is None and not self.queued[name]:
                    self.queued[name].append(("host", 0))
                    self.refs[name].send_nowait(("host", 0))

        self._settle(send)

    # -- the spec's actions ----------------------------------------------------

    def init(self) -> bool:
        return True

    def step(self, action: str, *args: Any) -> bool:
        try:
            if action in ("ask", "block"):
                return self._ask(args[0].variant, args[1].variant, action)
            if action == "answer":
                return self._answer(args[0].variant, args[1].variant)
            if action == "handle":
                return self._handle(args[0].variant, args[1])
            raise ValueError(f"unknown action `{action}`")
        finally:
            self._hosts()

    def _ask(self, a: str, b: str, kind: str) -> bool:
        handler = self.current[a]
        assert handler is not None, f"actor {a} has no running handler"
        ask = _Ask(next(self.ids), a, b, kind)
        if kind == "block":
            self._fill(b)  # a WAIT send blocks only on a full mailbox
        self.asks[ask.id] = ask
        # the message joins b's queue (mailbox, then WAIT senders) unless refused
        self.queued[b].append((kind, ask.id))
        self._settle(lambda: handler.order("ask", ask))
        if ask.outcome == "refused":
            self.queued[b].remove((kind, ask.id))
            del self.asks[ask.id]
            return False
        assert ask.outcome is None, ask.outcome
        return True

    def _fill(self, b: str) -> None:
        """Fill b's mailbox with fillers from outside (no edges), up to its capacity."""

        def fill() -> None:
            while len(self.queued[b]) < _MAILBOX:
                self.queued[b].append(("fill", 0))
                self.refs[b].send_nowait(("fill", 0))

        self._settle(fill)

    def _outstanding(self, a: str, b: str) -> list[_Ask]:
        return [
            x for x in self.asks.values() if x.asker == a and x.target == b and x.outcome is None
        ]

    def _answer(self, a: str, b: str) -> bool:
        pending = self._outstanding(a, b)
        for ask in pending:
            self._end(ask)
        return bool(pending)

    def _next_live(self, b: str) -> _Ask | None:
        for kind, ask_id in self.queued[b]:
            ask = self.asks.get(ask_id) if kind == "ask" else None
            if ask is not None and ask.outcome is None:
                return ask
        return None

    def _end(self, ask: _Ask) -> None:
        """End one outstanding wait: by b's reply (an ask) or a freed slot (a blocked
        send) if b can give it now, else by cancelling it.

        b may take messages for an ask only when no blocked send waits on it,
        and for a blocked send only when that send is the one waiting: taking
        a message hands the freed slot to the oldest blocked sender, ending a
        wait the spec still has.
        """
        b = ask.target
        handler = self.current[b]
        free = handler is not None and not handler.children and ask.kind == "ask"
        blocked = any(
            x.kind == "block" and x.target == b and not x.outcome for x in self.asks.values()
        )
        if (
            free
            and not blocked
            and handler is not None
            and (handler.serving is None or handler.serving.outcome is not None)
            and self._next_live(b) is ask
        ):
            host = handler
            self._settle(lambda: host.order("return"))  # it ends; b takes the next message
            handler = self.current[b]
        if handler is not None and handler.serving is ask and not handler.children and not blocked:
            serving = handler
            self._settle(lambda: serving.order("return"))  # b replies to a
        waiting = self.queued[b][_MAILBOX:]
        if (
            ask.kind == "block"
            and waiting == [("block", ask.id)]
            and handler is not None
            and (handler.serving is None or handler.serving.outcome is not None)
            and not handler.children
        ):
            # the only blocked sender: b's host handler ends, b takes a message,
            # and the freed slot goes to a's send
            host_b = handler
            self._settle(lambda: host_b.order("return"))
        if ask.outcome is None and ask.scope is not None:
            # Messages queued at or beyond the capacity are WAIT senders' still:
            # cancelled, they never reach the mailbox (one b already took is
            # not queued at all).
            entry = (ask.kind, ask.id)
            queue = self.queued[b]
            if entry in queue and queue.index(entry) >= _MAILBOX:
                queue.remove(entry)
            self._settle(ask.scope.cancel)  # a gives up, as a timeout would make it
        assert ask.outcome in ("replied", "admitted", "cancelled"), ask.outcome

    def _handle(self, a: str, v: int) -> bool:
        handler = self.current[a]
        assert handler is not None, f"actor {a} has no running handler"
        if handler.children:
            return False  # a's handler is blocked on its asks: it changes nothing
        self._settle(lambda: handler.order("set", v))
        return True

    def state(self) -> dict[str, Any]:
        assert self.runner is not None
        waits = self.runner.waits
        return {
            "state": MapValue({_actor(a): self.puppets[a].value for a in ACTORS}),
            "waits": MapValue(
                {_actor(a): frozenset(_actor(b) for b in waits.get(a, ())) for a in ACTORS}
            ),
        }


atexit.register(SystemModel.close_all)


def _actor(name: str) -> EnumValue:
    return EnumValue("Actor", name)


class RustSystemModel(SystemModel):
    """The same machine with the Runner's deadlock check taken from the Rust core."""

    backend = "rust"

    def deadlock_check(self) -> DeadlockCheck | None:
        from lion.kernel.backend import get_backend

        return get_backend("rust").would_deadlock
