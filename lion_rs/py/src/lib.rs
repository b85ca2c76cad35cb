//! `lion._native`: the thin PyO3 layer over `lion-core`. No kernel logic lives
//! here; each function converts arguments, calls the core and maps errors.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

mod capability;
mod compose;
mod error;
mod mailbox;
mod policy;

use error::to_py;

/// HMAC-SHA256 of `message` under `key` (32 bytes).
#[pyfunction]
fn hmac_sha256<'py>(py: Python<'py>, key: &[u8], message: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let tag = lion_core::mac::hmac_sha256(key, message).map_err(to_py)?;
    Ok(PyBytes::new(py, &tag))
}

/// Constant-time check of an HMAC-SHA256 tag.
#[pyfunction]
fn hmac_sha256_verify(key: &[u8], message: &[u8], tag: &[u8]) -> PyResult<bool> {
    lion_core::mac::hmac_sha256_verify(key, message, tag).map_err(to_py)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(hmac_sha256, m)?)?;
    m.add_function(wrap_pyfunction!(hmac_sha256_verify, m)?)?;
    policy::register(m)?;
    capability::register(m)?;
    compose::register(m)?;
    mailbox::register(m)?;
    Ok(())
}
