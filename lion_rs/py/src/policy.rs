//! Python bindings for `lion_core::policy`: `PolicySet`, `Entities` and
//! `policy_combine`. Python values are converted straight into the core's
//! JSON tree (no `json.dumps` round trip); errors become `PolicyError`.

use std::sync::Arc;

use lion_core::policy::entities::{load_json, parse_entity_uid};
use lion_core::policy::ext::{self, ExtFn};
use lion_core::policy::json::{py_float_repr, Json, Key};
use lion_core::policy::templates::parse_links;
use lion_core::policy::value::{Record, Set};
use lion_core::policy::{self as core, Effect, Kleene, Limits, Uid, Value};
use lion_core::CoreError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::error::to_py;

/// Python nesting beyond this is cut off; the core's own depth limit (at most
/// 400) reports such values long before.
const MAX_CONVERT_DEPTH: usize = 1000;

fn to_json(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Json> {
    if depth > MAX_CONVERT_DEPTH {
        return Ok(Json::Other("deeply nested object".into()));
    }
    if obj.is_none() {
        return Ok(Json::Null);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Json::Str(s.to_str()?.to_owned()));
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Json::Bool(b.is_true()));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        return Ok(match i.extract::<i64>() {
            Ok(n) => Json::Int(n),
            Err(_) => Json::BigInt(i.str()?.to_str()?.to_owned()),
        });
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut fields = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key = match k.cast::<PyString>() {
                Ok(s) => Key::str(s.to_str()?),
                Err(_) => Key {
                    text: k.str()?.to_str()?.to_owned(),
                    repr: Some(k.repr()?.to_str()?.to_owned()),
                },
            };
            fields.push((key, to_json(&v, depth + 1)?));
        }
        return Ok(Json::Object(fields));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        let mut items = Vec::with_capacity(l.len());
        for v in l.iter() {
            items.push(to_json(&v, depth + 1)?);
        }
        return Ok(Json::Array(items));
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        let mut items = Vec::with_capacity(t.len());
        for v in t.iter() {
            items.push(to_json(&v, depth + 1)?);
        }
        return Ok(Json::Array(items));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Json::Float(py_float_repr(f.value())));
    }
    let name = obj.get_type().name()?.to_str()?.to_owned();
    Ok(Json::Other(name))
}

/// JSON text (str or utf-8 bytes) is decoded; other values are converted as they are.
fn load(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Json> {
    if let Ok(s) = obj.cast::<PyString>() {
        return load_json(s.to_str()?, what).map_err(to_py);
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return match std::str::from_utf8(b.as_bytes()) {
            Ok(text) => load_json(text, what).map_err(to_py),
            Err(_) => Err(to_py(CoreError::Policy(format!("{what}: not valid utf-8")))),
        };
    }
    to_json(obj, 0)
}

/// The common request (a dict with `Type::"id"` strings) read without the
/// JSON tree; anything else, or anything wrong, takes the general path
/// (which gives the errors).
fn fast_request(obj: &Bound<'_, PyAny>, limits: &Limits) -> Option<core::Request> {
    let dict = obj.cast::<PyDict>().ok()?;
    let (mut principal, mut action, mut resource, mut context) = (None, None, None, None);
    for (key, value) in dict.iter() {
        let key = key.cast::<PyString>().ok()?;
        let uid = |v: &Bound<'_, PyAny>| -> Option<Arc<Uid>> {
            let text = v.cast::<PyString>().ok()?;
            parse_entity_uid(text.to_str().ok()?).ok().map(Arc::new)
        };
        match key.to_str().ok()? {
            "principal" => principal = Some(uid(&value)?),
            "action" => action = Some(uid(&value)?),
            "resource" => resource = Some(uid(&value)?),
            "context" => context = Some(value),
            "correlation_id" => {}
            _ => return None,
        }
    }
    let context = match context {
        None => core::Request::context_from_json(None, limits).ok()?,
        Some(c) if c.cast::<PyDict>().is_ok() => match fast_value(&c, limits, 0)? {
            Value::Record(record) => record,
            _ => return None,
        },
        Some(c) => core::Request::context_from_json(Some(&to_json(&c, 0).ok()?), limits).ok()?,
    };
    Some(core::Request {
        principal: principal?,
        action: action?,
        resource: resource?,
        context,
    })
}

