//! Capabilities: unforgeable, attenuable, revocable grants of authority.
//!
//! A port of `lion/kernel/capability.py` that accepts and refuses exactly
//! what the Python reference does, with the same messages, and produces the
//! same bytes: a token minted by one verifies in the other under the same key.
//! The byte format is documented in `docs/capabilities.md`.

mod base64url;
mod msgpack;
mod patterns;
mod revocation;
mod token;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use patterns::{covers, is_pattern, is_resource, narrower_or_equal};
pub use revocation::{MemoryRevocations, Revocations};
use token::first_chars;
pub use token::{canonical_payload, decode_token, CapabilityToken};

use crate::error::{CoreError, Result};
use crate::mac::{hmac_sha256, hmac_sha256_verify};

pub const KEY_ENV_VAR: &str = "LION_CAPABILITY_KEY";
pub const TOKEN_PREFIX: &str = "lion1";
/// The first two elements of every canonical payload: a domain tag and a format version.
pub const PAYLOAD_TAG: &str = "lion-cap";
pub const PAYLOAD_VERSION: i128 = 1;
pub const MAX_CHAIN: usize = 32;
pub const MAX_TOKEN_LENGTH: usize = 65536;
pub const MAX_EXPIRY: i128 = i64::MAX as i128;
/// The shortest key an authority accepts, in bytes.
pub const MIN_KEY_BYTES: usize = 32;
const TAG_SIZE: usize = 32;

/// One link of a capability chain: `holder` may do `rights` on `resource` until `expiry`.
///
/// `expiry` is in whole seconds since the Unix epoch; valid while `now < expiry`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Capability {
    pub id: String,
    pub holder: String,
    pub resource: String,
    pub rights: BTreeSet<String>,
    pub expiry: i128,
    pub parent: Option<String>,
}

fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(CoreError::Capability(message.into()))
}

// --- capabilities as values ------------------------------------------------------------------

fn is_id(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Why `cap` is not well-formed, or None.
fn fields_error(cap: &Capability) -> Option<String> {
    let id = &cap.id;
    if !is_id(id) {
        return Some(format!(
            "capability id `{id}` is malformed: expected 1-128 of [A-Za-z0-9_-]"
        ));
    }
    if cap.holder.is_empty() {
        return Some(format!(
            "capability `{id}` has holder `''`: expected a non-empty name"
        ));
    }
    if !is_pattern(&cap.resource) {
        return Some(format!(
            "capability `{id}` has resource pattern `{}`: expected `a/b`, `a/b/*` or `*` with \
             non-empty segments",
            cap.resource
        ));
    }
    if cap.rights.contains("") {
        return Some(format!(
            "capability `{id}` has right `''`: expected a non-empty string"
        ));
    }
    if !(0..=MAX_EXPIRY).contains(&cap.expiry) {
        return Some(format!(
            "capability `{id}` has expiry `{}`: expected 0 to 2**63-1",
            cap.expiry
        ));
    }
    if let Some(parent) = &cap.parent {
        if !is_id(parent) {
            return Some(format!(
                "capability `{id}` has malformed parent id `{parent}`"
            ));
        }
    }
    None
}

fn show_rights<'a>(rights: impl IntoIterator<Item = &'a String>) -> String {
    let mut out = String::from("{");
    for (i, right) in rights.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "`{right}`");
    }
    out.push('}');
    out
}

/// What `child` widens relative to `parent`, or None if it is a valid attenuation.
pub fn attenuation_error(parent: &Capability, child: &Capability) -> Option<String> {
    if child.parent.as_deref() != Some(parent.id.as_str()) {
        let named = child.parent.as_deref().unwrap_or("None");
        return Some(format!(
            "capability `{}` names parent `{named}`, expected `{}`",
            child.id, parent.id
        ));
    }
    if child.id == parent.id {
        return Some(format!(
            "capability `{}` has the same id as its parent",
            child.id
        ));
    }
    let extra: Vec<&String> = child.rights.difference(&parent.rights).collect();
    if !extra.is_empty() {
        return Some(format!(
            "attenuation would widen rights: {} not in the parent's rights {}",
            show_rights(extra),
            show_rights(&parent.rights)
        ));
    }
    if !narrower_or_equal(&child.resource, &parent.resource) {
        return Some(format!(
            "attenuation would widen resource scope: `{}` is not within `{}`",
            child.resource, parent.resource
        ));
    }
    if child.expiry > parent.expiry {
        return Some(format!(
            "attenuation would extend expiry: {} is later than the parent's {}",
            child.expiry, parent.expiry
        ));
    }
    None
}

