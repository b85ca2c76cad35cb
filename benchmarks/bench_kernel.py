"""The kernel from Python: Rust core vs the Python reference vs cedarpy, in one run.

Policy sets and entities are parsed once up front for every engine (as
cedarpy's docs advise), then the same requests are decided by each.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from benchmarks._table import Row, per_call_us

ENTITIES: list[dict[str, Any]] = [
    {"uid": {"type": "User", "id": "alice"}, "attrs": {"level": 5}, "parents": []},
    {"uid": {"type": "Folder", "id": "f7"}, "attrs": {}, "parents": []},
    {
        "uid": {"type": "Doc", "id": "d"},
        "attrs": {"owner": {"__entity": {"type": "User", "id": "alice"}}},
        "parents": [{"type": "Folder", "id": "f7"}],
    },
]

THREE = """
@id("owner-reads")
permit(principal, action == Action::"read", resource) when { resource.owner == principal };
@id("levelled")
permit(principal is User, action, resource in Folder::"f7") when { principal.level >= 3 };
@id("no-deletes")
forbid(principal, action == Action::"delete", resource) unless { context.admin };
"""


def _many(n: int) -> str:
    """`n` policies over distinct principals and actions, as an application would have."""
    rules = [THREE]
    for i in range(n - 3):
        effect = "forbid" if i % 10 == 9 else "permit"
        rules.append(
            f'@id("p{i}")\n{effect}(principal == User::"u{i}", action == Action::"act{i % 50}", '
            f'resource in Folder::"f{i % 20}") when {{ context.level >= {i % 7} }};'
        )
    return "\n".join(rules)


REQUEST = {
    "principal": 'User::"alice"',
    "action": 'Action::"read"',
    "resource": 'Doc::"d"',
    "context": {"admin": False, "level": 4},
}


def _policy_rows(size: int, text: str) -> tuple[list[Row], float]:
    import cedarpy

    from lion.kernel.backend import get_backend

    rust = get_backend("rust")
    python = get_backend("python")
    rust_set, py_set = rust.policy_set(text), python.policy_set(text)
    rust_entities, py_entities = rust.entities(ENTITIES), python.entities(ENTITIES)
    cedar_set = cedarpy.PolicySet.from_str(text)
    cedar_entities = cedarpy.Entities.from_json_str(json.dumps(ENTITIES))
    request = REQUEST

    expected = py_set.evaluate(request, py_entities)
    got = rust_set.evaluate(request, rust_entities)
    cedar = cedarpy.is_authorized(request, cedar_set, cedar_entities)
    assert got.decision == expected.decision, (got, expected)
    assert (cedar.decision == cedarpy.Decision.Allow) == (got.decision.name == "PERMIT"), cedar

    rust_us = per_call_us(lambda: rust_set.evaluate(request, rust_entities))
    py_us = per_call_us(lambda: py_set.evaluate(request, py_entities))
    cedar_us = per_call_us(lambda: cedarpy.is_authorized(request, cedar_set, cedar_entities))

    batch = [{**request, "context": {"admin": i % 2 == 0, "level": i % 6}} for i in range(1000)]
    rust_batch_us = per_call_us(lambda: rust_set.evaluate_batch(batch, rust_entities)) / 1000
    cedar_batch_us = (
        per_call_us(lambda: cedarpy.is_authorized_batch(batch, cedar_set, cedar_entities)) / 1000
    )
    py_batch_us = per_call_us(lambda: py_set.evaluate_batch(batch, py_entities)) / 1000
    rows = [
        Row(f"decision, {size} policies", rust_us, "cedarpy", cedar_us, ">= 20x"),
        Row(f"decision, {size} policies", rust_us, "lion python", py_us, ">= 10x"),
        Row(
            f"batch of 1000, {size} policies (per request)",
            rust_batch_us,
            "cedarpy",
            cedar_batch_us,
        ),
        Row(
            f"batch of 1000, {size} policies (per request)",
            rust_batch_us,
            "lion python",
            py_batch_us,
        ),
    ]
    return rows, rust_us


KEY = b"benchmark-key-0123456789abcdef-0123456789"
REVOKED = 100_000


def _chain(authority: Any, length: int) -> str:
    token = authority.mint("alice", "docs/*", ["read", "write"], 10_000).encode()
    for depth in range(1, length):
        token = authority.attenuate(token, expiry=10_000 - depth).encode()
    return token


def _capability_rows() -> list[Row]:
    from lion import _native
    from lion.kernel.capability import CapabilityAuthority

    python = CapabilityAuthority(KEY, clock=lambda: 100)
    rust = _native.CapabilityAuthority(KEY, clock=lambda: 100)
    rows = []
    for length in (1, 5):
        token = _chain(python, length)
        assert rust.verify(token)[0] == python.verify(token).id
        rows.append(
            Row(
                f"capability verify, chain {length}",
                per_call_us(lambda t=token: rust.verify(t)),
                "lion python",
                per_call_us(lambda t=token: python.verify(t)),
            )
        )
    return rows


def _sqlite_with(path: Path, ids: list[str]) -> Any:
    """A SQLite store on a fresh file already holding `ids` (inserted in one transaction)."""
    import sqlite3

    from lion.kernel.revocation import SQLiteRevocationStore

    SQLiteRevocationStore(path).close()  # creates the table
    with sqlite3.connect(path) as conn:
        conn.executemany("INSERT INTO revoked (id, revoked_at) VALUES (?, 0)", [(i,) for i in ids])
    return SQLiteRevocationStore(path)


def _revocation_rows() -> list[Row]:
    """Verify with 100,000 revoked ids vs none: one store query per verify, O(chain)."""
    import tempfile

    from lion.kernel._rust import RustAuthority
    from lion.kernel.capability import CapabilityAuthority
    from lion.kernel.revocation import MemoryRevocationStore

    many = [f"{i:032x}" for i in range(REVOKED)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for store_kind in ("memory", "sqlite"):
            for backend in ("python", "rust"):
                times = {}
                for label, ids in (("none", []), ("100k", many)):
                    if store_kind == "sqlite":
                        store: Any = _sqlite_with(Path(tmp) / f"{backend}-{label}.db", ids)
                    elif backend == "python":
                        store = MemoryRevocationStore(ids)
                    else:
                        store = None  # the core's own in-memory set
                    if backend == "python":
                        auth: Any = CapabilityAuthority(KEY, clock=lambda: 100, revocations=store)
                    else:
                        auth = RustAuthority(KEY, clock=lambda: 100, revocations=store)
                        if store is None:
                            for cap_id in ids:
                                auth.revoke(cap_id)
                    assert len(auth.revoked) == len(ids)
                    token = _chain(auth, 5)
                    times[label] = per_call_us(lambda a=auth, t=token: a.verify(t))
                    if store_kind == "sqlite":
                        store.close()
                rows.append(
                    Row(
                        f"{backend} verify, chain 5, {REVOKED:,} revoked ({store_kind})",
                        times["100k"],
                        "none revoked",
                        times["none"],
                        ">= 0.83x",  # within 1.2x of none
                    )
                )
    return rows


def _conformance_row() -> Row:
    from lion.spec.load import load_paths
    from lion.verify.conformance import check_bind

    root = Path(__file__).resolve().parent.parent
    module = next(m for m in load_paths([root / "spec"]) if m.chapter == "Policy")
    bind = next(b for b in module.binds if b.name == "evaluate")
    per_example = {}
    for backend in ("rust", "python"):
        start = time.perf_counter()
        result = check_bind(module, bind, examples=2000, backends=(backend,))
        assert result.ok, result.message
        per_example[backend] = (time.perf_counter() - start) / result.examples * 1e6
    return Row(
        "conformance example, policy.evaluate",
        per_example["rust"],
        "python backend",
        per_example["python"],
    )


def run() -> list[Row]:
    rows, three_us = _policy_rows(3, THREE)
    many_rows, many_us = _policy_rows(1000, _many(1000))
    rows += many_rows
    rows.append(
        Row("rust decision: 1000 vs 3 policies", many_us, "3 policies", three_us, ">= 0.33x")
    )
    rows += _capability_rows()
    rows += _revocation_rows()
    rows.append(_conformance_row())
    return rows
