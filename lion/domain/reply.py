"""Reading a model's structured reply: tolerant JSON extraction that says what it repaired.

Models wrap JSON in code fences, add prose around it, leave trailing commas,
write Python's ``True``/``None``, or stop before closing their brackets.
``extract_json`` undoes each of those and lists what it did; ``parse_reply``
then validates the value against a type (usually a Struct built by
OperableModel) and raises ReplyValidationError naming the field that failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from lion.errors import ReplyValidationError

__all__ = ["Reply", "extract_json", "parse_reply", "reply_error"]

T = TypeVar("T")

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\r?\n?(.*?)(?:```|\Z)", re.DOTALL)
_PATH = re.compile(r" - at `(\$[^`]*)`$")
_MISSING = re.compile(r"Object missing required field `([^`]+)`")
_UNKNOWN = re.compile(r"Object contains unknown field `([^`]+)`")
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}


@dataclass(frozen=True)
class Reply(Generic[T]):
    """A validated reply: the value, the repairs made to read it, and the raw text."""

    value: T
    repairs: tuple[str, ...]
    raw: str


def reply_error(
    message: str, *, raw: str, field: str | None = None, reason: str = "", repairs: Any = ()
) -> ReplyValidationError:
    """A ReplyValidationError carrying ``field``, ``reason``, ``repairs`` and ``raw``."""
    err = ReplyValidationError(message)
    err.field = field  # type: ignore[attr-defined]
    err.reason = reason or message  # type: ignore[attr-defined]
    err.repairs = tuple(repairs)  # type: ignore[attr-defined]
    err.raw = raw  # type: ignore[attr-defined]
    return err


def _decode(text: str) -> tuple[bool, Any, str]:
    try:
        return True, msgspec.json.decode(text), ""
    except msgspec.DecodeError as exc:
        return False, None, str(exc)


def extract_json(text: Any) -> tuple[Any, list[str]]:
    """The JSON value in a model's reply and the list of repairs needed to read it.

    Raises ReplyValidationError when no JSON can be recovered.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise reply_error("the reply is not UTF-8 text", raw=repr(text)) from None
    if not isinstance(text, str):
        raise reply_error(f"a reply must be text, not `{type(text).__name__}`", raw=repr(text))
    repairs: list[str] = []
    body = text.strip()
    if not body:
        raise reply_error("the reply is empty: expected a JSON value", raw=text)
    ok, value, err = _decode(body)
    if ok:
        return value, repairs

    fence = _FENCE.search(body)
    if fence is not None:
        lang = fence.group(1) or "plain"
        closed = fence.group(0).endswith("```") and len(fence.group(0)) > 3
        repairs.append(
            f"took the JSON from a ```{lang} code fence"
            + ("" if closed else " that was never closed")
        )
        if body[: fence.start()].strip() or body[fence.end() :].strip():
            repairs.append("removed prose around the code fence")
        body = fence.group(2).strip()
        ok, value, err = _decode(body)
        if ok:
            return value, repairs

    start = _first_bracket(body)
    if start is None:
        raise reply_error(
            f"no JSON object or array found in the reply: {err}", raw=text, repairs=repairs
        )
    end = _matching_end(body, start)
    candidate = body[start:end]
    if body[:start].strip() or body[end:].strip():
        repairs.append("removed prose around the JSON")
    ok, value, err = _decode(candidate)
    if ok:
        return value, repairs

    fixed, fixes = _repair(candidate)
    ok, value, _err2 = _decode(fixed)
    if ok:
        return value, repairs + fixes
    raise reply_error(
        f"the reply is not valid JSON even after repairs: {err}", raw=text, repairs=repairs + fixes
    )


def _first_bracket(s: str) -> int | None:
    positions = [i for i in (s.find("{"), s.find("[")) if i >= 0]
    return min(positions) if positions else None


def _matching_end(s: str, start: int) -> int:
    """Index just past the bracket closing the one at ``start`` (or len(s) if unclosed)."""
    depth = 0
    in_str = False
    escaped = False
    for i in range(start, len(s)):
        c = s[i]
        if in_str:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(s)


