//! LION's policy engine: a Cedar-syntax subset evaluated in strong Kleene
//! logic, ported from the Python reference (`lion/kernel/policy/`) with the
//! same language, decisions, determining ids and error messages.
//!
//! ```
//! use lion_core::policy::{Decision, Entities, Limits, PolicySet, Request};
//! use lion_core::policy::json::parse_json;
//! let set = PolicySet::parse("permit(principal, action, resource) when { context.ok };",
//!                            "<policies>", Limits::default()).unwrap();
//! let req = Request::from_json(&parse_json(r#"{"principal": "User::\"a\"",
//!     "action": "Action::\"r\"", "resource": "Doc::\"d\"", "context": {"ok": true}}"#).unwrap(),
//!     &Limits::default()).unwrap();
//! assert_eq!(set.evaluate(&req, &Entities::empty()).decision, Decision::Permit);
//! ```

pub mod ast;
pub mod entities;
pub mod eval;
pub mod ext;
pub mod ext_json;
pub mod json;
pub mod parser;
pub mod templates;
pub mod value;

use std::sync::Arc;

pub use ast::{Effect, Policy, Scope};
pub use entities::{Entities, Request};
pub use value::{Uid, Value};

use crate::{CoreError, Result};
use value::KeyedMap;

/// Size and effort bounds, as the Python reference's `Limits` (same defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_source_length: usize,
    pub max_policies: usize,
    pub max_depth: usize,
    pub max_string_length: usize,
    pub max_set_size: usize,
    pub max_record_size: usize,
    pub max_entities: usize,
    pub max_steps: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_source_length: 10_000_000,
            max_policies: 10_000,
            max_depth: 200,
            max_string_length: 100_000,
            max_set_size: 10_000,
            max_record_size: 10_000,
            max_entities: 1_000_000,
            max_steps: 100_000,
        }
    }
}

impl Limits {
    /// Check the limits as the reference does: all positive, depth at most 400.
    pub fn validate(&self) -> Result<()> {
        let fields = [
            ("max_source_length", self.max_source_length),
            ("max_policies", self.max_policies),
            ("max_depth", self.max_depth),
            ("max_string_length", self.max_string_length),
            ("max_set_size", self.max_set_size),
            ("max_record_size", self.max_record_size),
            ("max_entities", self.max_entities),
            ("max_steps", self.max_steps),
        ];
        for (name, value) in fields {
            if value < 1 {
                return Err(CoreError::Policy(format!(
                    "limit `{name}` must be a positive integer, got `{value}`"
                )));
            }
        }
        if self.max_depth > 400 {
            return Err(CoreError::Policy(format!(
                "limit `max_depth` must be at most 400, got `{}`",
                self.max_depth
            )));
        }
        Ok(())
    }
}

/// A strong Kleene truth value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kleene {
    True,
    False,
    Unknown,
}

impl Kleene {
    pub fn and(self, other: Kleene) -> Kleene {
        match (self, other) {
            (Kleene::False, _) | (_, Kleene::False) => Kleene::False,
            (Kleene::Unknown, _) | (_, Kleene::Unknown) => Kleene::Unknown,
            _ => Kleene::True,
        }
    }

    pub fn or(self, other: Kleene) -> Kleene {
        match (self, other) {
            (Kleene::True, _) | (_, Kleene::True) => Kleene::True,
            (Kleene::Unknown, _) | (_, Kleene::Unknown) => Kleene::Unknown,
            _ => Kleene::False,
        }
    }

    pub fn negate(self) -> Kleene {
        match self {
            Kleene::True => Kleene::False,
            Kleene::False => Kleene::True,
            Kleene::Unknown => Kleene::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kleene::True => "TRUE",
            Kleene::False => "FALSE",
            Kleene::Unknown => "UNKNOWN",
        }
    }
}

/// The outcome of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Permit,
    Deny,
    Indeterminate,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Permit => "PERMIT",
            Decision::Deny => "DENY",
            Decision::Indeterminate => "INDETERMINATE",
        }
    }
}

