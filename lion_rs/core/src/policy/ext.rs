//! Cedar's extension types (decimal, ipaddr, datetime, duration): parsing,
//! their functions and methods, and the messages of their errors, as the
//! Python reference (`lion/kernel/policy/_extensions.py`) has them.
//!
//! Every failure is the full message without a location; the evaluator adds
//! the location, the JSON readers the path.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Arc;

use super::value::Value;

pub const MS_PER_DAY: i64 = 86_400_000;
const SCALE: i64 = 10_000;

/// An IPv4 or IPv6 address with a prefix length (a host address has the full
/// length). The address is kept as written, not masked, so `ip("10.0.0.1/24")`
/// and `ip("10.0.0.0/24")` differ, as in Cedar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    fn bits(&self) -> u32 {
        if self.addr.is_ipv4() {
            32
        } else {
            128
        }
    }

    fn number(&self) -> u128 {
        match self.addr {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        }
    }

    /// The first and last address of the network.
    fn range(&self) -> (u128, u128) {
        let bits = self.bits();
        let host_bits = bits - u32::from(self.prefix);
        let host: u128 = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let first = self.number() & !host;
        (first, first | host)
    }

    /// Whether every address of `self` lies in `net` (same version only).
    pub fn in_range(&self, net: &IpNet) -> bool {
        if self.addr.is_ipv4() != net.addr.is_ipv4() {
            return false;
        }
        let (lo, hi) = self.range();
        let (net_lo, net_hi) = net.range();
        net_lo <= lo && hi <= net_hi
    }
}

/// Python's `str(ipaddress.IPv6Address)`: lowercase hextets, the first longest
/// run of two or more zero hextets written `::`.
fn ipv6_text(addr: &Ipv6Addr) -> String {
    let segments = addr.segments();
    let (mut best_start, mut best_len) = (usize::MAX, 0usize);
    let (mut start, mut len) = (usize::MAX, 0usize);
    for (i, s) in segments.iter().enumerate() {
        if *s == 0 {
            if len == 0 {
                start = i;
            }
            len += 1;
            if len > best_len {
                best_len = len;
                best_start = start;
            }
        } else {
            len = 0;
        }
    }
    let hex: Vec<String> = segments.iter().map(|s| format!("{s:x}")).collect();
    if best_len < 2 {
        return hex.join(":");
    }
    let head = hex[..best_start].join(":");
    let tail = hex[best_start + best_len..].join(":");
    format!("{head}::{tail}")
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.addr {
            IpAddr::V4(a) => write!(f, "ip(\"{a}/{}\")", self.prefix),
            IpAddr::V6(a) => write!(f, "ip(\"{}/{}\")", ipv6_text(a), self.prefix),
        }
    }
}

fn fail(function: &str, message: impl fmt::Display) -> String {
    format!("error while evaluating `{function}` extension function: {message}")
}

fn type_error(expected: &str, got: &Value) -> String {
    format!("type error: expected {expected}, got {}", got.type_name())
}

// -- decimal ------------------------------------------------------------------------

