//! Cedar's extension types (decimal, ipaddr, datetime, duration): parsing,
//! their functions and methods, and the messages of their errors, as the
//! Python reference (`lion/kernel/policy/_extensions.py`) has them.
//!
//! Every failure is the full message without a location; the evaluator adds
//! the location, the JSON readers the path.

mod decimal;
mod ip;
mod time;

use std::fmt;
use std::sync::Arc;

use super::value::Value;

pub use decimal::{decimal_display, decimal_text, parse_decimal};
use ip::{loopback, multicast};
pub use ip::{parse_ip, IpNet};
pub use time::{
    datetime_display, datetime_text, duration_display, duration_text, parse_datetime,
    parse_duration, MS_PER_DAY,
};

fn fail(function: &str, message: impl fmt::Display) -> String {
    format!("error while evaluating `{function}` extension function: {message}")
}

fn type_error(expected: &str, got: &Value) -> String {
    format!("type error: expected {expected}, got {}", got.type_name())
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
