"""Observations and the append-only observation log."""

from __future__ import annotations

import threading
import uuid

import msgspec
import pytest

from lion.errors import DeserializationError, KernelError
from lion.kernel.decision import Decision
from lion.kernel.observable import Effect, Observable, Observation, ObservationLog


def make(decision: Decision = Decision.PERMIT, **kwargs: object) -> Observation:
    fields: dict[str, object] = {
        "subject": uuid.uuid4(),
        "effect": Effect("read", "docs/a"),
        "principal": "alice",
        "decision": decision,
        "reason": "because",
    }
    fields.update(kwargs)
    return Observation(**fields)  # type: ignore[arg-type]


def test_observation_is_observable_and_frozen() -> None:
    obs = make(requested=("c1",), granted=("c1",), determining=("p1",))
    assert isinstance(obs, Observable)
    assert isinstance(obs.id, uuid.UUID)
    assert obs.sequence == -1
    assert obs.permitted
    assert not make(Decision.INDETERMINATE).permitted
    with pytest.raises(AttributeError):
        obs.reason = "changed"  # type: ignore[misc]


def test_observable_protocol_is_structural() -> None:
    class Thing:
        @property
        def id(self) -> uuid.UUID:
            return uuid.UUID(int=1)

    assert isinstance(Thing(), Observable)
    assert not isinstance(object(), Observable)


def test_log_assigns_consecutive_sequence_numbers() -> None:
    log = ObservationLog()
    originals = [make() for _ in range(5)]
    stored = [log.append(obs) for obs in originals]
    assert [obs.sequence for obs in stored] == [0, 1, 2, 3, 4]
    assert [obs.sequence for obs in log] == [0, 1, 2, 3, 4]
    assert all(original.sequence == -1 for original in originals)  # values, not mutated
    assert [obs.id for obs in log] == [obs.id for obs in originals]
    assert len(log) == 5
    assert log[4] == stored[4]
    assert log[1:3] == tuple(stored[1:3])


def test_log_refuses_duplicates_and_non_observations_without_changing() -> None:
    log = ObservationLog()
    obs = log.append(make())
    with pytest.raises(KernelError, match="already in the log"):
        log.append(obs)
    with pytest.raises(KernelError, match="expected an Observation"):
        log.append("not an observation")  # type: ignore[arg-type]
    assert log.snapshot() == (obs,)


def test_log_is_consecutive_under_concurrent_appends() -> None:
    log = ObservationLog()
    per_thread, threads = 200, 8
    subjects = [uuid.uuid4() for _ in range(threads)]

    def work(subject: uuid.UUID) -> None:
        for _ in range(per_thread):
            log.append(make(subject=subject))

    workers = [threading.Thread(target=work, args=(s,)) for s in subjects]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    entries = log.snapshot()
    assert [obs.sequence for obs in entries] == list(range(per_thread * threads))
    assert len({obs.id for obs in entries}) == per_thread * threads
    for subject in subjects:
        assert len(log.for_subject(subject)) == per_thread


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_log_round_trips(fmt: str) -> None:
    log = ObservationLog()
    log.append(make(requested=("c1", "c2"), granted=("c2",), determining=("p",)))
    log.append(make(Decision.DENY, effects=(Effect("write", "x"),)))
    log.append(make(Decision.INDETERMINATE))
    if fmt == "json":
        again = ObservationLog.from_json(log.to_json())
    else:
        again = ObservationLog.from_msgpack(log.to_msgpack())
    assert again.snapshot() == log.snapshot()
    assert [obs.decision for obs in again] == [
        Decision.PERMIT,
        Decision.DENY,
        Decision.INDETERMINATE,
    ]
    # The restored log continues the sequence.
    assert again.append(make()).sequence == 3


def test_log_refuses_malformed_or_reordered_data() -> None:
    log = ObservationLog()
    first, second = log.append(make()), log.append(make())
    swapped = msgspec.json.encode([second, first])
    with pytest.raises(DeserializationError, match="sequence `1`: expected 0"):
        ObservationLog.from_json(swapped)
    twice = msgspec.json.encode([first, msgspec.structs.replace(first, sequence=1)])
    with pytest.raises(DeserializationError, match="twice"):
        ObservationLog.from_json(twice)
    with pytest.raises(DeserializationError, match="malformed"):
        ObservationLog.from_json(b"[{")
    with pytest.raises(DeserializationError, match="malformed"):
        ObservationLog.from_json(b'[{"decision": "maybe"}]')
    with pytest.raises(DeserializationError, match="malformed"):
        ObservationLog.from_msgpack(b"\xc1")


def test_effect_reads_as_action_and_resource() -> None:
    assert str(Effect("read", "docs/a")) == "read docs/a"
    assert Effect("read", "docs/a") == Effect("read", "docs/a")
    with pytest.raises(AttributeError):
        Effect("read", "docs/a").action = "write"  # type: ignore[misc]


def test_public_api_is_listed_and_sorted() -> None:
    import lion.kernel.observable as module

    names = module.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    assert all(hasattr(module, name) for name in names)


def test_new_ids_are_version_4_uuids_and_do_not_repeat() -> None:
    from lion.kernel.observable import new_id

    ids = [new_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for made in ids[:100]:
        assert made.version == 4 and made.variant == uuid.RFC_4122
        assert uuid.UUID(str(made)) == made and hash(uuid.UUID(str(made))) == hash(made)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    import os

    from lion.kernel.observable import new_id

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write, new_id().bytes)
        os._exit(0)
    os.close(write)
    theirs = os.read(read, 16)
    os.waitpid(pid, 0)
    assert theirs != new_id().bytes
