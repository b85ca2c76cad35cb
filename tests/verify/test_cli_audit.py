"""`lion-verify audit FILE`: exit codes 0/1/2, the first violating line, --json, --key-file."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import msgspec
import pytest

from lion.kernel.audit import write_audit
from lion.kernel.decision import Decision
from lion.kernel.observable import Effect, Observation
from lion.verify import cli

AUDIT_KEY = b"cli-audit-hmac-key-of-32-bytes-or-more"
READ = Effect("read", "docs/a")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def observations() -> list[Observation]:
    permit = Observation(
        subject=uuid.uuid4(),
        effect=READ,
        principal="alice",
        decision=Decision.PERMIT,
        reason="permitted",
        requested=("c1",),
        granted=("c1",),
        effects=(READ,),
        timestamp=1000.0,
    )
    deny = Observation(
        subject=uuid.uuid4(),
        effect=Effect("read", "docs/secret"),
        principal="alice",
        decision=Decision.DENY,
        reason="policy denied",
        timestamp=1001.0,
    )
    return [
        msgspec.structs.replace(permit, sequence=0),
        msgspec.structs.replace(deny, sequence=1),
        msgspec.structs.replace(permit, id=uuid.uuid4(), sequence=2),
    ]


@pytest.fixture
def audit(tmp_path: Path) -> Path:
    path = tmp_path / "run.jsonl"
    write_audit(observations(), path)
    return path


def test_valid_file_exits_0(audit: Path) -> None:
    code, out, err = run("audit", str(audit))
    assert code == cli.EXIT_OK
    assert f"{audit}: OK: 3 observation(s)" in out
    assert err == ""


def test_tampered_file_exits_1_with_the_first_violating_line(audit: Path) -> None:
    parts = audit.read_bytes().splitlines(keepends=True)
    parts[0] = parts[0].replace(b'"principal":"alice"', b'"principal":"mallory"')
    audit.write_bytes(b"".join(parts))
    code, out, _ = run("audit", str(audit))
    assert code == cli.EXIT_FAILED
    assert f"{audit}:2: chain-broken:" in out
    assert out.splitlines()[-1] == f"{audit}: FAILED: 1 finding(s), first violating line 2"


def test_json_lists_every_finding(audit: Path) -> None:
    parts = audit.read_bytes().splitlines(keepends=True)
    del parts[1]  # a deleted line, and the seal now counts wrong
    audit.write_bytes(b"".join(parts))
    code, out, _ = run("audit", str(audit), "--json")
    assert code == cli.EXIT_FAILED
    report = json.loads(out)
    keys = {"path", "ok", "observations", "lines", "sealed", "first_line", "findings"}
    assert set(report) == keys
    assert report["ok"] is False and report["first_line"] == 2 and report["sealed"] is True
    assert [(f["line"], f["kind"]) for f in report["findings"]] == [
        (2, "chain-broken"),
        (2, "sequence-gap"),
        (3, "bad-seal"),
    ]
    assert all(isinstance(f["message"], str) and f["message"] for f in report["findings"])


def test_json_on_a_valid_file(audit: Path) -> None:
    code, out, _ = run("audit", "--json", str(audit))
    assert code == cli.EXIT_OK
    assert json.loads(out) == {
        "path": str(audit),
        "ok": True,
        "observations": 3,
        "lines": 4,
        "sealed": True,
        "first_line": None,
        "findings": [],
    }


def test_unmediated_effect_and_missing_seal_exit_1(tmp_path: Path) -> None:
    forged = observations()
    forged[1] = msgspec.structs.replace(forged[1], effects=(forged[1].effect,))
    path = tmp_path / "forged.jsonl"
    write_audit(forged, path)
    code, out, _ = run("audit", str(path))
    assert code == cli.EXIT_FAILED and f"{path}:2: unmediated:" in out
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-1]))
    code, out, _ = run("audit", str(path))
    assert code == cli.EXIT_FAILED and f"{path}:4: missing-seal:" in out


def test_malformed_content_exits_1_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "junk.jsonl"
    path.write_bytes(b"\xff not json\n")
    code, out, err = run("audit", str(path))
    assert code == cli.EXIT_FAILED
    assert f"{path}:1: malformed: not UTF-8" in out
    assert "Traceback" not in out + err


def test_bad_input_exits_2(tmp_path: Path) -> None:
    code, out, err = run("audit", str(tmp_path / "missing.jsonl"))
    assert code == cli.EXIT_BAD_INPUT and "is not a file" in err and out == ""
    code, _, err = run("audit", str(tmp_path))
    assert code == cli.EXIT_BAD_INPUT and "is not a file" in err
    code, _, err = run("audit")
    assert code == cli.EXIT_BAD_INPUT and "lion-verify audit: error:" in err
    code, _, err = run("audit", "a.jsonl", "--frobnicate")
    assert code == cli.EXIT_BAD_INPUT


def test_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keyed.jsonl"
    write_audit(observations(), path, key=AUDIT_KEY)
    key = tmp_path / "audit.key"
    key.write_bytes(AUDIT_KEY + b"\n")
    assert run("audit", str(path), "--key-file", str(key))[0] == cli.EXIT_OK
    code, out, _ = run("audit", str(path))
    assert code == cli.EXIT_FAILED and f"{path}:1: chain-broken:" in out
    key.write_bytes(b"short")
    code, _, err = run("audit", str(path), "--key-file", str(key))
    assert code == cli.EXIT_BAD_INPUT and "32" in err
    code, _, err = run("audit", str(path), "--key-file", str(tmp_path / "none.key"))
    assert code == cli.EXIT_BAD_INPUT


def test_main_returns_the_code(audit: Path) -> None:
    assert cli.main(["audit", str(audit)]) == cli.EXIT_OK
