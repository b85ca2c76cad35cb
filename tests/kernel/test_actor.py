"""Tests for lion.kernel.actor: the pure Mailbox machine and the async Runner."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import os
from collections.abc import Callable
from typing import Any

import anyio
import anyio.abc
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import lion.kernel.actor as actor_module
from lion.errors import (
    ActorError,
    ActorStoppedError,
    AskTimeoutError,
    DeadlockError,
    KernelError,
    MailboxFullError,
)
from lion.kernel.actor import (
    EXTERNAL,
    Actor,
    ActorRef,
    ActorStatus,
    Context,
    Envelope,
    Mailbox,
    MailboxPhase,
    Offer,
    Overflow,
    Runner,
    ShutdownReport,
    Strategy,
    Supervision,
    SupervisionAction,
    check_immutable,
    decide_restart,
    wait_path,
    would_deadlock,
)

EXAMPLES = int(os.environ.get("LION_EXAMPLES", "60"))
LIMIT = 10.0  # seconds: every async test fails instead of hanging


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# =============================================================================
# The pure Mailbox machine against a reference model
# =============================================================================


class MailboxModel(RuleBasedStateMachine):
    """The model is a plain list, a closed flag and counters."""

    @initialize(capacity=st.integers(1, 5))
    def start(self, capacity: int) -> None:
        self.box: Mailbox[int] = Mailbox(capacity)
        self.capacity = capacity
        self.queue: list[tuple[str, int]] = []
        self.closed = False
        self.stopped = False
        self.accepted = self.taken = self.drained = 0
        self.next_seq = {"a": 0, "b": 0, "c": 0}
        self.last_out = {"a": -1, "b": -1, "c": -1}

    def _check_fifo(self, entries: tuple[tuple[str, int], ...]) -> None:
        for sender, seq in entries:
            assert seq > self.last_out[sender], "per-sender FIFO broken"
            self.last_out[sender] = seq

    @rule(sender=st.sampled_from("abc"))
    def offer(self, sender: str) -> None:
        seq = self.next_seq[sender]
        result = self.box.offer(sender, seq)
        if self.closed:
            assert result is Offer.CLOSED
        elif len(self.queue) >= self.capacity:
            assert result is Offer.FULL
        else:
            assert result is Offer.ACCEPTED
            self.queue.append((sender, seq))
            self.accepted += 1
            self.next_seq[sender] += 1

    @rule()
    def take(self) -> None:
        if not self.queue:
            with pytest.raises(ActorError, match="empty mailbox"):
                self.box.take()
            return
        entry = self.box.take()
        assert entry == self.queue.pop(0)
        self.taken += 1
        self._check_fifo((entry,))

    @rule()
    def close(self) -> None:
        self.box.close()
        self.closed = True

    @rule()
    def drain(self) -> None:
        entries = self.box.drain()
        assert entries == tuple(self.queue)
        self._check_fifo(entries)
        self.drained += len(self.queue)
        self.queue.clear()
        self.stopped = self.stopped or self.closed

    @rule()
    def finish(self) -> None:
        if self.closed and not self.queue:
            self.box.finish()
            self.stopped = True
        else:
            with pytest.raises(ActorError, match="cannot finish"):
                self.box.finish()

    @invariant()
    def agrees(self) -> None:
        assert self.box.pending() == tuple(self.queue)
        assert len(self.box) == self.box.size == len(self.queue) <= self.capacity
        assert self.box.capacity == self.capacity
        assert self.box.closed is self.closed
        phase = "stopped" if self.stopped else "stopping" if self.closed else "running"
        assert self.box.phase == phase
        if self.box.phase is MailboxPhase.STOPPED:  # the spec's stopped_is_empty
            assert self.box.empty
        assert self.box.full is (len(self.queue) == self.capacity)
        assert self.box.empty is (not self.queue)
        assert (self.box.accepted, self.box.taken, self.box.drained) == (
            self.accepted,
            self.taken,
            self.drained,
        )
        # No accepted entry is ever lost.
        assert self.box.accepted == self.box.taken + self.box.drained + self.box.size


TestMailboxModel = MailboxModel.TestCase
TestMailboxModel.settings = settings(max_examples=EXAMPLES, stateful_step_count=30, deadline=None)


@pytest.mark.parametrize("capacity", [0, -1, 1.5, True, "3", None])
def test_mailbox_rejects_bad_capacity(capacity: Any) -> None:
    with pytest.raises(ActorError, match="capacity"):
        Mailbox(capacity)


def test_closed_mailbox_still_delivers_what_it_accepted() -> None:
    box: Mailbox[str] = Mailbox(2)
    assert box.offer("a", "x") is Offer.ACCEPTED
    box.close()
    box.close()  # idempotent
    assert box.offer("a", "y") is Offer.CLOSED
    assert box.take() == ("a", "x")
    assert box.drain() == ()


# =============================================================================
# Pure helpers: immutability, restart decisions, the wait-for graph
# =============================================================================


class Colour(enum.Enum):
    RED = 1


@dataclasses.dataclass(frozen=True)
class FrozenPoint:
    x: int
    tags: tuple[str, ...]


@dataclasses.dataclass
class MutablePoint:
    x: int


class FrozenStruct(msgspec.Struct, frozen=True):
    name: str
    items: tuple[int, ...]


class LooseStruct(msgspec.Struct):
    name: str


class HoldsList(msgspec.Struct, frozen=True):
    items: list[int]


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        2.5,
        "s",
        b"b",
        (1, ("a", frozenset({2, 3}))),
        Colour.RED,
        FrozenPoint(1, ("a",)),
        FrozenStruct("n", (1, 2)),
        (FrozenStruct("n", ()), FrozenPoint(2, ())),
    ],
)
def test_immutable_values_are_accepted(value: object) -> None:
    check_immutable(value)


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ([1], "message of type `list`"),
        ({"a": 1}, "message of type `dict`"),
        ({1}, "message of type `set`"),
        (bytearray(b"x"), "`bytearray`"),
        ((1, (2, [3])), r"message\[1\]\[1\] of type `list`"),
        (FrozenPoint(1, ([],)), r"message\.tags\[0\] of type `list`"),  # type: ignore[arg-type]
        (MutablePoint(1), "`MutablePoint`"),
        (LooseStruct("n"), "`LooseStruct`"),
        (HoldsList([1]), r"message\.items of type `list`"),
        (object(), "`object`"),
        (lambda: 1, "`function`"),
    ],
)
def test_mutable_values_are_rejected_with_their_path(value: object, where: str) -> None:
    with pytest.raises(ActorError, match=where):
        check_immutable(value)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=3) | st.binary(max_size=3),
        lambda inner: st.lists(inner, max_size=3).map(tuple) | st.frozensets(inner, max_size=3),
        max_leaves=10,
    )
)
def test_nested_immutables_pass_and_a_list_anywhere_fails(value: object) -> None:
    check_immutable(value)
    with pytest.raises(ActorError, match="`list`"):
        check_immutable((value, [value]))


def test_supervision_rejects_bad_settings() -> None:
    with pytest.raises(ActorError, match="max_restarts"):
        Supervision.restart(max_restarts=-1)
    with pytest.raises(ActorError, match="window"):
        Supervision.restart(window=0)
    with pytest.raises(ActorError, match="strategy"):
        Supervision("restart")  # type: ignore[arg-type]


def test_decide_restart_stop_never_restarts() -> None:
    assert decide_restart(Supervision.stop(), (), 1.0) == (SupervisionAction.STOPPED, ())


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    max_restarts=st.integers(0, 4),
    window=st.integers(1, 10),
    gaps=st.lists(st.integers(0, 6), max_size=20),
)
def test_decide_restart_bounds_restarts_in_every_window(
    max_restarts: int, window: int, gaps: list[int]
) -> None:
    policy = Supervision.restart(max_restarts, float(window))
    history: tuple[float, ...] = ()
    now = 0.0
    granted: list[float] = []
    for gap in gaps:
        now += gap
        action, history = decide_restart(policy, history, now)
        # Model: a restart is granted iff fewer than max_restarts were granted
        # within the window before now; older ones are forgotten.
        due = sum(1 for t in granted if now - t < window) < max_restarts
        assert (action is SupervisionAction.RESTARTED) is due
        if action is SupervisionAction.RESTARTED:
            granted.append(now)
            assert history[-1] == now
        assert len(history) <= max_restarts
        if action is SupervisionAction.STOPPED:
            break  # a stopped actor fails no more
    for t in granted:
        assert sum(1 for u in granted if t <= u < t + window) <= max_restarts
    # The first failure is restarted unless no restarts are allowed at all.
    if gaps:
        first, _ = decide_restart(policy, (), 0.0)
        assert (first is SupervisionAction.RESTARTED) is (max_restarts > 0)


def test_restarts_older_than_the_window_are_forgotten() -> None:
    policy = Supervision.restart(max_restarts=1, window=10.0)
    action, history = decide_restart(policy, (), 0.0)
    assert (action, history) == (SupervisionAction.RESTARTED, (0.0,))
    assert decide_restart(policy, history, 9.5)[0] is SupervisionAction.STOPPED
    assert decide_restart(policy, history, 10.0) == (SupervisionAction.RESTARTED, (10.0,))


def test_would_deadlock_follows_the_chain() -> None:
    assert would_deadlock({}, "a", "a")
    assert not would_deadlock({}, "a", "b")
    assert would_deadlock({"b": "a"}, "a", "b")
    assert would_deadlock({"b": "c", "c": "a"}, "a", "b")
    assert not would_deadlock({"b": "c", "c": "d"}, "a", "b")
    assert not would_deadlock({"x": "y", "y": "x"}, "a", "b")  # an unrelated cycle


def test_would_deadlock_follows_every_outstanding_wait() -> None:
    # a handler of `a` asks `b` and `c` at once: both are edges, in either order
    assert would_deadlock({"a": ["b", "c"]}, "c", "a")
    assert would_deadlock({"a": ["c", "b"]}, "c", "a")
    assert would_deadlock({"a": ("b", "b")}, "b", "a")  # the same target twice
    assert not would_deadlock({"a": ["b", "c"]}, "d", "a")
    # a branch that dead-ends does not hide one that comes back
    assert would_deadlock({"b": ["d", "e"], "e": ["a"]}, "a", "b")
    assert not would_deadlock({"b": ["d", "e"], "e": []}, "a", "b")
    assert not would_deadlock({"a": "bc"}, "b", "a")  # a string is one name, not its letters
    assert wait_path({"b": ["d", "e"], "e": ["a"]}, "b", "a") == ("b", "e", "a")


# =============================================================================
# Actors used by the runner tests
# =============================================================================


@dataclasses.dataclass
class Probe:
    """The test's window on an actor: what it handled, and a gate to hold it."""

    log: list[tuple[str, object]] = dataclasses.field(default_factory=list)
    gate: anyio.Event = dataclasses.field(default_factory=anyio.Event)
    entered: anyio.Event = dataclasses.field(default_factory=anyio.Event)
    starts: int = 0


