//! The one error type of the core crate; the binding maps it to Python once.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CoreError {
    /// A key that HMAC cannot use (empty keys are refused on purpose).
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A malformed, forged, expired, revoked or widening capability.
    #[error("{0}")]
    Capability(String),
    /// The revocation store failed, so nothing was accepted (or revoked).
    #[error("{0}")]
    Revocation(String),
    /// Malformed policies, entities or requests, or a bad limit.
    #[error("{0}")]
    Policy(String),
    /// Morphisms that do not compose.
    #[error("{0}")]
    Composition(String),
    /// A mailbox that is full.
    #[error("{0}")]
    MailboxFull(String),
    /// A mailbox that is closed or finished.
    #[error("{0}")]
    MailboxClosed(String),
    /// Actor or mailbox misuse (a bad capacity, taking from an empty mailbox).
    #[error("{0}")]
    Actor(String),
}

pub type Result<T> = std::result::Result<T, CoreError>;
