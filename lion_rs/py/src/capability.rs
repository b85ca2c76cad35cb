//! Python bindings for `lion_core::capability`: tokens cross as strings,
//! capabilities as `(id, holder, resource, rights, expiry, parent)` tuples.

use std::collections::BTreeSet;
use std::sync::Arc;

use lion_core::capability::{
    self, Capability, CapabilityAuthority, CapabilityToken, Narrowing, Revocations, Rights,
};
use lion_core::CoreError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyFrozenSet, PyInt, PyList, PyString, PyTuple};

use crate::error::to_py;

type CapTuple<'py> = Bound<'py, PyTuple>;

fn cap_error(message: impl Into<String>) -> PyErr {
    to_py(CoreError::Capability(message.into()))
}

fn to_tuple<'py>(py: Python<'py>, cap: Capability) -> PyResult<CapTuple<'py>> {
    let rights = PyFrozenSet::new(py, &cap.rights)?;
    (
        cap.id,
        cap.holder,
        cap.resource,
        rights,
        cap.expiry,
        cap.parent,
    )
        .into_pyobject(py)
}

/// Rights as the reference takes them: any collection of strings, but not a bare string.
fn rights_arg(rights: &Bound<'_, PyAny>) -> PyResult<Rights> {
    if let Ok(text) = rights.cast::<PyString>() {
        return Ok(Rights::BareString(text.to_str()?.to_owned()));
    }
    let Ok(items) = rights.try_iter() else {
        return Ok(Rights::NotACollection);
    };
    let mut set = BTreeSet::new();
    for item in items {
        match item?.extract::<String>() {
            Ok(right) => set.insert(right),
            Err(_) => return Ok(Rights::NotACollection),
        };
    }
    Ok(Rights::Set(set))
}

fn narrowing(
    rights: Option<&Bound<'_, PyAny>>,
    resource: Option<String>,
    expiry: Option<i128>,
) -> PyResult<Narrowing> {
    Ok(Narrowing {
        rights: rights.map(rights_arg).transpose()?,
        resource,
        expiry,
    })
}

/// A Python `lion.kernel.revocation.RevocationStore` object, as the core's store.
///
/// Whatever it raises becomes the problem the core reports (the verification
/// is refused): a LION error by its message, anything else as `Type: message`,
/// the same words the Python authority uses.
struct PyRevocations {
    store: Py<PyAny>,
}

fn store_problem(py: Python<'_>, err: PyErr) -> CoreError {
    let value = err.value(py);
    let text = value
        .str()
        .map(|s| s.to_string())
        .unwrap_or_else(|_| "<unprintable error>".into());
    let is_lion = py
        .import("lion.errors")
        .and_then(|m| m.getattr("LionError"))
        .and_then(|class| value.is_instance(&class))
        .unwrap_or(false);
    let name = value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    CoreError::Revocation(if is_lion {
        text
    } else {
        format!("{name}: {text}")
    })
}

impl PyRevocations {
    fn call<T>(
        &self,
        method: &str,
        args: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyTuple>>,
        convert: impl for<'py> FnOnce(&Bound<'py, PyAny>) -> PyResult<T>,
    ) -> lion_core::Result<T> {
        Python::attach(|py| {
            args(py)
                .and_then(|args| self.store.bind(py).call_method1(method, args))
                .and_then(|answer| convert(&answer))
                .map_err(|e| store_problem(py, e))
        })
    }
}

impl Revocations for PyRevocations {
    fn revoke(&self, id: &str) -> lion_core::Result<()> {
        self.call("revoke", |py| PyTuple::new(py, [id]), |_| Ok(()))
    }

    fn first_revoked(&self, ids: &[&str]) -> lion_core::Result<Option<String>> {
        self.call(
            "first_revoked",
            |py| PyTuple::new(py, [PyList::new(py, ids)?]),
            // Anything but None is an answer; one that is not a chain id is refused by the core.
            |answer| {
                if answer.is_none() {
                    Ok(None)
                } else {
                    Ok(Some(answer.str()?.to_string()))
                }
            },
        )
    }

    fn is_revoked(&self, id: &str) -> lion_core::Result<bool> {
        self.call("is_revoked", |py| PyTuple::new(py, [id]), |a| a.is_truthy())
    }