/// Python's `\d` (Unicode category Nd, Unicode 14): each range is one script's digits.
const ND: [(u32, u32); 62] = [
    (0x30, 0x39),
    (0x660, 0x669),
    (0x6F0, 0x6F9),
    (0x7C0, 0x7C9),
    (0x966, 0x96F),
    (0x9E6, 0x9EF),
    (0xA66, 0xA6F),
    (0xAE6, 0xAEF),
    (0xB66, 0xB6F),
    (0xBE6, 0xBEF),
    (0xC66, 0xC6F),
    (0xCE6, 0xCEF),
    (0xD66, 0xD6F),
    (0xDE6, 0xDEF),
    (0xE50, 0xE59),
    (0xED0, 0xED9),
    (0xF20, 0xF29),
    (0x1040, 0x1049),
    (0x1090, 0x1099),
    (0x17E0, 0x17E9),
    (0x1810, 0x1819),
    (0x1946, 0x194F),
    (0x19D0, 0x19D9),
    (0x1A80, 0x1A89),
    (0x1A90, 0x1A99),
    (0x1B50, 0x1B59),
    (0x1BB0, 0x1BB9),
    (0x1C40, 0x1C49),
    (0x1C50, 0x1C59),
    (0xA620, 0xA629),
    (0xA8D0, 0xA8D9),
    (0xA900, 0xA909),
    (0xA9D0, 0xA9D9),
    (0xA9F0, 0xA9F9),
    (0xAA50, 0xAA59),
    (0xABF0, 0xABF9),
    (0xFF10, 0xFF19),
    (0x104A0, 0x104A9),
    (0x10D30, 0x10D39),
    (0x11066, 0x1106F),
    (0x110F0, 0x110F9),
    (0x11136, 0x1113F),
    (0x111D0, 0x111D9),
    (0x112F0, 0x112F9),
    (0x11450, 0x11459),
    (0x114D0, 0x114D9),
    (0x11650, 0x11659),
    (0x116C0, 0x116C9),
    (0x11730, 0x11739),
    (0x118E0, 0x118E9),
    (0x11950, 0x11959),
    (0x11C50, 0x11C59),
    (0x11D50, 0x11D59),
    (0x11DA0, 0x11DA9),
    (0x16A60, 0x16A69),
    (0x16AC0, 0x16AC9),
    (0x16B50, 0x16B59),
    (0x1D7CE, 0x1D7FF),
    (0x1E140, 0x1E149),
    (0x1E2F0, 0x1E2F9),
    (0x1E950, 0x1E959),
    (0x1FBF0, 0x1FBF9),
];

