"""Keeping secrets out of messages: API keys checked when set, URLs and texts redacted.

A key read from a file often ends in a newline; sent as a header it makes
h11 refuse the request with the key quoted in the error. So keys and header
values are checked before any request, and every URL and foreign error text
that reaches a message, a repr or a log line goes through :func:`redact_url`
or :class:`Redactor` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from lion.errors import AuthenticationError, BadRequestError

MASK = "***"
_SECRET_HEADER = re.compile(r"auth|key|token|secret|cookie|password|signature", re.IGNORECASE)
_SECRET_PARAM = re.compile(r"key|token|secret|password|sig|auth", re.IGNORECASE)
_USERINFO = re.compile(r"(//)[^/?#@]*@")
_MIN_SECRET = 4  # shorter "secrets" would mask ordinary words in messages


def _bad_char(value: str) -> str | None:
    """A description of the first character not allowed in a header value, or None."""
    for i, ch in enumerate(value):
        code = ord(ch)
        if code < 0x20 or code == 0x7F:
            return f"a control character (U+{code:04X}) at position {i}"
        if code > 0x7E:
            return f"a non-ASCII character at position {i}"
    return None


def check_api_key(key: str | None, *, dialect: str) -> str | None:
    """``key`` if it can be sent as a bearer token, else an AuthenticationError not showing it."""
    if key is None:
        return None
    if not isinstance(key, str):
        raise AuthenticationError(
            f"the api key of `{dialect}` must be a str, not {type(key).__name__}"
        )
    problem = _bad_char(key)
    if problem is None and key != key.strip():
        problem = "leading or trailing spaces"
    if problem is not None:
        hint = " (a trailing newline from a file? strip it)" if key[-1:] in "\r\n" else ""
        raise AuthenticationError(
            f"the api key of `{dialect}` ({len(key)} characters) has {problem}{hint};"
            " it was not sent"
        )
    return key


def check_headers(headers: Mapping[str, str], *, dialect: str) -> dict[str, str]:
    """The extra headers, checked: a bad value is named by its header, never shown."""
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            raise BadRequestError(f"`{dialect}`: a header name is not a valid token: {name!r:.60}")
        if not isinstance(value, str):
            raise BadRequestError(f"`{dialect}`: header `{name}` must be a str")
        problem = _bad_char(value.replace("\t", " "))
        if problem is not None:
            raise BadRequestError(f"`{dialect}`: header `{name}` has {problem}; it was not sent")
        checked[name] = value
    return checked


def secret_headers(headers: Mapping[str, str]) -> list[str]:
    """The values of headers that carry credentials (and a bearer token alone)."""
    found: list[str] = []
    for name, value in headers.items():
        if _SECRET_HEADER.search(name):
            found.append(value)
            scheme, _, token = value.partition(" ")
            if token and scheme.lower() in ("bearer", "basic", "token"):
                found.append(token)
    return found


def url_secrets(url: str) -> list[str]:
    """The user name, password and secret-looking query values in ``url``."""
    try:
        parts = urlsplit(url)
        found = [s for s in (parts.username, parts.password) if s]
        found += [v for k, v in parse_qsl(parts.query) if _SECRET_PARAM.search(k) and v]
    except ValueError:
        return []
    return found


def redact_url(url: str) -> str:
    """``url`` fit to show: credentials and secret query values replaced by ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(_SECRET_PARAM.search(k) for k, _ in pairs):
                query = urlencode(
                    [(k, MASK if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*"
                )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # not parseable: mask anything that looks like userinfo
        return _USERINFO.sub(r"\1" + MASK + "@", url)


def strip_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without its ``user:password@`` and the pair (httpx would log it with the url)."""
    try:
        parts = urlsplit(url)
        if "@" not in parts.netloc:
            return url, None
        user, pw = parts.username or "", parts.password or ""
        from urllib.parse import unquote

        host = parts.netloc.rpartition("@")[2]
        clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
        return clean, (unquote(user), unquote(pw))
    except ValueError:
        return url, None


class Redactor:
    """Replaces known secrets (and their escaped forms, as reprs show them) in any text."""

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if len(secret) < _MIN_SECRET:
                continue
            forms.add(secret)
            forms.add(repr(secret)[1:-1])
            forms.add(repr(secret.encode("utf-8", "replace"))[2:-1])
        ordered = sorted(forms, key=len, reverse=True)  # longest first: no partial leftovers
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def leaks(self, text: str) -> bool:
        return self._pattern is not None and self._pattern.search(text) is not None
