"""The Rust backend: thin wrappers that give `lion._native` the Python kernel's types.

Everything is decided in Rust; these wrappers only convert: tuples from the
core become `Response`, `Capability`, `CapabilityToken` and `Morphism`, so
callers see the same values whichever backend they chose.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from lion import _native
from lion.errors import CapabilityError, PolicyError
from lion.kernel.capability import Capability, CapabilityToken, decode_token
from lion.kernel.compose import CompositionError, Morphism
from lion.kernel.decision import Decision
from lion.kernel.policy import (
    Effect,
    EntityUID,
    Kleene,
    PolicyErrorInfo,
    PolicyResult,
    Response,
)
from lion.kernel.policy._parse import check_unicode
from lion.kernel.policy._text import argument_surrogate, find_surrogate
from lion.kernel.revocation import RevocationStore

__all__ = ["RustAuthority", "RustBackend", "RustPolicies"]

_DECISIONS = {d.name: d for d in Decision}

#: A policy that is not FALSE: its number (TRUE) or `(number, message)` (UNKNOWN).
_Hit = int | tuple[int, str]
_Raw = tuple[str, tuple[str, ...], tuple[tuple[str, str], ...], tuple[_Hit, ...]]


def _not_unicode(exc: UnicodeEncodeError, *inputs: tuple[str, Any]) -> PolicyError:
    """The PolicyError for a lone surrogate the core could not take, naming the field
    as the Python backend does (found only after the fact: no cost when all is well)."""
    for path, data in inputs:
        found = find_surrogate(data, path)
        if found is not None:
            return PolicyError(found)
    return PolicyError(f"input is not valid unicode: {exc.reason}")


class RustPolicies:
    """A policy set parsed once by the Rust core.

    The core reports which policies are not FALSE (its `hits`); they decide the
    whole `Response`, so responses are kept by hits and shared: a repeated
    outcome costs one dict lookup, and `results` lists every policy without
    building a tuple per request.
    """

    __slots__ = ("_cache", "_cache_max", "_false", "_set", "_true")

    def __init__(self, text: str, path: str = "<policies>") -> None:
        try:
            self._set = _native.PolicySet(text, path)
        except UnicodeEncodeError as exc:
            if isinstance(text, str):
                check_unicode(text, path)
            raise PolicyError(f"{path}: policy source is not valid unicode: {exc.reason}") from None
        self._init_results()

    @classmethod
    def _wrap(cls, native: _native.PolicySet) -> RustPolicies:
        out = cls.__new__(cls)
        out._set = native
        out._init_results()
        return out

    def _init_results(self) -> None:
        pairs = list(zip(self._set.ids, self._set.effects, strict=True))
        self._false = tuple(PolicyResult(i, Effect(e), Kleene.FALSE) for i, e in pairs)
        self._true = tuple(PolicyResult(i, Effect(e), Kleene.TRUE) for i, e in pairs)
        self._cache: dict[tuple[_Hit, ...], Response] = {}
        # Bounded by entries and by the results they hold (a tuple per entry).
        self._cache_max = max(8, min(256, 200_000 // max(1, len(pairs))))

    def __len__(self) -> int:
        return len(self._set)

    @property
    def ids(self) -> tuple[str, ...]:
        """The static policy ids in file order, then the linked ones in link order."""
        return tuple(self._set.ids)

    @property
    def templates(self) -> tuple[str, ...]:
        """The template ids, in file order."""
        return tuple(self._set.templates)

    def link(self, template_id: str, new_id: str, slots: Mapping[str, Any]) -> RustPolicies:
        """A new set with template `template_id` linked as `new_id` (as `PolicySet.link`)."""
        if not isinstance(new_id, str) or not new_id:
            raise PolicyError(f"a linked policy needs a non-empty string id, got {new_id!r}")
        if not isinstance(template_id, str):
            raise PolicyError(f"cannot link `{new_id}`: `{template_id}` is not a template")
        if isinstance(slots, Mapping):
            slots = {k: v.to_json() if isinstance(v, EntityUID) else v for k, v in slots.items()}
        try:
            return self._wrap(self._set.link(template_id, new_id, slots))
        except UnicodeEncodeError as exc:
            found = find_surrogate(slots, "slots")
            raise PolicyError(found or f"policy id is not valid unicode: {exc.reason}") from None

    def link_all(self, links: Any) -> RustPolicies:
        """A new set with every link of Cedar's JSON template-links form (see `PolicySet`)."""
        try:
            return self._wrap(self._set.link_all(links))
        except UnicodeEncodeError as exc:
            raise _not_unicode(exc, ("template links", links)) from None

    def _response(self, raw: _Raw) -> Response:
        hits = raw[3]
        cached = self._cache.get(hits)
        if cached is not None:
            return cached
        decision, determining, errors, _ = raw
        results = list(self._false)
        for hit in hits:
            if isinstance(hit, int):
                results[hit] = self._true[hit]
            else:
                index, message = hit
                policy = self._false[index]
                results[index] = PolicyResult(
                    policy.policy_id, policy.effect, Kleene.UNKNOWN, message
                )
        response = Response(
            _DECISIONS[decision],
            determining,
            tuple(PolicyErrorInfo(pid, message) for pid, message in errors),
            tuple(results),
        )
        if len(self._cache) >= self._cache_max:
            self._cache.clear()
        self._cache[hits] = response
        return response

    # The core takes an Entities handle, JSON text or the decoded list as they are.
    def evaluate(self, request: Any, entities: Any = None) -> Response:
        try:
            return self._response(self._set.evaluate(request, entities))
        except UnicodeEncodeError as exc:
            raise _not_unicode(exc, ("request", request), ("entities", entities)) from None

    def evaluate_batch(self, requests: Sequence[Any], entities: Any = None) -> list[Response]:
        try:
            respond = self._response
            return [respond(r) for r in self._set.evaluate_batch(requests, entities)]
        except UnicodeEncodeError as exc:
            inputs = [("request", r) for r in requests]
            raise _not_unicode(exc, ("entities", entities), *inputs) from None


