"""The Invariant Protection Unit: capability, then policy, then invariants; every verdict logged."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import pytest

from lion.errors import CapabilityError, InvariantViolation, KernelError
from lion.kernel.capability import CapabilityAuthority, CapabilityToken
from lion.kernel.decision import Decision
from lion.kernel.ipu import (
    IPU,
    CapabilityDenied,
    EffectDenied,
    EffectRequest,
    InvariantDenied,
    PolicyResponse,
    cedar_request,
)
from lion.kernel.ledger import Counters
from lion.kernel.observable import Effect, Observation

T = TypeVar("T")
KEY = b"ipu-test-key-0123456789abcdef-0123456789"
OTHER_KEY = b"another-key-of-32-bytes-or-more!"
READ = Effect("read", "docs/a")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(fn)


@dataclass(frozen=True)
class Answer:
    decision: Decision
    determining: frozenset[str] = frozenset()


@dataclass
class FakePolicy:
    """Answers with a fixed decision (or raises) and remembers what it was asked."""

    answer: Answer | Exception = field(
        default_factory=lambda: Answer(Decision.PERMIT, frozenset({"p1"}))
    )
    calls: list[tuple[Any, Any]] = field(default_factory=list)

    def evaluate(self, request: Any, entities: Any) -> Answer:
        self.calls.append((request, entities))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def authority() -> CapabilityAuthority:
    return CapabilityAuthority(KEY, clock=lambda: 1000)


@pytest.fixture
def token(authority: CapabilityAuthority) -> CapabilityToken:
    return authority.mint("alice", "docs/*", ["read"], expiry=2000)


def request(token: CapabilityToken | str | None, **kwargs: Any) -> EffectRequest:
    tokens = () if token is None else (token,)
    fields: dict[str, Any] = {"principal": "alice", "effect": READ, "tokens": tokens}
    fields.update(kwargs)
    return EffectRequest(**fields)


def test_permit_records_one_observation_with_everything(
    authority: CapabilityAuthority, token: CapabilityToken
) -> None:
    policy = FakePolicy()
    ipu = IPU(authority, policy, {"few calls": lambda c: c["calls"] <= 5}, clock=lambda: 42.0)
    req = request(token.encode(), costs={"calls": 1})
    obs = run(lambda: ipu.validate(req))
    assert obs.decision is Decision.PERMIT
    assert (obs.subject, obs.effect, obs.principal) == (req.subject, READ, "alice")
    assert obs.requested == (token.id,)
    assert obs.granted == (token.id,)
    assert obs.determining == ("p1",)
    assert obs.effects == ()  # validate decides; it performs nothing
    assert obs.timestamp == 42.0
    assert obs.sequence == 0
    assert ipu.log.snapshot() == (obs,)
    assert policy.calls == [(cedar_request(req), None)]
    assert obs.reason == (
        f"permitted by capability `{token.id}`, policy (determining: `p1`); "
        "invariants `few calls` hold"
    )
    with pytest.raises(AttributeError):
        req.principal = "mallory"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("none", "presented no capability"),
        ("other holder", "held by `bob`, not `alice`"),
        ("wrong right", "does not grant right `read`"),
        ("wrong resource", "not resource `docs/a`"),
        ("expired", "expired"),
        ("revoked parent", "revoked"),
        ("forged", "signature"),
        ("garbage", "expected `lion1.<payload>.<tag>`"),
    ],
)
def test_capability_failures_deny_before_the_policy_is_asked(
    authority: CapabilityAuthority, kind: str, match: str
) -> None:
    tokens: dict[str, str | None] = {
        "none": None,
        "other holder": authority.mint("bob", "docs/*", ["read"], 2000).encode(),
        "wrong right": authority.mint("alice", "docs/*", ["write"], 2000).encode(),
        "wrong resource": authority.mint("alice", "docs/b", ["read"], 2000).encode(),
        "expired": authority.mint("alice", "docs/*", ["read"], 1000).encode(),
        "forged": CapabilityAuthority(b"another-key-of-32-bytes-or-more!")
        .mint("alice", "*", ["read"], 2000)
        .encode(),
        "garbage": "not-a-token",
    }
    if kind == "revoked parent":
        root = authority.mint("alice", "docs/*", ["read"], 2000)
        tokens[kind] = authority.attenuate(root, resource="docs/a").encode()
        authority.revoke(root)
    policy = FakePolicy()
    ipu = IPU(authority, policy, None)
    obs = run(lambda: ipu.validate(request(tokens[kind])))
    assert obs.decision is Decision.DENY
    assert match in obs.reason
    assert obs.granted == ()
    assert policy.calls == []
    assert len(ipu.log) == 1


def test_a_bare_token_counts_as_one(authority: CapabilityAuthority, token: CapabilityToken) -> None:
    ipu = IPU(authority, FakePolicy())
    for bare in (token, token.encode()):
        req = request(None, tokens=bare)
        obs = anyio.run(ipu.validate, req)
        assert obs.granted == (token.id,)


def test_any_presented_token_that_covers_is_enough(
    authority: CapabilityAuthority, token: CapabilityToken
) -> None:
    wrong = authority.mint("alice", "other/*", ["read"], 2000)
    ipu = IPU(authority, FakePolicy())
    obs = run(lambda: ipu.validate(request(None, tokens=(wrong, "junk", token))))
    assert obs.decision is Decision.PERMIT
    assert obs.requested == (wrong.id, token.id)
    assert obs.granted == (token.id,)


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (
            Answer(Decision.DENY, frozenset({"forbid-1", "forbid-0"})),
            "(determining: `forbid-0`, `forbid-1`)",
        ),
        (Answer(Decision.INDETERMINATE), "no approver is configured"),
        (RuntimeError("boom"), "policy evaluation failed: RuntimeError: boom"),
        (Answer("permit"), "expected a Decision"),  # type: ignore[arg-type]
    ],
)
def test_policy_must_say_permit(
    authority: CapabilityAuthority, token: CapabilityToken, answer: Any, match: str
) -> None:
    ipu = IPU(authority, FakePolicy(answer))
    obs = run(lambda: ipu.validate(request(token)))
    assert obs.decision is Decision.DENY
    assert match in obs.reason
    assert obs.granted == (token.id,)  # the capability check did pass


@pytest.mark.parametrize(
    ("approver_answer", "decision", "match"),
    [
        (True, Decision.PERMIT, "approver approved"),
        (False, Decision.DENY, "approver refused"),
        ("yes", Decision.DENY, "approver refused"),
        (ValueError("no way"), Decision.DENY, "approver failed: ValueError: no way"),
    ],
)
@pytest.mark.parametrize("is_async", [True, False])
def test_indeterminate_goes_to_the_approver(
    authority: CapabilityAuthority,
    token: CapabilityToken,
    approver_answer: Any,
    decision: Decision,
    match: str,
    is_async: bool,
) -> None:
    seen: list[tuple[EffectRequest, PolicyResponse]] = []

    def decide(req: EffectRequest, response: PolicyResponse) -> Any:
        seen.append((req, response))
        if isinstance(approver_answer, Exception):
            raise approver_answer
        return approver_answer

    async def decide_async(req: EffectRequest, response: PolicyResponse) -> Any:
        await anyio.sleep(0)
        return decide(req, response)

    answer = Answer(Decision.INDETERMINATE, frozenset({"maybe"}))
    ipu = IPU(authority, FakePolicy(answer), approver=decide_async if is_async else decide)
    req = request(token)
    obs = run(lambda: ipu.validate(req))
    assert obs.decision is decision
    assert match in obs.reason
    assert seen == [(req, answer)]
    assert obs.determining == ("maybe",)


def test_invariants_are_checked_on_the_state_the_step_would_produce(
    authority: CapabilityAuthority, token: CapabilityToken
) -> None:
    checked: list[Any] = []

    def budget(counters: Counters) -> bool:
        checked.append(dict(counters))
        return counters["spent"] <= 10

    ipu = IPU(authority, FakePolicy(), [("budget", budget)], state={"spent": 8})
    ok = run(lambda: ipu.validate(request(token, costs={"spent": 2})))
    over = run(lambda: ipu.validate(request(token, costs={"spent": 3})))
    assert ok.decision is Decision.PERMIT
    assert over.decision is Decision.DENY
    assert over.reason == "invariant `budget` would be broken (counters would be spent=11)"
    # checked at registration (on the starting state), then with each step's cost added
    assert checked == [{"spent": 8}, {"spent": 10}, {"spent": 11}]
    assert ipu.committed == {"spent": 8}  # validate reserves and commits nothing
    assert [obs.sequence for obs in ipu.log] == [0, 1]


@pytest.mark.parametrize(
    ("predicate", "match"),
    [
        (lambda s: 1 / 0, "invariant `inv` raised ZeroDivisionError: division by zero"),
        (lambda s: s.missing, "invariant `inv` raised AttributeError"),
        (lambda s: 1, "returned `1`: expected a bool"),
        (lambda s: None, "returned `None`: expected a bool"),
    ],
)
def test_an_invariant_that_raises_or_misbehaves_denies_and_nothing_is_performed(
    authority: CapabilityAuthority, token: CapabilityToken, predicate: Any, match: str
) -> None:
    ipu = IPU(authority, FakePolicy(), {"first": lambda s: True})
    ipu._invariants["inv"] = predicate  # registration would refuse it on the current state
    performed: list[int] = []
    with pytest.raises(InvariantDenied) as info:
        run(lambda: ipu.execute(request(token, costs={"x": 1}), lambda: performed.append(1)))
    assert performed == []
    assert isinstance(info.value, InvariantViolation)
    assert isinstance(info.value, EffectDenied)
    assert info.value.cause == "invariant"
    obs = info.value.observation
    assert obs.decision is Decision.DENY
    assert match in obs.reason
    assert obs.effects == ()
    assert ipu.log.snapshot() == (obs,)


def test_invariants_run_in_registration_order_and_stop_at_the_first_failure(
    authority: CapabilityAuthority, token: CapabilityToken
) -> None:
    calls: list[str] = []

    def inv(name: str, result: bool) -> Callable[[Any], bool]:
        def check(counters: Counters) -> bool:
            calls.append(name)
            return result or counters["n"] == 0  # each holds on the starting state

        return check

    ipu = IPU(authority, FakePolicy(), {"a": inv("a", True), "b": inv("b", False)})
    ipu.register("c", inv("c", True))
    assert ipu.invariants == ("a", "b", "c")
    assert calls == ["a", "b", "c"]  # each checked on the current state when registered
    obs = run(lambda: ipu.validate(request(token, costs={"n": 1})))
    assert "`b`" in obs.reason
    assert calls == ["a", "b", "c", "a", "b"]


def test_register_refuses_bad_invariants(authority: CapabilityAuthority) -> None:
    ipu = IPU(authority, FakePolicy(), {"a": lambda s: True})
    with pytest.raises(KernelError, match="`a` is already registered"):
        ipu.register("a", lambda s: False)
    with pytest.raises(KernelError, match="not callable"):
        ipu.register("b", "nope")  # type: ignore[arg-type]
    with pytest.raises(KernelError, match="not valid"):
        ipu.register("", lambda s: True)
    assert ipu.invariants == ("a",)


def test_execute_performs_only_after_permit_and_records_the_effect(
    authority: CapabilityAuthority, token: CapabilityToken
) -> None:
    ipu = IPU(authority, FakePolicy())
    performed: list[int] = []

    async def perform() -> str:
        performed.append(len(ipu.log))  # how many entries existed when the effect ran
        return "done"

    execution = run(lambda: ipu.execute(request(token), perform))
    assert execution.result == "done"
    assert performed == [0]
    assert execution.observation.decision is Decision.PERMIT
    assert execution.observation.effects == (READ,)
    assert ipu.log.snapshot() == (execution.observation,)

    sync = run(lambda: ipu.execute(request(token), lambda: 7))
    assert sync.result == 7
    assert [obs.sequence for obs in ipu.log] == [0, 1]


def test_execute_denied_by_capability_raises_a_capability_error(
    authority: CapabilityAuthority,
) -> None:
    ipu = IPU(authority, FakePolicy())
    performed: list[int] = []
    with pytest.raises(CapabilityDenied) as info:
        run(lambda: ipu.execute(request(None), lambda: performed.append(1)))
    assert isinstance(info.value, CapabilityError)
    assert performed == []
    assert info.value.observation.decision is Decision.DENY
    assert "denied: `alice` presented no capability" in str(info.value)
    assert len(ipu.log) == 1


def test_execute_denied_by_policy_raises_effect_denied(
    authority: CapabilityAuthority, token: CapabilityToken
) -> None:
    ipu = IPU(authority, FakePolicy(Answer(Decision.DENY)))
    performed: list[int] = []
    with pytest.raises(EffectDenied) as info:
        run(lambda: ipu.execute(request(token), lambda: performed.append(1)))
    assert not isinstance(info.value, CapabilityError | InvariantViolation)
    assert info.value.cause == "policy"
    assert performed == []
    assert [obs.decision for obs in ipu.log] == [Decision.DENY]


def test_a_failing_effect_is_recorded_once_without_effects(
    authority: CapabilityAuthority, token: CapabilityToken
) -> None:
    ipu = IPU(authority, FakePolicy())

    def perform() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        run(lambda: ipu.execute(request(token), perform))
    (obs,) = ipu.log.snapshot()
    assert obs.decision is Decision.PERMIT
    assert obs.effects == ()
    assert "perform failed: OSError: disk full" in obs.reason


def test_the_adapter_and_entities_belong_to_the_ipu(
    authority: CapabilityAuthority, token: CapabilityToken
) -> None:
    policy = FakePolicy()
    ipu = IPU(
        authority,
        policy,
        entities="default entities",
        request_adapter=lambda r: ("adapted", r.principal, r.effect.action),
    )
    run(lambda: ipu.validate(request(token)))
    assert policy.calls == [(("adapted", "alice", "read"), "default entities")]


def test_a_caller_cannot_hand_the_policy_another_request() -> None:
    # finding 3: `policy_request=` let a `read` request permit a `delete`, and
    # `entities=` let a caller make itself an admin
    for name in ("policy_request", "entities", "after"):
        with pytest.raises(TypeError, match=name):
            EffectRequest(principal="alice", effect=READ, **{name: "anything"})  # type: ignore[arg-type]


def test_the_default_policy_request_is_built_from_the_effect() -> None:
    req = EffectRequest(
        principal="alice", effect=Effect("delete", "docs/a"), context={"reason": "cleanup"}
    )
    assert cedar_request(req) == {
        "principal": {"type": "Agent", "id": "alice"},
        "action": {"type": "Action", "id": "delete"},
        "resource": {"type": "Resource", "id": "docs/a"},
        "context": {"reason": "cleanup"},
    }


def test_a_failing_request_adapter_denies(
    authority: CapabilityAuthority, token: CapabilityToken
) -> None:
    def adapter(req: EffectRequest) -> Any:
        raise KeyError("principal")

    ipu = IPU(authority, FakePolicy(), request_adapter=adapter)
    obs = run(lambda: ipu.validate(request(token)))
    assert obs.decision is Decision.DENY
    assert "policy evaluation failed: KeyError" in obs.reason


def test_validate_refuses_what_is_not_a_request(authority: CapabilityAuthority) -> None:
    ipu = IPU(authority, FakePolicy())
    with pytest.raises(KernelError, match="expected an EffectRequest"):
        run(lambda: ipu.validate("read docs/a"))  # type: ignore[arg-type]
    assert len(ipu.log) == 0


def test_sequence_numbers_are_consecutive_under_concurrent_validate(
    authority: CapabilityAuthority,
) -> None:
    # An async approver makes concurrent validations interleave inside the IPU.
    async def approver(req: EffectRequest, response: PolicyResponse) -> bool:
        await anyio.sleep(0)
        return bool(req.context["i"] % 3 != 0)

    answer = Answer(Decision.INDETERMINATE)
    ipu = IPU(authority, FakePolicy(answer), approver=approver)
    tokens = {p: authority.mint(p, "docs/*", ["read"], 2000) for p in ("alice", "bob")}
    results: list[Observation] = []
    n_tasks, n_threads = 60, 3

    async def one(i: int) -> None:
        principal = "alice" if i % 2 else "bob"
        req = request(
            tokens[principal], principal=principal, context={"i": i}, subject=uuid.UUID(int=i)
        )
        results.append(await ipu.validate(req))

    async def many(offset: int) -> None:
        async with anyio.create_task_group() as tg:
            for i in range(offset, offset + n_tasks):
                tg.start_soon(one, i)

    threads = [
        threading.Thread(target=anyio.run, args=(many, k * n_tasks)) for k in range(n_threads)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    total = n_tasks * n_threads
    entries = ipu.log.snapshot()
    assert [obs.sequence for obs in entries] == list(range(total))
    # Every decision recorded exactly once, and what validate returned is what was logged.
    assert sorted(obs.subject.int for obs in entries) == list(range(total))
    assert sorted(results, key=lambda o: o.sequence) == list(entries)
    for obs in entries:
        expected = Decision.DENY if obs.subject.int % 3 == 0 else Decision.PERMIT
        assert obs.decision is expected


def test_with_the_real_policy_engine(
    authority: CapabilityAuthority, token: CapabilityToken
) -> None:
    from lion.kernel.policy import PolicySet

    policies = PolicySet.from_str(
        """
        @id("readers") permit(principal, action == Action::"read", resource) when { context.ok };
        @id("no-secrets") forbid(principal, action, resource == Doc::"docs/secret");
        """
    )

    def to_cedar(req: EffectRequest) -> dict[str, Any]:
        return {
            "principal": f'User::"{req.principal}"',
            "action": f'Action::"{req.effect.action}"',
            "resource": f'Doc::"{req.effect.resource}"',
            "context": dict(req.context),
        }

    ipu = IPU(authority, policies, request_adapter=to_cedar)
    ok = run(lambda: ipu.validate(request(token, context={"ok": True})))
    assert ok.decision is Decision.PERMIT
    assert ok.determining == ("readers",)
    secret = Effect("read", "docs/secret")
    denied = run(lambda: ipu.validate(request(token, effect=secret, context={"ok": True})))
    assert denied.decision is Decision.DENY
    assert denied.determining == ("no-secrets",)
    unknown = run(lambda: ipu.validate(request(token, context={})))
    assert unknown.decision is Decision.DENY
    assert "policy is indeterminate (erroring: `readers`) and no approver" in unknown.reason
    assert [obs.sequence for obs in ipu.log] == [0, 1, 2]


def test_a_slow_approver_times_out_into_a_deny(
    authority: CapabilityAuthority, token: CapabilityToken
) -> None:
    async def slow(req: EffectRequest, response: PolicyResponse) -> bool:
        await anyio.sleep(30)
        return True

    answer = Answer(Decision.INDETERMINATE)
    ipu = IPU(authority, FakePolicy(answer), approver=slow, approval_timeout=0.01)
    obs = run(lambda: ipu.validate(request(token)))
    assert obs.decision is Decision.DENY
    assert "approver failed: TimeoutError" in obs.reason


def test_public_api_is_listed_and_sorted() -> None:
    import lion.kernel.ipu as module

    names = module.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    assert all(hasattr(module, name) for name in names)
