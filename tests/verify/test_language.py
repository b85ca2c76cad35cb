"""`* / %`, `seq<T, N>` and `sum`/`count`: the interpreter and the Z3 encoding agree on
random expressions, the checker's divisor intervals are sound, and ranges are checked.

The default run draws LION_EXAMPLES (default 150) random expressions per test.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lion.errors import SpecEvaluationError
from lion.spec import ast
from lion.spec._check_lang import interval
from lion.spec.load import load_text
from lion.verify.encode import Encoder
from lion.verify.interpret import Interpreter, trunc_div, trunc_mod
from lion.verify.prove import Status, prove_module
from lion.verify.strategies import args_of

EXAMPLES = int(os.environ.get("LION_EXAMPLES", "150"))
PARAMS = "a: int[-20..20], b: int[1..7], c: int[-5..-1], s: set<int[0..4]>, q: seq<int[0..4], 3>"


def _ints() -> st.SearchStrategy[str]:
    leaves = st.sampled_from(
        ["a", "b", "c", "0", "1", "3", "(-4)", "len(q)", "sum(s)", "count(x in s, x > 1)"]
    )

    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        divisor = st.one_of(
            st.sampled_from(["b", "c", "2", "(-3)", "(b * c)"]),
            inner.map(lambda e: f"max({e}, 1)"),
            inner.map(lambda e: f"min({e}, -1)"),
        )
        elem = inner.map(lambda e: f"max(0, min(4, {e}))")
        seq = st.deferred(lambda: _seqs(elem, inner))
        pair = st.tuples(inner, inner)
        return st.one_of(
            pair.map(lambda p: f"({p[0]} + {p[1]})"),
            pair.map(lambda p: f"({p[0]} - {p[1]})"),
            pair.map(lambda p: f"({p[0]} * {p[1]})"),
            st.tuples(inner, divisor).map(lambda p: f"({p[0]} / {p[1]})"),
            st.tuples(inner, divisor).map(lambda p: f"({p[0]} % {p[1]})"),
            st.tuples(inner, inner, inner).map(  # a divisor that only a condition makes safe
                lambda p: f"(if {p[1]} != 0 then {p[0]} / {p[1]} else {p[2]})"
            ),
            st.tuples(inner, inner).map(lambda p: f"(if {p[1]} == 0 then 0 else {p[0]} % {p[1]})"),
            pair.map(lambda p: f"min({p[0]}, {p[1]})"),
            st.tuples(inner, inner, inner, inner).map(
                lambda p: f"(if {p[0]} < {p[1]} then {p[2]} else {p[3]})"
            ),
            inner.map(lambda e: f"sum(x in s, x * {e})"),
            st.tuples(elem, seq, inner, inner).map(
                lambda p: f"(if {p[0]} in {p[1]} then {p[2]} else {p[3]})"
            ),
            st.tuples(seq, seq, inner, inner).map(
                lambda p: f"(if {p[0]} == {p[1]} then {p[2]} else {p[3]})"
            ),
            seq.map(lambda q: f"len({q})"),
            st.tuples(seq, inner, inner).map(
                lambda p: f"(match {p[0]}[{p[1]}] {{ some(v) => v, none => {p[2]} }})"
            ),
        )

    return st.recursive(leaves, grow, max_leaves=12)


def _seqs(elem: st.SearchStrategy[str], ints: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    base = st.one_of(
        st.just("q"),
        st.lists(elem, min_size=1, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
    )
    return st.one_of(
        base,
        st.tuples(base, elem).map(lambda p: f"append({p[0]}, {p[1]})"),
        st.tuples(ints, ints, base, base).map(
            lambda p: f"(if {p[0]} < {p[1]} then {p[2]} else append({p[3]}, 0))"
        ),
    )


def z3_value(module: ast.Module, fn: ast.Fn, args: dict[str, Any]) -> Any:
    enc = Encoder(module)
    env = {p.name: enc.const(args[p.name], p.ty) for p in fn.params}
    sym = enc.enc(fn.body, env)
    solver = z3.Solver()
    assert solver.check() == z3.sat
    return enc.value(solver.model(), fn.result, sym)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=_ints(), data=st.data())
def test_random_int_expressions_agree(expr: str, data: st.DataObject) -> None:
    module = load_text(f"fn f({PARAMS}) -> int = {expr}")
    fn = module.fns["f"]
    args = data.draw(args_of(fn.params, numbers=(0, 1, -1)))
    try:
        expected = Interpreter(module).call("f", *args.values())
    except SpecEvaluationError as exc:  # pragma: no cover - the generator avoids these
        pytest.fail(f"evaluating {expr} on {args} failed: {exc}")
    assert z3_value(module, fn, args) == expected, expr
    lo, hi = interval(fn.body, lambda name: None)
    assert (lo is None or lo <= expected) and (hi is None or expected <= hi), (expr, lo, hi)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    elem=st.integers(0, 4),
    data=st.data(),
)
def test_random_seq_results_agree(elem: int, data: st.DataObject) -> None:
    ints = st.sampled_from(["a", "b", "c", "len(q)", "1"])
    seq = data.draw(_seqs(st.sampled_from(["0", "4", str(elem), "max(0, min(4, a))"]), ints))
    module = load_text(f"fn f({PARAMS}) -> seq<int[0..4], 5> = {seq}")
    fn = module.fns["f"]
    args = data.draw(args_of(fn.params))
    expected = Interpreter(module).call("f", *args.values())
    assert isinstance(expected, tuple)
    assert z3_value(module, fn, args) == expected, seq


@pytest.mark.parametrize(
    ("a", "b"),
    [(7, 2), (-7, 2), (7, -2), (-7, -2), (6, 3), (-6, 3), (0, -5), (1, 7), (-1, 7)],
)
def test_division_truncates_towards_zero_in_both_semantics(a: int, b: int) -> None:
    # Rust's `/` and `%`: -7 / 2 == -3 (Python's // gives -4), -7 % 2 == -1
    module = load_text(f"fn q() -> int = ({a}) / ({b})\nfn r() -> int = ({a}) % ({b})")
    interp = Interpreter(module)
    quotient, remainder = interp.call("q"), interp.call("r")
    assert quotient == int(a / b)  # float division truncated: exact for these small ints
    assert quotient * b + remainder == a and abs(remainder) < abs(b)
    assert remainder == 0 or (remainder > 0) == (a > 0)
    assert (trunc_div(a, b), trunc_mod(a, b)) == (quotient, remainder)
    for name, value in (("q", quotient), ("r", remainder)):
        assert z3_value(module, module.fns[name], {}) == value


def test_theorems_about_the_new_constructs_prove() -> None:
    module = load_text("""
    theorem div_mod "quotient and remainder rebuild the dividend":
      forall a: int[-50..50], b: int[1..9] . (a / b) * b + a % b == a
    theorem mod_sign "a remainder has the sign of the dividend":
      forall a: int[-50..50], b: int[-9..-1] . (a % b) * a >= 0
    theorem append_len "append adds one element":
      forall s: seq<bool, 3>, x: bool . len(append(s, x)) == len(s) + 1 and x in append(s, x)
    theorem index_past_end "reading past the end gives none":
      forall s: seq<bool, 3> . s[len(s)] == none and s[-1] == none
    theorem count_le_card "count never exceeds card":
      forall s: set<int[0..5]> . count(x in s, x > 2) <= card(s) and sum(s) <= 15
    theorem sum_split "a sum splits over a partition":
      forall s: set<int[0..5]> . sum(s) == sum(x in s, if x > 2 then x else 0) + sum(x in s,
        if x > 2 then 0 else x)
    """)
    results = {r.name: r for r in prove_module(module)}
    assert {n: r.status for n, r in results.items()} == {n: Status.PROVED for n in results}
    assert len(results) == 6


def test_a_false_theorem_gets_a_typed_counterexample() -> None:
    module = load_text("""
    theorem floor_like "planted: division floors":
      forall a: int[-9..9] . (a / 2) * 2 <= a
    theorem short "planted: appending keeps a seq short":
      forall s: seq<bool, 2> . len(append(s, true)) <= 2
    """)
    results = {r.name: r for r in prove_module(module)}
    floor = results["floor_like"]
    assert floor.status == Status.REFUTED
    a = floor.counterexample["a"]
    assert a < 0 and a % 2 == 1  # a negative odd number: truncation rounds it up
    short = results["short"]
    assert short.status == Status.REFUTED
    assert isinstance(short.counterexample["s"], tuple) and len(short.counterexample["s"]) == 2
    assert short.counterexample_text["s"].startswith("[")


MACHINE = """
machine Log {
  var log: seq<int[0..9], 3>
  var total: int[0..30]
  init { log = []
         total = 0 }
  action add(x: int[0..9]) {
    requires len(log) < LIMIT
    log = append(log, x)
    total = total + x * 1
  }
}
invariant totals "the total is at most nine per entry" on Log: total <= 9 * len(log)
"""


def test_machine_ranges_cover_seq_bounds_and_products() -> None:
    ok = load_text("const LIMIT: int = 3\n" + MACHINE)
    results = {r.name: r.status for r in prove_module(ok)}
    assert results == {"totals": Status.PROVED, "Log.ranges": Status.PROVED}
    # One more append than the bound: M.ranges finds the step that overflows the log.
    overflow = load_text("const LIMIT: int = 4\n" + MACHINE)
    ranges = next(r for r in prove_module(overflow) if r.name == "Log.ranges")
    assert ranges.status == Status.REFUTED
    assert "add(" in ranges.message and "log = [" in ranges.message
    # A product that leaves its range is found the same way.
    doubled = load_text("const LIMIT: int = 3\n" + MACHINE.replace("x * 1", "x * 4"))
    ranges = next(r for r in prove_module(doubled) if r.name == "Log.ranges")
    assert ranges.status == Status.REFUTED


def test_the_interpreter_checks_bounds_when_a_value_is_stored() -> None:
    module = load_text(
        "fn grow(s: seq<bool, 2>) -> seq<bool, 2> = append(s, true)\n"
        "fn triple(x: int[0..9]) -> int[0..20] = x * 3"
    )
    interp = Interpreter(module)
    assert interp.call("grow", (False,)) == (False, True)
    with pytest.raises(SpecEvaluationError, match="3 elements, more than the bound"):
        interp.call("grow", (False, False))
    assert interp.call("triple", 6) == 18
    with pytest.raises(SpecEvaluationError, match=r"outside `int\[0\.\.20\]`"):
        interp.call("triple", 7)
