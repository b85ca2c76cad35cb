"""Named spec mutants: the historic survivors of issue 17, as text patches.

Each one replaces a piece of a chapter's source text; the patched text is
parsed and checked like any spec. `touched` names the definitions it changes,
so that only the obligations and binds that read them are checked again.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NAMED", "Named"]


@dataclass(frozen=True)
class Named:
    file: str  # the spec file's stem: "policy"
    name: str
    description: str
    old: str
    new: str
    touched: tuple[str, ...]


_BOCHVAR_AND = """fn k_and(a: Truth, b: Truth) -> Truth =
  if a == U or b == U then U else if a == T and b == T then T else F"""
_BOCHVAR_OR = """fn k_or(a: Truth, b: Truth) -> Truth =
  if a == U or b == U then U else if a == T or b == T then T else F"""

NAMED: tuple[Named, ...] = (
    Named(
        "policy",
        "bochvar",
        "k_and and k_or are Bochvar's (weak Kleene: any unknown makes the result unknown), "
        "not strong Kleene's; every law of the connectives still holds",
        """fn k_and(a: Truth, b: Truth) -> Truth =
  if a == F or b == F then F else if a == T and b == T then T else U
fn k_or(a: Truth, b: Truth) -> Truth =
  if a == T or b == T then T else if a == F and b == F then F else U""",
        _BOCHVAR_AND + "\n" + _BOCHVAR_OR,
        ("k_and", "k_or"),
    ),
    Named(
        "policy",
        "bochvar-or",
        "k_or alone is Bochvar's: an unknown operand hides a T",
        """fn k_or(a: Truth, b: Truth) -> Truth =
  if a == T or b == T then T else if a == F and b == F then F else U""",
        _BOCHVAR_OR,
        ("k_or",),
    ),
    Named(
        "policy",
        "not-unknown-is-false",
        "k_not turns an unknown into F (the negation of an error is taken as false)",
        "fn k_not(a: Truth) -> Truth = match a { T => F, F => T, U => U }",
        "fn k_not(a: Truth) -> Truth = match a { T => F, F => T, U => F }",
        ("k_not",),
    ),
    Named(
        "policy",
        "permit-overrides",
        "deny_overrides combines as permit-overrides: a PERMIT wins over a DENY",
        """  if a == DENY or b == DENY then DENY
  else if a == INDETERMINATE or b == INDETERMINATE then INDETERMINATE else PERMIT""",
        """  if a == PERMIT or b == PERMIT then PERMIT
  else if a == INDETERMINATE or b == INDETERMINATE then INDETERMINATE else DENY""",
        ("deny_overrides",),
    ),
    Named(
        "policy",
        "scan-permit-overrides",
        "the decision lets a satisfied permit win over a satisfied forbid",
        """  if s.forbid_t then DENY
  else if not (s.permit_t or s.permit_u) then DENY""",
        """  if s.permit_t then PERMIT else if s.forbid_t then DENY
  else if not (s.permit_t or s.permit_u) then DENY""",
        ("decide",),
    ),
    Named(
        "workflow",
        "reset",
        "a `reset` action restarts a finished run from scratch, so a workflow can run forever",
        "  }\n}\n\n// Done only grows",
        """  }
  action reset() {
    requires running == {}
    done = {}
    failed = {}
    skipped = skips(deps, cond, fill(0), {}, {}, {})
    running = starts(deps, {}, {}, {}, skips(deps, cond, fill(0), {}, {}, {}), BUDGET)
    attempts = bump(fill(0),
      starts(deps, {}, {}, {}, skips(deps, cond, fill(0), {}, {}, {}), BUDGET))
    budget = BUDGET - card(starts(deps, {}, {}, {}, skips(deps, cond, fill(0), {}, {}, {}), BUDGET))
    taken = card(starts(deps, {}, {}, {}, skips(deps, cond, fill(0), {}, {}, {}), BUDGET))
  }
}

// Done only grows""",
        ("Workflow",),
    ),
    Named(
        "capabilities",
        "use-ignores-revocation",
        "`use` accepts a capability whose ancestor was revoked",
        """  action use(c: CapId, who: Principal, a: Access) {
    requires c in minted and cap[c].holder == who and covers(cap[c], a, now)
      and not (c in revoked) and (anc[c] inter revoked) == {}""",
        """  action use(c: CapId, who: Principal, a: Access) {
    requires c in minted and cap[c].holder == who and covers(cap[c], a, now)
      and not (c in revoked)""",
        ("Authority",),
    ),
    Named(
        "capabilities",
        "use-ignores-expiry",
        "`use` accepts an expired capability (it checks rights and scope, not the time)",
        """  action use(c: CapId, who: Principal, a: Access) {
    requires c in minted and cap[c].holder == who and covers(cap[c], a, now)""",
        """  action use(c: CapId, who: Principal, a: Access) {
    requires c in minted and cap[c].holder == who
      and a.right in cap[c].rights and covers_path(cap[c].scope, a.res)""",
        ("Authority",),
    ),
    Named(
        "capabilities",
        "forge",
        "a `forge` action mints an all-rights root outside the kernel's mint",
        """  // attenuation: anyone presenting p gets""",
        """  action forge(c: CapId, to: Principal) {
    requires not (c in minted)
    minted = minted union {c}
    cap = cap with [c: Cap(holder: to, scope: Pattern(shape: Everything, s1: X, s2: none),
                           rights: {Read, Write, Exec}, expiry: 3, parent: none)]
    anc = anc with [c: {}]
  }
  // attenuation: anyone presenting p gets""",
        ("Authority",),
    ),
)
