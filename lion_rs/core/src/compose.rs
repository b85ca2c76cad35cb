//! Morphisms: typed, capability-annotated steps and how they compose.
//!
//! A port of `lion/kernel/compose.py` with the same results and messages.
//! Objects are sets of ports (the empty set is the unit of the product), kept
//! sorted; conditions are sets of condition names (the Python reference also
//! takes predicates, which have no meaning outside Python, so they are not
//! ported).
//!
//! - `compose(f, g)` ("f then g", only when `f.target == g.source`) requires
//!   `f.required | g.required`, has pre `f.pre | (g.pre - f.post)` and post
//!   `f.post | g.post`;
//! - `product(f, g)` (only when f and g share no source port and no target
//!   port) unites ports, requirements and conditions, so it does not depend on
//!   the order of f and g;
//! - `identity(A)` requires nothing and has empty pre and post.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::error::{CoreError, Result};

/// An object: a set of ports, in sorted order.
pub type Obj = BTreeSet<String>;

/// A step from `source` to `target` needing `required`, with conditions `pre` and `post`.
///
/// Equality is structural and ignores `name`, which is for messages only.
#[derive(Debug, Clone, Eq)]
pub struct Morphism {
    pub source: Obj,
    pub target: Obj,
    pub required: BTreeSet<String>,
    pub pre: BTreeSet<String>,
    pub post: BTreeSet<String>,
    pub name: String,
}

impl PartialEq for Morphism {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.source,
            &self.target,
            &self.required,
            &self.pre,
            &self.post,
        ) == (
            &other.source,
            &other.target,
            &other.required,
            &other.pre,
            &other.post,
        )
    }
}

fn fail<T>(message: String) -> Result<T> {
    Err(CoreError::Composition(message))
}

