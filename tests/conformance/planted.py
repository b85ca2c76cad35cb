"""The one check every planted-bug test makes: conformance catches the bug, and the save replays.

By default each test searches once with its own fixed seed (derived from the
test's name), so its verdict is the same on every run and on every machine:
a planted bug is caught every time or the test fails every time, never "in 2
of 3 runs". With ``LION_EXAMPLES=N`` set, each test instead makes one fresh
random search of at least N runs: that is how to measure whether the
generators find a bug reliably, not just at one seed.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

from lion.spec import ast
from lion.spec.load import load_paths
from lion.verify.conformance import BindResult, check_bind, replay_corpus

ROOT = Path(__file__).resolve().parents[2]
# Shrinking stops after this long with the smallest failing run found so far: a
# planted bug's test needs a failing run that replays, not the smallest one (the
# library's default, 30 s, made shrinking most of this suite's time).
SHRINK_SECONDS = 8.0
MODULES = load_paths([ROOT / "spec"])


def find_bind(name: str) -> tuple[ast.Module, ast.Bind]:
    """The spec module and bind called `name` (bind names are unique across spec/)."""
    return next((m, b) for m in MODULES for b in m.binds if b.name == name)


def seed_of_test() -> int:
    """The calling test's fixed seed: a checksum of its pytest id (parameters included)."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    return zlib.crc32(current.rsplit(" (", 1)[0].encode())


def search(examples: int) -> tuple[int, int | None]:
    """The examples and seed of a planted-bug search: fixed by default, random with
    LION_EXAMPLES (then at least that many examples)."""
    wanted = os.environ.get("LION_EXAMPLES")
    if wanted:
        return max(examples, int(wanted)), None
    return examples, seed_of_test()


def caught(
    name: str,
    tmp_path: Path,
    *,
    backend: str = "python",
    examples: int = 1000,
    walk_steps: int | None = None,
    shrink: bool = True,
) -> BindResult:
    """Check bind `name` against the (planted-bug) kernel: it must fail, shrink (unless
    `shrink` is False: then the first failing run is kept) and replay."""
    module, bind = find_bind(name)
    count, seed = search(examples)
    result = check_bind(
        module,
        bind,
        examples=count,
        backends=(backend,),
        corpus=tmp_path,
        seed=seed,
        walk_steps=walk_steps,
        shrink=shrink,
        shrink_seconds=SHRINK_SECONDS,
    )
    where = f"seed {seed}" if seed is not None else "a random search"
    assert not result.ok, f"planted bug not caught by {where} of {count} runs"
    assert result.failing_text  # the shrunk input, in spec syntax
    assert replay_corpus(module, bind, tmp_path, backend) != []  # the saved input reproduces it
    return result