def _repair(s: str) -> tuple[str, list[str]]:
    """Fix trailing commas, Python literals and unclosed strings/brackets, outside strings."""
    out: list[str] = []
    stack: list[str] = []
    in_str = escaped = False
    trailing = literals = False
    i = 0
    while i < len(s):
        c = s[i]
        if in_str:
            out.append(c)
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_str = False
            i += 1
            continue
        if c == '"':
            in_str = True
        elif c in "{[":
            stack.append("}" if c == "{" else "]")
        elif c in "}]":
            # drop a comma (and whitespace) right before a closing bracket
            j = len(out) - 1
            while j >= 0 and out[j].isspace():
                j -= 1
            if j >= 0 and out[j] == ",":
                del out[j]
                trailing = True
            if stack:
                stack.pop()
        elif c.isalpha():
            m = re.match(r"[A-Za-z_]+", s[i:])
            word = m.group(0) if m else c
            if word in _PY_LITERALS:
                out.append(_PY_LITERALS[word])
                literals = True
            else:
                out.append(word)
            i += len(word)
            continue
        out.append(c)
        i += 1
    fixes: list[str] = []
    if trailing:
        fixes.append("removed trailing commas")
    if literals:
        fixes.append("replaced Python literals (True/False/None) with JSON ones")
    if in_str or stack:
        if in_str:
            out.append('"')
        text = "".join(out).rstrip()
        if text.endswith(","):
            text = text[:-1]
        text += "".join(reversed(stack))
        fixes.append("closed a reply that was cut off")
        return text, fixes
    return "".join(out), fixes


def parse_reply(text: Any, tp: type[T], *, name: str | None = None) -> Reply[T]:
    """Extract JSON from ``text`` and validate it as ``tp``.

    Values of the wrong JSON type that can be read losslessly (``"3"`` for an
    int) are accepted and reported as a repair. Raises ReplyValidationError
    saying which field failed and why.
    """
    label = name or getattr(tp, "__name__", str(tp))
    value, repairs = extract_json(text)
    raw = text if isinstance(text, str) else repr(text)
    try:
        return Reply(msgspec.convert(value, tp, strict=True), tuple(repairs), raw)
    except msgspec.ValidationError as exc:
        first = exc
    try:
        result = msgspec.convert(value, tp, strict=False)
    except msgspec.ValidationError:
        field, reason = _locate(str(first))
        where = f"field `{field}`" if field else "the reply"
        raise reply_error(
            f"reply does not fit `{label}`: {where}: {reason}",
            raw=raw,
            field=field,
            reason=reason,
            repairs=repairs,
        ) from None
    field, _ = _locate(str(first))
    repairs.append(f"converted `{field or '$'}` and any similar values to the declared types")
    return Reply(result, tuple(repairs), raw)


def _locate(message: str) -> tuple[str | None, str]:
    """Split msgspec's message into a field path (``age``, ``items[0].name``) and a reason."""
    own = re.match(r"field `([^`]+)`: (.*)", message, re.DOTALL)
    if own:  # raised by a FieldModel validator in the Struct's __post_init__
        return own.group(1), own.group(2)
    path = None
    m = _PATH.search(message)
    reason = message
    if m:
        path = m.group(1)
        reason = message[: m.start()]
    base = path[1:].lstrip(".") if path else ""
    missing = _MISSING.match(reason)
    if missing:
        field = f"{base}.{missing.group(1)}" if base else missing.group(1)
        return field, "required field is missing"
    unknown = _UNKNOWN.match(reason)
    if unknown:
        field = f"{base}.{unknown.group(1)}" if base else unknown.group(1)
        return field, "unknown field: the type does not declare it"
    if path is not None:
        field = path[1:].lstrip(".") or "$"
        return field, reason[0].lower() + reason[1:] if reason else reason
    return None, reason[0].lower() + reason[1:] if reason else reason
