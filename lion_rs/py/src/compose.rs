//! Python bindings for `lion_core::compose`. A morphism crosses as the tuple
//! `(source, target, required, pre, post, name)`: objects as sorted tuples of
//! names without repeats (an object is a set of ports), the rest as frozensets
//! of names. Conversion refuses malformed fields with
//! the reference's messages, quoting values with Python's own `repr`.

use std::collections::BTreeSet;

use lion_core::compose::{self, refusal, Morphism, Obj, Refusal};
use pyo3::prelude::*;
use pyo3::types::{PyFrozenSet, PySet, PyString, PyTuple};

use crate::error::to_py;

fn refuse(kind: Refusal, what: &str, shown: &str) -> PyErr {
    to_py(refusal(kind, what, shown))
}

fn repr(value: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(value.repr()?.to_str()?.to_owned())
}

/// The non-empty names in `items`, or None if one is not a non-empty str.
fn port_names<'py>(items: impl Iterator<Item = Bound<'py, PyAny>>) -> Option<Vec<String>> {
    items
        .map(|item| item.extract::<String>().ok().filter(|n| !n.is_empty()))
        .collect()
}

/// A name, or a tuple or set of non-empty names (a tuple naming a port twice is refused).
fn obj_arg(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Obj> {
    let py = value.py();
    let value = if value.is_instance_of::<PyString>() {
        PyTuple::new(py, [value])?.into_any()
    } else {
        value.clone()
    };
    if let Ok(tuple) = value.cast::<PyTuple>() {
        if let Some(names) = port_names(tuple.iter()) {
            return compose::object(&names, what).map_err(to_py);
        }
    } else if let Ok(set) = value.cast::<PyFrozenSet>() {
        if let Some(names) = port_names(set.iter()) {
            return Ok(names.into_iter().collect());
        }
    } else if let Ok(set) = value.cast::<PySet>() {
        if let Some(names) = port_names(set.iter()) {
            return Ok(names.into_iter().collect());
        }
    }
    Err(refuse(Refusal::NotAnObject, what, &repr(&value)?))
}

/// The items of an iterable, or None if it is not iterable or holds something unhashable.
fn hashable_items<'py>(value: &Bound<'py, PyAny>) -> Option<Vec<Bound<'py, PyAny>>> {
    let mut items = Vec::new();
    for item in value.try_iter().ok()? {
        let item = item.ok()?;
        item.hash().ok()?;
        items.push(item);
    }
    Some(items)
}

/// A collection of non-empty capability names (a bare string is refused).
fn names_arg(value: &Bound<'_, PyAny>, what: &str) -> PyResult<BTreeSet<String>> {
    if let Ok(text) = value.cast::<PyString>() {
        return Err(refuse(Refusal::NamesIsAString, what, text.to_str()?));
    }
    let Some(items) = hashable_items(value) else {
        return Err(refuse(Refusal::NotASetOfNames, what, &repr(value)?));
    };
    let mut names = BTreeSet::new();
    for item in items {
        match item.extract::<String>() {
            Ok(name) if !name.is_empty() => names.insert(name),
            _ => return Err(refuse(Refusal::NamesNotText, what, "")),
        };
    }
    Ok(names)
}

/// A condition name, or a collection of them (predicates are refused: not portable).
fn conditions_arg(value: &Bound<'_, PyAny>, what: &str) -> PyResult<BTreeSet<String>> {
    let py = value.py();
    let value = if value.is_instance_of::<PyString>() || value.is_callable() {
        PyTuple::new(py, [value])?.into_any()
    } else {
        value.clone()
    };
    let Some(items) = hashable_items(&value) else {
        return Err(refuse(Refusal::NotASetOfConditions, what, &repr(&value)?));
    };
    let mut atoms = BTreeSet::new();
    for item in items {
        match item.extract::<String>() {
            Ok(name) if !name.is_empty() => {
                atoms.insert(name);
            }
            _ if item.is_callable() && !item.is_instance_of::<PyString>() => {
                return Err(refuse(Refusal::Predicate, what, &repr(&item)?));
            }
            _ => return Err(refuse(Refusal::BadCondition, what, &repr(&item)?)),
        }
    }
    Ok(atoms)
}

fn build(
    source: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
    required: &Bound<'_, PyAny>,
    pre: &Bound<'_, PyAny>,
    post: &Bound<'_, PyAny>,
    name: &str,
) -> PyResult<Morphism> {
    // Field by field, in the reference's order, so the first problem is the one reported.
    let source = obj_arg(source, "source")?;
    let target = obj_arg(target, "target")?;
    let required = names_arg(required, "required")?;
    let pre = conditions_arg(pre, "pre")?;
    let post = conditions_arg(post, "post")?;
    Morphism::new(source, target, required, pre, post, name).map_err(to_py)
}

