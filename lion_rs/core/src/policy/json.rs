//! A JSON tree as Python's `json` module would decode it, and a parser for
//! JSON text with the same rules (duplicate keys refused, NaN/Infinity read as
//! floats, big integers kept as text) and bounded nesting.

/// A decoded JSON value (or a Python object handed over by the binding).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer outside 64 bits, as decimal text.
    BigInt(String),
    /// A float, as Python's `repr` writes it.
    Float(String),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(Key, Json)>),
    /// A Python object that is no JSON value, by its type name.
    Other(String),
}

/// An object key; `repr` is set when the key was not a string (Python input only).
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub text: String,
    pub repr: Option<String>,
}

impl Key {
    pub fn str(text: impl Into<String>) -> Self {
        Key {
            text: text.into(),
            repr: None,
        }
    }
}

impl Json {
    /// How Python's `_kind` describes the value in messages.
    pub fn kind(&self) -> String {
        match self {
            Json::Null => "null".into(),
            Json::Bool(_) => "a boolean".into(),
            Json::Int(_) | Json::BigInt(_) => "a number".into(),
            Json::Float(_) => "a floating-point number".into(),
            Json::Str(_) => "a string".into(),
            Json::Array(_) => "an array".into(),
            Json::Object(_) => "an object".into(),
            Json::Other(name) => format!("a `{name}`"),
        }
    }

    /// Python's `str()` of the decoded value.
    pub fn py_str(&self) -> String {
        match self {
            Json::Str(s) => s.clone(),
            other => other.py_repr(),
        }
    }

    /// Python's `repr()` of the decoded value.
    pub fn py_repr(&self) -> String {
        match self {
            Json::Null => "None".into(),
            Json::Bool(true) => "True".into(),
            Json::Bool(false) => "False".into(),
            Json::Int(n) => n.to_string(),
            Json::BigInt(s) | Json::Float(s) => s.clone(),
            Json::Str(s) => py_repr_str(s),
            Json::Array(items) => {
                let parts: Vec<String> = items.iter().map(Json::py_repr).collect();
                format!("[{}]", parts.join(", "))
            }
            Json::Object(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| {
                        let key = k.repr.clone().unwrap_or_else(|| py_repr_str(&k.text));
                        format!("{key}: {}", v.py_repr())
                    })
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            Json::Other(name) => format!("<{name} object>"),
        }
    }