fn is_unicode_digit(c: char) -> bool {
    let c = c as u32;
    if c < 0x80 {
        return (0x30..=0x39).contains(&c);
    }
    ND.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// The value of an ASCII digit string, or None when it exceeds `cap`.
fn digits_value(digits: &str, cap: u128) -> Option<u128> {
    let mut n: u128 = 0;
    for b in digits.bytes() {
        n = n.checked_mul(10)?.checked_add(u128::from(b - b'0'))?;
        if n > cap {
            return None;
        }
    }
    Some(n)
}

/// `decimal("-12.3456")`: at most four fractional digits, in the i64 range once scaled.
pub fn parse_decimal(text: &str) -> Result<i64, String> {
    let body = text.strip_prefix('-').unwrap_or(text);
    let negative = body.len() != text.len();
    let well_formed = body.split_once('.').filter(|(whole, frac)| {
        !whole.is_empty()
            && !frac.is_empty()
            && whole.chars().all(is_unicode_digit)
            && frac.chars().all(is_unicode_digit)
    });
    let Some((whole, frac)) = well_formed else {
        return Err(fail(
            "decimal",
            format!("`{text}` is not a well-formed decimal value"),
        ));
    };
    // Cedar's order: the whole part (an i64, then scaled), the number of fractional
    // digits, the fractional part, the sum. Non-ASCII digits pass the pattern only.
    let overflow = || fail("decimal", "overflow when converting to decimal");
    let significant = whole.trim_start_matches('0');
    if !whole.is_ascii() || significant.len() > 19 {
        return Err(overflow());
    }
    let magnitude = digits_value(significant, u128::MAX).ok_or_else(overflow)? as i128;
    let whole_n = if negative { -magnitude } else { magnitude };
    let in_i64 = |n: i128| (i64::MIN as i128..=i64::MAX as i128).contains(&n);
    let whole_scaled = whole_n * SCALE as i128;
    if !in_i64(whole_n) || !in_i64(whole_scaled) {
        return Err(overflow());
    }
    if frac.len() > 4 {
        return Err(fail(
            "decimal",
            format!("too many digits after the decimal in `{text}`"),
        ));
    }
    if !frac.is_ascii() {
        return Err(overflow());
    }
    let fraction = digits_value(frac, u128::MAX).ok_or_else(overflow)? as i128
        * 10i128.pow(4 - frac.len() as u32);
    let scaled = if negative {
        whole_scaled - fraction
    } else {
        whole_scaled + fraction
    };
    if !in_i64(scaled) {
        return Err(overflow());
    }
    Ok(scaled as i64)
}

/// `scaled / 10**4` with at least one fractional digit (`1.5`, `-0.0001`).
pub fn decimal_text(scaled: i64) -> String {
    let sign = if scaled < 0 { "-" } else { "" };
    let magnitude = scaled.unsigned_abs();
    let (whole, frac) = (magnitude / SCALE as u64, magnitude % SCALE as u64);
    let digits = format!("{frac:04}");
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    format!("{sign}{whole}.{digits}")
}

// -- ipaddr -------------------------------------------------------------------------

/// Bytes: `ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/128`.
const IP_MAX_LEN: usize = 43;

fn embedded(text: &str) -> String {
    format!(
        "error parsing IP address from string: We do not accept IPv4 embedded in IPv6 \
         (e.g., ::ffff:127.0.0.1). Found: `{text}`"
    )
}

fn plain_address(text: &str) -> Option<IpAddr> {
    let allowed = |c: char| c.is_ascii_hexdigit() || c == ':' || c == '.';
    if text.is_empty() || !text.chars().all(allowed) {
        return None; // also rules out zone ids (`%eth0`) and brackets
    }
    if text.contains(':') {
        Ipv6Addr::from_str(text).ok().map(IpAddr::V6)
    } else {
        Ipv4Addr::from_str(text).ok().map(IpAddr::V4)
    }
}

fn parse_prefix(text: &str, limit: u8, max_len: usize) -> Result<u8, String> {
    if text.len() > max_len {
        return Err(fail(
            "ipaddr",
            format!(
                "error parsing prefix: string length {} is too large",
                text.len()
            ),
        ));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(fail(
            "ipaddr",
            format!("error parsing prefix `{text}`: encountered non-digit"),
        ));
    }
    if text.starts_with('0') && text != "0" {
        return Err(fail(
            "ipaddr",
            format!("error parsing prefix `{text}`: leading zero(s)"),
        ));
    }
    if text.is_empty() {
        return Err(fail(
            "ipaddr",
            "error parsing prefix from the string ``: cannot parse integer from empty string",
        ));
    }
    let value: u32 = text.parse().unwrap_or(u32::MAX);
    if value > u32::from(limit) {
        return Err(fail(
            "ipaddr",
            format!("error parsing prefix: {value} is larger than the limit {limit}"),
        ));
    }
    Ok(value as u8)
}

/// `ip("10.0.0.1")` or `ip("10.0.0.0/8")`: IPv4 or IPv6, no IPv4 embedded in IPv6.
pub fn parse_ip(text: &str) -> Result<IpNet, String> {
    if text.len() > IP_MAX_LEN {
        return Err(fail(
            "ipaddr",
            format!("error parsing IP address from string `{text}`: string length is too large"),
        ));
    }
    // Cedar refuses any mix of colons and dots (two of each) before reading the address.
    if text.matches(':').count() >= 2 && text.matches('.').count() >= 2 {
        return Err(fail("ipaddr", embedded(text)));
    }
    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let Some(addr) = plain_address(addr_text) else {
        if prefix_text.is_some() {
            return Err(fail(
                "ipaddr",
                format!(
                    "error parsing IP address from the string `{addr_text}`: invalid IP address syntax"
                ),
            ));
        }
        return Err(fail("ipaddr", format!("invalid IP address: {text}")));
    };
    let (limit, max_len) = if addr.is_ipv4() { (32, 2) } else { (128, 3) };
    let prefix = match prefix_text {
        Some(p) => parse_prefix(p, limit, max_len)?,
        None => limit,
    };
    Ok(IpNet { addr, prefix })
}

fn loopback(v4: bool) -> IpNet {
    if v4 {
        IpNet {
            addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
            prefix: 8,
        }
    } else {
        IpNet {
            addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
            prefix: 128,
        }
    }
}

fn multicast(v4: bool) -> IpNet {
    if v4 {
        IpNet {
            addr: IpAddr::V4(Ipv4Addr::new(224, 0, 0, 0)),
            prefix: 4,
        }
    } else {
        IpNet {
            addr: IpAddr::V6(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0)),
            prefix: 8,
        }
    }
}

// -- datetime -----------------------------------------------------------------------

