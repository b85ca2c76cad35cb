"""Bounds that keep parsing and evaluation finite and small.

Exceeding a limit while parsing (policies, entities, requests) is a
``PolicyError``; exceeding one while evaluating makes that policy UNKNOWN.
"""

from __future__ import annotations

from dataclasses import dataclass

from lion.errors import PolicyError

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Size and effort bounds for the policy engine.

    ``max_depth`` bounds expression nesting in policies and value nesting in
    JSON; ``max_steps`` bounds the work spent evaluating one policy for one
    request (each expression node and each set element touched is a step).
    """

    max_source_length: int = 10_000_000
    max_policies: int = 10_000
    max_depth: int = 200
    max_string_length: int = 100_000
    max_set_size: int = 10_000
    max_record_size: int = 10_000
    max_entities: int = 1_000_000
    max_steps: int = 100_000

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise PolicyError(f"limit `{name}` must be a positive integer, got `{value!r}`")
        # Python's own recursion limit must stay out of reach of evaluation.
        if self.max_depth > 400:
            raise PolicyError(f"limit `max_depth` must be at most 400, got `{self.max_depth}`")


DEFAULT_LIMITS = Limits()
