//! Cedar's entities JSON and request JSON -> `Entities` and `Request`.
//!
//! Every malformed input is a `CoreError::Policy` naming the path to the bad
//! field, such as `entities[2].attrs.owner`, worded as the Python reference.

use std::borrow::Cow;
use std::sync::Arc;

use super::ext_json::extension_from_json;
use super::json::{parse_json, Json, JsonError};
use super::value::{KeyedMap, KeyedSet, Record, Set, Uid, Value};
use super::Limits;
use crate::{CoreError, Result};

fn fail(path: impl std::fmt::Display, message: impl std::fmt::Display) -> CoreError {
    CoreError::Policy(format!("{path}: {message}"))
}

/// Where a JSON value sits (`entities[2].attrs.owner`), built only for messages.
#[derive(Clone, Copy)]
pub enum Path<'a> {
    Root(&'a str),
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root(name) => f.write_str(name),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// Decode JSON text, naming `what` in errors.
pub fn load_json(text: &str, what: &str) -> Result<Json> {
    parse_json(text).map_err(|e| match e {
        JsonError::Syntax(line, col, msg) => CoreError::Policy(format!(
            "{what}: invalid JSON at line {line} column {col}: {msg}"
        )),
        JsonError::Duplicate(key) => {
            CoreError::Policy(format!("{what}: invalid JSON: duplicate key `{key}`"))
        }
        JsonError::TooDeep => CoreError::Policy(format!("{what}: JSON is nested too deeply")),
    })
}

/// Decode the inside of a string literal. With `pattern`, an unescaped `*`
/// becomes `None` (the wildcard). The error is the Python reference's message.
pub fn unescape(body: &[char], pattern: bool) -> std::result::Result<Vec<Option<char>>, String> {
    let mut out = Vec::with_capacity(body.len());
    let n = body.len();
    let slice = |a: usize, b: usize| -> String { body[a.min(n)..b.min(n)].iter().collect() };
    let mut i = 0;
    while i < n {
        let ch = body[i];
        if ch == '*' && pattern {
            out.push(None);
            i += 1;
            continue;
        }
        if ch != '\\' {
            out.push(Some(ch));
            i += 1;
            continue;
        }
        if i + 1 >= n {
            return Err("unterminated escape `\\`".into());
        }
        let nxt = body[i + 1];
        let simple = match nxt {
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            '\\' => Some('\\'),
            '0' => Some('\0'),
            '\'' => Some('\''),
            '"' => Some('"'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(Some(c));
            i += 2;
        } else if nxt == '*' && pattern {
            out.push(Some('*'));
            i += 2;
        } else if nxt == 'x' {
            let digits = slice(i + 2, i + 4);
            let ok = digits.chars().count() == 2 && digits.chars().all(|c| c.is_ascii_hexdigit());
            let code = if ok {
                u32::from_str_radix(&digits, 16).unwrap_or(0xFF)
            } else {
                0xFF
            };
            if !ok || code > 0x7F {
                return Err(format!(
                    "the input `{}` is not a valid escape",
                    slice(i, i + 4)
                ));
            }
            out.push(char::from_u32(code));
            i += 4;
        } else if nxt == 'u' {
            let close = body[i..].iter().position(|c| *c == '}').map(|p| p + i);
            let raw: String = match close {
                Some(close) if body.get(i + 2) == Some(&'{') && close > 0 => slice(i + 3, close),
                _ => String::new(),
            };
            let digits: String = if raw.starts_with('_') {
                String::new()
            } else {
                raw.replace('_', "")
            };
            let len = digits.chars().count();
            let code: i64 =
                if (1..=6).contains(&len) && digits.chars().all(|c| c.is_ascii_hexdigit()) {
                    i64::from_str_radix(&digits, 16).unwrap_or(-1)
                } else {
                    -1
                };
            if !(0..=0x10FFFF).contains(&code) || (0xD800..=0xDFFF).contains(&code) {
                return Err(format!(
                    "the input `{}` is not a valid unicode escape",
                    slice(i, i + 10)
                ));
            }
            out.push(char::from_u32(code as u32));
            i = close.unwrap_or(n) + 1;
        } else {
            return Err(format!("the input `\\{nxt}` is not a valid escape"));
        }
    }
    Ok(out)
}

/// Shorten text for a message, as Python's `_clip`.
pub fn clip(text: &str, limit: usize) -> String {
    let text = text.replace('\n', "\\n");
    if text.chars().count() <= limit {
        return text;
    }
    let head: String = text.chars().take(limit - 3).collect();
    format!("{head}...")
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

/// Python's `\s` in a str pattern.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Whether `text` is an entity type name such as `User` or `A::B`.
pub fn is_type_name(text: &str) -> bool {
    text.split("::").all(|part| {
        let mut chars = part.chars();
        chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
    })
}

/// Parse `Type::"id"` (the request's string form).
pub fn parse_entity_uid(text: &str) -> std::result::Result<Uid, String> {
    // The common form `A::B::"id"` without escapes or spaces needs no decoding.
    if let Some(body) = text.strip_suffix('"') {
        if let Some(at) = body.find("::\"") {
            let (ty, id) = (&body[..at], &body[at + 3..]);
            let plain = |t: &str| !t.contains(['\\', '"']) && !t.chars().any(is_py_space);
            if plain(ty) && plain(id) && is_type_name(ty) {
                return Ok(Uid::new(ty, id));
            }
        }
    }
    let bad = || {
        format!(
            "`{}` is not an entity uid such as `User::\"alice\"`",
            clip(text, 40)
        )
    };
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < n && is_py_space(chars[*i]) {
            *i += 1;
        }
    };
    let name = |i: &mut usize| -> Option<String> {
        if *i < n && is_name_start(chars[*i]) {
            let start = *i;
            while *i < n && is_name_char(chars[*i]) {
                *i += 1;
            }
            Some(chars[start..*i].iter().collect())
        } else {
            None
        }
    };
    skip_ws(&mut i);
    let mut ty = name(&mut i).ok_or_else(bad)?;
    loop {
        skip_ws(&mut i);
        if !(i + 1 < n && chars[i] == ':' && chars[i + 1] == ':') {
            return Err(bad());
        }
        i += 2;
        skip_ws(&mut i);
        if i < n && chars[i] == '"' {
            break;
        }
        let part = name(&mut i).ok_or_else(bad)?;
        ty.push_str("::");
        ty.push_str(&part);
    }
    i += 1;
    let body_start = i;
    loop {
        if i >= n {
            return Err(bad());
        }
        match chars[i] {
            '"' => break,
            '\\' => {
                if i + 1 >= n {
                    return Err(bad());
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    let body = &chars[body_start..i];
    i += 1;
    skip_ws(&mut i);
    if i != n {
        return Err(bad());
    }
    let decoded = unescape(body, false)?;
    let id: String = decoded.into_iter().flatten().collect();
    Ok(Uid::new(&ty, &id))
}

/// An entity uid from `{"type", "id"}`, `{"__entity": {...}}` or (when allowed) `Type::"id"`.
pub fn uid_from_json(data: &Json, path: &Path<'_>, allow_string: bool) -> Result<Uid> {
    {
        if let (Json::Str(s), true) = (data, allow_string) {
            return parse_entity_uid(s).map_err(|m| fail(path, m));
        }
        let Json::Object(fields) = data else {
            return Err(fail(
                path,
                format!(
                    "expected an entity uid such as {{\"type\": \"User\", \"id\": \"alice\"}}, got {}",
                    data.kind()
                ),
            ));
        };
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.text.as_str()).collect();
        let is_str = fields.iter().all(|(k, _)| k.repr.is_none());
        if is_str && keys == ["__entity"] {
            return uid_from_json(&fields[0].1, &Path::Field(path, "__entity"), false);
        }
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        if !is_str || sorted != ["id", "type"] {
            let mut names: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            names.sort();
            let listed: Vec<String> = names.iter().map(|k| format!("`{k}`")).collect();
            let got = if listed.is_empty() {
                "none".to_string()
            } else {
                listed.join(", ")
            };
            return Err(fail(
                path,
                format!("an entity uid needs exactly the keys `type` and `id`, got {got}"),
            ));
        }
        let ty = data.get("type").unwrap_or(&Json::Null);
        let id = data.get("id").unwrap_or(&Json::Null);
        let ty = match ty {
            Json::Str(s) if is_type_name(s) => s,
            other => {
                return Err(fail(
                    Path::Field(path, "type"),
                    format!(
                        "`{}` is not an entity type name such as `User` or `App::User`",
                        other.py_str()
                    ),
                ))
            }
        };
        let Json::Str(id) = id else {
            return Err(fail(
                Path::Field(path, "id"),
                format!("expected a string, got {}", id.kind()),
            ));
        };
        Ok(Uid::new(ty, id))
    }
}

/// A policy value from Cedar's JSON value form (with `__entity` and `__extn` escapes).
pub fn value_from_json(
    data: &Json,
    path: &Path<'_>,
    limits: &Limits,
    depth: usize,
) -> Result<Value> {
    if depth > limits.max_depth {
        return Err(fail(
            path,
            format!("value is nested more than {} levels deep", limits.max_depth),
        ));
    }
    match data {
        Json::Bool(b) => Ok(Value::Bool(*b)),
        Json::Int(n) => Ok(Value::Long(*n)),
        Json::BigInt(s) => Err(fail(path, format!("integer `{s}` does not fit in 64 bits"))),
        Json::Str(s) => {
            if s.len() > limits.max_string_length && s.chars().count() > limits.max_string_length {
                return Err(fail(
                    path,
                    format!(
                        "string is longer than {} characters",
                        limits.max_string_length
                    ),
                ));
            }
            Ok(Value::Str(Arc::from(s.as_str())))
        }
        Json::Array(items) => {
            if items.len() > limits.max_set_size {
                return Err(fail(
                    path,
                    format!("set has more than {} elements", limits.max_set_size),
                ));
            }
            let mut values = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                values.push(value_from_json(
                    item,
                    &Path::Index(path, i),
                    limits,
                    depth + 1,
                )?);
            }
            Ok(Value::Set(Arc::new(Set::new(values))))
        }
        Json::Object(fields) => {
            let single = |name: &str| {
                fields.len() == 1 && fields[0].0.repr.is_none() && fields[0].0.text == name
            };
            if single("__entity") {
                let uid = uid_from_json(&fields[0].1, &Path::Field(path, "__entity"), false)?;
                return Ok(Value::Entity(Arc::new(uid)));
            }
            if single("__extn") {
                let at = Path::Field(path, "__extn");
                return extension_from_json(&fields[0].1, &at, limits, depth + 1);
            }
            if fields.len() > limits.max_record_size {
                return Err(fail(
                    path,
                    format!("record has more than {} fields", limits.max_record_size),
                ));
            }
            let mut out = Vec::with_capacity(fields.len());
            for (key, item) in fields {
                if let Some(repr) = &key.repr {
                    return Err(fail(
                        path,
                        format!("record keys must be strings, got `{repr}`"),
                    ));
                }
                let v = value_from_json(item, &Path::Field(path, &key.text), limits, depth + 1)?;
                out.push((Arc::from(key.text.as_str()), v));
            }
            Ok(Value::Record(Arc::new(Record::new(out))))
        }
        Json::Float(f) => Err(fail(
            path,
            format!("floating-point numbers such as `{f}` are not supported"),
        )),
        Json::Null => Err(fail(path, "null is not a value")),
        Json::Other(_) => Err(fail(
            path,
            format!("expected a JSON value, got {}", data.kind()),
        )),
    }
}

fn record_from_json(data: &Json, path: &Path<'_>, limits: &Limits) -> Result<Arc<Record>> {
    if !matches!(data, Json::Object(_)) {
        return Err(fail(
            path,
            format!("expected an object (a record), got {}", data.kind()),
        ));
    }
    match value_from_json(data, path, limits, 0)? {
        Value::Record(r) => Ok(r),
        _ => Err(fail(path, "expected a record, got an entity reference")),
    }
}

/// One entity: attributes, direct parents, tags.
#[derive(Debug, PartialEq)]
pub struct Entity {
    pub uid: Arc<Uid>,
    pub attrs: Arc<Record>,
    pub parents: Vec<u32>,
    pub tags: Arc<Record>,
}

/// An entity store. Every uid seen (entities and their parents) gets a dense
/// number. The ancestor closure is computed at construction while it stays
/// within `closure_budget` entries; past that (a long parent chain makes it
/// quadratic) it is dropped and `in` is answered by a search over parents,
/// so memory and loading time stay linear in the input.
#[derive(Debug, Default)]
pub struct Entities {
    ids: KeyedMap<Arc<Uid>, u32>,
    /// Per number: its uid.
    uids: Vec<Arc<Uid>>,
    /// Per number: the entity, when the store has it.
    entities: Vec<Option<Entity>>,
    /// Per number: its ancestors (sorted numbers, itself excluded); None when
    /// the closure was over budget.
    ancestors: Option<Vec<Box<[u32]>>>,
    count: usize,
}

/// The ancestors of one uid: borrowed from the closure, or searched for.
pub type Ancestors<'a> = Cow<'a, [u32]>;

/// The most closure entries kept for a store of `nodes` uids: linear in the
/// input (eight per uid plus a constant), so ordinary hierarchies keep their
/// precomputed closure and a long chain falls back to search.
pub fn closure_budget(nodes: usize) -> usize {
    nodes.saturating_mul(8).saturating_add(65_536)
}

impl Entities {
    pub fn empty() -> Self {
        Entities::default()
    }

    /// The number of entities in the store.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn intern(&mut self, uid: Arc<Uid>) -> u32 {
        if let Some(&n) = self.ids.get(&uid) {
            return n;
        }
        let n = self.entities.len() as u32;
        self.ids.insert(uid.clone(), n);
        self.uids.push(uid);
        self.entities.push(None);
        n
    }

    /// The dense number of a uid the store knows (as an entity or a parent).
    #[inline]
    pub fn number(&self, uid: &Uid) -> Option<u32> {
        self.ids.get(uid).copied()
    }

    /// The entity, or None when the store does not have it.
    #[inline]
    pub fn get(&self, uid: &Uid) -> Option<&Entity> {
        let n = self.number(uid)?;
        self.entities.get(n as usize)?.as_ref()
    }

    /// The ancestor numbers of `uid`, sorted (empty when it is not in the store).
    #[inline]
    pub fn ancestors_of(&self, uid: &Uid) -> Ancestors<'_> {
        let Some(n) = self.number(uid) else {
            return Cow::Borrowed(&[]);
        };
        match &self.ancestors {
            Some(closure) => Cow::Borrowed(closure.get(n as usize).map_or(&[], |a| a)),
            None => {
                let mut found = Vec::new();
                self.search(n, |_| false, &mut found);
                found.sort_unstable();
                Cow::Owned(found)
            }
        }
    }

    /// Whether the closure was computed (false: `in` searches the parents).
    pub fn has_closure(&self) -> bool {
        self.ancestors.is_some()
    }

    /// Depth-first search over parents from `start`, pushing each ancestor
    /// onto `found` once; stops early when `stop` says so. Linear in the part
    /// of the parent graph reachable from `start`.
    fn search(&self, start: u32, mut stop: impl FnMut(u32) -> bool, found: &mut Vec<u32>) -> bool {
        let mut seen = KeyedSet::default();
        seen.insert(start);
        let mut stack = vec![start];
        while let Some(cur) = stack.pop() {
            if let Some(Some(e)) = self.entities.get(cur as usize) {
                for &p in &e.parents {
                    if seen.insert(p) {
                        if stop(p) {
                            return true;
                        }
                        found.push(p);
                        stack.push(p);
                    }
                }
            }
        }
        false
    }

    /// The uid with this dense number.
    #[inline]
    pub fn uid_of_fast(&self, n: u32) -> Option<&Arc<Uid>> {
        self.uids.get(n as usize)
    }

    /// Whether `uid` is `ancestor` or transitively `in` it.
    #[inline]
    pub fn is_in(&self, uid: &Uid, ancestor: &Uid) -> bool {
        if uid == ancestor {
            return true;
        }
        let (Some(n), Some(a)) = (self.number(uid), self.number(ancestor)) else {
            return false;
        };
        match &self.ancestors {
            Some(closure) => closure
                .get(n as usize)
                .is_some_and(|anc| anc.binary_search(&a).is_ok()),
            None => self.search(n, |p| p == a, &mut Vec::new()),
        }
    }

    /// Load Cedar's entities JSON: a list of `{"uid", "attrs", "parents", "tags"}`.
    pub fn from_json(data: &Json, limits: &Limits) -> Result<Entities> {
        let Json::Array(items) = data else {
            return Err(fail(
                "entities",
                format!("expected an array of entities, got {}", data.kind()),
            ));
        };
        if items.len() > limits.max_entities {
            return Err(fail(
                "entities",
                format!("more than {} entities", limits.max_entities),
            ));
        }
        let mut store = Entities::default();
        for (index, item) in items.iter().enumerate() {
            let root = Path::Root("entities");
            let path = Path::Index(&root, index);
            let Json::Object(fields) = item else {
                return Err(fail(
                    path,
                    format!("expected an object, got {}", item.kind()),
                ));
            };
            let mut unknown: Vec<String> = fields
                .iter()
                .filter(|(k, _)| {
                    k.repr.is_some()
                        || !matches!(k.text.as_str(), "uid" | "attrs" | "parents" | "tags")
                })
                .map(|(k, _)| format!("`{}`", k.text))
                .collect();
            if !unknown.is_empty() {
                unknown.sort();
                return Err(fail(
                    path,
                    format!(
                        "unexpected key {}; expected `uid`, `attrs`, `parents`, `tags`",
                        unknown.join(", ")
                    ),
                ));
            }
            let Some(uid_json) = item.get("uid") else {
                return Err(fail(path, "missing `uid`"));
            };
            let uid = Arc::new(uid_from_json(uid_json, &Path::Field(&path, "uid"), false)?);
            let empty = Json::Object(Vec::new());
            let attrs = record_from_json(
                item.get("attrs").unwrap_or(&empty),
                &Path::Field(&path, "attrs"),
                limits,
            )?;
            let parents_json = item
                .get("parents")
                .cloned()
                .unwrap_or(Json::Array(Vec::new()));
            let Json::Array(parent_items) = &parents_json else {
                return Err(fail(
                    Path::Field(&path, "parents"),
                    format!(
                        "expected an array of entity uids, got {}",
                        parents_json.kind()
                    ),
                ));
            };
            let mut parents = Vec::with_capacity(parent_items.len());
            for (i, p) in parent_items.iter().enumerate() {
                let puid =
                    uid_from_json(p, &Path::Index(&Path::Field(&path, "parents"), i), false)?;
                parents.push(store.intern(Arc::new(puid)));
            }
            parents.sort_unstable();
            parents.dedup();
            let tags = record_from_json(
                item.get("tags").unwrap_or(&empty),
                &Path::Field(&path, "tags"),
                limits,
            )?;
            let n = store.intern(uid.clone());
            let entity = Entity {
                uid: uid.clone(),
                attrs,
                parents,
                tags,
            };
            let slot = &mut store.entities[n as usize];
            match slot {
                None => {
                    *slot = Some(entity);
                    store.count += 1;
                }
                // Cedar accepts a repeated entity only when both copies are identical.
                Some(existing) if *existing == entity => {}
                Some(_) => {
                    return Err(fail(
                        Path::Field(&path, "uid"),
                        format!("entity `{uid}` appears twice with different contents"),
                    ))
                }
            }
        }
        store.close();
        Ok(store)
    }

    /// Compute every entity's ancestors (a DFS over parents per entity), or
    /// give up once the closure would exceed `closure_budget` entries.
    fn close(&mut self) {
        let n = self.entities.len();
        let budget = closure_budget(n);
        let mut total = 0usize;
        let mut ancestors: Vec<Box<[u32]>> = Vec::with_capacity(n);
        let mut seen = vec![u32::MAX; n];
        let mut stack: Vec<u32> = Vec::new();
        let mut found: Vec<u32> = Vec::new();
        for start in 0..n {
            found.clear();
            stack.clear();
            let start_n = start as u32;
            seen[start] = start_n;
            stack.push(start_n);
            while let Some(cur) = stack.pop() {
                if let Some(Some(e)) = self.entities.get(cur as usize) {
                    for &p in &e.parents {
                        if seen[p as usize] != start_n {
                            seen[p as usize] = start_n;
                            found.push(p);
                            stack.push(p);
                        }
                    }
                }
            }
            total += found.len();
            if total > budget {
                // Quadratic input (a long chain): keep only the parents.
                self.ancestors = None;
                return;
            }
            found.sort_unstable();
            ancestors.push(found.clone().into_boxed_slice());
        }
        self.ancestors = Some(ancestors);
    }
}

/// An authorization request.
#[derive(Debug, Clone)]
pub struct Request {
    pub principal: Arc<Uid>,
    pub action: Arc<Uid>,
    pub resource: Arc<Uid>,
    pub context: Arc<Record>,
}

impl Request {
    /// The request's context from its JSON (absent or null is the empty record).
    pub fn context_from_json(data: Option<&Json>, limits: &Limits) -> Result<Arc<Record>> {
        match data {
            None | Some(Json::Null) => Ok(Arc::new(Record::empty())),
            Some(Json::Str(text)) => {
                let decoded = load_json(text, "request.context")?;
                record_from_json(&decoded, &Path::Root("request.context"), limits)
            }
            Some(other) => record_from_json(other, &Path::Root("request.context"), limits),
        }
    }

    /// Load a request `{"principal", "action", "resource", "context"}`.
    pub fn from_json(data: &Json, limits: &Limits) -> Result<Request> {
        let Json::Object(fields) = data else {
            return Err(fail(
                "request",
                format!("expected an object, got {}", data.kind()),
            ));
        };
        let mut unknown: Vec<String> = fields
            .iter()
            .filter(|(k, _)| {
                k.repr.is_some()
                    || !matches!(
                        k.text.as_str(),
                        "principal" | "action" | "resource" | "context" | "correlation_id"
                    )
            })
            .map(|(k, _)| format!("`{}`", k.text))
            .collect();
        if !unknown.is_empty() {
            unknown.sort();
            return Err(fail(
                "request",
                format!(
                    "unexpected key {}; expected `principal`, `action`, `resource`, `context`",
                    unknown.join(", ")
                ),
            ));
        }
        let mut uids = Vec::with_capacity(3);
        for key in ["principal", "action", "resource"] {
            let Some(v) = data.get(key) else {
                return Err(fail("request", format!("missing `{key}`")));
            };
            uids.push(Arc::new(uid_from_json(
                v,
                &Path::Field(&Path::Root("request"), key),
                true,
            )?));
        }
        let context = Request::context_from_json(data.get("context"), limits)?;
        let mut it = uids.into_iter();
        match (it.next(), it.next(), it.next()) {
            (Some(principal), Some(action), Some(resource)) => Ok(Request {
                principal,
                action,
                resource,
                context,
            }),
            _ => Err(fail("request", "missing `principal`")),
        }
    }
}
