"""Generators: boundary values from the spec's numbers, and run lengths from the machine.

The planted bugs here are the ones issue 17 found slipping through: an
off-by-one at a spec constant (caught in 2 runs of 3 with uniform ints) and a
machine bug that shows only once a counter has been bumped 11 times.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import seed as hypothesis_seed

from lion.spec import ast
from lion.spec.load import load_text
from lion.verify import conformance
from lion.verify.boundaries import MIN_STEPS, default_max_steps, near, reach, spec_numbers
from lion.verify.conformance import check_bind, replay_corpus
from lion.verify.strategies import from_type
from lion.verify.values import EnumValue

OFF_BY_ONE = """
const LIMIT: int = 100
fn over(x: int) -> bool = x > LIMIT
fn full(n: int[0..1000]) -> bool = n >= 700
bind over python "j_gen_impl:over"
bind full python "j_gen_impl:full"
"""

COUNTER = """
enum Mode { Idle, Busy }
machine Counter {
  var n: int[0..12]
  var mode: Mode
  init { n = 0
         mode = Idle }
  action inc() {
    requires n < 12
    n = n + 1
  }
  action dec() {
    requires n > 0
    n = n - 1
  }
  action toggle() {
    mode = if mode == Idle then Busy else Idle
  }
}
bind Counter python "j_gen_impl:Counter"
"""


class _Counter:
    """The Counter machine with a bug that only shows after the 11th increment."""

    def __init__(self) -> None:
        self.n = 0
        self.mode = "Idle"

    def init(self) -> bool:
        return True

    def step(self, action: str) -> bool:
        if action == "inc":
            if self.n >= 12:
                return False
            self.n += 2 if self.n == 10 else 1  # the bug: 10 -> 12
            return True
        if action == "dec":
            if self.n <= 0:
                return False
            self.n -= 1
            return True
        self.mode = "Busy" if self.mode == "Idle" else "Idle"
        return True

    def state(self) -> dict[str, object]:
        return {"n": self.n, "mode": EnumValue("Mode", self.mode)}


@pytest.fixture(autouse=True)
def impl(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = ModuleType("j_gen_impl")
    module.over = lambda x: x >= 100  # type: ignore[attr-defined]  # off by one at LIMIT
    module.full = lambda n: n > 700  # type: ignore[attr-defined]  # off by one at 700
    module.Counter = _Counter  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "j_gen_impl", module)
    return module


def _bind(module: ast.Module, name: str) -> ast.Bind:
    return next(b for b in module.binds if b.name == name)


def test_spec_numbers_are_the_constants_and_literals() -> None:
    m = load_text(OFF_BY_ONE + COUNTER + "theorem t: forall x: int . x != -7 or x < 5\n")
    assert spec_numbers(m) == (-7, 0, 1, 5, 12, 100, 700)


def test_near_draws_each_side_within_the_range() -> None:
    assert near([100], ast.IntType()) == [99, 100, 101]
    assert near([0, 700], ast.IntType(0, 1000)) == [0, 1, 699, 700, 701, 1000]
    assert near([], ast.IntType(3, 5)) == [3, 5]


@pytest.mark.parametrize("ty", [ast.IntType(), ast.IntType(-1000, 1000)])
def test_boundaries_are_drawn_often(ty: ast.IntType) -> None:
    seen: list[int] = []

    @hypothesis_seed(1)
    @settings(max_examples=60, database=None)
    @given(from_type(ty, numbers=(100,)))
    def draw(x: int) -> None:
        seen.append(x)

    draw()  # Hypothesis does not repeat an input, so each edge shows up once
    assert {99, 100, 101} <= set(seen), sorted(seen)


@pytest.mark.parametrize("name", ["over", "full"])
def test_off_by_one_at_a_constant_is_caught_on_every_seed(name: str) -> None:
    module = load_text(OFF_BY_ONE)
    misses = [
        seed
        for seed in range(12)
        if check_bind(module, _bind(module, name), examples=1000, seed=seed).ok
    ]
    assert misses == []


def test_without_spec_numbers_the_same_bug_slips_through(monkeypatch: pytest.MonkeyPatch) -> None:
    # The harness is what catches it: with uniform ints alone most seeds miss.
    monkeypatch.setattr(conformance, "spec_numbers", lambda module: ())
    module = load_text(OFF_BY_ONE)
    caught = [
        seed
        for seed in range(6)
        if not check_bind(module, _bind(module, "over"), examples=200, seed=seed, shrink=False).ok
    ]
    assert len(caught) < 6


def test_default_run_length_is_derived_from_the_machine() -> None:
    counter = load_text(COUNTER).machines["Counter"]
    assert reach(counter) == 12
    assert default_max_steps(counter) == 12 + 6 + 4
    small = load_text("machine M { var b: bool\n init { b = false }\n action f() { b = true } }")
    assert default_max_steps(small.machines["M"]) == MIN_STEPS


def test_a_bug_at_the_eleventh_step_is_caught_with_the_default() -> None:
    module = load_text(COUNTER)
    bind = _bind(module, "Counter")
    for seed in range(4):
        # unshrunk: shrinking a 22-step run takes tens of seconds, finding it one or two
        result = check_bind(module, bind, examples=1000, seed=seed, shrink=False)
        assert not result.ok, f"seed {seed}"
        assert result.max_steps == 22
        assert "`n` is 12 in the implementation, 11 in the spec" in result.message
        assert result.failing_text.count("inc()") >= 11


def test_max_steps_bounds_the_runs() -> None:
    module = load_text(COUNTER)
    result = check_bind(module, _bind(module, "Counter"), examples=300, seed=0, max_steps=10)
    assert result.ok and result.max_steps == 10  # 11 increments cannot fit in 10 steps


def test_out_of_shrinking_time_the_best_failure_so_far_is_reported(tmp_path: Path) -> None:
    module = load_text(COUNTER)
    bind = _bind(module, "Counter")
    result = check_bind(module, bind, examples=1000, seed=0, corpus=tmp_path, shrink_seconds=0.0)
    assert not result.ok and "`n` is 12 in the implementation" in result.message
    # what is reported is a real failure: its saved form fails again on replay
    assert len(replay_corpus(module, bind, tmp_path)) == 1
