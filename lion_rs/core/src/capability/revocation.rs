//! Where an authority keeps revoked ids: any `Revocations` store, shared or not.
//!
//! The authority asks one question per verification, `first_revoked` with the
//! ids of the token's chain, so verifying costs O(chain length) whatever the
//! number of revoked ids. The binding implements the trait over a Python
//! store object (`lion.kernel.revocation`), so Rust and Python authorities can
//! share one store, in memory or in SQLite.

use std::collections::{BTreeSet, HashSet};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::Result;

/// A set of revoked capability ids. A `revoke` that returned must be seen by
/// every later `first_revoked`; an error from any method makes the authority
/// refuse (fail closed), never accept.
pub trait Revocations: Send + Sync {
    /// Record `id` as revoked (idempotent).
    fn revoke(&self, id: &str) -> Result<()>;
    /// The first of `ids`, in the given order, that is revoked.
    fn first_revoked(&self, ids: &[&str]) -> Result<Option<String>>;
    /// True if `id` itself was revoked.
    fn is_revoked(&self, id: &str) -> Result<bool>;
    /// Every revoked id (for export; O(revoked)).
    fn ids(&self) -> Result<BTreeSet<String>>;
}

/// Revoked ids in memory, behind a lock: the default store, lost when dropped.
#[derive(Debug, Default)]
pub struct MemoryRevocations {
    ids: RwLock<HashSet<String>>,
}

impl MemoryRevocations {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    // The set is only ever inserted into, so a poisoned lock still holds a valid set.
    fn read(&self) -> RwLockReadGuard<'_, HashSet<String>> {
        self.ids.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashSet<String>> {
        self.ids.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Revocations for MemoryRevocations {
    fn revoke(&self, id: &str) -> Result<()> {
        self.write().insert(id.to_owned());
        Ok(())
    }

    fn first_revoked(&self, ids: &[&str]) -> Result<Option<String>> {
        let revoked = self.read();
        Ok(ids
            .iter()
            .find(|id| revoked.contains(**id))
            .map(|id| (*id).to_owned()))
    }

    fn is_revoked(&self, id: &str) -> Result<bool> {
        Ok(self.read().contains(id))
    }

    fn ids(&self) -> Result<BTreeSet<String>> {
        Ok(self.read().iter().cloned().collect())
    }
}
