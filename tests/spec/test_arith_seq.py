"""`* / %`, `seq<T, N>` and `sum`/`count`: how they parse and what the checker accepts."""

from __future__ import annotations

import re

import pytest

from lion.errors import SpecError
from lion.spec import ast
from lion.spec._check_lang import interval
from lion.spec.load import load_text
from lion.spec.parse import parse_text


def body(source: str, name: str = "f") -> ast.Expr:
    module = load_text(source)
    return module.fns[name].body


def test_product_binds_tighter_than_sum_and_is_left_associative() -> None:
    e = parse_text("fn f(a: int, b: int, c: int) -> int = a + b * c / 2 % 3 - a").definitions[0]
    assert isinstance(e, ast.Fn)
    top = e.body
    assert isinstance(top, ast.Binary) and top.op == "-"
    plus = top.left
    assert isinstance(plus, ast.Binary) and plus.op == "+"
    mod = plus.right  # ((b * c) / 2) % 3
    assert isinstance(mod, ast.Binary) and mod.op == "%"
    div = mod.left
    assert isinstance(div, ast.Binary) and div.op == "/"
    assert isinstance(div.left, ast.Binary) and div.left.op == "*"


def test_a_comment_is_not_a_division() -> None:
    e = body("fn f(a: int) -> int = a // not a / here\n")
    assert isinstance(e, ast.Var)


def test_seq_type_literal_index_len_append_membership() -> None:
    src = """
    enum Right { Read, Write }
    fn f(s: seq<Right, 2>, r: Right) -> bool =
      r in s and len(append(s, r)) <= 3 and s[0] == some(Read) and s != [Write]
    fn g() -> seq<Right, 2> = []
    fn h(s: seq<Right, 2>) -> seq<Right, 3> = append(s, Read)
    """
    module = load_text(src)
    assert str(module.fns["f"].params[0].ty) == "seq<Right, 2>"
    assert module.fns["h"].body.ty == ast.SeqType(ast.EnumType("Right", ("Read", "Write")), 3)
    g = module.fns["g"].body
    assert isinstance(g, ast.SeqLit) and g.items == ()


def test_seq_index_is_an_option() -> None:
    e = body("fn f(s: seq<int[0..3], 4>) -> option<int[0..3]> = s[2]")
    assert isinstance(e, ast.Index) and e.ty == ast.OptionType(ast.IntType(0, 3))


def test_append_grows_the_bound_and_storing_is_a_range_check() -> None:
    # Like `n + 1` into an int[0..3], `append` into a seq of the same bound is accepted by
    # the checker; the bound is checked where the value is stored.
    e = body("fn f(s: seq<bool, 2>) -> seq<bool, 2> = append(s, true)")
    assert e.ty == ast.SeqType(ast.BoolType(), 3)


def test_a_literal_longer_than_its_context_is_checked_where_it_is_stored() -> None:
    e = body("fn f(s: seq<bool, 1>) -> bool = s == [true, false]")
    assert isinstance(e, ast.Binary) and e.right.ty == ast.SeqType(ast.BoolType(), 2)
    e = body("fn f() -> seq<bool, 1> = [true, false]")
    assert e.ty == ast.SeqType(ast.BoolType(), 2)  # the interpreter rejects the result


def test_sum_and_count_bind_a_name_over_a_set() -> None:
    e = body("fn f(s: set<int[0..5]>) -> int = sum(x in s, x * 2) + count(x in s, x > 2) + sum(s)")
    assert isinstance(e, ast.Binary)
    left = e.left
    assert isinstance(left, ast.Binary)
    total, counted = left.left, left.right
    assert isinstance(total, ast.Aggregate) and total.kind == "sum" and total.var == "x"
    assert isinstance(counted, ast.Aggregate) and counted.kind == "count"
    assert isinstance(e.right, ast.Aggregate) and e.right.body is None


def test_a_user_function_named_count_shadows_the_builtin() -> None:
    e = body("fn count(a: int, b: int) -> int = a\nfn f() -> int = count(1, 2)")
    assert isinstance(e, ast.Call) and not e.builtin


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("fn f(x: int, y: int[0..5]) -> int = x / y", "may divide by zero"),
        ("fn f(x: int, y: int) -> int = x % y", "may divide by zero"),
        ("fn f(x: int, y: int[1..5]) -> int = x / (y - 1)", "may divide by zero"),
        ("fn f(x: int, y: int[-2..2]) -> int = x / (y * y)", "may divide by zero"),
        ("fn f(x: int) -> int = x / 0", "may divide by zero"),
        ("fn f(x: int) -> int = x % (x - x)", "may divide by zero"),
        ("fn f(x: bool) -> int = x * 2", "expected `int`, found `bool`"),
        ("fn f() -> seq<bool, 0> = []", "seq bound must be between 1 and 64"),
        ("fn f() -> seq<bool, 65> = []", "seq bound must be between 1 and 64"),
        ("fn f(s: seq<option<bool>, 2>) -> bool = true", "seq<option<T>, N>"),
        ("fn f() -> bool = [] == []", "cannot tell the type of `[]`"),
        ("fn f(s: seq<bool, 2>) -> bool = s[true] == none", "expected `int`, found `bool`"),
        ("fn f(s: seq<bool, 2>) -> seq<bool, 3> = append(s, 1)", "expected `bool`"),
        ("fn f(s: seq<bool, 2>) -> bool = 1 in s", "expected `bool`"),
        ("fn f(s: set<bool>) -> int = len(s)", "`len` needs a seq"),
        ("fn f(s: set<bool>) -> int = sum(s)", "`sum(s)` needs a set of ints"),
        ("fn f(s: set<bool>) -> int = count(s)", "`count` is written `count(x in s, p)`"),
        ("fn f(s: set<bool>) -> int = count(x in s, 1)", "expected `bool`, found `int`"),
        ("fn f(s: set<bool>) -> int = sum(x in s, x)", "expected `int`, found `bool`"),
        ("fn f(s: set<bool>) -> int = count(true, true)", "a name, `in`, a set"),
        ("fn f(s: seq<bool, 2>) -> int = count(x in s, x)", "needs a set, found `seq"),
        ("fn f(s: seq<bool, 2>) -> set<seq<bool, 2>> = {s}", "finite type"),
    ],
)
def test_rejected(source: str, message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)):
        load_text(source)