class Logger(Actor[object, object]):
    """Logs each message; "block" waits on the gate, "boom" raises; replies with its count."""

    def __init__(self, probe: Probe) -> None:
        probe.starts += 1
        self.probe = probe
        self.count = 0

    async def receive(self, message: object, ctx: Context) -> object:
        if message == "block":
            self.probe.entered.set()
            await self.probe.gate.wait()
        if message == "boom":
            raise RuntimeError("boom")
        self.count += 1
        self.probe.log.append((ctx.sender, message))
        return self.count


def logger(probe: Probe) -> Callable[[], Logger]:
    return lambda: Logger(probe)


async def spawn_blocked(
    runner: Runner, probe: Probe, *, size: int, overflow: Overflow, name: str = "box"
) -> ActorRef[object, object]:
    """An actor stuck in its handler on "block", with a full mailbox of `size` messages."""
    ref = runner.spawn(logger(probe), name=name, mailbox_size=size, overflow=overflow)
    await ref.send("block")
    await probe.entered.wait()
    for i in range(size):
        ref.send_nowait(("queued", i))
    assert ref.queued == size
    return ref


# =============================================================================
# Runner: structure, FIFO, overflow
# =============================================================================


class Sink(Actor[tuple[str, int], None]):
    def __init__(self, log: list[tuple[str, int]], done: anyio.Event, expected: int) -> None:
        self.log, self.done, self.expected = log, done, expected

    async def receive(self, message: tuple[str, int], ctx: Context) -> None:
        assert ctx.sender == message[0]
        self.log.append(message)
        if len(self.log) == self.expected:
            self.done.set()