    fn ids(&self) -> lion_core::Result<BTreeSet<String>> {
        self.call(
            "ids",
            |py| Ok(PyTuple::empty(py)),
            |answer| {
                answer
                    .try_iter()?
                    .map(|id| id?.extract::<String>())
                    .collect()
            },
        )
    }
}

/// The store to use: `revocations` if given, else LION_REVOCATION_DB's SQLite
/// store (built by `lion.kernel.revocation.store_from_env`), else the core's memory.
fn revocations_arg(
    py: Python<'_>,
    revocations: Option<Py<PyAny>>,
) -> PyResult<Option<Arc<dyn Revocations>>> {
    let store = match revocations.filter(|r| !r.is_none(py)) {
        Some(store) => store,
        None => {
            let from_env = py
                .import("lion.kernel.revocation")?
                .getattr("store_from_env")?
                .call0()?;
            if from_env.is_none() {
                return Ok(None);
            }
            from_env.unbind()
        }
    };
    Ok(Some(Arc::new(PyRevocations { store })))
}

fn encoded(token: lion_core::Result<CapabilityToken>) -> PyResult<String> {
    token.and_then(|t| t.encode()).map_err(to_py)
}

/// The only minter of capabilities: holds the HMAC key and the revocation set.
#[pyclass(name = "CapabilityAuthority", module = "lion._native", frozen)]
pub struct PyCapabilityAuthority {
    inner: CapabilityAuthority,
    clock: Option<Py<PyAny>>,
}

impl PyCapabilityAuthority {
    fn at(&self, py: Python<'_>, now: Option<i128>) -> PyResult<i128> {
        match now {
            Some(now) => Ok(now),
            None => self.now(py),
        }
    }
}

#[pymethods]
impl PyCapabilityAuthority {
    #[new]
    #[pyo3(signature = (key=None, *, clock=None, revoked=None, revocations=None))]
    fn new(
        py: Python<'_>,
        key: Option<&Bound<'_, PyAny>>,
        clock: Option<Py<PyAny>>,
        revoked: Option<&Bound<'_, PyAny>>,
        revocations: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let key = match key {
            None => None,
            Some(k) if k.is_none() => None,
            Some(k) => Some(if let Ok(text) = k.cast::<PyString>() {
                text.to_str()?.as_bytes().to_vec()
            } else if let Ok(bytes) = k.cast::<PyBytes>() {
                bytes.as_bytes().to_vec()
            } else {
                return Err(cap_error("capability key must be bytes or str"));
            }),
        };
        let mut inner = CapabilityAuthority::new(key).map_err(to_py)?;
        if let Some(store) = revocations_arg(py, revocations)? {
            inner = inner.with_revocations(store);
        }
        let this = Self {
            inner,
            clock: clock.filter(|c| !c.is_none(py)),
        };
        if let Some(revoked) = revoked {
            for target in revoked.try_iter()? {
                this.revoke(&target?)?;
            }
        }
        Ok(this)
    }

    fn __repr__(&self) -> String {
        format!("{:?}", self.inner)
    }

    fn __str__(&self) -> String {
        self.__repr__()
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(cap_error(
            "a capability authority holds a secret key and cannot be serialized",
        ))
    }

    /// The current time from the injected clock (else the wall clock), in whole seconds.
    fn now(&self, py: Python<'_>) -> PyResult<i128> {
        match &self.clock {
            None => Ok(capability::wall_clock()),
            Some(clock) => {
                let value = clock.call0(py)?;
                py.get_type::<PyInt>().call1((value,))?.extract()
            }
        }
    }

    /// Mint a root capability for `holder` with a fresh random id; returns the token string.
    fn mint(
        &self,
        holder: &str,
        resource: &str,
        rights: &Bound<'_, PyAny>,
        expiry: i128,
    ) -> PyResult<String> {
        let rights = rights_arg(rights)?;
        encoded(self.inner.mint(holder, resource, rights, expiry))
    }

    /// Derive a narrower capability for the same holder; anything omitted is kept.
    #[pyo3(signature = (token, *, rights=None, resource=None, expiry=None))]
    fn attenuate(
        &self,
        py: Python<'_>,
        token: &str,
        rights: Option<&Bound<'_, PyAny>>,
        resource: Option<String>,
        expiry: Option<i128>,
    ) -> PyResult<String> {
        let now = self.now(py)?;
        let narrowing = narrowing(rights, resource, expiry)?;
        encoded(self.inner.attenuate(token, narrowing, now))
    }