def _capability(raw: tuple[str, str, str, frozenset[str], int, str | None]) -> Capability:
    cap_id, holder, resource, rights, expiry, parent = raw
    return Capability(
        id=cap_id, holder=holder, resource=resource, rights=rights, expiry=expiry, parent=parent
    )


# The core reads tokens as text; a branch presents the same parsed token on every call, so
# its encoding is remembered (keyed by identity, the entry holding the token so the id
# cannot be reused while cached). Bounded: cleared when full.
_ENCODED: dict[int, tuple[CapabilityToken, str]] = {}
_ENCODED_MAX = 4096


def _text(token: CapabilityToken | str) -> str:
    if isinstance(token, str):
        return token
    if isinstance(token, CapabilityToken):
        entry = _ENCODED.get(id(token))
        if entry is not None and entry[0] is token:
            return entry[1]
        text = token.encode()
        if len(_ENCODED) >= _ENCODED_MAX:
            _ENCODED.clear()
        _ENCODED[id(token)] = (token, text)
        return text
    raise CapabilityError(f"expected a capability token, got {type(token).__name__}")


def _cap_not_unicode(exc: UnicodeEncodeError, **arguments: Any) -> CapabilityError:
    """The CapabilityError for a lone surrogate in an argument (the core takes UTF-8 only)."""
    found = argument_surrogate(**arguments)
    return CapabilityError(found or f"capability token is not valid unicode: {exc.reason}")


