"""The policy toolkit, above the kernel's policy language: formatting, schemas,
validation, analysis and the `lion policy` command."""

from lion.policy.format import format_policies

__all__ = ["format_policies"]
