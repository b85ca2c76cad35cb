"""The IPU's ledger: the counters its invariants read, with reservations for effects in flight.

Effects run concurrently and cross await points, so an invariant checked on
the state "before" an effect says nothing once another effect lands in
between. The ledger closes that gap with reservations, the way a bank holds
funds: when the IPU admits an effect it adds the effect's `costs` to the
reserved counters in the same atomic step as the invariant check, and the
check sees ``committed + reserved + costs``. When `perform` returns, the
reservation is committed (moved to the committed counters); when it fails,
it is released. Each reservation is settled exactly once.

Counters only grow (costs are non-negative), so every invariant that is
*downward closed* (if it holds for some counters it holds for smaller ones:
budgets, rate caps, at-most-once claims) holds on the committed counters and
on committed plus any subset of the reservations, in every interleaving.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Final

from lion.errors import KernelError

__all__ = ["Counters", "Ledger", "Reservation", "check_costs", "exceeds"]

MAX_COUNTER: Final = 2**63 - 1


class Counters(Mapping[str, int]):
    """A read-only view of counter values; a counter never touched reads as 0."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, int] | None = None) -> None:
        self._values = {k: v for k, v in (values or {}).items() if v}

    @classmethod
    def _adopt(cls, values: dict[str, int]) -> Counters:
        """Wrap `values` (no zeros, not shared) without copying: the ledger's hot path."""
        counters = cls.__new__(cls)
        counters._values = values
        return counters

    def __getitem__(self, key: str) -> int:
        return self._values.get(key, 0)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._values == {k: v for k, v in other.items() if v}
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Counters({self._values!r})"


def check_costs(costs: object, what: str = "costs") -> dict[str, int]:
    """`costs` as a plain dict, or a KernelError saying what is wrong with it."""
    if not costs and isinstance(costs, dict | MappingProxyType):  # the common case: no costs
        return {}
    if not isinstance(costs, Mapping):
        raise KernelError(f"{what} must be a mapping of counter name to int, got `{costs!r}`")
    checked: dict[str, int] = {}
    for name, amount in costs.items():
        if not isinstance(name, str) or not name:
            raise KernelError(f"{what}: counter name `{name!r}` is not a non-empty str")
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise KernelError(f"{what}: `{name}` is `{amount!r}`: expected an int")
        if not 0 <= amount <= MAX_COUNTER:
            raise KernelError(
                f"{what}: `{name}` is {amount}: expected 0 to 2**63-1 "
                "(counters only grow, so every downward-closed invariant stays sound)"
            )
        checked[name] = amount
    return checked


class Reservation:
    """The costs one admitted effect (or batch) holds until it is committed or released.

    A refused reservation (`refusal` says why) holds nothing and is settled
    from the start: effects that draw from it are denied with that reason.
    """

    __slots__ = ("costs", "refusal", "settled")

    def __init__(self, costs: Mapping[str, int], refusal: str | None = None) -> None:
        self.costs: Final = dict(costs)
        self.refusal: Final = refusal
        self.settled = refusal is not None

    def __repr__(self) -> str:
        state = "refused" if self.refusal else "settled" if self.settled else "held"
        return f"Reservation({self.costs!r}, {state})"


def exceeds(costs: Mapping[str, int], limit: Mapping[str, int]) -> dict[str, int]:
    """The counters on which `costs` is above `limit` (by how much): empty if within."""
    return {k: v - limit.get(k, 0) for k, v in costs.items() if v > limit.get(k, 0)}


def _add(target: dict[str, int], costs: Mapping[str, int], sign: int) -> None:
    for name, amount in costs.items():
        value = target.get(name, 0) + sign * amount
        if value:
            target[name] = value
        else:
            target.pop(name, None)


class Ledger:
    """Committed counters and the reservations of effects in flight; thread-safe."""

    def __init__(self, initial: Mapping[str, int] | None = None) -> None:
        self._lock = threading.Lock()
        self._committed = check_costs(initial or {}, "initial state")
        self._reserved: dict[str, int] = {}
        self._held = 0

    @property
    def committed(self) -> Counters:
        """The counters of effects that completed."""
        with self._lock:
            return Counters(self._committed)

    @property
    def reserved(self) -> Counters:
        """The costs held by effects admitted and not yet settled."""
        with self._lock:
            return Counters(self._reserved)

    @property
    def in_flight(self) -> int:
        """How many reservations are held."""
        with self._lock:
            return self._held

    def projected(self, costs: Mapping[str, int] | None = None) -> Counters:
        """``committed + reserved + costs``: what an admission check sees."""
        with self._lock:
            return self._projected(costs or {})

    def _projected(self, costs: Mapping[str, int]) -> Counters:
        values = dict(self._committed)
        _add(values, self._reserved, 1)
        _add(values, costs, 1)
        return Counters._adopt(values)

    def admit(
        self, costs: Mapping[str, int], check: Callable[[Counters], str | None] | None
    ) -> Reservation | str:
        """Check and reserve in one atomic step.

        `check` sees ``committed + reserved + costs`` and returns why the step
        may not go ahead, or None; on None the costs are reserved and the
        Reservation returned, else the reason is returned and nothing changes.
        `check` runs under the ledger's lock: it must not call back into it.
        With `check=None` (nothing to check) the costs are reserved at once.
        """
        costs = check_costs(costs)
        with self._lock:
            problem = None if check is None else check(self._projected(costs))
            if problem is not None:
                return problem
            if costs:
                _add(self._reserved, costs, 1)
            self._held += 1
            return Reservation(costs)

    def commit(self, reservation: Reservation, spent: Mapping[str, int] | None = None) -> None:
        """The effect completed: its reserved costs (or only `spent` of them) become committed.

        `spent` is what the effect really used when that is known only
        afterwards (a model's tokens); it must be within the reservation (a
        KernelError otherwise, and nothing changes): the rest is released.
        """
        used = reservation.costs if spent is None else check_costs(spent, "spent")
        over = exceeds(used, reservation.costs)
        if over:
            raise KernelError(f"spent more than reserved ({over}) by {reservation!r}")
        with self._lock:
            self._settle(reservation)
            _add(self._committed, used, 1)

    def draw(self, hold: Reservation, costs: Mapping[str, int]) -> Reservation | str:
        """Move `costs` out of `hold` (a batch's reservation) into a reservation of their own.

        Nothing is checked: the hold was, when it was admitted, and reserved
        totals do not change. Returns why not if the hold is settled or does
        not have that much left.
        """
        costs = check_costs(costs)
        with self._lock:
            if hold.refusal is not None:
                return hold.refusal
            if hold.settled:
                return f"{hold!r} is already settled"
            short = exceeds(costs, hold.costs)
            if short:
                shown = ", ".join(f"{k} by {v}" for k, v in sorted(short.items()))
                return f"the batch's reservation is short: {shown}"
            for name, amount in costs.items():
                hold.costs[name] -= amount
            self._held += 1
            return Reservation(costs)

    def release(self, reservation: Reservation) -> None:
        """The effect did not complete: give its reserved costs back."""
        with self._lock:
            self._settle(reservation)

    def _settle(self, reservation: Reservation) -> None:
        if reservation.settled:
            raise KernelError(f"{reservation!r} was already committed or released")
        reservation.settled = True
        _add(self._reserved, reservation.costs, -1)
        self._held -= 1