class Producer(Actor[int, None]):
    """On `n`, sends n numbered messages to the sink; records its task's parent."""

    def __init__(self, sink: ActorRef[tuple[str, int], None], parents: set[int | None]) -> None:
        self.sink, self.parents = sink, parents

    async def receive(self, message: int, ctx: Context) -> None:
        self.parents.add(anyio.get_current_task().parent_id)
        for i in range(message):
            await self.sink.send((ctx.ref.name, i), timeout=LIMIT)


@pytest.mark.anyio
async def test_per_sender_fifo_with_many_concurrent_senders_in_one_task_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created: list[anyio.abc.TaskGroup] = []
    real = anyio.create_task_group

    def counting() -> anyio.abc.TaskGroup:
        created.append(real())
        return created[-1]

    monkeypatch.setattr(anyio, "create_task_group", counting)
    senders, per_sender = 8, 40
    log: list[tuple[str, int]] = []
    done = anyio.Event()
    parents: set[int | None] = set()
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            # A tiny WAIT mailbox makes the producers queue for slots all the time.
            sink = runner.spawn(
                lambda: Sink(log, done, senders * per_sender), name="sink", mailbox_size=2
            )
            for k in range(senders):
                producer = runner.spawn(lambda: Producer(sink, parents), name=f"p{k}")
                await producer.send(per_sender)
            await done.wait()
        host = anyio.get_current_task().id
    for k in range(senders):
        assert [i for s, i in log if s == f"p{k}"] == list(range(per_sender))
    assert len({s for s, _ in log[: senders * 2]}) > 1, "senders were not interleaved"
    # Structure: exactly one task group, and every actor task is its direct child.
    assert len(created) == 1
    assert parents == {host}
    report = runner.report
    assert report is not None
    assert report.drained
    assert report.accepted["sink"] == report.processed["sink"] == senders * per_sender


@pytest.mark.anyio
async def test_actors_spawned_from_handlers_join_the_same_task_group() -> None:
    parents: list[int | None] = []

    class Child(Actor[str, int | None]):
        async def receive(self, message: str, ctx: Context) -> int | None:
            return anyio.get_current_task().parent_id

    class Parent(Actor[str, int | None]):
        async def receive(self, message: str, ctx: Context) -> int | None:
            child = ctx.runner.spawn(Child, name=message)
            parents.append(anyio.get_current_task().parent_id)
            return await child.ask("who", timeout=LIMIT)

    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            parent = runner.spawn(Parent, name="parent")
            child_parent = await parent.ask("kid", timeout=LIMIT)
        host = anyio.get_current_task().id
    assert child_parent == host
    assert parents == [host]
    assert runner.names == ("parent", "kid")


@pytest.mark.anyio
async def test_wait_overflow_times_out_without_enqueueing() -> None:
    probe = Probe()
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            ref = await spawn_blocked(runner, probe, size=2, overflow=Overflow.WAIT)
            with pytest.raises(MailboxFullError, match="stayed full"):
                await ref.send("late", timeout=0.01)
            assert ref.queued == 2
            probe.gate.set()
    assert [m for _, m in probe.log] == ["block", ("queued", 0), ("queued", 1)]


@pytest.mark.anyio
async def test_wait_overflow_admits_waiting_senders_in_arrival_order() -> None:
    probe = Probe()
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            ref = await spawn_blocked(runner, probe, size=1, overflow=Overflow.WAIT)
            async with anyio.create_task_group() as tg:
                for i in range(4):
                    tg.start_soon(ref.send, ("waiting", i))
                    await anyio.wait_all_tasks_blocked()
                probe.gate.set()
    assert [m for _, m in probe.log] == [
        "block",
        ("queued", 0),
        *[("waiting", i) for i in range(4)],
    ]


@pytest.mark.anyio
async def test_refuse_overflow_fails_at_once_and_drops_nothing_accepted() -> None:
    probe = Probe()
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            ref = await spawn_blocked(runner, probe, size=2, overflow=Overflow.REFUSE)
            with pytest.raises(MailboxFullError, match="is full"):
                await ref.send("refused")
            with pytest.raises(MailboxFullError):
                ref.send_nowait("refused too")
            assert ref.queued == 2
            probe.gate.set()
    assert ("<external>", "refused") not in probe.log
    assert len(probe.log) == 3
    report = runner.report
    assert report is not None
    assert report.accepted["box"] == report.processed["box"] == 3


@pytest.mark.anyio
async def test_cancelling_a_waiting_sender_leaves_the_mailbox_consistent() -> None:
    probe = Probe()
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            ref = await spawn_blocked(runner, probe, size=1, overflow=Overflow.WAIT)
            async with anyio.create_task_group() as tg:
                tg.start_soon(ref.send, "first")
                await anyio.wait_all_tasks_blocked()
                with anyio.CancelScope() as doomed:
                    doomed.cancel()
                    await ref.send("cancelled")
                tg.start_soon(ref.send, "last")
                await anyio.wait_all_tasks_blocked()
                assert ref.queued == 1
                probe.gate.set()
            await ref.ask("sync", timeout=LIMIT)
    handled = [m for _, m in probe.log]
    assert handled == ["block", ("queued", 0), "first", "last", "sync"]
    report = runner.report
    assert report is not None
    assert report.drained
    assert report.accepted["box"] == report.processed["box"] == 5


