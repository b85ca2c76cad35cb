"""OperableModel: run-time fields, Struct types, schemas for model servers."""

from __future__ import annotations

import msgspec
import pytest

from lion.domain import FieldModel, OperableModel, response_format
from lion.errors import DomainError, ItemExistsError, ItemNotFoundError


def person() -> OperableModel:
    om = OperableModel()
    om.add_field("name", annotation=str, description="full name")
    om.add_field("age", annotation=int, ge=0)
    om.add_field("tags", field_model=FieldModel(str, listable=True, default=[]))
    om.add_field("nick", field_model=FieldModel(str).as_nullable())
    return om


def test_fields_values_and_errors() -> None:
    om = person()
    assert list(om.all_fields) == ["name", "age", "tags", "nick"]
    with pytest.raises(ItemExistsError):
        om.add_field("name")
    om.name = "Ann"
    assert om.name == "Ann"
    assert om.to_dict()["name"] == "Ann"
    with pytest.raises(ItemNotFoundError):
        om.nope = 1
    with pytest.raises(AttributeError):
        om.missing  # noqa: B018
    om.remove_field("nick")
    assert "nick" not in om.all_fields
    with pytest.raises(ItemNotFoundError):
        om.remove_field("nick")
    om.update_field("age", description="years")
    assert om.all_fields["age"].extract_metadata("description") == "years"
    assert om.all_fields["age"].extract_metadata("ge") == 0


def test_new_model_is_a_struct_that_round_trips() -> None:
    M = person().new_model("Person", exclude_fields=["nick"])
    assert issubclass(M, msgspec.Struct)
    obj = M(name="A", age=3)  # type: ignore[call-arg]
    assert msgspec.json.decode(msgspec.json.encode(obj), type=M) == obj
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(obj), type=M) == obj
    with pytest.raises(ItemNotFoundError):
        person().new_model("X", use_fields=["ghost"])
    with pytest.raises(DomainError):
        person().new_model("not a name")


def test_schema_and_response_format() -> None:
    schema = person().json_schema("Person")
    assert "$ref" not in str(schema)
    assert schema["required"] == ["name", "age"]
    assert schema["additionalProperties"] is False
    rf = person().response_format("Person")
    assert rf["type"] == "json_schema"
    assert rf["json_schema"]["strict"] is True
    assert rf["json_schema"]["schema"]["required"] == ["name", "age", "tags", "nick"]


def test_nested_structs_are_inlined() -> None:
    Inner = OperableModel([FieldModel(int, name="x")]).new_model("Inner")
    Outer = OperableModel(
        [FieldModel(Inner, name="inner"), FieldModel(Inner, name="many", listable=True)]
    ).new_model("Outer")
    rf = response_format(Outer)
    schema = rf["json_schema"]["schema"]
    assert "$ref" not in str(schema)
    assert schema["properties"]["inner"]["properties"]["x"] == {"type": "integer"}
    assert schema["properties"]["many"]["items"]["required"] == ["x"]


def test_validator_runs_in_the_built_type() -> None:
    om = OperableModel([FieldModel(str, name="code", validator=lambda v: v.isupper())])
    M = om.new_model("Code")
    with pytest.raises(DomainError, match="field `code`"):
        M(code="ab")  # type: ignore[call-arg]
    with pytest.raises(DomainError):
        om.code = "ab"