    /// Derive a capability for a new `holder`, never wider; `by` must be the current holder.
    #[pyo3(signature = (token, holder, *, by, rights=None, resource=None, expiry=None))]
    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &self,
        py: Python<'_>,
        token: &str,
        holder: &str,
        by: &Bound<'_, PyAny>,
        rights: Option<&Bound<'_, PyAny>>,
        resource: Option<String>,
        expiry: Option<i128>,
    ) -> PyResult<String> {
        let now = self.now(py)?;
        let narrowing = narrowing(rights, resource, expiry)?;
        // The reference compares `by` with the holder whatever its type; so does this.
        let by = by.str()?.to_string();
        encoded(self.inner.transfer(token, holder, &by, narrowing, now))
    }

    /// Check signature, chain, expiry and revocation; return the granted capability.
    #[pyo3(signature = (token, *, now=None))]
    fn verify<'py>(
        &self,
        py: Python<'py>,
        token: &str,
        now: Option<i128>,
    ) -> PyResult<CapTuple<'py>> {
        let now = self.at(py, now)?;
        to_tuple(py, self.inner.verify(token, now).map_err(to_py)?)
    }

    /// Verify `token`, then check it lets `holder` (if given) do `right` on `resource`.
    #[pyo3(signature = (token, resource, right, *, holder=None, now=None))]
    fn authorize<'py>(
        &self,
        py: Python<'py>,
        token: &str,
        resource: &str,
        right: &str,
        holder: Option<&str>,
        now: Option<i128>,
    ) -> PyResult<CapTuple<'py>> {
        let now = self.at(py, now)?;
        let cap = self
            .inner
            .authorize(token, resource, right, holder, now)
            .map_err(to_py)?;
        to_tuple(py, cap)
    }

    /// Revoke a capability id (or the one a token string grants), and so its descendants.
    fn revoke(&self, target: &Bound<'_, PyAny>) -> PyResult<()> {
        match target.cast::<PyString>() {
            Ok(text) => self.inner.revoke(text.to_str()?).map_err(to_py),
            Err(_) => {
                let shown: String = target.str()?.to_str()?.chars().take(64).collect();
                Err(cap_error(format!(
                    "cannot revoke `{shown}`: expected a capability id"
                )))
            }
        }
    }

    /// True if `cap_id` itself was revoked.
    fn is_revoked(&self, cap_id: &str) -> PyResult<bool> {
        self.inner.is_revoked(cap_id).map_err(to_py)
    }

    /// Every revoked id in the store.
    #[getter]
    fn revoked<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyFrozenSet>> {
        PyFrozenSet::new(py, self.inner.revoked_ids().map_err(to_py)?)
    }
}

type LinkArg = (String, String, String, Vec<String>, i128, Option<String>);

/// The canonical MessagePack payload of a chain of `(id, holder, resource, rights, expiry, parent)`.
#[pyfunction]
fn capability_payload<'py>(py: Python<'py>, chain: Vec<LinkArg>) -> PyResult<Bound<'py, PyBytes>> {
    let chain: Vec<Capability> = chain
        .into_iter()
        .map(
            |(id, holder, resource, rights, expiry, parent)| Capability {
                id,
                holder,
                resource,
                rights: rights.into_iter().collect(),
                expiry,
                parent,
            },
        )
        .collect();
    let payload = capability::canonical_payload(&chain).map_err(to_py)?;
    Ok(PyBytes::new(py, &payload))
}

/// True if `pattern` matches the concrete `resource`.
#[pyfunction]
fn capability_covers(pattern: &str, resource: &str) -> bool {
    capability::covers(pattern, resource)
}

/// True if every resource `child` covers is also covered by `parent`.
#[pyfunction]
fn capability_narrower_or_equal(child: &str, parent: &str) -> bool {
    capability::narrower_or_equal(child, parent)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCapabilityAuthority>()?;
    m.add_function(wrap_pyfunction!(capability_payload, m)?)?;
    m.add_function(wrap_pyfunction!(capability_covers, m)?)?;
    m.add_function(wrap_pyfunction!(capability_narrower_or_equal, m)?)?;
    Ok(())
}