@pytest.mark.anyio
async def test_cancelled_waiter_in_the_middle_keeps_the_others_in_order() -> None:
    probe = Probe()
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            ref = await spawn_blocked(runner, probe, size=1, overflow=Overflow.WAIT)
            async with anyio.create_task_group() as outer:
                outer.start_soon(ref.send, "w0")
                await anyio.wait_all_tasks_blocked()
                scope = anyio.CancelScope()

                async def doomed() -> None:
                    with scope:
                        await ref.send("w1")

                outer.start_soon(doomed)
                await anyio.wait_all_tasks_blocked()
                outer.start_soon(ref.send, "w2")
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
                await anyio.wait_all_tasks_blocked()
                probe.gate.set()
    assert [m for _, m in probe.log] == ["block", ("queued", 0), "w0", "w2"]


@pytest.mark.anyio
async def test_messages_must_be_immutable_and_a_bad_one_changes_nothing() -> None:
    probe = Probe()
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            ref = runner.spawn(logger(probe), name="box")
            with pytest.raises(ActorError, match="`list` is mutable"):
                await ref.send([1, 2])
            with pytest.raises(ActorError, match="`dict` is mutable"):
                await ref.ask({"k": 1}, timeout=LIMIT)
            assert await ref.ask(FrozenStruct("ok", (1,)), timeout=LIMIT) == 1
    report = runner.report
    assert report is not None
    assert report.accepted["box"] == 1


@pytest.mark.anyio
async def test_a_mutable_reply_is_a_handler_failure() -> None:
    class Leaky(Actor[str, list[int]]):
        def __init__(self) -> None:
            self.items = [1]

        async def receive(self, message: str, ctx: Context) -> list[int]:
            return self.items  # would hand out the actor's private state

    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            ref = runner.spawn(Leaky, name="leaky")
            with pytest.raises(ActorError, match="failed handling") as caught:
                await ref.ask("items", timeout=LIMIT)
            assert "reply of type `list`" in str(caught.value.__cause__)
            assert ref.status is ActorStatus.STOPPED
    assert [f.actor for f in runner.failures] == ["leaky"]


def test_a_reference_exposes_no_state() -> None:
    async def main() -> None:
        async with Runner() as runner:
            ref = runner.spawn(logger(Probe()), name="box")
            assert not hasattr(ref, "__dict__")
            assert {s for s in type(ref).__slots__} == {"_name", "_runner"}
            with pytest.raises(AttributeError):
                ref.count  # type: ignore[attr-defined]  # noqa: B018
            assert ref == runner.ref("box")
            assert hash(ref) == hash(runner.ref("box"))

    anyio.run(main, backend="asyncio")


# =============================================================================
# Supervision
# =============================================================================


@pytest.mark.anyio
async def test_restart_gives_fresh_state_and_leaves_other_actors_alone() -> None:
    crashy, steady = Probe(), Probe()
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            a = runner.spawn(logger(crashy), name="a", supervision=Supervision.restart(2, 60))
            b = runner.spawn(logger(steady), name="b")
            assert await a.ask("x", timeout=LIMIT) == 1
            assert await a.ask("y", timeout=LIMIT) == 2
            assert await b.ask("x", timeout=LIMIT) == 1
            with pytest.raises(ActorError, match="failed handling the message: RuntimeError"):
                await a.ask("boom", timeout=LIMIT)
            assert await a.ask("z", timeout=LIMIT) == 1  # fresh state from the factory
            assert await b.ask("y", timeout=LIMIT) == 2  # untouched
            assert a.status is ActorStatus.RUNNING
    assert crashy.starts == 2
    [failure] = runner.failures
    assert (failure.actor, failure.sender, failure.message) == ("a", EXTERNAL, "boom")
    assert failure.action is SupervisionAction.RESTARTED
    assert isinstance(failure.error, RuntimeError)


@pytest.mark.anyio
async def test_too_many_restarts_in_the_window_stop_the_actor() -> None:
    probe, other = Probe(), Probe()
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            a = runner.spawn(logger(probe), name="a", supervision=Supervision.restart(2, 3600))
            b = runner.spawn(logger(other), name="b")
            for _ in range(2):
                with pytest.raises(ActorError):
                    await a.ask("boom", timeout=LIMIT)
                assert a.status is ActorStatus.RUNNING
            with pytest.raises(ActorError):
                await a.ask("boom", timeout=LIMIT)
            assert a.status is ActorStatus.STOPPED
            with pytest.raises(ActorStoppedError, match="has stopped"):
                await a.send("after")
            assert await b.ask("still here", timeout=LIMIT) == 1
    assert [f.action for f in runner.failures] == [
        SupervisionAction.RESTARTED,
        SupervisionAction.RESTARTED,
        SupervisionAction.STOPPED,
    ]
    assert probe.starts == 3


@pytest.mark.anyio
async def test_stop_strands_queued_messages_into_the_report_and_fails_their_asks() -> None:
    probe = Probe()
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            a = runner.spawn(
                logger(probe), name="a", mailbox_size=8, supervision=Supervision.stop()
            )
            await a.send("block")
            await probe.entered.wait()
            await a.send("boom")
            await a.send("left 1")
            results: list[BaseException] = []

            async def asker() -> None:
                try:
                    await a.ask("left ask", timeout=LIMIT)
                except ActorError as error:
                    results.append(error)

            async with anyio.create_task_group() as tg:
                tg.start_soon(asker)
                await anyio.wait_all_tasks_blocked()
                probe.gate.set()
            assert a.status is ActorStatus.STOPPED
    [error] = results
    assert isinstance(error, ActorStoppedError)
    report = runner.report
    assert report is not None
    assert not report.drained
    assert report.unprocessed["a"] == (
        Envelope(EXTERNAL, "left 1"),
        Envelope(EXTERNAL, "left ask"),
    )
    assert report.failed["a"] == 1
    assert report.processed["a"] == 1
    assert report.accepted["a"] == 4


