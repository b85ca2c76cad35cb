"""The one check every planted-bug test makes: conformance catches the bug, and the save replays."""

from __future__ import annotations

from pathlib import Path

from lion.spec import ast
from lion.spec.load import load_paths
from lion.verify.conformance import BindResult, check_bind, replay_corpus

ROOT = Path(__file__).resolve().parents[2]
MODULES = load_paths([ROOT / "spec"])


def find_bind(name: str) -> tuple[ast.Module, ast.Bind]:
    """The spec module and bind called `name` (bind names are unique across spec/)."""
    return next((m, b) for m in MODULES for b in m.binds if b.name == name)


# A search is random (a fresh seed each time), so a bug it finds in most runs of `examples`
# can still slip through one: each test gets this many searches before it counts as missed.
SEARCHES = 2


def caught(
    name: str, tmp_path: Path, *, backend: str = "python", examples: int = 1000
) -> BindResult:
    """Check bind `name` against the (planted-bug) kernel: it must fail, shrink and replay."""
    module, bind = find_bind(name)
    for _ in range(SEARCHES):
        result = check_bind(module, bind, examples=examples, backends=(backend,), corpus=tmp_path)
        if not result.ok:
            break
    assert not result.ok, f"planted bug not caught in {SEARCHES} searches of {examples} runs"
    assert result.failing_text  # the shrunk input, in spec syntax
    assert replay_corpus(module, bind, tmp_path, backend) != []  # the saved input reproduces it
    return result
