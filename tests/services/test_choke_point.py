"""Nothing in lion.services reaches a tool, a model or the transport except through the gate.

The gate (`lion/services/gate.py`) is the only module that may call a tool's
`invoke` or a model's `complete`; only `lion/services/models.py` (the models
themselves) may talk to a `ChatClient` or its transport. The check reads the
source, so a new module that bypasses the gate fails here before it ships.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "lion" / "services"

# attribute called -> the modules that may call it
ALLOWED = {
    "invoke": {"gate"},  # running a tool
    "complete": {"gate"},  # asking a model
    "chat": {"models"},  # ChatClient.chat
    "send": {"models", "gate"},  # the transport (models); the gate's stream hand-off
    "stream": {"models", "gate"},  # the transport's (models) and a model's (the gate)
    "fn": {"tools"},  # the raw function behind a tool
}
WIRE_CLIENT = ("lion.wire.client", "lion.wire.transport")


def violations(module: str, source: str) -> list[str]:
    found = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr = node.func.attr
            if attr in ALLOWED and module not in ALLOWED[attr]:
                found.append(f"{module}.py:{node.lineno}: calls `.{attr}(...)` outside the gate")
        if isinstance(node, ast.ImportFrom) and node.module in WIRE_CLIENT and module != "models":
            found.append(f"{module}.py:{node.lineno}: imports {node.module}")
        if (
            isinstance(node, ast.Attribute)
            and node.attr in {"client", "transport"}
            and module != "models"
        ):
            found.append(f"{module}.py:{node.lineno}: touches `.{node.attr}`")
    return found


def test_every_service_module_goes_through_the_gate() -> None:
    modules = sorted(SERVICES.glob("*.py"))
    assert {p.stem for p in modules} >= {"branch", "gate", "session", "tools", "models"}
    problems = [v for p in modules for v in violations(p.stem, p.read_text())]
    assert problems == []


@pytest.mark.parametrize(
    "bypass",
    [
        "async def f(tool, args):\n    return await tool.invoke(args)\n",
        "async def f(model, request):\n    return await model.complete(request)\n",
        "async def f(model, request):\n    return await model.client.chat(request)\n",
        "from lion.wire.client import ChatClient\n",
        "def f(tool):\n    return tool.fn()\n",
    ],
)
def test_a_bypass_is_caught(bypass: str) -> None:
    assert violations("branch", bypass) != []
