"""The audit trail: a real IPU run round-trips, and every kind of tampering is found."""

from __future__ import annotations

import functools
import io
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lion.errors import KernelError
from lion.kernel.audit import (
    GENESIS,
    MAX_LINE,
    AuditWriter,
    Kind,
    check_audit,
    digest,
    read_audit,
    write_audit,
)
from lion.kernel.capability import CapabilityAuthority
from lion.kernel.decision import Decision
from lion.kernel.ipu import IPU, EffectDenied, EffectRequest
from lion.kernel.observable import Effect, Observation, ObservationLog

KEY = b"audit-test-key-0123456789abcdef-0123456789"
AUDIT_KEY = b"audit-hmac-key-of-32-bytes-or-more!!"


@dataclass(frozen=True)
class Answer:
    decision: Decision
    determining: frozenset[str] = frozenset()


class StubPolicy:
    """PERMIT (by `p1`), except DENY (by `no-secrets`) on `docs/secret`."""

    def evaluate(self, request: Any, entities: Any) -> Answer:
        if request["resource"]["id"] == "docs/secret":
            return Answer(Decision.DENY, frozenset({"no-secrets"}))
        return Answer(Decision.PERMIT, frozenset({"p1"}))


async def _ipu_run(sink: Callable[[ObservationLog], None] = lambda log: None) -> ObservationLog:
    authority = CapabilityAuthority(KEY, clock=lambda: 1000)
    token = authority.mint("alice", "docs/*", ["read"], expiry=2000)
    ipu = IPU(authority, StubPolicy(), budgets={"spent": 1})

    def req(resource: str, tokens: tuple[Any, ...] = (token,), **kw: Any) -> EffectRequest:
        return EffectRequest(
            principal="alice", effect=Effect("read", resource), tokens=tokens, **kw
        )

    def fail() -> None:
        raise RuntimeError("disk full")

    await ipu.execute(req("docs/a"), lambda: "a")  # 1: PERMIT, performed
    sink(ipu.log)
    await ipu.validate(req("docs/b"))  # 2: PERMIT, nothing performed
    sink(ipu.log)
    with pytest.raises(EffectDenied):
        await ipu.execute(req("docs/c", tokens=()), lambda: "c")  # 3: DENY, no capability
    with pytest.raises(EffectDenied):
        await ipu.execute(req("docs/secret"), lambda: "s")  # 4: DENY, policy
    with pytest.raises(RuntimeError):
        await ipu.execute(req("docs/d"), fail)  # 5: PERMIT, perform failed: nothing performed
    await ipu.execute(req("docs/e", costs={"spent": 1}), lambda: "e")  # 6: PERMIT, performed
    with pytest.raises(EffectDenied):
        await ipu.execute(req("docs/f", costs={"spent": 1}), lambda: "f")  # 7: DENY, budget
    sink(ipu.log)
    return ipu.log


@functools.cache
def _log() -> ObservationLog:
    return anyio.run(_ipu_run)


@functools.cache
def _valid() -> bytes:
    out = io.BytesIO()
    write_audit(_log(), out)
    return out.getvalue()


def lines() -> list[bytes]:
    return _valid().splitlines(keepends=True)


def check(parts: list[bytes], **kw: Any) -> list[tuple[int, Kind]]:
    return [(f.line, f.kind) for f in check_audit(b"".join(parts), **kw).findings]


def obs_line(prev_line: bytes, observation: Observation) -> bytes:
    prev = digest(prev_line.rstrip(b"\n"))
    return msgspec.json.encode({"prev": prev, "observation": observation}) + b"\n"


# --- round trip ----------------------------------------------------------------------------


def test_real_ipu_run_round_trips(tmp_path: Path) -> None:
    log = _log()
    assert [o.decision for o in log] == [Decision.PERMIT] * 2 + [Decision.DENY] * 2 + [
        Decision.PERMIT
    ] * 2 + [Decision.DENY]
    path = tmp_path / "run.jsonl"
    assert write_audit(log, path) == 7
    report = read_audit(path)
    assert report.ok and report.sealed and report.first is None
    assert report.observations == log.snapshot()
    assert report.lines == 8
    first = msgspec.json.decode(path.read_bytes().splitlines()[0])
    assert first["prev"] == digest(GENESIS)
    assert report.to_json() == {
        "ok": True,
        "observations": 7,
        "lines": 8,
        "sealed": True,
        "first_line": None,
        "findings": [],
    }


