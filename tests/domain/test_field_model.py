"""FieldModel: composition, annotations and validators."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from lion.domain import FieldModel, OperableModel
from lion.errors import DomainError


def test_annotation_reflects_flags() -> None:
    f = FieldModel(int, name="n")
    assert f.annotation is int
    assert f.as_listable().annotation == list[int]
    assert f.as_nullable().annotation == int | None
    assert f.as_listable().as_nullable().annotation == list[int] | None
    assert f.as_nullable().default is None
    assert f.as_nullable().has_default


def test_composition_is_immutable() -> None:
    f = FieldModel(str, name="s")
    g = f.with_description("text").with_title("S").with_default("x")
    assert f.extract_metadata("description") is None
    assert g.extract_metadata("description") == "text"
    assert g.default == "x"
    assert g.with_name("t").name == "t"
    assert g.name == "s"


def test_constraints_are_enforced_and_in_schema() -> None:
    om = OperableModel([FieldModel(int, name="age", ge=0, le=150, description="years")])
    M = om.new_model("P")
    assert msgspec.convert({"age": 3}, M).age == 3  # type: ignore[attr-defined]
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"age": -1}, M)
    prop = om.json_schema("P")["properties"]["age"]
    assert prop["minimum"] == 0
    assert prop["maximum"] == 150
    assert prop["description"] == "years"


def test_validators() -> None:
    f = FieldModel(str, name="code").with_validator(lambda v: v.isupper())
    assert f.is_valid("AB")
    assert not f.is_valid("ab")
    with pytest.raises(DomainError, match="field `code`"):
        f.validate("ab")

    def must_be_even(v: Any) -> None:
        if v % 2:
            raise ValueError("odd")

    g = FieldModel(int, name="n", validator=must_be_even)
    with pytest.raises(DomainError, match="odd"):
        g.validate(3)


def test_bad_definitions() -> None:
    with pytest.raises(DomainError):
        FieldModel(int, name="not valid")
    with pytest.raises(DomainError):
        FieldModel(int, name="x", default=1, default_factory=list)
    with pytest.raises(DomainError):
        FieldModel(int, name="x", validator="nope")  # type: ignore[arg-type]
    with pytest.raises(DomainError):
        FieldModel(str, name="x", ge="a").annotated()


def test_mutable_default_is_not_shared() -> None:
    M = OperableModel([FieldModel(list[int], name="xs", default=[])]).new_model("L")
    a, b = M(), M()
    a.xs.append(1)  # type: ignore[attr-defined]
    assert b.xs == []  # type: ignore[attr-defined]
