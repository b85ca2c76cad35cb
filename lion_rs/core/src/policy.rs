//! policy (not yet ported).