/// The decision rule over (effect, id, value) triples; ids come back sorted
/// and without duplicates:
/// - DENY when some forbid is TRUE (determining: the TRUE forbids), or when
///   no permit is TRUE or UNKNOWN (default deny, determining: none);
/// - PERMIT when some permit is TRUE and no forbid is TRUE or UNKNOWN;
/// - INDETERMINATE otherwise (determining: the TRUE permits).
pub fn combine<'a, I>(triples: I) -> (Decision, Vec<String>)
where
    I: IntoIterator<Item = (Effect, &'a str, Kleene)>,
{
    let mut true_forbids: Vec<&str> = Vec::new();
    let mut true_permits: Vec<&str> = Vec::new();
    let (mut unknown_forbid, mut unknown_permit) = (false, false);
    for (effect, id, value) in triples {
        match (value, effect) {
            (Kleene::True, Effect::Forbid) => true_forbids.push(id),
            (Kleene::True, Effect::Permit) => true_permits.push(id),
            (Kleene::Unknown, Effect::Forbid) => unknown_forbid = true,
            (Kleene::Unknown, Effect::Permit) => unknown_permit = true,
            (Kleene::False, _) => {}
        }
    }
    let sorted = |mut ids: Vec<&str>| -> Vec<String> {
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter().map(str::to_string).collect()
    };
    if !true_forbids.is_empty() {
        return (Decision::Deny, sorted(true_forbids));
    }
    if !true_permits.is_empty() && !unknown_forbid {
        return (Decision::Permit, sorted(true_permits));
    }
    if true_permits.is_empty() && !unknown_permit {
        return (Decision::Deny, Vec::new());
    }
    (Decision::Indeterminate, sorted(true_permits))
}

/// One policy whose value for a request is not FALSE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The policy's number in the set (`PolicySet::policies` order).
    pub index: u32,
    /// TRUE or UNKNOWN.
    pub value: Kleene,
    /// The first error, when the value is UNKNOWN.
    pub error: Option<String>,
}

/// One policy's value for a request, as the reference's `PolicyResult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyResult<'a> {
    pub policy_id: &'a str,
    pub effect: Effect,
    pub value: Kleene,
    pub error: Option<&'a str>,
}

/// The decision for one request, with the reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub decision: Decision,
    /// Sorted ids of the policies that decided it.
    pub determining: Vec<String>,
    /// Every policy that evaluated to UNKNOWN, with its first error, sorted.
    pub errors: Vec<(String, String)>,
    /// Every policy that is not FALSE, in policy-set order; every other
    /// policy is FALSE. Decision, determining and errors are functions of it.
    pub hits: Vec<Hit>,
}

/// Buckets of policy numbers by the uid or type their scope needs.
#[derive(Debug, Default)]
struct Index {
    by_eq: [KeyedMap<Arc<Uid>, Vec<u32>>; 3],
    by_in: [KeyedMap<Arc<Uid>, Vec<u32>>; 3],
    by_is: [KeyedMap<Arc<str>, Vec<u32>>; 3],
    general: Vec<u32>,
}

/// Policies parsed once, evaluated many times.
///
/// Each policy is filed under one scope constraint a request must meet for
/// it to apply (`==` a uid, `in` a uid, `is` a type); a request evaluates only
/// the policies filed under its own uids, their ancestors and types. Skipped
/// policies are FALSE by their scope anyway, so results do not change.
///
/// Templates (policies with a `?principal` or `?resource` slot) are kept
/// apart and never evaluated; `link` makes a new set with a linked policy.
#[derive(Debug)]
pub struct PolicySet {
    /// Static policies in file order, then linked ones in link order.
    policies: Vec<Arc<Policy>>,
    templates: Arc<Vec<Policy>>,
    limits: Limits,
    index: Index,
}

fn scope_rank(scope: &Scope) -> u8 {
    match scope {
        Scope::Eq(_) => 4,
        Scope::IsIn(..) => 3,
        Scope::In(_) => 2,
        Scope::Is(_) => 1,
        Scope::All | Scope::Slot(_) => 0,
    }
}

impl PolicySet {
    /// Parse Cedar-syntax policy text; `path` names it in error messages.
    pub fn parse(text: &str, path: &str, limits: Limits) -> Result<PolicySet> {
        limits.validate()?;
        let parsed = parser::parse_policies(text, path, &limits)?;
        let (templates, policies): (Vec<Policy>, Vec<Policy>) =
            parsed.into_iter().partition(Policy::is_template);
        let policies = policies.into_iter().map(Arc::new).collect();
        Ok(PolicySet::new(policies, Arc::new(templates), limits))
    }

