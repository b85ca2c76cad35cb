"""One test module's helpers used by another (tests/ is not a package).

`load("kernel/test_policy_cedar.py")` imports that file once per process
under a private name, so its generators are shared instead of re-executed
by every file that wants them (pytest still collects the file on its own).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TESTS = Path(__file__).resolve().parent


def load(relative: str) -> ModuleType:
    """The test module at `tests/<relative>`, imported once."""
    name = "_lion_tests_" + relative.removesuffix(".py").replace("/", "_")
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(name, TESTS / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