/// A context value read straight from Python objects when it is plainly valid
/// (the value the JSON path would give); None sends the request down the
/// general path, which words the errors.
fn fast_value(obj: &Bound<'_, PyAny>, limits: &Limits, depth: usize) -> Option<Value> {
    if depth > limits.max_depth {
        return None;
    }
    if let Ok(s) = obj.cast::<PyString>() {
        let s = s.to_str().ok()?;
        let max = limits.max_string_length;
        if s.len() > max && s.chars().count() > max {
            return None;
        }
        return Some(Value::Str(Arc::from(s)));
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Some(Value::Bool(b.is_true()));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        return i.extract::<i64>().ok().map(Value::Long);
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        if d.len() == 1 {
            let (key, inner) = d.iter().next()?;
            match key.cast::<PyString>().ok()?.to_str().ok()? {
                "__entity" => return None,
                "__extn" => return fast_extension(&inner, limits, depth + 1),
                _ => {}
            }
        }
        if d.len() > limits.max_record_size {
            return None;
        }
        let mut fields = Vec::with_capacity(d.len());
        for (key, item) in d.iter() {
            let key = key.cast::<PyString>().ok()?.to_str().ok()?;
            fields.push((Arc::from(key), fast_value(&item, limits, depth + 1)?));
        }
        return Some(Value::Record(Arc::new(Record::new(fields))));
    }
    let items: Vec<Bound<'_, PyAny>> = if let Ok(l) = obj.cast::<PyList>() {
        l.iter().collect()
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        t.iter().collect()
    } else {
        return None;
    };
    if items.len() > limits.max_set_size {
        return None;
    }
    let mut values = Vec::with_capacity(items.len());
    for item in &items {
        values.push(fast_value(item, limits, depth + 1)?);
    }
    Some(Value::Set(Arc::new(Set::new(values))))
}

/// `{"fn": ..., "arg": ...}` under `__extn`, when it makes a value.
fn fast_extension(obj: &Bound<'_, PyAny>, limits: &Limits, depth: usize) -> Option<Value> {
    let d = obj.cast::<PyDict>().ok()?;
    if d.len() != 2 {
        return None;
    }
    let name = d.get_item("fn").ok()??;
    let f = ExtFn::from_name(name.cast::<PyString>().ok()?.to_str().ok()?)?;
    let arg = fast_value(&d.get_item("arg").ok()??, limits, depth + 1)?;
    ext::call(f, &[arg]).ok()
}

fn request_from_py(obj: &Bound<'_, PyAny>, limits: &Limits) -> PyResult<core::Request> {
    if let Some(req) = fast_request(obj, limits) {
        return Ok(req);
    }
    let data = load(obj, "request")?;
    core::Request::from_json(&data, limits).map_err(to_py)
}

/// A Cedar entity store, loaded once (the ancestor closure is computed here).
#[pyclass(module = "lion._native", frozen)]
pub struct Entities {
    inner: Arc<core::Entities>,
}

#[pymethods]
impl Entities {
    #[new]
    fn new(data: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Ok(other) = data.cast::<Entities>() {
            return Ok(Entities {
                inner: other.get().inner.clone(),
            });
        }
        let json = load(data, "entities")?;
        let limits = Limits::default();
        let inner = core::Entities::from_json(&json, &limits).map_err(to_py)?;
        Ok(Entities {
            inner: Arc::new(inner),
        })
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!("Entities({} entities)", self.inner.len())
    }
}

