"""Turning a server's error answer into one of LION's errors.

Every error body shape we have met is parsed into an :class:`ErrorInfo`, and the
HTTP status picks the class: 401/403 auth, 429 rate limit, 5xx server, any
other 4xx bad request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from lion.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    RateLimitError,
    ServerError,
)
from lion.wire.dto import ErrorInfo

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "nvcf-reqid", "x-amzn-requestid")
_MAX_MESSAGE = 2000


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode()


def _int(value: Any) -> int | None:
    """An HTTP status from a body field, or None: only 100..999 counts.

    ``str.isdigit`` accepts "²" and int() then fails, and a 5,000-digit number
    cannot even be printed: neither is a status.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) == 3:
        value = int(value)
    if isinstance(value, int) and 100 <= value <= 999:
        return value
    return None


def error_info(body: Any, *, status: int | None = None) -> ErrorInfo:
    """Normalise a decoded error body (any shape, or raw text) into an ErrorInfo."""
    if isinstance(body, bytes | bytearray | memoryview):
        raw = bytes(body)
        try:
            body = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            text = raw.decode("utf-8", "replace").strip()
            return ErrorInfo(message=text[:_MAX_MESSAGE] or f"http {status}", status=status)
    if isinstance(body, str):
        return ErrorInfo(message=body[:_MAX_MESSAGE] or f"http {status}", status=status)
    if not isinstance(body, Mapping):
        return ErrorInfo(message=_text(body) or f"http {status}", status=status)

    inner = body.get("error")
    if isinstance(inner, Mapping):  # OpenAI, NIM, llama.cpp: {"error": {...}}
        source: Mapping[str, Any] = inner
    elif isinstance(inner, str):  # {"error": "text"} (some proxies, vLLM's older builds)
        source = {"message": inner, "type": body.get("type"), "code": body.get("code")}
    else:  # flat NIM {"object": "error", ...}, gateway {"status", "title", "detail"}, FastAPI
        source = body

    message = source.get("message")
    if message is None:
        title, detail = source.get("title"), source.get("detail")
        if title is not None and detail is not None:
            message = f"{_text(title)}: {_text(detail)}"
        else:
            message = detail if detail is not None else title
    code = source.get("code")
    err_status = _int(source.get("status")) or _int(code)
    return ErrorInfo(
        message=(_text(message) or f"http {status}")[:_MAX_MESSAGE],
        type=_text(source.get("type")),
        code=_text(code),
        param=_text(source.get("param")),
        status=status if status is not None else err_status,
    )


def request_id(headers: Mapping[str, str]) -> str | None:
    """The server's request id, from whichever header it uses."""
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def api_error(info: ErrorInfo, *, request_id: str | None = None, body: object = None) -> APIError:
    """The APIError subclass for this status, carrying message, code and request id."""
    status = info.status
    cls: type[APIError]
    if status in (401, 403):
        cls = AuthenticationError
    elif status == 429:
        cls = RateLimitError
    elif status is not None and status >= 500:
        cls = ServerError
    elif status is not None and 400 <= status < 500:
        cls = BadRequestError
    else:
        cls = APIError
    return cls(
        info.message, status=status, request_id=request_id, code=info.code or info.type, body=body
    )
