//! mailbox (not yet ported).
