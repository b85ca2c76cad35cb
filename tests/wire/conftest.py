"""Fixtures for the wire tests: the fault server (per test) and the llama server (per session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .servers import FaultServer, LlamaServer, start_llama_server, stop_llama_server


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    """llama-cpp-python's server with SmolLM2-135M, started once for the session.

    If it cannot start, every test that needs it fails with the reason and the
    server's log: a missing server is a broken test set-up, never a skip.
    """
    try:
        server = start_llama_server()
    except RuntimeError as exc:
        pytest.fail(f"could not start the llama server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        stop_llama_server(server)
