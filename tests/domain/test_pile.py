"""Pile against an ordered dict, under random operations, threads and tasks."""

from __future__ import annotations

import asyncio
import os
import threading
from collections import OrderedDict
from uuid import UUID, uuid4

import msgspec
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from lion.domain import Element, Pile, Progression
from lion.errors import DeserializationError, DomainError, ItemExistsError, ItemNotFoundError


class Note(Element):
    text: str = ""


class Other(Element):
    n: int = 0


POOL = [Note(text=str(i)) for i in range(6)] + [Other(n=i) for i in range(3)]
items = st.sampled_from(POOL)


class PileMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.p: Pile[Element] = Pile()
        self.ref: OrderedDict[UUID, Element] = OrderedDict()

    @rule(e=items)
    def include(self, e: Element) -> None:
        self.p.include(e)
        self.ref.setdefault(e.id, e)

    @rule(es=st.lists(items, max_size=3))
    def include_many(self, es: list[Element]) -> None:
        self.p.include(es)
        for e in es:
            self.ref.setdefault(e.id, e)

    @rule(e=items)
    def exclude(self, e: Element) -> None:
        self.p.exclude(e)
        self.ref.pop(e.id, None)

    @rule(e=items)
    def pop_by_id(self, e: Element) -> None:
        if e.id in self.ref:
            assert self.p.pop(e.id) is self.ref.pop(e.id)
        else:
            with pytest.raises(ItemNotFoundError):
                self.p.pop(e.id)
            assert self.p.pop(e.id, None) is None

    @precondition(lambda self: self.ref)
    @rule(data=st.data())
    def pop_by_index(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(-len(self.ref), len(self.ref) - 1))
        key = list(self.ref)[i]
        assert self.p.pop(i) is self.ref.pop(key)

    @rule(i=st.integers(-8, 8), e=items)
    def insert(self, i: int, e: Element) -> None:
        if e.id in self.ref:
            with pytest.raises(ItemExistsError):
                self.p.insert(i, e)
            return
        self.p.insert(i, e)
        pairs = list(self.ref.items())
        pairs.insert(i, (e.id, e))
        self.ref = OrderedDict(pairs)

    @rule(e=items)
    def update(self, e: Element) -> None:
        copy = msgspec.structs.replace(e)  # same id, a different object
        self.p.update(copy)
        self.ref[copy.id] = copy

    @rule(a=st.integers(-8, 8) | st.none(), b=st.integers(-8, 8) | st.none())
    def slicing(self, a: int | None, b: int | None) -> None:
        part = self.p[a:b]
        assert isinstance(part, Pile)
        assert part.keys() == list(self.ref)[a:b]

    @rule()
    def filter_by_type(self) -> None:
        assert self.p.filter_by_type(Other) == [
            v for v in self.ref.values() if isinstance(v, Other)
        ]

    @rule()
    def clear_sometimes(self) -> None:
        if len(self.ref) > 6:
            self.p.clear()
            self.ref.clear()

    @rule()
    def round_trip(self) -> None:
        for back in (Pile.from_json(self.p.to_json()), Pile.from_msgpack(self.p.to_msgpack())):
            assert back.keys() == list(self.ref)
            assert [type(v) for v in back.values()] == [type(v) for v in self.ref.values()]

    @invariant()
    def agrees(self) -> None:
        assert self.p.keys() == list(self.ref)
        assert self.p.values() == list(self.ref.values())
        assert len(self.p) == len(self.ref)
        for e in POOL:
            assert (e in self.p) == (e.id in self.ref)
        if self.ref:
            first = next(iter(self.ref))
            assert self.p[0] is self.ref[first]
            assert self.p[first] is self.ref[first]
            assert self.p[str(first)] is self.ref[first]


PileMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("LION_EXAMPLES", 60)), stateful_step_count=30, deadline=None
)
TestPile = PileMachine.TestCase


def test_item_type_and_strict_type() -> None:
    p: Pile[Note] = Pile(item_type=Note)
    p.include(Note())
    with pytest.raises(DomainError, match="not allowed"):
        p.include(Other())
    with pytest.raises(DomainError):
        p.include([Note(), Other()])
    assert len(p) == 1  # nothing from the failed batch got in

    class SubNote(Note):
        pass

    p.include(SubNote())
    strict: Pile[Note] = Pile(item_type={Note}, strict_type=True)
    with pytest.raises(DomainError, match="exactly"):
        strict.include(SubNote())
    back = Pile.from_json(p.to_json())
    assert back.item_type == frozenset({Note})