class RustAuthority:
    """The Rust capability authority with the Python authority's interface and types.

    The core asks `revocations` (any `RevocationStore`, e.g. one shared with
    Python authorities) once per verification; without one it uses
    LION_REVOCATION_DB's SQLite store if set, else its own in-memory set.
    """

    __slots__ = ("_auth",)

    def __init__(
        self,
        key: bytes | str | None = None,
        *,
        clock: Callable[[], float] | None = None,
        revoked: Iterable[str] = (),
        revocations: RevocationStore | None = None,
    ) -> None:
        tick = None if clock is None else (lambda: int(clock()))
        self._auth = _native.CapabilityAuthority(
            key, clock=tick, revoked=list(revoked), revocations=revocations
        )

    def __repr__(self) -> str:
        return repr(self._auth)[:-1] + ", rust)"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise CapabilityError("a capability authority holds a secret key and cannot be serialized")

    def now(self) -> int:
        return self._auth.now()

    def mint(
        self, holder: str, resource: str, rights: Iterable[str], expiry: int
    ) -> CapabilityToken:
        try:
            return decode_token(self._auth.mint(holder, resource, rights, expiry))
        except UnicodeEncodeError as exc:
            raise _cap_not_unicode(exc, holder=holder, resource=resource, right=rights) from None

    def attenuate(
        self,
        token: CapabilityToken | str,
        *,
        rights: Iterable[str] | None = None,
        resource: str | None = None,
        expiry: int | None = None,
    ) -> CapabilityToken:
        try:
            text = self._auth.attenuate(
                _text(token), rights=rights, resource=resource, expiry=expiry
            )
        except UnicodeEncodeError as exc:
            raise _cap_not_unicode(exc, resource=resource, right=rights) from None
        return decode_token(text)

    def transfer(
        self,
        token: CapabilityToken | str,
        holder: str,
        *,
        by: str,
        rights: Iterable[str] | None = None,
        resource: str | None = None,
        expiry: int | None = None,
    ) -> CapabilityToken:
        try:
            text = self._auth.transfer(
                _text(token), holder, by=by, rights=rights, resource=resource, expiry=expiry
            )
        except UnicodeEncodeError as exc:
            raise _cap_not_unicode(
                exc, holder=holder, by=by, resource=resource, right=rights
            ) from None
        return decode_token(text)

    def verify(self, token: CapabilityToken | str, *, now: int | None = None) -> Capability:
        try:
            return _capability(self._auth.verify(_text(token), now=now))
        except UnicodeEncodeError as exc:
            raise _cap_not_unicode(exc) from None

    def authorize(
        self,
        token: CapabilityToken | str,
        resource: str,
        right: str,
        *,
        holder: str | None = None,
        now: int | None = None,
    ) -> Capability:
        try:
            raw = self._auth.authorize(_text(token), resource, right, holder=holder, now=now)
        except UnicodeEncodeError as exc:
            raise _cap_not_unicode(exc, resource=resource, right=right, holder=holder) from None
        return _capability(raw)

    def revoke(self, target: str | Capability | CapabilityToken) -> None:
        cap_id = target.id if isinstance(target, Capability | CapabilityToken) else target
        try:
            self._auth.revoke(cap_id)
        except UnicodeEncodeError as exc:
            raise _cap_not_unicode(exc, target=cap_id) from None

    def is_revoked(self, cap_id: str) -> bool:
        try:
            return self._auth.is_revoked(cap_id)
        except UnicodeEncodeError:
            return False  # never revoked: `revoke` refuses such an id, as in Python

    @property
    def revoked(self) -> frozenset[str]:
        return self._auth.revoked


def _morphism_tuple(m: Morphism) -> tuple[Any, ...]:
    if not isinstance(m, Morphism):
        raise CompositionError(f"expected a morphism, got `{type(m).__name__}`")
    return (m.source, m.target, m.required, m.pre, m.post, m.name)


def _morphism(raw: tuple[Any, ...]) -> Morphism:
    source, target, required, pre, post, name = raw
    return Morphism(source, target, required, pre, post, name=name)


class RustBackend:
    """The Rust core (`lion._native`), built by `make build`."""

    name = "rust"

    def policy_set(self, text: str, path: str = "<policies>") -> RustPolicies:
        return RustPolicies(text, path)

    def entities(self, data: Any) -> _native.Entities:
        try:
            return _native.Entities(data)
        except UnicodeEncodeError as exc:
            raise _not_unicode(exc, ("entities", data)) from None

    def authority(
        self,
        key: bytes | str | None = None,
        *,
        clock: Callable[[], float] | None = None,
        revocations: RevocationStore | None = None,
    ) -> RustAuthority:
        return RustAuthority(key, clock=clock, revocations=revocations)

    def compose(self, f: Morphism, g: Morphism) -> Morphism:
        return _morphism(_native.compose_morphisms(_morphism_tuple(f), _morphism_tuple(g)))

    def product(self, f: Morphism, g: Morphism) -> Morphism:
        return _morphism(_native.product_morphisms(_morphism_tuple(f), _morphism_tuple(g)))

    def would_deadlock(
        self, waiting_on: Mapping[str, str | Collection[str]], waiter: str, target: str
    ) -> bool:
        return _native.would_deadlock(waiting_on, waiter, target)

    def __repr__(self) -> str:
        return "RustBackend()"