/// Days from 1970-01-01 to the proleptic Gregorian date (y, m, d).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of the date `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn num(raw: &[u8], from: usize, to: usize) -> i64 {
    raw.get(from..to)
        .unwrap_or(&[])
        .iter()
        .fold(0, |n, b| n * 10 + i64::from(b.wrapping_sub(b'0')))
}

fn digits_at(raw: &[u8], from: usize, count: usize) -> bool {
    raw.get(from..from + count)
        .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
}

fn ascii(raw: &[u8], from: usize, to: usize) -> String {
    String::from_utf8_lossy(raw.get(from..to.min(raw.len())).unwrap_or(&[])).into_owned()
}

/// `datetime(...)` in Cedar's forms: `YYYY-MM-DD`, then optionally `Thh:mm:ss`
/// with `.sss` milliseconds and a `Z` or `+hhmm`/`-hhmm` offset.
pub fn parse_datetime(text: &str) -> Result<i64, String> {
    let raw = text.as_bytes();
    let date_ok = digits_at(raw, 0, 4)
        && raw.get(4) == Some(&b'-')
        && digits_at(raw, 5, 2)
        && raw.get(7) == Some(&b'-')
        && digits_at(raw, 8, 2);
    if !date_ok {
        return Err(fail("datetime", "invalid date pattern"));
    }
    // (hh, mm, ss, ms) and the offset (sign, hours, minutes), when there is a time.
    let mut time: Option<(i64, i64, i64, i64)> = None;
    let mut offset: Option<(u8, i64, i64)> = None;
    if raw.len() > 10 {
        let hms_ok = raw.get(10) == Some(&b'T')
            && digits_at(raw, 11, 2)
            && raw.get(13) == Some(&b':')
            && digits_at(raw, 14, 2)
            && raw.get(16) == Some(&b':')
            && digits_at(raw, 17, 2);
        if !hms_ok {
            return Err(fail("datetime", "invalid hour/minute/second pattern"));
        }
        let mut pos = 19;
        let mut ms = 0;
        if raw.get(pos) == Some(&b'.') && digits_at(raw, pos + 1, 3) {
            ms = num(raw, pos + 1, pos + 4);
            pos += 4;
        }
        match raw.get(pos..).unwrap_or(&[]) {
            b"Z" => {}
            [sign @ (b'+' | b'-'), rest @ ..] if rest.len() == 4 && digits_at(rest, 0, 4) => {
                offset = Some((*sign, num(rest, 0, 2), num(rest, 2, 4)));
            }
            _ => {
                return Err(fail(
                    "datetime",
                    "invalid millisecond and/or offset pattern",
                ))
            }
        }
        time = Some((num(raw, 11, 13), num(raw, 14, 16), num(raw, 17, 19), ms));
    }
    let (y, m, d) = (num(raw, 0, 4), num(raw, 5, 7), num(raw, 8, 10));
    if !((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m)) {
        return Err(fail(
            "datetime",
            format!("invalid date: {}", ascii(raw, 0, 10)),
        ));
    }
    let mut millis = days_from_civil(y, m, d) * MS_PER_DAY;
    let Some((hh, mm, ss, ms)) = time else {
        return Ok(millis);
    };
    if hh >= 24 || mm >= 60 || ss >= 60 {
        return Err(fail(
            "datetime",
            format!("invalid hour/minute/second: {}", ascii(raw, 11, 19)),
        ));
    }
    millis += ((hh * 60 + mm) * 60 + ss) * 1000 + ms;
    if let Some((sign, oh, om)) = offset {
        if oh >= 24 || om >= 60 {
            return Err(fail("datetime", format!("invalid offset range: {oh}{om}")));
        }
        let shift = (oh * 60 + om) * 60_000;
        millis += if sign == b'+' { -shift } else { shift };
    }
    Ok(millis)
}

