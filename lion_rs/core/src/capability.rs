//! capability (not yet ported).
