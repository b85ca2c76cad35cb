"""Lone surrogates: Python strings may hold them, UTF-8 (and so the Rust core) cannot.

Both backends refuse them with the same wording, so a caller sees one
``lion.errors`` class whichever backend decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "argument_surrogate",
    "find_surrogate",
    "first_surrogate",
    "printable",
    "surrogate_message",
]


def first_surrogate(text: str) -> int | None:
    """The index of the first lone surrogate in ``text``, or None (fast for ASCII)."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def printable(text: str) -> str:
    """``text`` with any lone surrogate written as ``\\udXXX``, so a message can be printed."""
    if first_surrogate(text) is None:
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def surrogate_message(text: str, at: int) -> str:
    """A printable description: the code point, never the surrogate itself."""
    return f"string contains a lone surrogate U+{ord(text[at]):04X}, which is not valid unicode"


def find_surrogate(data: Any, path: str, depth: int = 0) -> str | None:
    """``"<path>: <message>"`` for the first lone surrogate in decoded JSON, else None.

    Paths are spelled as the loaders spell them (``request.context.a[0]``), so
    the Rust backend, which cannot take such strings at all, names the same
    field the Python backend does.
    """
    if depth > 1000:
        return None
    if isinstance(data, str):
        at = first_surrogate(data)
        return None if at is None else f"{path}: {surrogate_message(data, at)}"
    if isinstance(data, Mapping):
        for key, value in data.items():
            if isinstance(key, str) and (at := first_surrogate(key)) is not None:
                return f"{path}: record key {key!a}: {surrogate_message(key, at)}"
            found = find_surrogate(value, f"{path}.{key}", depth + 1)
            if found is not None:
                return found
    elif isinstance(data, list | tuple):
        for index, item in enumerate(data):
            found = find_surrogate(item, f"{path}[{index}]", depth + 1)
            if found is not None:
                return found
    return None


def argument_surrogate(**arguments: Any) -> str | None:
    """``"<name> <ascii repr>: <message>"`` for the first argument (a string, or an
    iterable of strings) holding a lone surrogate, else None."""
    for name, value in arguments.items():
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, list | tuple | set | frozenset):
            continue
        for text in texts:
            if isinstance(text, str) and (at := first_surrogate(text)) is not None:
                return f"{name} {text!a}: {surrogate_message(text, at)}"
    return None
