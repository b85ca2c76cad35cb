"""`spec/actors.lion` machine `Mailbox` <-> `lion.kernel._mailbox.Mailbox`.

The spec bounds its state space (at most 3 messages per sender, 8 in all);
this adapter enforces those model bounds itself and numbers each sender's
messages, then lets the kernel mailbox decide everything else: whether a
message is accepted, which one is delivered next, what shutdown reports.
The spec's ghost variables (`sent`, `received`, `in_order`) are not compared.
"""

from __future__ import annotations

from typing import Any

from lion.errors import ActorError
from lion.kernel._mailbox import Mailbox, MailboxPhase, Offer
from lion.kernel.actor import would_deadlock
from lion.verify.values import EnumValue, MapValue, RecordValue

__all__ = ["MailboxModel", "RustMailboxModel", "closes_cycle", "closes_cycle_rust"]

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
                box.take()
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
