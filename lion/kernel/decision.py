"""The three-valued decision shared by the policy engine, the IPU and observations."""

from __future__ import annotations

import enum

__all__ = ["Decision"]


class Decision(enum.Enum):
    """What the kernel says about a request.

    INDETERMINATE is Kleene's third value: the request cannot be decided with
    what is known (an attribute is missing, a condition errored). The runtime
    never treats it as PERMIT: it escalates to an approver or denies.
    """

    PERMIT = "permit"
    DENY = "deny"
    INDETERMINATE = "indeterminate"

    def __str__(self) -> str:
        return self.name