/// True if `capability` (already verified) allows `right` on `resource` at time `now`.
pub fn permits(capability: &Capability, resource: &str, right: &str, now: i128) -> bool {
    capability.rights.contains(right)
        && covers(&capability.resource, resource)
        && now < capability.expiry
}

/// Why a (correctly signed) chain is not valid at `now`, or None if it is.
///
/// `first_revoked` is the revocation store's answer for the chain's ids (the
/// first revoked one, in chain order); the checks run in the reference's
/// order: structure, then revocation, then expiry.
pub fn chain_error(chain: &[Capability], now: i128, first_revoked: Option<&str>) -> Option<String> {
    structure_error(chain).or_else(|| status_error(chain, now, first_revoked))
}

/// Why `chain` is not a well-formed chain of attenuations (time and revocation aside).
fn structure_error(chain: &[Capability]) -> Option<String> {
    let Some(root) = chain.first() else {
        return Some("capability chain is empty: expected at least a root capability".into());
    };
    if chain.len() > MAX_CHAIN {
        return Some(format!(
            "capability chain has {} links: at most {MAX_CHAIN} are allowed",
            chain.len()
        ));
    }
    if let Some(problem) = chain.iter().find_map(fields_error) {
        return Some(problem);
    }
    if let Some(parent) = &root.parent {
        return Some(format!(
            "root capability `{}` names parent `{parent}`: expected none",
            root.id
        ));
    }
    if let Some(problem) = chain
        .windows(2)
        .find_map(|w| attenuation_error(&w[0], &w[1]))
    {
        return Some(problem);
    }
    let ids: BTreeSet<&str> = chain.iter().map(|c| c.id.as_str()).collect();
    if ids.len() != chain.len() {
        return Some("capability chain repeats an id".into());
    }
    None
}

/// Why a well-formed chain is not valid at `now`: its first revoked id, else an expiry.
fn status_error(chain: &[Capability], now: i128, first_revoked: Option<&str>) -> Option<String> {
    let last = chain.last()?;
    if let Some(id) = first_revoked {
        let ancestor = if id == last.id {
            String::new()
        } else {
            format!(" (an ancestor of `{}`)", last.id)
        };
        return Some(format!("capability `{id}` is revoked{ancestor}"));
    }
    chain
        .iter()
        .find(|c| now >= c.expiry)
        .map(|c| format!("capability `{}` expired at {} (now {now})", c.id, c.expiry))
}

// --- the authority ---------------------------------------------------------------------------

/// Rights as given by a caller. Only a set is valid; the others are refused
/// when the rights are used, so an invalid token is still reported first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rights {
    Set(BTreeSet<String>),
    /// A bare string, which would otherwise be read as a set of characters.
    BareString(String),
    /// Something that is not a collection of strings.
    NotACollection,
}

impl<S: Into<String>, I: IntoIterator<Item = S>> From<I> for Rights {
    fn from(rights: I) -> Self {
        Rights::Set(rights.into_iter().map(Into::into).collect())
    }
}

fn rights_set(rights: Rights) -> Result<BTreeSet<String>> {
    match rights {
        Rights::Set(set) => Ok(set),
        Rights::BareString(text) => fail(format!(
            "rights must be a collection of strings, got the string `{text}`"
        )),
        Rights::NotACollection => fail("rights must be a collection of strings"),
    }
}

/// What a derivation may change; anything None is inherited from the parent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Narrowing {
    pub rights: Option<Rights>,
    pub resource: Option<String>,
    pub expiry: Option<i128>,
}

/// The current time in whole seconds since the Unix epoch.
pub fn wall_clock() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i128::from(d.as_secs()),
        Err(e) => -i128::from(e.duration().as_secs()) - 1,
    }
}

/// A fresh id: 128 random bits as 32 lowercase hex digits, like Python's `secrets.token_hex(16)`.
pub fn new_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| CoreError::Capability(format!("no randomness for a capability id: {e}")))?;
    let mut id = String::with_capacity(32);
    for b in bytes {
        let _ = write!(id, "{b:02x}");
    }
    Ok(id)
}

/// What a store's error says, for a message that wraps it.
fn store_problem(err: CoreError) -> String {
    match err {
        CoreError::Revocation(m) | CoreError::Capability(m) => m,
        other => other.to_string(),
    }
}

fn store_failed<T>(message: String) -> Result<T> {
    Err(CoreError::Revocation(message))
}

/// The only minter of capabilities: holds the HMAC key and a revocation store.
///
/// The key never appears in `Debug` output or error messages. Time is always
/// passed in (`now`), so callers choose the clock. Ids are minted here only.
pub struct CapabilityAuthority {
    key: Vec<u8>,
    revocations: Arc<dyn Revocations>,
}

