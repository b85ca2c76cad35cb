//! The one error type of the core crate; the binding maps it to Python once.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CoreError {
    /// A key that HMAC cannot use (empty keys are refused on purpose).
    #[error("invalid key: {0}")]
    InvalidKey(String),
}

pub type Result<T> = std::result::Result<T, CoreError>;
