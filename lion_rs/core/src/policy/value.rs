//! Runtime values: bool, long, string, entity uid, set, record, and the
//! extension values decimal, ipaddr, datetime and duration.
//!
//! Equality is Cedar's: values of different types are never equal (so `true`
//! is not `1`), sets ignore order and duplicates, records ignore key order.

use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, DefaultHasher, Hash, Hasher, RandomState};
use std::sync::{Arc, OnceLock};

use super::ext::IpNet;

/// Hash-map keys here (entity ids, strings, set elements) come from policy
/// data an attacker may write, so they are hashed with SipHash-1-3 under a
/// key drawn at random once per process: colliding inputs cannot be computed
/// offline, which a fixed public seed allowed (hash flooding).
fn process_keys() -> &'static RandomState {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    KEYS.get_or_init(RandomState::new)
}

/// A `BuildHasher` with the per-process random key: every map agrees on hashes
/// (set and record hashes are cached), yet they cannot be predicted.
#[derive(Default, Clone, Copy, Debug)]
pub struct KeyedBuild;

impl BuildHasher for KeyedBuild {
    type Hasher = DefaultHasher;
    #[inline]
    fn build_hasher(&self) -> DefaultHasher {
        process_keys().build_hasher()
    }
}

pub type KeyedMap<K, V> = std::collections::HashMap<K, V, KeyedBuild>;
pub type KeyedSet<K> = HashSet<K, KeyedBuild>;

fn hash_one<T: Hash + ?Sized>(value: &T) -> u64 {
    KeyedBuild.hash_one(value)
}

/// An entity's unique id: its type (`A::B`) and its id string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uid {
    pub ty: Box<str>,
    pub id: Box<str>,
}

impl Uid {
    pub fn new(ty: &str, id: &str) -> Self {
        Uid {
            ty: ty.into(),
            id: id.into(),
        }
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.ty, escape_string(&self.id))
    }
}

/// Quote `text` as a policy-language string literal (as Python's `escape_string`).
pub fn escape_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x20 || c as u32 == 0x7F => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A policy value. Cloning is cheap (reference counts).
#[derive(Debug, Clone)]
pub enum Value {
    Bool(bool),
    Long(i64),
    Str(Arc<str>),
    Entity(Arc<Uid>),
    Set(Arc<Set>),
    Record(Arc<Record>),
    /// A decimal: the value times 10^4.
    Decimal(i64),
    Ip(Arc<IpNet>),
    /// Milliseconds since the Unix epoch (UTC).
    Datetime(i64),
    /// Milliseconds.
    Duration(i64),
}

impl Value {
    /// The policy-language name of the value's type, for error messages.
    pub fn type_name(&self) -> String {
        match self {
            Value::Bool(_) => "bool".into(),
            Value::Long(_) => "long".into(),
            Value::Str(_) => "string".into(),
            Value::Entity(uid) => format!("entity of type `{}`", uid.ty),
            Value::Set(_) => "set".into(),
            Value::Record(_) => "record".into(),
            Value::Decimal(_) => "decimal".into(),
            Value::Ip(_) => "ipaddr".into(),
            Value::Datetime(_) => "datetime".into(),
            Value::Duration(_) => "duration".into(),
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Long(a), Value::Long(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Entity(a), Value::Entity(b)) => Arc::ptr_eq(a, b) || a == b,
            (Value::Set(a), Value::Set(b)) => Arc::ptr_eq(a, b) || a == b,
            (Value::Record(a), Value::Record(b)) => Arc::ptr_eq(a, b) || a == b,
            (Value::Decimal(a), Value::Decimal(b)) => a == b,
            (Value::Ip(a), Value::Ip(b)) => a == b,
            (Value::Datetime(a), Value::Datetime(b)) => a == b,
            (Value::Duration(a), Value::Duration(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Value::Bool(b) => {
                state.write_u8(0);
                b.hash(state);
            }
            Value::Long(n) => {
                state.write_u8(1);
                n.hash(state);
            }
            Value::Str(s) => {
                state.write_u8(2);
                s.hash(state);
            }
            Value::Entity(uid) => {
                state.write_u8(3);
                uid.hash(state);
            }
            Value::Set(set) => {
                state.write_u8(4);
                state.write_u64(set.hash);
            }
            Value::Record(rec) => {
                state.write_u8(5);
                state.write_u64(rec.hash);
            }
            Value::Decimal(n) => {
                state.write_u8(6);
                n.hash(state);
            }
            Value::Ip(ip) => {
                state.write_u8(7);
                ip.hash(state);
            }
            Value::Datetime(n) => {
                state.write_u8(8);
                n.hash(state);
            }
            Value::Duration(n) => {
                state.write_u8(9);
                n.hash(state);
            }
        }
    }
}

/// Sets up to this size are searched linearly; larger ones keep a hash index.
const LINEAR: usize = 12;

/// An immutable set, deduplicated by Cedar equality, in first-insertion order
/// (the order decides which bad element an error names).
#[derive(Debug)]
pub struct Set {
    items: Vec<Value>,
    index: Option<KeyedSet<Value>>,
    hash: u64,
}

impl Set {
    pub fn new(values: Vec<Value>) -> Self {
        let mut items: Vec<Value> = Vec::with_capacity(values.len());
        let mut index: Option<KeyedSet<Value>> = None;
        for v in values {
            if let Some(idx) = index.as_mut() {
                if idx.insert(v.clone()) {
                    items.push(v);
                }
                continue;
            }
            if !items.contains(&v) {
                items.push(v);
                if items.len() > LINEAR {
                    index = Some(items.iter().cloned().collect());
                }
            }
        }
        let hash = items
            .iter()
            .fold(0u64, |acc, v| acc.wrapping_add(hash_one(v)));
        Set { items, index, hash }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Value> {
        self.items.iter()
    }

    pub fn contains(&self, v: &Value) -> bool {
        match &self.index {
            Some(idx) => idx.contains(v),
            None => self.items.contains(v),
        }
    }
}

impl PartialEq for Set {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && self.items.len() == other.items.len()
            && self.items.iter().all(|v| other.contains(v))
    }
}

/// An immutable record: fields sorted by key, keys distinct.
#[derive(Debug)]
pub struct Record {
    fields: Vec<(Arc<str>, Value)>,
    hash: u64,
}

impl Record {
    /// Build from distinct keys (a later duplicate replaces an earlier one).
    pub fn new(mut fields: Vec<(Arc<str>, Value)>) -> Self {
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        // Keep the last of equal keys, as a dict built from pairs would.
        let mut out: Vec<(Arc<str>, Value)> = Vec::with_capacity(fields.len());
        for (k, v) in fields {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => out.push((k, v)),
            }
        }
        let hash = out
            .iter()
            .fold(0u64, |acc, (k, v)| acc.wrapping_add(hash_one(&(k, v))));
        Record { fields: out, hash }
    }

    pub fn empty() -> Self {
        Record {
            fields: Vec::new(),
            hash: 0,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        if self.fields.len() <= 8 {
            return self
                .fields
                .iter()
                .find(|(k, _)| &**k == key)
                .map(|(_, v)| v);
        }
        self.fields
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .and_then(|i| self.fields.get(i))
            .map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.fields.iter().map(|(k, v)| (&**k, v))
    }
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.fields == other.fields
    }
}
