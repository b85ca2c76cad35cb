//! The one place where core errors become Python exceptions: each maps to a
//! class of LION's one error hierarchy, so Python users catch one tree.

use lion_core::CoreError;
use pyo3::prelude::*;
use pyo3::types::PyType;

fn class_of(err: &CoreError) -> (&'static str, &'static str) {
    match err {
        CoreError::InvalidKey(_) | CoreError::Capability(_) => ("lion.errors", "CapabilityError"),
        CoreError::Revocation(_) => ("lion.errors", "RevocationStoreError"),
        CoreError::Policy(_) => ("lion.errors", "PolicyError"),
        CoreError::Composition(_) => ("lion.kernel.compose", "CompositionError"),
        CoreError::MailboxFull(_) => ("lion.errors", "MailboxFullError"),
        CoreError::MailboxClosed(_) => ("lion.errors", "ActorStoppedError"),
        CoreError::Actor(_) => ("lion.errors", "ActorError"),
        _ => ("lion.errors", "KernelError"),
    }
}

pub fn to_py(err: CoreError) -> PyErr {
    let (module, name) = class_of(&err);
    Python::attach(|py| {
        let class = py
            .import(module)
            .and_then(|module| module.getattr(name))
            .and_then(|class| class.cast_into::<PyType>().map_err(PyErr::from));
        match class {
            Ok(class) => PyErr::from_type(class, err.to_string()),
            Err(import_error) => import_error,
        }
    })
}
