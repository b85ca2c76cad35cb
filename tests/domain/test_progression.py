"""Progression against a plain list, under random operation sequences."""

from __future__ import annotations

import os
from uuid import UUID, uuid4

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from lion.domain import Element, Progression, prog
from lion.errors import DomainError, ItemNotFoundError

POOL = [uuid4() for _ in range(8)]
ids = st.sampled_from(POOL)


class ProgressionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.p = Progression()
        self.ref: list[UUID] = []

    @rule(u=ids)
    def include(self, u: UUID) -> None:
        added = self.p.include(u)
        assert added == (u not in self.ref)
        if u not in self.ref:
            self.ref.append(u)

    @rule(u=ids)
    def append(self, u: UUID) -> None:
        self.p.append(u)
        self.ref.append(u)

    @rule(u=ids)
    def exclude(self, u: UUID) -> None:
        removed = self.p.exclude(u)
        assert removed == (u in self.ref)
        self.ref = [x for x in self.ref if x != u]

    @precondition(lambda self: self.ref)
    @rule(data=st.data())
    def pop(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(-len(self.ref), len(self.ref) - 1))
        assert self.p.pop(i) == self.ref.pop(i)

    @rule()
    def popleft(self) -> None:
        if not self.ref:
            with pytest.raises(ItemNotFoundError):
                self.p.popleft()
        else:
            assert self.p.popleft() == self.ref.pop(0)

    @rule(i=st.integers(-10, 10), u=ids)
    def insert(self, i: int, u: UUID) -> None:
        self.p.insert(i, u)
        self.ref.insert(i, u)

    @precondition(lambda self: self.ref)
    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        n = len(self.ref)
        src = data.draw(st.integers(0, n - 1))
        dst = data.draw(st.integers(0, n))
        self.p.move(src, dst)
        u = self.ref.pop(src)
        self.ref.insert(dst - 1 if src < dst else dst, u)

    @rule(u=ids)
    def index(self, u: UUID) -> None:
        if u in self.ref:
            assert self.p.index(u) == self.ref.index(u)
        else:
            with pytest.raises(ItemNotFoundError):
                self.p.index(u)

    @rule(a=st.integers(-10, 10) | st.none(), b=st.integers(-10, 10) | st.none())
    def slicing(self, a: int | None, b: int | None) -> None:
        part = self.p[a:b]
        assert isinstance(part, Progression)
        assert list(part) == self.ref[a:b]

    @rule(us=st.lists(ids, max_size=3))
    def add_and_sub(self, us: list[UUID]) -> None:
        assert list(self.p + us) == self.ref + us
        assert list(self.p - us) == [x for x in self.ref if x not in us]

    @rule(i=st.integers(-10, 10), u=ids)
    def setitem_direct_list(self, i: int, u: UUID) -> None:
        # editing the list itself must keep membership right
        if -len(self.ref) <= i < len(self.ref):
            self.p.order[i] = u
            self.ref[i] = u

    @rule()
    def round_trip(self) -> None:
        back = Progression.from_msgpack(self.p.to_msgpack())
        assert list(back) == self.ref
        assert all(u in back for u in self.ref)

    @invariant()
    def agrees(self) -> None:
        assert list(self.p) == self.ref
        assert len(self.p) == len(self.ref)
        for u in POOL:
            assert (u in self.p) == (u in self.ref)
            assert self.p.count(u) == self.ref.count(u)


ProgressionMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("LION_EXAMPLES", 60)), stateful_step_count=30, deadline=None
)
TestProgression = ProgressionMachine.TestCase


def test_accepts_elements_strings_and_nested_lists() -> None:
    a, b = Element(), Element()
    p = prog([a, [str(b.id)]], "named")
    assert list(p) == [a.id, b.id]
    assert p.name == "named"
    assert a in p
    assert [a, b] in p
    assert Element() not in p
    assert "not-a-uuid" not in p


def test_errors_are_clear() -> None:
    p = Progression()
    with pytest.raises(ItemNotFoundError):
        p.pop()
    with pytest.raises(ItemNotFoundError):
        p[3]
    with pytest.raises(ItemNotFoundError):
        p.remove(uuid4())
    with pytest.raises(DomainError):
        p.include("nope")
    with pytest.raises(DomainError):
        p.include(3.5)
    with pytest.raises(DomainError):
        p["x"]
    p.include(uuid4())
    with pytest.raises(ItemNotFoundError):
        p.move(0, 5)
    assert len(p) == 1  # a failed call leaves the progression as it was


def test_swap_reverse_and_in_place_operators() -> None:
    a, b, c = uuid4(), uuid4(), uuid4()
    p = Progression(order=[a, b, c])
    p.swap(0, 2)
    assert list(p) == [c, b, a]
    p.reverse()
    assert list(p) == [a, b, c]
    p += [a]
    assert p.count(a) == 2
    p -= [a]
    assert list(p) == [b, c]
    assert a not in p
    p.order = [c]
    assert b not in p
    assert c in p
