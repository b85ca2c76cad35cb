"""Event: invoke records duration, response and error; cancellation propagates."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lion.domain import Element, Event, EventStatus
from lion.errors import DomainError


class Double(Event):
    x: int = 0
    calls: int = 0

    async def _invoke(self) -> Any:
        self.calls += 1
        await asyncio.sleep(0)
        return self.x * 2


class Boom(Event):
    async def _invoke(self) -> Any:
        raise ValueError("boom")


class Slow(Event):
    async def _invoke(self) -> Any:
        await asyncio.sleep(10)


def test_status_values_match_v0() -> None:
    assert [s.value for s in EventStatus] == [
        "pending",
        "processing",
        "completed",
        "failed",
        "skipped",
        "cancelled",
        "aborted",
    ]


def test_invoke_records_response_and_duration_once() -> None:
    e = Double(x=21)
    assert e.status is EventStatus.PENDING
    asyncio.run(e.invoke())
    assert e.status is EventStatus.COMPLETED
    assert e.response == 42
    assert e.execution.duration is not None
    assert e.execution.duration >= 0
    asyncio.run(e.invoke())  # not PENDING any more: nothing runs
    assert e.calls == 1
    e.assert_completed()


def test_exception_marks_failed_without_raising() -> None:
    e = Boom()
    asyncio.run(e.invoke())
    assert e.status is EventStatus.FAILED
    assert isinstance(e.execution.error, ValueError)
    assert e.execution.duration is not None
    with pytest.raises(DomainError, match="did not complete"):
        e.assert_completed()
    back = Element.from_json(e.to_json())
    assert isinstance(back, Boom)
    assert back.status is EventStatus.FAILED
    assert back.execution.error == {"error": "ValueError", "message": "boom"}


def test_cancellation_marks_cancelled_and_propagates() -> None:
    e = Slow()

    async def main() -> None:
        task = asyncio.create_task(e.invoke())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert e.status is EventStatus.CANCELLED
    assert e.execution.duration is not None


def test_status_setter_validates() -> None:
    e = Event()
    e.status = "skipped"  # type: ignore[assignment]
    assert e.status is EventStatus.SKIPPED
    with pytest.raises(DomainError, match="invalid event status"):
        e.status = "done"  # type: ignore[assignment]
    assert e.status is EventStatus.SKIPPED


def test_base_event_without_invoke_fails_cleanly() -> None:
    e = Event()
    asyncio.run(e.invoke())
    assert e.status is EventStatus.FAILED
    assert isinstance(e.execution.error, NotImplementedError)


def test_round_trip_and_fresh_copy() -> None:
    e = Double(x=2)
    asyncio.run(e.invoke())
    back = Double.from_msgpack(e.to_msgpack())
    assert back.response == 4
    assert back.status is EventStatus.COMPLETED
    assert back.id == e.id
    fresh = e.as_fresh_event()
    assert fresh.id != e.id
    assert fresh.status is EventStatus.PENDING
    assert fresh.x == 2
    assert fresh.metadata["original"]["id"] == str(e.id)
