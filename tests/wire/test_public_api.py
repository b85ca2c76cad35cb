"""The public surface of lion.wire: complete, sorted, and light to import."""

from __future__ import annotations

import subprocess
import sys
from types import ModuleType

import pytest

import lion.wire
from lion.wire import dialects, dto, settings, sse


@pytest.mark.parametrize(
    "module", [lion.wire, dialects, dto, settings, sse], ids=lambda m: m.__name__
)
def test_all_is_sorted_and_resolves(module: ModuleType) -> None:
    names = module.__all__
    assert list(names) == sorted(names)
    for name in names:
        assert getattr(module, name) is not None


def test_lazy_names_resolve() -> None:
    from lion.wire.client import ChatClient, ChatStream
    from lion.wire.transport import Transport

    assert lion.wire.ChatClient is ChatClient
    assert lion.wire.ChatStream is ChatStream
    assert lion.wire.Transport is Transport
    with pytest.raises(AttributeError, match="no attribute `Nope`"):
        _ = lion.wire.Nope  # type: ignore[attr-defined]


def test_import_loads_neither_httpx_nor_anyio() -> None:
    code = (
        "import sys, lion.wire; "
        "print(sorted(m for m in ('httpx', 'anyio', 'httpcore') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
