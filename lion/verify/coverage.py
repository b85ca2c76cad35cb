"""Which actions of a machine conformance actually exercised.

A passing machine bind says little about an action the generated runs never
performed: its implementation was never compared with the spec in a state
where the spec enables it. So conformance counts, per action, the steps that
tried it and the steps the spec enabled (it *fired*: spec and implementation
both performed it and their states were compared), and warns about every
action that never fired. `lion-verify -v` prints the table and ``--json``
includes it per bind.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Coverage"]


@dataclass
class Coverage:
    """Per-action counts over every run a machine bind checked."""

    actions: tuple[str, ...]
    runs: int = 0
    steps: int = 0
    longest: int = 0  # the most steps in one run
    tried: Counter[str] = field(default_factory=Counter)
    fired: Counter[str] = field(default_factory=Counter)

    def start(self, steps: int) -> None:
        """A run of `steps` steps begins."""
        self.runs += 1
        self.steps += steps
        self.longest = max(self.longest, steps)

    def record(self, action: str, fired: bool) -> None:
        """One step tried `action`; `fired`: the spec enabled it (and so did the implementation)."""
        self.tried[action] += 1
        if fired:
            self.fired[action] += 1

    def never_fired(self) -> list[str]:
        """The actions no checked step performed, in declaration order."""
        return [a for a in self.actions if not self.fired[a]]

    def warnings(self, bind: str) -> list[str]:
        return [
            f"bind `{bind}`: action `{a}` never fired in {self.runs} run(s) "
            f"({self.tried[a]} step(s) tried it, the spec refused every one): its "
            "implementation was never compared; more examples, a longer --max-steps or a "
            "weaker guard in the run's states would reach it"
            for a in self.never_fired()
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "steps": self.steps,
            "longest_run": self.longest,
            "actions": {a: {"tried": self.tried[a], "fired": self.fired[a]} for a in self.actions},
            "never_fired": self.never_fired(),
        }

    def lines(self) -> list[str]:
        """A small table: one line per action (for `lion-verify -v`)."""
        width = max((len(a) for a in self.actions), default=6)
        out = [
            f"{self.runs} run(s), {self.steps} step(s), longest {self.longest}",
            f"{'action':<{width}}  {'tried':>7}  {'fired':>7}",
        ]
        for a in self.actions:
            mark = "  <- never fired" if not self.fired[a] else ""
            out.append(f"{a:<{width}}  {self.tried[a]:>7}  {self.fired[a]:>7}{mark}")
        return out
