"""The Rust mailbox state machine and ask guard agree with the Python reference.

Random operation sequences run on `lion.kernel._mailbox.Mailbox` and
`lion._native.Mailbox` side by side; after every step the results (or error
class and message) and every observation must be equal.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lion import _native
from lion.errors import LionError
from lion.kernel._mailbox import Mailbox
from lion.kernel.actor import would_deadlock

EXAMPLES = settings(max_examples=int(os.environ.get("LION_EXAMPLES", 100)))

Outcome = tuple[Any, ...]


def outcome(call: Callable[[], Any]) -> Outcome:
    try:
        value = call()
    except LionError as error:
        return ("error", type(error).__name__, str(error))
    return ("ok", str(value) if isinstance(value, str) else value)


def observe(mailbox: Any) -> tuple[Any, ...]:
    return (
        str(mailbox.phase),
        mailbox.capacity,
        mailbox.size,
        len(mailbox),
        mailbox.accepted,
        mailbox.taken,
        mailbox.drained,
        mailbox.closed,
        mailbox.empty,
        mailbox.full,
        mailbox.pending(),
        repr(mailbox),
    )


ops = st.one_of(
    st.tuples(st.just("offer"), st.sampled_from(["a", "b", "c"]), st.integers(0, 9)),
    st.tuples(st.just("take")),
    st.tuples(st.just("close")),
    st.tuples(st.just("drain")),
    st.tuples(st.just("finish")),
)


def apply(mailbox: Any, op: tuple[Any, ...]) -> Outcome:
    name, *args = op
    return outcome(lambda: getattr(mailbox, name)(*args))


@EXAMPLES
@given(capacity=st.integers(1, 4), sequence=st.lists(ops, max_size=40))
def test_random_operation_sequences_agree(capacity: int, sequence: list[tuple[Any, ...]]) -> None:
    py, rs = Mailbox[object](capacity), _native.Mailbox(capacity)
    taken: dict[str, list[int]] = {}
    sent: dict[str, list[int]] = {}
    for op in sequence:
        expected = apply(py, op)
        assert apply(rs, op) == expected, op
        assert observe(rs) == observe(py), op
        if op[0] == "offer" and expected == ("ok", "accepted"):
            sent.setdefault(op[1], []).append(op[2])
        if op[0] == "take" and expected[0] == "ok":
            taken.setdefault(expected[1][0], []).append(expected[1][1])
        if op[0] == "drain":
            for sender, message in expected[1]:
                taken.setdefault(sender, []).append(message)
        # INVARIANT: no accepted message is lost, and each sender's messages keep their order.
        assert rs.accepted == rs.taken + rs.drained + rs.size
    for sender, messages in taken.items():
        assert messages == sent[sender][: len(messages)]


def test_messages_are_the_same_python_objects() -> None:
    mailbox = _native.Mailbox(2)
    message = {"payload": [1, 2]}
    assert mailbox.offer("a", message) == "accepted"
    sender, got = mailbox.take()
    assert (sender, got) == ("a", message) and got is message


@pytest.mark.parametrize("capacity", [0, -1, True, 1.5, "2", None, 2**200, -(2**200)])
def test_capacity_is_checked_alike(capacity: Any) -> None:
    expected = outcome(lambda: observe(Mailbox[object](capacity)))
    actual = outcome(lambda: observe(_native.Mailbox(capacity)))
    if capacity == 2**200:  # the native capacity saturates; decisions are the same
        assert expected[0] == actual[0] == "ok"
    else:
        assert actual == expected


actors = st.sampled_from(["a", "b", "c", "d", "e"])


@EXAMPLES
@given(waits=st.dictionaries(actors, actors, max_size=5), waiter=actors, target=actors)
def test_would_deadlock_agrees_on_single_waits(
    waits: dict[str, str], waiter: str, target: str
) -> None:
    assert _native.would_deadlock(waits, waiter, target) == would_deadlock(waits, waiter, target)


# Every outstanding wait is an edge: several targets per actor, repeats allowed,
# as a list, tuple, frozenset or Counter (the runner's own multiset).
multi_waits = st.dictionaries(
    actors,
    st.lists(actors, max_size=4).flatmap(
        lambda xs: st.sampled_from([xs, tuple(xs), frozenset(xs), Counter(xs)])
    ),
    max_size=5,
)


@EXAMPLES
@given(waits=multi_waits, waiter=actors, target=actors)
def test_would_deadlock_agrees_on_every_outstanding_wait(
    waits: dict[str, Any], waiter: str, target: str
) -> None:
    expected = would_deadlock(waits, waiter, target)
    assert _native.would_deadlock(waits, waiter, target) == expected
    # and it is reachability: target reaches waiter over the edges, or is waiter
    seen, todo = {target}, [target]
    while todo:
        for nxt in waits.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert expected == (waiter in seen)


def test_would_deadlock_sees_the_first_of_two_concurrent_asks() -> None:
    # a asks c, then b, concurrently: c asking a closes a -> c -> a
    for check in (would_deadlock, _native.would_deadlock):
        assert check({"a": ["c", "b"]}, "c", "a")
        assert check({"a": Counter({"c": 1, "b": 1})}, "c", "a")
        assert not check({"a": ["c", "b"]}, "d", "a")
