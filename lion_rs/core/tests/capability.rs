//! Properties of the capability authority: derivation never widens, and any
//! change to a token is refused.

use std::collections::BTreeSet;

use lion_core::capability::{covers, narrower_or_equal, CapabilityAuthority, Narrowing, Rights};
use lion_core::CoreError;
use proptest::prelude::*;

const RIGHTS: [&str; 3] = ["read", "write", "exec"];

fn authority() -> Result<CapabilityAuthority, CoreError> {
    CapabilityAuthority::new(Some(b"proptest-key-0123456789abcdef-0123".to_vec()))
}

fn rights() -> impl Strategy<Value = BTreeSet<String>> {
    proptest::sample::subsequence(RIGHTS.to_vec(), 0..=3)
        .prop_map(|r| r.into_iter().map(String::from).collect())
}

fn patterns() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_string()),
        "(docs|a|b)(/(a|b|c)){0,2}(/\\*)?",
        "[a-c.*]{1,3}(/[a-c.*]{0,2}){0,2}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn attenuation_never_widens(
        parent_rights in rights(),
        parent_resource in patterns(),
        parent_expiry in 1i128..1000,
        child_rights in proptest::option::of(rights()),
        child_resource in proptest::option::of(patterns()),
        child_expiry in proptest::option::of(0i128..2000),
        holder in proptest::option::of("[a-c]{1,3}"),
    ) {
        let auth = authority()?;
        let Ok(root) = auth.mint(
            "alice", &parent_resource, Rights::Set(parent_rights), parent_expiry,
        ) else {
            return Ok(());
        };
        let token = root.encode()?;
        let narrowing = Narrowing {
            rights: child_rights.map(Rights::Set),
            resource: child_resource,
            expiry: child_expiry,
        };
        let derived = match &holder {
            Some(h) => auth.transfer(&token, h, "alice", narrowing, 0),
            None => auth.attenuate(&token, narrowing, 0),
        };
        if let Ok(child) = derived {
            let (p, c) = (&child.chain[0], &child.chain[1]);
            prop_assert!(c.rights.is_subset(&p.rights));
            prop_assert!(narrower_or_equal(&c.resource, &p.resource));
            prop_assert!(c.expiry <= p.expiry);
            // Whatever the child covers, the parent covers.
            for r in ["docs", "docs/a", "docs/a/b", "a", "a/b", "b/c"] {
                prop_assert!(!covers(&c.resource, r) || covers(&p.resource, r));
            }
            let granted = auth.verify(&child.encode()?, 0)?;
            prop_assert_eq!(granted.holder, holder.unwrap_or_else(|| "alice".into()));
        }
    }

    #[test]
    fn any_changed_byte_is_refused(position in 0usize..400, replacement in 0u8..128) {
        let auth = authority()?;
        let root = auth.mint("alice", "docs/*", ["read", "write"].into(), 100)?;
        let child = auth.transfer(&root.encode()?, "bob", "alice", Narrowing {
            rights: Some(["read"].into()),
            ..Narrowing::default()
        }, 0)?;
        let token = child.encode()?;
        let mut bytes = token.clone().into_bytes();
        let at = position % bytes.len();
        prop_assume!(bytes[at] != replacement);
        bytes[at] = replacement;
        let tampered = String::from_utf8_lossy(&bytes).into_owned();
        prop_assert!(matches!(auth.verify(&tampered, 0), Err(CoreError::Capability(_))));
        prop_assert!(auth.verify(&token, 0).is_ok());
        let truncated = &token[..at];
        prop_assert!(auth.verify(truncated, 0).is_err());
    }
}

#[test]
fn another_key_does_not_verify() -> Result<(), CoreError> {
    let token = authority()?
        .mint("alice", "x", ["r"].into(), 10)?
        .encode()?;
    let other = CapabilityAuthority::new(Some(b"another-key-0123456789abcdef-0123".to_vec()))?;
    assert_eq!(
        other.verify(&token, 0),
        Err(CoreError::Capability(
            "capability token signature does not match: forged, tampered or another key".into()
        ))
    );
    assert!(format!("{other:?}").contains("<hidden>"));
    Ok(())
}
