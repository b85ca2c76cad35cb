//! Unit tests against the test vector of docs/capabilities.md.

use super::*;

const KEY: &[u8] = b"lion-test-vector-key-32-bytes-ok";
const CHILD_TOKEN: &str = "lion1.k6hsaW9uLWNhcAGSlqVyb290MaVhbGljZaZkb2NzLyqSpHJlYWSld3JpdGXOZVPxAMCWpmNoaWxkMaNib2KrZG9jcy9yZXBvcnSRpHJlYWTOZVPxAKVyb290MQ.CgiGpiBcsmMzrbTIbLV5WxaCnfsf7Dtuj_WzSIakkr4";

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

fn vector_rights() -> BTreeSet<String> {
    ["write", "read"].into_iter().map(String::from).collect()
}

// Ids are minted by the authority; the vector's fixed ids go through the private path.
fn vector_root(auth: &CapabilityAuthority) -> Result<CapabilityToken> {
    auth.mint_as(
        "root1".into(),
        "alice",
        "docs/*",
        vector_rights(),
        1_700_000_000,
    )
}

#[test]
fn root_matches_the_documented_vector() -> Result<()> {
    let token = vector_root(&authority()?)?;
    assert_eq!(
        hex(&canonical_payload(&token.chain)?),
        "93a86c696f6e2d6361700191\
         96a5726f6f7431a5616c696365a6646f63732f2a92a472656164a57772697465ce6553f100c0"
    );
    assert_eq!(
        hex(&token.tag),
        "084547324014a0f227ceb1e76ea58533b3c78e548c4f040700e39368a1bbb5cc"
    );
    Ok(())
}

#[test]
fn transferred_child_matches_the_documented_token() -> Result<()> {
    let auth = authority()?;
    let root = vector_root(&auth)?;
    let narrowing = Narrowing {
        rights: Some(["read"].into()),
        resource: Some("docs/report".into()),
        expiry: None,
    };
    let parent = auth.verified(&root.encode()?, 0)?;
    let child = auth.derive(parent, "bob".into(), narrowing, "child1".into())?;
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
    let forged = CHILD_TOKEN.replace(".Cgi", ".Dgi");
    assert_eq!(
        message(auth.verify(&forged, 0)),
        "capability token signature does not match: forged, tampered or another key"
    );
    Ok(())
}

#[test]
fn minted_ids_are_128_random_bits_in_lowercase_hex() -> Result<()> {
    let auth = authority()?;
    let ids: BTreeSet<String> = (0..64)
        .map(|_| {
            auth.mint("a", "x", ["r"].into(), 10)
                .map(|t| t.chain[0].id.clone())
        })
        .collect::<Result<_>>()?;
    assert_eq!(ids.len(), 64);
    for id in &ids {
        assert_eq!(id.len(), 32);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }
    // No UUID version nibble: every hex digit varies, including the 13th.
    let thirteenth: BTreeSet<u8> = ids.iter().map(|id| id.as_bytes()[12]).collect();
    assert!(thirteenth.len() > 1);
    Ok(())
}

#[test]
fn short_keys_are_refused_with_the_length_and_the_minimum() {
    for len in [0usize, 1, 31] {
        assert_eq!(
            message(CapabilityAuthority::new(Some(vec![b'k'; len]))),
            format!(
                "capability key is {len} bytes: at least 32 are required \
                 (use `secrets.token_urlsafe(32)`)"
            )
        );
    }
    assert!(CapabilityAuthority::new(Some(vec![b'k'; 32])).is_ok());
}

#[test]
fn transfer_needs_the_current_holder() -> Result<()> {
    let auth = authority()?;
    let root = auth
        .mint("alice", "docs/*", ["read"].into(), 100)?
        .encode()?;
    assert_eq!(
        message(auth.transfer(&root, "carol", "mallory", Narrowing::default(), 0)),
        format!(
            "`mallory` cannot transfer capability `{}`: it is held by `alice`",
            decode_token(&root)?.chain[0].id
        )
    );
    assert!(auth
        .transfer(&root, "bob", "alice", Narrowing::default(), 0)
        .is_ok());
    Ok(())
}

#[test]
fn authorities_sharing_a_store_refuse_each_others_revocations() -> Result<()> {
    let store: Arc<dyn Revocations> = Arc::new(MemoryRevocations::new());
    let first = authority()?.with_revocations(Arc::clone(&store));
    let second = authority()?.with_revocations(store);
    let root = first.mint("alice", "docs/*", ["read"].into(), 100)?;
    let child = first
        .attenuate(&root.encode()?, Narrowing::default(), 0)?
        .encode()?;
    assert!(second.verify(&child, 0).is_ok());
    first.revoke(&root.chain[0].id)?;
    assert_eq!(
        message(second.verify(&child, 0)),
        format!(
            "capability `{}` is revoked (an ancestor of `{}`)",
            root.chain[0].id,
            decode_token(&child)?.chain[1].id
        )
    );
    assert!(second.is_revoked(&root.chain[0].id)?);
    Ok(())
}

struct Broken;

impl Revocations for Broken {
    fn revoke(&self, _: &str) -> Result<()> {
        Err(CoreError::Revocation("disk on fire".into()))
    }
    fn first_revoked(&self, _: &[&str]) -> Result<Option<String>> {
        Err(CoreError::Revocation("disk on fire".into()))
    }
    fn is_revoked(&self, _: &str) -> Result<bool> {
        Err(CoreError::Revocation("disk on fire".into()))
    }
    fn ids(&self) -> Result<BTreeSet<String>> {
        Err(CoreError::Revocation("disk on fire".into()))
    }
}

#[test]
fn a_failing_store_fails_closed() -> Result<()> {
    let good = authority()?;
    let token = good
        .mint("alice", "docs/*", ["read"].into(), 100)?
        .encode()?;
    let auth = authority()?.with_revocations(Arc::new(Broken));
    assert_eq!(
        auth.verify(&token, 0),
        Err(CoreError::Revocation(
            "revocation store failed, so the token is refused: disk on fire".into()
        ))
    );
    assert_eq!(
        auth.revoke("abc"),
        Err(CoreError::Revocation(
            "revocation store failed, so `abc` is not revoked: disk on fire".into()
        ))
    );
    assert!(auth.is_revoked("abc").is_err());
    assert!(format!("{auth:?}").contains("revoked=?"));
    Ok(())
}
