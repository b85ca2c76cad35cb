"""A tamper-evident audit trail: observations as hash-chained JSON Lines, closed by a seal.

Each observation becomes one line, the canonical msgspec JSON of

    {"prev": "<hex digest of the previous line's bytes>", "observation": {...}}

The first line's `prev` is the digest of `GENESIS`. The file ends with one
seal line, ``{"seal": {"count": N, "last": "<digest of line N>"}}``, written by
`AuditWriter.close()`. A digest is the SHA-256 of the line's exact bytes
(without the newline), or HMAC-SHA-256 with `key=` when one is given.

`check_audit` / `read_audit` verify the chain, the seal, and the Integration
chapter's properties on the recorded run: every performed effect has a PERMIT
with a granted capability and is the effect decided, every observation id and
sequence number appears once, in order from 0. Lines are canonical (the bytes
msgspec would write for their value), so changing any byte is detected. A
plain chain is not a signature: anyone can write a whole new valid file;
with `key=` only holders of the key can.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import io
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import msgspec

from lion.errors import KernelError
from lion.kernel.decision import Decision
from lion.kernel.observable import Observation, ObservationLog

__all__ = [
    "GENESIS",
    "MAX_LINE",
    "AuditReport",
    "AuditWriter",
    "Finding",
    "Kind",
    "check_audit",
    "digest",
    "read_audit",
    "write_audit",
]

#: The bytes whose digest is the first line's `prev`.
GENESIS = b"lion-audit-v1"
#: The longest line (without its newline) a reader accepts and a writer writes: 1 MiB.
MAX_LINE = 1 << 20
_SEAL_PREFIX = b'{"seal":'


class Kind(enum.Enum):
    """What a finding is about."""

    MALFORMED = "malformed"  # not UTF-8, not JSON, wrong fields, not canonical, too long
    CHAIN_BROKEN = "chain-broken"  # `prev` is not the digest of the line before
    SEQUENCE_GAP = "sequence-gap"  # a sequence number skipped or out of order
    SEQUENCE_REPEAT = "sequence-repeat"  # a sequence number seen before
    DUPLICATE_ID = "duplicate-id"  # an observation id seen before
    UNMEDIATED = "unmediated"  # effects performed without a PERMIT
    UNGRANTED = "ungranted"  # a PERMIT performed effects with no granted capability
    EFFECT_MISMATCH = "effect-mismatch"  # the effect performed is not the effect decided
    MISSING_SEAL = "missing-seal"  # no seal line: the file may be truncated
    BAD_SEAL = "bad-seal"  # the seal's count or last digest is wrong
    AFTER_SEAL = "after-seal"  # lines after the seal

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem, at a 1-based line number."""

    line: int
    kind: Kind
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.kind}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "kind": self.kind.value, "message": self.message}


@dataclass(frozen=True, slots=True)
class AuditReport:
    """What `check_audit` found: the observations that decoded, and every finding."""

    observations: tuple[Observation, ...]
    findings: tuple[Finding, ...]
    sealed: bool
    lines: int

    @property
    def ok(self) -> bool:
        """True when the chain, the seal and the properties all hold."""
        return not self.findings

    @property
    def first(self) -> Finding | None:
        """The finding at the lowest line, or None."""
        return min(self.findings, key=lambda f: f.line) if self.findings else None

    def to_json(self) -> dict[str, Any]:
        first = self.first
        return {
            "ok": self.ok,
            "observations": len(self.observations),
            "lines": self.lines,
            "sealed": self.sealed,
            "first_line": first.line if first is not None else None,
            "findings": [f.to_json() for f in self.findings],
        }


class _Line(msgspec.Struct, forbid_unknown_fields=True):
    prev: str
    observation: Observation


class _Seal(msgspec.Struct, forbid_unknown_fields=True):
    count: int
    last: str


class _SealLine(msgspec.Struct, forbid_unknown_fields=True):
    seal: _Seal


def _check_key(key: bytes | None) -> bytes | None:
    if key is not None and (not isinstance(key, bytes) or len(key) < 32):
        raise KernelError("an audit key must be bytes of length 32 or more")
    return key


def _hasher(key: bytes | None) -> Any:
    return hashlib.sha256() if key is None else hmac.new(key, digestmod=hashlib.sha256)


