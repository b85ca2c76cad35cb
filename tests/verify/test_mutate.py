"""`lion-verify mutate`: spec mutants, and how each one is judged.

A toy chapter (written below) has a bound function (`magnitude`, bound to
Python's `abs`), a weakly specified one (`grow`), and a machine with an
invariant, so that every verdict occurs: refuted by an obligation, caught by
conformance, equivalent (with Z3's reason), and survived.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest

from lion.spec import ast
from lion.spec.load import load_paths
from lion.verify.cli import _proofs_for, run
from lion.verify.mutate import OPERATORS, generate, mutate_chapter
from lion.verify.prove import Status, prove_module

ROOT = Path(__file__).resolve().parents[2]

TOY = """chapter "Toy"

fn magnitude(x: int) -> int = if x < 0 then 0 - x else x
fn grow(x: int) -> int = x + 1
fn flag(b: bool) -> bool = b == true

machine Counter {
  var n: int[0..3]
  var on: bool
  init { n = 0
         on = false }
  action add() {
    requires n < 2 and not on
    n = n + 1
  }
  action clear() {
    requires n >= 2
    n = 0
    on = flag(false)
  }
}

theorem grow_grows "grow never shrinks much": forall x: int . grow(x) >= x - 5
invariant capped "the counter stays below three" on Counter: n <= 2

bind magnitude python "builtins:abs"
"""

PASSING = """chapter "Pass"

fn magnitude(x: int) -> int = if x < 0 then 0 - x else x

