"""`lion-verify`: every exit code, the table, --json, --only, progress."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lion.verify import cli

FIXTURE = Path(__file__).parent.parent / "spec" / "fixtures" / "sample.lion"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "spec").mkdir()
    (tmp_path / "proofs").mkdir()
    shutil.copy(FIXTURE, tmp_path / "spec" / "sample.lion")
    return tmp_path


def test_all_proved_exits_0_with_table_and_progress(project: Path) -> None:
    code, out, err = run(str(project / "spec"))
    assert code == cli.EXIT_OK
    header = out.splitlines()[0].split()
    assert header == ["theorem", "chapter", "strategy", "result", "time"]
    assert "attenuation_never_widens  Sample" in out
    assert "obligation(s)" in out and "proved" in out
    assert "[1/" in err  # progress goes to stderr


def test_planted_false_theorem_exits_1_with_counterexample(project: Path) -> None:
    spec = project / "spec" / "sample.lion"
    spec.write_text(
        spec.read_text() + "\ntheorem planted: forall a: Decision . combine(a, Permit) == Permit\n"
    )
    code, out, _ = run(str(project / "spec"))
    assert code == cli.EXIT_FAILED
    assert "REFUTED: Sample.planted" in out
    assert "a = " in out


def test_syntax_error_exits_2_with_location(project: Path) -> None:
    spec = project / "spec" / "sample.lion"
    spec.write_text("enum A { X }\ntheorem t: forall a: A . a ==\n")
    code, out, err = run(str(project / "spec"))
    assert code == cli.EXIT_BAD_INPUT
    assert f"{spec}:3:1: unexpected end of file" in err
    assert "Traceback" not in err and out == ""


def test_type_error_and_bad_option_and_missing_path_exit_2(project: Path) -> None:
    spec = project / "spec" / "sample.lion"
    spec.write_text("theorem t: 1 + true")
    assert run(str(spec))[0] == cli.EXIT_BAD_INPUT
    assert run(str(project / "nope"))[0] == cli.EXIT_BAD_INPUT
    assert run("--timeout", "-1", str(spec))[0] == cli.EXIT_BAD_INPUT
    assert run("--frobnicate")[0] == cli.EXIT_BAD_INPUT


def test_bad_proofs_file_exits_2(project: Path) -> None:
    (project / "proofs" / "sample.proof").write_text("count_matches: magic\n")
    code, _, err = run(str(project / "spec"))
    assert code == cli.EXIT_BAD_INPUT
    assert "sample.proof:1:1" in err
    (project / "proofs" / "sample.proof").write_text("no_such_theorem: smt\n")
    code, _, err = run(str(project / "spec"))
    assert code == cli.EXIT_BAD_INPUT and "not a theorem or invariant" in err


def test_proofs_file_sets_the_strategy(project: Path) -> None:
    (project / "proofs" / "sample.proof").write_text(
        "# strategies\ncount_matches: bounded 3\n"
        "parents_minted: induction using revoked_were_minted\n"
    )
    code, out, _ = run("--json", str(project / "spec"))
    assert code == cli.EXIT_OK
    rows = {r["name"]: r for r in json.loads(out)["results"]}
    assert rows["count_matches"]["strategy"] == "bounded 3"
    assert rows["count_matches"]["result"] == "BOUNDED"
    assert rows["parents_minted"]["strategy"] == "induction using revoked_were_minted"


def test_json_and_only(project: Path) -> None:
    code, out, _ = run(
        "--json",
        "--only",
        "combine_commutes",
        "--only",
        "Sample.deny_absorbs",
        str(project / "spec"),
    )
    assert code == cli.EXIT_OK
    doc = json.loads(out)
    assert doc["ok"] is True
    assert [r["name"] for r in doc["results"]] == ["combine_commutes", "deny_absorbs"]
    assert doc["results"][0]["result"] == "PROVED"
    assert doc["results"][0]["doc"] == "combining two decisions does not depend on their order"
    assert run("--only", "nothing", str(project / "spec"))[0] == cli.EXIT_BAD_INPUT


def test_json_failure_carries_counterexample(project: Path) -> None:
    spec = project / "spec" / "sample.lion"
    spec.write_text(spec.read_text() + "\ntheorem bad: forall s: set<Right> . card(s) < 3\n")
    code, out, _ = run("--json", "--only", "bad", str(project / "spec"))
    assert code == cli.EXIT_FAILED
    (row,) = json.loads(out)["results"]
    assert row["result"] == "REFUTED" and row["counterexample"] == {"s": "{Read, Write, Admin}"}


def test_internal_error_exits_3(monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "prove_module", boom)
    code = cli.main([str(project / "spec")])
    assert code == cli.EXIT_INTERNAL


def test_console_script_is_installed(project: Path) -> None:
    exe = Path(sys.executable).parent / "lion-verify"
    done = subprocess.run(
        [str(exe), "--quiet", str(project / "spec")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_conformance_failure_exits_1_and_saves_the_shrunk_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "spec").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "buggy_impl.py").write_text("def double(x):\n    return x + x if x < 2 else 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "spec" / "arith.lion").write_text(
        "fn double(x: int[0..3]) -> int = x + x\n"
        'theorem t "doubling is even-ish": forall x: int[0..3] . double(x) >= x\n'
        'bind double python "buggy_impl:double"\n'
    )
    code, out, _ = run("--json", "--backend", "python", "--examples", "50", str(tmp_path / "spec"))
    assert code == cli.EXIT_FAILED
    (bind,) = json.loads(out)["conformance"]
    assert bind["ok"] is False
    assert bind["failing_input"] == "x = 2"  # shrunk to the smallest failing value
    saved = json.loads((tmp_path / "tests/corpus/conformance/arith.double.python.json").read_text())
    assert saved == [{"x": 2}]
    # --examples 0 skips conformance
    assert run("--examples", "0", str(tmp_path / "spec"))[0] == cli.EXIT_OK


def _bound_spec(tmp_path: Path, bind_line: str) -> Path:
    (tmp_path / "spec").mkdir(exist_ok=True)
    (tmp_path / "spec" / "flip.lion").write_text(f"fn flip(x: bool) -> bool = not x\n{bind_line}\n")
    return tmp_path / "spec"


@pytest.mark.parametrize(
    ("bind_line", "expected"),
    [
        ('bind flip python "lion.nowhere:flip"', "cannot import `lion.nowhere`"),
        ('bind flip python "operator:nothing_here"', "`operator` has no `nothing_here`"),
        ('bind flip rust "operator:not_"', "has no `python` target"),
    ],
)
def test_bad_bind_target_exits_2_before_proving(
    tmp_path: Path, bind_line: str, expected: str
) -> None:
    code, out, err = run("--backend", "python", str(_bound_spec(tmp_path, bind_line)))
    assert code == cli.EXIT_BAD_INPUT
    assert expected in err
    assert out == ""  # nothing was proved or checked


def test_bind_conforms_on_both_backends_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _bound_spec(tmp_path, 'bind flip python "operator:not_" rust "operator:not_"')
    monkeypatch.setattr(cli, "get_backend", lambda name: None)  # pretend both are built
    code, out, _ = run("--json", "--backend", "all", "--examples", "10", str(spec))
    assert code == cli.EXIT_OK
    (bind,) = json.loads(out)["conformance"]
    assert bind["backend"] == "python+rust" and bind["ok"] and bind["examples"] == 2


def test_a_failure_on_one_backend_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _bound_spec(tmp_path, 'bind flip python "operator:not_" rust "operator:truth"')
    monkeypatch.setattr(cli, "get_backend", lambda name: None)
    code, out, _ = run("--json", "--backend", "all", "--examples", "10", str(spec))
    assert code == cli.EXIT_FAILED
    (bind,) = json.loads(out)["conformance"]
    assert bind["message"].startswith("rust: spec gives")


def test_unbuilt_backend_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lion.kernel import backend

    monkeypatch.setattr(backend, "rust_available", lambda: False)
    monkeypatch.setattr(backend, "_CACHE", {})
    spec = _bound_spec(tmp_path, 'bind flip python "operator:not_" rust "operator:not_"')
    code, _, err = run("--backend", "rust", str(spec))
    assert code == cli.EXIT_BAD_INPUT
    assert "rust backend is not built" in err


@pytest.fixture
def dependencies_project(tmp_path: Path) -> Path:
    (tmp_path / "spec").mkdir()
    (tmp_path / "proofs").mkdir()
    shutil.copy(FIXTURE.parent / "dependencies.lion", tmp_path / "spec" / "dependencies.lion")
    (tmp_path / "proofs" / "dependencies.proof").write_text("small: induction using even\n")
    return tmp_path


def test_invariant_is_not_proved_when_its_ranges_are_refuted(dependencies_project: Path) -> None:
    spec = str(dependencies_project / "spec")
    code, out, _ = run("--json", "--examples", "0", spec)
    assert code == cli.EXIT_FAILED
    rows = {r["name"]: r for r in json.loads(out)["results"]}
    assert rows["Counter.ranges"]["result"] == "REFUTED"
    assert rows["even_below_five"]["result"] == "UNKNOWN"
    assert "`Counter.ranges`" in rows["even_below_five"]["message"]
    assert {rows[n]["result"] for n in ("even", "small", "Evens.ranges")} == {"PROVED"}


def test_only_runs_what_the_answer_depends_on(dependencies_project: Path) -> None:
    spec = str(dependencies_project / "spec")
    # The ranges it assumed are checked (and refuted), though only the invariant is shown.
    code, out, err = run("--json", "--only", "even_below_five", spec)
    assert code == cli.EXIT_FAILED
    (row,) = json.loads(out)["results"]
    assert row["name"] == "even_below_five" and row["result"] == "UNKNOWN"
    assert "1 obligation(s) (and up to 1 they depend on, proved as needed, not shown)" in err
    # Its lemma `even` and the ranges (which assume `even`) are proved too.
    code, out, _ = run("--json", "--only", "Dependencies.small", "--only", "Evens.ranges", spec)
    assert code == cli.EXIT_OK
    assert [(r["name"], r["result"]) for r in json.loads(out)["results"]] == [
        ("small", "PROVED"),
        ("Evens.ranges", "PROVED"),
    ]
