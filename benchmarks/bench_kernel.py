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


EXTENSIONS = """
@id("office-hours")
permit(principal, action == Action::"read", resource) when {
    context.source.isInRange(ip("10.0.0.0/8")) &&
    context.amount.lessThan(decimal("1000.50")) &&
    context.at < datetime("2030-01-01T00:00:00Z") &&
    context.at.durationSince(datetime("2024-01-01")) > duration("1d")
};
@id("no-loopback")
forbid(principal, action, resource) when { context.source.isLoopback() };
"""

EXT_REQUEST = {
    **REQUEST,
    "context": {
        "source": {"__extn": {"fn": "ip", "arg": "10.20.30.40"}},
        "amount": {"__extn": {"fn": "decimal", "arg": "250.75"}},
        "at": {"__extn": {"fn": "datetime", "arg": "2025-06-01T09:30:00Z"}},
    },
}


def _extension_row() -> Row:
    """A decision whose conditions use ip, decimal, datetime and duration values."""
    import cedarpy

    from lion.kernel.backend import get_backend

    rust = get_backend("rust")
    rust_set, rust_entities = rust.policy_set(EXTENSIONS), rust.entities(ENTITIES)
    cedar_set = cedarpy.PolicySet.from_str(EXTENSIONS)
    cedar_entities = cedarpy.Entities.from_json_str(json.dumps(ENTITIES))
    got = rust_set.evaluate(EXT_REQUEST, rust_entities)
    cedar = cedarpy.is_authorized(EXT_REQUEST, cedar_set, cedar_entities)
    assert got.decision.name == "PERMIT" and not got.errors, got
    assert cedar.decision == cedarpy.Decision.Allow, cedar
    return Row(
        "decision with extension values (ip, decimal, datetime, duration)",
        per_call_us(lambda: rust_set.evaluate(EXT_REQUEST, rust_entities)),
        "cedarpy",
        per_call_us(lambda: cedarpy.is_authorized(EXT_REQUEST, cedar_set, cedar_entities)),
    )


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


# --- hostile input (issue 15): each adversarial input against a benign one of its size ----

_M, _FX = (1 << 64) - 1, 0x517CC1B727220A95  # the Rust core's old public hash seed
_HIGH = 0x8080808080808080


def _fx_add(h: int, word: int) -> int:
    return ((((h << 5) | (h >> 59)) & _M) ^ word) * _FX & _M


def _fx_colliding(count: int, start: int) -> list[str]:
    """16-character ASCII strings that all had one hash under the old fixed seed."""
    import random

    rng = random.Random(7)
    out: list[str] = []
    target = None
    while len(out) < count:
        w1 = rng.getrandbits(64) & ~_HIGH & _M
        mixed = _fx_add(start, w1)
        mixed = ((mixed << 5) | (mixed >> 59)) & _M
        if target is None:
            target = mixed ^ (rng.getrandbits(64) & ~_HIGH & _M)
        w2 = target ^ mixed
        if w2 & _HIGH == 0:
            out.append((w1.to_bytes(8, "little") + w2.to_bytes(8, "little")).decode("ascii"))
    return out


def _hierarchy(n: int, chain: bool) -> str:
    return json.dumps(
        [
            {
                "uid": {"type": "E", "id": str(i)},
                "parents": [{"type": "E", "id": str(i - 1 if chain else 0)}] if i else [],
            }
            for i in range(n)
        ]
    )


def _hostile_rows() -> list[Row]:
    """Target: at most 2x the benign time (a speed-up of at least 0.5x)."""
    import random

    from lion.kernel.backend import get_backend

    rust, python = get_backend("rust"), get_backend("python")
    rng = random.Random(8)
    rows = []

    def row(case: str, hostile: Any, benign: Any) -> None:
        hostile_us = per_call_us(hostile, min_time=0.2, repeat=3)
        benign_us = per_call_us(benign, min_time=0.2, repeat=3)
        rows.append(Row(f"hostile: {case}", hostile_us, "benign, same size", benign_us, ">= 0.5x"))

    def randoms(n: int) -> list[str]:
        return ["".join(chr(rng.randrange(32, 127)) for _ in range(16)) for _ in range(n)]

    contains = rust.policy_set(
        'permit(principal, action, resource) when { context.s.contains("x") };'
    )
    none = rust.entities([])

    def decide(strings: list[str]) -> Any:
        request = {**REQUEST, "context": {"s": strings}}
        return lambda: contains.evaluate(request, none)

    row(
        "rust decision, 10,000 colliding strings in context",
        decide(_fx_colliding(10_000, _fx_add(0, 2))),
        decide(randoms(10_000)),
    )
    uid_start = _fx_add(_fx_add(0, ord("U") ^ (1 << 56)), 0xFF)
    colliding_ids = [{"uid": {"type": "U", "id": i}} for i in _fx_colliding(8000, uid_start)]
    random_ids = [{"uid": {"type": "U", "id": i}} for i in randoms(8000)]
    row(
        "rust load, 8,000 colliding entity ids",
        lambda: rust.entities(colliding_ids),
        lambda: rust.entities(random_ids),
    )
    member = "permit(principal, action, resource) when { principal in resource };"
    for backend, n in ((rust, 16_000), (python, 4000)):
        policies = backend.policy_set(member)
        request = {**REQUEST, "principal": f'E::"{n - 1}"', "resource": 'E::"0"'}

        def load_and_decide(
            text: str, b: Any = backend, p: Any = policies, r: Any = request
        ) -> Any:
            return lambda: p.evaluate(r, b.entities(text))

        row(
            f"{backend.name} load + decide, parent chain of {n:,}",
            load_and_decide(_hierarchy(n, chain=True)),
            load_and_decide(_hierarchy(n, chain=False)),
        )
    for backend, terms in ((rust, 20_000), (python, 4000)):
        chain = " && ".join(["context.a == 1"] * terms)
        chained = f"permit(principal, action, resource) when {{ {chain} }};"
        flat = "permit(principal, action, resource)" + " when { context.a == 1 }" * terms + ";"
        row(
            f"{backend.name} parse, `&&` chain of {terms:,} terms",
            lambda b=backend, t=chained: b.policy_set(t),
            lambda b=backend, t=flat: b.policy_set(t),
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
    rows.append(_extension_row())
    rows += _hostile_rows()
    rows += _capability_rows()
    rows += _revocation_rows()
    rows.append(_conformance_row())
    return rows