@pytest.mark.anyio
async def test_a_factory_that_fails_on_restart_stops_the_actor() -> None:
    made: list[int] = []

    class Fragile(Actor[str, str]):
        def __init__(self) -> None:
            if made:
                raise OSError("no second life")
            made.append(1)

        async def receive(self, message: str, ctx: Context) -> str:
            raise ValueError(message)

    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            ref = runner.spawn(Fragile, name="f", supervision=Supervision.restart())
            with pytest.raises(ActorError):
                await ref.ask("die", timeout=LIMIT)
            assert ref.status is ActorStatus.STOPPED
    [failure] = runner.failures
    assert failure.action is SupervisionAction.STOPPED
    assert failure.restart_error is not None
    assert "no second life" in str(failure.restart_error)


# =============================================================================
# Shutdown
# =============================================================================


@pytest.mark.anyio
async def test_shutdown_drain_processes_every_accepted_message() -> None:
    probe = Probe()
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            ref = runner.spawn(logger(probe), name="box", mailbox_size=50)
            await ref.send("block")
            await probe.entered.wait()
            for i in range(20):
                ref.send_nowait(i)
            probe.gate.set()
            report = await runner.shutdown(drain=True)
            assert await runner.shutdown() is report  # idempotent
            with pytest.raises(ActorStoppedError):
                await ref.send("after")
            with pytest.raises(ActorStoppedError):
                runner.spawn(logger(Probe()))
    assert report.drained
    assert [m for _, m in probe.log] == ["block", *range(20)]
    assert report.accepted["box"] == report.processed["box"] == 21
    assert runner.report is report


@pytest.mark.anyio
async def test_shutdown_without_drain_reports_every_unprocessed_message() -> None:
    probe, idle = Probe(), Probe()
    errors: list[BaseException] = []
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            ref = runner.spawn(logger(probe), name="box", mailbox_size=8)
            runner.spawn(logger(idle), name="idle")
            await ref.send("block", sender="alice")
            await probe.entered.wait()
            await ref.send("m1", sender="alice")
            await ref.send("m2", sender="bob")

            async def asker() -> None:
                try:
                    await ref.ask("question", timeout=LIMIT)
                except ActorError as error:
                    errors.append(error)

            async with anyio.create_task_group() as tg:
                tg.start_soon(asker)
                await anyio.wait_all_tasks_blocked()
                report = await runner.shutdown(drain=False)
    assert probe.log == []  # the blocked handler was interrupted
    assert report.unprocessed["box"] == (
        Envelope("alice", "block"),
        Envelope("alice", "m1"),
        Envelope("bob", "m2"),
        Envelope(EXTERNAL, "question"),
    )
    assert report.unprocessed["idle"] == ()
    assert not report.drained
    [error] = errors
    assert isinstance(error, ActorStoppedError)
    for name in ("box", "idle"):
        assert report.accepted[name] == (
            report.processed[name] + report.failed[name] + len(report.unprocessed[name])
        )


@pytest.mark.anyio
async def test_shutdown_rejects_senders_still_waiting_for_a_slot() -> None:
    probe = Probe()
    errors: list[BaseException] = []
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            ref = await spawn_blocked(runner, probe, size=1, overflow=Overflow.WAIT)

            async def waiting_sender() -> None:
                try:
                    await ref.send("never accepted", timeout=LIMIT)
                except ActorError as error:
                    errors.append(error)

            async with anyio.create_task_group() as tg:
                tg.start_soon(waiting_sender)
                await anyio.wait_all_tasks_blocked()
                probe.gate.set()
                report = await runner.shutdown(drain=True)
    assert report.drained
    [error] = errors
    assert isinstance(error, ActorStoppedError)
    assert "never accepted" not in [m for _, m in probe.log]


@pytest.mark.anyio
async def test_drain_with_timeout_reports_what_it_could_not_finish() -> None:
    probe = Probe()
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            ref = runner.spawn(logger(probe), name="box")
            await ref.send("block")
            await ref.send("after block")
            await probe.entered.wait()
            report = await runner.shutdown(drain=True, timeout=0.01)
    assert report.unprocessed["box"] == (
        Envelope(EXTERNAL, "block"),
        Envelope(EXTERNAL, "after block"),
    )


@pytest.mark.anyio
async def test_a_cancelled_shutdown_still_stops_everything_and_reports() -> None:
    probe = Probe()
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            ref = runner.spawn(logger(probe), name="box")
            await ref.send("block")
            await ref.send("queued")
            await probe.entered.wait()
            async with anyio.create_task_group() as tg:
                tg.start_soon(runner.shutdown)
                await anyio.wait_all_tasks_blocked()
                tg.cancel_scope.cancel()
            report = runner.report
            assert report is not None
            assert await runner.shutdown() is report
            assert ref.status is ActorStatus.STOPPED
    final = runner.report
    assert final is not None
    assert [e.message for e in final.unprocessed["box"]] == ["block", "queued"]


@pytest.mark.anyio
async def test_a_handler_cannot_await_its_own_runners_shutdown() -> None:
    class Quitter(Actor[str, str]):
        async def receive(self, message: str, ctx: Context) -> str:
            try:
                await ctx.runner.shutdown()
            except ActorError as error:
                return str(error)
            return "shut down"

    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            quitter = runner.spawn(Quitter, name="q")
            reply = await quitter.ask("quit", timeout=LIMIT)
    assert reply.startswith("actor `q` cannot await shutdown of its own runner")


