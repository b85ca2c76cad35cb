"""Cedar's extension types: parsing and the functions of decimal, ipaddr, datetime, duration.

The accepted formats, the results and the error messages follow Cedar 4
(checked against cedarpy). Every failure raises ``ExtensionError`` with the
full message (no location); the evaluator turns it into an evaluation error,
and the JSON readers into a ``PolicyError``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence

from lion.kernel.policy._values import (
    INT_MAX,
    INT_MIN,
    Datetime,
    Decimal,
    Duration,
    IPAddr,
    Value,
    type_name,
)

__all__ = [
    "CONSTRUCTORS",
    "FUNCTIONS",
    "METHODS",
    "ExtensionError",
    "call_extension",
    "compare",
    "datetime_text",
    "duration_text",
    "parse_datetime",
    "parse_decimal",
    "parse_duration",
    "parse_ip",
]

MS_PER_DAY = 86_400_000
_SCALE = 10**4


class ExtensionError(Exception):
    """An extension function or method rejected its input (an evaluation error)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _fail(function: str, message: str) -> ExtensionError:
    return ExtensionError(f"error while evaluating `{function}` extension function: {message}")


def _type_error(expected: str, got: Value) -> ExtensionError:
    return ExtensionError(f"type error: expected {expected}, got {type_name(got)}")


def _in_i64(value: int) -> bool:
    return INT_MIN <= value <= INT_MAX


# -- decimal ----------------------------------------------------------------------

# `\d` is any Unicode digit, as in Cedar's regex; only ASCII digits then convert.
_DECIMAL = re.compile(r"(-?)(\d+)\.(\d+)")


