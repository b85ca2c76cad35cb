//! `decimal`: a number with four fractional digits, kept as the value times 10^4.

use super::fail;

const SCALE: i64 = 10_000;

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
pub(super) fn digits_value(digits: &str, cap: u128) -> Option<u128> {
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

pub fn decimal_display(scaled: i64) -> String {
    format!("decimal(\"{}\")", decimal_text(scaled))
}