@pytest.mark.anyio
async def test_leaving_the_block_with_an_error_stops_actors_and_reports() -> None:
    probe = Probe()
    runner = Runner()

    async def body() -> None:
        async with runner:
            ref = runner.spawn(logger(probe), name="box")
            await ref.send("block")
            await ref.send("queued")
            await probe.entered.wait()
            raise KeyError("body failed")

    with anyio.fail_after(LIMIT), pytest.raises(KeyError, match="body failed"):
        await body()
    report = runner.report
    assert isinstance(report, ShutdownReport)
    assert [e.message for e in report.unprocessed["box"]] == ["block", "queued"]


@pytest.mark.anyio
async def test_runner_misuse_gives_actor_errors() -> None:
    runner = Runner()
    with pytest.raises(ActorError, match="not running"):
        runner.spawn(logger(Probe()))
    with pytest.raises(ActorError, match="not running"):
        await runner.shutdown()
    with anyio.fail_after(LIMIT):
        async with runner:
            runner.spawn(logger(Probe()), name="x")
            with pytest.raises(ActorError, match="already exists"):
                runner.spawn(logger(Probe()), name="x")
            with pytest.raises(ActorError, match="instance"):
                runner.spawn(Logger(Probe()))  # type: ignore[arg-type]
            with pytest.raises(ActorError, match="mailbox capacity"):
                runner.spawn(logger(Probe()), mailbox_size=0)
            with pytest.raises(ActorError, match="overflow must be"):
                runner.spawn(logger(Probe()), overflow="drop")  # type: ignore[arg-type]
            assert runner.spawn(logger(Probe()), name="r", overflow="refuse")  # type: ignore[arg-type]
            with pytest.raises(ActorError, match="send_timeout"):
                runner.spawn(logger(Probe()), send_timeout=-1)
            with pytest.raises(ActorError, match="expected an `Actor`"):
                runner.spawn(lambda: "not an actor")  # type: ignore[arg-type, return-value]
            with pytest.raises(ActorError, match="no actor named `nope`"):
                runner.ref("nope")
            with pytest.raises(ActorError, match="ask timeout"):
                await runner.ref("x").ask("q", timeout=0)
            assert runner.names == ("x", "r")
    with pytest.raises(ActorError, match="only once"):
        async with runner:
            pass


# =============================================================================
# Asks, timeouts and deadlock freedom
# =============================================================================


@pytest.mark.anyio
async def test_ask_timeout_keeps_the_message_accepted() -> None:
    probe = Probe()
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            ref = runner.spawn(logger(probe), name="box")
            await ref.send("block")
            await probe.entered.wait()
            with pytest.raises(AskTimeoutError, match="did not reply"):
                await ref.ask("slow", timeout=0.01)
            probe.gate.set()
    assert [m for _, m in probe.log] == ["block", "slow"]


@pytest.mark.anyio
async def test_an_ask_into_a_full_wait_mailbox_that_never_frees_is_a_full_error() -> None:
    probe = Probe()
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            ref = await spawn_blocked(runner, probe, size=1, overflow=Overflow.WAIT)
            with pytest.raises(MailboxFullError, match="for the ask"):
                await ref.ask("q", timeout=0.01)
            assert ref.queued == 1
            probe.gate.set()


class Relay(Actor[tuple[str, ...], object]):
    """("ask", target, ...rest) asks `target` with the rest; DeadlockError becomes a reply."""

    async def receive(self, message: tuple[str, ...], ctx: Context) -> object:
        if not message:
            return "done"
        target, rest = message[0], message[1:]
        try:
            return await ctx.runner.ref(target).ask(rest, timeout=LIMIT)
        except DeadlockError as error:
            return f"refused: {error}"


@pytest.mark.anyio
async def test_asking_yourself_is_refused_not_hung() -> None:
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            a = runner.spawn(Relay, name="a")
            reply = await a.ask(("a",), timeout=LIMIT)
    assert isinstance(reply, str)
    assert reply.startswith("refused: actor `a` would wait on itself")


@pytest.mark.anyio
async def test_ask_cycles_are_refused_and_chains_work() -> None:
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            for name in "abc":
                runner.spawn(Relay, name=name)
            a = runner.ref("a")
            assert await a.ask(("b", "c"), timeout=LIMIT) == "done"
            reply = await a.ask(("b", "c", "a"), timeout=LIMIT)
            assert (
                reply == "refused: waiting would close the cycle `c` -> `a` -> `b` -> `c`; refused"
            )
            # The graph is clean afterwards: the same chain without the cycle still works.
            assert await a.ask(("c", "b"), timeout=LIMIT) == "done"
    assert runner.failures == ()


@pytest.mark.anyio
async def test_waiting_on_your_own_full_mailbox_is_refused() -> None:
    class SelfSender(Actor[str, str]):
        async def receive(self, message: str, ctx: Context) -> str:
            if message != "go":
                return message
            ctx.ref.send_nowait("fill")
            try:
                await ctx.ref.send("one more", timeout=LIMIT)
            except DeadlockError:
                return "refused"
            return "sent"

    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            ref = runner.spawn(SelfSender, name="s", mailbox_size=1)
            assert await ref.ask("go", timeout=LIMIT) == "refused"


class Gated(Actor[str, str]):
    """Replies to each message once the test opens the next gate (one per message)."""

    def __init__(self, gates: list[anyio.Event]) -> None:
        self.gates = gates
        self.entered = anyio.Event()

    async def receive(self, message: str, ctx: Context) -> str:
        self.entered.set()
        await self.gates.pop(0).wait()
        return f"{ctx.ref.name} done"


class AskBack(Actor[str, str]):
    """Waits for its gate, then asks `a`; a refusal (or a timeout) becomes the reply."""

    def __init__(self, gate: anyio.Event) -> None:
        self.gate = gate
        self.entered = anyio.Event()
        self.answered = anyio.Event()
        self.replies: list[str] = []

    async def receive(self, message: str, ctx: Context) -> str:
        self.entered.set()
        await self.gate.wait()
        try:
            reply = str(await ctx.runner.ref("a").ask("back", timeout=1.0))
        except DeadlockError as error:
            reply = f"refused: {error}"
        except AskTimeoutError:
            reply = "timed out: the cycle was not seen"
        finally:
            self.answered.set()
        self.replies.append(reply)
        return reply


