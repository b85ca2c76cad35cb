//! Python bindings for `lion_core::mailbox`: a mailbox of arbitrary Python
//! objects, and the ask guard `would_deadlock`.

use std::collections::HashMap;

use lion_core::mailbox::{self, Mailbox};
use lion_core::CoreError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyString, PyTuple};

use crate::error::to_py;

/// A bounded FIFO of `(sender, message)` entries that can be closed.
#[pyclass(name = "Mailbox", module = "lion._native")]
pub struct PyMailbox {
    inner: Mailbox<Py<PyAny>>,
}

fn entry<'py>(
    py: Python<'py>,
    (sender, message): &(String, Py<PyAny>),
) -> PyResult<Bound<'py, PyTuple>> {
    (sender.as_str(), message.bind(py)).into_pyobject(py)
}

#[pymethods]
impl PyMailbox {
    #[new]
    fn new(capacity: &Bound<'_, PyAny>) -> PyResult<Self> {
        // A capacity beyond i128 is one no mailbox reaches, so it saturates.
        let value = if capacity.is_instance_of::<PyBool>() || !capacity.is_instance_of::<PyInt>() {
            None
        } else {
            match capacity.extract::<i128>() {
                Ok(n) => Some(n),
                Err(_) if capacity.gt(0)? => Some(i128::MAX),
                Err(_) => None,
            }
        };
        match value {
            Some(capacity) => Ok(Self {
                inner: Mailbox::new(capacity).map_err(to_py)?,
            }),
            None => Err(to_py(CoreError::Actor(format!(
                "mailbox capacity must be an integer of at least 1, got `{}`",
                capacity.repr()?.to_str()?
            )))),
        }
    }

    /// Enqueue `message` from `sender` if there is room: `accepted`, `full` or `closed`.
    fn offer(&mut self, sender: String, message: Py<PyAny>) -> &'static str {
        self.inner.offer(sender, message).as_str()
    }

    /// Remove and return the oldest `(sender, message)`.
    fn take<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let taken = self.inner.take().map_err(to_py)?;
        entry(py, &taken)
    }

    /// Refuse every later offer; pending entries stay.
    fn close(&mut self) {
        self.inner.close();
    }

    /// Remove and return every pending entry, oldest first; a closed mailbox is then stopped.
    fn drain<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let entries = self.inner.drain();
        let items = entries
            .iter()
            .map(|e| entry(py, e))
            .collect::<PyResult<Vec<_>>>()?;
        PyTuple::new(py, items)
    }

    /// Mark a closed, empty mailbox stopped.
    fn finish(&mut self) -> PyResult<()> {
        self.inner.finish().map_err(to_py)
    }

    /// The pending entries, oldest first, without removing them.
    fn pending<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let items = self
            .inner
            .pending()
            .map(|e| entry(py, e))
            .collect::<PyResult<Vec<_>>>()?;
        PyTuple::new(py, items)
    }

    #[getter]
    fn capacity(&self) -> u128 {
        self.inner.capacity()
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.closed()
    }

    /// `running`, `stopping` or `stopped`.
    #[getter]
    fn phase(&self) -> &'static str {
        self.inner.phase().as_str()
    }

    /// How many entries are pending.
    #[getter]
    fn size(&self) -> usize {
        self.inner.size()
    }

    fn __len__(&self) -> usize {
        self.inner.size()
    }

    #[getter]
    fn empty(&self) -> bool {
        self.inner.empty()
    }

    #[getter]
    fn full(&self) -> bool {
        self.inner.full()
    }

    /// How many offers were ever accepted.
    #[getter]
    fn accepted(&self) -> u64 {
        self.inner.accepted()
    }

    /// How many entries were ever taken.
    #[getter]
    fn taken(&self) -> u64 {
        self.inner.taken()
    }

    /// How many entries were ever removed by `drain`.
    #[getter]
    fn drained(&self) -> u64 {
        self.inner.drained()
    }

    fn __repr__(&self) -> String {
        format!(
            "Mailbox({}/{}, {})",
            self.inner.size(),
            self.inner.capacity(),
            self.inner.phase()
        )
    }
}

/// Would adding the wait `waiter -> target` close a cycle in the wait-for graph?
///
/// `waiting_on` maps each actor to every actor it waits on: a collection of
/// names (repeats allowed), or a single name for one wait.
#[pyfunction]
fn would_deadlock(waiting_on: &Bound<'_, PyAny>, waiter: &str, target: &str) -> PyResult<bool> {
    let mut waits: HashMap<String, Vec<String>> = HashMap::new();
    for pair in waiting_on.call_method0("items")?.try_iter()? {
        let (k, v): (String, Bound<'_, PyAny>) = pair?.extract()?;
        let targets = if let Ok(name) = v.cast::<PyString>() {
            vec![name.to_str()?.to_owned()]
        } else {
            v.try_iter()?
                .map(|t| t?.extract::<String>())
                .collect::<PyResult<Vec<_>>>()?
        };
        waits.insert(k, targets);
    }
    Ok(mailbox::would_deadlock(&waits, waiter, target))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMailbox>()?;
    m.add_function(wrap_pyfunction!(would_deadlock, m)?)?;
    Ok(())
}
