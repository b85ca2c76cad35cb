//! Unit tests against the test vector of docs/capabilities.md.

use super::*;

const KEY: &[u8] = b"lion-test-vector-key";
const CHILD_TOKEN: &str = "lion1.k6hsaW9uLWNhcAGSlqVyb290MaVhbGljZaZkb2NzLyqSpHJlYWSld3JpdGXOZVPxAMCWpmNoaWxkMaNib2KrZG9jcy9yZXBvcnSRpHJlYWTOZVPxAKVyb290MQ.r3QONbYxfjjZcoCcfGuFwyKhW1xoTnaR_iRymaPtIUI";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn authority() -> Result<CapabilityAuthority> {
    CapabilityAuthority::new(Some(KEY.to_vec()))
}

fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
    match result {
        Err(CoreError::Capability(m)) => m,
        other => format!("not a capability error: {other:?}"),
    }
}

#[test]
fn root_matches_the_documented_vector() -> Result<()> {
    let token = authority()?.mint(
        "alice",
        "docs/*",
        ["write", "read"].into(),
        1_700_000_000,
        Some("root1".into()),
    )?;
    assert_eq!(
        hex(&canonical_payload(&token.chain)?),
        "93a86c696f6e2d6361700191\
         96a5726f6f7431a5616c696365a6646f63732f2a92a472656164a57772697465ce6553f100c0"
    );
    assert_eq!(
        hex(&token.tag),
        "cef1188a250a1506544169b77ca8af00a0d4a4019ac9f778a28a87f43fc24610"
    );
    Ok(())
}

#[test]
fn transferred_child_matches_the_documented_token() -> Result<()> {
    let auth = authority()?;
    let root = auth.mint(
        "alice",
        "docs/*",
        ["write", "read"].into(),
        1_700_000_000,
        Some("root1".into()),
    )?;
    let narrowing = Narrowing {
        rights: Some(["read"].into()),
        resource: Some("docs/report".into()),
        expiry: None,
        id: Some("child1".into()),
    };
    let child = auth.transfer(&root.encode()?, "bob", None, narrowing, 0)?;
    assert_eq!(child.encode()?, CHILD_TOKEN);
    let cap = auth.verify(CHILD_TOKEN, 1_699_999_999)?;
    assert_eq!(
        (cap.holder.as_str(), cap.parent.as_deref()),
        ("bob", Some("root1"))
    );
    assert_eq!(
        message(auth.verify(CHILD_TOKEN, 1_700_000_000)),
        "capability `root1` expired at 1700000000 (now 1700000000)"
    );
    auth.revoke("root1")?;
    assert_eq!(
        message(auth.verify(CHILD_TOKEN, 0)),
        "capability `root1` is revoked (an ancestor of `child1`)"
    );
    Ok(())
}

#[test]
fn patterns_follow_the_reference() {
    assert!(covers("docs/*", "docs/a/b"));
    assert!(!covers("docs/*", "docs"));
    assert!(!covers("docs/*", "docs/../etc"));
    assert!(covers("*", "x"));
    assert!(!covers("*", "*"));
    assert!(narrower_or_equal("docs/a/*", "docs/*"));
    assert!(!narrower_or_equal("*", "docs/*"));
    assert!(!narrower_or_equal("docs", "docs/*"));
    assert!(!is_pattern("a//b"));
    assert!(!is_pattern("a/*/b"));
}

#[test]
fn malformed_tokens_name_what_is_wrong() -> Result<()> {
    let auth = authority()?;
    assert_eq!(
        message(auth.verify("lion2.a.b", 0)),
        "capability token has prefix `lion2`: expected `lion1`"
    );
    assert_eq!(
        message(auth.verify("lion1.a.b.c", 0)),
        "capability token is malformed: expected `lion1.<payload>.<tag>`"
    );
    let truncated = &CHILD_TOKEN[..CHILD_TOKEN.len() - 3];
    assert_eq!(
        message(auth.verify(truncated, 0)),
        "capability token tag is 30 bytes: expected 32 (truncated?)"
    );
    let unpadded_bits = format!("{}J", &CHILD_TOKEN[..CHILD_TOKEN.len() - 1]);
    assert_eq!(
        message(auth.verify(&unpadded_bits, 0)),
        "capability token tag is not canonical base64url"
    );
    let forged = CHILD_TOKEN.replace(".r3Q", ".s3Q");
    assert_eq!(
        message(auth.verify(&forged, 0)),
        "capability token signature does not match: forged, tampered or another key"
    );
    Ok(())
}
