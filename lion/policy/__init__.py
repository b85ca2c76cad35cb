"""The policy toolkit, above the kernel's policy language: formatting, schemas,
validation, analysis and the `lion policy` command."""

from lion.policy.format import format_policies
from lion.policy.schema import Schema
from lion.policy.validate import ValidationIssue, ValidationReport, conforms, validate

__all__ = [
    "Schema",
    "ValidationIssue",
    "ValidationReport",
    "conforms",
    "format_policies",
    "validate",
]
