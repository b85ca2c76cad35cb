"""Policy-language text helpers: string escapes, entity uids, Unicode checks."""

from __future__ import annotations

import re

from lion.errors import PolicyError, SourceLocation
from lion.kernel.policy._text import first_surrogate, surrogate_message
from lion.kernel.policy._values import EntityUID

__all__ = ["check_unicode", "clip", "is_type_name", "parse_entity_uid", "unescape"]

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "0": "\0", "'": "'", '"': '"'}
_HEX = re.compile(r"[0-9a-fA-F]+")


def unescape(body: str, pattern: bool = False) -> list[str | None]:
    """Decode the inside of a string literal into characters.

    With ``pattern`` (a ``like`` pattern), an unescaped ``*`` becomes ``None``
    (the wildcard) and ``\\*`` a literal star. Raises ``ValueError`` with a
    message on an invalid escape.
    """
    out: list[str | None] = []
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch == "*" and pattern:
            out.append(None)
            i += 1
            continue
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("unterminated escape `\\`")
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "*" and pattern:
            out.append("*")
            i += 2
        elif nxt == "x":
            digits = body[i + 2 : i + 4]
            if len(digits) != 2 or not _HEX.fullmatch(digits) or int(digits, 16) > 0x7F:
                raise ValueError(f"the input `{body[i : i + 4]}` is not a valid escape")
            out.append(chr(int(digits, 16)))
            i += 4
        elif nxt == "u":
            close = body.find("}", i)
            raw = body[i + 3 : close] if body.startswith("{", i + 2) and close > 0 else ""
            # Like Rust (which Cedar follows): underscores may separate the hex digits.
            digits = raw.replace("_", "") if raw[:1] != "_" else ""
            code = int(digits, 16) if 1 <= len(digits) <= 6 and _HEX.fullmatch(digits) else -1
            if code < 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise ValueError(f"the input `{body[i : i + 10]}` is not a valid unicode escape")
            out.append(chr(code))
            i = close + 1
        else:
            raise ValueError(f"the input `\\{nxt}` is not a valid escape")
    return out


def clip(text: str, limit: int = 40) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_unicode(text: str, path: str = "<policies>") -> None:
    """PolicyError at the first lone surrogate in policy text (UTF-8 cannot hold one)."""
    at = first_surrogate(text)
    if at is None:
        return
    line = text.count("\n", 0, at) + 1
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    shown = text[start : len(text) if end < 0 else end]
    # The caret line must stay printable: surrogates are shown as U+FFFD.
    shown = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in shown)
    location = SourceLocation(path, line, at - start + 1, shown)
    raise PolicyError(surrogate_message(text, at), location)


_NAME = r"[_a-zA-Z][_a-zA-Z0-9]*"
_UID = re.compile(rf"\s*({_NAME}(?:\s*::\s*{_NAME})*)\s*::\s*\"((?:[^\"\\]|\\.)*)\"\s*", re.S)
_TYPE_NAME = re.compile(rf"{_NAME}(?:::{_NAME})*")


def parse_entity_uid(text: str) -> EntityUID:
    """Parse ``Type::"id"`` (the request's string form); raises ValueError with a message."""
    match = _UID.fullmatch(text)
    if match is None:
        raise ValueError(f'`{clip(text)}` is not an entity uid such as `User::"alice"`')
    type_name = re.sub(r"\s+", "", match.group(1))
    chars = unescape(match.group(2))
    return EntityUID(type_name, "".join(c for c in chars if c is not None))


def is_type_name(text: str) -> bool:
    """Whether ``text`` is a valid entity type name such as ``User`` or ``A::B``."""
    return _TYPE_NAME.fullmatch(text) is not None
