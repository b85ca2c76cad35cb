"""`lion policy`: every verb on good and bad input, exit codes, --json, and a subprocess run
of each verb (as `python -m lion.policy.cli`, so no reinstall is needed)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lion.kernel.backend import rust_available
from lion.kernel.policy import PolicySet
from lion.policy import cli

POLICIES = """\
@id("read") permit(principal, action == Action::"read", resource) when { principal.level > 2 };
@id("nope") forbid(principal, action, resource) when { context.blocked };
"""
ENTITIES = [
    {"uid": {"type": "User", "id": "alice"}, "attrs": {"level": 5}, "parents": []},
    {"uid": {"type": "User", "id": "bob"}, "attrs": {"level": 1}, "parents": []},
]
SCHEMA = """\
entity User { level: Long };
entity Doc;
action read appliesTo { principal: [User], resource: [Doc], context: { blocked: Bool } };
"""
BACKENDS = ["python", "rust"] if rust_available() else ["python"]


def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["policy", *argv], out, err, io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


def run_json(*argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(*argv, "--json")
    data = json.loads(out)
    assert data["exit_code"] == code
    return code, data


def sub(*argv: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lion.policy.cli", "policy", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=stdin,
        timeout=120,
    )


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "p.cedar").write_text(POLICIES)
    (tmp_path / "e.json").write_text(json.dumps(ENTITIES, indent=1))
    (tmp_path / "s.cedarschema").write_text(SCHEMA)
    return tmp_path


def req(files: Path, principal: str = 'User::"alice"', **more: str) -> list[str]:
    argv = ["--policies", str(files / "p.cedar"), "--entities", str(files / "e.json")]
    argv += ["--principal", principal, "--action", 'Action::"read"', "--resource", 'Doc::"d"']
    for key, value in more.items():
        argv += [f"--{key.replace('_', '-')}", value]
    return argv


# ---- authorize ----------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_authorize_permit_deny_and_indeterminate(files: Path, backend: str) -> None:
    ctx = '{"blocked": false}'
    code, out, err = run("authorize", *req(files, context=ctx, backend=backend))
    assert (code, err) == (cli.EXIT_OK, "")
    assert out.splitlines()[:3] == ["decision: PERMIT", "determining: read", "erroring: (none)"]
    assert "PERMIT: permitted by `read`" in out

    code, data = run_json("authorize", *req(files, 'User::"bob"', context=ctx, backend=backend))
    assert code == cli.EXIT_FAILED
    assert (data["decision"], data["determining"], data["ok"]) == ("DENY", [], False)

    code, data = run_json("authorize", *req(files, backend=backend))  # no context.blocked
    assert code == cli.EXIT_FAILED
    assert (data["decision"], data["determining"], data["erroring"]) == (
        "INDETERMINATE",
        ["read"],
        ["nope"],
    )
    assert "`blocked`" in data["errors"][0]["message"]
    assert data["explanation"].startswith("INDETERMINATE: permitted by `read`, but forbid")


def test_both_backends_print_the_same(files: Path) -> None:
    if not rust_available():
        pytest.skip("the Rust core is not built")
    outs = {b: run("authorize", *req(files, backend=b)) for b in BACKENDS}
    assert outs["python"] == outs["rust"]


def test_authorize_from_a_request_file_and_a_context_file(files: Path) -> None:
    request = {
        "principal": {"type": "User", "id": "alice"},
        "action": 'Action::"read"',
        "resource": {"__entity": {"type": "Doc", "id": "d"}},
        "context": {"blocked": True},
    }
    (files / "r.json").write_text(json.dumps(request))
    code, data = run_json(
        "authorize", "--policies", str(files / "p.cedar"), "--request", str(files / "r.json")
    )
    # no entities: alice has no level, so `read` is UNKNOWN and `nope` forbids
    assert (code, data["decision"], data["determining"]) == (1, "DENY", ["nope"])
    (files / "c.json").write_text('{"blocked": false}')
    code, _, _ = run("authorize", *req(files, context=f"@{files / 'c.json'}"))
    assert code == cli.EXIT_OK


def test_authorize_with_template_links(files: Path) -> None:
    (files / "t.cedar").write_text(
        '@id("t") permit(principal == ?principal, action, resource in ?resource);'
    )
    links = [
        {
            "templateId": "t",
            "newId": "alice-docs",
            "values": {"?principal": {"type": "User", "id": "alice"}, "?resource": 'Doc::"d"'},
        }
    ]
    (files / "l.json").write_text(json.dumps(links))
    argv = ["--policies", str(files / "t.cedar"), "--template-links", str(files / "l.json")]
    argv += ["--principal", 'User::"alice"', "--action", 'Action::"x"', "--resource", 'Doc::"d"']
    for backend in BACKENDS:
        code, data = run_json("authorize", *argv, "--backend", backend)
        assert (code, data["determining"]) == (0, ["alice-docs"])
    (files / "l.json").write_text(
        '[{"templateId": "t", "newId": "x",\n "values": {"?principal": 5, "?resource": 1}}]'
    )
    code, data = run_json("authorize", *argv)
    assert code == cli.EXIT_BAD_INPUT
    assert data["error"]["location"] == {"path": str(files / "l.json"), "line": 2, "column": 27}


def test_authorize_bad_inputs_say_where(files: Path) -> None:
    # a missing file
    code, data = run_json("authorize", *req(files, policies=str(files / "none.cedar")))
    assert code == cli.EXIT_BAD_INPUT
    assert data["error"]["message"] == "no such file"
    # unreadable JSON: line and column of the syntax error
    (files / "e.json").write_text('[\n  {"uid": }\n]')
    code, _, err = run("authorize", *req(files))
    assert code == cli.EXIT_BAD_INPUT
    assert err.startswith(f"lion policy: {files / 'e.json'}:2:11: invalid JSON: expecting value")
    # a bad attribute value: the place of the field in the file
    bad = [{"uid": {"type": "User", "id": "a"}, "attrs": {"level": 1.5}, "parents": []}]
    (files / "e.json").write_text(json.dumps(bad, indent=1))
    code, data = run_json("authorize", *req(files))
    assert code == cli.EXIT_BAD_INPUT
    assert data["error"]["location"] == {"path": str(files / "e.json"), "line": 8, "column": 13}
    assert data["error"]["message"].startswith("entities[0].attrs.level: floating-point")
    # bad policy text: file:line:col
    (files / "p.cedar").write_text("permit(principal, action, resource)\nwhen { 1 + };")
    code, _, err = run("authorize", *req(files))
    assert code == cli.EXIT_BAD_INPUT
    assert err.startswith(f"lion policy: {files / 'p.cedar'}:2:")


@pytest.mark.parametrize(
    ("argv", "argument"),
    [
        (["--principal", "User::alice"], "--principal"),
        (["--resource", '{"type": "Doc"}'], "--resource"),
        (["--action", "{nope"], "--action"),
        (["--context", "[1, 2"], "--context"),
        (["--context", "[1, 2]"], "--context"),
        (["--backend", "java"], "--backend"),
    ],
)
def test_authorize_bad_arguments_name_the_option(
    files: Path, argv: list[str], argument: str
) -> None:
    base = req(files)
    for flag, value in zip(argv[::2], argv[1::2], strict=True):
        if flag in base:
            base[base.index(flag) + 1] = value
        else:
            base += [flag, value]
    code, data = run_json("authorize", *base)
    assert code == cli.EXIT_BAD_INPUT, data
    assert data["error"]["location"] == {"argument": argument}


def test_authorize_needs_one_way_to_give_the_request(files: Path) -> None:
    policies = ["--policies", str(files / "p.cedar")]
    code, data = run_json("authorize", *policies, "--principal", 'User::"a"')
    assert code == cli.EXIT_BAD_INPUT
    assert data["error"]["location"] == {"argument": "--action"}
    (files / "r.json").write_text("{}")
    code, data = run_json("authorize", *req(files, request=str(files / "r.json")))
    assert code == cli.EXIT_BAD_INPUT
    assert "not both" in data["error"]["message"]
    code, data = run_json("authorize", *policies, "--request", str(files / "r.json"))
    assert code == cli.EXIT_BAD_INPUT
    assert data["error"]["message"] == "request: missing `principal`"


def test_authorize_as_a_subprocess(files: Path) -> None:
    done = sub("authorize", *req(files, context='{"blocked": true}'), cwd=files)
    assert (done.returncode, done.stderr) == (1, "")
    assert done.stdout.startswith("decision: DENY\ndetermining: nope\n")
    done = sub("authorize", *req(files, "User::alice"), "--json", cwd=files)
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"]["location"] == {"argument": "--principal"}


# ---- check-parse ----------------------------------------------------------------------


def test_check_parse(files: Path) -> None:
    (files / "bad.cedar").write_text("permit(principal, action, resource)\n  when { 1 + };\n")
    code, out, err = run("check-parse", str(files / "p.cedar"))
    assert (code, out, err) == (0, f"{files / 'p.cedar'}: ok (2 policies)\n", "")
    code, out, _ = run("check-parse", str(files / "p.cedar"), str(files / "bad.cedar"))
    assert code == cli.EXIT_FAILED
    assert f"{files / 'bad.cedar'}:2:14: unexpected `}}`" in out
    assert "  when { 1 + };\n             ^" in out  # the caret under the column
    code, data = run_json("check-parse", str(files / "bad.cedar"), str(files / "none.cedar"))
    assert code == cli.EXIT_BAD_INPUT  # an unreadable file is bad input, whatever else
    first, second = data["files"]
    assert first["error"]["location"] == {"path": str(files / "bad.cedar"), "line": 2, "column": 14}
    assert second["error"]["message"] == "no such file"
    code, out, _ = run("check-parse", "-", stdin='@id("") permit(principal, action, resource);')
    assert code == cli.EXIT_FAILED and out.startswith("-:1:2: `@id` needs a non-empty string")


def test_check_parse_as_a_subprocess(files: Path) -> None:
    done = sub("check-parse", "p.cedar", "--json", cwd=files)
    assert done.returncode == 0
    assert json.loads(done.stdout)["files"] == [
        {"path": "p.cedar", "ok": True, "policies": 2, "templates": 0}
    ]
    done = sub("check-parse", "-", cwd=files, stdin="forbid(principal, action);")
    assert done.returncode == 1 and done.stdout.startswith("-:1:25: unexpected `)`")


# ---- format -----------------------------------------------------------------------------

CANONICAL = """\
@id("read")
permit (principal, action == Action::"read", resource)
when { principal.level > 2 };