def parse_decimal(text: str) -> Decimal:
    """``decimal("-12.3456")``: at most four fractional digits, in the i64 range once scaled."""
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise _fail("decimal", f"`{text}` is not a well-formed decimal value")
    sign, whole, frac = match.groups()
    overflow = _fail("decimal", "overflow when converting to decimal")
    # Cedar's order: the whole part (an i64, then scaled), the number of fractional digits,
    # the fractional part, the sum. Non-ASCII digits pass the pattern but not the conversion.
    if not whole.isascii() or len(whole.lstrip("0")) > 19:
        raise overflow
    whole_scaled = int(sign + (whole.lstrip("0") or "0")) * _SCALE
    if not _in_i64(whole_scaled // _SCALE) or not _in_i64(whole_scaled):
        raise overflow
    if len(frac.encode()) > 4:
        raise _fail("decimal", f"too many digits after the decimal in `{text}`")
    if not frac.isascii():
        raise overflow
    fraction = int(frac) * 10 ** (4 - len(frac))
    scaled = whole_scaled - fraction if sign else whole_scaled + fraction
    if not _in_i64(scaled):
        raise overflow
    return Decimal(scaled)


# -- ipaddr -----------------------------------------------------------------------

_EMBEDDED = (
    "error parsing IP address from string: We do not accept IPv4 embedded in IPv6 "
    "(e.g., ::ffff:127.0.0.1). Found: `{}`"
)
_IP_CHARS = frozenset("0123456789abcdefABCDEF:.")
_IP_MAX_LEN = 43  # bytes: len("ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/128")


def _address(text: str) -> tuple[int, int] | None:
    """(version, address) of a plain IPv4 or IPv6 address, or None."""
    if not text or not set(text) <= _IP_CHARS:
        return None  # also rules out zone ids (`%eth0`) and brackets, as Rust does
    try:
        if ":" in text:
            return 6, int(ipaddress.IPv6Address(text))
        return 4, int(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def _prefix(text: str, limit: int, max_len: int) -> int:
    if len(text.encode()) > max_len:
        raise _fail(
            "ipaddr", f"error parsing prefix: string length {len(text.encode())} is too large"
        )
    if not all("0" <= c <= "9" for c in text):
        raise _fail("ipaddr", f"error parsing prefix `{text}`: encountered non-digit")
    if text.startswith("0") and text != "0":
        raise _fail("ipaddr", f"error parsing prefix `{text}`: leading zero(s)")
    if not text:
        raise _fail(
            "ipaddr",
            "error parsing prefix from the string ``: cannot parse integer from empty string",
        )
    value = int(text)
    if value > limit:
        raise _fail("ipaddr", f"error parsing prefix: {value} is larger than the limit {limit}")
    return value


def parse_ip(text: str) -> IPAddr:
    """``ip("10.0.0.1")`` or ``ip("10.0.0.0/8")`` (IPv4 or IPv6; no IPv4 embedded in IPv6)."""
    if len(text.encode()) > _IP_MAX_LEN:
        raise _fail(
            "ipaddr", f"error parsing IP address from string `{text}`: string length is too large"
        )
    # Cedar refuses any mix of colons and dots (two of each) before reading the address.
    if text.count(":") >= 2 and text.count(".") >= 2:
        raise _fail("ipaddr", _EMBEDDED.format(text))
    addr_text, slash, prefix_text = text.partition("/")
    parsed = _address(addr_text)
    if parsed is None:
        if slash:
            raise _fail(
                "ipaddr",
                f"error parsing IP address from the string `{addr_text}`: "
                "invalid IP address syntax",
            )
        raise _fail("ipaddr", f"invalid IP address: {text}")
    version, address = parsed
    bits = 32 if version == 4 else 128
    prefix = _prefix(prefix_text, bits, 2 if version == 4 else 3) if slash else bits
    return IPAddr(version, address, prefix)


def _range(ip: IPAddr) -> tuple[int, int]:
    bits = 32 if ip.version == 4 else 128
    host = (1 << (bits - ip.prefix)) - 1
    first = ip.address & ~host & ((1 << bits) - 1)
    return first, first | host


def ip_in_range(ip: IPAddr, net: IPAddr) -> bool:
    """Whether every address of ``ip`` lies in ``net`` (same version only)."""
    if ip.version != net.version:
        return False
    lo, hi = _range(ip)
    net_lo, net_hi = _range(net)
    return net_lo <= lo and hi <= net_hi


_LOOPBACK = {4: IPAddr(4, 0x7F000000, 8), 6: IPAddr(6, 1, 128)}
_MULTICAST = {4: IPAddr(4, 0xE0000000, 4), 6: IPAddr(6, 0xFF << 120, 8)}


# -- datetime ---------------------------------------------------------------------

_DATE = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_HMS = re.compile(rb"T([0-9]{2}):([0-9]{2}):([0-9]{2})")
_TAIL = re.compile(rb"(?:\.([0-9]{3}))?(?:(Z)|([+-])([0-9]{2})([0-9]{2}))")


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days from 1970-01-01 to the proleptic Gregorian date (y, m, d)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


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


def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def parse_datetime(text: str) -> Datetime:
    """``datetime(...)`` in one of Cedar's five forms: ``YYYY-MM-DD``, then optionally
    ``Thh:mm:ss`` with ``.sss`` milliseconds and a ``Z`` or ``+hhmm``/``-hhmm`` offset."""
    raw = text.encode()
    if _DATE.match(raw) is None:
        raise _fail("datetime", "invalid date pattern")
    hms = tail = None
    if len(raw) > 10:
        hms = _HMS.match(raw, 10)
        if hms is None:
            raise _fail("datetime", "invalid hour/minute/second pattern")
        tail = _TAIL.fullmatch(raw, hms.end())
        if tail is None:
            raise _fail("datetime", "invalid millisecond and/or offset pattern")
    y, m, d = int(raw[0:4]), int(raw[5:7]), int(raw[8:10])
    if not (1 <= m <= 12 and 1 <= d <= _days_in_month(y, m)):
        raise _fail("datetime", f"invalid date: {raw[:10].decode()}")
    millis = _days_from_civil(y, m, d) * MS_PER_DAY
    if hms is None or tail is None:
        return Datetime(millis)
    hh, mm, ss = (int(g) for g in hms.groups())
    if hh >= 24 or mm >= 60 or ss >= 60:
        raise _fail("datetime", f"invalid hour/minute/second: {raw[11:19].decode()}")
    ms_text, _zulu, sign, off_h, off_m = tail.groups()
    millis += ((hh * 60 + mm) * 60 + ss) * 1000 + (int(ms_text) if ms_text else 0)
    if sign is not None:
        oh, om = int(off_h), int(off_m)
        if oh >= 24 or om >= 60:
            raise _fail("datetime", f"invalid offset range: {oh}{om}")
        offset = (oh * 60 + om) * 60_000
        millis += -offset if sign == b"+" else offset
    return Datetime(millis)


def datetime_text(millis: int) -> str | None:
    """``millis`` since the epoch as ``YYYY-MM-DDThh:mm:ss.sssZ`` (UTC); None outside
    the years 0000-9999, which that form cannot write."""
    days, rest = divmod(millis, MS_PER_DAY)
    y, m, d = _civil_from_days(days)
    if not 0 <= y <= 9999:
        return None
    hh, rest = divmod(rest, 3_600_000)
    mm, rest = divmod(rest, 60_000)
    ss, ms = divmod(rest, 1000)
    return f"{y:04d}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}.{ms:03d}Z"


# -- duration ---------------------------------------------------------------------

_DURATION = re.compile(
    r"(-?)(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?"
)
_UNITS = (MS_PER_DAY, 3_600_000, 60_000, 1000, 1)


def parse_duration(text: str) -> Duration:
    """``duration("1d2h3m4s5ms")``: units in this order, each at most once; a leading ``-``."""
    match = _DURATION.fullmatch(text)
    if match is None or all(g is None for g in match.groups()[1:]):
        raise _fail("duration", "invalid duration pattern")
    counts = match.groups()[1:]
    if any(g is not None and len(g.lstrip("0")) > 20 for g in counts):  # far past 64 bits
        raise _fail("duration", "Duration overflows internal representation")
    total = sum(int(g.lstrip("0") or "0") * u for g, u in zip(counts, _UNITS, strict=True) if g)
    if match.group(1):
        total = -total
    if not _in_i64(total):
        raise _fail("duration", "Duration overflows internal representation")
    return Duration(total)


def duration_text(millis: int) -> str:
    """``millis`` as ``[-]XdXhXmXsXms`` with the zero units left out (``0ms`` for zero)."""
    if millis == 0:
        return "0ms"
    sign = "-" if millis < 0 else ""
    rest = abs(millis)
    parts = []
    for unit, size in zip(("d", "h", "m", "s", "ms"), _UNITS, strict=True):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)


def _truncate(millis: int, unit: int) -> int:
    """``millis / unit`` rounded toward zero, as Rust's integer division."""
    quotient = abs(millis) // unit
    return -quotient if millis < 0 else quotient


# -- calls ------------------------------------------------------------------------


def _string(value: Value) -> str:
    if type(value) is not str:
        raise _type_error("string", value)
    return value


def _decimal(value: Value) -> Decimal:
    if type(value) is not Decimal:
        raise _type_error("decimal", value)
    return value


def _ipaddr(value: Value) -> IPAddr:
    if type(value) is not IPAddr:
        raise _type_error("ipaddr", value)
    return value


def _datetime(value: Value) -> Datetime:
    if type(value) is not Datetime:
        raise _type_error("datetime", value)
    return value


def _duration(value: Value) -> Duration:
    if type(value) is not Duration:
        raise _type_error("duration", value)
    return value


def _offset(dt: Datetime, dur: Duration) -> Value:
    result = dt.millis + dur.millis
    if not _in_i64(result):
        raise _fail("offset", f"overflows when adding an offset: {dt}.offset({dur})")
    return Datetime(result)


def _duration_since(dt: Datetime, other: Datetime) -> Value:
    result = dt.millis - other.millis
    if not _in_i64(result):
        raise _fail(
            "durationSince", f"overflows when computing the duration between {dt} and {other}"
        )
    return Duration(result)


def _to_date(dt: Datetime) -> Value:
    result = dt.millis // MS_PER_DAY * MS_PER_DAY
    if not _in_i64(result):
        raise _fail("toDate", f"overflows when computing the date of {dt}")
    return Datetime(result)


_Impl = Callable[..., Value]

# name -> (number of arguments, counting a method's receiver; implementation)
FUNCTIONS: dict[str, tuple[int, _Impl]] = {
    "decimal": (1, lambda s: parse_decimal(_string(s))),
    "ip": (1, lambda s: parse_ip(_string(s))),
    "datetime": (1, lambda s: parse_datetime(_string(s))),
    "duration": (1, lambda s: parse_duration(_string(s))),
    "lessThan": (2, lambda a, b: _decimal(a).scaled < _decimal(b).scaled),
    "lessThanOrEqual": (2, lambda a, b: _decimal(a).scaled <= _decimal(b).scaled),
    "greaterThan": (2, lambda a, b: _decimal(a).scaled > _decimal(b).scaled),
    "greaterThanOrEqual": (2, lambda a, b: _decimal(a).scaled >= _decimal(b).scaled),
    "isIpv4": (1, lambda a: _ipaddr(a).version == 4),
    "isIpv6": (1, lambda a: _ipaddr(a).version == 6),
    "isLoopback": (1, lambda a: ip_in_range(_ipaddr(a), _LOOPBACK[_ipaddr(a).version])),
    "isMulticast": (1, lambda a: ip_in_range(_ipaddr(a), _MULTICAST[_ipaddr(a).version])),
    "isInRange": (2, lambda a, b: ip_in_range(_ipaddr(a), _ipaddr(b))),
    "offset": (2, lambda a, b: _offset(_datetime(a), _duration(b))),
    "durationSince": (2, lambda a, b: _duration_since(_datetime(a), _datetime(b))),
    "toDate": (1, lambda a: _to_date(_datetime(a))),
    "toTime": (1, lambda a: Duration(_datetime(a).millis % MS_PER_DAY)),
    "toDays": (1, lambda a: _truncate(_duration(a).millis, MS_PER_DAY)),
    "toHours": (1, lambda a: _truncate(_duration(a).millis, 3_600_000)),
    "toMinutes": (1, lambda a: _truncate(_duration(a).millis, 60_000)),
    "toSeconds": (1, lambda a: _truncate(_duration(a).millis, 1000)),
    "toMilliseconds": (1, lambda a: _duration(a).millis),
}
CONSTRUCTORS = frozenset({"decimal", "ip", "datetime", "duration"})
METHODS = frozenset(FUNCTIONS) - CONSTRUCTORS


def call_extension(name: str, args: Sequence[Value]) -> Value:
    """Apply the extension function ``name`` (a method's receiver is ``args[0]``)."""
    arity, impl = FUNCTIONS[name]
    if len(args) != arity:
        raise ExtensionError(
            f"wrong number of arguments provided to extension function `{name}`: "
            f"expected {arity}, got {len(args)}"
        )
    return impl(*args)


_ORDERED = {int: "long", Datetime: "datetime", Duration: "duration"}


def compare(a: Value, b: Value) -> tuple[int, int]:
    """The ordered keys of ``a < b``: both longs, both datetimes or both durations.

    The type error names what the other operand asks for, as Cedar does.
    """
    kind_a, kind_b = type(a), type(b)
    if kind_a in _ORDERED:
        if kind_b is not kind_a:
            raise _type_error(_ORDERED[kind_a], b)
    elif kind_b in _ORDERED:
        raise _type_error(_ORDERED[kind_b], a)
    else:
        raise _type_error("one of [long, datetime, duration]", a)
    if kind_a is int:
        return a, b  # type: ignore[return-value]
    return a.millis, b.millis  # type: ignore[union-attr]
