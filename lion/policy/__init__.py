"""The policy toolkit, above the kernel's policy language: formatting, schemas,
validation, analysis and the `lion policy` command."""

from typing import TYPE_CHECKING, Any

from lion.policy.format import format_policies
from lion.policy.schema import Schema
from lion.policy.validate import ValidationIssue, ValidationReport, conforms, validate

if TYPE_CHECKING:
    from lion.policy.analyze import (
        Analysis,
        Counterexample,
        always_allows,
        always_denies,
        diff,
        equivalent,
        implies,
        never_indeterminate,
    )

# The analysis imports z3; it loads on first use, so the rest of the toolkit starts fast.
_ANALYSIS = frozenset(
    {
        "Analysis",
        "Counterexample",
        "always_allows",
        "always_denies",
        "diff",
        "equivalent",
        "implies",
        "never_indeterminate",
    }
)


def __getattr__(name: str) -> Any:
    if name in _ANALYSIS:
        from lion.policy import analyze

        return getattr(analyze, name)
    raise AttributeError(f"module `lion.policy` has no attribute `{name}`")


__all__ = [
    "Analysis",
    "Counterexample",
    "Schema",
    "ValidationIssue",
    "ValidationReport",
    "always_allows",
    "always_denies",
    "conforms",
    "diff",
    "equivalent",
    "format_policies",
    "implies",
    "never_indeterminate",
    "validate",
]