/// A morphism tuple of 5 fields (name derived) or 6 (with name).
fn morphism_arg(value: &Bound<'_, PyAny>, operation: &str) -> PyResult<Morphism> {
    let not_morphisms = || {
        to_py(lion_core::CoreError::Composition(format!(
            "{operation} expects two morphisms"
        )))
    };
    let tuple = value.cast::<PyTuple>().map_err(|_| not_morphisms())?;
    let fields: Vec<Bound<'_, PyAny>> = tuple.iter().collect();
    let (name, fields) = match fields.as_slice() {
        [s, t, r, pre, post] => (String::new(), [s, t, r, pre, post]),
        [s, t, r, pre, post, name] => (
            name.extract::<String>().map_err(|_| not_morphisms())?,
            [s, t, r, pre, post],
        ),
        _ => return Err(not_morphisms()),
    };
    let [s, t, r, pre, post] = fields;
    build(s, t, r, pre, post, &name)
}

type MorphismTuple<'py> = Bound<'py, PyTuple>;

fn to_tuple<'py>(py: Python<'py>, m: Morphism) -> PyResult<MorphismTuple<'py>> {
    (
        PyTuple::new(py, &m.source)?,
        PyTuple::new(py, &m.target)?,
        PyFrozenSet::new(py, &m.required)?,
        PyFrozenSet::new(py, &m.pre)?,
        PyFrozenSet::new(py, &m.post)?,
        m.name,
    )
        .into_pyobject(py)
}

/// A checked morphism tuple `(source, target, required, pre, post, name)`.
#[pyfunction]
#[pyo3(signature = (source, target, required=None, pre=None, post=None, name=""))]
fn morphism<'py>(
    py: Python<'py>,
    source: &Bound<'py, PyAny>,
    target: &Bound<'py, PyAny>,
    required: Option<&Bound<'py, PyAny>>,
    pre: Option<&Bound<'py, PyAny>>,
    post: Option<&Bound<'py, PyAny>>,
    name: &str,
) -> PyResult<MorphismTuple<'py>> {
    let empty = PyTuple::empty(py).into_any();
    let m = build(
        source,
        target,
        required.unwrap_or(&empty),
        pre.unwrap_or(&empty),
        post.unwrap_or(&empty),
        name,
    )?;
    to_tuple(py, m)
}

/// The identity on `obj`.
#[pyfunction]
fn identity_morphism<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
) -> PyResult<MorphismTuple<'py>> {
    let obj = obj_arg(obj, "object")?;
    to_tuple(py, compose::identity(obj).map_err(to_py)?)
}

/// f then g; CompositionError unless `f`'s target is `g`'s source.
#[pyfunction]
fn compose_morphisms<'py>(
    py: Python<'py>,
    f: &Bound<'py, PyAny>,
    g: &Bound<'py, PyAny>,
) -> PyResult<MorphismTuple<'py>> {
    let (f, g) = (morphism_arg(f, "compose")?, morphism_arg(g, "compose")?);
    to_tuple(py, compose::compose(&f, &g).map_err(to_py)?)
}

/// `first ; rest[0] ; rest[1] ; ...`.
#[pyfunction]
#[pyo3(signature = (first, *rest))]
fn compose_all_morphisms<'py>(
    py: Python<'py>,
    first: &Bound<'py, PyAny>,
    rest: &Bound<'py, PyTuple>,
) -> PyResult<MorphismTuple<'py>> {
    let mut result = morphism_arg(first, "compose")?;
    for g in rest.iter() {
        result = compose::compose(&result, &morphism_arg(&g, "compose")?).map_err(to_py)?;
    }
    to_tuple(py, result)
}

/// f and g side by side; CompositionError if they share a source or a target port.
#[pyfunction]
fn product_morphisms<'py>(
    py: Python<'py>,
    f: &Bound<'py, PyAny>,
    g: &Bound<'py, PyAny>,
) -> PyResult<MorphismTuple<'py>> {
    let (f, g) = (morphism_arg(f, "product")?, morphism_arg(g, "product")?);
    to_tuple(py, compose::product(&f, &g).map_err(to_py)?)
}

/// True if every capability the morphism requires is in `granted`.
#[pyfunction]
fn secure_morphism(morphism: &Bound<'_, PyAny>, granted: BTreeSet<String>) -> PyResult<bool> {
    Ok(compose::secure(
        &morphism_arg(morphism, "secure")?,
        &granted,
    ))
}

/// Least authority: the requirement intersected with the grantor's authority.
#[pyfunction]
fn grant_capabilities<'py>(
    py: Python<'py>,
    required: BTreeSet<String>,
    authority: BTreeSet<String>,
) -> PyResult<Bound<'py, PyFrozenSet>> {
    PyFrozenSet::new(py, compose::grant(&required, &authority))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(morphism, m)?)?;
    m.add_function(wrap_pyfunction!(identity_morphism, m)?)?;
    m.add_function(wrap_pyfunction!(compose_morphisms, m)?)?;
    m.add_function(wrap_pyfunction!(compose_all_morphisms, m)?)?;
    m.add_function(wrap_pyfunction!(product_morphisms, m)?)?;
    m.add_function(wrap_pyfunction!(secure_morphism, m)?)?;
    m.add_function(wrap_pyfunction!(grant_capabilities, m)?)?;
    Ok(())
}
