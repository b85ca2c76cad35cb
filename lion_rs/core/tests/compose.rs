//! Category laws of morphism composition, and composition preserves security.

use std::collections::BTreeSet;

use lion_core::compose::{compose, identity, product, secure, Morphism, Obj};
use lion_core::CoreError;
use proptest::prelude::*;

fn names(pool: &'static [&'static str]) -> impl Strategy<Value = BTreeSet<String>> {
    proptest::sample::subsequence(pool.to_vec(), 0..=pool.len())
        .prop_map(|v| v.into_iter().map(String::from).collect())
}

fn obj() -> impl Strategy<Value = Obj> {
    names(&["A", "B", "C", "D"])
}

fn morphism_from(source: Obj) -> impl Strategy<Value = Morphism> {
    (
        obj(),
        names(&["r", "w", "n"]),
        names(&["p", "q", "s"]),
        names(&["p", "q", "s"]),
    )
        .prop_filter_map("valid", move |(target, req, pre, post)| {
            Morphism::new(source.clone(), target, req, pre, post, "").ok()
        })
}

fn chain3() -> impl Strategy<Value = (Morphism, Morphism, Morphism)> {
    obj()
        .prop_flat_map(morphism_from)
        .prop_flat_map(|f| {
            let t = f.target.clone();
            (Just(f), morphism_from(t))
        })
        .prop_flat_map(|(f, g)| {
            let t = g.target.clone();
            (Just(f), Just(g), morphism_from(t))
        })
}

fn fail(e: CoreError) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

proptest! {
    #[test]
    fn identity_and_associativity((f, g, h) in chain3()) {
        let left = identity(f.source.clone()).map_err(fail)?;
        let right = identity(f.target.clone()).map_err(fail)?;
        prop_assert_eq!(compose(&left, &f).map_err(fail)?, f.clone());
        prop_assert_eq!(compose(&f, &right).map_err(fail)?, f.clone());
        let fg_h = compose(&compose(&f, &g).map_err(fail)?, &h).map_err(fail)?;
        let f_gh = compose(&f, &compose(&g, &h).map_err(fail)?).map_err(fail)?;
        prop_assert_eq!(fg_h, f_gh);
    }

    #[test]
    fn product_commutes_and_is_associative_with_unit(
        f in obj().prop_flat_map(morphism_from),
        g in obj().prop_flat_map(morphism_from),
        h in obj().prop_flat_map(morphism_from),
        granted in names(&["r", "w", "n"]),
    ) {
        let unit = identity(Obj::new()).map_err(fail)?;
        prop_assert_eq!(product(&f, &unit).map_err(fail)?, f.clone());
        prop_assert_eq!(product(&unit, &f).map_err(fail)?, f.clone());
        // Defined exactly when no port is shared, and then the same either way round.
        let disjoint = f.source.is_disjoint(&g.source) && f.target.is_disjoint(&g.target);
        prop_assert_eq!(product(&f, &g).is_ok(), disjoint);
        prop_assert_eq!(product(&f, &g).ok(), product(&g, &f).ok());
        let left = product(&f, &g).and_then(|fg| product(&fg, &h));
        let right = product(&g, &h).and_then(|gh| product(&f, &gh));
        prop_assert_eq!(left.ok(), right.ok());
        if let Ok(fg) = product(&f, &g) {
            let both_secure = secure(&f, &granted) && secure(&g, &granted);
            prop_assert_eq!(secure(&fg, &granted), both_secure);
            let id = identity(fg.target.clone()).map_err(fail)?;
            prop_assert_eq!(compose(&fg, &id).map_err(fail)?, fg);
        }
    }

    #[test]
    fn composition_is_secure_exactly_when_both_parts_are(
        (f, g, _h) in chain3(),
        granted in names(&["r", "w", "n"]),
    ) {
        let both_secure = secure(&f, &granted) && secure(&g, &granted);
        prop_assert_eq!(secure(&compose(&f, &g).map_err(fail)?, &granted), both_secure);
    }
}
