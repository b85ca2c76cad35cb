"""A Session owns the kernel its branches run on.

One capability authority (key from `key=` or LION_CAPABILITY_KEY), one policy
set, one IPU (with its approver, invariants and budgets) whose log is the
session's audit trail, and one gate. `new_branch` mints the branch's tokens:
`chat` on its model and `call` on each of its tools, held by the branch and
nobody else, so a branch can do what its session gave it and nothing more.

```python
async with Session(policies=POLICIES, model=ScriptedModel(["hi"])) as session:
    print(await session.chat("Hello"))
```
"""

from __future__ import annotations

import time
import types
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from lion.domain import Pile
from lion.errors import ServiceError, ToolArgumentError
from lion.kernel.backend import Backend, get_backend
from lion.kernel.capability import capability_key
from lion.kernel.ipu import IPU, Approver, Predicate
from lion.kernel.observable import Effect, ObservationLog
from lion.services.approvals import (
    Approvals,
    Approve,
    Decision,
    Deny,
    Edit,
    PausedRun,
    PauseError,
    arguments_hash,
)
from lion.services.branch import (
    REACT_EXTEND,
    Branch,
    OnDeny,
    ResponseType,
    Strategy,
    find_branch,
)
from lion.services.budget import Budget, Meter, Price
from lion.services.gate import Gate, Outcome, model_effect, runtime_request, tool_effect
from lion.services.messages import Instruction, RoledMessage
from lion.services.models import Model
from lion.services.plan import (
    Plan,
    PlanError,
    PlanReply,
    allowed,
    attenuated,
    check_plan,
    plan_policies,
    planning_prompt,
)
from lion.services.tools import ToolLike, as_tool
from lion.wire.dto import FunctionCall, ToolCall, ToolChoice

__all__ = ["DEFAULT_LIFETIME", "Session"]

#: How long the tokens of a branch are valid, in seconds, unless `lifetime=` says otherwise.
DEFAULT_LIFETIME = 24 * 3600