impl std::fmt::Debug for CapabilityAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.revocations.ids() {
            Ok(ids) => write!(
                f,
                "CapabilityAuthority(key=<hidden>, revoked={})",
                ids.len()
            ),
            Err(_) => write!(f, "CapabilityAuthority(key=<hidden>, revoked=?)"),
        }
    }
}

impl CapabilityAuthority {
    /// An authority with `key`, or else the UTF-8 bytes of `LION_CAPABILITY_KEY`
    /// (at least `MIN_KEY_BYTES` either way), and a fresh in-memory store.
    pub fn new(key: Option<Vec<u8>>) -> Result<Self> {
        let (key, source) = match key {
            Some(key) => (key, "capability key".to_string()),
            None => match std::env::var_os(KEY_ENV_VAR) {
                Some(value) => (
                    value.into_encoded_bytes(),
                    format!("capability key from {KEY_ENV_VAR}"),
                ),
                None => {
                    return fail(format!(
                        "no capability key: pass `key=` or set the environment variable \
                         {KEY_ENV_VAR}"
                    ))
                }
            },
        };
        if key.len() < MIN_KEY_BYTES {
            return fail(format!(
                "{source} is {} bytes: at least {MIN_KEY_BYTES} are required \
                 (use `secrets.token_urlsafe(32)`)",
                key.len()
            ));
        }
        Ok(Self {
            key,
            revocations: Arc::new(MemoryRevocations::new()),
        })
    }

    /// The same authority consulting `revocations` instead (e.g. a store shared with others).
    #[must_use]
    pub fn with_revocations(self, revocations: Arc<dyn Revocations>) -> Self {
        Self {
            key: self.key,
            revocations,
        }
    }

    fn sign(&self, chain: Vec<Capability>) -> Result<CapabilityToken> {
        let tag = hmac_sha256(&self.key, &canonical_payload(&chain)?)?;
        Ok(CapabilityToken { chain, tag })
    }

    /// Mint a root capability for `holder`, with a fresh random id.
    pub fn mint(
        &self,
        holder: &str,
        resource: &str,
        rights: Rights,
        expiry: i128,
    ) -> Result<CapabilityToken> {
        let rights = rights_set(rights)?;
        self.mint_as(new_id()?, holder, resource, rights, expiry)
    }

    /// Mint with a given id (the crate's tests reproduce the documented vector with it).
    fn mint_as(
        &self,
        id: String,
        holder: &str,
        resource: &str,
        rights: BTreeSet<String>,
        expiry: i128,
    ) -> Result<CapabilityToken> {
        let cap = Capability {
            id,
            holder: holder.into(),
            resource: resource.into(),
            rights,
            expiry,
            parent: None,
        };
        let chain = vec![cap];
        if let Some(problem) = structure_error(&chain) {
            return fail(problem);
        }
        self.sign(chain)
    }

    /// Derive a narrower capability for the same holder; anything omitted is kept.
    pub fn attenuate(
        &self,
        token: &str,
        narrowing: Narrowing,
        now: i128,
    ) -> Result<CapabilityToken> {
        let parent = self.verified(token, now)?;
        let holder = match parent.capability() {
            Some(cap) => cap.holder.clone(),
            None => return fail("capability token has an empty chain"),
        };
        self.derive(parent, holder, narrowing, new_id()?)
    }

    /// Derive a capability for a new `holder`, never wider; `by` must be the current holder.
    pub fn transfer(
        &self,
        token: &str,
        holder: &str,
        by: &str,
        narrowing: Narrowing,
        now: i128,
    ) -> Result<CapabilityToken> {
        let parent = self.verified(token, now)?;
        if let Some(current) = parent.capability() {
            if by != current.holder {
                return fail(format!(
                    "`{by}` cannot transfer capability `{}`: it is held by `{}`",
                    current.id, current.holder
                ));
            }
        }
        self.derive(parent, holder.into(), narrowing, new_id()?)
    }

    fn derive(
        &self,
        parent_token: CapabilityToken,
        holder: String,
        narrowing: Narrowing,
        id: String,
    ) -> Result<CapabilityToken> {
        let Some(parent) = parent_token.capability() else {
            return fail("capability token has an empty chain");
        };
        let rights = match narrowing.rights {
            Some(rights) => rights_set(rights)?,
            None => parent.rights.clone(),
        };
        let child = Capability {
            id,
            holder,
            resource: narrowing
                .resource
                .unwrap_or_else(|| parent.resource.clone()),
            rights,
            expiry: narrowing.expiry.unwrap_or(parent.expiry),
            parent: Some(parent.id.clone()),
        };
        let depth = parent_token.chain.len() + 1;
        let mut problem = fields_error(&child).or_else(|| attenuation_error(parent, &child));
        if problem.is_none() && depth > MAX_CHAIN {
            problem = Some(format!(
                "capability chain would have {depth} links: at most {MAX_CHAIN}"
            ));
        }
        if let Some(problem) = problem {
            return fail(problem);
        }
        let mut chain = parent_token.chain;
        chain.push(child);
        self.sign(chain)
    }

