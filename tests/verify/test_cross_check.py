"""`--export-smt` and `--cross-check`: each obligation as one SMT-LIB 2 query, answered
by Z3 and cvc5; the answers must agree with each other and with the proof run."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from lion.verify import cli, cross_check

SPEC = """
chapter "Tiny"
enum Light { Red, Green }
fn flip(l: Light) -> Light = match l { Red => Green, Green => Red }
theorem flip_twice "flipping twice is the identity": forall l: Light . flip(flip(l)) == l
theorem flip_fixed "planted: flipping changes nothing": forall l: Light . flip(l) == l
theorem small_square "a square of a small number is small":
  forall x: int[0..9] . x * x <= 81
theorem div_mod "truncating division and remainder rebuild the dividend":
  forall a: int[-50..50] . (a / -7) * -7 + a % -7 == a and (a % -7) * a >= 0
theorem log_order "append puts the element last":
  forall s: seq<Light, 3>, l: Light . append(s, l)[len(s)] == some(l) and l in append(s, l)

machine Counter {
  var n: int[0..5]
  init { n = 0 }
  action inc { requires n < 5
               n = n + 1 }
  action dec { requires n > 0
               n = n - 1 }
}
invariant within "n stays at most 5" on Counter: n <= 5
invariant never_three "planted: n is never 3" on Counter: n != 3
invariant short "n is at most 2 in the first two steps" on Counter: n <= 2
"""

PROOFS = "short: bounded 2\n"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "spec").mkdir()
    (tmp_path / "proofs").mkdir()
    (tmp_path / "spec" / "tiny.lion").write_text(SPEC)
    (tmp_path / "proofs" / "tiny.proof").write_text(PROOFS)
    return tmp_path


def test_export_writes_one_query_per_obligation(project: Path) -> None:
    out_dir = project / "smt"
    code, _, err = run(str(project / "spec"), "--examples", "0", "--export-smt", str(out_dir))
    assert code == cli.EXIT_FAILED  # the planted theorem and invariant fail
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == [
        "Tiny.Counter.ranges.smt2",
        "Tiny.div_mod.smt2",
        "Tiny.flip_fixed.smt2",
        "Tiny.flip_twice.smt2",
        "Tiny.log_order.smt2",
        "Tiny.never_three.smt2",
        "Tiny.short.smt2",
        "Tiny.small_square.smt2",
        "Tiny.within.smt2",
    ]
    text = (out_dir / "Tiny.flip_twice.smt2").read_text()
    assert text.rstrip().endswith("(check-sat)\n(pop 1)") and text.count("(check-sat)") == 1
    assert "; z3 (lion-verify): PROVED" in text
    assert "; z3 (lion-verify): REFUTED" in (out_dir / "Tiny.flip_fixed.smt2").read_text()
    # An induction is one query per case: the base, then each action's step.
    within = (out_dir / "Tiny.within.smt2").read_text()
    assert within.count("(check-sat)") == 3 and within.count("(push 1)") == 3
    assert "wrote 9 SMT-LIB 2 queries" in err
    # The files are self-contained: Z3 reads them back and gives the run's answers.
    assert cross_check.run_z3(text, 10)[0] == "unsat"
    assert cross_check.run_z3((out_dir / "Tiny.never_three.smt2").read_text(), 10)[0] == "sat"


def test_both_solvers_agree_on_a_tiny_spec(project: Path) -> None:
    code, out, _ = run(str(project / "spec"), "--examples", "0", "--cross-check", "--json")
    assert code == cli.EXIT_FAILED  # failing obligations, but no disagreement
    report = json.loads(out)["cross_check"]
    assert report["disagreements"] == []
    answers = {v["name"]: v["answers"] for v in report["verdicts"]}
    for solver in ("z3", "cvc5"):
        assert answers["flip_twice"][solver] == "unsat"
        assert answers["small_square"][solver] == "unsat"  # nonlinear, still decided
        assert answers["div_mod"][solver] == "unsat"  # `div` in SMT-LIB, mirrored for a < 0
        assert answers["log_order"][solver] == "unsat"
        assert answers["within"][solver] == "unsat"
        assert answers["short"][solver] == "unsat"  # bounded 2
        assert answers["Counter.ranges"][solver] == "unsat"
        assert answers["flip_fixed"][solver] == "sat"
        assert answers["never_three"][solver] == "sat"
    assert report["proved"] == {"z3": 7, "cvc5": 7}


def test_a_disagreement_exits_3_naming_the_obligation(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = cross_check.run_cvc5

    def lying_cvc5(text: str, timeout: float) -> tuple[str, str]:
        answer, reason = real(text, timeout)
        if "Tiny.flip_twice" in text:
            return "sat", ""  # a solver that refutes what z3 proved
        return answer, reason

    monkeypatch.setitem(cross_check._RUNNERS, "cvc5", lying_cvc5)
    code, out, _ = run(str(project / "spec"), "--examples", "0", "--cross-check")
    assert code == cli.EXIT_INTERNAL
    assert "DISAGREEMENT: Tiny.flip_twice: the solvers disagree (z3 says unsat, cvc5 says sat)" in (
        out
    )
    assert out.count("DISAGREEMENT") == 1


def test_unknown_is_reported_but_not_a_disagreement(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(cross_check._RUNNERS, "cvc5", lambda text, timeout: ("unknown", "timeout"))
    code, out, _ = run(str(project / "spec"), "--examples", "0", "--cross-check")
    assert code == cli.EXIT_FAILED
    assert "cvc5: 0/9 proved (unsat), 0 refuted (sat), 9 unknown" in out
    assert "DISAGREEMENT" not in out


def test_a_query_contradicting_the_proof_run_is_a_disagreement() -> None:
    v = cross_check.Verdict("Tiny", "t", "PROVED", {"z3": "sat", "cvc5": "sat"})
    assert v.disagreement is not None and "proof run found PROVED" in v.disagreement
    ok = cross_check.Verdict("Tiny", "t", "UNKNOWN", {"z3": "sat", "cvc5": "unknown"})
    assert ok.disagreement is None


def test_missing_cvc5_is_bad_input(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cross_check, "cvc5_available", lambda: False)
    code, _, err = run(str(project / "spec"), "--examples", "0", "--cross-check")
    assert code == cli.EXIT_BAD_INPUT
    assert "pip install cvc5" in err


def test_an_unwritable_export_directory_is_bad_input(project: Path) -> None:
    blocker = project / "file"
    blocker.write_text("")
    code, _, err = run(str(project / "spec"), "--examples", "0", "--export-smt", str(blocker / "x"))
    assert code == cli.EXIT_BAD_INPUT
    assert "cannot write SMT-LIB files" in err and "Traceback" not in err
