"""HTTP over one pooled ``httpx.AsyncClient``: timeouts, retries, rate and concurrency limits.

The transport sends bytes to a URL and hands back a 2xx response, or raises one
of LION's wire errors; it knows nothing about chat completions. httpx's own
exceptions never leave this module.

A call goes: take its tokens (tokens per minute), then for each attempt take a
request token (requests per minute) and a concurrency slot, send, and give the
slot back. A retryable failure (408, 409, 429 other than a quota 429, 5xx, a
timeout, a dropped connection) waits the backoff and tries again, at most
``max_retries`` times; anything else raises at once. The whole call runs
under the ``total`` deadline. Every wait is a cancellation point and takes
nothing until it succeeds, and every slot is given back in a ``finally``, so a
cancelled call leaves the limits as it found them.
"""

from __future__ import annotations

__all__ = ["Transport"]

import math
from collections.abc import Callable, Mapping

import anyio
import httpx
import msgspec

from lion import errors
from lion.wire import _body, _errors
from lion.wire._secrets import Redactor, redact_url, secret_headers, strip_userinfo, url_secrets
from lion.wire.dto import MAX_REPORTED_TOKENS, ErrorInfo, Usage
from lion.wire.limits import TokenBucket
from lion.wire.settings import RETRYABLE_STATUSES, RateLimits, RetryPolicy, SizeLimits, Timeouts


