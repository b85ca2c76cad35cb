//! The canonical bytes a chain is signed as, and the `lion1.<payload>.<tag>` string.

use super::{base64url, fail, msgpack, Capability, MAX_CHAIN, MAX_TOKEN_LENGTH, TAG_SIZE};
use super::{PAYLOAD_TAG, PAYLOAD_VERSION, TOKEN_PREFIX};
use crate::error::Result;

/// The exact bytes the authority signs for `chain` (see docs/capabilities.md).
///
/// Refused only if an expiry does not fit a MessagePack integer.
pub fn canonical_payload(chain: &[Capability]) -> Result<Vec<u8>> {
    match msgpack::encode_chain(PAYLOAD_TAG, PAYLOAD_VERSION, chain) {
        Some(bytes) => Ok(bytes),
        None => fail(format!(
            "capability expiry does not fit MessagePack: expected {} to {}",
            msgpack::INT_MIN,
            msgpack::INT_MAX
        )),
    }
}

/// A signed capability chain, root first; the last link is the capability it grants.
///
/// A decoded token is only parsed, not trusted: verify it before relying on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityToken {
    pub chain: Vec<Capability>,
    pub tag: [u8; TAG_SIZE],
}

impl CapabilityToken {
    /// The capability this token grants (the last link of the chain).
    pub fn capability(&self) -> Option<&Capability> {
        self.chain.last()
    }

    /// The compact string form `lion1.<base64url payload>.<base64url tag>`.
    pub fn encode(&self) -> Result<String> {
        let payload = canonical_payload(&self.chain)?;
        Ok(format!(
            "{TOKEN_PREFIX}.{}.{}",
            base64url::encode(&payload),
            base64url::encode(&self.tag)
        ))
    }
}

pub(super) fn first_chars(text: &str, n: usize) -> &str {
    match text.char_indices().nth(n) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

fn b64decode(text: &str, what: &str) -> Result<Vec<u8>> {
    base64url::decode(text).or_else(|refusal| match refusal {
        base64url::Refusal::NotBase64url => fail(format!(
            "capability token {what} is not base64url: expected [A-Za-z0-9_-] without padding"
        )),
        base64url::Refusal::NotCanonical => fail(format!(
            "capability token {what} is not canonical base64url"
        )),
    })
}

/// Parse a token string without checking its signature; malformed input is refused.
pub fn decode_token(text: &str) -> Result<CapabilityToken> {
    if text.len() > MAX_TOKEN_LENGTH {
        let chars = text.chars().count();
        if chars > MAX_TOKEN_LENGTH {
            return fail(format!(
                "capability token is {chars} characters: at most {MAX_TOKEN_LENGTH} are allowed"
            ));
        }
    }
    let parts: Vec<&str> = text.split('.').collect();
    let [prefix, payload_text, tag_text] = parts[..] else {
        return fail("capability token is malformed: expected `lion1.<payload>.<tag>`");
    };
    if prefix != TOKEN_PREFIX {
        return fail(format!(
            "capability token has prefix `{}`: expected `{TOKEN_PREFIX}`",
            first_chars(prefix, 16)
        ));
    }
    let payload = b64decode(payload_text, "payload")?;
    let tag_bytes = b64decode(tag_text, "tag")?;
    let Ok(tag) = <[u8; TAG_SIZE]>::try_from(tag_bytes.as_slice()) else {
        return fail(format!(
            "capability token tag is {} bytes: expected {TAG_SIZE} (truncated?)",
            tag_bytes.len()
        ));
    };
    let Ok((name, version, links)) = msgpack::decode_payload(&payload) else {
        return fail(
            "capability token payload is malformed or truncated: expected a capability chain",
        );
    };
    if name != PAYLOAD_TAG || version != PAYLOAD_VERSION {
        return fail(format!(
            "capability token payload is `{}` version `{version}`: expected `{PAYLOAD_TAG}` \
             version {PAYLOAD_VERSION}",
            first_chars(&name, 16)
        ));
    }
    if links.is_empty() || links.len() > MAX_CHAIN {
        return fail(format!(
            "capability token has {} links: expected 1 to {MAX_CHAIN}",
            links.len()
        ));
    }
    let chain: Vec<Capability> = links.into_iter().map(msgpack::to_capability).collect();
    // Only the canonical encoding is accepted, so each chain has exactly one token string.
    if canonical_payload(&chain)? != payload {
        return fail("capability token payload is not in canonical form");
    }
    Ok(CapabilityToken { chain, tag })
}