/// `millis` since the epoch as `YYYY-MM-DDThh:mm:ss.sssZ`; None outside the
/// years 0000-9999, which that form cannot write.
pub fn datetime_text(millis: i64) -> Option<String> {
    let (days, rest) = (millis.div_euclid(MS_PER_DAY), millis.rem_euclid(MS_PER_DAY));
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    let (hh, rest) = (rest / 3_600_000, rest % 3_600_000);
    let (mm, rest) = (rest / 60_000, rest % 60_000);
    let (ss, ms) = (rest / 1000, rest % 1000);
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{ms:03}Z"
    ))
}

// -- duration -----------------------------------------------------------------------

const UNITS: [(&str, i64); 5] = [
    ("d", MS_PER_DAY),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
];

/// `duration("1d2h3m4s5ms")`: units in this order, each at most once; a leading `-`.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let invalid = || fail("duration", "invalid duration pattern");
    let body = text.strip_prefix('-').unwrap_or(text);
    let negative = body.len() != text.len();
    let bytes = body.as_bytes();
    let mut pos = 0;
    let mut next_unit = 0;
    let mut total: u128 = 0;
    let cap = 1u128 << 100;
    while pos < bytes.len() {
        let start = pos;
        while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        if pos == start {
            return Err(invalid());
        }
        let count = digits_value(&body[start..pos], cap).unwrap_or(cap);
        let unit = match &bytes[pos..] {
            [b'm', b's', ..] => "ms",
            [b'd', ..] => "d",
            [b'h', ..] => "h",
            [b'm', ..] => "m",
            [b's', ..] => "s",
            _ => return Err(invalid()),
        };
        let Some(index) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(invalid());
        };
        if index < next_unit {
            return Err(invalid());
        }
        next_unit = index + 1;
        pos += unit.len();
        total = total.saturating_add(count.saturating_mul(UNITS[index].1 as u128));
    }
    if next_unit == 0 {
        return Err(invalid());
    }
    let limit = i64::MAX as u128 + u128::from(negative);
    if total > limit {
        return Err(fail(
            "duration",
            "Duration overflows internal representation",
        ));
    }
    Ok(if negative {
        (total as i128).wrapping_neg() as i64
    } else {
        total as i64
    })
}

/// `millis` as `[-]XdXhXmXsXms` without the zero units (`0ms` for zero).
pub fn duration_text(millis: i64) -> String {
    if millis == 0 {
        return "0ms".into();
    }
    let mut out = String::new();
    if millis < 0 {
        out.push('-');
    }
    let mut rest = millis.unsigned_abs();
    for (unit, size) in UNITS {
        let size = size as u64;
        let count = rest / size;
        rest %= size;
        if count > 0 {
            out.push_str(&format!("{count}{unit}"));
        }
    }
    out
}

/// `datetime("...")`, or an offset from the epoch outside the years 0000-9999.
pub fn datetime_display(millis: i64) -> String {
    match datetime_text(millis) {
        Some(text) => format!("datetime(\"{text}\")"),
        None => format!("datetime(\"1970-01-01\").offset(duration(\"{millis}ms\"))"),
    }
}

pub fn duration_display(millis: i64) -> String {
    format!("duration(\"{}\")", duration_text(millis))
}

pub fn decimal_display(scaled: i64) -> String {
    format!("decimal(\"{}\")", decimal_text(scaled))
}

// -- functions ----------------------------------------------------------------------

/// An extension function; a method takes its receiver as the first argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtFn {
    Decimal,
    Ip,
    Datetime,
    Duration,
    LessThan,
    LessThanOrEqual,
    GreaterThan,
    GreaterThanOrEqual,
    IsIpv4,
    IsIpv6,
    IsLoopback,
    IsMulticast,
    IsInRange,
    Offset,
    DurationSince,
    ToDate,
    ToTime,
    ToDays,
    ToHours,
    ToMinutes,
    ToSeconds,
    ToMilliseconds,
}

const ALL: [ExtFn; 22] = [
    ExtFn::Decimal,
    ExtFn::Ip,
    ExtFn::Datetime,
    ExtFn::Duration,
    ExtFn::LessThan,
    ExtFn::LessThanOrEqual,
    ExtFn::GreaterThan,
    ExtFn::GreaterThanOrEqual,
    ExtFn::IsIpv4,
    ExtFn::IsIpv6,
    ExtFn::IsLoopback,
    ExtFn::IsMulticast,
    ExtFn::IsInRange,
    ExtFn::Offset,
    ExtFn::DurationSince,
    ExtFn::ToDate,
    ExtFn::ToTime,
    ExtFn::ToDays,
    ExtFn::ToHours,
    ExtFn::ToMinutes,
    ExtFn::ToSeconds,
    ExtFn::ToMilliseconds,
];

