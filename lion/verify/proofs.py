"""`proofs/*.proof`: how each theorem and invariant is discharged.

One line per obligation, `#` starts a comment::

    # proofs/capabilities.proof
    attenuation_never_widens: smt
    revoked_closed: induction using parent_minted, minted_closed
    fifo_per_sender: bounded 6
    slow_theorem: smt timeout 30

Obligations without a line use the default: `smt` for theorems, `induction`
for invariants. A line naming no theorem or invariant is an error, so a
renamed theorem cannot silently lose its strategy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from lion.errors import SourceLocation, SpecError

__all__ = ["Strategy", "parse_proofs", "read_proofs"]


@dataclass(frozen=True)
class Strategy:
    kind: str = "smt"  # "smt" | "induction" | "bounded"
    bound: int = 0
    lemmas: tuple[str, ...] = ()
    timeout: float | None = None  # seconds; None means the command-line default
    explicit: bool = False  # written in a proofs file, not defaulted
    location: SourceLocation | None = field(default=None, compare=False)

    def __str__(self) -> str:
        text = f"bounded {self.bound}" if self.kind == "bounded" else self.kind
        if self.lemmas:
            text += " using " + ", ".join(self.lemmas)
        return text


_LINE = re.compile(
    r"^(?P<name>[A-Za-z_][A-Za-z_0-9.]*)\s*:\s*(?P<kind>smt|induction|bounded)"
    r"(?:\s+(?P<bound>\d+))?"
    r"(?:\s+using\s+(?P<lemmas>[A-Za-z_][A-Za-z_0-9]*(?:\s*,\s*[A-Za-z_][A-Za-z_0-9]*)*))?"
    r"(?:\s+timeout\s+(?P<timeout>\d+(?:\.\d+)?)s?)?\s*$"
)


def parse_proofs(text: str, path: str) -> dict[str, Strategy]:
    strategies: dict[str, Strategy] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        column = len(line) - len(line.lstrip()) + 1
        loc = SourceLocation(path, number, column, raw)
        m = _LINE.match(line.strip())
        if m is None:
            raise SpecError(
                "expected `name: smt`, `name: induction [using a, b]` or `name: bounded K`, "
                "optionally followed by `timeout SECONDS`",
                loc,
            )
        name, kind = m["name"], m["kind"]
        if name in strategies:
            raise SpecError(f"`{name}` has two strategies", loc)
        bound = int(m["bound"]) if m["bound"] else 0
        if kind == "bounded" and bound < 1:
            raise SpecError("`bounded` needs a depth of at least 1, e.g. `bounded 6`", loc)
        if kind != "bounded" and m["bound"]:
            raise SpecError(f"only `bounded` takes a depth, not `{kind}`", loc)
        lemmas = tuple(x.strip() for x in m["lemmas"].split(",")) if m["lemmas"] else ()
        if lemmas and kind != "induction":
            raise SpecError("`using` lemmas apply to `induction` only", loc)
        timeout = float(m["timeout"]) if m["timeout"] else None
        strategies[name] = Strategy(kind, bound, lemmas, timeout, True, loc)
    return strategies


def read_proofs(path: Path) -> dict[str, Strategy]:
    """The strategies in a proofs file; a missing file means all defaults."""
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(
            f"cannot read proofs file: {exc}", SourceLocation(str(path), 1, 1)
        ) from None
    return parse_proofs(text, str(path))
