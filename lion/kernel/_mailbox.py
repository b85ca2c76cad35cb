"""The bounded mailbox as a pure, synchronous state machine.

No I/O, no clock, no tasks: every method is one deterministic step over plain
values, so the machine can be compared step by step with the spec's mailbox
(chapter 3). The async runner in ``lion.kernel.actor`` drives one of these per
actor and adds only waiting and waking on top.

State: a capacity, a phase and one FIFO queue of ``(sender, message)``
entries. The phases are those of the spec's ``Mailbox`` machine: RUNNING
(accepting), STOPPING (closed: no intake, but queued entries can still be
taken) and STOPPED (closed and emptied, by ``drain`` or ``finish``).

One queue for all senders is the simplest structure that gives per-sender
FIFO: two messages from the same sender are taken in the order they were
accepted.

Counters make "no accepted message is silently lost" checkable:

    INVARIANT: accepted == taken + drained + len(pending)
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Generic, TypeVar

from lion.errors import ActorError

__all__ = ["Mailbox", "MailboxPhase", "Offer"]

M = TypeVar("M")


class Offer(enum.StrEnum):
    """The outcome of :meth:`Mailbox.offer`."""

    ACCEPTED = "accepted"
    FULL = "full"
    CLOSED = "closed"


class MailboxPhase(enum.StrEnum):
    """Where a mailbox is in its life; the spec's ``Phase``."""

    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Mailbox(Generic[M]):
    """A bounded FIFO of ``(sender, message)`` entries that can be closed.

    - ``offer`` enqueues when open and not full (ACCEPTED); otherwise it
      changes nothing and says why (FULL or CLOSED).
    - ``take`` removes the oldest entry; taking from an empty mailbox is an
      :class:`ActorError` and changes nothing. A closed mailbox can still be
      taken from: closing stops intake, not delivery.
    - ``close`` stops intake for good (idempotent).
    - ``drain`` removes and returns every pending entry, oldest first; on a
      closed mailbox it also ends it (STOPPED): the spec's ``abandon``.
    - ``finish`` ends a closed mailbox that is already empty: the spec's
      ``finish``, what a completed drain leaves behind.
    """

    __slots__ = (
        "_accepted",
        "_capacity",
        "_closed",
        "_drained",
        "_entries",
        "_stopped",
        "_taken",
    )

    def __init__(self, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ActorError(
                f"mailbox capacity must be an integer of at least 1, got `{capacity!r}`"
            )
        self._capacity = capacity
        self._closed = False
        self._stopped = False
        self._entries: deque[tuple[str, M]] = deque()
        self._accepted = 0
        self._taken = 0
        self._drained = 0

    # -- steps -----------------------------------------------------------------

    def offer(self, sender: str, message: M) -> Offer:
        """Enqueue ``message`` from ``sender`` if there is room; never blocks."""
        if self._closed:
            return Offer.CLOSED
        if len(self._entries) >= self._capacity:
            return Offer.FULL
        self._entries.append((sender, message))
        self._accepted += 1
        return Offer.ACCEPTED

    def take(self) -> tuple[str, M]:
        """Remove and return the oldest ``(sender, message)``."""
        if not self._entries:
            raise ActorError("cannot take from an empty mailbox; expected at least one message")
        entry = self._entries.popleft()
        self._taken += 1
        return entry

    def close(self) -> None:
        """Refuse every later offer; pending entries stay and can be taken or drained."""
        self._closed = True

    def drain(self) -> tuple[tuple[str, M], ...]:
        """Remove and return every pending entry, oldest first; a closed mailbox is then STOPPED."""
        entries = tuple(self._entries)
        self._entries.clear()
        self._drained += len(entries)
        if self._closed:
            self._stopped = True
        return entries

    def finish(self) -> None:
        """Mark a closed, empty mailbox STOPPED (idempotent)."""
        if not self._closed or self._entries:
            raise ActorError(
                f"cannot finish a mailbox that is {'open' if not self._closed else 'not empty'}; "
                "expected a closed, empty mailbox"
            )
        self._stopped = True

    # -- observations ----------------------------------------------------------

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def phase(self) -> MailboxPhase:
        if self._stopped:
            return MailboxPhase.STOPPED
        return MailboxPhase.STOPPING if self._closed else MailboxPhase.RUNNING

    @property
    def size(self) -> int:
        """How many entries are pending."""
        return len(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def empty(self) -> bool:
        return not self._entries

    @property
    def full(self) -> bool:
        return len(self._entries) >= self._capacity

    @property
    def accepted(self) -> int:
        """How many offers were ever accepted."""
        return self._accepted

    @property
    def taken(self) -> int:
        """How many entries were ever taken."""
        return self._taken

    @property
    def drained(self) -> int:
        """How many entries were ever removed by :meth:`drain`."""
        return self._drained

    def pending(self) -> tuple[tuple[str, M], ...]:
        """The pending entries, oldest first, without removing them."""
        return tuple(self._entries)

    def __repr__(self) -> str:
        return f"Mailbox({len(self._entries)}/{self._capacity}, {self.phase})"