/// Python's `repr` of a str, for quoting user input the way the reference does.
pub fn py_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c => {
                let n = u32::from(c);
                let _ = match n {
                    0..=0xff => write!(out, "\\x{n:02x}"),
                    0x100..=0xffff => write!(out, "\\u{n:04x}"),
                    _ => write!(out, "\\U{n:08x}"),
                };
            }
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isprintable` for one character, for the common ranges: controls,
/// separators other than space, format characters and private use are not printable.
fn is_printable(c: char) -> bool {
    let n = u32::from(c);
    !(n < 0x20
        || (0x7f..=0xa0).contains(&n)
        || n == 0xad
        || n == 0x1680
        || (0x2000..=0x200f).contains(&n)
        || (0x2028..=0x202f).contains(&n)
        || (0x205f..=0x206f).contains(&n)
        || n == 0x3000
        || n == 0xfeff
        || (0xe000..=0xf8ff).contains(&n)
        || (0xfff9..=0xfffb).contains(&n)
        || n >= 0xf0000)
}

/// Python's `repr` of a tuple of strs.
pub fn py_repr_tuple(names: &[String]) -> String {
    let inner: Vec<String> = names.iter().map(|n| py_repr(n)).collect();
    match inner.len() {
        1 => format!("({},)", inner[0]),
        _ => format!("({})", inner.join(", ")),
    }
}

/// How an object is shown in names and messages: `A`, `(A, B)` or `()`.
pub fn obj_name(obj: &Obj) -> String {
    let names: Vec<&str> = obj.iter().map(String::as_str).collect();
    match names.as_slice() {
        [single] => (*single).to_string(),
        _ => format!("({})", names.join(", ")),
    }
}

/// How the reference refuses a morphism field, given the Python `repr` (or text) of the value.
///
/// Kept here so that a binding converting foreign values reports them in the same words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A source or target that is not a name, or a tuple or set of non-empty names.
    NotAnObject,
    /// A bare string given where a set of names is expected (shown as text, not repr).
    NamesIsAString,
    /// Something that is not an iterable of names.
    NotASetOfNames,
    /// Names that are not all non-empty strings (the value is not shown).
    NamesNotText,
    /// Something that is not an iterable of conditions.
    NotASetOfConditions,
    /// A condition atom that is neither a non-empty name nor a predicate.
    BadCondition,
    /// A predicate, which only the Python kernel can evaluate.
    Predicate,
}

/// The error the reference raises for `refusal` of field `what` showing `shown`.
pub fn refusal(refusal: Refusal, what: &str, shown: &str) -> CoreError {
    CoreError::Composition(match refusal {
        Refusal::NotAnObject => format!(
            "morphism {what} `{shown}` is not an object: expected a name, or a tuple or set of \
             names"
        ),
        Refusal::NamesIsAString => {
            format!("morphism {what} `{shown}` is a string: expected a set of names")
        }
        Refusal::NotASetOfNames => format!("morphism {what} `{shown}` is not a set of names"),
        Refusal::NamesNotText => format!("morphism {what} must hold non-empty strings"),
        Refusal::NotASetOfConditions => {
            format!("morphism {what} `{shown}` is not a set of conditions")
        }
        Refusal::BadCondition => {
            format!("morphism {what} holds `{shown}`: expected condition names or predicates")
        }
        Refusal::Predicate => format!(
            "morphism {what} holds the predicate `{shown}`: the native kernel takes condition \
             names only"
        ),
    })
}

/// An object from a tuple of names, as the reference reads one: an empty name or a
/// name given twice is refused (showing the tuple as Python's `repr` would).
pub fn object(names: &[String], what: &str) -> Result<Obj> {
    if names.iter().any(String::is_empty) {
        return Err(refusal(Refusal::NotAnObject, what, &py_repr_tuple(names)));
    }
    let mut ports = Obj::new();
    let mut twice: Option<&String> = None;
    for name in names {
        if !ports.insert(name.clone()) {
            twice = Some(twice.map_or(name, |t| t.min(name)));
        }
    }
    match twice {
        Some(port) => fail(format!(
            "morphism {what} `{}` names port `{port}` twice: an object is a set of ports",
            py_repr_tuple(names)
        )),
        None => Ok(ports),
    }
}

/// Refuse an object with an empty name, as the reference does.
pub fn check_obj(obj: &Obj, what: &str) -> Result<()> {
    if obj.iter().any(String::is_empty) {
        let names: Vec<String> = obj.iter().cloned().collect();
        return Err(refusal(Refusal::NotAnObject, what, &py_repr_tuple(&names)));
    }
    Ok(())
}

/// Refuse a set of capability names holding an empty name.
pub fn check_names(names: &BTreeSet<String>, what: &str) -> Result<()> {
    if names.contains("") {
        return Err(refusal(Refusal::NamesNotText, what, ""));
    }
    Ok(())
}

/// Refuse a set of condition names holding an empty name.
pub fn check_conditions(atoms: &BTreeSet<String>, what: &str) -> Result<()> {
    if atoms.contains("") {
        return Err(refusal(Refusal::BadCondition, what, "''"));
    }
    Ok(())
}

impl Morphism {
    /// A morphism, checked as the reference checks it; an empty `name` becomes `source -> target`.
    pub fn new(
        source: Obj,
        target: Obj,
        required: BTreeSet<String>,
        pre: BTreeSet<String>,
        post: BTreeSet<String>,
        name: &str,
    ) -> Result<Self> {
        check_obj(&source, "source")?;
        check_obj(&target, "target")?;
        check_names(&required, "required")?;
        check_conditions(&pre, "pre")?;
        check_conditions(&post, "post")?;
        let name = if name.is_empty() {
            format!("{} -> {}", obj_name(&source), obj_name(&target))
        } else {
            name.to_string()
        };
        Ok(Self {
            source,
            target,
            required,
            pre,
            post,
            name,
        })
    }
}

fn union(a: &BTreeSet<String>, b: &BTreeSet<String>) -> BTreeSet<String> {
    a.union(b).cloned().collect()
}

/// The identity on `obj`: requires nothing, pre and post empty.
pub fn identity(obj: Obj) -> Result<Morphism> {
    check_obj(&obj, "object")?;
    let name = format!("id[{}]", obj_name(&obj));
    Morphism::new(
        obj.clone(),
        obj,
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
        &name,
    )
}

/// f then g; defined only when `f.target == g.source`.
pub fn compose(f: &Morphism, g: &Morphism) -> Result<Morphism> {
    if f.target != g.source {
        return fail(format!(
            "cannot compose `{}` then `{}`: target `{}` of `{}` is not source `{}` of `{}`",
            f.name,
            g.name,
            obj_name(&f.target),
            f.name,
            obj_name(&g.source),
            g.name
        ));
    }
    let still_needed: BTreeSet<String> = g.pre.difference(&f.post).cloned().collect();
    Ok(Morphism {
        source: f.source.clone(),
        target: g.target.clone(),
        required: union(&f.required, &g.required),
        pre: union(&f.pre, &still_needed),
        post: union(&f.post, &g.post),
        name: format!("{} ; {}", f.name, g.name),
    })
}

/// `first ; rest[0] ; rest[1] ; ...`.
pub fn compose_all(first: &Morphism, rest: &[Morphism]) -> Result<Morphism> {
    rest.iter()
        .try_fold(first.clone(), |acc, g| compose(&acc, g))
}

/// f and g side by side: ports, requirements and conditions unite.
///
/// Defined only when f and g share no source port and no target port; the
/// result does not depend on the order of f and g.
pub fn product(f: &Morphism, g: &Morphism) -> Result<Morphism> {
    for (side, mine, theirs) in [
        ("sources", &f.source, &g.source),
        ("targets", &f.target, &g.target),
    ] {
        let shared: Vec<String> = mine
            .intersection(theirs)
            .map(|n| format!("`{n}`"))
            .collect();
        if !shared.is_empty() {
            let ports = match shared.as_slice() {
                [one] => format!("port {one} is"),
                _ => format!("ports {} are", shared.join(", ")),
            };
            return fail(format!(
                "cannot put `{}` beside `{}`: {ports} in both {side}, and the ports of a product \
                 must be disjoint",
                f.name, g.name
            ));
        }
    }
    Ok(Morphism {
        source: union(&f.source, &g.source),
        target: union(&f.target, &g.target),
        required: union(&f.required, &g.required),
        pre: union(&f.pre, &g.pre),
        post: union(&f.post, &g.post),
        name: format!("({} ⊗ {})", f.name, g.name),
    })
}

/// True if every capability `morphism` requires is in `granted`.
pub fn secure(morphism: &Morphism, granted: &BTreeSet<String>) -> bool {
    morphism.required.is_subset(granted)
}

/// Least authority: the declared requirement intersected with the grantor's authority.
pub fn grant(required: &BTreeSet<String>, authority: &BTreeSet<String>) -> BTreeSet<String> {
    required.intersection(authority).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn obj(items: &[&str]) -> Obj {
        set(items)
    }

    #[test]
    fn compose_keeps_what_g_needs_and_f_does_not_establish() -> Result<()> {
        let f = Morphism::new(
            obj(&["A"]),
            obj(&["B"]),
            set(&["r"]),
            set(&["p"]),
            set(&["q"]),
            "f",
        )?;
        let g = Morphism::new(
            obj(&["B"]),
            obj(&["C"]),
            set(&["w"]),
            set(&["q", "s"]),
            set(&["t"]),
            "",
        )?;
        let h = compose(&f, &g)?;
        assert_eq!(h.pre, set(&["p", "s"]));
        assert_eq!(h.post, set(&["q", "t"]));
        assert_eq!(h.required, set(&["r", "w"]));
        assert_eq!(h.name, "f ; B -> C");
        assert!(
            matches!(compose(&g, &f), Err(CoreError::Composition(m)) if m.contains("target `C`"))
        );
        let id = identity(obj(&["A"]))?;
        assert_eq!(compose(&id, &f)?, f);
        Ok(())
    }

    #[test]
    fn product_unites_disjoint_ports_and_repr_quotes_like_python() -> Result<()> {
        let f = identity(obj(&["B"]))?;
        let g = identity(obj(&[]))?;
        assert_eq!(product(&f, &g)?, f);
        assert_eq!(product(&f, &g)?.name, "(id[B] ⊗ id[()])");
        let a = identity(obj(&["A"]))?;
        assert_eq!(product(&f, &a)?, product(&a, &f)?);
        assert_eq!(product(&f, &a)?.source, obj(&["A", "B"]));
        assert!(matches!(
            product(&f, &f),
            Err(CoreError::Composition(m)) if m.contains("port `B` is in both sources")
        ));
        let names =
            |items: &[&str]| -> Vec<String> { items.iter().map(|s| s.to_string()).collect() };
        assert_eq!(object(&names(&["B", "A"]), "source")?, obj(&["A", "B"]));
        assert!(matches!(
            object(&names(&["B", "A", "B"]), "source"),
            Err(CoreError::Composition(m)) if m == "morphism source `('B', 'A', 'B')` names port \
                `B` twice: an object is a set of ports"
        ));
        assert_eq!(py_repr_tuple(&names(&["a'b", ""])), "(\"a'b\", '')");
        assert_eq!(py_repr_tuple(&names(&[""])), "('',)");
        assert_eq!(py_repr("\u{7}é\\"), "'\\x07é\\\\'");
        Ok(())
    }
}
