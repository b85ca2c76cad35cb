"""Revocation stores: shared by authorities (Python and Rust), kept across restarts, safe
under concurrent writers, and a failing store refuses every token (fail closed)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from lion.errors import CapabilityError, LionError, RevocationStoreError
from lion.kernel.backend import get_backend, rust_available
from lion.kernel.revocation import (
    DB_ENV_VAR,
    MemoryRevocationStore,
    RevocationStore,
    SQLiteRevocationStore,
    store_from_env,
)

KEY = b"revocation-test-key-0123456789abcdef"
BACKENDS = [
    "python",
    pytest.param("rust", marks=pytest.mark.skipif(not rust_available(), reason="no rust")),
]
PAIRS = [(a, b) for a in ("python", "rust") for b in ("python", "rust")]


def authority(backend: str, store: RevocationStore | None = None) -> Any:
    if backend == "rust" and not rust_available():
        pytest.skip("the rust extension is not built")
    return get_backend(backend).authority(KEY, clock=lambda: 1000, revocations=store)


def family(auth: Any) -> tuple[Any, Any, Any]:
    """A root for alice, a child she attenuated and a grandchild she gave to bob."""
    root = auth.mint("alice", "docs/*", ["read", "write"], 2000)
    child = auth.attenuate(root, rights=["read"])
    grandchild = auth.transfer(child, "bob", by="alice")
    return root, child, grandchild


def refused(auth: Any, token: Any) -> str:
    with pytest.raises(CapabilityError) as info:
        auth.verify(token)
    return str(info.value)


# --- the stores themselves -------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        yield MemoryRevocationStore()
    else:
        with SQLiteRevocationStore(tmp_path / "revoked.db") as db:
            yield db


def test_a_store_answers_the_first_revoked_id_in_order(store: Any) -> None:
    assert isinstance(store, RevocationStore)
    assert store.first_revoked(["a", "b", "c"]) is None
    assert store.first_revoked([]) is None
    store.revoke("c")
    store.revoke("b")
    store.revoke("b")  # idempotent
    assert store.first_revoked(["a", "b", "c"]) == "b"
    assert store.first_revoked(["c", "b"]) == "c"
    assert store.first_revoked(["x"] * 1200 + ["c"]) == "c"  # more ids than one query holds
    assert store.is_revoked("b") and not store.is_revoked("a")
    assert store.ids() == frozenset({"b", "c"})


def test_sqlite_revocations_survive_a_new_store_object(tmp_path: Path) -> None:
    path = tmp_path / "revoked.db"
    with SQLiteRevocationStore(path) as first:
        first.revoke("gone")
    with SQLiteRevocationStore(str(path)) as again:
        assert again.is_revoked("gone")
        assert again.ids() == {"gone"}
        assert repr(again) == f"SQLiteRevocationStore({str(path)!r})"
    with sqlite3.connect(path) as conn:
        ((mode,),) = conn.execute("PRAGMA journal_mode").fetchall()
        columns = [row[1] for row in conn.execute("PRAGMA table_info(revoked)")]
    assert mode == "wal"
    assert columns == ["id", "revoked_at"]


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    db = SQLiteRevocationStore(tmp_path / "r.db")
    db.close()
    db.close()  # idempotent
    with pytest.raises(RevocationStoreError, match=r"r\.db` is closed"):
        db.revoke("x")


@pytest.mark.parametrize("kind", ["corrupt", "missing directory", "a directory"])
def test_a_bad_database_path_is_a_clear_lion_error(tmp_path: Path, kind: str) -> None:
    if kind == "corrupt":
        path = tmp_path / "corrupt.db"
        path.write_bytes(b"this is not a sqlite database, just some bytes" * 100)
    elif kind == "missing directory":
        path = tmp_path / "no" / "such" / "dir" / "r.db"
    else:
        path = tmp_path
    with pytest.raises(RevocationStoreError) as info:
        SQLiteRevocationStore(path)
    assert isinstance(info.value, LionError) and isinstance(info.value, CapabilityError)
    assert f"revocation store `{path}` could not be opened" in str(info.value)


def test_store_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(DB_ENV_VAR, raising=False)
    assert store_from_env() is None
    monkeypatch.setenv(DB_ENV_VAR, "")
    assert store_from_env() is None
    monkeypatch.setenv(DB_ENV_VAR, str(tmp_path / "env.db"))
    db = store_from_env()
    assert isinstance(db, SQLiteRevocationStore) and db.path == str(tmp_path / "env.db")
    db.close()


# --- concurrent writers ------------------------------------------------------------------------


def test_threads_revoke_concurrently_without_losing_any(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    stores = [SQLiteRevocationStore(path), SQLiteRevocationStore(path)]  # two connections too
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            db = stores[n % 2]
            for i in range(100):
                db.revoke(f"t{n}-{i}")
                assert db.first_revoked([f"t{n}-{i}"]) == f"t{n}-{i}"
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(stores[0].ids()) == 600 == len(stores[1].ids())
    for db in stores:
        db.close()


def _revoke_many(path: str, prefix: str) -> None:
    with SQLiteRevocationStore(path) as db:
        for i in range(150):
            db.revoke(f"{prefix}-{i}")


def test_two_processes_revoke_into_one_file(tmp_path: Path) -> None:
    path = str(tmp_path / "procs.db")
    SQLiteRevocationStore(path).close()  # created once; both writers open it
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_revoke_many, args=(path, f"p{n}")) for n in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    with SQLiteRevocationStore(path) as db:
        assert len(db.ids()) == 300


# --- authorities sharing revocations (finding: revocation lived in one authority) ---------------


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_authorities_sharing_a_store_refuse_each_others_revocations(
    first: str, second: str
) -> None:
    shared = MemoryRevocationStore()
    a, b = authority(first, shared), authority(second, shared)
    root, child, grandchild = family(a)
    assert b.verify(grandchild).holder == "bob"
    a.revoke(child)
    assert refused(b, grandchild) == (
        f"capability `{child.id}` is revoked (an ancestor of `{grandchild.id}`)"
    )
    assert refused(b, child) == f"capability `{child.id}` is revoked"
    assert b.verify(root).id == root.id
    assert b.is_revoked(child.id) and b.revoked == {child.id}


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_a_restart_on_the_same_database_still_refuses(
    first: str, second: str, tmp_path: Path
) -> None:
    path = tmp_path / "revoked.db"
    with SQLiteRevocationStore(path) as db:
        before = authority(first, db)
        root, _, grandchild = family(before)
        before.revoke(root.id)
    # a new process would build a new store object and a new authority on the same file
    with SQLiteRevocationStore(path) as db:
        after = authority(second, db)
        assert refused(after, grandchild) == (
            f"capability `{root.id}` is revoked (an ancestor of `{grandchild.id}`)"
        )
        assert after.revoked == {root.id}


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_environment_names_the_default_database(
    backend: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(DB_ENV_VAR, str(tmp_path / "env.db"))
    first = authority(backend)
    root, _, grandchild = family(first)
    first.revoke(root)
    restarted = authority(backend)  # no store given: LION_REVOCATION_DB
    assert "is revoked (an ancestor of" in refused(restarted, grandchild)
    monkeypatch.delenv(DB_ENV_VAR)
    fresh = authority(backend)  # in memory: knows nothing of the file
    assert fresh.verify(grandchild).holder == "bob"


@pytest.mark.parametrize("backend", BACKENDS)
def test_revoked_argument_revokes_into_the_store(backend: str) -> None:
    shared = MemoryRevocationStore()
    if backend == "rust" and not rust_available():
        pytest.skip("the rust extension is not built")
    get_backend(backend)  # selection works
    from lion.kernel._rust import RustAuthority
    from lion.kernel.capability import CapabilityAuthority

    cls = CapabilityAuthority if backend == "python" else RustAuthority
    cls(KEY, revoked=["old-id"], revocations=shared)
    assert shared.ids() == {"old-id"}


# --- verify costs one store query, and a failing store refuses (fail closed) ---------------------


class Spy:
    """A memory store that records every call."""

    def __init__(self) -> None:
        self.inner = MemoryRevocationStore(f"other-{i}" for i in range(1000))
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def revoke(self, cap_id: str) -> None:
        self.calls.append(("revoke", (cap_id,)))
        self.inner.revoke(cap_id)

    def first_revoked(self, ids: Sequence[str]) -> str | None:
        self.calls.append(("first_revoked", tuple(ids)))
        return self.inner.first_revoked(ids)

    def is_revoked(self, cap_id: str) -> bool:
        self.calls.append(("is_revoked", (cap_id,)))
        return self.inner.is_revoked(cap_id)

    def ids(self) -> frozenset[str]:
        self.calls.append(("ids", ()))
        return self.inner.ids()


@pytest.mark.parametrize("backend", BACKENDS)
def test_verify_asks_the_store_once_with_the_chain(backend: str) -> None:
    spy = Spy()
    auth = authority(backend, spy)
    root, child, grandchild = family(auth)
    spy.calls.clear()
    auth.verify(grandchild)
    assert spy.calls == [("first_revoked", (root.id, child.id, grandchild.id))]
    spy.calls.clear()
    auth.authorize(grandchild, "docs/a", "read", holder="bob")
    assert spy.calls == [("first_revoked", (root.id, child.id, grandchild.id))]


class Broken:
    def __init__(self, answer: object = None, error: Exception | None = None) -> None:
        self.answer, self.error = answer, error

    def _maybe_fail(self) -> None:
        if self.error is not None:
            raise self.error

    def revoke(self, cap_id: str) -> None:
        self._maybe_fail()

    def first_revoked(self, ids: Sequence[str]) -> object:
        self._maybe_fail()
        return self.answer

    def is_revoked(self, cap_id: str) -> bool:
        self._maybe_fail()
        return False

    def ids(self) -> frozenset[str]:
        self._maybe_fail()
        return frozenset()


def _outcome(call: Any) -> tuple[str, str]:
    try:
        call()
    except CapabilityError as exc:
        return type(exc).__name__, str(exc)
    return "ok", ""


@pytest.mark.parametrize(
    ("store", "message"),
    [
        (Broken(error=RuntimeError("disk on fire")), "RuntimeError: disk on fire"),
        (
            Broken(error=RevocationStoreError("revocation store `x.db` could not be read: locked")),
            "revocation store `x.db` could not be read: locked",
        ),
        (Broken(answer="not-in-chain"), "it answered `not-in-chain`, which is not in the chain"),
    ],
)
def test_a_failing_store_refuses_every_token_alike_in_both_backends(
    store: Broken, message: str
) -> None:
    good = authority("python")
    token = good.mint("alice", "docs/*", ["read"], 2000)
    outcomes = []
    for backend in ("python", "rust"):
        auth = authority(backend, store)
        outcome = _outcome(partial(auth.verify, token))
        assert outcome == (
            "RevocationStoreError",
            f"revocation store failed, so the token is refused: {message}",
        )
        assert _outcome(partial(auth.authorize, token, "docs/a", "read"))[0] != "ok"
        with pytest.raises(CapabilityError):
            auth.attenuate(token)
        outcomes.append(outcome)
        if store.error is not None:
            assert _outcome(partial(auth.revoke, "abc"))[1].startswith(
                "revocation store failed, so `abc` is not revoked: "
            )
            assert "revoked=?" in repr(auth)
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_closed_database_refuses_tokens(backend: str, tmp_path: Path) -> None:
    db = SQLiteRevocationStore(tmp_path / "r.db")
    auth = authority(backend, db)
    token = auth.mint("alice", "docs/*", ["read"], 2000)
    db.close()
    with pytest.raises(RevocationStoreError, match="is closed"):
        auth.verify(token)