def test_division_error_points_at_the_divisor() -> None:
    with pytest.raises(SpecError) as info:
        load_text("fn f(x: int, y: int[0..5]) -> int = x / y")
    loc = info.value.location
    assert loc is not None and (loc.line, loc.column) == (1, 41)


@pytest.mark.parametrize(
    "divisor",
    [
        "y",
        "-y",
        "y + 1",
        "max(x, 1)",
        "y * y",
        "K",
        "(if x > 0 then y else 3)",
        "z",
        "y / 2 + 1",
        "card(s) - 3",  # a set<bool> has at most 2 elements
        "count(b in s, b) + 1",
    ],
)
def test_divisors_whose_range_excludes_zero_are_accepted(divisor: str) -> None:
    src = (
        "const K: int = 4\n"
        "fn f(x: int, y: int[1..5], z: int[-4..-2], s: set<bool>) -> int = "
        f"x / ({divisor}) + x % ({divisor})"
    )
    load_text(src)


@pytest.mark.parametrize(
    "source",
    [
        "fn f(x: int, d: int[0..5]) -> int = if d == 0 then 0 else x / d",
        "fn f(x: int, d: int[0..5]) -> int = if d != 0 then x / d else 0",
        "fn f(x: int, d: int[0..5]) -> bool = d > 0 and x / d > 1",
        "fn f(x: int, d: int[0..5]) -> bool = d == 0 or x % d > 1",
        "fn f(x: int, d: int[0..5]) -> bool = d >= 1 implies x / d > 1",
        "fn f(x: int, d: int) -> int = if not (0 == d) then x / d else 0",
        "fn f(x: int, d: int[-3..3]) -> int = if d > 0 and x > 2 then x / d else 0",
        "fn f(x: int, d: int[0..3]) -> int = if 0 < d then x / d else 0",
        "fn f(x: int, y: int) -> int = if x - y != 0 then 10 / (x - y) else 0",
        "machine M { var n: int[0..9]\n init { n = 1 }\n"
        " action split(d: int[0..3]) { requires d != 0\n requires n / d >= 1\n n = n / d } }",
    ],
)
def test_a_divisor_may_rely_on_the_conditions_it_is_evaluated_under(source: str) -> None:
    load_text(source)


@pytest.mark.parametrize(
    "source",
    [
        "fn f(x: int, d: int[0..5]) -> int = if d == 0 then x / d else 0",
        "fn f(x: int, d: int[0..5]) -> int = if d != 0 then 0 else x / d",
        "fn f(x: int, d: int[0..5]) -> bool = d > 0 or x / d > 1",
        "fn f(x: int, d: int[0..5]) -> int = if d != 0 then (let d = 0; x / d) else 0",
        "fn f(x: int, d: int[-3..3]) -> int = if d > -1 then x / d else 0",
        "fn f(x: int, d: int[-3..3]) -> int = if d > 0 or x > 2 then x / d else 0",
        "fn f(x: int, d: int[0..3]) -> bool = (d != 0) iff (x / d > 0)",
        "fn f(x: int, d: int[0..3]) -> bool = exists d: int[0..2] . x / d > 0",
        "machine M { var n: int[0..9]\n init { n = 1 }\n"
        " action split(d: int[0..3]) { requires n / d >= 1\n requires d != 0 } }",
    ],
)
def test_a_condition_that_does_not_cover_the_divisor_is_not_enough(source: str) -> None:
    with pytest.raises(SpecError, match="may divide by zero"):
        load_text(source)


def test_interval_of_arithmetic() -> None:
    module = load_text(
        "fn f(a: int[-3..7], b: int[2..4]) -> int = a * b\n"
        "fn g(a: int[-3..7], b: int[2..4]) -> int = a / b\n"
        "fn h(a: int[-3..7], b: int[2..4]) -> int = a % b\n"
        "fn k(a: int[-3..7], b: int[-4..-2]) -> int = a / b\n"
        "fn l(a: int, b: int[2..4]) -> int = a % b + min(b, 3) - max(a, 1)\n"
    )

    def iv(name: str) -> tuple[int | None, int | None]:
        return interval(module.fns[name].body, lambda n: None)

    assert iv("f") == (-12, 28)
    assert iv("g") == (-1, 3)
    assert iv("h") == (-3, 3)
    assert iv("k") == (-3, 1)
    assert iv("l") == (None, 5)  # a % b in [-3, 3], min in [2, 3], max(a, 1) >= 1
