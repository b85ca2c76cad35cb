"""The five chapters: the theorem index is fresh, and the theorems have teeth.

Each mutant changes one chapter the way a bug would (flip an operator, swap a
decision, drop a guard) and must make at least one of the named theorems
REFUTED: a theorem set that cannot tell a broken model from the right one
proves nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lion.spec.load import load_paths
from lion.verify.cli import _proofs_for
from lion.verify.index import THEOREMS_DOC, render
from lion.verify.prove import Status, prove_module

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec"
CHAPTERS = ["composition", "capabilities", "actors", "policy", "integration"]


def test_every_chapter_exists_with_described_theorems() -> None:
    modules = load_paths([SPEC / f"{c}.lion" for c in CHAPTERS])
    for m in modules:
        obligations = [*m.theorems, *m.invariants]
        assert len(obligations) >= 3, m.path
        for t in obligations:
            assert t.doc, f"{m.path}: `{t.name}` has no plain-English line"


def test_theorem_index_is_fresh() -> None:
    modules = load_paths([SPEC])
    strategies = {m.path: _proofs_for(m, None) for m in modules}
    expected = render(modules, strategies)
    actual = (ROOT / THEOREMS_DOC).read_text(encoding="utf-8")
    assert actual == expected, "docs/theorems.md is stale: run `lion-verify --write-index`"


# (chapter, original text, mutated text, theorems of which at least one must be REFUTED)
MUTANTS = [
    # composition
    (
        "composition",
        "pre: f.pre union (g.pre minus f.post)",
        "pre: f.pre union g.pre minus f.post",
        ["identity_left", "associativity", "pre_is_needed_post_is_kept"],
    ),
    (
        "composition",
        "dst: g.dst, req: f.req union g.req",
        "dst: g.dst, req: f.req",
        ["composition_needs_both"],
    ),
    (
        "composition",
        "fn identity(o: set<Port>) -> Morph = Morph(src: o, dst: o, req: {}",
        "fn identity(o: set<Port>) -> Morph = Morph(src: o, dst: o, req: {Read}",
        ["identity_left", "identity_right", "tensor_unit", "product_unit", "product_then_identity"],
    ),
    (
        "composition",
        "Morph(src: f.src, dst: g.dst",
        "Morph(src: f.src, dst: f.dst",
        ["composition_defined", "identity_left", "associativity"],
    ),
    (
        "composition",
        "pre: f.pre union g.pre, post: f.post union g.post)",
        "pre: f.pre union g.pre, post: f.post)",
        ["tensor_commutative", "tensor_unit", "product_commutative", "product_unit"],
    ),
    (
        "composition",
        "  Morph(src: f.src union g.src, dst: f.dst union g.dst,",
        "  Morph(src: f.src union g.src, dst: f.dst,",
        ["product_associative", "tensor_of_identities", "product_then_identity"],
    ),
    (  # the kernel's product merging shared ports instead of refusing them
        "composition",
        "  if disjoint(f, g) then some(tensor(f, g)) else none",
        "  some(tensor(f, g))",
        ["product_keeps_ports_apart"],
    ),
    (
        "composition",
        "= (f.src inter g.src) == {} and (f.dst inter g.dst) == {}",
        "= (f.src inter g.src) == {}",
        ["product_keeps_ports_apart"],
    ),
    # capabilities
    (
        "capabilities",
        "  rights subset p.rights and narrower_or_equal(scope, p.scope) and expiry <= p.expiry",
        "  narrower_or_equal(scope, p.scope) and expiry <= p.expiry",
        ["attenuation_never_widens", "least_authority", "attenuation_covers_less"],
    ),
    (
        "capabilities",
        "  rights subset p.rights and narrower_or_equal(scope, p.scope) and expiry <= p.expiry",
        "  rights subset p.rights and narrower_or_equal(scope, p.scope)",
        ["attenuation_never_widens"],
    ),
    (
        "capabilities",
        "  rights subset p.rights and narrower_or_equal(scope, p.scope) and expiry <= p.expiry",
        "  rights subset p.rights and expiry <= p.expiry",
        ["attenuation_never_widens", "least_authority", "attenuation_covers_less"],
    ),
    (
        "capabilities",
        "      and may_attenuate(cap[p], rights, scope, expiry)",
        "",
        ["derived_within_parent"],
    ),
    (
        "capabilities",
        "requires c in minted and cap[c].holder == who and covers(cap[c], a, now)",
        "requires c in minted and covers(cap[c], a, now)",
        ["no_ambient_authority"],
    ),
    (
        "capabilities",
        "anc = anc with [c: anc[p] union {p}]\n  }\n  action give",
        "anc = anc with [c: anc[p]]\n  }\n  action give",
        ["chain_is_recorded"],
    ),
    (
        "capabilities",
        "a.right in c.rights and covers_path(c.scope, a.res) and now < c.expiry",
        "a.right in c.rights and covers_path(c.scope, a.res)",
        ["expired_covers_nothing"],
    ),
    # actors
    (
        "actors",
        "received with [m.sender: m.seq + 1]",
        "received with [m.sender: m.seq]",
        ["fifo_per_sender", "queued_in_sender_order"],
    ),
    (
        "actors",
        "head = second\n    second = none",
        "head = second\n    second = head",
        ["queued_in_sender_order", "fifo_per_sender", "nothing_lost"],
    ),
    (
        "actors",
        "requires phase == Stopping and head == none\n",
        "requires phase == Stopping\n",
        ["stopped_is_empty", "nothing_lost"],
    ),
    (
        "actors",
        "action ask(a: Actor, b: Actor) {\n    requires not closes_cycle(waits, a, b)",
        "action ask(a: Actor, b: Actor) {\n    requires a != b",
        ["no_wait_cycles"],
    ),
    (
        "actors",
        "requires not (a == b or a in reach(waits, {b}))",
        "requires not (a == b or b in reach(waits, {a}))",
        ["no_wait_cycles"],
    ),
    (
        "actors",
        "a == b or a in reach(w, {b})",
        "a == b or a in next(w, {b})",
        ["no_wait_cycles"],
    ),
    (
        "actors",
        "    waits = fill({})\n",
        "    waits = fill({A})\n",
        ["deadlock_free"],
    ),
    (
        "actors",
        "    before = state\n    state = state with [a: v]",
        "    before = state\n    state = state with [a: v] with [A: v]",
        ["isolation"],
    ),
    (
        "actors",
        "reported = reported + (if head == none then 0 else 1)",
        "reported = reported + (if head == none then 0 else 0)",
        ["nothing_lost"],
    ),
    # policy
    (
        "policy",
        "if s.forbid_t then DENY",
        "if s.forbid_t and s.permit_t then DENY",
        ["forbid_overrides", "permit_soundness"],
    ),
    (
        "policy",
        "else if s.permit_t and not s.forbid_u then PERMIT",
        "else if s.permit_t then PERMIT",
        ["fail_closed", "permit_soundness"],
    ),
    (
        "policy",
        "else if not (s.permit_t or s.permit_u) then DENY",
        "else if not s.permit_t then DENY",
        ["indeterminate_means_unknown", "monotone_in_information"],
    ),
    (
        "policy",
        "permit_u: s.permit_u or q.value == U",
        "permit_u: s.permit_u",
        ["monotone_in_information", "indeterminate_means_unknown"],
    ),
    (
        "policy",
        "if a == F or b == F then F else if a == T and b == T then T else U",
        "if a == F or b == F then F else if a == T or b == T then T else U",
        ["kleene_and_commutative", "kleene_monotone", "kleene_de_morgan"],
    ),
    (
        "policy",
        "absorb(absorb(absorb(absorb(nothing_seen(), ps[0]), ps[1]), ps[2]), ps[3])",
        "absorb(absorb(absorb(nothing_seen(), ps[0]), ps[1]), ps[2])",
        ["order_independent", "permit_soundness"],
    ),
    # integration
    (  # the capability is not checked again after the approver's await
        "integration",
        "  if yes then admit(h, spent, reserved, r) else Refused",
        "  if yes then (if spent + reserved + cost(r.op) > SPEND_LIMIT"
        " then OverBudget else Performing) else Refused",
        ["mediation_at_start"],
    ),
    (  # the policy is asked about another request than the effect (a read permits a pay)
        "integration",
        "  let d = p[r];",
        "  let d = p[Request(who: r.who, op: Search)];",
        ["mediation_at_start", "start_needs_all_three"],
    ),
    (  # the check ignores reservations: two concurrent payments share the last unit
        "integration",
        "else if spent + reserved + cost(r.op) > SPEND_LIMIT then OverBudget",
        "else if spent + cost(r.op) > SPEND_LIMIT then OverBudget",
        ["within_budget", "start_needs_all_three"],
    ),
    (  # the reservation is released twice when perform fails
        "integration",
        "    reserved = reserved - cost(req[i].op)\n",
        "    reserved = reserved - cost(req[i].op) - (if ok then 0 else cost(req[i].op))\n",
        ["reservations_tracked"],
    ),
    (  # perform runs for a denied call too
        "integration",
        "    performs = performs with [i: if on_arrival(holds, policy, spent, reserved, r)"
        " == Performing then 1 else 0]",
        "    performs = performs with [i: 1]",
        ["performed_iff_permitted"],
    ),
    (  # a finished call is recorded a second time
        "integration",
        "    recorded = recorded with [i: recorded[i] + 1]\n    log_len = log_len + 1\n",
        "    recorded = recorded with [i: recorded[i] + 2]\n    log_len = log_len + 2\n",
        ["recorded_once", "audit_complete"],
    ),
    (  # a denied arrival is not logged
        "integration",
        "    log_len = log_len + (if decided(on_arrival(holds, policy, spent, reserved, r))"
        " then 1 else 0)",
        "    log_len = log_len",
        ["audit_complete"],
    ),
    (  # an approver is consulted although the policy said PERMIT
        "integration",
        "  else if d == INDETERMINATE then Approving",
        "  else if d != DENY then Approving",
        ["approving_is_indeterminate"],
    ),
    (
        "integration",
        "none => DENY }) else d",
        "none => PERMIT }) else d",
        ["indeterminate_never_permits_alone"],
    ),
    (
        "integration",
        "if d == INDETERMINATE then (match",
        "if d != PERMIT then (match",
        ["deny_is_final"],
    ),
]


def test_at_least_five_mutants_per_chapter() -> None:
    counts = {c: sum(1 for m in MUTANTS if m[0] == c) for c in CHAPTERS}
    assert all(n >= 5 for n in counts.values()), counts


@pytest.mark.parametrize(
    ("chapter", "old", "new", "killers"),
    MUTANTS,
    ids=[f"{m[0]}-{i}" for i, m in enumerate(MUTANTS)],
)
def test_mutant_is_caught(
    tmp_path: Path, chapter: str, old: str, new: str, killers: list[str]
) -> None:
    for f in SPEC.glob("*.lion"):
        (tmp_path / f.name).write_text(f.read_text())
    target = tmp_path / f"{chapter}.lion"
    text = target.read_text()
    assert text.count(old) == 1, f"mutant does not apply: {old!r}"
    target.write_text(text.replace(old, new))
    (module,) = load_paths([target])
    strategies = _proofs_for(module, SPEC.parent / "proofs")
    results = {r.name: r for r in prove_module(module, strategies, only=set(killers))}
    statuses = {name: results[name].status for name in killers}
    assert Status.REFUTED in statuses.values(), statuses


@pytest.mark.parametrize("lanes", [5, 8])
def test_runner_proves_with_more_calls_in_flight(tmp_path: Path, lanes: int) -> None:
    """The concurrent Runner is stated for 3 calls in flight; it also proves for 5 and 8."""
    text = (SPEC / "integration.lion").read_text()
    names = [f"L{i}" for i in range(lanes)]
    scaled = (
        text.replace("enum Lane { L0, L1, L2 }", "enum Lane { " + ", ".join(names) + " }")
        .replace(
            "held(status[L0], req[L0]) + held(status[L1], req[L1]) + held(status[L2], req[L2])",
            " + ".join(f"held(status[{n}], req[{n}])" for n in names),
        )
        .replace(
            "open(status[L0]) + open(status[L1]) + open(status[L2])",
            " + ".join(f"open(status[{n}])" for n in names),
        )
        .replace("int[0..6]", f"int[0..{2 * lanes}]")
        .replace("MAX_ARRIVALS: int = 6", f"MAX_ARRIVALS: int = {2 * lanes}")
        .replace("type Money = int[0..3]", f"type Money = int[0..{lanes}]")
    )
    assert scaled.count("L7" if lanes == 8 else "L4") >= 3  # every lane-indexed sum was scaled
    scaled = scaled[: scaled.index("bind Runner")]
    (tmp_path / "policy.lion").write_text((SPEC / "policy.lion").read_text())
    target = tmp_path / "integration.lion"
    target.write_text(scaled)
    (module,) = load_paths([target])
    strategies = _proofs_for(module, SPEC.parent / "proofs")
    results = list(prove_module(module, strategies))
    assert {r.name: r.status for r in results} == {r.name: Status.PROVED for r in results}
    assert len(results) >= 10
