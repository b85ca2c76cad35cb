"""The quick starts in docs/runtime.md and README.md run as written."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_quick_start(doc: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Run the first python block under `## Quick start` in `doc`; its printed lines."""
    match = re.search(r"## Quick start\n\n```python\n(.*?)```", doc.read_text(), re.S)
    assert match is not None, f"{doc.name} has no quick start"
    script = tmp_path / "quick_start.py"
    script.write_text(match.group(1))
    runpy.run_path(str(script), run_name="__main__")
    return capsys.readouterr().out.splitlines()


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LION_CAPABILITY_KEY", "docs-quick-start-key-0123456789abcdef")


def test_the_runtime_guide_quick_start_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_quick_start(ROOT / "docs" / "runtime.md", tmp_path, capsys) == [
        "LION is an agent runtime.",
        "0 researcher chat model/scripted PERMIT",
        "1 researcher call tool/search PERMIT",
        "2 researcher chat model/scripted PERMIT",
    ]


def test_the_readme_quick_start_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_quick_start(ROOT / "README.md", tmp_path, capsys) == [
        "LION is an agent runtime.",
        "[('chat', 'PERMIT'), ('call', 'PERMIT'), ('chat', 'PERMIT')]",
    ]