impl ExtFn {
    pub fn name(self) -> &'static str {
        match self {
            ExtFn::Decimal => "decimal",
            ExtFn::Ip => "ip",
            ExtFn::Datetime => "datetime",
            ExtFn::Duration => "duration",
            ExtFn::LessThan => "lessThan",
            ExtFn::LessThanOrEqual => "lessThanOrEqual",
            ExtFn::GreaterThan => "greaterThan",
            ExtFn::GreaterThanOrEqual => "greaterThanOrEqual",
            ExtFn::IsIpv4 => "isIpv4",
            ExtFn::IsIpv6 => "isIpv6",
            ExtFn::IsLoopback => "isLoopback",
            ExtFn::IsMulticast => "isMulticast",
            ExtFn::IsInRange => "isInRange",
            ExtFn::Offset => "offset",
            ExtFn::DurationSince => "durationSince",
            ExtFn::ToDate => "toDate",
            ExtFn::ToTime => "toTime",
            ExtFn::ToDays => "toDays",
            ExtFn::ToHours => "toHours",
            ExtFn::ToMinutes => "toMinutes",
            ExtFn::ToSeconds => "toSeconds",
            ExtFn::ToMilliseconds => "toMilliseconds",
        }
    }

    /// Any extension function or method by its name.
    pub fn from_name(name: &str) -> Option<ExtFn> {
        ALL.iter().copied().find(|f| f.name() == name)
    }

    /// A constructor (`decimal`, `ip`, `datetime`, `duration`), called as a function.
    pub fn is_constructor(self) -> bool {
        matches!(
            self,
            ExtFn::Decimal | ExtFn::Ip | ExtFn::Datetime | ExtFn::Duration
        )
    }

    /// The number of arguments, counting a method's receiver.
    pub fn arity(self) -> usize {
        match self {
            ExtFn::LessThan
            | ExtFn::LessThanOrEqual
            | ExtFn::GreaterThan
            | ExtFn::GreaterThanOrEqual
            | ExtFn::IsInRange
            | ExtFn::Offset
            | ExtFn::DurationSince => 2,
            _ => 1,
        }
    }
}

fn string_arg(v: &Value) -> Result<&str, String> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(type_error("string", other)),
    }
}

fn decimal_arg(v: &Value) -> Result<i64, String> {
    match v {
        Value::Decimal(d) => Ok(*d),
        other => Err(type_error("decimal", other)),
    }
}

fn ip_arg(v: &Value) -> Result<&IpNet, String> {
    match v {
        Value::Ip(ip) => Ok(ip),
        other => Err(type_error("ipaddr", other)),
    }
}

fn datetime_arg(v: &Value) -> Result<i64, String> {
    match v {
        Value::Datetime(t) => Ok(*t),
        other => Err(type_error("datetime", other)),
    }
}

fn duration_arg(v: &Value) -> Result<i64, String> {
    match v {
        Value::Duration(t) => Ok(*t),
        other => Err(type_error("duration", other)),
    }
}