def test_set_operators() -> None:
    a, b, c = Note(), Note(), Note()
    x, y = Pile([a, b]), Pile([b, c])
    assert (x | y).keys() == [a.id, b.id, c.id]
    assert (x & y).keys() == [b.id]
    assert (x ^ y).keys() == [a.id, c.id]
    assert (x - y).keys() == [a.id]
    x |= y
    assert x.keys() == [a.id, b.id, c.id]
    x &= Pile([c, a])
    assert x.keys() == [a.id, c.id]
    x ^= Pile([c, b])
    assert x.keys() == [a.id, b.id]
    with pytest.raises(DomainError):
        x | [a]  # type: ignore[operator]


def test_lookup_errors_and_bad_input() -> None:
    p = Pile([Note()])
    with pytest.raises(ItemNotFoundError):
        p[uuid4()]
    with pytest.raises(ItemNotFoundError):
        p[5]
    with pytest.raises(DomainError):
        p["garbage"]
    with pytest.raises(DomainError):
        p.include(42)
    with pytest.raises(DomainError):
        p.include("text")
    assert p.get(uuid4(), "d") == "d"
    with pytest.raises(ItemNotFoundError):
        p.remove(Note())
    assert len(p) == 1


def test_construction_checks_order() -> None:
    a, b = Note(), Note()
    assert Pile([a, b], progression=[b.id, a.id]).values() == [b, a]
    with pytest.raises(DomainError):
        Pile([a, b], progression=[a.id])
    with pytest.raises(DomainError):
        Pile([a], progression=Progression(order=[a.id, a.id]))


def test_malformed_pile_data() -> None:
    good = Pile([Note(), Note()])
    raw = msgspec.json.decode(good.to_json())
    raw["progression"]["order"] = raw["progression"]["order"][:1]
    with pytest.raises(DeserializationError, match="order"):
        Pile.from_json(msgspec.json.encode(raw))
    raw = msgspec.json.decode(good.to_json())
    next(iter(raw["collections"].values()))["lion_class"] = "nope.Nope"
    with pytest.raises(DeserializationError):
        Pile.from_json(msgspec.json.encode(raw))
    with pytest.raises(DeserializationError):
        Pile.from_json(b'{"lion_class": "lion.domain.pile.Pile", "collections": []}')
    with pytest.raises(DeserializationError):
        Pile.from_msgpack(b"\x93\x01")


def test_nested_piles_round_trip() -> None:
    inner = Pile([Note(text="deep")])
    outer = Pile([inner, Note()])
    back = Element.from_json(outer.to_json())
    assert isinstance(back, Pile)
    got = back[inner.id]
    assert isinstance(got, Pile)
    assert got[0].text == "deep"


def test_many_tasks_lose_and_duplicate_nothing() -> None:
    keep = [Note(text=str(i)) for i in range(300)]
    drop = [Note() for _ in range(300)]
    pile: Pile[Note] = Pile(drop[:150])

    async def main() -> None:
        async def add(e: Note) -> None:
            await asyncio.sleep(0)
            await pile.ainclude(e)
            await pile.ainclude(e)  # a repeat must not duplicate

        async def remove(e: Note) -> None:
            await asyncio.sleep(0)
            await pile.aexclude(e)

        tasks = [add(e) for e in keep] + [add(e) for e in drop] + [remove(e) for e in drop]
        await asyncio.gather(*tasks)
        for e in drop:
            await pile.aexclude(e)
        async with pile:  # reentrant: the holder may use the async API inside
            await pile.ainclude(keep[0])
            assert [x async for x in pile] == pile.values()

    asyncio.run(main())
    assert sorted(pile.keys()) == sorted(e.id for e in keep)
    assert len(pile.keys()) == len(set(pile.keys())) == len(pile)


def test_many_threads_lose_and_duplicate_nothing() -> None:
    pile: Pile[Note] = Pile()
    batches = [[Note() for _ in range(200)] for _ in range(4)]

    def work(batch: list[Note]) -> None:
        for e in batch:
            pile.include(e)
        for e in batch[::2]:
            pile.exclude(e)

    threads = [threading.Thread(target=work, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = {e.id for b in batches for e in b[1::2]}
    assert set(pile.keys()) == expected
    assert len(pile) == len(expected) == len(pile.keys())


def test_async_holder_excludes_other_tasks() -> None:
    pile: Pile[Note] = Pile()
    seen: list[int] = []

    async def main() -> None:
        async def holder() -> None:
            async with pile:
                await asyncio.sleep(0.01)
                seen.append(len(pile))

        async def other() -> None:
            await asyncio.sleep(0)
            await pile.ainclude(Note())

        await asyncio.gather(holder(), other())

    asyncio.run(main())
    assert seen == [0]
    assert len(pile) == 1