bind magnitude python "builtins:abs"
"""


def _write(tmp_path: Path, text: str, name: str = "toy") -> Path:
    spec = tmp_path / "spec"
    spec.mkdir(exist_ok=True)
    (tmp_path / "proofs").mkdir(exist_ok=True)
    path = spec / f"{name}.lion"
    path.write_text(text, encoding="utf-8")
    return path


def _change(description: str) -> str:
    """What a mechanical mutant changes, without the source text quoted after it."""
    return description.split(": `", 1)[0]


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["mutate", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


def test_the_generator_produces_every_operator_class_it_claims(tmp_path: Path) -> None:
    (module,) = load_paths([_write(tmp_path, TOY)])
    mutants, available = generate(module)
    assert available == len(mutants)
    assert set(Counter(m.operator for m in mutants)) == set(OPERATORS)
    by_op = {op: [m for m in mutants if m.operator == op] for op in OPERATORS}
    # each mutant really changes what it says, and only in the definition it names
    flip = next(m for m in by_op["flip"] if "`<` becomes `<=`" in m.description)
    body = flip.module.fns["magnitude"].body
    assert isinstance(body, ast.If) and isinstance(body.cond, ast.Binary)
    assert body.cond.op == "<="
    assert module.fns["magnitude"].body != body
    assert flip.module.fns["grow"] is module.fns["grow"]
    dropped = [m for m in by_op["drop-guard"] if m.where == "Counter.add requires"]
    assert dropped and dropped[0].module.machines["Counter"].actions[0].requires == ()
    conjunct = [m for m in by_op["drop-conjunct"] if m.where == "Counter.add requires"]
    assert len(conjunct) == 2  # either side of `n < 2 and not on`, shown with its text
    assert {m.description.split(": ", 1)[1] for m in conjunct} == {"`n < 2`", "`not on`"}
    swapped = by_op["swap-branches"][0].module.fns["magnitude"].body
    assert isinstance(swapped, ast.If) and swapped.then == body.orelse
    negated = [_change(m.description) for m in by_op["negate-bool"]]
    assert "`false` becomes `true`" in negated
    off = {_change(m.description) for m in by_op["off-by-one"] if m.where == "fn grow"}
    assert off == {"`1` becomes `0`", "`1` becomes `2`"}
    # a range literal is never pushed out of its range: `n = 0` into int[0..3] has no -1
    init = {_change(m.description) for m in by_op["off-by-one"] if m.where == "Counter.init: n ="}
    assert init == {"`0` becomes `1`"}
    # the predicate `flag` is a model function here (a machine calls it), so it is mutated
    assert any(m.where == "fn flag" for m in mutants)


def test_verdicts_refuted_caught_equivalent_survived(tmp_path: Path) -> None:
    (module,) = load_paths([_write(tmp_path, TOY)])
    report = mutate_chapter(module, _proofs_for(module, tmp_path / "proofs"), examples=40)
    verdicts = {(o.mutant.where, _change(o.mutant.description)): o for o in report.outcomes}
    # dropping `n < 2` lets n reach 3: the invariant is refuted
    o = verdicts[("Counter.add requires", "the left conjunct of `and` is dropped")]
    assert (o.verdict, o.by) == ("refuted", "capped")
    # `0 - x` becoming `0 + x` disagrees with abs on a negative x
    o = verdicts[("fn magnitude", "`-` becomes `+`")]
    assert (o.verdict, o.by) == ("caught", "magnitude")
    # `x < 0` or `x <= 0`: the same function (0 - 0 is 0), and Z3 says so
    o = verdicts[("fn magnitude", "`<` becomes `<=`")]
    assert o.verdict == "equivalent" and "`magnitude`" in o.reason
    # `x + 1` becoming `x + 2` still satisfies the weak theorem: a survivor
    o = verdicts[("fn grow", "`1` becomes `2`")]
    assert o.verdict == "survived" and not o.killed
    assert report.count("survived") >= 1 and not report.ok
    assert report.killed == report.count("refuted") + report.count("caught")
    assert 0 < report.score < 1


def test_json_report_and_exit_code_1_with_survivors(tmp_path: Path) -> None:
    _write(tmp_path, TOY)
    code, out, err = _cli(str(tmp_path / "spec"), "--json", "--examples", "20")
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False and data["exit_code"] == 1 and data["seed"] == 0
    (chapter,) = data["chapters"]
    assert chapter["chapter"] == "Toy"
    counts = [chapter[k] for k in ("refuted", "caught", "survived", "equivalent")]
    assert sum(counts) == chapter["generated"] == len(chapter["mutants"])
    assert all(counts)
    survivor = chapter["survivors"][0]
    assert survivor["verdict"] == "survived"
    assert set(survivor["location"]) == {"path", "line", "column"}
    assert survivor["location"]["path"].endswith("toy.lion") and survivor["location"]["line"] > 0
    assert all(e["reason"] for e in chapter["equivalents"])
    assert "[Toy 1/" in err  # progress goes to stderr


def test_exit_code_0_when_every_non_equivalent_mutant_is_killed(tmp_path: Path) -> None:
    _write(tmp_path, PASSING, "pass")
    code, out, _ = _cli(str(tmp_path / "spec"), "--examples", "50", "--quiet")
    assert code == 0, out
    assert "0 survived" in out
    assert "equivalent" in out  # `<` for `<=` and `0` for `1` are listed with their reason


def test_bad_input_is_exit_2_with_json(tmp_path: Path) -> None:
    _write(tmp_path, PASSING, "pass")
    code, out, _ = _cli(str(tmp_path / "spec"), "--chapter", "nope", "--json")
    assert code == 2
    assert json.loads(out)["error"]["location"] == {"argument": "--chapter"}
    code, _, err = _cli(str(tmp_path / "spec"), "--max", "0")
    assert code == 2 and "--max" in err


# Each new theorem with teeth, and a named mutant that refutes it (proved alone on the mutant).
POLICY_KILLS = [
    ("policy:bochvar", "kleene_and_table"),
    ("policy:bochvar", "kleene_or_table"),
    ("policy:bochvar-or", "kleene_or_table"),
    ("policy:permit-overrides", "deny_overrides_table"),
    ("policy:not-unknown-is-false", "kleene_not_table"),
]


@pytest.mark.parametrize(("mutant", "killer"), POLICY_KILLS)
def test_policy_tables_refute_the_historic_survivors(mutant: str, killer: str) -> None:
    (module,) = load_paths([ROOT / "spec" / "policy.lion"])
    strategies = _proofs_for(module, ROOT / "proofs")
    assert {r.status for r in prove_module(module, strategies, only={killer})} == {Status.PROVED}
    (m,) = [m for m in generate(module)[0] if m.id == mutant]
    (r,) = prove_module(m.module, strategies, only={killer})
    assert r.status is Status.REFUTED, r.message


def test_verdicts_are_validity_refutes_a_verdict_read_from_the_wrong_capability() -> None:
    (module,) = load_paths([ROOT / "spec" / "capabilities.lion"])
    strategies = _proofs_for(module, ROOT / "proofs")
    (m,) = [m for m in generate(module)[0] if m.id == "capabilities:53"]
    assert m.where == "fn verdicts" and m.operator == "off-by-one"
    (r,) = prove_module(m.module, strategies, only={"verdicts_are_validity"})
    assert r.status is Status.REFUTED


# (chapter, where, the mutant's description starts with, the theorem that refutes it)
THEOREM_KILLS = [
    (
        "delegation",
        "fn usable",
        "the left conjunct of `and` is dropped: `b in live`",
        "only_live_is_usable",
    ),
    (
        "capabilities",
        "fn valid",
        "the left conjunct of `and` is dropped: `c in minted`",
        "only_minted_is_valid",
    ),
    ("delegation", "fn asks_within", "`<=` becomes `<`: `expiry <= p.expiry`", "within_is_granted"),
    (
        "integration",
        "fn sent_count",
        "`0` becomes `1`: `0 then 1 else dcount[C0]]`",
        "resume_fills_in",
    ),
    (
        "integration",
        "fn sent_count",
        "the right conjunct of `and` is dropped: `dcount[C0] == 0",
        "duplicate_decision_refused",
    ),
    (
        "integration",
        "fn sent_hash",
        "the right conjunct of `and` is dropped: `dcount[C0] == 0",
        "resume_sends_decisions",
    ),
    ("integration", "fn resumed", "`0` becomes `1`: `0);`", "resume_one_call"),
    (
        "integration",
        "fn resumes_now",
        "the right conjunct of `and` is dropped: `strays",
        "strays_block_resume",
    ),
    (
        "integration",
        "Controls.batch requires",
        "a `requires` is dropped: `run != Paused`",
        "paused_runs_nothing",
    ),
    (
        "integration",
        "Controls.stray requires",
        "a `requires` is dropped: `run == Paused`",
        "strays_only_while_paused",
    ),
    ("integration", "Controls.batch: calls_spent =", "`<=` becomes `<`", "calls_spent_counts_runs"),
]


@pytest.mark.parametrize(("chapter", "where", "change", "killer"), THEOREM_KILLS)
def test_each_new_theorem_refutes_a_mutant_that_survived(
    chapter: str, where: str, change: str, killer: str
) -> None:
    module = next(
        m for m in load_paths([ROOT / "spec" / f"{chapter}.lion"]) if Path(m.path).stem == chapter
    )
    strategies = _proofs_for(module, ROOT / "proofs")
    m = next(
        m for m in generate(module)[0] if m.where == where and m.description.startswith(change)
    )
    (r,) = prove_module(m.module, strategies, only={killer})
    assert r.status is Status.REFUTED, r.message


def test_first_applicable_table_refutes_a_swapped_first_applicable() -> None:
    (module,) = load_paths([ROOT / "spec" / "policy.lion"])
    strategies = _proofs_for(module, ROOT / "proofs")
    (m,) = [
        m
        for m in generate(module)[0]
        if m.where == "fn first_applicable" and m.operator == "swap-branches"
    ]
    (r,) = prove_module(m.module, strategies, only={"first_applicable_table"})
    assert r.status is Status.REFUTED
    # and the law that was there before does not notice it
    (law,) = prove_module(m.module, strategies, only={"first_applicable_associative"})
    assert law.status is Status.PROVED


@pytest.mark.parametrize(
    ("chapter", "mutant", "killer"),
    [
        ("capabilities", "capabilities:use-ignores-revocation", "use_needs_valid"),
        ("capabilities", "capabilities:71", "grants_need_valid"),  # derive from an expired cap
        ("workflow", "workflow:reset", "workflow_ranked"),
    ],
)
def test_machine_survivors_are_refuted(chapter: str, mutant: str, killer: str) -> None:
    (module,) = load_paths([ROOT / "spec" / f"{chapter}.lion"])
    report = mutate_chapter(
        module, _proofs_for(module, ROOT / "proofs"), examples=0, only_ids=[mutant], baseline=False
    )
    (o,) = report.outcomes
    assert (o.verdict, o.by) == ("refuted", killer), o.reason
