//! HMAC-SHA256, the primitive behind capability tokens.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{CoreError, Result};

type HmacSha256 = Hmac<Sha256>;

/// The HMAC-SHA256 tag of `message` under `key`.
///
/// An empty key is refused: a capability authority with no secret would make
/// every token forgeable.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Result<[u8; 32]> {
    if key.is_empty() {
        return Err(CoreError::InvalidKey("key must not be empty".into()));
    }
    let mut mac =
        HmacSha256::new_from_slice(key).map_err(|e| CoreError::InvalidKey(e.to_string()))?;
    mac.update(message);
    Ok(mac.finalize().into_bytes().into())
}

/// Constant-time check that `tag` is the HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256_verify(key: &[u8], message: &[u8], tag: &[u8]) -> Result<bool> {
    if key.is_empty() {
        return Err(CoreError::InvalidKey("key must not be empty".into()));
    }
    let mut mac =
        HmacSha256::new_from_slice(key).map_err(|e| CoreError::InvalidKey(e.to_string()))?;
    mac.update(message);
    Ok(mac.verify_slice(tag).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn rfc4231_case_2() {
        // RFC 4231, test case 2.
        let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            tag.map(|t| hex(&t)),
            Ok("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843".to_string())
        );
    }

    #[test]
    fn empty_key_is_refused() {
        assert!(matches!(
            hmac_sha256(b"", b"x"),
            Err(CoreError::InvalidKey(_))
        ));
    }

    #[test]
    fn verify_accepts_own_tag_and_rejects_flipped_bit() {
        let tag = hmac_sha256(b"k", b"m").unwrap_or([0; 32]);
        assert_eq!(hmac_sha256_verify(b"k", b"m", &tag), Ok(true));
        let mut bad = tag;
        bad[0] ^= 1;
        assert_eq!(hmac_sha256_verify(b"k", b"m", &bad), Ok(false));
        assert_eq!(hmac_sha256_verify(b"k", b"m", &tag[..31]), Ok(false));
    }
}
