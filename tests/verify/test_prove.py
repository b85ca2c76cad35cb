"""The prover: true theorems are PROVED, false ones REFUTED with a counterexample the
interpreter confirms, invariants by induction or to a bound."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lion.spec.load import load_text
from lion.verify.interpret import Interpreter
from lion.verify.proofs import Strategy
from lion.verify.prove import Status, dependencies, prove_module

FIXTURE = (Path(__file__).parent.parent / "spec" / "fixtures" / "sample.lion").read_text()


def results(source: str, **strategies: Strategy) -> dict[str, object]:
    module = load_text(source, "t.lion")
    return {r.name: r for r in prove_module(module, strategies)}


def test_every_obligation_of_the_fixture_is_proved() -> None:
    out = results(FIXTURE)
    assert set(out) >= {
        "attenuation_never_widens",
        "combine_commutes",
        "count_matches",
        "Table.ranges",
    }
    assert {name: r.status for name, r in out.items()} == {n: Status.PROVED for n in out}


FALSE_THEOREMS = [
    # (theorem text appended to the fixture, variables the counterexample must bind)
    (
        "theorem f1: forall c: Cap, keep: set<Right> . attenuate(c, keep, 100).rights == c.rights",
        {"c", "keep"},
    ),
    ("theorem f2: forall a: Decision, b: Decision . combine(a, b) == a", {"a", "b"}),
    (
        "theorem f3: forall c: Cap, r: Right, now: int . covers(c, r, now) implies now < 50",
        {"c", "r", "now"},
    ),
    ("theorem f4: forall s: set<Right> . card(s) < 3", {"s"}),
    ("theorem f5: forall c: Cap . depth(c) <= 3", {"c"}),
    ("theorem f6: forall m: map<CapId, Right> . any_write(m)", {"m"}),
    ("theorem f7: forall x: string, y: string . x == y", {"x", "y"}),
]


@pytest.mark.parametrize(("text", "names"), FALSE_THEOREMS)
def test_false_theorem_is_refuted_and_the_interpreter_confirms(text: str, names: set[str]) -> None:
    module = load_text(FIXTURE + "\n" + text, "t.lion")
    name = text.split(":")[0].split()[1]
    (result,) = list(prove_module(module, only={name}))
    assert result.status == Status.REFUTED
    assert set(result.counterexample) == names
    theorem = next(t for t in module.theorems if t.name == name)
    assert Interpreter(module).holds(theorem, result.counterexample) is False
    for var in names:
        assert result.counterexample_text[var]  # printed in spec terms


def test_counterexample_is_printed_with_spec_names() -> None:
    module = load_text(FIXTURE + "\ntheorem g: forall a: Decision . a != Indeterminate", "t.lion")
    (r,) = list(prove_module(module, only={"g"}))
    assert r.counterexample_text == {"a": "Indeterminate"}


def test_vacuous_theorem_is_reported() -> None:
    out = results(FIXTURE + "\ntheorem v: forall x: int[0..3] . x > 5 implies x == 0")
    assert out["v"].status == Status.VACUOUS  # type: ignore[attr-defined]


def test_unknown_on_timeout() -> None:
    # Nonlinear integer arithmetic that z3 cannot settle in a millisecond.
    src = (
        "theorem hard: forall x: int, y: int, z: int . x > 0 and y > 0 and z > 0 implies "
        "x + y + z != 0"
    )
    module = load_text(src)
    (r,) = list(prove_module(module, timeout=1e-6))
    assert r.status in (Status.UNKNOWN, Status.PROVED)  # z3 may answer trivial ones instantly
    # with a sane timeout it is proved
    (r,) = list(prove_module(module))
    assert r.status == Status.PROVED


MACHINE = """
machine Evens {
  var a: int[0..10]
  init { a = 0 }
  action step() {
    requires a < 9
    a = a + 2
  }
}
"""


def test_true_but_not_inductive_invariant_is_reported_with_cti() -> None:
    out = results(MACHINE + "invariant not_seven on Evens: a != 7")
    r = out["not_seven"]
    assert r.status == Status.NOT_INDUCTIVE  # type: ignore[attr-defined]
    before, after = r.trace  # type: ignore[attr-defined]
    assert before.state["a"] != 7 and after.state["a"] == 7
    # a stronger, inductive invariant proves the same fact
    strong = results(
        MACHINE + "invariant even on Evens: a == 0 or a == 2 or a == 4 or a == 6 "
        "or a == 8 or a == 10"
    )
    assert strong["even"].status == Status.PROVED  # type: ignore[attr-defined]


def test_lemma_makes_an_invariant_inductive() -> None:
    src = MACHINE + (
        "invariant even on Evens: a == 0 or a == 2 or a == 4 or a == 6 or a == 8 "
        "or a == 10\ninvariant not_seven on Evens: a != 7"
    )
    out = results(src, not_seven=Strategy("induction", lemmas=("even",)))
    assert out["not_seven"].status == Status.PROVED  # type: ignore[attr-defined]


def test_lemma_that_fails_downgrades_the_dependent_invariant() -> None:
    src = MACHINE + "invariant wrong on Evens: a < 4\ninvariant ok on Evens: a <= 10"
    out = results(src, ok=Strategy("induction", lemmas=("wrong",)))
    assert out["wrong"].status == Status.REFUTED  # type: ignore[attr-defined]
    assert out["ok"].status == Status.UNKNOWN  # type: ignore[attr-defined]


def test_false_invariant_is_refuted_with_a_trace_the_interpreter_replays() -> None:
    src = MACHINE + "invariant small on Evens: a < 5"
    module = load_text(src)
    for strategy in (Strategy("induction"), Strategy("bounded", bound=5)):
        (r,) = [x for x in prove_module(module, {"small": strategy}) if x.name == "small"]
        assert r.status == Status.REFUTED
        interp = Interpreter(module)
        state = interp.init("Evens")
        assert state is not None
        for step in r.trace[1:]:
            state = interp.step("Evens", step.action, state, *step.args.values())
            assert state is not None and state == step.state
        assert state["a"] >= 5
        inv = module.invariants[0]
        assert not interp.invariant_holds(inv, state)


def test_bounded_check_reports_bounded_not_proved() -> None:
    src = MACHINE + "invariant small on Evens: a <= 10"
    out = results(src, small=Strategy("bounded", bound=3))
    assert out["small"].status == Status.BOUNDED  # type: ignore[attr-defined]


def test_range_violation_by_an_action_is_refuted() -> None:
    src = MACHINE.replace("requires a < 9", "requires a < 10")
    out = results(src)
    r = out["Evens.ranges"]
    assert r.status == Status.REFUTED  # type: ignore[attr-defined]
    assert "step" in r.message  # type: ignore[attr-defined]


def test_action_that_can_never_fire_is_vacuous() -> None:
    src = MACHINE.replace("requires a < 9", "requires a < 9 and a > 20")
    out = results(src + "invariant small on Evens: a <= 10")
    r = out["Evens.ranges"]
    assert r.status == Status.VACUOUS  # type: ignore[attr-defined]
    assert "`step` can never fire" in r.message  # type: ignore[attr-defined]


DEPENDENCIES = (
    Path(__file__).parent.parent / "spec" / "fixtures" / "dependencies.lion"
).read_text()
USING_EVEN = {"small": Strategy("induction", lemmas=("even",))}


def test_refuted_ranges_downgrade_the_machines_invariants() -> None:
    # `even_below_five` is inductive only because each step assumes n in range; the
    # ranges obligation is REFUTED, so the invariant must not be PROVED.
    out = results(DEPENDENCIES, **USING_EVEN)
    assert out["Counter.ranges"].status == Status.REFUTED  # type: ignore[attr-defined]
    r = out["even_below_five"]
    assert r.status == Status.UNKNOWN  # type: ignore[attr-defined]
    assert "`Counter.ranges`" in r.message and "REFUTED" in r.message  # type: ignore[attr-defined]
    # The other machine's ranges hold (assuming `even`), so its invariants stay PROVED.
    for name in ("even", "small", "Evens.ranges"):
        assert out[name].status == Status.PROVED, name  # type: ignore[attr-defined]


def test_unknown_or_vacuous_ranges_downgrade_too() -> None:
    vacuous = MACHINE.replace("requires a < 9", "requires a < 9 and a > 20")
    out = results(vacuous + "invariant small on Evens: a <= 10")
    assert out["Evens.ranges"].status == Status.VACUOUS  # type: ignore[attr-defined]
    assert out["small"].status == Status.UNKNOWN  # type: ignore[attr-defined]
    assert "`Evens.ranges`" in out["small"].message  # type: ignore[attr-defined]


def test_only_proves_what_the_answer_depends_on() -> None:
    module = load_text(DEPENDENCIES, "dependencies.lion")

    def only(*names: str) -> dict[str, Status]:
        return {r.name: r.status for r in prove_module(module, USING_EVEN, only=set(names))}

    # The invariant alone: its machine's ranges are proved too (and refuted), so it is
    # not PROVED, and only what was asked is reported.
    assert only("even_below_five") == {"even_below_five": Status.UNKNOWN}
    # The ranges assume every invariant of the machine proved by induction: asked alone,
    # they give what a full run gives (without `even` they would be refuted, from a = 9).
    assert only("Evens.ranges") == {"Evens.ranges": Status.PROVED}
    assert only("small") == {"small": Status.PROVED}
    full = {r.name: r.status for r in prove_module(module, USING_EVEN)}
    for name in full:
        assert only(name) == {name: full[name]}


def test_only_with_a_failing_lemma_is_not_proved() -> None:
    src = MACHINE + "invariant wrong on Evens: a < 4\ninvariant ok on Evens: a <= 10"
    module = load_text(src)
    (r,) = prove_module(module, {"ok": Strategy("induction", lemmas=("wrong",))}, only={"ok"})
    assert r.status == Status.UNKNOWN
    assert "the lemma `wrong`, which is REFUTED" in r.message


def test_dependencies_of_each_obligation() -> None:
    module = load_text(DEPENDENCIES, "dependencies.lion")
    deps = dependencies(module, {**USING_EVEN, "even": Strategy("bounded", bound=3)})
    assert deps["even_below_five"] == ("Counter.ranges",)
    assert deps["Counter.ranges"] == ("even_below_five",)
    assert deps["small"] == ("even", "Evens.ranges")
    assert deps["even"] == ()  # a bounded check assumes nothing
    assert deps["Evens.ranges"] == ("small",)


def test_only_skips_dependencies_that_cannot_change_the_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Without its lemma `small` is NOT INDUCTIVE; only a PROVED can be downgraded, so
    # neither the ranges nor the other invariants need proving.
    from lion.verify import prove

    proved: list[str] = []
    real_invariant, real_ranges = prove._Prover.invariant, prove._Prover.ranges

    def invariant(self: Any, inv: Any, *args: Any) -> Any:
        proved.append(inv.name)
        return real_invariant(self, inv, *args)

    def ranges(self: Any, m: Any, *args: Any) -> Any:
        proved.append(f"{m.name}.ranges")
        return real_ranges(self, m, *args)

    monkeypatch.setattr(prove._Prover, "invariant", invariant)
    monkeypatch.setattr(prove._Prover, "ranges", ranges)
    module = load_text(DEPENDENCIES, "dependencies.lion")
    (r,) = prove_module(module, only={"small"})
    assert r.status == Status.NOT_INDUCTIVE
    assert proved == ["small"]
    proved.clear()
    (r,) = prove_module(module, USING_EVEN, only={"small"})
    assert r.status == Status.PROVED
    assert sorted(proved) == ["Evens.ranges", "even", "small"]