class Fanout(Actor[tuple[str, ...], tuple[str, ...]]):
    """Asks every actor named in the message at once, from a task group in its handler."""

    def __init__(self) -> None:
        self.got: list[str] = []  # replies, as they arrive

    async def receive(self, message: tuple[str, ...], ctx: Context) -> tuple[str, ...]:
        if message == ("back",):
            return ("a answered",)
        replies: dict[int, str] = {}

        async def ask(i: int, target: str) -> None:
            replies[i] = await ctx.runner.ref(target).ask("q", timeout=LIMIT)
            self.got.append(replies[i])

        async with anyio.create_task_group() as tg:
            for i, target in enumerate(message):
                tg.start_soon(ask, i, target)
        return tuple(replies[i] for i in range(len(message)))


async def settle(condition: Callable[[], bool], limit: int = 200) -> None:
    """Let the other tasks run until `condition` holds (a bounded number of turns)."""
    for _ in range(limit):
        if condition():
            return
        await anyio.lowlevel.checkpoint()
    raise AssertionError("the runner never reached the expected state")


@pytest.mark.anyio
@pytest.mark.parametrize("order", [("c", "b"), ("b", "c")])
async def test_a_cycle_through_one_of_two_concurrent_asks_is_refused_at_once(
    order: tuple[str, str],
) -> None:
    # Finding 4 of issue 11: `a` asks `b` and `c` concurrently; `c`'s handler
    # asks `a`. The runner kept one edge per actor, so the second ask hid the
    # first and the cycle a -> c -> a ended only when an ask timed out.
    gate_b, gate_c = anyio.Event(), anyio.Event()
    b, c = Gated([gate_b]), AskBack(gate_c)
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            runner.spawn(Fanout, name="a")
            runner.spawn(lambda: b, name="b")
            runner.spawn(lambda: c, name="c")
            async with anyio.create_task_group() as tg:
                replies: list[tuple[str, ...]] = []

                async def go() -> None:
                    replies.append(await runner.ref("a").ask(order, timeout=LIMIT))

                tg.start_soon(go)
                await b.entered.wait()  # both asks of `a` are outstanding
                await c.entered.wait()
                start = anyio.current_time()
                gate_c.set()  # `c` asks `a` now
                await c.answered.wait()
                elapsed = anyio.current_time() - start
                gate_b.set()
    reply_of_c = replies[0][order.index("c")]
    assert reply_of_c == "refused: waiting would close the cycle `c` -> `a` -> `c`; refused"
    assert elapsed < 0.5  # at once: no ask had to time out


@pytest.mark.anyio
async def test_when_one_of_two_concurrent_asks_ends_the_other_edge_stays() -> None:
    gate_b, gate_c = anyio.Event(), anyio.Event()
    a, b, c = Fanout(), Gated([gate_b]), AskBack(gate_c)
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            runner.spawn(lambda: a, name="a")
            runner.spawn(lambda: b, name="b")
            runner.spawn(lambda: c, name="c")
            async with anyio.create_task_group() as tg:
                replies: list[tuple[str, ...]] = []

                async def go() -> None:
                    replies.append(await runner.ref("a").ask(("b", "c"), timeout=LIMIT))

                tg.start_soon(go)
                await b.entered.wait()
                await c.entered.wait()
                gate_b.set()  # the ask of b ends first ...
                await settle(lambda: a.got == ["b done"])
                assert runner.waits == {"a": ("c",)}
                gate_c.set()  # ... and the ask of c, still outstanding, still counts
    assert replies == [
        ("b done", "refused: waiting would close the cycle `c` -> `a` -> `c`; refused")
    ]
    assert runner.waits == {}


@pytest.mark.anyio
async def test_two_concurrent_asks_of_the_same_actor_are_two_edges() -> None:
    gates = [anyio.Event(), anyio.Event()]
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            runner.spawn(Fanout, name="a")
            runner.spawn(lambda: Gated(list(gates)), name="b")
            async with anyio.create_task_group() as tg:
                replies: list[tuple[str, ...]] = []

                async def go() -> None:
                    replies.append(await runner.ref("a").ask(("b", "b"), timeout=LIMIT))

                tg.start_soon(go)
                await settle(lambda: runner.waits.get("a") == ("b", "b"))
                gates[0].set()  # one ends: the other edge stays
                await settle(lambda: runner.waits.get("a") == ("b",))
                with pytest.raises(TypeError):
                    runner.waits["z"] = ("a",)  # type: ignore[index]  # read-only
                gates[1].set()
    assert replies == [("b done", "b done")]
    assert runner.waits == {}


@pytest.mark.anyio
async def test_a_blocking_send_beside_an_ask_is_an_edge_too() -> None:
    # `a` asks `b` and, at the same time, waits for room in `c`'s full mailbox;
    # `c`'s handler then asks `a`: the blocked send closes a -> c -> a.
    class AskAndSend(Actor[str, str]):
        async def receive(self, message: str, ctx: Context) -> str:
            if message == "back":
                return "a answered"
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: ctx.runner.ref("b").ask("q", timeout=LIMIT))
                tg.start_soon(lambda: ctx.runner.ref("c").send("more", timeout=LIMIT))
            return "done"

    gate_b, gate_c = anyio.Event(), anyio.Event()
    c = AskBack(gate_c)
    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            runner.spawn(AskAndSend, name="a")
            runner.spawn(lambda: Gated([gate_b]), name="b")
            runner.spawn(lambda: c, name="c", mailbox_size=1, overflow=Overflow.WAIT)
            await runner.ref("c").send("first")  # c takes it and waits for its gate
            await c.entered.wait()
            await runner.ref("c").send("fill")  # c's mailbox is now full
            async with anyio.create_task_group() as tg:
                replies: list[str] = []

                async def go() -> None:
                    replies.append(await runner.ref("a").ask("go", timeout=LIMIT))

                tg.start_soon(go)
                await settle(lambda: runner.waits.get("a") == ("b", "c"))
                gate_c.set()
                await c.answered.wait()
                c.gate = anyio.Event()  # c's later handlers wait: the test is over
                gate_b.set()
            c.gate.set()
    assert replies == ["done"]
    assert c.replies[0] == "refused: waiting would close the cycle `c` -> `a` -> `c`; refused"


