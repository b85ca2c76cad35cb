"""`make demo` works: a real model's calls pass the kernel, and the audit checks out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.server, pytest.mark.timeout(300)]


def test_the_demo_runs_every_kind_of_decision() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "read_file -> done" in out
    assert "approver: approve" in out and "approver: deny" in out
    assert "write_file -> denied: denied: policy is indeterminate" in out
    assert "delete_file -> denied: denied: no presented capability covers" in out
    assert "chain, seal and mediation hold" in out
