//! The one place where core errors become Python exceptions: each maps to a
//! class of `lion.errors`, so Python users catch one hierarchy.

use lion_core::CoreError;
use pyo3::prelude::*;
use pyo3::types::PyType;

fn class_name(err: &CoreError) -> &'static str {
    match err {
        CoreError::InvalidKey(_) => "CapabilityError",
        _ => "KernelError",
    }
}

pub fn to_py(err: CoreError) -> PyErr {
    Python::attach(|py| {
        let class = py
            .import("lion.errors")
            .and_then(|module| module.getattr(class_name(&err)))
            .and_then(|class| class.cast_into::<PyType>().map_err(PyErr::from));
        match class {
            Ok(class) => PyErr::from_type(class, err.to_string()),
            Err(import_error) => import_error,
        }
    })
}
