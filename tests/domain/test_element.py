"""Element: identity, read-only fields, round trips of subclasses (JSON, MessagePack)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lion.domain import Element, Event, Pile, Progression, new_id
from lion.errors import DeserializationError, DomainError, LionError

EXAMPLES = settings(max_examples=int(os.environ.get("LION_EXAMPLES", 60)), deadline=None)


class Note(Element):
    text: str = ""
    score: float = 0.0


class Tagged(Note):
    tags: list[str] = msgspec.field(default_factory=list)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def test_new_ids_are_unique_version_4() -> None:
    ids = [new_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert all(u.version == 4 and u.variant == "specified in RFC 4122" for u in ids)
    assert all(UUID(str(u)) == u for u in ids[:50])


def test_equality_and_hash_are_by_id() -> None:
    a = Note(text="x")
    b = Note(id=a.id, text="different")
    c = Note(text="x")
    assert a == b
    assert hash(a) == hash(b) == hash(a.id)
    assert a != c
    assert len({a, b, c}) == 2
    assert Element(id=a.id) == a  # across classes, still by id


def test_element_is_observable_shaped() -> None:
    e = Element()
    assert isinstance(e.id, UUID)
    assert isinstance(e.created_at, float)
    assert e.metadata == {}
    assert e.created_datetime.tzinfo is not None


def test_id_and_created_at_are_read_only() -> None:
    e = Element()
    with pytest.raises(DomainError, match="read-only"):
        e.id = uuid4()  # type: ignore[misc]
    with pytest.raises(DomainError):
        e.created_at = 1.0  # type: ignore[misc]
    e.metadata = {"ok": 1}
    assert e.metadata == {"ok": 1}


def test_coercion_of_ids_and_times() -> None:
    u = uuid4()
    e = Element(id=str(u), created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))  # type: ignore[arg-type]
    assert e.id == u
    assert e.created_at == dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp()
    assert Element(created_at="2024-01-01 00:00:00").created_at == e.created_at  # type: ignore[arg-type]
    for bad in (
        {"id": "nope"},
        {"created_at": "yesterday"},
        {"metadata": [1]},
        {"created_at": True},
    ):
        with pytest.raises(DomainError):
            Element(**bad)


@EXAMPLES
@given(
    text=st.text(max_size=20),
    score=st.floats(allow_nan=False, allow_infinity=False),
    tags=st.lists(st.text(max_size=5), max_size=4),
    meta=st.dictionaries(st.text(max_size=5), json_values, max_size=3),
)
def test_subclass_round_trips(
    text: str, score: float, tags: list[str], meta: dict[str, Any]
) -> None:
    t = Tagged(text=text, score=score, tags=tags, metadata=meta)
    for back in (
        Element.from_json(t.to_json()),
        Element.from_json(t.to_json(decode=False)),
        Element.from_msgpack(t.to_msgpack()),
        Note.from_msgpack(t.to_msgpack()),
        Element.from_dict(t.to_dict()),
        Element.from_dict(t.to_dict(mode="json")),
    ):
        assert type(back) is Tagged
        assert msgspec.structs.asdict(back) == msgspec.structs.asdict(t)


def test_every_domain_type_round_trips() -> None:
    items = [Note(text="a"), Tagged(tags=["x"]), Element()]
    objects: list[Element] = [Progression(order=items, name="p"), Pile(items), Event()]
    for obj in objects:
        for back in (Element.from_json(obj.to_json()), Element.from_msgpack(obj.to_msgpack())):
            assert type(back) is type(obj)
            assert back.id == obj.id
            assert back.to_dict(mode="json") == obj.to_dict(mode="json")


def test_decoding_into_a_subclass_refuses_a_sibling() -> None:
    with pytest.raises(DeserializationError, match="lion_class"):
        Tagged.from_json(Note().to_json())
    with pytest.raises(DeserializationError):
        Tagged.from_dict(Note().to_dict())


def test_unknown_class_tag_is_refused_without_import() -> None:
    data = {"lion_class": "os.system", "id": str(uuid4())}
    with pytest.raises(DeserializationError, match="lion_class"):
        Element.from_dict(data)
    with pytest.raises(DeserializationError):
        Element.from_json(msgspec.json.encode(data))


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"{",
        b"[]",
        b"null",
        b'{"id": 3}',
        b'{"lion_class": "lion.domain.element.Element", "id": "zz"}',
        b'{"lion_class": "lion.domain.element.Element", "bogus": 1}',
        b"\xff\xfe",
    ],
)
def test_malformed_json_gives_deserialization_error(payload: bytes) -> None:
    with pytest.raises(DeserializationError) as info:
        Element.from_json(payload)
    assert isinstance(info.value, LionError)
    assert str(info.value) == str(info.value).rstrip(".")


def test_malformed_msgpack_and_wrong_input_types() -> None:
    with pytest.raises(DeserializationError):
        Element.from_msgpack(b"\xc1")
    with pytest.raises(DeserializationError):
        Element.from_json(123)  # type: ignore[arg-type]
    with pytest.raises(DeserializationError):
        Element.from_dict([1, 2])


def test_reads_v0_layout() -> None:
    u = uuid4()
    data = {
        "id": str(u),
        "created_at": 1.5,
        "metadata": {"lion_class": "lionagi.protocols.generic.element.Element", "k": 1},
    }
    e = Element.from_dict(data)
    assert type(e) is Element
    assert e.id == u
    assert e.metadata == {"k": 1}


def test_unserializable_field_gives_domain_error() -> None:
    e = Element(metadata={"x": object()})
    with pytest.raises(DomainError, match="serialize"):
        e.to_json()
