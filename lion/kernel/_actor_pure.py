"""The pure parts of the actor runtime: plain values in, plain values out.

Re-exported by :mod:`lion.kernel.actor`, whose runner drives them:
supervision (:class:`Supervision`, :func:`decide_restart`), the ask guard
(:func:`would_deadlock`, :func:`wait_path`) and the message check
(:func:`check_immutable`). Conformance binds them to ``spec/actors.lion``.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import math
import pathlib
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import msgspec

from lion.errors import ActorError

__all__ = [
    "Overflow",
    "Strategy",
    "Supervision",
    "SupervisionAction",
    "check_duration",
    "check_immutable",
    "decide_restart",
    "wait_path",
    "would_deadlock",
]


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


def check_duration(value: object, what: str) -> float:
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
        check_duration(self.window, "supervision window")

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


def _targets(value: str | Collection[str]) -> Iterable[str]:
    # A single name stands for itself (not for its characters).
    return (value,) if isinstance(value, str) else value


def wait_path(
    waiting_on: Mapping[str, str | Collection[str]], source: str, goal: str
) -> tuple[str, ...] | None:
    """A shortest chain of waits from ``source`` to ``goal`` (both included), or None.

    ``waiting_on`` maps each actor to what it waits on: every outstanding wait
    of its handler (a collection, repeats allowed: two asks of the same actor
    are two edges), or a single name. ``wait_path(w, x, x)`` is ``(x,)``.
    Breadth first over every edge, so the result is deterministic: neighbours
    are visited in the order the collection gives them.
    """
    parent: dict[str, str | None] = {source: None}
    frontier = [source]
    while frontier:
        if goal in parent:
            break
        following: list[str] = []
        for node in frontier:
            for nxt in _targets(waiting_on.get(node, ())):
                if nxt not in parent:
                    parent[nxt] = node
                    following.append(nxt)
        frontier = following
    if goal not in parent:
        return None
    path = [goal]
    while (step := parent[path[-1]]) is not None:
        path.append(step)
    return tuple(reversed(path))


def would_deadlock(
    waiting_on: Mapping[str, str | Collection[str]], waiter: str, target: str
) -> bool:
    """Would adding the wait ``waiter -> target`` close a cycle in the wait-for graph?

    ``waiting_on`` maps each actor to every actor its handler waits on (a
    handler with a task group can have several asks outstanding at once);
    a single name is accepted for one wait. The new edge closes a cycle
    exactly when ``target`` already reaches ``waiter`` over the existing
    edges, or is ``waiter`` itself. Cycles elsewhere in the graph, not
    through ``waiter``, do not count: this edge does not close them.
    """
    return wait_path(waiting_on, target, waiter) is not None


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
