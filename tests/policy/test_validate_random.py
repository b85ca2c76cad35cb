"""Random tests of the validator: Cedar's verdict, and the soundness property of issue 16.

Agreement: random policies over random small schemas (tests/policy/_gen.py)
get the verdict (valid / invalid) Cedar's strict validator gives. There are
no deliberate differences in the verdict. The messages differ: LION words
them in its own way, names one issue per node and request environment
(deduplicated), and locates each at file:line:col (Cedar's Python binding
gives no location). Known limits, which the generators do not reach:
LION refuses `additionalAttributes` (open records) as Cedar does, and does
not implement Cedar's partial (permissive) validation mode at all.

Soundness (the theorem, stated as a property): for a schema S, a policy set
P that validates against S, and a request and entities that conform to S
(``conforms(S, request, entities) == ()``), evaluating P never makes a
policy UNKNOWN except through integer overflow or a reference to an entity
that does not exist. Both backends (python and rust) are checked. The
property can fail: with the ``has`` check taken out of the validator
(a planted bug), it finds a counterexample.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

import cedarpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lion.policy._typecheck as typecheck
from lion.kernel.backend import get_backend, rust_available
from lion.policy import conforms, validate

from ._gen import DataGen, PolicyGen, random_schema

EXAMPLES = int(os.environ.get("LION_EXAMPLES", "0")) or None
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=EXAMPLES or 300)
@given(seed=SEEDS)
def test_verdict_equals_cedars_on_random_policies(seed: int) -> None:
    rng = random.Random(seed)
    schema, data = random_schema(rng)
    text = PolicyGen(rng, schema, noise=0.15).policy()
    cedar = cedarpy.validate_policies(text, json.dumps(data))
    report = validate(text, schema)
    assert report.ok == cedar.validation_passed, (
        text,
        [str(e.error) for e in cedar.errors],
        [str(i) for i in report.issues],
    )


def test_random_policies_are_a_mix_of_valid_and_invalid() -> None:
    """The agreement test means little if the generator makes only one kind."""
    verdicts = []
    for seed in range(200):
        rng = random.Random(seed)
        schema, _ = random_schema(rng)
        verdicts.append(validate(PolicyGen(rng, schema, noise=0.15).policy(), schema).ok)
    assert 0.3 < sum(verdicts) / len(verdicts) < 0.9


BACKENDS = ["python", "rust"] if rust_available() else ["python"]
ALLOWED = ("overflow", "does not exist")


def soundness_violations(seed: int, requests: int = 4) -> list[tuple[Any, ...]]:
    """Errors other than overflow and missing entities: validated policies, conforming data."""
    rng = random.Random(seed)
    schema, _ = random_schema(rng)
    gen = PolicyGen(rng, schema, noise=0.15)
    texts = []
    for index in range(6):
        text = gen.policy()
        if validate(text, schema).ok:
            texts.append(f'@id("p{index}") {text}')
    if not texts:
        return []
    data = DataGen(rng, schema)
    entities = data.entities()
    source = "\n".join(texts)
    engines = {name: get_backend(name).policy_set(source) for name in BACKENDS}
    found: list[tuple[Any, ...]] = []
    for _ in range(requests):
        request = data.request()
        assert conforms(schema, request, entities) == ()
        for name, engine in engines.items():
            for error in engine.evaluate(request, entities).errors:
                if not any(word in error.message for word in ALLOWED):
                    found.append((seed, name, error.policy_id, error.message, source))
    return found


@settings(max_examples=EXAMPLES or 60)
@given(seed=SEEDS)
def test_validated_policies_are_never_unknown_on_conforming_requests(seed: int) -> None:
    assert soundness_violations(seed) == []


def test_the_generated_data_reaches_overflow_and_missing_entities() -> None:
    """Missing entities and overflows do occur, so the property is not vacuous about them."""
    seen = set()
    for seed in range(300):
        rng = random.Random(seed)
        schema, _ = random_schema(rng)
        gen = PolicyGen(rng, schema, noise=0.0)
        engine = get_backend("python").policy_set(
            "\n".join(f'@id("p{i}") {gen.policy()}' for i in range(6))
        )
        data = DataGen(rng, schema)
        entities = data.entities()
        for _ in range(3):
            response = engine.evaluate(data.request(), entities)
            seen.update(w for e in response.errors for w in ALLOWED if w in e.message)
    assert seen == set(ALLOWED)


def test_the_property_catches_a_validator_without_the_has_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Planted bug: optional attributes read without `has` pass validation; the property fails."""
    monkeypatch.setattr(typecheck, "_unguarded", lambda *args: False)
    caught = next((v for seed in range(300) for v in soundness_violations(seed)), None)
    assert caught is not None, "the planted bug went unnoticed"
    assert "attribute" in caught[3]


def test_the_property_catches_a_validator_without_operand_type_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Planted bug: `expect` accepts any operand type; the property finds a type error."""
    monkeypatch.setattr(
        typecheck.Checker, "expect", lambda self, t, wanted, ok, node: t is not None
    )
    caught = next((v for seed in range(300) for v in soundness_violations(seed)), None)
    assert caught is not None, "the planted bug went unnoticed"
    assert "type error" in caught[3]
