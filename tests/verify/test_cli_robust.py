"""`lion-verify` as scripts use it: closed pipes, JSON errors, --seed and --max-steps."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from lion.verify import cli

FIXTURE = Path(__file__).parent.parent / "spec" / "fixtures" / "sample.lion"
EXE = Path(sys.executable).parent / "lion-verify"


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


# ---- closed pipes -----------------------------------------------------------------


def _closed_stdout(*argv: str) -> tuple[int, str]:
    """Run lion-verify with a stdout nobody reads (as `| head -0` leaves it)."""
    proc = subprocess.Popen(
        [str(EXE), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    return proc.wait(timeout=120), err


def test_a_closed_stdout_ends_quietly_with_the_checks_code(project: Path) -> None:
    code, err = _closed_stdout("--quiet", "--only", "combine_commutes", str(project / "spec"))
    assert (code, err) == (cli.EXIT_OK, "")
    spec = project / "spec" / "sample.lion"
    spec.write_text(spec.read_text() + "\ntheorem bad: forall s: set<Right> . card(s) < 3\n")
    code, err = _closed_stdout("--quiet", "--json", "--only", "bad", str(project / "spec"))
    assert (code, err) == (cli.EXIT_FAILED, "")


def test_help_into_a_closed_pipe() -> None:
    assert _closed_stdout("--help") == (cli.EXIT_OK, "")


def test_head_one_in_a_shell_pipeline(tmp_path: Path) -> None:
    # 600 trivial theorems: a report larger than a pipe's buffer, so writing it
    # really hits the closed pipe after `head` has taken its line
    lines = ["enum A { X, Y }"]
    lines += [f"theorem t{i:04d}_{'x' * 100}: forall a: A . a == X or a == Y" for i in range(600)]
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "many.lion").write_text("\n".join(lines) + "\n")
    script = f'"{EXE}" --quiet "{tmp_path / "spec"}" | head -1; echo "exit=${{PIPESTATUS[0]}}"'
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    first, status = done.stdout.splitlines()
    assert first.split() == ["theorem", "chapter", "strategy", "result", "time"]
    assert (status, done.stderr) == ("exit=0", "")


class _Broken(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_broken_progress_stream_stops_the_run_with_0(
    monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", _Broken())
    proved: list[object] = []
    monkeypatch.setattr(cli, "prove_module", lambda *a, **k: proved.append(a) or [])
    assert cli.main([str(project / "spec")]) == cli.EXIT_OK
    assert proved == [] and out.getvalue() == ""  # stopped at the first progress line


def test_a_broken_stdout_keeps_the_checks_code(
    monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    monkeypatch.setattr(sys, "stdout", _Broken())
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    spec = project / "spec" / "sample.lion"
    spec.write_text(spec.read_text() + "\ntheorem bad: forall s: set<Right> . card(s) < 3\n")
    assert cli.main(["--only", "bad", str(project / "spec")]) == cli.EXIT_FAILED


# ---- --json on bad input ------------------------------------------------------------


def _error(out: str) -> dict[str, object]:
    doc = json.loads(out)
    assert doc["ok"] is False and doc["exit_code"] == cli.EXIT_BAD_INPUT
    error = doc["error"]
    assert isinstance(error, dict) and error["kind"] == "bad input"
    return error


def test_json_syntax_error_is_a_json_object_with_location(project: Path) -> None:
    spec = project / "spec" / "sample.lion"
    spec.write_text("enum A { X }\ntheorem t: forall a: A . a ==\n")
    code, out, err = run("--json", str(project / "spec"))
    assert code == cli.EXIT_BAD_INPUT
    error = _error(out)
    assert error["location"] == {"path": str(spec), "line": 3, "column": 1}
    assert str(error["message"]).startswith("unexpected end of file")
    assert f"{spec}:3:1: unexpected end of file" in err  # the text form is still on stderr


@pytest.mark.parametrize(
    ("argv", "argument", "cause"),
    [
        (["--timeout", "x"], "--timeout", "invalid float value"),
        (["--timeout", "-1"], "--timeout", "must be positive"),
        (["--examples", "-3"], "--examples", "must be 0 or more"),
        (["--max-steps", "0"], "--max-steps", "must be 1 or more"),
        (["--seed", "-1"], "--seed", "must be in"),
        (["--only", "nothing"], "--only", "names no theorem"),
    ],
)
def test_json_bad_options_name_the_argument(
    project: Path, argv: list[str], argument: str, cause: str
) -> None:
    code, out, _ = run("--json", *argv, str(project / "spec"))
    assert code == cli.EXIT_BAD_INPUT
    error = _error(out)
    assert error["location"] == {"argument": argument} and cause in str(error["message"])


def test_json_missing_path_and_bad_bind(project: Path) -> None:
    code, out, _ = run("--json", str(project / "nope"))
    assert code == cli.EXIT_BAD_INPUT
    assert "no such file or directory" in str(_error(out)["message"])
    (project / "spec" / "sample.lion").write_text(
        'fn flip(x: bool) -> bool = not x\nbind flip python "lion.nowhere:flip"\n'
    )
    code, out, _ = run("--json", "--backend", "python", str(project / "spec"))
    assert code == cli.EXIT_BAD_INPUT
    assert "cannot import `lion.nowhere`" in str(_error(out)["message"])


def test_json_audit_bad_input(tmp_path: Path) -> None:
    code, out, _ = run("audit", "--json", str(tmp_path / "missing.jsonl"))
    assert code == cli.EXIT_BAD_INPUT
    assert _error(out)["location"] == {"path": str(tmp_path / "missing.jsonl")}


def test_json_internal_error(monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.setattr(cli, "prove_module", boom)
    assert cli.main(["--json", str(project / "spec")]) == cli.EXIT_INTERNAL
    doc = json.loads(out.getvalue())
    assert doc["exit_code"] == cli.EXIT_INTERNAL
    assert doc["error"]["message"] == "RuntimeError: boom"


# ---- --seed and --max-steps ---------------------------------------------------------

RUNS: list[list[int]] = []  # the steps each Meter performed


class _Meter:
    """A correct `Meter` whose runs are recorded, to compare what two runs generated."""

    def __init__(self) -> None:
        self.n = 0
        RUNS.append([])

    def init(self) -> bool:
        return True

    def step(self, action: str, k: int) -> bool:
        if self.n + k > 20:
            return False
        self.n += k
        RUNS[-1].append(k)
        return True

    def state(self) -> dict[str, int]:
        return {"n": self.n}


METER = """
machine Meter {
  var n: int[0..20]
  init { n = 0 }
  action add(k: int[0..3]) {
    requires n + k <= 20
    n = n + k
  }
}
fn near_limit(n: int) -> bool = n >= 17
bind Meter python "j_cli_impl:Meter"
bind near_limit python "j_cli_impl:near_limit"
"""


@pytest.fixture
def meter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    module = ModuleType("j_cli_impl")
    module.Meter = _Meter  # type: ignore[attr-defined]
    module.near_limit = lambda n: n > 17  # type: ignore[attr-defined]  # off by one
    monkeypatch.setitem(sys.modules, "j_cli_impl", module)
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "meter.lion").write_text(METER)
    return tmp_path / "spec"


def _conformance(spec: Path, *argv: str) -> tuple[int, dict[str, dict[str, object]], int]:
    RUNS.clear()
    code, out, _ = run("--json", "--backend", "python", "--examples", "60", *argv, str(spec))
    doc = json.loads(out)
    return code, {b["bind"]: b for b in doc["conformance"]}, doc["seed"]


def test_the_same_seed_replays_the_same_runs_and_verdict(meter: Path) -> None:
    code, binds, seed = _conformance(meter, "--seed", "7")
    first = list(RUNS)
    assert code == cli.EXIT_FAILED and seed == 7
    assert binds["Meter"]["ok"] and not binds["near_limit"]["ok"]
    code2, binds2, _ = _conformance(meter, "--seed", "7")
    assert first == RUNS and code2 == code
    assert binds2["near_limit"]["failing_input"] == binds["near_limit"]["failing_input"] == "n = 17"
    _conformance(meter, "--seed", "8")
    assert first != RUNS


def test_a_run_without_seed_reports_the_one_it_drew(meter: Path) -> None:
    _, binds, seed = _conformance(meter)
    assert isinstance(seed, int) and binds["Meter"]["seed"] == seed
    code, out, _ = run("--backend", "python", "--examples", "60", str(meter))
    assert code == cli.EXIT_FAILED
    assert "replay: lion-verify --seed " in out


def test_max_steps_is_reported_and_bounds_the_runs(meter: Path) -> None:
    _, binds, _ = _conformance(meter, "--seed", "1")
    assert binds["Meter"]["max_steps"] == 20 + 10 + 4  # derived: reach 20, half again, 4
    assert binds["near_limit"]["max_steps"] is None  # a function has no runs
    _, binds, _ = _conformance(meter, "--seed", "1", "--max-steps", "3")
    assert binds["Meter"]["max_steps"] == 3
    assert RUNS and max(len(r) for r in RUNS) <= 3