    fn new(policies: Vec<Arc<Policy>>, templates: Arc<Vec<Policy>>, limits: Limits) -> PolicySet {
        let mut index = Index::default();
        for (n, p) in policies.iter().enumerate() {
            let n = n as u32;
            let scopes = [&p.principal, &p.action, &p.resource];
            // File under the most selective constraint (ties: principal first).
            let mut best = 0usize;
            for (i, s) in scopes.iter().enumerate() {
                if scope_rank(s) > scope_rank(scopes[best]) {
                    best = i;
                }
            }
            match scopes[best] {
                Scope::Eq(uid) => index.by_eq[best].entry(uid.clone()).or_default().push(n),
                Scope::IsIn(_, uid) => index.by_in[best].entry(uid.clone()).or_default().push(n),
                Scope::In(uids) => {
                    for uid in uids {
                        let bucket = index.by_in[best].entry(uid.clone()).or_default();
                        if bucket.last() != Some(&n) {
                            bucket.push(n);
                        }
                    }
                }
                Scope::Is(ty) => index.by_is[best].entry(ty.clone()).or_default().push(n),
                Scope::All | Scope::Slot(_) => index.general.push(n),
            }
        }
        PolicySet {
            policies,
            templates,
            limits,
            index,
        }
    }

    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The static policies in file order, then the linked ones in link order.
    pub fn policies(&self) -> &[Arc<Policy>] {
        &self.policies
    }

    /// The templates, in file order.
    pub fn templates(&self) -> &[Policy] {
        &self.templates
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The numbers of the policies whose scope may hold for the request, sorted.
    fn candidates(&self, req: &Request, ents: &Entities) -> Vec<u32> {
        let mut out: Vec<u32> = self.index.general.clone();
        let uids = [&req.principal, &req.action, &req.resource];
        for (i, uid) in uids.iter().enumerate() {
            if let Some(b) = self.index.by_eq[i].get(*uid) {
                out.extend_from_slice(b);
            }
            if let Some(b) = self.index.by_is[i].get(&*uid.ty) {
                out.extend_from_slice(b);
            }
            let by_in = &self.index.by_in[i];
            if !by_in.is_empty() {
                if let Some(b) = by_in.get(*uid) {
                    out.extend_from_slice(b);
                }
                let ancestors = ents.ancestors_of(uid);
                if !ancestors.is_empty() {
                    if ancestors.len() < by_in.len() {
                        for &a in ancestors.iter() {
                            if let Some(b) = ents.uid_of_fast(a).and_then(|u| by_in.get(u)) {
                                out.extend_from_slice(b);
                            }
                        }
                    } else {
                        for (target, b) in by_in {
                            if ents
                                .number(target)
                                .is_some_and(|n| ancestors.binary_search(&n).is_ok())
                            {
                                out.extend_from_slice(b);
                            }
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Every non-FALSE policy's value for the request, in policy-set order.
    pub fn evaluate_policies(&self, req: &Request, ents: &Entities) -> Vec<Hit> {
        let mut env = eval::Env::new(req, ents, self.limits.max_steps);
        let mut out = Vec::new();
        for n in self.candidates(req, ents) {
            if let Some(policy) = self.policies.get(n as usize) {
                let (value, error) = env.evaluate_policy(policy);
                if value != Kleene::False {
                    out.push(Hit {
                        index: n,
                        value,
                        error,
                    });
                }
            }
        }
        out
    }

    /// Decide the request: PERMIT, DENY or INDETERMINATE, with the reasons.
    pub fn evaluate(&self, req: &Request, ents: &Entities) -> Response {
        let hits = self.evaluate_policies(req, ents);
        let triples = hits.iter().filter_map(|h| {
            self.policies
                .get(h.index as usize)
                .map(|p| (p.effect, p.id.as_str(), h.value))
        });
        let (decision, determining) = combine(triples);
        let mut errors: Vec<(String, String)> = hits
            .iter()
            .filter(|h| h.value == Kleene::Unknown)
            .filter_map(|h| {
                self.policies.get(h.index as usize).map(|p| {
                    let message = h.error.clone().unwrap_or_else(|| "unknown".to_string());
                    (p.id.clone(), message)
                })
            })
            .collect();
        errors.sort();
        Response {
            decision,
            determining,
            errors,
            hits,
        }
    }

    /// Every policy's value in `response` (which this set decided), in policy-set order.
    pub fn results<'a>(&'a self, response: &'a Response) -> Vec<PolicyResult<'a>> {
        let mut out: Vec<PolicyResult<'a>> = self
            .policies
            .iter()
            .map(|p| PolicyResult {
                policy_id: &p.id,
                effect: p.effect,
                value: Kleene::False,
                error: None,
            })
            .collect();
        for hit in &response.hits {
            if let Some(slot) = out.get_mut(hit.index as usize) {
                slot.value = hit.value;
                slot.error = hit.error.as_deref();
            }
        }
        out
    }
}
