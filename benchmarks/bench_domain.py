"""lion.domain against lionagi 0.36 (v0): Element, Pile, Progression, serialization."""

from __future__ import annotations

from typing import Any

from benchmarks._table import Row, per_call_us

PEER = "lionagi 0.36"
BATCH = 1000  # items per timed call where one call per item would be too small to time
BIG = 20_000


def run() -> list[Row]:
    from lionagi.protocols.generic.element import Element as V0Element
    from lionagi.protocols.generic.pile import Pile as V0Pile
    from lionagi.protocols.generic.progression import Progression as V0Progression

    from lion.domain import Element, Pile, Progression

    rows: list[Row] = []

    rows.append(Row("Element()", per_call_us(Element), PEER, per_call_us(V0Element), ">= 3x"))

    def include_batch(pile_cls: Any, items: list[Any]) -> Any:
        def go() -> None:
            p = pile_cls()
            for e in items:
                p.include(e)

        return go

    lion_items = [Element() for _ in range(BATCH)]
    v0_items = [V0Element() for _ in range(BATCH)]
    rows.append(
        Row(
            "Pile.include (per item)",
            per_call_us(include_batch(Pile, lion_items)) / BATCH,
            PEER,
            per_call_us(include_batch(V0Pile, v0_items), repeat=3) / BATCH,
            ">= 10x",
        )
    )

    lion_pile = Pile(lion_items)
    v0_pile = V0Pile(collections=v0_items)
    lion_key = lion_items[BATCH // 2].id
    v0_key = v0_items[BATCH // 2].id
    rows.append(
        Row(
            "Pile[id]",
            per_call_us(lambda: lion_pile[lion_key]),
            PEER,
            per_call_us(lambda: v0_pile[v0_key]),
        )
    )
    rows.append(
        Row(
            "Pile[int]",
            per_call_us(lambda: lion_pile[BATCH // 2]),
            PEER,
            per_call_us(lambda: v0_pile[BATCH // 2]),
        )
    )

    big_lion = Pile([Element() for _ in range(BIG)])
    big_v0 = V0Pile(collections=[V0Element() for _ in range(BIG)])

    def v0_round_trip() -> None:
        back = V0Pile.from_dict(big_v0.to_dict())
        assert len(back) == BIG

    def lion_json_round_trip() -> None:
        back = Pile.from_json(big_lion.to_json(decode=False))
        assert len(back) == BIG

    def lion_msgpack_round_trip() -> None:
        back = Pile.from_msgpack(big_lion.to_msgpack())
        assert len(back) == BIG

    v0_rt = per_call_us(v0_round_trip, min_time=0.5, repeat=3)
    rows.append(
        Row(
            "20k Pile round trip, JSON bytes (v0: to_dict/from_dict)",
            per_call_us(lion_json_round_trip, repeat=3),
            PEER,
            v0_rt,
            ">= 10x",
        )
    )
    rows.append(
        Row(
            "20k Pile round trip, MessagePack (v0: to_dict/from_dict)",
            per_call_us(lion_msgpack_round_trip, repeat=3),
            PEER,
            v0_rt,
            ">= 10x",
        )
    )

    ids = [e.id for e in lion_items]

    def prog_include(cls: Any) -> Any:
        def go() -> None:
            p = cls()
            for u in ids:
                p.include(u)

        return go

    rows.append(
        Row(
            "Progression.include (per id)",
            per_call_us(prog_include(Progression)) / BATCH,
            PEER,
            per_call_us(prog_include(V0Progression), repeat=3) / BATCH,
        )
    )
    lion_prog = Progression(order=ids)
    v0_prog = V0Progression(order=ids)
    probe = ids[BATCH // 2]
    rows.append(
        Row(
            "id in Progression",
            per_call_us(lambda: probe in lion_prog),
            PEER,
            per_call_us(lambda: probe in v0_prog),
        )
    )

    def pop_push(p: Any) -> Any:
        def go() -> None:
            u = p.popleft()
            p.append(u)

        return go

    rows.append(
        Row(
            "Progression popleft+append",
            per_call_us(pop_push(lion_prog)),
            PEER,
            per_call_us(pop_push(v0_prog)),
        )
    )
    rows.append(
        Row(
            "Progression slice [100:200]",
            per_call_us(lambda: lion_prog[100:200]),
            PEER,
            per_call_us(lambda: v0_prog[100:200]),
        )
    )
    return rows
