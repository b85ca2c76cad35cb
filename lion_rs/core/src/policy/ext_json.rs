//! Extension values in Cedar's JSON: `{"__extn": {"fn": "decimal", "arg": "1.5"}}`
//! (or `"args": [...]`), in entity attributes, tags and request context.

use super::entities::{value_from_json, Path};
use super::ext::{self, ExtFn};
use super::json::Json;
use super::value::Value;
use super::Limits;
use crate::{CoreError, Result};

fn fail(path: &Path<'_>, message: impl std::fmt::Display) -> CoreError {
    CoreError::Policy(format!("{path}: {message}"))
}

/// The value of the object under `__extn` (at `path`, already `....__extn`).
pub fn extension_from_json(
    data: &Json,
    path: &Path<'_>,
    limits: &Limits,
    depth: usize,
) -> Result<Value> {
    if !matches!(data, Json::Object(_)) {
        return Err(fail(
            path,
            format!(
                "expected an object such as {{\"fn\": \"ip\", \"arg\": \"10.0.0.1\"}}, got {}",
                data.kind()
            ),
        ));
    }
    let name = match data.get("fn") {
        Some(Json::Str(s)) => s.as_str(),
        other => {
            return Err(fail(
                path,
                format!(
                    "`fn` must name an extension function, got {}",
                    other.unwrap_or(&Json::Null).kind()
                ),
            ))
        }
    };
    let Some(f) = ExtFn::from_name(name) else {
        return Err(fail(
            path,
            format!("extension function `{name}` does not exist"),
        ));
    };
    let (arg, args) = (data.get("arg"), data.get("args"));
    let mut values = Vec::new();
    match (arg, args) {
        (Some(a), None) => {
            values.push(value_from_json(
                a,
                &Path::Field(path, "arg"),
                limits,
                depth + 1,
            )?);
        }
        (None, Some(Json::Array(items))) => {
            let at = Path::Field(path, "args");
            for (i, a) in items.iter().enumerate() {
                values.push(value_from_json(a, &Path::Index(&at, i), limits, depth + 1)?);
            }
        }
        (None, Some(other)) => {
            return Err(fail(
                &Path::Field(path, "args"),
                format!("expected an array, got {}", other.kind()),
            ))
        }
        _ => {
            return Err(fail(
                path,
                "an extension value needs exactly one of `arg` and `args`",
            ))
        }
    }
    ext::call(f, &values).map_err(|m| fail(path, m))
}
