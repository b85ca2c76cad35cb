"""The values a policy sees: tool arguments as the policy language can hold them.

The policy language (Cedar's) has no null and no floating-point numbers, so
arguments as JSON would make every call that carries one fail to evaluate,
and fail closed. `policy_json` keeps what the language can say and maps the
rest: a null (an optional argument left out) is dropped, a whole float
becomes an int, any other float its shortest decimal string (a comparison
with a number is then an error: INDETERMINATE, never a silent pass).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["policy_json"]


def policy_json(value: Any) -> Any:
    """`value` (plain JSON data) with nulls dropped and floats made ints or decimal strings."""
    if isinstance(value, Mapping):
        return {k: policy_json(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [policy_json(v) for v in value if v is not None]
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**63:
            return int(value)
        return repr(value)
    return value