@id("nope")
forbid (principal, action, resource) when { context.blocked };
"""


def test_format_prints_checks_and_writes(files: Path) -> None:
    path = str(files / "p.cedar")
    assert run("format", path) == (0, CANONICAL, "")
    assert run("format", "--check", path) == (1, f"would reformat {path}\n", "")
    assert run("format", "--write", path) == (0, f"reformatted {path}\n", "")
    assert (files / "p.cedar").read_text() == CANONICAL
    assert run("format", "--check", path) == (0, "1 file(s) already formatted\n", "")
    assert run("format", "--write", path) == (0, "", "")  # nothing to do
    code, data = run_json("format", "-")
    assert code == 0 and data["files"] == [
        {"path": "-", "ok": True, "changed": False, "formatted": ""}
    ]


def test_format_bad_input(files: Path) -> None:
    (files / "bad.cedar").write_text("permit(principal, action, resource) when { 1 + };")
    before = (files / "p.cedar").read_text()
    code, _, err = run("format", "--write", str(files / "bad.cedar"), str(files / "p.cedar"))
    assert code == cli.EXIT_BAD_INPUT
    assert err.startswith(f"lion policy: {files / 'bad.cedar'}:1:48: unexpected `}}`")
    assert (files / "p.cedar").read_text() == CANONICAL != before  # the good file is still done
    code, data = run_json("format", "--check", "--write", str(files / "p.cedar"))
    assert code == cli.EXIT_BAD_INPUT
    assert "not allowed with argument" in data["error"]["message"]
    code, data = run_json("format", str(files / "none.cedar"))
    assert code == cli.EXIT_BAD_INPUT
    assert data["files"][0]["error"]["location"] == {"path": str(files / "none.cedar")}
    (files / "latin1.cedar").write_bytes(b"// caf\xe9\n")
    code, _, err = run("format", str(files / "latin1.cedar"))
    assert code == cli.EXIT_BAD_INPUT and "not UTF-8 text" in err


def test_format_as_a_subprocess_into_a_closed_pipe(files: Path) -> None:
    body = "".join(f'permit(principal == User::"u{i}", action, resource);\n' for i in range(3000))
    (files / "big.cedar").write_text(body)
    script = (
        f'"{sys.executable}" -m lion.policy.cli policy format big.cedar | head -1; '
        'echo "exit=${PIPESTATUS[0]}"'
    )
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, cwd=files, timeout=120
    )
    assert done.stdout.splitlines() == [
        'permit (principal == User::"u0", action, resource);',
        "exit=0",
    ]
    assert done.stderr == ""
    # --check into a closed pipe still reports the check's answer
    proc = subprocess.Popen(
        [sys.executable, "-m", "lion.policy.cli", "policy", "format", "--check", "big.cedar"],
        cwd=files,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    assert (proc.wait(timeout=120), proc.stderr.read()) == (1, "")


def test_authorize_into_a_closed_pipe_keeps_the_decision(files: Path) -> None:
    argv = [sys.executable, "-m", "lion.policy.cli", "policy", "authorize", *req(files)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    assert (proc.wait(timeout=120), proc.stderr.read()) == (1, "")


# ---- validate -----------------------------------------------------------------------------


def test_validate(files: Path) -> None:
    schema = ["--schema", str(files / "s.cedarschema")]
    (files / "ok.cedar").write_text(
        'permit(principal, action == Action::"read", resource) when { principal.level > 2 };'
    )
    code, out, _ = run("validate", *schema, str(files / "ok.cedar"))
    assert (code, out) == (0, f"{files / 'ok.cedar'}: ok (1 policies validate)\n")
    (files / "bad.cedar").write_text(
        'permit(principal, action == Action::"read", resource)\n when { principal.age > 2 };'
    )
    code, data = run_json("validate", *schema, str(files / "bad.cedar"))
    assert code == cli.EXIT_FAILED
    (issue,) = data["files"][0]["issues"]
    assert issue["location"]["path"] == str(files / "bad.cedar")
    assert issue["location"]["line"] == 2
    assert "age" in issue["message"]


def test_validate_bad_input(files: Path) -> None:
    (files / "broken.cedarschema").write_text("entity User {\n  level: Lon g };")
    code, data = run_json("validate", "--schema", str(files / "broken.cedarschema"), "p.cedar")
    assert code == cli.EXIT_BAD_INPUT
    assert data["error"]["location"]["path"] == str(files / "broken.cedarschema")
    assert data["error"]["location"]["line"] == 2
    code, data = run_json("validate", "--schema", str(files / "none"), str(files / "p.cedar"))
    assert (code, data["error"]["message"]) == (cli.EXIT_BAD_INPUT, "no such file")
    code, data = run_json("validate", "--schema", str(files / "s.cedarschema"), "-")
    assert code == cli.EXIT_OK  # no policies: nothing to object to


def test_validate_as_a_subprocess(files: Path) -> None:
    done = sub("validate", "--schema", "s.cedarschema", "p.cedar", cwd=files)
    assert (done.returncode, done.stdout) == (0, "p.cedar: ok (2 policies validate)\n")
    (files / "q.cedar").write_text("permit(principal, action, resource) when { context.nope };")
    done = sub("validate", "--schema", "s.cedarschema", "q.cedar", "--json", cwd=files)
    assert done.returncode == 1, done.stderr
    (issue,) = json.loads(done.stdout)["files"][0]["issues"]
    assert issue["text"].startswith("q.cedar:1:")


# ---- analyze ----------------------------------------------------------------------------


def test_analyze_holds_and_counterexamples_replay(files: Path) -> None:
    (files / "a.cedar").write_text("permit(principal, action, resource) when { context.n > 1 };")
    (files / "b.cedar").write_text(
        "permit(principal, action, resource) when { context.n > 1 && context.n < 100 };"
    )
    a, b = str(files / "a.cedar"), str(files / "b.cedar")
    assert run("analyze", "implies", b, a)[0] == cli.EXIT_OK
    code, data = run_json("analyze", "implies", a, b)
    assert (code, data["holds"]) == (cli.EXIT_FAILED, False)
    (example,) = data["counterexamples"]
    texts = {"a": (files / "a.cedar").read_text(), "b": (files / "b.cedar").read_text()}
    for label, text in texts.items():
        response = PolicySet.from_str(text).evaluate(example["request"], example["entities"])
        assert response.decision.name == example["decisions"][label]
    assert example["decisions"]["a"] == "PERMIT" and example["decisions"]["b"] != "PERMIT"
    code, out, _ = run("analyze", "never-indeterminate", a)
    assert code == cli.EXIT_FAILED
    assert "does not hold" in out and "request:" in out and "entities:" in out


def test_analyze_bad_input(files: Path) -> None:
    p = str(files / "p.cedar")
    code, data = run_json("analyze", "equivalent", p)
    assert (code, data["error"]["location"]) == (cli.EXIT_BAD_INPUT, {"argument": "B"})
    code, data = run_json("analyze", "always-allows", p, p)
    assert code == cli.EXIT_BAD_INPUT
    code, data = run_json("analyze", "sometimes", p)
    assert (code, data["error"]["location"]) == (cli.EXIT_BAD_INPUT, {"argument": "query"})
    (files / "bad.cedar").write_text("permit(principal, action, resource) when { };")
    code, data = run_json("analyze", "always-denies", str(files / "bad.cedar"))
    assert code == cli.EXIT_BAD_INPUT
    assert data["error"]["location"] == {"path": str(files / "bad.cedar"), "line": 1, "column": 37}
    code, data = run_json("analyze", "always-denies", str(files / "none.cedar"))
    assert (code, data["error"]["message"]) == (cli.EXIT_BAD_INPUT, "no such file")


def test_analyze_as_a_subprocess(files: Path) -> None:
    (files / "f.cedar").write_text("forbid(principal, action, resource);")
    done = sub("analyze", "always-denies", "f.cedar", cwd=files)
    assert (done.returncode, done.stdout) == (0, "always-denies f.cedar: holds\n")
    done = sub("analyze", "always-allows", "f.cedar", "--json", cwd=files)
    assert done.returncode == 1
    assert json.loads(done.stdout)["counterexamples"][0]["decisions"] == {"a": "DENY"}


# ---- usage and internal errors --------------------------------------------------------------


def test_usage_errors_are_bad_input() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert cli.run([], out, err) == cli.EXIT_BAD_INPUT
    assert cli.run(["policy"], out, err) == cli.EXIT_BAD_INPUT
    code, out_text, _ = run("frobnicate", "--json")
    assert code == cli.EXIT_BAD_INPUT
    assert json.loads(out_text)["error"]["kind"] == "bad input"


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["policy", "--help"]) == cli.EXIT_OK
    assert "authorize" in capsys.readouterr().out


def test_an_internal_error_is_exit_3_with_json(
    files: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lion.policy import _cli_text

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(_cli_text, "format_policies", broken)
    code = cli.main(["policy", "format", str(files / "p.cedar"), "--json"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_INTERNAL
    assert json.loads(captured.out)["error"] == {
        "kind": "internal error",
        "message": "RuntimeError: boom",
        "location": None,
    }
    assert "internal error (this is a bug in lion)" in captured.err


def test_the_console_script_points_at_main() -> None:
    import tomllib

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    scripts = tomllib.loads(pyproject.read_text())["project"]["scripts"]
    assert scripts["lion"] == "lion.policy.cli:main"
    assert callable(cli.main)


def test_z3_giving_up_is_unknown_and_a_bad_replay_is_internal(
    files: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lion.errors import AnalysisError, AnalysisInternalError
    from lion.policy import analyze

    def gives_up(*args: object, **kwargs: object) -> object:
        raise AnalysisError("z3 could not decide the query: timeout")

    monkeypatch.setattr(analyze, "always_denies", gives_up)
    code, data = run_json("analyze", "always-denies", str(files / "p.cedar"))
    assert (code, data["holds"], data["message"]) == (
        cli.EXIT_FAILED,
        None,
        "z3 could not decide the query: timeout",
    )

    def bad_replay(*args: object, **kwargs: object) -> object:
        raise AnalysisInternalError("counterexample does not replay")

    monkeypatch.setattr(analyze, "always_denies", bad_replay)
    code = cli.main(["policy", "analyze", "always-denies", str(files / "p.cedar"), "--json"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_INTERNAL
    assert json.loads(captured.out)["error"]["message"] == "counterexample does not replay"


def test_validate_bad_policy_text_and_bad_json_schema(files: Path) -> None:
    schema = ["--schema", str(files / "s.cedarschema")]
    (files / "bad.cedar").write_text("permit(principal, action, resource)\n when { 1 < };")
    code, data = run_json("validate", *schema, str(files / "bad.cedar"))
    assert code == cli.EXIT_BAD_INPUT
    assert data["error"]["location"] == {"path": str(files / "bad.cedar"), "line": 2, "column": 13}
    code, data = run_json("validate", *schema, str(files / "none.cedar"))
    assert (code, data["error"]["message"]) == (cli.EXIT_BAD_INPUT, "no such file")
    (files / "s.json").write_text(
        '{"": {"entityTypes": {"User": {\n  "shape": 5}}, "actions": {}}}'
    )
    code, data = run_json("validate", "--schema", str(files / "s.json"), str(files / "p.cedar"))
    assert code == cli.EXIT_BAD_INPUT
    assert data["error"]["location"]["path"] == str(files / "s.json")
    (files / "s.json").write_text('{"": {"entityTypes": {,}}}')
    code, data = run_json("validate", "--schema", str(files / "s.json"), str(files / "p.cedar"))
    assert code == cli.EXIT_BAD_INPUT
    assert data["error"]["location"] == {"path": str(files / "s.json"), "line": 1, "column": 23}


def test_format_write_keeps_symlinks_and_permissions(files: Path) -> None:
    target = files / "p.cedar"
    target.chmod(0o640)
    link = files / "link.cedar"
    link.symlink_to(target)
    assert run("format", "--write", str(link))[0] == cli.EXIT_OK
    assert link.is_symlink() and target.read_text() == CANONICAL
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in files.iterdir() if p.name.startswith(".lion-format-")] == []


def test_analyze_diff_lists_the_requests_decided_differently(files: Path) -> None:
    (files / "a.cedar").write_text("permit(principal, action, resource) when { context.n > 1 };")
    (files / "b.cedar").write_text("permit(principal, action, resource) when { context.n > 2 };")
    a, b = str(files / "a.cedar"), str(files / "b.cedar")
    code, out, _ = run("analyze", "diff", a, b, "--limit", "3")
    assert code == cli.EXIT_FAILED
    assert out.startswith(f"diff {a} {b}: ")
    assert "request(s) decided differently" in out.splitlines()[0]
    code, data = run_json("analyze", "diff", a, b, "--limit", "3")
    assert 1 <= len(data["counterexamples"]) <= 3
    for example in data["counterexamples"]:
        got = {
            label: PolicySet.from_str((files / f"{label}.cedar").read_text())
            .evaluate(example["request"], example["entities"])
            .decision.name
            for label in ("a", "b")
        }
        assert got == example["decisions"] and got["a"] != got["b"]
    assert run("analyze", "diff", a, a)[1] == f"diff {a} {a}: no request is decided differently\n"
    code, data = run_json("analyze", "diff", a, b, "--limit", "0")
    assert (code, data["error"]["location"]) == (cli.EXIT_BAD_INPUT, {"argument": "--limit"})
