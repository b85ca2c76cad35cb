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

# attribute called -> the modules that may call it, and (for names that other objects use
# too: a Branch's `chat`, an actor's `send`, a graph operation's `fn`) the receivers it
# concerns, by the name of the thing it is called on
ALLOWED: dict[str, tuple[set[str], tuple[str, ...]]] = {
    "invoke": ({"gate"}, ()),  # running a tool
    "complete": ({"gate"}, ()),  # asking a model
    "chat": ({"models"}, ("client", "transport")),  # ChatClient.chat
    "send": ({"models", "gate"}, ("client", "transport")),  # the transport
    "stream": ({"models", "gate"}, ("client", "transport", "model")),  # a model's stream
    "fn": ({"tools"}, ("tool",)),  # the raw function behind a tool
}
WIRE_CLIENT = ("lion.wire.client", "lion.wire.transport")


def _receiver(node: ast.Attribute) -> str:
    """The name a method is called on: `tool` for `tool.fn()`, `client` for `self.client.chat()`."""
    value = node.value
    while isinstance(value, ast.Call | ast.Subscript):
        value = value.func if isinstance(value, ast.Call) else value.value
    if isinstance(value, ast.Attribute):
        return value.attr.lower()
    return value.id.lower() if isinstance(value, ast.Name) else ""


def violations(module: str, source: str) -> list[str]:
    found = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr = node.func.attr
            if attr not in ALLOWED:
                continue
            modules, receivers = ALLOWED[attr]
            receiver = _receiver(node.func)
            concerned = not receivers or any(r in receiver for r in receivers)
            if module not in modules and concerned:
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
        "def f(self):\n    return self.tools['x'].fn()\n",
        "async def f(self, r):\n    return await self._client.chat(r)\n",
        "async def f(model, r):\n    async for x in model.stream(r):\n        yield x\n",
    ],
)
def test_a_bypass_is_caught(bypass: str) -> None:
    assert violations("branch", bypass) != []


@pytest.mark.parametrize(
    "legitimate",
    [
        "async def f(branch):\n    return await branch.chat('hi')\n",  # through the gate
        "async def f(ref, m):\n    await ref.send(m)\n",  # an actor's mailbox
        "def f(expansion, r):\n    return expansion.fn(r)\n",  # a graph operation
    ],
)
def test_the_same_names_on_other_objects_are_not_bypasses(legitimate: str) -> None:
    assert violations("orchestrator", legitimate) == []