/// Apply `f` to `args` (a method's receiver first).
pub fn call(f: ExtFn, args: &[Value]) -> Result<Value, String> {
    if args.len() != f.arity() {
        return Err(format!(
            "wrong number of arguments provided to extension function `{}`: expected {}, got {}",
            f.name(),
            f.arity(),
            args.len()
        ));
    }
    let (a, b) = (&args[0], args.get(1));
    let second = || b.ok_or_else(|| "internal error: missing argument".to_string());
    Ok(match f {
        ExtFn::Decimal => Value::Decimal(parse_decimal(string_arg(a)?)?),
        ExtFn::Ip => Value::Ip(Arc::new(parse_ip(string_arg(a)?)?)),
        ExtFn::Datetime => Value::Datetime(parse_datetime(string_arg(a)?)?),
        ExtFn::Duration => Value::Duration(parse_duration(string_arg(a)?)?),
        ExtFn::LessThan => Value::Bool(decimal_arg(a)? < decimal_arg(second()?)?),
        ExtFn::LessThanOrEqual => Value::Bool(decimal_arg(a)? <= decimal_arg(second()?)?),
        ExtFn::GreaterThan => Value::Bool(decimal_arg(a)? > decimal_arg(second()?)?),
        ExtFn::GreaterThanOrEqual => Value::Bool(decimal_arg(a)? >= decimal_arg(second()?)?),
        ExtFn::IsIpv4 => Value::Bool(ip_arg(a)?.addr.is_ipv4()),
        ExtFn::IsIpv6 => Value::Bool(ip_arg(a)?.addr.is_ipv6()),
        ExtFn::IsLoopback => {
            let ip = ip_arg(a)?;
            Value::Bool(ip.in_range(&loopback(ip.addr.is_ipv4())))
        }
        ExtFn::IsMulticast => {
            let ip = ip_arg(a)?;
            Value::Bool(ip.in_range(&multicast(ip.addr.is_ipv4())))
        }
        ExtFn::IsInRange => {
            let ip = ip_arg(a)?;
            Value::Bool(ip.in_range(ip_arg(second()?)?))
        }
        ExtFn::Offset => {
            let (dt, dur) = (datetime_arg(a)?, duration_arg(second()?)?);
            match dt.checked_add(dur) {
                Some(t) => Value::Datetime(t),
                None => {
                    return Err(fail(
                        "offset",
                        format!(
                            "overflows when adding an offset: {}.offset({})",
                            datetime_display(dt),
                            duration_display(dur)
                        ),
                    ))
                }
            }
        }
        ExtFn::DurationSince => {
            let (dt, other) = (datetime_arg(a)?, datetime_arg(second()?)?);
            match dt.checked_sub(other) {
                Some(t) => Value::Duration(t),
                None => {
                    return Err(fail(
                        "durationSince",
                        format!(
                            "overflows when computing the duration between {} and {}",
                            datetime_display(dt),
                            datetime_display(other)
                        ),
                    ))
                }
            }
        }
        ExtFn::ToDate => {
            let dt = datetime_arg(a)?;
            match dt.div_euclid(MS_PER_DAY).checked_mul(MS_PER_DAY) {
                Some(t) => Value::Datetime(t),
                None => {
                    return Err(fail(
                        "toDate",
                        format!(
                            "overflows when computing the date of {}",
                            datetime_display(dt)
                        ),
                    ))
                }
            }
        }
        ExtFn::ToTime => Value::Duration(datetime_arg(a)?.rem_euclid(MS_PER_DAY)),
        ExtFn::ToDays => Value::Long(duration_arg(a)? / MS_PER_DAY),
        ExtFn::ToHours => Value::Long(duration_arg(a)? / 3_600_000),
        ExtFn::ToMinutes => Value::Long(duration_arg(a)? / 60_000),
        ExtFn::ToSeconds => Value::Long(duration_arg(a)? / 1000),
        ExtFn::ToMilliseconds => Value::Long(duration_arg(a)?),
    })
}

/// The ordered keys of `a < b`: both longs, both datetimes or both durations.
/// The type error names what the other operand asks for, as Cedar does.
pub fn compare(a: &Value, b: &Value) -> Result<(i64, i64), String> {
    fn key(v: &Value) -> Option<(&'static str, i64)> {
        match v {
            Value::Long(n) => Some(("long", *n)),
            Value::Datetime(t) => Some(("datetime", *t)),
            Value::Duration(t) => Some(("duration", *t)),
            _ => None,
        }
    }
    match (key(a), key(b)) {
        (Some((ka, x)), Some((kb, y))) if ka == kb => Ok((x, y)),
        (Some((ka, _)), _) => Err(type_error(ka, b)),
        (None, Some((kb, _))) => Err(type_error(kb, a)),
        (None, None) => Err(type_error("one of [long, datetime, duration]", a)),
    }
}