class Session:
    """The kernel for a set of branches: authority, policies, IPU, gate and audit log."""

    def __init__(
        self,
        *,
        policies: str,
        model: Model,
        key: bytes | str | None = None,
        backend: str | Backend | None = None,
        approver: Approver | None = None,
        invariants: Mapping[str, Predicate] | None = None,
        budgets: Mapping[str, int] | None = None,
        entities: Any = None,
        lifetime: int = DEFAULT_LIFETIME,
        budget: Budget | None = None,
        prices: Mapping[str, Price] | None = None,
    ) -> None:
        self.approvals = Approvals(capability_key(key))
        kernel = backend if backend is not None and not isinstance(backend, str) else None
        self.backend: Backend = kernel or get_backend(backend if isinstance(backend, str) else None)
        self.id = uuid.uuid4().hex
        self.authority = self.backend.authority(key)
        self.policies = self.backend.policy_set(policies, "<session policies>")
        self._policy_text = policies
        self._plans: dict[str, Plan] = {}
        self.ipu = IPU(
            self.authority,
            self.policies,
            invariants,
            budgets=budgets,
            # without an approver callback, an INDETERMINATE tool call pauses the run
            approver=approver if approver is not None else self.approvals.approver,
            entities=None if entities is None else self.backend.entities(entities),
            request_adapter=runtime_request,
        )
        if budget is not None and not isinstance(budget, Budget):
            raise ServiceError(f"budget must be a Budget, got `{budget!r}`")
        self.meter = Meter(budget, prices)
        if budget is not None:  # even an empty Budget(): branches may bring their own limits
            self.ipu.register("budgets", self.meter.check)
        self.gate = Gate(self.ipu, self.meter if budget is not None else None, self.approvals)
        self.gate.labels_wanted = _reads_provenance(policies)
        self.model = model
        if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime <= 0:
            raise ServiceError(f"lifetime must be a positive int of seconds, got `{lifetime!r}`")
        self.lifetime = lifetime
        self._branches: dict[str, Branch] = {}
        self._default: str | None = None
        self._closed = False

    @property
    def log(self) -> ObservationLog:
        """Every decision of every branch, in order (export it with lion.kernel.audit)."""
        return self.ipu.log

    # --- branches ----------------------------------------------------------------------------

    def _grant(self, name: str, model: Model, tools: Sequence[ToolLike]) -> list[Any]:
        expiry = int(time.time()) + self.lifetime
        wanted = [model_effect(model), *(tool_effect(t) for t in tools)]
        return [self.authority.mint(name, e.resource, [e.action], expiry) for e in wanted]

    def new_branch(
        self,
        name: str | None = None,
        *,
        tools: Sequence[ToolLike | Callable[..., Any]] = (),
        system: str | None = None,
        model: Model | None = None,
        on_deny: OnDeny = "tell",
        options: Mapping[str, Any] | None = None,
        budget: Budget | None = None,
    ) -> Branch:
        """A branch whose tokens cover its model and its tools, held by it alone.

        `budget` limits what this branch may spend (within the session's own
        budget); it needs a session made with `budget=` (an empty `Budget()`
        will do), whose gate counts spending.
        """
        self._check_open()
        name = self._new_name(name or f"branch-{len(self._branches) + 1}")
        if budget is not None:
            if self.gate.meter is None:
                raise ServiceError(
                    "a branch budget needs a session made with `budget=` (Budget() for no "
                    "session-wide limit): without it the session does not count spending"
                )
            self.meter.limit(name, budget)
        model = model or self.model
        offered = [as_tool(t) for t in tools]
        branch = Branch(
            name,
            gate=self.gate,
            model=model,
            tools=offered,
            tokens=self._grant(name, model, offered),
            system=system,
            session=self.id,
            on_deny=on_deny,
            options=options,
        )
        self._branches[name] = branch
        if self._default is None:
            self._default = name
        return branch

    def clone_branch(self, branch: Branch | str, name: str) -> Branch:
        """A copy of `branch`'s history under a new name, with tokens derived from its own.

        Each token is transferred from the branch (so it is never wider) to the clone.
        """
        self._check_open()
        source = self.get_branch(branch)
        name = self._new_name(name)
        tokens = [self.authority.transfer(t, name, by=source.name) for t in source.tokens]
        twin = source.clone(name, tokens)
        self._branches[name] = twin
        return twin

    # --- plans -----------------------------------------------------------------------------

    def fix_plan(self, branch: Branch | str, plan: Plan) -> Branch:
        """Attenuate `branch` to `plan` for the rest of its life (see lion.services.plan).

        Its tokens are replaced by tokens derived from them that cover only
        the planned tools and the tools without side effects, and the plan's
        argument constraints become policies for this branch.
        """
        target = self.get_branch(branch)
        if target.name in self._plans:
            raise PlanError(f"branch `{target.name}` already has a plan: a plan is fixed once")
        check_plan(plan, target)
        keep = allowed(plan, target.tools)
        tokens = attenuated(target.tokens, target.tools, keep, self.authority.attenuate)
        text = plan_policies(target.name, plan)
        if text:
            combined = "\n".join([self._policy_text, *self._plan_texts(), text])
            policy = self.backend.policy_set(combined, "<session and plan policies>")
            self.ipu.policy = policy  # one assignment: each decision sees the old set or the new
            self.gate.labels_wanted = True  # plan constraints read context.provenance
        self._plans[target.name] = plan
        target.tokens = tuple(tokens)
        return target

    def _plan_texts(self) -> list[str]:
        return [plan_policies(name, plan) for name, plan in self._plans.items()]

    async def plan(self, branch: Branch | str, instruction: str) -> Plan:
        """Ask the branch's model for a plan, seeing only `instruction` and the tools; fix it.

        The planning call is a gated model call like any other, made from a
        fresh history (nothing the branch has read), with `PlanReply` as its
        response format.
        """
        target = self.get_branch(branch)
        planner = Branch(  # the same principal and authority, with nothing read yet
            target.name,
            gate=self.gate,
            model=target.model,
            tokens=target.tokens,
            system=planning_prompt(list(target.tools.values())),
            session=self.id,
            options=target.options,
        )
        reply = await planner.communicate(instruction, response_format=PlanReply)
        plan = Plan(tools=frozenset(reply.tools), arguments=reply.arguments)
        self.fix_plan(target, plan)
        return plan

    # --- paused runs ------------------------------------------------------------------------

    async def resume(
        self,
        run: PausedRun,
        decisions: Sequence[Decision],
        *,
        response_format: ResponseType | None = None,
        parse_retries: int = 2,
        tool_choice: str | ToolChoice | None = None,
    ) -> Any:
        """Continue a paused run with one decision per pending call; the run's answer.

        The run's seal, expiry and decisions are checked first (PauseError,
        and nothing runs). The branch gets the run's history back; each
        decided call passes the gate again, the decision being the approver's
        answer for exactly that call; then the operation goes on with the
        rounds it had left (pass `response_format` again if it had one). It
        may pause again.
        """
        by_call = self.approvals.check(run, decisions)
        branch = self.get_branch(run.branch)
        told: dict[str, str] = {}
        # each call with the one answer that names it: two pending calls with the same tool
        # and arguments must not share a decision
        decided: list[tuple[ToolCall, tuple[str, str, str], bool]] = []
        sticky: list[ToolLike] = []
        for pending in run.pending:
            decision = by_call[pending.call_id]
            tool = branch.tools.get(pending.tool)
            if tool is None:
                raise PauseError(f"branch `{branch.name}` has no tool `{pending.tool}` to resume")
            arguments = pending.arguments
            if isinstance(decision, Edit):
                try:
                    arguments = msgspec.to_builtins(tool.validate(decision.arguments))
                except ToolArgumentError as exc:
                    raise PauseError(
                        f"the edited arguments of call `{pending.call_id}` do not fit: {exc}"
                    ) from None
                told[pending.call_id] = "run with arguments a person edited"
            if isinstance(decision, Deny):
                told[pending.call_id] = decision.message
            if isinstance(decision, Approve) and decision.sticky:
                sticky.append(tool)
            key = (branch.name, tool.resource, arguments_hash(arguments))
            encoded = msgspec.json.encode(arguments).decode()
            function = FunctionCall(name=pending.tool, arguments=encoded)
            decided.append(
                (
                    ToolCall(id=pending.call_id, function=function),
                    key,
                    not isinstance(decision, Deny),
                )
            )
        history: Pile[RoledMessage] = Pile.from_json(run.messages)
        # every check passed: from here the run is used up, so a second resume is refused
        self.approvals.mark_resumed(run)
        branch.messages = history
        for tool in sticky:
            effect = Effect(tool.right, tool.resource)
            self.approvals.stick(branch.name, tool.resource, branch.caller.presenting(effect))
        strategy: Strategy = "concurrent" if run.strategy == "concurrent" else "sequential"
        outcomes = []
        for call, key, answer in decided:  # one by one, each under its own decision
            with self.approvals.deciding({key: answer}):
                outcomes += await branch._act([call], strategy, told=told, asked=False)
        if run.operation == "act":
            return outcomes
        if any(o.outcome is Outcome.PENDING for o in outcomes):
            raise branch._paused(run.operation, run.rounds_left, strategy, outcomes)
        between = REACT_EXTEND if run.operation == "ReAct" else None
        if between is not None and run.rounds_left > 0:
            branch.messages.include(Instruction(content=between))
        return await branch._answer(
            run.rounds_left, strategy, tool_choice, between, response_format, parse_retries
        )

    def plan_of(self, branch: Branch | str) -> Plan | None:
        """The plan fixed for `branch`, if any."""
        return self._plans.get(self.get_branch(branch).name)

    def _new_name(self, name: str) -> str:
        if name in self._branches:
            raise ServiceError(f"a branch named `{name}` already exists in this session")
        return name

    def get_branch(self, branch: Branch | str) -> Branch:
        return find_branch(self._branches, branch, "this session")

    def remove_branch(self, branch: Branch | str) -> Branch:
        """Forget a branch and revoke its tokens: it can do nothing more."""
        removed = self.get_branch(branch)
        for token in removed.tokens:
            self.authority.revoke(token)
        del self._branches[removed.name]
        if self._default == removed.name:
            self._default = next(iter(self._branches), None)
        return removed

    @property
    def branches(self) -> Mapping[str, Branch]:
        return types.MappingProxyType(self._branches)

    @property
    def default_branch(self) -> Branch:
        """The first branch made (one is made on first use)."""
        if self._default is None:
            return self.new_branch("default")
        return self._branches[self._default]

    async def chat(self, instruction: str) -> str:
        """`communicate` on the default branch."""
        return await self.default_branch.communicate(instruction)

    # --- lifecycle ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ServiceError("session is closed")

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Revoke every branch's tokens; the log stays readable."""
        for name in list(self._branches):
            self.remove_branch(name)
        self._closed = True


def _reads_provenance(policies: str) -> bool:
    """Whether a policy text may read `context.provenance` (a plain search: when unsure, yes)."""
    return "provenance" in policies