fn entities_arg(entities: Option<&Bound<'_, PyAny>>) -> PyResult<Arc<core::Entities>> {
    match entities {
        None => Ok(Arc::new(core::Entities::empty())),
        Some(e) if e.is_none() => Ok(Arc::new(core::Entities::empty())),
        Some(e) => match e.cast::<Entities>() {
            Ok(ents) => Ok(ents.get().inner.clone()),
            Err(_) => Ok(Entities::new(e)?.inner),
        },
    }
}

type PyResponse<'py> = Bound<'py, PyTuple>;

/// `(decision, determining, errors, hits)`. `hits` lists the policies that are
/// not FALSE, in set order: a TRUE one as its number, an UNKNOWN one as
/// `(number, message)`. It determines the rest, so the Python side can key a
/// cache of whole responses on it.
fn response_to_py<'py>(py: Python<'py>, r: &core::Response) -> PyResult<PyResponse<'py>> {
    let determining = PyTuple::new(py, r.determining.iter().map(|s| s.as_str()))?;
    let errors = PyTuple::new(
        py,
        r.errors
            .iter()
            .map(|(id, msg)| PyTuple::new(py, [id.as_str(), msg.as_str()]))
            .collect::<PyResult<Vec<_>>>()?,
    )?;
    let mut hits = Vec::with_capacity(r.hits.len());
    for hit in &r.hits {
        let index = hit.index.into_pyobject(py)?.into_any();
        hits.push(match hit.value {
            Kleene::Unknown => {
                let message = PyString::new(py, hit.error.as_deref().unwrap_or("unknown"));
                PyTuple::new(py, [index, message.into_any()])?.into_any()
            }
            _ => index,
        });
    }
    let hits = PyTuple::new(py, hits)?;
    let decision = match r.decision {
        core::Decision::Permit => intern!(py, "PERMIT"),
        core::Decision::Deny => intern!(py, "DENY"),
        core::Decision::Indeterminate => intern!(py, "INDETERMINATE"),
    };
    PyTuple::new(
        py,
        [
            decision.clone().into_any(),
            determining.into_any(),
            errors.into_any(),
            hits.into_any(),
        ],
    )
}

/// Policies parsed once into a compact, indexed form; evaluated many times.
#[pyclass(module = "lion._native", frozen)]
pub struct PolicySet {
    inner: core::PolicySet,
}

#[pymethods]
impl PolicySet {
    #[new]
    #[pyo3(signature = (text, path = "<policies>"))]
    fn new(text: &Bound<'_, PyAny>, path: &str) -> PyResult<Self> {
        let Ok(text) = text.cast::<PyString>() else {
            let kind = text.get_type().name()?;
            return Err(to_py(CoreError::Policy(format!(
                "policy source must be a string, got `{kind}`"
            ))));
        };
        let inner =
            core::PolicySet::parse(text.to_str()?, path, Limits::default()).map_err(to_py)?;
        Ok(PolicySet { inner })
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// The policy ids, in file order.
    #[getter]
    fn ids(&self) -> Vec<String> {
        self.inner.policies().iter().map(|p| p.id.clone()).collect()
    }

    /// The template ids, in file order.
    #[getter]
    fn templates(&self) -> Vec<String> {
        self.inner
            .templates()
            .iter()
            .map(|p| p.id.clone())
            .collect()
    }

    /// A new set with template `template_id` linked as `new_id`; `slots` maps
    /// `?principal` / `?resource` to entity uids.
    fn link(&self, template_id: &str, new_id: &str, slots: &Bound<'_, PyAny>) -> PyResult<Self> {
        let values = if slots.cast::<PyDict>().is_ok() {
            to_json(slots, 0)?
        } else {
            Json::Other(slots.get_type().name()?.to_str()?.to_owned())
        };
        let inner = self
            .inner
            .link(template_id, new_id, values)
            .map_err(to_py)?;
        Ok(PolicySet { inner })
    }

    /// A new set with every link of Cedar's JSON template-links form (text or decoded).
    fn link_all(&self, links: &Bound<'_, PyAny>) -> PyResult<Self> {
        let data = load(links, "template links")?;
        let links = parse_links(&data).map_err(to_py)?;
        let inner = self.inner.link_all(&links).map_err(to_py)?;
        Ok(PolicySet { inner })
    }

    /// The policy effects (`permit` or `forbid`), in the order of `ids`.
    #[getter]
    fn effects(&self) -> Vec<&'static str> {
        self.inner
            .policies()
            .iter()
            .map(|p| p.effect.as_str())
            .collect()
    }

