"""The Orchestrator: branches as actors (messages, supervision, shutdown) and delegation."""

from __future__ import annotations

import re
import runpy
from pathlib import Path
from typing import Any

import anyio
import pytest

from lion.errors import ActorError, CapabilityError, ServiceError
from lion.kernel.actor import SupervisionAction
from lion.kernel.decision import Decision
from lion.kernel.tokens import decode_token
from lion.services.models import ScriptedModel, call
from lion.services.orchestrator import DELEGATE, DelegationRefused, Orchestrator
from lion.services.session import Session
from lion.services.tools import Tool
from lion.wire.dto import Message

ROOT = Path(__file__).resolve().parents[2]
KEY = b"orchestrator-test-key-0123456789abcdef"
POLICIES = """
@id("chat") permit(principal, action == Action::"chat", resource);
@id("search") permit(principal, action == Action::"search", resource);
@id("write") permit(principal, action == Action::"write", resource);
"""


def search(query: str) -> str:
    """Look something up."""
    return f"found {query}"


def write(text: str) -> str:
    """Write a note."""
    return "written"


@pytest.fixture(params=["python", "rust"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make(backend: str, script: Any) -> Session:
    return Session(policies=POLICIES, model=ScriptedModel(script), key=KEY, backend=backend)


def run(fn: Any) -> None:
    anyio.run(fn)


def last_user(messages: list[Message]) -> str:
    return next(str(m.content) for m in reversed(messages) if m.role == "user")


def test_many_branches_answer_through_their_mailboxes(backend: str) -> None:
    # each branch answers with its own name and the question, so crossed wires show
    def reply(messages: list[Message]) -> str:
        system = str(messages[0].content)
        return f"{system}: {last_user(messages)}"

    async def main() -> None:
        async with make(backend, reply) as session:
            names = [f"b{i}" for i in range(6)]
            async with Orchestrator(session, mailbox_size=2) as orch:
                for n in names:
                    orch.add(session.new_branch(n, system=n))
                answers: dict[str, str] = {}

                async def one(n: str, k: int) -> None:
                    answers[f"{n}-{k}"] = await orch.ask(n, f"q{k}", op="communicate")

                async with anyio.create_task_group() as tg:
                    for n in names:
                        for k in range(3):
                            tg.start_soon(one, n, k)
            assert answers == {f"{n}-{k}": f"{n}: q{k}" for n in names for k in range(3)}
            # every exchange is in its own branch's history (3 each), nothing crossed
            for n in names:
                contents = [m.content for m in session.get_branch(n).messages]
                assert sorted(c for c in contents if c.startswith("q")) == ["q0", "q1", "q2"]
            report = orch.report
            assert report is not None and report.drained
            assert dict(report.processed) == dict.fromkeys(names, 3)

    run(main)


def test_send_puts_a_note_in_the_receivers_history_in_order(backend: str) -> None:
    async def main() -> None:
        async with make(backend, lambda m: last_user(m)) as session, Orchestrator(session) as orch:
            a = orch.add(session.new_branch("a"))
            orch.add(session.new_branch("b"))
            await orch.send("b", "first", sender="a")
            await orch.send("b", "second", sender="a")
            history = await orch.history("b")
            assert [m.content for m in history] == [
                "message from `a`: first",
                "message from `a`: second",
            ]
            assert len(a.messages) == 0  # the sender's state is untouched
            with pytest.raises(ServiceError, match="no branch named `nobody`"):
                await orch.send("b", "x", sender="nobody")

    run(main)


def test_a_failing_branch_is_restarted_then_stopped_and_others_carry_on(backend: str) -> None:
    def reply(messages: list[Message]) -> str:
        if last_user(messages) == "boom":
            raise RuntimeError("the model broke")
        return "ok"

    async def main() -> None:
        async with make(backend, reply) as session, Orchestrator(session, max_restarts=1) as orch:
            orch.add(session.new_branch("fragile"))
            orch.add(session.new_branch("steady"))
            with pytest.raises(ActorError) as first:
                await orch.ask("fragile", "boom")
            assert isinstance(first.value.__cause__, RuntimeError)
            assert orch.status("fragile") == "running"  # restarted
            assert await orch.ask("fragile", "fine") == "ok"  # same branch carries on
            with pytest.raises(ActorError):
                await orch.ask("fragile", "boom")
            assert orch.status("fragile") == "stopped"  # second failure: restarts used up
            assert await orch.ask("steady", "fine") == "ok"
            actions = [(f.actor, f.action) for f in orch.failures]
            assert actions == [
                ("fragile", SupervisionAction.RESTARTED),
                ("fragile", SupervisionAction.STOPPED),
            ]

    run(main)


def test_max_restarts_zero_stops_at_the_first_failure() -> None:
    async def main() -> None:
        # no replies: ScriptError
        async with make("python", []) as session, Orchestrator(session, max_restarts=0) as orch:
            orch.add(session.new_branch("a"))
            with pytest.raises(ActorError):
                await orch.ask("a", "hi")
            assert orch.status("a") == "stopped"

    run(main)


def test_shutdown_drains_every_accepted_message(backend: str) -> None:
    async def main() -> None:
        async with make(backend, lambda m: "ok") as session:
            async with Orchestrator(session, mailbox_size=4) as orch:
                orch.add(session.new_branch("a"))
                orch.add(session.new_branch("b"))
                for k in range(4):
                    await orch.send("a", f"note {k}")
                    await orch.send("b", f"note {k}")
            report = orch.report
            assert report is not None and report.drained
            assert dict(report.accepted) == {"a": 4, "b": 4}
            assert dict(report.processed) == {"a": 4, "b": 4}
            notes = [m.content for m in session.get_branch("a").messages]
            assert notes == [f"message from `host`: note {k}" for k in range(4)]

    run(main)


def test_spawn_derives_narrower_tokens_from_the_parents(backend: str) -> None:
    async def main() -> None:
        async with (
            make(backend, [call("search", {"query": "x"}), "done"]) as session,
            Orchestrator(session) as orch,
        ):
            parent = orch.add(session.new_branch("lead", tools=[search, write]))
            child = orch.spawn(parent, "helper", tools=["search"])
            assert [t.name for t in child.tools.values()] == ["search"]
            parent_ids = {decode_token(t).id if isinstance(t, str) else t.id for t in parent.tokens}
            for token in child.tokens:
                chain = decode_token(token).chain if isinstance(token, str) else token.chain
                assert chain[-1].holder == "helper"
                assert chain[-2].id in parent_ids  # derived, not minted
                assert len(chain) == 2
            granted = {
                (c.resource, frozenset(c.rights))
                for c in map(session.authority.verify, child.tokens)
            }
            assert granted == {
                ("model/scripted", frozenset({"chat"})),
                ("tool/search", frozenset({"call"})),
            }
            assert orch.parent_of("helper") == "lead"
            assert await orch.ask("helper", "find x", op="operate") == "done"
            permits = [o for o in session.log if o.effect.action == DELEGATE]
            assert [(o.principal, o.decision) for o in permits] == [("lead", Decision.PERMIT)]

    run(main)


def test_a_delegation_that_tries_to_widen_is_refused_and_recorded(backend: str) -> None:
    extra = Tool(write, name="deploy")

    async def main() -> None:
        async with make(backend, ["x"]) as session, Orchestrator(session) as orch:
            parent = orch.add(session.new_branch("lead", tools=[search]))
            expiry = session.authority.verify(parent.tokens[0]).expiry
            cases = [
                ({"tools": [extra]}, "`tool/deploy`"),  # a tool the parent holds no token for
                ({"tools": ["search"], "rights": {"call", "admin"}}, "`admin`"),  # a right
                ({"tools": ["search"], "scope": "tool/*"}, "`tool/*`"),  # a wider resource
                ({"expiry": expiry + 10}, "later than the parent's"),  # a later expiry
            ]
            for n, (options, words) in enumerate(cases):
                with pytest.raises(DelegationRefused, match="cannot delegate") as refused:
                    orch.spawn(parent, f"child{n}", **options)
                assert isinstance(refused.value, CapabilityError)
                assert words in str(refused.value)
            assert set(orch.branches) == {"lead"}  # nothing was spawned
            denials = orch.refusals()
            assert len(denials) == 4
            assert all(o.decision is Decision.DENY and not o.effects for o in denials)
            assert [o.effect.resource for o in denials] == [f"branch/child{n}" for n in range(4)]
            assert "`admin`" in denials[1].reason
            # a narrowing that is covered still works afterwards
            orch.spawn(parent, "ok", tools=["search"], expiry=expiry - 10)

    run(main)


def read_report() -> str:
    """Read the quarterly report."""
    return "q3: fine"


def read_secret() -> str:
    """Read the secret."""
    return "the secret"


def test_the_childs_tool_call_outside_its_narrowed_capability_is_denied(backend: str) -> None:
    report = Tool(read_report, resource="docs/reports/q3", right="read")
    secret = Tool(read_secret, resource="docs/secret", right="read")
    script = [call("read_secret", {}), call("read_report", {}), "done"]

    async def main() -> None:
        everything = '@id("all") permit(principal, action, resource);'
        model = ScriptedModel(script)
        async with (
            Session(policies=everything, model=model, key=KEY, backend=backend) as session,
            Orchestrator(session) as orch,
        ):
            lead = orch.add(session.new_branch("lead", tools=[report, secret]))
            # both tools in the registry, but authority on the report only
            child = orch.spawn(lead, "reader", scope="docs/reports/q3")
            assert sorted(child.tools) == ["read_report", "read_secret"]
            assert await orch.ask("reader", "read both", op="operate") == "done"
            mine = [o for o in session.log if o.principal == "reader"]
            decided = [(o.effect.resource, o.decision) for o in mine if o.effect.action == "read"]
            assert decided == [
                ("docs/secret", Decision.DENY),  # outside the narrowed capability
                ("docs/reports/q3", Decision.PERMIT),
            ]
            assert "does not cover" in mine[1].reason or "covers" in mine[1].reason
            outcomes = [m.content for m in child.messages if m.content.startswith("denied:")]
            assert len(outcomes) == 1
            # the parent may still read the secret: its own token was not narrowed
            assert session.authority.authorize(lead.tokens[2], "docs/secret", "read")

    run(main)


def test_revoking_the_parent_revokes_every_descendant(backend: str) -> None:
    async def main() -> None:
        async with make(backend, ["a", "b"]) as session, Orchestrator(session) as orch:
            root = orch.add(session.new_branch("root", tools=[search]))
            child = orch.spawn(root, "child")
            grandchild = orch.spawn(child, "grandchild", tools=[])
            side = orch.add(session.new_branch("side"))
            orch.revoke(root)
            for b in (root, child, grandchild):
                for token in b.tokens:
                    with pytest.raises(CapabilityError, match="revoked"):
                        session.authority.verify(token)
            for token in side.tokens:
                session.authority.verify(token)  # untouched
            with pytest.raises(DelegationRefused, match="no valid capability"):
                orch.spawn(child, "late")
            assert await orch.ask("side", "hi") == "a"
            with pytest.raises(ActorError):  # the model call is denied: no valid token
                await orch.ask("grandchild", "hi")

    run(main)


def test_handoff_gives_the_child_the_history_and_narrowed_authority(backend: str) -> None:
    def reply(messages: list[Message]) -> str:
        return f"seen {len(messages)}: {last_user(messages)}"

    async def main() -> None:
        async with make(backend, reply) as session, Orchestrator(session) as orch:
            lead = orch.add(session.new_branch("lead", tools=[search, write]))
            await orch.ask(lead, "plan", op="communicate")
            answer = await orch.handoff(lead, "worker", "carry on", tools=["search"])
            assert answer == "seen 3: carry on"  # plan, its answer, then the instruction
            worker = orch.branches["worker"]
            assert list(worker.tools) == ["search"]
            assert len(lead.messages) == 2  # the parent's history is unchanged
            with pytest.raises(DelegationRefused):
                await orch.handoff(lead, "wide", "x", scope="*")
            assert "wide" not in orch.branches

    run(main)


def test_leaving_revokes_what_was_delegated_and_misuse_is_refused() -> None:
    async def main() -> None:
        async with make("python", ["x"]) as session:
            orch = Orchestrator(session)
            with pytest.raises(ServiceError, match="not running"):
                orch.add("nobody")
            async with orch:
                lead = orch.add(session.new_branch("lead"))
                child = orch.spawn(lead, "child")
                with pytest.raises(ServiceError, match="already exists"):
                    orch.spawn(lead, "child")
                with pytest.raises(ServiceError, match="no tool `nope`"):
                    orch.spawn(lead, "c2", tools=["nope"])
                with pytest.raises(ServiceError, match="the string `read`"):
                    orch.spawn(lead, "c3", tools=[], rights="read", scope="docs/*")
                with pytest.raises(ServiceError, match="needs both"):
                    orch.spawn(lead, "c4", tools=[], rights={"read"})
                assert orch.refusals() == ()  # misuse is not a delegation request
                with pytest.raises(ServiceError, match="op must be"):
                    await orch.ask(lead, "x", op="shout")  # type: ignore[arg-type]
            with pytest.raises(CapabilityError, match="revoked"):
                session.authority.verify(child.tokens[0])
            session.authority.verify(lead.tokens[0])  # the session's own branch is the session's

    run(main)


def test_the_guide_quick_start_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LION_CAPABILITY_KEY", "docs-quick-start-key-0123456789abcdef")
    doc = (ROOT / "docs" / "orchestrator.md").read_text()
    blocks = re.search(
        r"## Quick start\n\n```python\n(.*?)```\n\nprints\n\n```\n(.*?)```", doc, re.S
    )
    assert blocks is not None
    script = tmp_path / "quick_start.py"
    script.write_text(blocks.group(1))
    runpy.run_path(str(script), run_name="__main__")
    assert capsys.readouterr().out.splitlines() == blocks.group(2).splitlines()


def test_a_stopped_parent_is_still_refused_and_recorded_and_nothing_is_lost(
    backend: str,
) -> None:
    def reply(messages: list[Message]) -> str:
        if last_user(messages).startswith("boom"):
            raise RuntimeError("broken")
        return "ok"

    async def main() -> None:
        async with make(backend, reply) as session:
            async with Orchestrator(session, max_restarts=0, mailbox_size=8) as orch:
                lead = orch.add(session.new_branch("lead", tools=[search]))
                # queue a failure and two notes behind it: the notes are stranded by the stop
                await orch.send("lead", "first")
                with pytest.raises(ActorError):
                    await orch.ask("lead", "boom")
                assert orch.status("lead") == "stopped"
                expiry = session.authority.verify(lead.tokens[0]).expiry
                with pytest.raises(DelegationRefused, match="later than"):
                    await orch.handoff(lead, "late", "x", expiry=expiry + 1)
                assert len(orch.refusals()) == 1  # decided before the parent's actor is asked
                before = session.authority.revoked
                with pytest.raises(ActorError):  # covered, but the parent cannot hand its history
                    await orch.handoff(lead, "orphan", "x", tools=[])
                assert "orphan" not in orch.branches
                orphan = [o for o in session.log if o.effect.resource == "branch/orphan"]
                assert [o.decision for o in orphan] == [Decision.PERMIT]
                # the chat token derived for the child that never came is revoked, and only it
                (gone,) = session.authority.revoked - before
                assert gone not in {session.authority.verify(t).id for t in lead.tokens}
            report = orch.report
            assert report is not None
            assert report.accepted["lead"] == 2  # the note and the failing ask
            assert report.processed["lead"] == 1 and report.failed["lead"] == 1
            assert report.drained

    run(main)


def test_removing_a_root_from_the_session_cuts_off_its_whole_tree(backend: str) -> None:
    async def main() -> None:
        async with make(backend, ["x"]) as session, Orchestrator(session) as orch:
            root = orch.add(session.new_branch("root", tools=[search]))
            child = orch.spawn(root, "child")
            grandchild = orch.spawn(child, "grandchild", tools=["search"], chat=False)
            session.remove_branch("root")
            for token in (*child.tokens, *grandchild.tokens):
                with pytest.raises(CapabilityError, match="revoked"):
                    session.authority.verify(token)

    run(main)