def test_incremental_writer_syncs_a_live_log(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    seen: list[list[tuple[int, Kind]]] = []
    with AuditWriter(path) as writer:

        def sink(log: ObservationLog) -> None:
            writer.sync(log)
            # readable mid-run: everything so far, flushed; only the seal is missing
            report = read_audit(path)
            assert len(report.observations) == len(log)
            seen.append([(f.line, f.kind) for f in report.findings])

        log = anyio.run(_ipu_run, sink)
    assert seen == [[(2, Kind.MISSING_SEAL)], [(3, Kind.MISSING_SEAL)], [(8, Kind.MISSING_SEAL)]]
    assert writer.sealed and writer.count == 7
    report = read_audit(path)
    assert report.ok and report.observations == log.snapshot()


def test_threads_appending_and_syncing_write_each_entry_once(tmp_path: Path) -> None:
    log = ObservationLog()
    path = tmp_path / "threads.jsonl"
    template = _log()[0]

    def work() -> None:
        for _ in range(50):
            log.append(msgspec.structs.replace(template, id=uuid.uuid4()))
            writer.sync(log)

    with AuditWriter(path, fsync=True) as writer:
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    report = read_audit(path)
    assert report.ok and report.observations == log.snapshot() and len(log) == 200


def test_writer_refuses_after_the_seal_and_non_empty_files(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    writer = AuditWriter(path)
    writer.write(_log()[0])
    writer.close()
    writer.close()  # idempotent: one seal
    with pytest.raises(KernelError, match="sealed"):
        writer.write(_log()[1])
    assert read_audit(path).ok
    with pytest.raises(KernelError, match="not empty"):
        AuditWriter(path)
    with pytest.raises(KernelError, match="expected an Observation"):
        AuditWriter(io.BytesIO()).write("nope")  # type: ignore[arg-type]
    with pytest.raises(KernelError, match="cannot open"):
        AuditWriter(tmp_path / "missing" / "x.jsonl")


def test_empty_log_is_a_valid_sealed_file() -> None:
    out = io.BytesIO()
    assert write_audit([], out) == 0
    report = check_audit(out.getvalue())
    assert report.ok and report.observations == () and report.lines == 1


# --- tampering -----------------------------------------------------------------------------


def test_editing_a_field_breaks_the_chain_at_the_next_line() -> None:
    parts = lines()
    parts[1] = parts[1].replace(b'"principal":"alice"', b'"principal":"alicf"')
    assert check(parts) == [(3, Kind.CHAIN_BROKEN)]


def test_editing_the_last_observation_breaks_the_seal() -> None:
    parts = lines()
    parts[6] = parts[6].replace(b'"decision":"deny"', b'"decision":"dany"')
    assert (7, Kind.MALFORMED) in check(parts)
    parts = lines()
    parts[6] = parts[6].replace(b'"principal":"alice"', b'"principal":"alicf"')
    assert check(parts) == [(8, Kind.BAD_SEAL)]


def test_deleting_a_line() -> None:
    parts = lines()
    del parts[2]
    assert check(parts) == [(3, Kind.CHAIN_BROKEN), (3, Kind.SEQUENCE_GAP), (7, Kind.BAD_SEAL)]


def test_inserting_a_line() -> None:
    parts = lines()
    forged = msgspec.structs.replace(_log()[1], id=uuid.uuid4(), sequence=2)
    parts.insert(2, obs_line(parts[1], forged))  # chained correctly to line 2
    found = check(parts)
    assert found[0] == (4, Kind.CHAIN_BROKEN)  # but line 4 still points at line 2
    assert (4, Kind.SEQUENCE_REPEAT) in found and (9, Kind.BAD_SEAL) in found


def test_reordering_two_lines() -> None:
    parts = lines()
    parts[1], parts[2] = parts[2], parts[1]
    found = check(parts)
    assert found[0] == (2, Kind.CHAIN_BROKEN)
    assert (2, Kind.SEQUENCE_GAP) in found and (3, Kind.CHAIN_BROKEN) in found


def test_duplicating_a_line() -> None:
    parts = lines()
    parts.insert(2, parts[1])
    assert check(parts)[:3] == [
        (3, Kind.CHAIN_BROKEN),
        (3, Kind.DUPLICATE_ID),
        (3, Kind.SEQUENCE_REPEAT),
    ]


def test_duplicates_written_through_the_library_are_still_found() -> None:
    log = _log()
    out = io.BytesIO()
    write_audit([log[0], log[1], log[1]], out)
    assert check([out.getvalue()]) == [(3, Kind.DUPLICATE_ID), (3, Kind.SEQUENCE_REPEAT)]


def test_truncating_the_end() -> None:
    parts = lines()
    assert check(parts[:-1]) == [(8, Kind.MISSING_SEAL)]  # the seal dropped
    report = check_audit(b"".join(parts[:-2]))  # the seal and the last observation
    assert [(f.line, f.kind) for f in report.findings] == [(7, Kind.MISSING_SEAL)]
    assert len(report.observations) == 6 and not report.sealed
    cut = _valid()[:-40]  # cut inside the seal line
    assert check([cut]) == [(8, Kind.MALFORMED), (9, Kind.MISSING_SEAL)]
    cut = b"".join(parts[:-1])[:-30]  # cut inside the last observation
    assert check([cut]) == [(7, Kind.MALFORMED), (8, Kind.MISSING_SEAL)]


def test_bad_seal_and_lines_after_it() -> None:
    parts = lines()
    parts[-1] = parts[-1].replace(b'"count":7', b'"count":6')
    assert check(parts) == [(8, Kind.BAD_SEAL)]
    parts = [*lines(), lines()[0]]
    assert check(parts) == [(9, Kind.AFTER_SEAL)]


def _forged(**changes: Any) -> list[tuple[int, Kind]]:
    """Rewrite the whole file through the library (a valid chain) with line 4 changed."""
    entries = list(_log())
    entries[3] = msgspec.structs.replace(entries[3], **changes)
    out = io.BytesIO()
    write_audit(entries, out)
    return check([out.getvalue()])


def test_forged_effect_on_a_deny_is_unmediated_even_with_a_valid_chain() -> None:
    deny = _log()[3]
    assert deny.decision is Decision.DENY and deny.effects == ()
    assert _forged(effects=(deny.effect,)) == [(4, Kind.UNMEDIATED)]


def test_forged_permit_without_a_granted_capability_or_with_another_effect() -> None:
    deny = _log()[3]
    assert _forged(decision=Decision.PERMIT, granted=(), effects=(deny.effect,)) == [
        (4, Kind.UNGRANTED)
    ]
    other = Effect("delete", "docs/secret")
    assert _forged(decision=Decision.PERMIT, granted=("c1",), effects=(other,)) == [
        (4, Kind.EFFECT_MISMATCH)
    ]


def test_hmac_key_makes_a_rewrite_without_the_key_detectable() -> None:
    keyed = io.BytesIO()
    write_audit(_log(), keyed, key=AUDIT_KEY)
    assert check_audit(keyed.getvalue(), key=AUDIT_KEY).ok
    assert check([keyed.getvalue()])[0] == (1, Kind.CHAIN_BROKEN)  # read without the key
    forger = io.BytesIO()
    write_audit(_log(), forger)  # a valid plain chain, but not written with the key
    assert check([forger.getvalue()], key=AUDIT_KEY)[0] == (1, Kind.CHAIN_BROKEN)
    with pytest.raises(KernelError, match="32"):
        check_audit(b"", key=b"short")


# --- malformed input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (b"not json\n", "not an observation line"),
        (b"\xff\xfe{}\n", "not UTF-8"),
        (b"\n", "not an observation line"),
        (b'{"foo":1}\n', "not an observation line"),
        (b'{"seal":{"count":"x","last":""}}\n', "not a seal"),
        (b"[1,2]\n", "not an observation line"),
        (b"x" * (MAX_LINE + 10) + b"\n", "longer than"),
    ],
)
def test_malformed_lines_are_findings_not_tracebacks(bad: bytes, words: str) -> None:
    parts = lines()
    parts.insert(1, bad)
    report = check_audit(b"".join(parts))
    first = report.first
    assert first is not None and first.line == 2 and first.kind is Kind.MALFORMED
    assert words in first.message
    assert (3, Kind.CHAIN_BROKEN) in [(f.line, f.kind) for f in report.findings]


def test_non_canonical_and_cut_lines() -> None:
    parts = lines()
    parts[0] = parts[0].replace(b'"principal":"alice"', b'"principal": "alice"')
    found = check_audit(b"".join(parts)).findings
    assert (found[0].line, found[0].kind) == (1, Kind.MALFORMED)
    assert "canonical" in found[0].message
    assert check([b""]) == [(1, Kind.MISSING_SEAL)]
    assert check([b"\r\n".join(p.rstrip(b"\n") for p in lines())])[0] == (1, Kind.MALFORMED)


def test_read_audit_of_a_missing_file_is_a_kernel_error(tmp_path: Path) -> None:
    with pytest.raises(KernelError, match="cannot read audit file"):
        read_audit(tmp_path / "nope.jsonl")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_single_byte_change_is_detected(data: st.DataObject) -> None:
    valid = _valid()
    at = data.draw(st.integers(0, len(valid) - 1), label="position")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != valid[at]), label="byte")
    changed = valid[:at] + bytes([byte]) + valid[at + 1 :]
    report = check_audit(changed)
    assert not report.ok
