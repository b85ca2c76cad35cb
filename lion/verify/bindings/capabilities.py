"""`spec/capabilities.lion` <-> `lion.kernel.capability`.

Spec paths and patterns become the kernel's strings: `X/Y`, `X/*`, `*`.
The `Authority` machine drives a real capability authority (HMAC-signed
tokens, a fixed key and a clock the spec's `tick` advances). The authority
mints its own random ids, so the adapter keeps a two-way map between the
spec's small ids and the ids the kernel handed out; principals and rights
keep their names. The adapter only does the spec's bookkeeping (which ids it
has handed out, the clock's bound); every other answer, and every state
variable it reports, is read off the kernel: the capability table and the
ancestors from the signed chains, the revocation set from the authority's
store, and the verdicts after a revoke from the kernel's `verify` of every token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from lion.errors import CapabilityError
from lion.kernel import capability as kc
from lion.kernel.backend import get_backend
from lion.kernel.revocation import RevocationStore
from lion.verify.values import EnumValue, MapValue, RecordValue

__all__ = [
    "AuthorityModel",
    "RustAuthorityModel",
    "covers_path",
    "covers_path_rust",
    "narrower_or_equal",
    "narrower_or_equal_rust",
    "path_text",
    "pattern_text",
]

KEY = b"conformance-key-not-secret-0123456789"  # >= 32 bytes, as every authority requires
CAP_IDS = range(4)  # the spec's CapId


def _no_store() -> RevocationStore | None:
    return None


#: The revocation store each model's authority gets (None: the backend's default).
#: Tests replace it to plant a bug in a store both backends consult.
revocations: Callable[[], RevocationStore | None] = _no_store


def path_text(r: RecordValue) -> str:
    segments = [r["s1"].variant]
    if r["s2"] is not None:
        segments.append(r["s2"].variant)
        if r["s3"] is not None:
            segments.append(r["s3"].variant)
    return "/".join(segments)


def pattern_text(p: RecordValue) -> str:
    shape = p["shape"].variant
    if shape == "Everything":
        return "*"
    base = p["s1"].variant if p["s2"] is None else f"{p['s1'].variant}/{p['s2'].variant}"
    return base if shape == "Exact" else f"{base}/*"


def _seg(name: str) -> EnumValue:
    return EnumValue("Seg", name)


def pattern_value(text: str) -> RecordValue:
    """The spec Pattern of a kernel pattern string (the inverse of `pattern_text`)."""
    if text == "*":
        return RecordValue(
            "Pattern", {"shape": EnumValue("Shape", "Everything"), "s1": _seg("X"), "s2": None}
        )
    shape = "Below" if text.endswith("/*") else "Exact"
    segments = text.removesuffix("/*").split("/")
    second = _seg(segments[1]) if len(segments) > 1 else None
    return RecordValue(
        "Pattern", {"shape": EnumValue("Shape", shape), "s1": _seg(segments[0]), "s2": second}
    )


def covers_path(p: RecordValue, r: RecordValue) -> bool:
    return kc.covers(pattern_text(p), path_text(r))


def narrower_or_equal(c: RecordValue, p: RecordValue) -> bool:
    return kc.narrower_or_equal(pattern_text(c), pattern_text(p))


def covers_path_rust(p: RecordValue, r: RecordValue) -> bool:
    from lion import _native

    return _native.capability_covers(pattern_text(p), path_text(r))


def narrower_or_equal_rust(c: RecordValue, p: RecordValue) -> bool:
    from lion import _native

    return _native.capability_narrower_or_equal(pattern_text(c), pattern_text(p))


def _rights(rights: frozenset[EnumValue]) -> list[str]:
    return sorted(r.variant for r in rights)


_UNUSED = RecordValue(
    "Cap",
    {
        "holder": EnumValue("Principal", "Kernel"),
        "scope": pattern_value("*"),
        "rights": frozenset(),
        "expiry": 0,
        "parent": None,
    },
)


class AuthorityModel:
    """The spec's `Authority` machine, played by a backend's CapabilityAuthority."""

    backend: ClassVar[str] = "python"

    def __init__(self) -> None:
        self.now = 0
        self.authority: Any = get_backend(self.backend).authority(
            KEY, clock=lambda: self.now, revocations=revocations()
        )
        self.tokens: dict[int, Any] = {}  # spec id -> the token the kernel returned
        self.spec_ids: dict[str, int] = {}  # kernel id -> spec id
        self.last: RecordValue | None = None
        self.answers = dict.fromkeys(CAP_IDS, False)

    def _keep(self, c: int, token: Any) -> bool:
        self.tokens[c] = token
        self.spec_ids[token.id] = c
        return True

    def _spec_id(self, cap_id: str) -> int:
        return self.spec_ids[cap_id]  # a KeyError: the kernel reports an id it never minted

    def init(self) -> bool:
        return True

    def step(self, action: str, *args: Any) -> bool:
        auth = self.authority
        if action == "mint":
            c, to, scope, rights, expiry = args
            if c in self.tokens:  # a spec id names one capability; the kernel's are random
                return False
            try:
                token = auth.mint(to.variant, pattern_text(scope), _rights(rights), expiry)
            except CapabilityError:
                return False
            return self._keep(c, token)
        if action in ("derive", "give"):
            p, c = args[0], args[1]
            if p not in self.tokens or c in self.tokens:
                return False
            try:
                if action == "derive":
                    _, _, rights, scope, expiry = args
                    token = auth.attenuate(
                        self.tokens[p],
                        rights=_rights(rights),
                        resource=pattern_text(scope),
                        expiry=expiry,
                    )
                else:
                    _, _, by, to = args
                    token = auth.transfer(self.tokens[p], to.variant, by=by.variant)
            except CapabilityError:
                return False
            return self._keep(c, token)
        if action == "revoke":
            (c,) = args
            if c not in self.tokens:
                return False
            auth.revoke(self.tokens[c].id)
            self.answers = {d: self._verifies(d) for d in CAP_IDS}
            return True
        if action == "tick":
            if self.now >= 3:  # the spec's time bound
                return False
            self.now += 1
            return True
        if action == "use":
            c, who, a = args
            if c not in self.tokens:
                return False
            try:
                auth.authorize(
                    self.tokens[c], path_text(a["res"]), a["right"].variant, holder=who.variant
                )
            except CapabilityError:
                return False
            self.last = RecordValue("Use", {"who": who, "access": a})
            return True
        raise ValueError(f"unknown action `{action}`")

    def _verifies(self, c: int) -> bool:
        if c not in self.tokens:
            return False
        try:
            self.authority.verify(self.tokens[c])
        except CapabilityError:
            return False
        return True

    def _chain(self, c: int) -> tuple[kc.Capability, ...]:
        token = self.tokens[c]
        parsed = kc.decode_token(token) if isinstance(token, str) else token
        return tuple(parsed.chain)

    def _cap(self, c: int) -> RecordValue:
        if c not in self.tokens:
            return _UNUSED
        cap = self._chain(c)[-1]
        return RecordValue(
            "Cap",
            {
                "holder": EnumValue("Principal", cap.holder),
                "scope": pattern_value(cap.resource),
                "rights": frozenset(EnumValue("Right", r) for r in cap.rights),
                "expiry": cap.expiry,
                "parent": None if cap.parent is None else self._spec_id(cap.parent),
            },
        )

    def state(self) -> dict[str, Any]:
        return {
            "minted": frozenset(self.tokens),
            "cap": MapValue({c: self._cap(c) for c in CAP_IDS}),
            "anc": MapValue(
                {
                    c: frozenset(self._spec_id(x.id) for x in self._chain(c)[:-1])
                    if c in self.tokens
                    else frozenset()
                    for c in CAP_IDS
                }
            ),
            "revoked": frozenset(self._spec_id(x) for x in self.authority.revoked),
            "now": self.now,
            "last": self.last,
            "answers": MapValue(self.answers),
        }


class RustAuthorityModel(AuthorityModel):
    """The same machine on the Rust core's authority."""

    backend = "rust"
