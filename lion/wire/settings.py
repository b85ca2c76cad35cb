"""Transport settings: timeouts, the retry policy, client-side rate limits and size limits.

Frozen msgspec structs (keyword arguments only), importable without httpx.
"""

from __future__ import annotations

__all__ = ["RETRYABLE_STATUSES", "RateLimits", "RetryPolicy", "SizeLimits", "Timeouts"]


from collections.abc import Mapping

import msgspec

#: Statuses worth another try (as the openai SDK does): timeout, conflict, rate limit, 5xx.
RETRYABLE_STATUSES = frozenset({408, 409, 429})


class Timeouts(msgspec.Struct, frozen=True, kw_only=True):
    """Seconds; ``None`` means no limit.

    ``connect``, ``read``, ``write`` and ``pool`` (waiting for a pooled
    connection) apply to each attempt; ``total`` is the wall-clock budget of a
    whole call: waiting for rate-limit slots, every attempt and every backoff,
    and for a stream, reading it to the end.
    """

    connect: float | None = 5.0
    read: float | None = 120.0
    write: float | None = 30.0
    pool: float | None = 30.0
    total: float | None = 600.0


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Exponential backoff with jitter, and the server's ``retry-after`` honoured up to a cap.

    Retry ``n`` (from 0) waits ``min(base_delay * 2**n, max_delay)``, less up to
    ``jitter`` of it at random, unless the answer carried ``retry-after-ms`` or
    ``retry-after`` (seconds or an HTTP date), which is waited instead, up to
    ``retry_after_cap``. At most ``max_retries`` retries: ``1 + max_retries``
    requests in all.
    """

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    retry_after_cap: float = 60.0

    def backoff(self, retry: int) -> float:
        import random  # only a retry needs it: keep it off the import path

        delay = min(self.base_delay * 2.0**retry, self.max_delay)
        return delay * (1.0 - self.jitter * random.random())

    def delay(self, retry: int, headers: Mapping[str, str] | None = None) -> float:
        """How long to wait before retry number ``retry`` (0-based)."""
        if headers is not None:
            after = retry_after(headers)
            if after is not None:
                return min(after, self.retry_after_cap)
        return self.backoff(retry)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait, from ``retry-after-ms`` or ``retry-after``."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0.0 and value == value:  # not NaN
            return value
    text = headers.get("retry-after")
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        from email.utils import parsedate_to_datetime  # HTTP dates are rare: import lazily
        from time import time

        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, when.timestamp() - time())
    return value if value >= 0.0 and value == value else None


class RateLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Client-side limits: requests and tokens per minute, requests in flight.

    The per-minute limits are token buckets refilled continuously; a bucket
    holds ``burst`` seconds' worth (at least one request, or one request's
    tokens), so the long-run rate never exceeds the limit. Tokens are estimated
    before sending (body bytes / 4 + ``max_tokens``, or
    ``default_completion_tokens``) and settled against the reported usage.
    ``max_concurrency`` bounds the requests in flight (a stream holds its slot
    until it is closed).
    """

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    max_concurrency: int | None = None
    burst: float = 1.0
    default_completion_tokens: int = 256


MiB = 1024 * 1024


class SizeLimits(msgspec.Struct, frozen=True, kw_only=True):
    """How much a server may send, in bytes; each is checked while the bytes arrive.

    * ``max_body_bytes``: a whole (non-streamed) response body, after
      ``content-encoding`` is undone, so a small gzip bomb is refused too;
    * ``max_stream_bytes``: a whole streamed response, decoded;
    * ``max_line_bytes``: one line of an event stream;
    * ``max_event_bytes``: the data of one event (its ``data:`` lines together);
    * ``max_error_bytes``: how much of an error answer is read (the rest is
      dropped, not refused: the status already says what went wrong).

    Going past any of the first four raises :class:`~lion.errors.ProtocolError`
    naming the limit. Hostile or broken servers are the reason: the defaults are
    far above any real completion and far below what hurts a process.
    """

    max_body_bytes: int = 16 * MiB
    max_stream_bytes: int = 256 * MiB
    max_line_bytes: int = 1 * MiB
    max_event_bytes: int = 4 * MiB
    max_error_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                from lion.errors import BadRequestError

                raise BadRequestError(
                    f"`SizeLimits.{name}` must be a positive int, not `{value!r}`"
                )
