//! LION's kernel in Rust. This crate knows nothing about Python: the binding
//! crate (`lion_rs/py`) wraps it as `lion._native`.

pub mod capability;
pub mod compose;
pub mod error;
pub mod mac;
pub mod mailbox;
pub mod policy;

pub use error::{CoreError, Result};