def digest(data: bytes, key: bytes | None = None) -> str:
    """The hex digest chaining uses: SHA-256 of `data`, or HMAC-SHA-256 with `key`."""
    h = _hasher(_check_key(key))
    h.update(data)
    return cast(str, h.hexdigest())


class AuditWriter:
    """Appends observations to an audit file as they come, one flushed line each.

    `target` is a path (created; a non-empty file is refused) or a binary
    file object (not closed by the writer). `close()` (or leaving the
    `with` block) writes the seal; after it nothing more can be written.
    Every line is flushed; with `fsync=True` it is also forced to disk.
    Thread-safe.
    """

    def __init__(
        self,
        target: str | Path | BinaryIO,
        *,
        key: bytes | None = None,
        fsync: bool = False,
    ) -> None:
        self._key = _check_key(key)
        self._fsync = fsync
        self._lock = threading.RLock()
        self._prev = digest(GENESIS, self._key)
        self._count = 0
        self._sealed = False
        if isinstance(target, str | Path):
            try:
                file = open(target, "ab")  # noqa: SIM115 (closed by close())
            except OSError as exc:
                raise KernelError(f"cannot open audit file `{target}`: {exc}") from None
            if file.tell() > 0:
                file.close()
                raise KernelError(f"audit file `{target}` is not empty: start a new file")
            self._file: BinaryIO = file
            self._owned = True
        else:
            self._file = target
            self._owned = False

    @property
    def count(self) -> int:
        """How many observations were written."""
        return self._count

    @property
    def sealed(self) -> bool:
        return self._sealed

    def _emit(self, line: bytes) -> None:
        self._file.write(line + b"\n")
        self._file.flush()
        if self._fsync:
            os.fsync(self._file.fileno())

    def write(self, observation: Observation) -> None:
        """Append one observation line, chained to the line before."""
        if not isinstance(observation, Observation):
            raise KernelError(f"expected an Observation, got `{type(observation).__name__}`")
        with self._lock:
            if self._sealed:
                raise KernelError("the audit file is sealed: nothing can be appended")
            line = msgspec.json.encode(_Line(prev=self._prev, observation=observation))
            if len(line) > MAX_LINE:
                raise KernelError(
                    f"observation `{observation.id}` is {len(line)} bytes as an audit line: "
                    f"more than {MAX_LINE}"
                )
            self._emit(line)
            self._prev = digest(line, self._key)
            self._count += 1

    def write_all(self, observations: Iterable[Observation]) -> None:
        for observation in observations:
            self.write(observation)

    def sync(self, log: ObservationLog) -> int:
        """Write the log's entries not yet written (assumes only this log feeds the writer)."""
        with self._lock:
            fresh = log[self._count :]
            self.write_all(fresh)
        return len(fresh)

    def close(self) -> None:
        """Write the seal line (once) and close the file if the writer opened it."""
        with self._lock:
            if self._sealed:
                return
            self._emit(msgspec.json.encode(_SealLine(_Seal(count=self._count, last=self._prev))))
            self._sealed = True
            if self._owned:
                self._file.close()

    def __enter__(self) -> AuditWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_audit(
    source: ObservationLog | Iterable[Observation],
    target: str | Path | BinaryIO,
    *,
    key: bytes | None = None,
) -> int:
    """Write a whole log (or observations) as a sealed audit file; returns the count."""
    entries = source.snapshot() if isinstance(source, ObservationLog) else source
    with AuditWriter(target, key=key) as writer:
        writer.write_all(entries)
    return writer.count


def _raw_lines(stream: BinaryIO, key: bytes | None) -> Iterator[tuple[bytes | None, str, bool]]:
    """(line bytes or None if too long, its digest, ended with a newline), line by line."""
    while True:
        chunk = stream.readline(MAX_LINE + 1)
        if not chunk:
            return
        ended = chunk.endswith(b"\n")
        body = chunk[:-1] if ended else chunk
        if len(body) <= MAX_LINE:
            yield body, digest(body, key), ended
            continue
        h = _hasher(key)
        h.update(body)
        while not ended:
            chunk = stream.readline(MAX_LINE + 1)
            if not chunk:
                break
            ended = chunk.endswith(b"\n")
            h.update(chunk[:-1] if ended else chunk)
        yield None, h.hexdigest(), ended


