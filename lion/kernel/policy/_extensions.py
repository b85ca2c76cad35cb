"""Cedar's extension types: parsing and the methods of decimal, ipaddr, datetime, duration.

Every function raises ``ExtensionError`` (a message, no location) for input
Cedar rejects; the evaluator turns it into an evaluation error.
"""

from __future__ import annotations

from lion.kernel.policy._values import INT_MAX, INT_MIN  # noqa: F401

__all__ = ["ExtensionError", "datetime_text", "duration_text"]

MS_PER_DAY = 86_400_000


class ExtensionError(Exception):
    """Input an extension function or method rejects (becomes an evaluation error)."""


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of the proleptic Gregorian date ``days`` after 1970-01-01."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y, m, d)


def datetime_text(millis: int) -> str:
    """``millis`` since the epoch as ``YYYY-MM-DDThh:mm:ss.sssZ`` (UTC)."""
    days, rest = divmod(millis, MS_PER_DAY)
    y, m, d = _civil_from_days(days)
    hh, rest = divmod(rest, 3_600_000)
    mm, rest = divmod(rest, 60_000)
    ss, ms = divmod(rest, 1000)
    return f"{y:04d}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}.{ms:03d}Z"


def duration_text(millis: int) -> str:
    """``millis`` as ``[-]XdXhXmXsXms`` with the zero units left out (``0ms`` for zero)."""
    if millis == 0:
        return "0ms"
    sign = "-" if millis < 0 else ""
    rest = abs(millis)
    parts = []
    for unit, size in (("d", MS_PER_DAY), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)
