//! compose (not yet ported).
