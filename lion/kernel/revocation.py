"""Revocation stores: where capability authorities keep the ids they have revoked.

A `CapabilityAuthority` (Python or Rust) asks its store one question per
verification, `first_revoked(ids)` with the ids of the token's chain, so a
verification costs O(chain length) whatever the number of revoked ids.
Authorities that share a store share revocations: a revoke that has returned
is seen by every verification that starts after it, on every authority using
the store (a verification already under way may still pass).

- `MemoryRevocationStore`: a set in this process; gone when the process ends.
- `SQLiteRevocationStore(path)`: a SQLite file (WAL journal, FULL sync), shared
  by every authority, thread and process that opens the same path, and kept
  across restarts.

``LION_REVOCATION_DB=<path>`` makes every authority created without an explicit
store use `SQLiteRevocationStore(path)`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Final, Protocol, Self, runtime_checkable

from lion.errors import RevocationStoreError

__all__ = [
    "DB_ENV_VAR",
    "MemoryRevocationStore",
    "RevocationStore",
    "SQLiteRevocationStore",
    "store_from_env",
]

DB_ENV_VAR: Final = "LION_REVOCATION_DB"
_BATCH: Final = 500  # ids per `IN (...)` query, well under SQLite's variable limit


@runtime_checkable
class RevocationStore(Protocol):
    """The revoked capability ids of one or more authorities."""

    def revoke(self, cap_id: str) -> None:
        """Record `cap_id` as revoked (idempotent); durable when it returns."""
        ...

    def first_revoked(self, ids: Sequence[str]) -> str | None:
        """The first of `ids`, in the given order, that is revoked; None if none is."""
        ...

    def is_revoked(self, cap_id: str) -> bool:
        """True if `cap_id` itself was revoked."""
        ...

    def ids(self) -> frozenset[str]:
        """Every revoked id (for export; O(revoked))."""
        ...


class MemoryRevocationStore:
    """Revoked ids in a set guarded by a lock: shared by the authorities given it, lost on exit."""

    __slots__ = ("_ids", "_lock")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._ids: set[str] = set(ids)

    def revoke(self, cap_id: str) -> None:
        with self._lock:
            self._ids.add(cap_id)

    def first_revoked(self, ids: Sequence[str]) -> str | None:
        with self._lock:
            revoked = self._ids
            return next((cap_id for cap_id in ids if cap_id in revoked), None)

    def is_revoked(self, cap_id: str) -> bool:
        with self._lock:
            return cap_id in self._ids

    def ids(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._ids)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)

    def __repr__(self) -> str:
        return f"MemoryRevocationStore({len(self)} revoked)"


class SQLiteRevocationStore:
    """Revoked ids in a SQLite file: ``revoked(id TEXT PRIMARY KEY, revoked_at REAL)``.

    The table is created on first use. The database runs in WAL mode with
    ``synchronous=FULL``, so a `revoke` that returned survives a crash, and
    with a busy timeout, so concurrent writers (threads here, other processes
    through SQLite's file locks) wait instead of failing. One connection per
    process, used under a lock; after a fork the child opens its own. Every
    SQLite failure is a `RevocationStoreError` naming the path. Close it with
    `close()` or a ``with`` block.
    """

    __slots__ = ("_conn", "_lock", "_path", "_pid", "_timeout")

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self._path = os.fspath(path)
        self._timeout = timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        with self._lock:
            self._connect()

    @property
    def path(self) -> str:
        return self._path

    def _fail(self, doing: str, exc: BaseException) -> RevocationStoreError:
        return RevocationStoreError(f"revocation store `{self._path}` could not {doing}: {exc}")

    def _connect(self) -> sqlite3.Connection:
        conn = None
        try:
            conn = sqlite3.connect(
                self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL").fetchall()
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS revoked (id TEXT PRIMARY KEY, revoked_at REAL NOT NULL)"
            )
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise self._fail("be opened", exc) from exc
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _connection(self) -> sqlite3.Connection:
        """The open connection (call with the lock held); a forked child gets a new one."""
        if self._conn is None:
            raise RevocationStoreError(f"revocation store `{self._path}` is closed")
        if self._pid != os.getpid():
            return self._connect()  # never use a parent's SQLite connection after fork
        return self._conn

    def revoke(self, cap_id: str) -> None:
        with self._lock:
            conn = self._connection()
            try:
                conn.execute(
                    "INSERT OR IGNORE INTO revoked (id, revoked_at) VALUES (?, ?)",
                    (cap_id, time.time()),
                )
            except sqlite3.Error as exc:
                raise self._fail(f"record `{cap_id}` as revoked", exc) from exc

    def first_revoked(self, ids: Sequence[str]) -> str | None:
        wanted = list(ids)
        if not wanted:
            return None
        found: set[str] = set()
        with self._lock:
            conn = self._connection()
            try:
                for start in range(0, len(wanted), _BATCH):
                    batch = wanted[start : start + _BATCH]
                    marks = ",".join("?" * len(batch))
                    rows = conn.execute(f"SELECT id FROM revoked WHERE id IN ({marks})", batch)
                    found.update(row[0] for row in rows)
            except sqlite3.Error as exc:
                raise self._fail("be read", exc) from exc
        return next((cap_id for cap_id in wanted if cap_id in found), None)

    def is_revoked(self, cap_id: str) -> bool:
        return self.first_revoked([cap_id]) is not None

    def ids(self) -> frozenset[str]:
        with self._lock:
            conn = self._connection()
            try:
                return frozenset(row[0] for row in conn.execute("SELECT id FROM revoked"))
            except sqlite3.Error as exc:
                raise self._fail("be read", exc) from exc

    def close(self) -> None:
        """Close the connection; later calls raise RevocationStoreError. Idempotent."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None and self._pid == os.getpid():
                conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteRevocationStore({self._path!r})"


def store_from_env() -> SQLiteRevocationStore | None:
    """A SQLite store at `LION_REVOCATION_DB` if that variable is set (non-empty), else None."""
    path = os.environ.get(DB_ENV_VAR, "")
    return SQLiteRevocationStore(path) if path else None