    fn verified(&self, token: &str, now: i128) -> Result<CapabilityToken> {
        let parsed = decode_token(token)?;
        let payload = canonical_payload(&parsed.chain)?;
        if !hmac_sha256_verify(&self.key, &payload, &parsed.tag)? {
            return fail(
                "capability token signature does not match: forged, tampered or another key",
            );
        }
        if let Some(problem) = structure_error(&parsed.chain) {
            return fail(problem);
        }
        let first = self.first_revoked(&parsed.chain)?;
        if let Some(problem) = status_error(&parsed.chain, now, first.as_deref()) {
            return fail(problem);
        }
        Ok(parsed)
    }

    /// One store query for the whole chain; a failing or confused store refuses the token.
    fn first_revoked(&self, chain: &[Capability]) -> Result<Option<String>> {
        let ids: Vec<&str> = chain.iter().map(|c| c.id.as_str()).collect();
        match self.revocations.first_revoked(&ids) {
            Err(e) => store_failed(format!(
                "revocation store failed, so the token is refused: {}",
                store_problem(e)
            )),
            Ok(Some(id)) if !ids.contains(&id.as_str()) => store_failed(format!(
                "revocation store failed, so the token is refused: it answered `{id}`, which \
                 is not in the chain"
            )),
            Ok(first) => Ok(first),
        }
    }

    /// Check signature, chain, expiry and revocation at `now`; return the granted capability.
    pub fn verify(&self, token: &str, now: i128) -> Result<Capability> {
        let mut token = self.verified(token, now)?;
        match token.chain.pop() {
            Some(cap) => Ok(cap),
            None => fail("capability token has an empty chain"),
        }
    }

    /// Verify `token`, then check it lets `holder` (if given) do `right` on `resource`.
    pub fn authorize(
        &self,
        token: &str,
        resource: &str,
        right: &str,
        holder: Option<&str>,
        now: i128,
    ) -> Result<Capability> {
        let cap = self.verify(token, now)?;
        if let Some(holder) = holder {
            if cap.holder != holder {
                return fail(format!(
                    "capability `{}` is held by `{}`, not `{holder}`",
                    cap.id, cap.holder
                ));
            }
        }
        if !cap.rights.contains(right) {
            return fail(format!(
                "capability `{}` does not grant right `{right}`: it grants {}",
                cap.id,
                show_rights(&cap.rights)
            ));
        }
        if !covers(&cap.resource, resource) {
            return fail(format!(
                "capability `{}` covers `{}`, not resource `{resource}`",
                cap.id, cap.resource
            ));
        }
        Ok(cap)
    }

    /// Revoke an id (or the id a token string grants), and so all its descendants.
    pub fn revoke(&self, target: &str) -> Result<()> {
        let prefixed = format!("{TOKEN_PREFIX}.");
        let cap_id = if target.starts_with(&prefixed) {
            let token = decode_token(target)?;
            match token.chain.last() {
                Some(cap) => cap.id.clone(),
                None => return fail("capability token has an empty chain"),
            }
        } else {
            target.to_string()
        };
        if !is_id(&cap_id) {
            return fail(format!(
                "cannot revoke `{}`: expected a capability id",
                first_chars(&cap_id, 64)
            ));
        }
        self.revocations.revoke(&cap_id).or_else(|e| {
            store_failed(format!(
                "revocation store failed, so `{cap_id}` is not revoked: {}",
                store_problem(e)
            ))
        })
    }

    /// True if `cap_id` itself was revoked (descendants are refused by `verify`).
    pub fn is_revoked(&self, cap_id: &str) -> Result<bool> {
        self.revocations
            .is_revoked(cap_id)
            .or_else(|e| store_failed(format!("revocation store failed: {}", store_problem(e))))
    }

    /// Every revoked id in the store (O(revoked): for export, not for checks).
    pub fn revoked_ids(&self) -> Result<BTreeSet<String>> {
        self.revocations
            .ids()
            .or_else(|e| store_failed(format!("revocation store failed: {}", store_problem(e))))
    }
}

#[cfg(test)]
mod tests;