@pytest.mark.anyio
async def test_the_runner_can_take_its_deadlock_check_from_a_backend() -> None:
    pytest.importorskip("lion._native")
    from lion.kernel.backend import get_backend

    calls: list[tuple[dict[str, tuple[str, ...]], str, str]] = []
    rust = get_backend("rust").would_deadlock

    def check(waits: Any, waiter: str, target: str) -> bool:
        calls.append(({k: tuple(v) for k, v in waits.items()}, waiter, target))
        return rust(waits, waiter, target)

    gate_b, gate_c = anyio.Event(), anyio.Event()
    with anyio.fail_after(LIMIT):
        async with Runner(would_deadlock=check) as runner:
            runner.spawn(Fanout, name="a")
            runner.spawn(lambda: Gated([gate_b]), name="b")
            runner.spawn(lambda: AskBack(gate_c), name="c")
            gate_c.set()
            gate_b.set()
            reply = await runner.ref("a").ask(("b", "c"), timeout=LIMIT)
    assert reply[1].startswith("refused: waiting would close the cycle")
    assert ("c", "a") in [(w, t) for _, w, t in calls]


@pytest.mark.anyio
async def test_inside_a_handler_the_sender_is_the_actor_itself() -> None:
    probe = Probe()

    class Forger(Actor[str, str]):
        async def receive(self, message: str, ctx: Context) -> str:
            sink = ctx.runner.ref("sink")
            try:
                await sink.send("forged", sender="somebody else")
            except ActorError as error:
                await sink.send(("honest", ctx.sender))
                return str(error)
            return "forged"

    with anyio.fail_after(LIMIT):
        async with Runner() as runner:
            runner.spawn(logger(probe), name="sink")
            forger = runner.spawn(Forger, name="forger")
            reply = await forger.ask("go", timeout=LIMIT, sender="alice")
    assert reply == "actor `forger` sends as itself, not as `somebody else`; drop `sender=`"
    assert probe.log == [("forger", ("honest", "alice"))]


# =============================================================================
# A random workload: nothing accepted is ever lost, per-sender order holds
# =============================================================================


@dataclasses.dataclass(frozen=True)
class Step:
    sender: str
    target: int
    boom: bool


def run_workload(
    steps: list[Step], capacity: int, restart: bool, drain: bool
) -> tuple[ShutdownReport, list[list[tuple[str, object]]]]:
    logs: list[list[tuple[str, object]]] = []

    async def main() -> ShutdownReport:
        probes = [Probe(), Probe()]
        for probe in probes:
            probe.gate.set()
            logs.append(probe.log)
        with anyio.fail_after(LIMIT):
            async with Runner() as runner:
                policy = Supervision.restart(2, 3600) if restart else Supervision.stop()
                refs = [
                    runner.spawn(
                        logger(p),
                        name=f"t{i}",
                        mailbox_size=capacity,
                        overflow=Overflow.REFUSE,
                        supervision=policy,
                    )
                    for i, p in enumerate(probes)
                ]
                for n, step in enumerate(steps):
                    message = "boom" if step.boom else (step.sender, n)
                    with contextlib.suppress(MailboxFullError, ActorStoppedError):
                        await refs[step.target].send(message, sender=step.sender)
                report = await runner.shutdown(drain=drain)
        return report

    return anyio.run(main, backend="asyncio"), logs


@settings(max_examples=max(10, EXAMPLES // 3), deadline=None)
@given(
    steps=st.lists(
        st.builds(
            Step,
            sender=st.sampled_from(["x", "y", "z"]),
            target=st.integers(0, 1),
            boom=st.sampled_from([False, False, False, True]),
        ),
        max_size=40,
    ),
    capacity=st.integers(1, 4),
    restart=st.booleans(),
    drain=st.booleans(),
)
def test_random_workloads_lose_nothing_and_keep_sender_order(
    steps: list[Step], capacity: int, restart: bool, drain: bool
) -> None:
    report, logs = run_workload(steps, capacity, restart, drain)
    for i, log in enumerate(logs):
        name = f"t{i}"
        assert report.accepted[name] == (
            report.processed[name] + report.failed[name] + len(report.unprocessed[name])
        )
        assert report.processed[name] == len(log)
        assert report.failed[name] == sum(1 for f in report.failures if f.actor == name)
        # Handled then unprocessed, per sender, in the order they were sent.
        seen = [m for _, m in log] + [e.message for e in report.unprocessed[name]]
        for sender in "xyz":
            numbers = [m[1] for m in seen if isinstance(m, tuple) and m[0] == sender]
            assert numbers == sorted(numbers)
        if drain and not any(f.action is SupervisionAction.STOPPED for f in report.failures):
            assert report.drained


def test_public_names_are_complete_and_sorted() -> None:
    exported = actor_module.__all__
    # isort style, as ruff's RUF022 wants: CONSTANTS, then Classes, then functions.
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    assert set(exported) >= {"Mailbox", "Offer", "Runner", "Actor", "ActorRef", "Overflow"}
    for name in exported:
        assert hasattr(actor_module, name)
    assert issubclass(MailboxFullError, ActorError)
    assert issubclass(ActorError, KernelError)
    assert Strategy.RESTART is Supervision.restart().strategy
