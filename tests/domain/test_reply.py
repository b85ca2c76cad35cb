"""Messy model replies: what gets repaired, and clear errors for what cannot be."""

from __future__ import annotations

import pytest

from lion.domain import FieldModel, OperableModel, extract_json, parse_reply
from lion.errors import ReplyValidationError


def model() -> OperableModel:
    return OperableModel(
        [
            FieldModel(str, name="name"),
            FieldModel(int, name="age", ge=0),
            FieldModel(str, name="tags", listable=True, default=[]),
            FieldModel(str, name="code", default="A", validator=lambda v: v.isupper()),
        ]
    )


@pytest.mark.parametrize(
    ("text", "repair"),
    [
        ('{"name": "a", "age": 1}', None),
        ('```json\n{"name": "a", "age": 1}\n```', "code fence"),
        ('Here you go:\n```\n{"name": "a", "age": 1}\n```\nBye', "prose around the code fence"),
        ('The answer is {"name": "a", "age": 1} as requested.', "prose around the JSON"),
        ('{"name": "a", "age": 1, "tags": ["x",],}', "trailing commas"),
        ("{'name': 'a'}".replace("'", '"')[:-1] + ', "age": 1, "tags": [], "code": "A"}', None),
        ('{"name": "a", "age": 1, "tags": ["x"', "cut off"),
        ('```json\n{"name": "a", "age": 1}', "never closed"),
        ('{"name": "a", "age": "1"}', "converted `age`"),
    ],
)
def test_repairs_are_reported(text: str, repair: str | None) -> None:
    reply = model().validate_reply(text, "P")
    assert reply.value.name == "a"
    assert reply.value.age == 1
    assert reply.raw == text
    if repair is None:
        assert reply.repairs == ()
    else:
        assert any(repair in r for r in reply.repairs), reply.repairs


def test_python_literals() -> None:
    value, repairs = extract_json('{"ok": True, "none": None, "s": "True stays"}')
    assert value == {"ok": True, "none": None, "s": "True stays"}
    assert repairs
    assert "Python literals" in repairs[-1]


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ('{"name": "a", "age": -1}', "age", ">= 0"),
        ('{"age": 1}', "name", "missing"),
        ('{"name": "a", "age": 1, "tags": [1]}', "tags[0]", "expected `str`"),
        ('{"name": "a", "age": 1, "code": "lower"}', "code", "rejected"),
        ('{"name": "a", "age": 1, "extra": 2}', "extra", "unknown field"),
        ('{"name": "a", "age": "old"}', "age", "expected `int`"),
    ],
)
def test_validation_errors_name_the_field(text: str, field: str, reason: str) -> None:
    with pytest.raises(ReplyValidationError) as info:
        model().validate_reply(text, "P")
    err = info.value
    assert err.field == field  # type: ignore[attr-defined]
    assert reason in str(err)
    assert f"`{field}`" in str(err)


@pytest.mark.parametrize("text", ["", "   ", "no json here", "{{{{", 42, b"\xff"])
def test_unreadable_replies(text: object) -> None:
    with pytest.raises(ReplyValidationError):
        parse_reply(text, dict)


def test_parse_reply_with_plain_types() -> None:
    assert parse_reply("[1, 2, 3]", list[int]).value == [1, 2, 3]
    assert parse_reply('prefix [1, "2"] suffix', list[int]).value == [1, 2]
