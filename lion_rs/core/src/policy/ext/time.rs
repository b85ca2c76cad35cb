//! `datetime` (milliseconds since the Unix epoch, UTC) and `duration` (milliseconds).

use super::decimal::digits_value;
use super::fail;

pub const MS_PER_DAY: i64 = 86_400_000;

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