    fn __repr__(&self) -> String {
        let permits = self
            .inner
            .policies()
            .iter()
            .filter(|p| p.effect == Effect::Permit)
            .count();
        let templates = self.inner.templates().len();
        let extra = if templates > 0 {
            format!(", {templates} templates")
        } else {
            String::new()
        };
        format!(
            "PolicySet({permits} permit, {} forbid{extra})",
            self.inner.len() - permits
        )
    }

    /// (decision, sorted determining ids, sorted (policy id, message) errors, hits).
    #[pyo3(signature = (request, entities = None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
        entities: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PyResponse<'py>> {
        let req = request_from_py(request, self.inner.limits())?;
        let response = match entities {
            Some(e) if !e.is_none() => match e.cast::<Entities>() {
                Ok(ents) => self.inner.evaluate(&req, &ents.get().inner),
                Err(_) => self.inner.evaluate(&req, &*entities_arg(Some(e))?),
            },
            _ => self.inner.evaluate(&req, &core::Entities::empty()),
        };
        response_to_py(py, &response)
    }

    /// `evaluate` for each request, with the GIL released while evaluating.
    #[pyo3(signature = (requests, entities = None))]
    fn evaluate_batch<'py>(
        &self,
        py: Python<'py>,
        requests: &Bound<'py, PyAny>,
        entities: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let ents = entities_arg(entities)?;
        let mut reqs = Vec::new();
        for item in requests.try_iter()? {
            reqs.push(request_from_py(&item?, self.inner.limits())?);
        }
        let inner = &self.inner;
        let responses: Vec<core::Response> =
            py.detach(|| reqs.iter().map(|r| inner.evaluate(r, &ents)).collect());
        let out = PyList::empty(py);
        for r in &responses {
            out.append(response_to_py(py, r)?)?;
        }
        Ok(out)
    }
}

fn parse_effect(text: &str) -> PyResult<Effect> {
    match text {
        "permit" => Ok(Effect::Permit),
        "forbid" => Ok(Effect::Forbid),
        other => Err(to_py(CoreError::Policy(format!(
            "unknown effect `{other}`, expected `permit` or `forbid`"
        )))),
    }
}

fn parse_kleene(text: &str) -> PyResult<Kleene> {
    match text {
        "TRUE" => Ok(Kleene::True),
        "FALSE" => Ok(Kleene::False),
        "UNKNOWN" => Ok(Kleene::Unknown),
        other => Err(to_py(CoreError::Policy(format!(
            "unknown value `{other}`, expected `TRUE`, `FALSE` or `UNKNOWN`"
        )))),
    }
}

/// The decision rule: (effect, policy id, value) triples -> (decision, determining ids).
#[pyfunction]
fn policy_combine<'py>(
    py: Python<'py>,
    triples: Vec<(String, String, String)>,
) -> PyResult<(String, Bound<'py, PyTuple>)> {
    let mut parsed = Vec::with_capacity(triples.len());
    for (effect, id, value) in &triples {
        parsed.push((parse_effect(effect)?, id.as_str(), parse_kleene(value)?));
    }
    let (decision, determining) = core::combine(parsed);
    Ok((
        decision.as_str().to_string(),
        PyTuple::new(py, determining)?,
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PolicySet>()?;
    m.add_class::<Entities>()?;
    m.add_function(wrap_pyfunction!(policy_combine, m)?)?;
    Ok(())
}