class Transport:
    """Sends bodies with retries under the limits; owns its httpx client unless given one."""

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        limits: RateLimits | None = None,
        sizes: SizeLimits | None = None,
        http_client: httpx.AsyncClient | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
        pool_size: int = 32,
        client_error: Callable[[ErrorInfo], bool] | None = None,
        secrets: list[str] | None = None,
    ) -> None:
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self.limits = limits or RateLimits()
        self.sizes = sizes or SizeLimits()
        self._owns_http = http_client is None
        if http_client is None:
            t = self.timeouts
            http_client = httpx.AsyncClient(
                timeout=httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool),
                limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
                transport=http_transport,
                follow_redirects=False,
            )
        self.http = http_client
        # we decode bodies ourselves, under a limit: ask only for what we can decode
        self.headers = {"accept-encoding": _body.ACCEPT_ENCODING, **(headers or {})}
        self._secrets = secret_headers(self.headers) + list(secrets or ())
        self._redact = Redactor(self._secrets)
        self._targets: dict[str, tuple[str, str, httpx.BasicAuth | None]] = {}
        self._client_error = client_error
        lim = self.limits
        self._rpm = (
            TokenBucket(lim.requests_per_minute, burst=lim.burst)
            if lim.requests_per_minute
            else None
        )
        self._tpm = (
            TokenBucket(lim.tokens_per_minute, burst=lim.burst) if lim.tokens_per_minute else None
        )
        self._slots = anyio.Semaphore(lim.max_concurrency) if lim.max_concurrency else None

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    # ------------------------------------------------------------------ public calls

    def deadline(self) -> float:
        """The total deadline of a call starting now, in anyio's clock (inf: none)."""
        total = self.timeouts.total
        return math.inf if total is None else anyio.current_time() + total

    async def send(self, url: str, body: bytes, *, cost: int = 0) -> httpx.Response:
        """POST ``body`` and return the 2xx response, its body read.

        The body is decoded here, at most ``sizes.max_body_bytes`` of it (checked
        piece by piece while reading): the response returned holds it decoded,
        without a ``content-encoding``. :meth:`post` is the same without building
        that response (the client's path: about 30 us less per call).
        """
        response, content = await self.post(url, body, cost=cost)
        return _read(response, content)

    async def post(self, url: str, body: bytes, *, cost: int = 0) -> tuple[httpx.Response, bytes]:
        """POST ``body``; the 2xx response (its body consumed) and the decoded body."""
        deadline = self.deadline()
        if deadline == math.inf:
            response, content = await self._call(url, body, cost, deadline, stream=False)
            return response, content or b""
        with anyio.CancelScope(deadline=deadline):
            response, content = await self._call(url, body, cost, deadline, stream=False)
            return response, content or b""
        raise self._total_timeout(url)

    async def open_stream(
        self, url: str, body: bytes, *, cost: int, deadline: float
    ) -> httpx.Response:
        """POST ``body`` and return the 2xx response with its body unread.

        The response holds a concurrency slot: call :meth:`release` once it is closed.
        """
        with anyio.CancelScope(deadline=deadline):
            response, _ = await self._call(url, body, cost, deadline, stream=True)
            return response
        raise self._total_timeout(url)

    def release(self) -> None:
        """Give back the concurrency slot an open stream held."""
        if self._slots is not None:
            self._slots.release()

    def settle(self, cost: int, usage: Usage | None) -> None:
        """Settle a call's token estimate against the tokens the server reports.

        The report is the server's word: it is clamped to ``[0, MAX_REPORTED_TOKENS]``
        and the bucket's debt has a floor (one minute's worth), so a lying server
        can slow later calls by at most a minute, never stop them.
        """
        if self._tpm is not None and usage is not None and usage.total_tokens:
            used = min(max(int(usage.total_tokens), 0), MAX_REPORTED_TOKENS)
            self._tpm.give_back(cost - used)

    def display(self, url: str) -> str:
        """``url`` as messages show it (credentials masked)."""
        return self._target(url)[1]

    def redact(self, text: str) -> str:
        """``text`` with every secret this transport sends masked."""
        return self._redact(text)

    def _target(self, url: str) -> tuple[str, str, httpx.BasicAuth | None]:
        target = self._targets.get(url)
        if target is None:
            clean, creds = strip_userinfo(url)
            if creds is not None:  # httpx would log the password with the url: send it as auth
                self._secrets += url_secrets(url)
                self._redact = Redactor(self._secrets)
            auth = httpx.BasicAuth(*creds) if creds is not None else None
            target = self._targets[url] = (clean, redact_url(url), auth)
        return target

    def estimate(self, body: bytes, max_tokens: int | None) -> int:
        """Tokens a call is expected to use: prompt bytes / 4 plus the completion budget."""
        if self._tpm is None:
            return 0
        completion = max_tokens if max_tokens is not None else self.limits.default_completion_tokens
        return len(body) // 4 + completion

    # -------------------------------------------------------------------- internals

    def _total_timeout(self, url: str) -> errors.TimeoutError:
        return errors.TimeoutError(
            f"`{self.display(url)}` took longer than the total timeout of {self.timeouts.total:g} s"
        )

    async def _call(
        self, url: str, body: bytes, cost: int, deadline: float, *, stream: bool
    ) -> tuple[httpx.Response, bytes | None]:
        if self._tpm is not None and cost:
            await self._tpm.acquire(cost)
        policy = self.retry
        retries = 0
        while True:
            retry_headers: httpx.Headers | None = None
            error: errors.WireError
            try:
                response, content = await self._attempt(url, body, stream=stream)
            except (errors.TimeoutError, errors.ConnectionError) as exc:
                error = exc
            else:
                if response.is_success:
                    return response, content
                content = content or b""
                info = _errors.error_info(content, status=response.status_code)
                if self._redact.leaks(info.message):  # a server may echo the key back
                    info = msgspec.structs.replace(info, message=self._redact(info.message))
                rid = _errors.request_id(response.headers)
                if self._client_error is not None and self._client_error(info):
                    # a server that reports the request's own faults as 5xx: not worth a retry
                    raise errors.BadRequestError(
                        info.message,
                        status=info.status,
                        request_id=rid,
                        code=info.code,
                        body=_error_body(content),
                    )
                error = _errors.api_error(info, request_id=rid, body=_error_body(content))
                if not _retryable(response, info):
                    raise error
                retry_headers = response.headers
            if retries >= policy.max_retries:
                raise error
            delay = policy.delay(retries, retry_headers)
            if anyio.current_time() + delay >= deadline:
                raise error  # the wait would outlast the call's budget: fail now, clearly
            await anyio.sleep(delay)
            retries += 1

    async def _attempt(
        self, url: str, body: bytes, *, stream: bool
    ) -> tuple[httpx.Response, bytes | None]:
        """One request: the response and its decoded body (None for an open 2xx stream)."""
        if self._rpm is not None:
            await self._rpm.acquire()
        slots = self._slots
        if slots is not None:
            await slots.acquire()
        clean, shown, auth = self._target(url)
        keep = False
        try:
            request = self.http.build_request("POST", clean, content=body, headers=self.headers)
            response = await self.http.send(
                request, stream=True, auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT
            )
            try:
                if not response.is_success:
                    error_body = await _body.read_capped(response, self.sizes.max_error_bytes)
                    return response, error_body
                if stream:
                    keep = True  # the stream keeps its slot (and its body) until it is closed
                    return response, None
                decoder = _body.decoder_for(
                    response,
                    limit=self.sizes.max_body_bytes,
                    limit_name="max_body_bytes",
                    what=f"the response from `{shown}`",
                )
                return response, await _body.read_body(response, decoder)
            finally:
                if not keep:
                    await response.aclose()
        except httpx.TimeoutException as exc:
            raise errors.TimeoutError(f"{_kind(exc)} timeout talking to `{shown}`") from exc
        except httpx.LocalProtocolError as exc:  # our request is malformed: no retry will help
            raise self._wrap(
                errors.BadRequestError, f"the request to `{shown}` could not be sent", exc
            ) from self._cause(exc)
        except httpx.TransportError as exc:
            raise self._wrap(
                errors.ConnectionError, f"connection to `{shown}` failed", exc
            ) from self._cause(exc)
        except httpx.RequestError as exc:
            raise self._wrap(
                errors.ProtocolError, f"bad response from `{shown}`", exc
            ) from self._cause(exc)
        finally:
            if slots is not None and not keep:
                slots.release()

    def _wrap(self, cls: type[errors.WireError], what: str, exc: Exception) -> errors.WireError:
        return cls(f"{what}: {self._redact(_describe(exc))}")

    def _cause(self, exc: Exception) -> Exception | None:
        """The httpx error as the cause, unless its text shows a secret (tracebacks print it)."""
        return None if self._redact.leaks(_describe(exc)) else exc


def _read(response: httpx.Response, content: bytes) -> httpx.Response:
    """A read response holding ``content``, already decoded (so no ``content-encoding``)."""
    # the raw bytes: a header that is not ASCII must not fail on the way back in
    headers = [
        (k, v)
        for k, v in response.headers.raw
        if k.lower() not in (b"content-encoding", b"content-length", b"transfer-encoding")
    ]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=content,
        request=response.request,
        extensions=response.extensions,
    )


def _retryable(response: httpx.Response, info: ErrorInfo) -> bool:
    should = response.headers.get("x-should-retry")
    if should == "true":
        return True
    if should == "false":
        return False
    status = response.status_code
    if status == 429:
        return not info.is_quota
    return status in RETRYABLE_STATUSES or status >= 500


def _error_body(content: bytes) -> object:
    try:
        return msgspec.json.decode(content)  # not json.loads: deep nesting is a DecodeError here
    except msgspec.DecodeError:
        return content.decode("utf-8", "replace")


def _kind(exc: httpx.TimeoutException) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect"
    if isinstance(exc, httpx.ReadTimeout):
        return "read"
    if isinstance(exc, httpx.WriteTimeout):
        return "write"
    return "pool"


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
