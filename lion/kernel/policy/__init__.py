"""The policy language and its three-valued evaluator.

Policies are written in a Cedar-compatible subset (see docs/policy.md). Each
policy evaluates, in strong Kleene logic, to TRUE, FALSE or UNKNOWN (an
evaluation error is UNKNOWN, never silently false), and ``combine`` turns the
policy values into PERMIT, DENY or INDETERMINATE::

    policies = PolicySet.from_str('permit(principal, action, resource) when { context.ok };')
    response = policies.evaluate(
        {"principal": 'User::"alice"', "action": 'Action::"read"',
         "resource": 'Doc::"d"', "context": {}},
        [],
    )
    response.decision      # Decision.INDETERMINATE: `context.ok` is missing
    print(response.explain())

Malformed policies, entities and requests raise ``lion.errors.PolicyError``.
"""

from lion.kernel.decision import Decision
from lion.kernel.policy._ast import (
    And,
    BinaryOp,
    Condition,
    Effect,
    Expr,
    ExtCall,
    GetAttr,
    HasAttr,
    IfThenElse,
    IsType,
    Like,
    Literal,
    MethodCall,
    Neg,
    Not,
    Or,
    Pattern,
    Policy,
    RecordExpr,
    Scope,
    SetExpr,
    Span,
    Var,
)
from lion.kernel.policy._combine import Kleene, combine
from lion.kernel.policy._entities import Entities, Entity, Request
from lion.kernel.policy._limits import DEFAULT_LIMITS, Limits
from lion.kernel.policy._parse import parse_policies
from lion.kernel.policy._policy_set import PolicySet
from lion.kernel.policy._response import PolicyErrorInfo, PolicyResult, Response
from lion.kernel.policy._values import (
    CedarSet,
    Datetime,
    Decimal,
    Duration,
    EntityUID,
    IPAddr,
    Record,
    Value,
)

__all__ = [
    "DEFAULT_LIMITS",
    "And",
    "BinaryOp",
    "CedarSet",
    "Condition",
    "Datetime",
    "Decimal",
    "Decision",
    "Duration",
    "Effect",
    "Entities",
    "Entity",
    "EntityUID",
    "Expr",
    "ExtCall",
    "GetAttr",
    "HasAttr",
    "IPAddr",
    "IfThenElse",
    "IsType",
    "Kleene",
    "Like",
    "Limits",
    "Literal",
    "MethodCall",
    "Neg",
    "Not",
    "Or",
    "Pattern",
    "Policy",
    "PolicyErrorInfo",
    "PolicyResult",
    "PolicySet",
    "Record",
    "RecordExpr",
    "Request",
    "Response",
    "Scope",
    "SetExpr",
    "Span",
    "Value",
    "Var",
    "combine",
    "parse_policies",
]
