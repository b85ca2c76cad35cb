"""Approvals that pause a run, save it, and resume it here or in another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from lion.kernel.decision import Decision
from lion.services.approvals import Approve, Deny, Edit, PausedRun, PauseError, RunPaused
from lion.services.models import ScriptedModel, call
from lion.services.session import Session
from lion.services.tools import Tool

KEY = "pause-test-key-0123456789abcdef-0123456789"
POLICIES = """
@id("chat") permit(principal, action == Action::"chat", resource);
@id("transfer") permit(principal, action == Action::"transfer", resource);
@id("big-needs-a-person") forbid(principal, action == Action::"transfer", resource)
  when { context.arguments.amount >= 100 && !Approval::"transfers".granted };
"""
done: list[int] = []


def transfer(to: str, amount: int) -> str:
    """Move money."""
    done.append(amount)
    return f"moved {amount} to {to}"


def script(messages: list[Any]) -> Any:
    if messages[-1].role == "user" and len([m for m in messages if m.role == "tool"]) == 0:
        return call("transfer", {"to": "bob", "amount": 1500}, id="call-1")
    return "finished: " + str(messages[-1].content)


def make(backend: str) -> tuple[Session, Any]:
    s = Session(policies=POLICIES, model=ScriptedModel(script), key=KEY, backend=backend)
    return s, s.new_branch("agent", tools=[Tool(transfer, blocking=False)])


def pause(backend: str) -> tuple[Session, Any, PausedRun]:
    s, branch = make(backend)
    with pytest.raises(RunPaused) as paused:
        anyio.run(lambda: branch.operate("Pay bob 1500", max_rounds=2))
    return s, branch, paused.value.run


@pytest.fixture(params=["python", "rust"])
def backend(request: pytest.FixtureRequest) -> str:
    done.clear()
    return str(request.param)


def test_an_indeterminate_call_pauses_the_run_with_what_a_person_needs(backend: str) -> None:
    s, _, run = pause(backend)
    [pending] = run.pending
    assert (pending.call_id, pending.tool, pending.arguments) == (
        "call-1",
        "transfer",
        {"to": "bob", "amount": 1500},
    )
    assert "big-needs-a-person" in pending.explanation
    assert pending.provenance["amount"]["user"] is True  # 1500 is in the user's instruction
    assert done == []
    [obs] = [o for o in s.log if o.effect.resource == "tool/transfer"]
    assert obs.decision is Decision.INDETERMINATE and obs.effects == ()
    assert "deferred" in obs.reason


def test_approve_runs_exactly_that_call_and_the_run_goes_on(backend: str) -> None:
    s, _, run = pause(backend)
    [pending] = run.pending
    answer = anyio.run(lambda: s.resume(run, [Approve("call-1", pending.arguments_hash)]))
    assert answer == "finished: moved 1500 to bob" and done == [1500]
    last = [o for o in s.log if o.effect.resource == "tool/transfer"][-1]
    assert last.permitted and "approver approved" in last.reason
    with pytest.raises(PauseError, match="resumed already"):
        anyio.run(lambda: s.resume(run, [Approve("call-1", pending.arguments_hash)]))
    assert done == [1500]


def test_deny_tells_the_model_and_is_recorded(backend: str) -> None:
    s, _, run = pause(backend)
    h = run.pending[0].arguments_hash
    answer = anyio.run(lambda: s.resume(run, [Deny("call-1", h, "not this month")]))
    assert answer.startswith("finished: denied") and answer.endswith("not this month")
    assert done == []
    last = [o for o in s.log if o.effect.resource == "tool/transfer"][-1]
    assert last.decision is Decision.DENY and "approver refused" in last.reason


def test_edited_arguments_go_through_the_gate_again(backend: str) -> None:
    s, _, run = pause(backend)
    h = run.pending[0].arguments_hash
    # an edit that no longer needs a person is decided by the policy alone
    answer = anyio.run(lambda: s.resume(run, [Edit("call-1", h, {"to": "bob", "amount": 50})]))
    assert "moved 50 to bob" in answer and done == [50]
    s, _, run = pause(backend)
    with pytest.raises(PauseError, match="do not fit"):
        anyio.run(lambda: s.resume(run, [Edit("call-1", h, {"to": "bob", "amount": "lots"})]))
    assert done == [50]


def test_bad_decisions_are_refused_before_anything_runs(backend: str) -> None:
    s, _, run = pause(backend)
    h = run.pending[0].arguments_hash
    cases = [
        ([Approve("call-2", h)], "not pending"),
        ([Approve("call-1", "0" * 64)], "argument hash differs"),
        ([Approve("call-1", h), Approve("call-1", h)], "decided twice"),
        ([], "no decision for `call-1`"),
        (["yes"], "expected Approve, Deny or Edit"),
    ]
    for decisions, why in cases:
        with pytest.raises(PauseError, match=why):
            anyio.run(lambda d=decisions: s.resume(run, d))
    assert done == []
    # still resumable after the refusals
    anyio.run(lambda: s.resume(run, [Approve("call-1", h)]))
    assert done == [1500]


def test_a_tampered_or_expired_save_is_refused(backend: str) -> None:
    s, _, run = pause(backend)
    saved = json.loads(run.to_json())
    saved["pending"][0]["arguments"]["to"] = "mallory"
    forged = PausedRun.from_json(json.dumps(saved))
    h = forged.pending[0].arguments_hash
    with pytest.raises(PauseError, match="seal"):
        anyio.run(lambda: s.resume(forged, [Approve("call-1", h)]))
    with pytest.raises(PauseError, match="not a saved paused run"):
        PausedRun.from_json(b"{not json")
    other = Session(
        policies=POLICIES, model=ScriptedModel(script), key=KEY.upper(), backend=backend
    )
    other.new_branch("agent", tools=[Tool(transfer, blocking=False)])
    with pytest.raises(PauseError, match="seal"):
        anyio.run(lambda: other.resume(run, [Approve("call-1", h)]))
    s, branch = make(backend)
    s.approvals.expiry = -1.0  # every run it pauses has already expired
    with pytest.raises(RunPaused) as paused:
        anyio.run(lambda: branch.operate("Pay bob 1500", max_rounds=2))
    late = paused.value.run
    with pytest.raises(PauseError, match="expired"):
        anyio.run(lambda: s.resume(late, [Approve("call-1", late.pending[0].arguments_hash)]))
    assert done == []


RESUMER = """
import sys, anyio
sys.path.insert(0, {tests!r})
from test_pause import POLICIES, script, transfer, done
from lion.services.approvals import Approve, PausedRun
from lion.services.models import ScriptedModel
from lion.services.session import Session
from lion.services.tools import Tool

