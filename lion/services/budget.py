"""Budgets: what a session and each of its branches may spend, enforced by the kernel.

A `Budget` limits model requests, tool calls, input and output tokens and a
cost figure. The session's `Meter` turns each call into the costs the IPU
reserves before it starts (counters ``model_requests``, ``tool_calls``,
``input_tokens``, ``output_tokens``, ``cost``, each once for the session and
once as ``branch/<name>/<counter>`` for the branch), and the IPU's single
``budgets`` invariant keeps every counter with a limit at or below it, in
every interleaving (see docs/ipu.md: reservations).

Tokens are known only after a model call, so the reservation is an upper
bound and the call is settled with the usage the server reports:

- input: at most one token per byte of the request as JSON (byte-level BPE
  never makes more tokens than bytes; the JSON syntax more than covers the
  chat template's few special tokens per message);
- output: the request's ``max_tokens``; when an output budget is set and the
  branch did not choose one, ``max_tokens`` is set to what is left, so the
  server itself stops at the budget.

A report above the reservation is cut to it and noted in the Observation.
Without a usage report the whole reservation is charged.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Final

import msgspec

from lion.errors import ServiceError
from lion.kernel.ledger import Counters
from lion.wire.dto import ChatCompletion, ChatRequest

__all__ = ["COUNTERS", "Budget", "Meter", "Price"]

COUNTERS: Final = ("model_requests", "tool_calls", "input_tokens", "output_tokens", "cost")
_NO_LIMIT: Final = 2**62


class Budget(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Limits (None: no limit) on what a session or a branch may spend."""

    model_requests: int | None = None
    tool_calls: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: int | None = None  # in the units of `Price`

    def __post_init__(self) -> None:
        for name in COUNTERS:
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ServiceError(f"budget `{name}` must be an int or None, got `{value!r}`")
            if value is not None and value < 0:
                raise ServiceError(f"budget `{name}` must be at least 0, got {value}")

    def limits(self) -> dict[str, int]:
        """The counters this budget limits, and their limits."""
        return {n: v for n in COUNTERS if (v := getattr(self, n)) is not None}


class Price(msgspec.Struct, frozen=True, kw_only=True):
    """What a model's tokens cost, in whole cost units per million tokens."""

    input: int = 0
    output: int = 0

    def of(self, input_tokens: int, output_tokens: int) -> int:
        """The cost of so many tokens, rounded up (a budget is never undercounted)."""
        return math.ceil((input_tokens * self.input + output_tokens * self.output) / 1_000_000)


def _branch_counter(branch: str, counter: str) -> str:
    return f"branch/{branch}/{counter}"


class Meter:
    """The session's limits, and the costs each call reserves against them.

    `check` is the IPU invariant ``budgets``: every limited counter is within
    its limit. Limits are added for new branches while the session runs; that
    is sound because a new branch's counters are still 0 (a name's spending
    stays with the name if a branch is removed and its name used again).
    """

    def __init__(
        self, session: Budget | None = None, prices: Mapping[str, Price] | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._limits: dict[str, int] = dict(session.limits()) if session else {}
        self._prices = dict(prices or {})
        for model, price in self._prices.items():
            if not isinstance(price, Price):
                raise ServiceError(f"price of `{model}` must be a Price, got `{price!r}`")

    def limit(self, branch: str, budget: Budget) -> None:
        """Add `budget`'s limits for `branch`."""
        if not isinstance(budget, Budget):
            raise ServiceError(f"budget must be a Budget, got `{budget!r}`")
        with self._lock:
            for counter, value in budget.limits().items():
                self._limits[_branch_counter(branch, counter)] = value

    def check(self, counters: Counters) -> bool:
        limits = self._limits
        return all(value <= limits.get(name, _NO_LIMIT) for name, value in counters.items())

    def _both(self, branch: str, costs: Mapping[str, int]) -> dict[str, int]:
        """Each cost counted for the session and for the branch."""
        both = dict(costs)
        both.update({_branch_counter(branch, k): v for k, v in costs.items()})
        return both

    def remaining(self, branch: str, used: Counters) -> dict[str, int]:
        """What is left to spend, the tighter of the session's and the branch's limit."""
        left: dict[str, int] = {}
        for counter in COUNTERS:
            for name in (counter, _branch_counter(branch, counter)):
                if name in self._limits:
                    room = max(0, self._limits[name] - used[name])
                    left[counter] = min(left.get(counter, room), room)
        return left

    def tool_costs(self, branch: str) -> dict[str, int]:
        return self._both(branch, {"tool_calls": 1})

    def model_costs(
        self, branch: str, request: ChatRequest, left: Mapping[str, int]
    ) -> tuple[dict[str, int], ChatRequest]:
        """The reservation for a model call, and the request with `max_tokens` set if needed.

        `left` is what the branch may still spend (`remaining`).
        """
        output = request.max_tokens
        if output is None and "output_tokens" in left:
            # at least 1, so that an exhausted budget is refused, not asked for 0 tokens
            output = max(1, left["output_tokens"])
            request = msgspec.structs.replace(request, max_tokens=output)
        input_bound = len(msgspec.json.encode(request))
        costs = {"model_requests": 1, "input_tokens": input_bound}
        if output is not None:
            costs["output_tokens"] = output
            price = self._prices.get(request.model)
            if price is not None:
                costs["cost"] = price.of(input_bound, output)
        elif "cost" in left:
            # no bound on the output, so none on the cost: the call could not be reserved
            raise ServiceError(f"a cost budget needs max_tokens on the requests of `{branch}`")
        return self._both(branch, costs), request

    def model_spent(
        self, branch: str, request: ChatRequest, completion: ChatCompletion
    ) -> dict[str, int]:
        """The costs a model call really had, from the server's usage report.

        Raises ServiceError without a report: the IPU then charges the whole
        reservation and says why.
        """
        usage = completion.usage
        if usage is None:
            raise ServiceError("the server reported no usage")
        used_in, used_out = usage.prompt_tokens, usage.completion_tokens
        spent = {"model_requests": 1, "input_tokens": used_in, "output_tokens": used_out}
        price = self._prices.get(request.model)
        if price is not None:
            spent["cost"] = price.of(used_in, used_out)
        return self._both(branch, spent)
