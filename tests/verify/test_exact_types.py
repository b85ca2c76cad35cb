"""Conformance compares types exactly, and a mismatch shows values that print alike apart."""

from __future__ import annotations

import enum
import sys
from types import ModuleType
from typing import Any

import pytest

from lion.spec import ast
from lion.spec.load import load_text
from lion.verify.conformance import check_bind
from lion.verify.exact import describe_pair, exact_equal, shape_error
from lion.verify.values import EnumValue, MapValue, RecordValue

STATUS = ast.EnumType("Status", ("Open", "Closed"))
RIGHTS = ast.SetType(ast.EnumType("Right", ("Read", "Write")))
CAP = ast.RecordType("Cap", (("id", ast.IntType(0, 3)), ("ok", ast.BoolType())))


class PyStatus(enum.Enum):
    Open = "Open"


class Small(enum.IntEnum):
    ONE = 1


def test_bool_is_not_an_int_nor_an_int_a_bool() -> None:
    assert True == 1  # what Python's == says
    assert not exact_equal(True, 1, ast.IntType())
    assert not exact_equal(1, True, ast.BoolType())
    assert not exact_equal(Small.ONE, 1, ast.IntType())
    assert exact_equal(1, 1, ast.IntType()) and exact_equal(True, True, ast.BoolType())
    assert shape_error(True, ast.IntType()) == "expected an int, got bool True"


def test_enums_compare_by_enum_and_variant_not_by_name() -> None:
    spec = EnumValue("Status", "Open")
    assert exact_equal(EnumValue("Status", "Open"), spec, STATUS)
    assert not exact_equal("Open", spec, STATUS)
    assert not exact_equal(PyStatus.Open, spec, STATUS)
    assert not exact_equal(EnumValue("Door", "Open"), spec, STATUS)
    assert "an EnumValue of `Status`" in (shape_error(EnumValue("Door", "Open"), STATUS) or "")


def test_sets_are_not_lists_and_their_elements_are_exact() -> None:
    read = EnumValue("Right", "Read")
    assert exact_equal(frozenset({read}), frozenset({read}), RIGHTS)
    assert not exact_equal([read], frozenset({read}), RIGHTS)
    assert not exact_equal((read,), frozenset({read}), RIGHTS)
    ints = ast.SetType(ast.IntType(0, 3))
    assert frozenset({True}) == frozenset({1})
    assert not exact_equal(frozenset({True}), frozenset({1}), ints)


def test_records_and_maps_are_checked_all_the_way_down() -> None:
    cap = RecordValue("Cap", {"id": 1, "ok": True})
    assert exact_equal(cap, cap, CAP)
    assert not exact_equal(RecordValue("Cap", {"id": True, "ok": True}), cap, CAP)
    assert not exact_equal({"id": 1, "ok": True}, cap, CAP)
    assert shape_error(RecordValue("Cap", {"id": 1, "ok": 1}), CAP) == (
        "field `ok`: expected a bool, got int 1"
    )
    ty = ast.MapType(ast.BoolType(), ast.IntType())
    good = MapValue({False: 0, True: 1})
    assert exact_equal(good, good, ty)
    assert not exact_equal(MapValue({False: 0, True: True}), good, ty)
    assert not exact_equal({False: 0, True: 1}, good, ty)
    assert exact_equal(None, None, ast.OptionType(ast.IntType()))
    assert not exact_equal(False, None, ast.OptionType(ast.BoolType()))


def test_values_that_print_alike_are_shown_with_type_and_repr() -> None:
    shown, spec = describe_pair("Open", EnumValue("Status", "Open"), STATUS)
    assert shown != spec
    assert "str 'Open'" in shown and "EnumValue Status.Open" in spec
    shown, spec = describe_pair(True, 1, ast.IntType())
    assert shown.startswith("True") and "expected an int, got bool True" in shown and spec == "1"
    # values that differ print plainly
    assert describe_pair(2, 1, ast.IntType()) == ("2", "1")


SPEC = """
enum Status { Open, Closed }
fn count(s: set<Status>) -> int = card(s)
machine Door {
  var status: Status
  init { status = Open }
  action close() { status = Closed }
}
bind count python "j_exact_impl:count"
bind Door python "j_exact_impl:Door"
"""


class _Door:
    """Reports its status as the bare variant name: prints like the spec, is not the spec."""

    def __init__(self) -> None:
        self.status = "Open"

    def init(self) -> bool:
        return True

    def step(self, action: str) -> bool:
        self.status = "Closed"
        return True

    def state(self) -> dict[str, Any]:
        return {"status": self.status}


def _impl(monkeypatch: pytest.MonkeyPatch, count: Any) -> ast.Module:
    module = ModuleType("j_exact_impl")
    module.count = count  # type: ignore[attr-defined]
    module.Door = _Door  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "j_exact_impl", module)
    return load_text(SPEC)


def _bind(module: ast.Module, name: str) -> ast.Bind:
    return next(b for b in module.binds if b.name == name)


def test_a_bool_where_the_spec_says_int_does_not_conform(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _impl(monkeypatch, lambda s: len(s) == 1 if len(s) == 1 else len(s))
    result = check_bind(module, _bind(module, "count"), examples=50, seed=0)
    assert not result.ok
    assert result.message == (
        "spec gives 1, implementation gives True [expected an int, got bool True]"
    )
    good = _impl(monkeypatch, len)
    assert check_bind(good, _bind(good, "count"), examples=50, seed=0).ok


def test_a_state_that_prints_like_the_spec_is_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _impl(monkeypatch, len)
    result = check_bind(module, _bind(module, "Door"), examples=20, seed=0)
    assert not result.ok
    assert result.message.startswith(
        "after init: `status` is Open (str 'Open') [expected an EnumValue of `Status`, "
        "got str 'Open'] in the implementation, Open (EnumValue Status.Open) in the spec"
    )
