"""Whole-state conformance: every non-ghost variable must be reported; coverage of the
actions that fired, with a warning for one that never did; runs that start with long walks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lion.spec import ast
from lion.spec.load import load_paths, load_text
from lion.verify import cli
from lion.verify.conformance import check_bind
from lion.verify.values import EnumValue

ROOT = Path(__file__).resolve().parents[2]

# A counter with a ghost variable. `stuck` can never fire (n == bumps in every
# reachable state, though not in every state, so its guard is satisfiable): coverage
# must say that it never fired.
DEEP = """
enum Mode { Idle, Busy }
machine Deep {
  var n: int[0..40]
  var mode: Mode
  ghost var bumps: int[0..40]
  init { n = 0
         mode = Idle
         bumps = 0 }
  action inc() {
    requires n < 40 and bumps < 40
    n = n + 1
    bumps = bumps + 1
  }
  action toggle() {
    mode = if mode == Idle then Busy else Idle
  }
  action stuck() {
    requires n > bumps
    n = 0
  }
}
bind Deep python "h8_conf_impl:Deep"
"""


class _Deep:
    """The Deep machine; `bug_at` plants a bug on that increment; `report` picks the variables."""

    bug_at: int | None = None
    report: tuple[str, ...] = ("n", "mode")

    def __init__(self) -> None:
        self.n = 0
        self.mode = "Idle"
        self.bumps = 0

    def init(self) -> bool:
        return True

    def step(self, action: str) -> bool:
        if action == "inc":
            if self.n >= 40:
                return False
            self.n += 2 if self.n + 1 == self.bug_at else 1
            self.n = min(self.n, 40)
            self.bumps += 1
            return True
        if action == "toggle":
            self.mode = "Busy" if self.mode == "Idle" else "Idle"
            return True
        return False  # stuck: never enabled

    def state(self) -> dict[str, Any]:
        every = {"n": self.n, "mode": EnumValue("Mode", self.mode), "bumps": self.bumps}
        return {k: every[k] for k in self.report}


@pytest.fixture(autouse=True)
def impl(monkeypatch: pytest.MonkeyPatch) -> type[_Deep]:
    module = ModuleType("h8_conf_impl")
    cls = type("Deep", (_Deep,), {})
    module.Deep = cls  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "h8_conf_impl", module)
    return cls


def _deep() -> tuple[ast.Module, ast.Bind]:
    module = load_text(DEEP)
    return module, module.binds[0]


# ---- ghost variables ---------------------------------------------------------------------


def test_ghost_var_is_parsed_and_only_ghosts_are_marked() -> None:
    machine = load_text(DEEP).machines["Deep"]
    assert machine.ghosts == frozenset({"bumps"})
    assert [v.name for v in machine.vars] == ["n", "mode", "bumps"]  # still a variable


def test_ghost_stays_usable_as_a_name() -> None:
    # `ghost` is a keyword only before `var`: existing specs naming things `ghost` still load
    module = load_text("fn ghost(x: bool) -> bool = x")
    assert "ghost" in module.fns


def test_the_specs_declare_their_ghosts() -> None:
    machines = {n: m for mod in load_paths([ROOT / "spec"]) for n, m in mod.machines.items()}
    assert machines["Mailbox"].ghosts == {"sent", "received", "in_order"}
    assert machines["System"].ghosts == {"before", "handler"}
    assert machines["Delegation"].ghosts == {"last", "hosted"}
    for machine in machines.values():
        assert machine.ghosts <= {v.name for v in machine.vars}


def test_omitting_a_ghost_is_fine() -> None:
    module, bind = _deep()
    assert check_bind(module, bind, examples=30, seed=1).ok


def test_omitting_any_other_variable_fails_naming_bind_and_variable(impl: type[_Deep]) -> None:
    impl.report = ("n",)
    module, bind = _deep()
    result = check_bind(module, bind, examples=30, seed=1)
    assert not result.ok
    assert "bind `Deep` does not report state variable(s) `mode`" in result.message
    assert "ghost var" in result.message  # says how to fix it


def test_a_reported_ghost_is_compared(impl: type[_Deep]) -> None:
    impl.report = ("n", "mode", "bumps")
    module, bind = _deep()
    assert check_bind(module, bind, examples=30, seed=1).ok
    impl.bug_at = 3  # n jumps 2 -> 4 but bumps stays right: n differs first
    result = check_bind(module, bind, examples=300, seed=1, max_steps=12)
    assert not result.ok and "`n` is 4 in the implementation, 3 in the spec" in result.message


def test_an_adapter_that_raises_in_state_is_a_failure_not_a_crash(impl: type[_Deep]) -> None:
    def broken(self: _Deep) -> dict[str, Any]:
        raise RuntimeError("cannot read the kernel")

    impl.state = broken  # type: ignore[method-assign]
    module, bind = _deep()
    result = check_bind(module, bind, examples=10, seed=1, shrink=False)
    assert not result.ok
    assert "after init: implementation raised RuntimeError: cannot read the kernel" in (
        result.message
    )


def test_a_state_that_is_not_a_dict_is_a_failure(impl: type[_Deep]) -> None:
    impl.state = lambda self: None  # type: ignore[method-assign,assignment,return-value]
    module, bind = _deep()
    result = check_bind(module, bind, examples=5, seed=1, shrink=False)
    assert not result.ok and "state() gave None, not a dict of spec values" in result.message


def test_two_distinct_failures_give_one_verdict(impl: type[_Deep]) -> None:
    # a wrong state after the 3rd increment, and a refused second toggle before any
    # increment: Hypothesis finds both kinds; the verdict is one failure, not an
    # ExceptionGroup (it was, before report_multiple_bugs=False)
    real_step = _Deep.step

    def step(self: _Deep, action: str) -> bool:
        if action == "toggle" and self.n == 0 and self.mode == "Busy":
            return False
        return real_step(self, action)

    impl.bug_at = 3
    impl.step = step  # type: ignore[method-assign]
    module, bind = _deep()
    for seed in range(3):
        result = check_bind(module, bind, examples=300, seed=seed, shrink_seconds=5.0)
        assert not result.ok and result.failing_text, seed


# ---- coverage ------------------------------------------------------------------------------


def test_coverage_counts_tried_and_fired_and_warns_about_a_dead_action() -> None:
    module, bind = _deep()
    result = check_bind(module, bind, examples=60, seed=2)
    assert result.ok and result.coverage is not None
    cov = result.coverage.to_json()
    assert cov["runs"] == 60
    assert cov["actions"]["inc"]["fired"] > 0 and cov["actions"]["toggle"]["fired"] > 0
    assert cov["actions"]["stuck"] == {"tried": cov["actions"]["stuck"]["tried"], "fired": 0}
    assert cov["actions"]["stuck"]["tried"] > 0
    assert cov["never_fired"] == ["stuck"]
    assert len(result.warnings) == 1 and "action `stuck` never fired" in result.warnings[0]
    assert sum(a["tried"] for a in cov["actions"].values()) == cov["steps"]


def test_every_kernel_bind_fires_every_action() -> None:
    # the generators reach each action of the real machines (a cheap smoke check at a
    # small count; `lion-verify` warns when one does not fire at its own count)
    for module in load_paths([ROOT / "spec"]):
        for bind in module.binds:
            if bind.name not in module.machines:
                continue
            result = check_bind(module, bind, examples=60, seed=3, backends=("python",))
            assert result.ok, result.message
            assert result.warnings == [], result.warnings


def _project(tmp_path: Path) -> Path:
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "deep.lion").write_text(DEEP)
    return tmp_path / "spec"


def test_cli_prints_coverage_with_v_and_warns_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path)
    args = [str(spec), "--examples", "40", "--seed", "5", "--backend", "python", "--quiet"]
    assert cli.main(args) == 0
    plain = capsys.readouterr().out
    assert "warning: bind `Deep`: action `stuck` never fired" in plain
    assert "coverage of" not in plain
    assert cli.main([*args, "-v"]) == 0
    verbose = capsys.readouterr().out
    assert "coverage of " in verbose and ".Deep (python):" in verbose
    assert "stuck" in verbose and "<- never fired" in verbose


def test_cli_json_has_coverage_and_warnings_per_bind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path)
    args = [str(spec), "--examples", "40", "--seed", "5", "--backend", "python", "--json"]
    assert cli.main([*args, "--quiet"]) == 0
    (bind,) = json.loads(capsys.readouterr().out)["conformance"]
    assert bind["coverage"]["never_fired"] == ["stuck"]
    assert bind["coverage"]["actions"]["inc"]["fired"] > 0
    assert bind["warnings"] and "`stuck`" in bind["warnings"][0]
    assert bind["walk_steps"] == 3 * bind["max_steps"]


# ---- walks ---------------------------------------------------------------------------------


def test_walks_reach_states_the_segment_alone_cannot(impl: type[_Deep]) -> None:
    impl.bug_at = 30  # only the 30th increment is wrong
    module, bind = _deep()
    short = check_bind(module, bind, examples=300, seed=4, max_steps=16, shrink=False)
    assert short.ok  # 30 increments never fit in 16 steps
    assert short.coverage is not None and short.coverage.longest <= 16
    deep = check_bind(module, bind, examples=300, seed=4, max_steps=16, walk_steps=80, shrink=False)
    assert not deep.ok and "`n` is 31 in the implementation, 30 in the spec" in deep.message
    assert deep.failing_text.count("inc()") >= 30


def test_default_runs_include_walks_longer_than_the_segment() -> None:
    module, bind = _deep()
    result = check_bind(module, bind, examples=100, seed=6)
    assert result.ok and result.coverage is not None
    assert result.max_steps is not None and result.walk_steps == 3 * result.max_steps
    assert result.coverage.longest > result.max_steps


def test_a_seed_gives_the_same_runs_in_every_process(tmp_path: Path) -> None:
    # Set-valued state is visited in a fixed order, so the hash seed cannot change a run;
    # and the modules a process has imported cannot either (Hypothesis draws some values
    # from the literals of loaded modules: conformance keeps that pool empty).
    script = tmp_path / "probe.py"
    script.write_text(
        "import sys\n"
        "from pathlib import Path\n"
        "if sys.argv[1] == 'more':\n"
        "    import lion.services.graph_run, lion.verify.bindings.workflow\n"
        "from lion.spec.load import load_paths\n"
        "from lion.verify.conformance import check_bind\n"
        f"(m,) = load_paths([Path({str(ROOT / 'spec' / 'capabilities.lion')!r})])\n"
        "b = next(b for b in m.binds if b.name == 'Authority')\n"
        "r = check_bind(m, b, examples=25, seed=11)\n"
        "print(r.ok, r.coverage.to_json())\n"
    )
    outputs = set()
    for hash_seed, imports in (("1", "few"), ("2", "more")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, str(script), imports],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1, outputs


def test_cli_refuses_a_negative_walk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _project(tmp_path)
    assert cli.main([str(spec), "--walk-steps", "-1", "--quiet"]) == 2
    assert "--walk-steps must be 0 or more" in capsys.readouterr().err


def test_an_explicit_walk_is_used_and_reported(tmp_path: Path) -> None:
    module, bind = _deep()
    result = check_bind(module, bind, examples=40, seed=8, max_steps=5, walk_steps=30)
    assert result.ok and (result.max_steps, result.walk_steps) == (5, 30)
    assert result.coverage is not None and 5 < result.coverage.longest <= 35
