"""Event: an Element with an execution lifecycle (status, duration, response, error)."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

import msgspec

from lion.domain.element import Element
from lion.errors import DomainError

__all__ = ["Event", "EventStatus", "Execution"]


class EventStatus(StrEnum):
    """Where an event is in its lifecycle."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    ABORTED = "aborted"

    @classmethod
    def allowed(cls) -> set[str]:
        """The status values as strings."""
        return {s.value for s in cls}


TERMINAL = frozenset(
    {
        EventStatus.COMPLETED,
        EventStatus.FAILED,
        EventStatus.SKIPPED,
        EventStatus.CANCELLED,
        EventStatus.ABORTED,
    }
)


class Execution(msgspec.Struct, kw_only=True):
    """The mutable record of one run: status, duration in seconds, response and error.

    ``error`` holds the exception while the process lives; serialized, it
    becomes ``{"error": <type name>, "message": <text>}``.
    """

    status: EventStatus = EventStatus.PENDING
    duration: float | None = None
    response: Any = None
    error: Any = None
    retryable: bool | None = None


class Event(Element):
    """An Element whose ``invoke()`` runs ``_invoke()`` once and records the outcome.

    Subclasses override ``async def _invoke(self) -> Any``. An exception marks
    the event FAILED (the exception is kept in ``execution.error``, not
    raised); cancellation marks it CANCELLED and propagates.
    """

    execution: Execution = msgspec.field(default_factory=Execution)

    @property
    def status(self) -> EventStatus:
        return self.execution.status

    @status.setter
    def status(self, value: EventStatus | str) -> None:
        if isinstance(value, EventStatus):
            self.execution.status = value
            return
        if isinstance(value, str) and value in EventStatus.allowed():
            self.execution.status = EventStatus(value)
            return
        raise DomainError(
            f"invalid event status `{value}`: expected one of "
            + ", ".join(f"`{s.value}`" for s in EventStatus)
        )

    @property
    def response(self) -> Any:
        return self.execution.response

    @response.setter
    def response(self, value: Any) -> None:
        self.execution.response = value

    @property
    def request(self) -> dict[str, Any]:
        """What the event asks for; subclasses describe themselves here."""
        return {}

    async def invoke(self) -> None:
        """Run ``_invoke`` if the event is still PENDING; otherwise do nothing."""
        if self.execution.status is not EventStatus.PENDING:
            return
        self.execution.status = EventStatus.PROCESSING
        start = time.perf_counter()
        try:
            self.execution.response = await self._invoke()
            self.execution.status = EventStatus.COMPLETED
        except Exception as exc:
            self.execution.error = exc
            self.execution.status = EventStatus.FAILED
        except BaseException as exc:  # cancellation and interpreter exits propagate
            self.execution.error = exc
            self.execution.status = EventStatus.CANCELLED
            raise
        finally:
            self.execution.duration = time.perf_counter() - start

    async def _invoke(self) -> Any:
        raise NotImplementedError(f"`{type(self).__name__}` must override `_invoke`")

    def assert_completed(self) -> None:
        """Raise DomainError unless the event COMPLETED."""
        if self.execution.status is not EventStatus.COMPLETED:
            raise DomainError(
                f"event `{self.id}` did not complete: status `{self.execution.status.value}`, "
                f"error `{self.execution.error}`"
            )

    def as_fresh_event(self, copy_meta: bool = False) -> Event:
        """A new PENDING event with the same fields, a new id and a fresh execution."""
        skip = {"id", "created_at", "metadata", "execution"}
        kwargs = {f: getattr(self, f) for f in self.__struct_fields__ if f not in skip}
        fresh = type(self)(**kwargs)
        if copy_meta:
            fresh.metadata = dict(self.metadata)
        fresh.metadata["original"] = {"id": str(self.id), "created_at": self.created_at}
        return fresh
