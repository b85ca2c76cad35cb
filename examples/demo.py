"""An offline agent whose every call passes the kernel: `make demo`.

It starts llama.cpp's server (SmolLM2-135M) on 127.0.0.1, then runs one
branch with three tools: `read_file`, which the policy permits;
`write_file`, which the policy leaves INDETERMINATE so the approver decides
(it approves the first write and denies the second); and `delete_file`,
which the branch was never granted a capability for. The host names the tool
for each step (the model is tiny); the model fills in the arguments. At the
end it prints the audit log, writes it as a hash-chained file and checks it
with `lion-verify audit`.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for the test servers' launcher

from lion.kernel.audit import write_audit  # noqa: E402
from lion.kernel.ipu import EffectRequest, PolicyResponse  # noqa: E402
from lion.services import ClientModel, Session, Tool  # noqa: E402
from lion.wire import ChatClient, LlamaCpp, ToolChoice  # noqa: E402
from tests.wire.servers import start_llama_server, stop_llama_server  # noqa: E402

POLICIES = """
@id("chat") permit(principal, action == Action::"chat", resource);
@id("read") permit(principal, action == Action::"read_file", resource);
// the demo has no entity for the agent, so `principal.may_write` is unknown:
// the policy is INDETERMINATE and the approver decides
@id("write") permit(principal, action == Action::"write_file", resource)
  when { principal.may_write };
"""
FILES = {"notes/todo.txt": "buy milk"}


def read_file(path: str) -> str:
    """Read a file.

    Args:
        path: the file's path
    """
    return FILES.get(path, f"no file {path}")


def write_file(path: str, text: str) -> str:
    """Write text to a file.

    Args:
        path: the file's path
        text: what to write
    """
    FILES[path] = text
    return f"wrote {len(text)} characters to {path}"


def delete_file(path: str) -> str:
    """Delete a file.

    Args:
        path: the file's path
    """
    FILES.pop(path, None)
    return f"deleted {path}"


ANSWERS = iter([True, False])


def approver(request: EffectRequest, response: PolicyResponse) -> bool:
    answer = next(ANSWERS, False)
    erroring = ", ".join(getattr(response, "erroring", ())) or "none"
    arguments = dict(request.context.get("arguments", {}))
    print(f"  approver: {request.effect} {arguments} (policy INDETERMINATE, erroring: {erroring})")
    print(f"  approver: {'approve' if answer else 'deny'}")
    return answer


STEPS = [
    ("read_file", "Read the file notes/todo.txt."),
    ("write_file", "Write 'call mom' to notes/todo.txt."),
    ("write_file", "Write 'sell the car' to notes/todo.txt."),
    ("delete_file", "Delete notes/todo.txt."),
]


async def main() -> int:
    server = start_llama_server()
    try:
        dialect = LlamaCpp(server.base_url, api_key=server.api_key)
        async with ChatClient(dialect) as client:
            model = ClientModel(client, server.model)
            key = b"demo-only-key-never-use-this-0123456789"
            async with Session(
                policies=POLICIES, model=model, key=key, approver=approver
            ) as session:
                branch = session.new_branch(
                    "demo",
                    tools=[Tool(read_file), Tool(write_file)],
                    options={"temperature": 0.0, "seed": 1, "max_tokens": 64},
                )
                branch.tools.register(Tool(delete_file))  # offered, but never granted
                for tool, prompt in STEPS:
                    print(f"> {prompt}")
                    await branch.operate(prompt, max_rounds=1, tool_choice=ToolChoice.named(tool))
                    response = [m for m in branch.messages if type(m).__name__ == "ActionResponse"]
                    print(f"  {tool} -> {response[-1].outcome}: {response[-1].content[:90]}")
                log = session.log.snapshot()
    finally:
        stop_llama_server(server)
    print()
    print(f"{'seq':>3}  {'effect':<22} {'decision':<8} reason")
    for obs in log:
        print(f"{obs.sequence:>3}  {obs.effect!s:<22} {obs.decision.name:<8} {obs.reason[:70]}")
    audit = Path(tempfile.mkdtemp()) / "demo-audit.jsonl"
    write_audit(log, audit)
    print(f"\naudit written to {audit}; lion-verify audit says:")
    verify = Path(sys.executable).with_name("lion-verify")
    return subprocess.run([str(verify), "audit", str(audit)], check=False).returncode


if __name__ == "__main__":
    sys.exit(anyio.run(main))
