"""The quick start in docs/runtime.md runs as written."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "runtime.md"


def test_the_quick_start_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    match = re.search(r"## Quick start\n\n```python\n(.*?)```", DOC.read_text(), re.S)
    assert match is not None, "docs/runtime.md has no quick start"
    script = tmp_path / "quick_start.py"
    script.write_text(match.group(1))
    monkeypatch.setenv("LION_CAPABILITY_KEY", "docs-quick-start-key-0123456789abcdef")
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "LION is an agent runtime."
    assert out[1:] == [
        "0 researcher chat model/scripted PERMIT",
        "1 researcher call tool/search PERMIT",
        "2 researcher chat model/scripted PERMIT",
    ]


def test_the_readme_quick_start_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = DOC.parents[1] / "README.md"
    match = re.search(r"## Quick start\n\n```python\n(.*?)```", readme.read_text(), re.S)
    assert match is not None, "README.md has no quick start"
    script = tmp_path / "readme_quick_start.py"
    script.write_text(match.group(1))
    monkeypatch.setenv("LION_CAPABILITY_KEY", "readme-quick-start-key-0123456789abcdef")
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "LION is an agent runtime.",
        "[('chat', 'PERMIT'), ('call', 'PERMIT'), ('chat', 'PERMIT')]",
    ]
