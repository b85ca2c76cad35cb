//! LION's kernel in Rust. This crate knows nothing about Python: the binding
//! crate (`lion_rs/py`) wraps it as `lion._native`.

pub mod error;
pub mod mac;

pub use error::{CoreError, Result};
