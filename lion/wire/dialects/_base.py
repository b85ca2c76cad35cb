"""The dialect protocol and the plain OpenAI-compatible dialect every other one starts from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from lion.errors import AuthenticationError, BadRequestError
from lion.wire._secrets import (
    check_api_key,
    check_headers,
    redact_url,
    secret_headers,
    url_secrets,
)
from lion.wire.dto import ChatRequest, ErrorInfo, Guided

_encoder = msgspec.json.Encoder()


class Dialect:
    """How one kind of server wants a chat-completion request.

    A dialect knows the base URL, the headers (the API key), and how to turn the
    canonical :class:`ChatRequest` into the JSON body that server accepts. The
    transport knows nothing about dialects; it sends the bytes :meth:`encode`
    returns to :attr:`url`.

    ``max_concurrency`` is the dialect's advice for the client's concurrency
    limit (``None``: no limit of its own); ``stream_usage`` asks for the final
    usage chunk (``stream_options.include_usage``) when streaming.
    """

    name: ClassVar[str] = "openai-compatible"
    chat_path: ClassVar[str] = "/chat/completions"
    max_concurrency: int | None = None

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        stream_usage: bool = True,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            shown = redact_url(base_url) if isinstance(base_url, str) else type(base_url).__name__
            raise BadRequestError(f"base url `{shown}` is not an http(s) url")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.stream_usage = stream_usage
        self._extra_headers = check_headers(headers or {}, dialect=self.name)

    @property
    def api_key(self) -> str | None:
        """The bearer key; checked whenever it is set (no control characters, no spaces)."""
        return self._api_key

    @api_key.setter
    def api_key(self, key: str | None) -> None:
        self._api_key = check_api_key(key, dialect=self.name)

    def __repr__(self) -> str:
        key = ", api_key=***" if self._api_key else ""
        return f"{type(self).__name__}(base_url={redact_url(self.base_url)!r}{key})"

    @property
    def display_url(self) -> str:
        """The endpoint as messages show it: credentials in the url replaced by ``***``."""
        return redact_url(self.url)

    def secrets(self) -> list[str]:
        """Every secret this dialect sends (key, credential headers, url credentials)."""
        return secret_headers(self.headers()) + url_secrets(self.base_url)

    @property
    def url(self) -> str:
        """The chat-completions endpoint."""
        return self.base_url + self.chat_path

    def headers(self) -> dict[str, str]:
        """Headers for every request: content type, the bearer key, any extra ones."""
        h = {"content-type": "application/json", "accept": "application/json"}
        if self.api_key:
            h["authorization"] = f"Bearer {self.api_key}"
        h.update(self._extra_headers)
        return h

    def body(self, request: ChatRequest, *, stream: bool = False) -> dict[str, Any]:
        """The JSON body (as builtins) this server wants for ``request``."""
        body: dict[str, Any] = msgspec.to_builtins(request)
        body.pop("guided", None)
        extra = body.pop("extra_body", None)
        if request.guided is not None:
            self.place_guided(body, request.guided)
        self.adapt(body, request)
        if stream:
            body["stream"] = True
            if self.stream_usage:
                body["stream_options"] = {"include_usage": True}
        if extra:
            _merge(body, extra)
        return body

    def encode(self, request: ChatRequest, *, stream: bool = False) -> bytes:
        """The request body as JSON bytes."""
        return _encoder.encode(self.body(request, stream=stream))

    # hooks for subclasses -----------------------------------------------------------

    def is_client_error(self, info: ErrorInfo) -> bool:
        """Whether an error answer blames the request although its status says otherwise.

        Such an answer raises :class:`~lion.errors.BadRequestError` (with the
        true status) and is not retried.
        """
        return False

    def adapt(self, body: dict[str, Any], request: ChatRequest) -> None:
        """Rewrite ``body`` in place for this server's quirks (nothing by default)."""

    def place_guided(self, body: dict[str, Any], guided: Guided) -> None:
        """Put a guided-decoding constraint where this server reads it.

        The OpenAI API has only JSON schemas: ``guided.json`` becomes a
        ``json_schema`` response format, and the other constraints are refused.
        """
        kind = guided.kind()
        if kind != "json":
            raise BadRequestError(f"the `{self.name}` dialect has no `guided_{kind}`")
        if "response_format" not in body:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": guided.json},
            }


def _merge(body: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Merge ``extra`` into ``body``; nested mappings (e.g. ``nvext``) merge key by key."""
    for key, value in extra.items():
        current = body.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            _merge(current, value)
        else:
            body[key] = value


def env_key(name: str, given: str | None) -> str | None:
    """The key given, else the environment variable ``name``, else None."""
    if given is not None:
        return given
    return os.environ.get(name) or None


def require_key(dialect: str, key: str | None, variable: str) -> str:
    if not key:
        raise AuthenticationError(
            f"the hosted `{dialect}` endpoint needs an api key: set `{variable}`"
        )
    return key
