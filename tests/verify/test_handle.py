"""The public way to get a Hypothesis strategy for a spec type: `lion.verify.load_spec`
and `lion.verify.strategy_for`, as docs/spec-language.md shows them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import lion.verify
from lion.errors import SpecError
from lion.spec.load import load_paths
from lion.verify import Spec, load_spec, strategy_for
from lion.verify.interpret import conforms
from lion.verify.values import EnumValue, MapValue

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "spec" / "policy.lion"
SAMPLE = ROOT / "tests" / "spec" / "fixtures" / "sample.lion"


def test_the_documented_example_runs() -> None:
    policy = load_spec(POLICY)
    evaluate = policy.fn("evaluate")

    @settings(max_examples=50, database=None)
    @given(policy.strategy("PolicySet"))
    def no_policy_no_permit(ps: MapValue) -> None:
        if all(p is None for p in ps.values()):
            assert evaluate(ps) == EnumValue("Decision", "DENY")
        assert conforms(evaluate(ps), policy.type("Decision"))

    no_policy_no_permit()


@pytest.mark.parametrize("name", ["Cap", "Right", "CapId", "bool", "int", "string"])
def test_every_kind_of_type_name_gives_well_formed_values(name: str) -> None:
    spec = load_spec(SAMPLE)
    ty = spec.type(name)

    @settings(max_examples=30, database=None)
    @given(strategy_for(SAMPLE, name))
    def well_formed(value: object) -> None:
        assert conforms(value, ty)

    well_formed()


def test_strategy_for_takes_a_handle_a_module_or_a_path() -> None:
    (module,) = load_paths([SAMPLE])
    for spec in (Spec(module), module, SAMPLE, str(SAMPLE)):
        value = find(strategy_for(spec, "Right"), lambda v: True)
        assert isinstance(value, EnumValue) and value.enum == "Right"


def test_ints_are_drawn_near_the_spec_constants() -> None:
    seen: set[int] = set()

    @settings(max_examples=80, database=None)
    @given(load_spec(SAMPLE).strategy("int"))
    def collect(x: int) -> None:
        seen.add(x)

    collect()
    assert {99, 100, 101} & seen  # MAX_EXPIRY is 100


def test_custom_strings_replace_the_default_pool() -> None:
    value = find(load_spec(SAMPLE).strategy("string", strings=st.just("dave")), lambda v: True)
    assert value == "dave"


def test_unknown_names_and_directories_are_spec_errors() -> None:
    spec = load_spec(SAMPLE)
    with pytest.raises(SpecError, match=r"no type `Nope` in .*; known: .*Cap"):
        spec.type("Nope")
    with pytest.raises(SpecError, match="no function `nope`"):
        spec.fn("nope")
    with pytest.raises(SpecError, match="is a directory"):
        load_spec(ROOT / "spec")
    with pytest.raises(SpecError, match="no such file"):
        strategy_for(ROOT / "nowhere.lion", "Cap")


def test_the_names_are_exported() -> None:
    assert sorted(lion.verify.__all__) == ["Spec", "load_spec", "strategy_for"]
    with pytest.raises(AttributeError):
        _ = lion.verify.nothing  # type: ignore[attr-defined]
