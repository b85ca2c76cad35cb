"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for the runtime benchmark.

It plays one agent step for every client that talks to it: the first answer
asks for the tool call ``search({"query": "lion"})``; once the request carries
the tool's result, the answer is ``done``. Two dialects of "tool call" are
spoken, chosen by the request itself:

* native (the request offers ``tools``: LION's ClientModel, pydantic-ai's
  OpenAI model): the first answer is an assistant message with ``tool_calls``,
  and a request whose last message has role ``tool`` is answered ``done``.
* structured (no ``tools``: lionagi, which puts the tool schemas in the
  prompt and asks for JSON): the first answer is JSON content with
  ``action_requests``; once a message carries the tool's output
  (``found lion``) the answer is ``{"answer": "done", ...}``.

The server runs in its own process (``python -m benchmarks._scripted_server``
prints the port it listens on), so its work does not share the benchmark's
interpreter. It is a bare asyncio protocol with keep-alive, to stay far below
the clients it serves; `ScriptedServer` starts and stops it. ``GET /stats``
answers how many tool-call and final answers each dialect got, so a benchmark
can check that a client really did the tool round trip.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from typing import Any

TOOL = "search"
ARGUMENTS = {"query": "lion"}
TOOL_OUTPUT = "found lion"  # what the benchmark's `search` returns for ARGUMENTS
ANSWER = "done"
MODEL = "scripted"

_COUNTS: Counter[str] = Counter()


def reply(body: dict[str, Any]) -> dict[str, Any]:
    """The assistant message answering one chat-completions request body."""
    messages = body.get("messages") or []
    if body.get("tools"):
        if messages and messages[-1].get("role") == "tool":
            _COUNTS["native answer"] += 1
            return {"role": "assistant", "content": ANSWER}
        _COUNTS["native tool call"] += 1
        call = {
            "id": f"call_{_COUNTS['native tool call']}",
            "type": "function",
            "function": {"name": TOOL, "arguments": json.dumps(ARGUMENTS)},
        }
        return {"role": "assistant", "content": None, "tool_calls": [call]}
    content: dict[str, Any]
    if any(TOOL_OUTPUT in _text(m.get("content")) for m in messages):
        _COUNTS["structured answer"] += 1
        content = {"answer": ANSWER}
    else:
        _COUNTS["structured tool call"] += 1
        content = {
            "analysis": "look it up",
            "extension_needed": False,
            "action_required": True,
            "action_requests": [{"function": TOOL, "arguments": ARGUMENTS}],
        }
    return {"role": "assistant", "content": json.dumps(content)}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def completion(body: dict[str, Any]) -> bytes:
    message = reply(body)
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    return json.dumps(
        {
            "id": "chatcmpl-scripted",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": body.get("model") or MODEL,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
        }
    ).encode()


class _Protocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and Content-Length bodies: all the clients here send."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
            method, path, *_ = head.split(" ", 2)
            self._answer(method, path, body)

    def _answer(self, method: str, path: str, body: bytes) -> None:
        status, payload = "200 OK", b""
        if method == "POST" and path.rstrip("/").endswith("/chat/completions"):
            try:
                payload = completion(json.loads(body))
            except (ValueError, AttributeError) as exc:
                status = "400 Bad Request"
                payload = json.dumps({"error": {"message": f"bad request: {exc}"}}).encode()
        elif method == "GET" and path == "/stats":
            payload = json.dumps(_COUNTS).encode()
        elif method == "GET" and path.rstrip("/").endswith("/models"):
            payload = json.dumps({"object": "list", "data": [{"id": MODEL}]}).encode()
        else:
            status = "404 Not Found"
            payload = json.dumps({"error": {"message": f"no route {method} {path}"}}).encode()
        self.transport.write(
            f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(payload)}\r\n\r\n".encode()
            + payload
        )


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Protocol, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


class ScriptedServer:
    """The server in a child process: ``with ScriptedServer() as s: s.base_url``."""

    base_url: str

    def __enter__(self) -> ScriptedServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._scripted_server"],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.isdigit():
            self.__exit__()
            raise RuntimeError(f"the scripted server did not start: it printed {line!r}")
        self.port = int(line)
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        return self

    def stats(self) -> Counter[str]:
        """How many answers of each kind the server has given since it started."""
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=5) as answer:
            return Counter(json.loads(answer.read()))

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


if __name__ == "__main__":
    asyncio.run(_serve())
