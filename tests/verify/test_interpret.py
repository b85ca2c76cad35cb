"""The interpreter and the Z3 encoding are two semantics of one language: on concrete
inputs they must agree, for every function of the fixture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import z3
from hypothesis import given
from hypothesis import strategies as st

from lion.errors import SpecEvaluationError
from lion.spec.load import load_text
from lion.verify.encode import Encoder
from lion.verify.interpret import Interpreter, conforms
from lion.verify.strategies import args_of, from_type, state_of

FIXTURE = (Path(__file__).parent.parent / "spec" / "fixtures" / "sample.lion").read_text()
MODULE = load_text(FIXTURE, "sample.lion")
INTERP = Interpreter(MODULE)
ENC = Encoder(MODULE)


def z3_value(fn_name: str, args: dict[str, Any]) -> Any:
    fn = MODULE.fns[fn_name]
    env = {p.name: ENC.const(args[p.name], p.ty) for p in fn.params}
    sym = ENC.enc(fn.body, env)
    solver = z3.Solver()
    assert solver.check() == z3.sat
    return ENC.value(solver.model(), fn.result, sym)


@pytest.mark.parametrize("fn_name", sorted(MODULE.fns))
@given(data=st.data())
def test_interpreter_agrees_with_z3_encoding(fn_name: str, data: st.DataObject) -> None:
    fn = MODULE.fns[fn_name]
    args = data.draw(args_of(fn.params))
    expected = INTERP.call(fn_name, *args.values())
    assert conforms(expected, fn.result)
    assert z3_value(fn_name, args) == expected


@given(data=st.data())
def test_machine_steps_preserve_proved_invariants(data: st.DataObject) -> None:
    machine = MODULE.machines["Table"]
    state = INTERP.init("Table")
    assert state is not None
    for _ in range(data.draw(st.integers(0, 8))):
        action = data.draw(st.sampled_from(machine.actions))
        args = data.draw(args_of(action.params))
        nxt = INTERP.step("Table", action.name, state, *args.values())
        if nxt is None:
            continue
        state = nxt
        for inv in MODULE.invariants:
            assert INTERP.invariant_holds(inv, state), inv.name


@given(state_of(MODULE.machines["Table"]))
def test_strategies_make_well_formed_values(state: dict[str, Any]) -> None:
    for v in MODULE.machines["Table"].vars:
        assert conforms(state[v.name], v.ty)


def test_out_of_range_value_is_an_evaluation_error() -> None:
    module = load_text("fn inc(x: int[0..3]) -> int[0..3] = x + 1")
    interp = Interpreter(module)
    assert interp.call("inc", 2) == 3
    with pytest.raises(SpecEvaluationError, match=r"outside `int\[0\.\.3\]`"):
        interp.call("inc", 3)


def test_disabled_action_returns_none() -> None:
    state = INTERP.init("Table")
    assert state is not None
    assert INTERP.step("Table", "revoke", state, 0) is None  # nothing minted yet
    minted = INTERP.step("Table", "mint", state, 0)
    assert minted is not None and minted["count"] == 1
    assert state["count"] == 0  # steps never mutate their input


def test_from_type_covers_option_none_and_some() -> None:
    ty = MODULE.records["Cap"].field_type("parent")
    assert ty is not None
    seen = set()

    @given(from_type(ty))
    def collect(v: Any) -> None:
        seen.add(v is None)

    collect()
    assert seen == {True, False}