def _decode(body: bytes) -> _Line | _SealLine | str:
    """The line's value, or why it is malformed."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 (byte {exc.start + 1})"
    kind: type[_Line] | type[_SealLine] = _SealLine if body.startswith(_SEAL_PREFIX) else _Line
    try:
        value = msgspec.json.decode(body, type=kind)
    except msgspec.DecodeError as exc:
        what = "a seal" if kind is _SealLine else "an observation line"
        return f"not {what}: {exc}"
    if msgspec.json.encode(value) != body:
        return "not canonical: the bytes are not the ones the writer produces for this value"
    return value


class _Checker:
    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.observations: list[Observation] = []
        self.ids: set[str] = set()
        self.sequences: set[int] = set()
        self.next_sequence = 0

    def add(self, line: int, kind: Kind, message: str) -> None:
        self.findings.append(Finding(line, kind, message))

    def observation(self, n: int, obs: Observation) -> None:
        self.observations.append(obs)
        oid = str(obs.id)
        if oid in self.ids:
            self.add(n, Kind.DUPLICATE_ID, f"observation `{oid}` is recorded twice")
        self.ids.add(oid)
        if obs.sequence in self.sequences:
            self.add(n, Kind.SEQUENCE_REPEAT, f"sequence {obs.sequence} is recorded twice")
        elif obs.sequence != self.next_sequence:
            self.add(
                n,
                Kind.SEQUENCE_GAP,
                f"sequence {obs.sequence} where {self.next_sequence} was expected",
            )
        self.sequences.add(obs.sequence)
        self.next_sequence = obs.sequence + 1
        if not obs.effects:
            return
        performed = ", ".join(f"`{e}`" for e in obs.effects)
        if obs.decision is not Decision.PERMIT:
            self.add(n, Kind.UNMEDIATED, f"{performed} performed on a {obs.decision}")
        elif not obs.granted:
            self.add(n, Kind.UNGRANTED, f"{performed} performed with no granted capability")
        if obs.effects != (obs.effect,):
            self.add(
                n,
                Kind.EFFECT_MISMATCH,
                f"performed {performed} but the effect decided is `{obs.effect}`",
            )


def check_audit(source: bytes | bytearray | BinaryIO, *, key: bytes | None = None) -> AuditReport:
    """Verify an audit file's bytes (or a binary stream); never raises on bad content."""
    key = _check_key(key)
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    c = _Checker()
    prev = digest(GENESIS, key)
    seal_line = 0
    n = 0
    for n, (body, line_digest, ended) in enumerate(_raw_lines(stream, key), start=1):
        if seal_line:
            c.add(n, Kind.AFTER_SEAL, f"a line after the seal on line {seal_line}")
            prev = line_digest
            continue
        value = _decode(body) if body is not None else f"longer than {MAX_LINE} bytes"
        if not ended:
            c.add(n, Kind.MALFORMED, "the last line has no newline: the file was cut short")
        elif isinstance(value, str):
            c.add(n, Kind.MALFORMED, value)
        if isinstance(value, _SealLine):
            seal_line = n
            if value.seal.count != n - 1 or value.seal.last != prev:
                c.add(
                    n,
                    Kind.BAD_SEAL,
                    f"the seal says {value.seal.count} line(s) ending in digest "
                    f"{value.seal.last[:16]}...; the file has {n - 1} ending in {prev[:16]}...",
                )
        elif isinstance(value, _Line):
            if value.prev != prev:
                c.add(
                    n,
                    Kind.CHAIN_BROKEN,
                    f"`prev` is not the digest of line {n - 1}"
                    if n > 1
                    else "`prev` is not the genesis digest (wrong key, or no key for a keyed file)",
                )
            c.observation(n, value.observation)
        prev = line_digest
    if not seal_line:
        c.add(n + 1, Kind.MISSING_SEAL, "no seal line: the file may be truncated")
    return AuditReport(
        observations=tuple(c.observations),
        findings=tuple(sorted(c.findings, key=lambda f: f.line)),
        sealed=bool(seal_line),
        lines=n,
    )


def read_audit(path: str | Path, *, key: bytes | None = None) -> AuditReport:
    """Verify the audit file at `path`; KernelError if it cannot be read."""
    try:
        with open(path, "rb") as stream:
            return check_audit(stream, key=key)
    except OSError as exc:
        raise KernelError(f"cannot read audit file `{path}`: {exc}") from None