run = PausedRun.from_json(open({path!r}, "rb").read())
session = Session(policies=POLICIES, model=ScriptedModel(script), backend={backend!r})
session.new_branch("agent", tools=[Tool(transfer, blocking=False)])
answer = anyio.run(lambda: session.resume(run, [Approve("call-1", run.pending[0].arguments_hash)]))
print(answer, done, len(session.log), session.log[-2].decision.name)
"""


def test_a_run_saved_here_resumes_in_a_fresh_process(backend: str, tmp_path: Path) -> None:
    _, _, run = pause(backend)
    path = tmp_path / "paused.json"
    path.write_bytes(run.to_json())
    script_text = RESUMER.format(tests=str(Path(__file__).parent), path=str(path), backend=backend)
    env = {**os.environ, "LION_CAPABILITY_KEY": KEY, "LION_ALLOW_MODEL_REQUESTS": "0"}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script_text)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "finished: moved 1500 to bob [1500] 2 PERMIT"
    assert done == []  # nothing ran in this process


def test_a_paused_run_round_trips_to_json(backend: str) -> None:
    _, _, run = pause(backend)
    assert PausedRun.from_json(run.to_json()) == run
    assert msgspec.json.decode(run.to_json())["operation"] == "operate"


def test_a_sticky_approval_covers_later_calls_of_that_tool_by_that_branch_only(
    backend: str,
) -> None:
    s, branch, run = pause(backend)
    h = run.pending[0].arguments_hash
    anyio.run(lambda: s.resume(run, [Approve("call-1", h, sticky=True)]))
    assert done == [1500]
    # the same branch, another big transfer: approved without pausing
    outcomes = anyio.run(lambda: branch.act([call("transfer", {"to": "carol", "amount": 900})]))
    assert outcomes[0].ok and done == [1500, 900]
    # another branch is still asked
    other = s.new_branch("other", tools=[Tool(transfer, blocking=False)])
    outcomes = anyio.run(lambda: other.act([call("transfer", {"to": "dan", "amount": 700})]))
    assert outcomes[0].outcome.value == "pending" and done == [1500, 900]
    # the approval is scoped to the capability: a branch holding another one is asked again
    fresh = s.new_branch("fresh", tools=[Tool(transfer, blocking=False)])
    s.approvals.stick("fresh", "tool/transfer", fresh.tokens)
    outcomes = anyio.run(lambda: fresh.act([call("transfer", {"to": "eve", "amount": 800})]))
    assert outcomes[0].ok and done == [1500, 900, 800]
    model_token, tool_token = fresh.tokens
    again = s.authority.mint("fresh", "tool/transfer", ["call"], tool_token.capability.expiry)
    fresh.tokens = (model_token, again)
    outcomes = anyio.run(lambda: fresh.act([call("transfer", {"to": "eve", "amount": 801})]))
    assert outcomes[0].outcome.value == "pending" and done == [1500, 900, 800]


def test_two_pending_calls_with_the_same_arguments_keep_their_own_decisions(
    backend: str,
) -> None:
    s, branch = make(backend)
    same = {"to": "bob", "amount": 1500}
    outcomes = anyio.run(
        lambda: branch.act([call("transfer", same, id="c1"), call("transfer", same, id="c2")])
    )
    assert [o.outcome.value for o in outcomes] == ["pending", "pending"]
    run = branch._paused("operate", 0, "sequential", outcomes).run
    h = run.pending[0].arguments_hash
    assert run.pending[1].arguments_hash == h
    anyio.run(lambda: s.resume(run, [Deny("c1", h, "no"), Approve("c2", h)]))
    assert done == [1500]  # only the approved one ran
    decisions = [o.decision for o in s.log if o.effect.resource == "tool/transfer"][-2:]
    assert decisions == [Decision.DENY, Decision.PERMIT]
