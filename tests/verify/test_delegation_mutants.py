"""The delegation theorems have teeth: each mutant of spec/delegation.lion is refuted.

A mutant changes the Delegation machine the way a buggy orchestrator would
(mint the child a fresh root, copy the parent's capability, skip a check)
and at least one of the named obligations must come out REFUTED (or NOT
INDUCTIVE, where the broken step is found from a state the lemmas allow).
That the unmutated chapter proves is `lion-verify`'s job (`make verify`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lion.spec.load import load_paths
from lion.verify.cli import _proofs_for
from lion.verify.prove import Status, prove_module

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec"
USABLE = "  usable(live, held, anc, revoked, now, p)"
CALL = "may_delegate(live, held, anc, revoked, now, p, rights, scope, expiry)\n      then"

# (what the bug is, original text, mutated text, obligations of which one must fail)
MUTANTS = [
    (
        "the parent's coverage is not checked",
        f"{USABLE} and asks_within(held[p], rights, scope, expiry)",
        USABLE,
        ["delegation_checked", "within_parent"],
    ),
    (
        "a revoked or expired parent may still delegate",
        f"{USABLE} and asks_within(held[p], rights, scope, expiry)",
        "  asks_within(held[p], rights, scope, expiry)",
        ["delegation_checked", "answers_exact"],
    ),
    (
        "a later expiry than the parent's is not refused",
        "  rights subset p.rights and narrower_or_equal(scope, p.scope) and expiry <= p.expiry",
        "  rights subset p.rights and narrower_or_equal(scope, p.scope)",
        ["delegation_narrows", "within_parent"],
    ),
    (
        "a wider scope is not refused",
        "  rights subset p.rights and narrower_or_equal(scope, p.scope) and expiry <= p.expiry",
        "  rights subset p.rights and expiry <= p.expiry",
        ["delegation_narrows", "widening_is_refused"],
    ),
    (
        "the child is given the parent's capability unchanged",
        f"{CALL} held with [c: child_of(c, rights, scope, expiry)] else held",
        f"{CALL} held with [c: held[p]] else held",
        ["holder_is_branch"],
    ),
    (
        "the child is minted a fresh root instead of derived",
        f"{CALL} parent with [c: some(p)] else parent",
        f"{CALL} parent with [c: none] else parent",
        ["only_host_roots", "within_parent"],
    ),
    (
        "the child's chain does not run through its parent",
        f"{CALL} anc with [c: anc[p] union {{p}}] else anc",
        f"{CALL} anc with [c: {{}}] else anc",
        ["within_parent"],
    ),
    (
        "revocation is checked on the branch itself only, not its chain",
        "not (b in revoked) and (anc[b] inter revoked) == {} and now < held[b].expiry",
        "not (b in revoked) and now < held[b].expiry",
        ["revocation_cascades"],
    ),
]

FAILED = {Status.REFUTED, Status.NOT_INDUCTIVE}


@pytest.mark.parametrize(("bug", "old", "new", "killers"), MUTANTS, ids=[m[0] for m in MUTANTS])
def test_mutant_is_caught(tmp_path: Path, bug: str, old: str, new: str, killers: list[str]) -> None:
    for f in SPEC.glob("*.lion"):
        (tmp_path / f.name).write_text(f.read_text())
    target = tmp_path / "delegation.lion"
    text = target.read_text()
    assert text.count(old) == 1, f"mutant does not apply: {old!r}"
    target.write_text(text.replace(old, new))
    (module,) = load_paths([target])
    strategies = _proofs_for(module, ROOT / "proofs")
    results = {r.name: r for r in prove_module(module, strategies, only=set(killers))}
    statuses = {name: results[name].status for name in killers}
    assert FAILED & set(statuses.values()), statuses
