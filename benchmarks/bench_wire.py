"""lion.wire against the openai SDK and a bare httpx floor, in one run.

* Per request, against a fast local stub server (a separate process on
  127.0.0.1): ``ChatClient.chat`` vs ``AsyncOpenAI.chat.completions.create`` vs
  a bare ``httpx.AsyncClient.post`` with a JSON decode (the floor: no retries,
  limits, typed decoding or error mapping).
* Per stream of 100 chunks from the same stub: ``ChatClient.stream`` vs the
  SDK's ``stream=True`` vs bare httpx ``aiter_lines`` + ``json.loads``.
* SSE parse throughput on the same bytes: :class:`lion.wire.sse.SSEParser` vs
  the SDK's ``SSEDecoder``, and the whole decode (parser, typed chunks,
  assembly) vs the SDK's decoder plus ``json.loads``.
* Import time in fresh processes: ``import lion.wire`` (and with
  ``ChatClient``, which loads httpx and anyio) vs ``import openai``.

Each contender runs in turn, the order rotating, for several rounds; the table
shows the best round of each (as ``timeit`` does), and the median ratios
follow it. Targets: LION within 15% of the floor per request (a speed-up of at
least 0.87x against it), and an import at most a fifth of the SDK's.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks._table import Row

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("LION_BENCH_ROUNDS", "10"))
REQUESTS = int(os.environ.get("LION_BENCH_REQUESTS", "200"))
STREAMS = int(os.environ.get("LION_BENCH_STREAMS", "50"))
STREAM_CHUNKS = 100
MODEL = "stub-model"
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France? Answer in one word."},
]

# ----------------------------------------------------------------------- the stub


def _completion() -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": MODEL,
            "system_fingerprint": "fp_bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Paris. " * 12, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 27, "completion_tokens": 25, "total_tokens": 52},
        }
    ).encode()


def _sse(chunks: int) -> bytes:
    out = []
    for i in range(chunks):
        delta = {"role": "assistant", "content": ""} if i == 0 else {"content": f" word{i}"}
        finish = "stop" if i == chunks - 1 else None
        chunk = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": MODEL,
            "system_fingerprint": "fp_bench",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        out.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    usage = {"prompt_tokens": 27, "completion_tokens": chunks, "total_tokens": 27 + chunks}
    last = {"id": "chatcmpl-bench", "choices": [], "usage": usage}
    out.append(b"data: " + json.dumps(last).encode())
    out.append(b"\n\ndata: [DONE]\n\n")
    return b"".join(out)


def _response(body: bytes, content_type: str) -> bytes:
    head = (
        f"HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(body)}\r\nx-request-id: bench\r\n\r\n"
    )
    return head.encode() + body


_LENGTH = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")


def serve_stub() -> None:
    """Run the stub server (in its own process) and print its port."""
    plain = _response(_completion(), "application/json")
    streamed = _response(_sse(STREAM_CHUNKS), "text/event-stream")

    class Stub(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: Any = transport
            self.buf = b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while True:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                match = _LENGTH.search(self.buf, 0, end + 2)
                size = int(match.group(1)) if match else 0
                if len(self.buf) < end + 4 + size:
                    return
                body = self.buf[end + 4 : end + 4 + size]
                self.buf = self.buf[end + 4 + size :]
                stream = b'"stream":true' in body or b'"stream": true' in body
                self.transport.write(streamed if stream else plain)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Stub, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin

    asyncio.run(main())


class StubServer:
    def __enter__(self) -> StubServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_wire", "--stub"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


# ----------------------------------------------------------------- measurement


async def _rounds(
    contenders: dict[str, Callable[[], Awaitable[object]]], calls: int
) -> dict[str, list[float]]:
    """Microseconds per call of each contender, one figure a round, the order rotating."""
    names = list(contenders)
    for fn in contenders.values():  # warm up: connections, caches, lazy imports
        for _ in range(max(10, calls // 10)):
            await fn()
    results: dict[str, list[float]] = {n: [] for n in names}
    for r in range(ROUNDS):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            fn = contenders[name]
            start = time.perf_counter()
            for _ in range(calls):
                await fn()
            results[name].append((time.perf_counter() - start) / calls * 1e6)
    return results


async def _wire_rounds(base_url: str) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    import httpx
    import openai

    from lion.wire import ChatClient, ChatRequest, Message, OpenAI

    lion = ChatClient(OpenAI(base_url, api_key="sk-bench"))
    sdk = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench")
    http = httpx.AsyncClient()
    url = base_url + "/chat/completions"
    headers = {"authorization": "Bearer sk-bench"}
    request = ChatRequest(
        model=MODEL, messages=[Message(role=m["role"], content=m["content"]) for m in MESSAGES]
    )
    payload = {"model": MODEL, "messages": MESSAGES}

    async def lion_chat() -> object:
        return (await lion.chat(request)).content

    async def sdk_chat() -> object:
        reply = await sdk.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
        return reply.choices[0].message.content

    async def httpx_chat() -> object:
        response = await http.post(url, json=payload, headers=headers)
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"]

    async def lion_stream() -> object:
        async with lion.stream(request) as stream:
            return (await stream.collect()).content

    async def sdk_stream() -> object:
        stream: Any = await sdk.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
        )
        parts = [c.choices[0].delta.content async for c in stream if c.choices]
        return "".join(p for p in parts if p)

    async def httpx_stream() -> object:
        parts = []
        stream_payload = {**payload, "stream": True}
        async with http.stream("POST", url, json=stream_payload, headers=headers) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    chunk = json.loads(line[6:])
                    if chunk["choices"]:
                        parts.append(chunk["choices"][0]["delta"].get("content") or "")
        return "".join(parts)

    # all three must agree before anything is timed
    assert await lion_chat() == await sdk_chat() == await httpx_chat()
    assert await lion_stream() == await sdk_stream() == await httpx_stream()
    try:
        chat = await _rounds({"lion": lion_chat, "openai": sdk_chat, "httpx": httpx_chat}, REQUESTS)
        streams = await _rounds(
            {"lion": lion_stream, "openai": sdk_stream, "httpx": httpx_stream}, STREAMS
        )
    finally:
        await lion.aclose()
        await sdk.close()
        await http.aclose()
    return chat, streams


def _sse_throughput() -> tuple[dict[str, float], dict[str, float]]:
    """Microseconds per MiB, best of 5, for each parser on the same stream."""
    from openai._streaming import SSEDecoder

    from lion.wire.sse import ChunkDecoder, SSEParser, StreamAssembler

    data = _sse(2000)
    pieces = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    mib = len(data) / 2**20

    def lion_parse() -> int:
        parser = SSEParser()
        return sum(len(parser.feed(p)) for p in pieces)

    def sdk_parse() -> int:
        return sum(1 for _ in SSEDecoder().iter_bytes(iter(pieces)))

    def lion_decode() -> object:
        decoder = ChunkDecoder()
        assembler = StreamAssembler()
        for p in pieces:
            for chunk in decoder.feed(p):
                assembler.add(chunk)
        return assembler.completion().content

    def sdk_decode() -> object:
        parts = []
        for event in SSEDecoder().iter_bytes(iter(pieces)):
            if event.data != "[DONE]":
                chunk = json.loads(event.data)
                if chunk["choices"]:
                    parts.append(chunk["choices"][0]["delta"].get("content") or "")
        return "".join(parts)

    assert lion_parse() == sdk_parse()
    assert lion_decode() == sdk_decode()

    def best(fn: Callable[[], object]) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times) / mib * 1e6

    parse = {"lion": best(lion_parse), "openai": best(sdk_parse)}
    decode = {"lion": best(lion_decode), "openai": best(sdk_decode)}
    return parse, decode


# --------------------------------------------------------------- hostile inputs (issue 15)

#: The last commit before the wire was bounded (issue 15): its SSE parser is the "before" peer.
BEFORE = "390947a"


def _parser_before() -> type | None:
    """The SSE parser as it was at :data:`BEFORE`, loaded from git (None without git)."""
    import types

    try:
        text = subprocess.run(
            ["git", "show", f"{BEFORE}:lion/wire/sse.py"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("sse_before")
    exec(compile(text, "sse_before.py", "exec"), module.__dict__)
    parser: type = module.SSEParser
    return parser


def _feed_time(make: Callable[[], Any], pieces: list[bytes], rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        parser = make()
        start = time.perf_counter()
        for p in pieces:
            parser.feed(p)
        best = min(best, time.perf_counter() - start)
    return best


def _split(data: bytes, step: int = 4096) -> list[bytes]:
    return [data[i : i + step] for i in range(0, len(data), step)]


def _hostile_sse() -> list[Row]:
    """Per MiB: a stream of normal chunks, and one 8 MiB line, before and after the fix."""
    from lion.wire.sse import SSEParser

    before = _parser_before()
    normal = _split(_sse(2000))
    normal_mib = sum(map(len, normal)) / 2**20
    line = b"data: " + b"x" * (8 << 20) + b"\n\n"
    long_pieces = _split(line)
    short = _split((b"data: " + b"x" * 200 + b"\n\n") * (len(line) // 208))

    def after() -> SSEParser:
        return SSEParser(max_line_bytes=64 << 20, max_event_bytes=64 << 20)

    rows = []
    if before is not None:
        peer = f"parser before ({BEFORE})"
        now_us = _feed_time(SSEParser, normal, 7) / normal_mib * 1e6  # default limits
        then_us = _feed_time(before, normal, 7) / normal_mib * 1e6
        rows.append(Row("SSE parse, normal stream, per MiB", now_us, peer, then_us, ">= 1x"))
        now_us = _feed_time(after, long_pieces) / 8e-6
        then_us = _feed_time(before, long_pieces, 1) / 8e-6  # seconds: one round is enough
        rows.append(Row("SSE parse, one 8 MiB line, per MiB", now_us, peer, then_us))
    hostile = _feed_time(after, long_pieces)
    benign = _feed_time(after, short)
    rows.append(Row("SSE parse, one 8 MiB line", hostile * 1e6, "8 MiB of 200-byte lines",
                    benign * 1e6, ">= 0.5x"))  # fmt: skip
    return rows


async def _read_peak(read: Callable[[], Awaitable[object]]) -> tuple[float, int, str]:
    """Best-of-3 seconds (untraced), then the peak traced bytes and outcome of one more run."""
    import tracemalloc

    async def once() -> str:
        try:
            await read()
        except Exception as exc:
            return type(exc).__name__
        return "read"

    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        await once()
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    outcome = await once()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak, outcome


def _hostile_bodies() -> tuple[list[Row], list[str]]:
    """Reading a body the way the transport did before (httpx ``aread``) and now (bounded).

    The bodies come from an ``httpx.MockTransport`` in raw form (as from the
    network, ``content-encoding`` still applied), so only decoding and reading
    are measured.
    """
    import gzip
    import zlib

    import httpx

    from lion.wire import _body

    def bomb(size: int) -> bytes:
        z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        block = b"\0" * 2**20
        return b"".join([z.compress(block) for _ in range(size // 2**20)] + [z.flush()])

    class Chunks(httpx.AsyncByteStream):
        """The raw body in 64 KiB pieces, as a socket hands it over."""

        def __init__(self, data: bytes) -> None:
            self._data = data

        async def __aiter__(self) -> Any:
            view = memoryview(self._data)
            for i in range(0, len(view), 65536):
                yield bytes(view[i : i + 65536])

    benign = gzip.compress(json.dumps({"content": "x " * 200_000}).encode())  # 400 KB decoded
    cases = {
        "gzip bomb 128 MiB": (bomb(128 << 20), {"content-encoding": "gzip"}),
        "plain body 128 MiB": (b" " * (128 << 20), {}),
        "benign gzip body 400 KB": (benign, {"content-encoding": "gzip"}),
    }
    rows: list[Row] = []
    notes: list[str] = []
    limit = 16 << 20

    async def measure(raw: bytes, headers: dict[str, str]) -> dict[str, tuple[float, int, str]]:
        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, headers=headers, stream=Chunks(raw))

        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:

            async def before() -> object:
                async with client.stream("POST", "http://bench/") as r:
                    return await r.aread()

            async def after() -> object:
                async with client.stream("POST", "http://bench/") as r:
                    decoder = _body.BodyDecoder(
                        r.headers.get("content-encoding"), limit=limit,
                        limit_name="max_body_bytes", what="bench",
                    )  # fmt: skip
                    return await _body.read_body(r, decoder)

            return {"before": await _read_peak(before), "after": await _read_peak(after)}

    for name, (raw, headers) in cases.items():
        got = asyncio.run(measure(raw, headers))
        (tb, mb, ob), (ta, ma, oa) = got["before"], got["after"]
        rows.append(Row(f"read {name}", ta * 1e6, "httpx aread (before)", tb * 1e6))
        notes.append(
            f"{name}: peak {ma / 2**20:.1f} MiB ({oa}) vs {mb / 2**20:.1f} MiB before ({ob})"
        )
    return rows, notes


_IMPORT = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def _import_times(runs: int = 7) -> dict[str, float]:
    """Median seconds of each import, each in a fresh interpreter, interleaved."""
    stmts = {
        "lion.wire": "import lion.wire",
        "lion.wire+client": "import lion.wire; lion.wire.ChatClient",
        "openai": "import openai",
    }
    times: dict[str, list[float]] = {k: [] for k in stmts}
    for i in range(runs + 1):
        for name, stmt in stmts.items():
            out = subprocess.run(
                [sys.executable, "-c", _IMPORT.format(stmt=stmt)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            if i:  # the first pass only warms the bytecode caches
                times[name].append(float(out.stdout))
    return {k: statistics.median(v) for k, v in times.items()}


# ------------------------------------------------------------------------- run


def run() -> list[Row]:
    with StubServer() as stub:
        chat, streams = asyncio.run(_wire_rounds(stub.base_url))
    parse, decode = _sse_throughput()
    imports = _import_times()
    hostile = _hostile_sse()
    bodies, notes = _hostile_bodies()

    best = {k: min(v) for k, v in chat.items()}
    sbest = {k: min(v) for k, v in streams.items()}
    rows = [
        Row("chat, per request", best["lion"], "bare httpx (floor)", best["httpx"], ">= 0.87x"),
        Row("chat, per request", best["lion"], "openai SDK", best["openai"], "~2x"),
        Row(f"stream of {STREAM_CHUNKS} chunks", sbest["lion"], "bare httpx", sbest["httpx"]),
        Row(f"stream of {STREAM_CHUNKS} chunks", sbest["lion"], "openai SDK", sbest["openai"]),
        Row("SSE parse, per MiB", parse["lion"], "openai SSEDecoder", parse["openai"]),
        Row("SSE decode+assemble, per MiB", decode["lion"], "SSEDecoder+json", decode["openai"]),
        Row("import lion.wire", imports["lion.wire"] * 1e6, "import openai",
            imports["openai"] * 1e6, ">= 5x"),
        Row("import lion.wire + ChatClient", imports["lion.wire+client"] * 1e6, "import openai",
            imports["openai"] * 1e6),
        *hostile,
        *bodies,
    ]  # fmt: skip

    def median_ratio(results: dict[str, list[float]], peer: str) -> float:
        return statistics.median(p / q for p, q in zip(results[peer], results["lion"], strict=True))

    print(
        f"{ROUNDS} rounds of {REQUESTS} requests and {STREAMS} streams; median ratios: "
        f"chat vs floor {median_ratio(chat, 'httpx'):.2f}x, "
        f"vs SDK {median_ratio(chat, 'openai'):.2f}x; "
        f"stream vs floor {median_ratio(streams, 'httpx'):.2f}x, "
        f"vs SDK {median_ratio(streams, 'openai'):.2f}x"
    )
    print(
        f"LION per request {best['lion'] / best['httpx'] - 1:+.1%} against the floor; "
        f"SSE parse {1e6 / parse['lion']:.0f} MiB/s (SDK {1e6 / parse['openai']:.0f}); "
        f"imports: lion.wire {imports['lion.wire'] * 1e3:.0f} ms, with ChatClient "
        f"{imports['lion.wire+client'] * 1e3:.0f} ms, openai {imports['openai'] * 1e3:.0f} ms"
    )
    print("bodies, peak traced memory (limit 16 MiB): " + "; ".join(notes))
    return rows


if __name__ == "__main__":
    if sys.argv[1:] == ["--stub"]:
        serve_stub()
    else:
        from benchmarks._table import print_table

        print_table(run())