    /// The value under `key` when this is an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields
                .iter()
                .find(|(k, _)| k.repr.is_none() && k.text == key)
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Python's `repr` of a str (close enough for messages).
pub fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(quote);
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7F => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr` of a float.
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let body = if exp >= 0 {
            let point = (exp + 1) as usize;
            let mut d = digits.clone();
            while d.len() < point {
                d.push('0');
            }
            let (int, frac) = d.split_at(point);
            let frac = if frac.is_empty() { "0" } else { frac };
            format!("{int}.{frac}")
        } else {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let mant = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mant}e{esign}{:02}", exp.abs())
    }
}

/// Why JSON text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// A syntax error at (line, column), as Python's decoder reports it.
    Syntax(usize, usize, &'static str),
    /// A valid document with a repeated object key.
    Duplicate(String),
    TooDeep,
}

/// Python's recursion limit stops its decoder around this depth.
const MAX_JSON_DEPTH: usize = 990;

/// Decode JSON text as `json.loads` (with duplicate keys refused) would.
pub fn parse_json(text: &str) -> Result<Json, JsonError> {
    let mut p = JsonParser {
        s: text.as_bytes(),
        text,
        pos: 0,
    };
    p.ws();
    let value = p.value(0)?;
    p.ws();
    if p.pos < p.s.len() {
        return Err(p.err_at(p.pos, "extra data"));
    }
    Ok(value)
}

struct JsonParser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl JsonParser<'_> {
    fn err_at(&self, pos: usize, msg: &'static str) -> JsonError {
        let before = self.text.get(..pos).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let col = match before.rfind('\n') {
            Some(nl) => before[nl + 1..].chars().count() + 1,
            None => before.chars().count() + 1,
        };
        JsonError::Syntax(line, col, msg)
    }

    fn ws(&mut self) {
        while let Some(&c) = self.s.get(self.pos) {
            if c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn starts(&self, lit: &str) -> bool {
        self.s[self.pos..].starts_with(lit.as_bytes())
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        match self.peek() {
            Some(b'{') => {
                if depth >= MAX_JSON_DEPTH {
                    return Err(JsonError::TooDeep);
                }
                self.object(depth)
            }
            Some(b'[') => {
                if depth >= MAX_JSON_DEPTH {
                    return Err(JsonError::TooDeep);
                }
                self.array(depth)
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b'n') if self.starts("null") => {
                self.pos += 4;
                Ok(Json::Null)
            }
            Some(b't') if self.starts("true") => {
                self.pos += 4;
                Ok(Json::Bool(true))
            }
            Some(b'f') if self.starts("false") => {
                self.pos += 5;
                Ok(Json::Bool(false))
            }
            Some(b'N') if self.starts("NaN") => {
                self.pos += 3;
                Ok(Json::Float("nan".into()))
            }
            Some(b'I') if self.starts("Infinity") => {
                self.pos += 8;
                Ok(Json::Float("inf".into()))
            }
            Some(b'-') if self.s[self.pos + 1..].starts_with(b"Infinity") => {
                self.pos += 9;
                Ok(Json::Float("-inf".into()))
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => self.number(),
            _ => Err(self.err_at(self.pos, "expecting value")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(c) if c.is_ascii_digit() => {
                self.digits();
            }
            _ => return Err(self.err_at(start, "expecting value")),
        }
        let mut float = false;
        if self.peek() == Some(b'.') && self.s.get(self.pos + 1).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
            self.digits();
            float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                self.pos = save;
            } else {
                float = true;
            }
        }
        let text = &self.text[start..self.pos];
        if float {
            let f: f64 = text.parse().unwrap_or(f64::NAN);
            return Ok(Json::Float(py_float_repr(f)));
        }
        match text.parse::<i64>() {
            Ok(n) => Ok(Json::Int(n)),
            Err(_) => {
                let trimmed = text.trim_start_matches('-').trim_start_matches('0');
                let sign = if text.starts_with('-') { "-" } else { "" };
                Ok(Json::BigInt(format!("{sign}{trimmed}")))
            }
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let h = self.s.get(at..at + 4)?;
        let t = std::str::from_utf8(h).ok()?;
        if !t.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(t, 16).ok()
    }

    fn string(&mut self) -> Result<String, JsonError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.peek() {
                None => return Err(self.err_at(open, "unterminated string starting at")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let esc = self.pos;
                    let Some(kind) = self.s.get(self.pos + 1).copied() else {
                        return Err(self.err_at(open, "unterminated string starting at"));
                    };
                    self.pos += 2;
                    match kind {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let Some(code) = self.hex4(self.pos) else {
                                return Err(self.err_at(esc, "invalid \\uXXXX escape"));
                            };
                            self.pos += 4;
                            let mut code = code;
                            if (0xD800..0xDC00).contains(&code)
                                && self.s.get(self.pos) == Some(&b'\\')
                                && self.s.get(self.pos + 1) == Some(&b'u')
                            {
                                if let Some(low) = self.hex4(self.pos + 2) {
                                    if (0xDC00..0xE000).contains(&low) {
                                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                                        self.pos += 6;
                                    }
                                }
                            }
                            // A lone surrogate is not unicode: refused, as by the
                            // Python backend (which names the field instead).
                            let Some(ch) = char::from_u32(code) else {
                                return Err(self.err_at(esc, "lone surrogate in \\uXXXX escape"));
                            };
                            out.push(ch);
                        }
                        _ => return Err(self.err_at(esc, "invalid \\escape")),
                    }
                }
                Some(_) => return Err(self.err_at(self.pos, "invalid control character at")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.err_at(self.pos, "expecting ',' delimiter")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.pos += 1;
        let mut fields: Vec<(Key, Json)> = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(fields));
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.err_at(
                    self.pos,
                    "expecting property name enclosed in double quotes",
                ));
            }
            let key = self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err_at(self.pos, "expecting ':' delimiter"));
            }
            self.pos += 1;
            self.ws();
            let value = self.value(depth + 1)?;
            fields.push((Key::str(key), value));
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    check_duplicates(&fields)?;
                    return Ok(Json::Object(fields));
                }
                _ => return Err(self.err_at(self.pos, "expecting ',' delimiter")),
            }
        }
    }
}

fn check_duplicates(fields: &[(Key, Json)]) -> Result<(), JsonError> {
    let mut seen = std::collections::HashSet::with_capacity(fields.len());
    for (k, _) in fields {
        if !seen.insert(k.text.as_str()) {
            return Err(JsonError::Duplicate(k.text.clone()));
        }
    }
    Ok(())
}
