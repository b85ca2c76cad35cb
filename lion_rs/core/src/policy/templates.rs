//! Linking templates: a template's `?principal` / `?resource` slots filled with
//! entity uids make a new, ordinary policy (its `template` names the
//! template). Both the API form (`link`) and Cedar's JSON template-links form
//! (`parse_links`) come here, with the Python reference's messages.

use std::sync::Arc;

use super::ast::Policy;
use super::entities::{uid_from_json, Path};
use super::json::Json;
use super::PolicySet;
use crate::{CoreError, Result};

/// One link to make: template, new id, slot values (a JSON object), and where
/// the values came from (for messages).
#[derive(Debug, Clone)]
pub struct Link {
    pub template_id: String,
    pub new_id: String,
    pub values: Json,
    pub at: String,
}

fn fail(message: String) -> CoreError {
    CoreError::Policy(message)
}

/// Python's `type(x).__name__` of the decoded JSON value.
pub fn py_type_name(data: &Json) -> String {
    match data {
        Json::Null => "NoneType".into(),
        Json::Bool(_) => "bool".into(),
        Json::Int(_) | Json::BigInt(_) => "int".into(),
        Json::Float(_) => "float".into(),
        Json::Str(_) => "str".into(),
        Json::Array(_) => "list".into(),
        Json::Object(_) => "dict".into(),
        Json::Other(name) => name.clone(),
    }
}

fn non_empty_string(entry: &Json, key: &str, at: &str) -> Result<String> {
    match entry.get(key) {
        None => Err(fail(format!("{at}: missing `{key}`"))),
        Some(Json::Str(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(fail(format!("{at}.{key}: expected a non-empty string"))),
    }
}

/// Cedar's JSON template-links form (decoded): a list of
/// `{"templateId": ..., "newId": ..., "values": {"?principal": uid, ...}}`.
pub fn parse_links(data: &Json) -> Result<Vec<Link>> {
    let Json::Array(entries) = data else {
        return Err(fail(format!(
            "template links: expected an array, got `{}`",
            py_type_name(data)
        )));
    };
    let mut out = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let at = format!("links[{index}]");
        let Json::Object(fields) = entry else {
            return Err(fail(format!(
                "{at}: expected an object, got `{}`",
                py_type_name(entry)
            )));
        };
        let mut extra: Vec<&str> = fields
            .iter()
            .map(|(k, _)| k.text.as_str())
            .filter(|k| !matches!(*k, "templateId" | "newId" | "values"))
            .collect();
        extra.sort_unstable();
        if let Some(first) = extra.first() {
            return Err(fail(format!("{at}: unexpected key `{first}`")));
        }
        let Some(values) = entry.get("values") else {
            return Err(fail(format!("{at}: missing `values`")));
        };
        out.push(Link {
            template_id: non_empty_string(entry, "templateId", &at)?,
            new_id: non_empty_string(entry, "newId", &at)?,
            values: values.clone(),
            at: format!("{at}.values"),
        });
    }
    Ok(out)
}

/// The policy `new_id` made from `template` with its slots filled.
fn link_policy(template: &Policy, new_id: &str, values: &Json, at: &str) -> Result<Policy> {
    let Json::Object(fields) = values else {
        return Err(fail(format!(
            "{at}: expected a mapping from slots such as `?principal` to entity uids, got `{}`",
            py_type_name(values)
        )));
    };
    let wanted = template.slots();
    let tid = &template.id;
    for (key, _) in fields {
        let key = key.text.as_str();
        if !wanted.contains(&key) {
            let hint = if matches!(key, "?principal" | "?resource") {
                ""
            } else {
                " (slots are `?principal` and `?resource`)"
            };
            return Err(fail(format!(
                "{at}: template `{tid}` has no slot `{key}`{hint}"
            )));
        }
    }
    let mut policy = template.clone();
    for key in &wanted {
        if !fields.iter().any(|(k, _)| k.text == *key) {
            return Err(fail(format!(
                "{at}: template `{tid}` needs a value for `{key}`"
            )));
        }
    }
    for key in wanted {
        let value = values.get(key).unwrap_or(&Json::Null);
        let root = Path::Root(at);
        let uid = Arc::new(uid_from_json(value, &Path::Field(&root, key), true)?);
        if key == "?principal" {
            policy.principal = policy.principal.filled(&uid);
        } else {
            policy.resource = policy.resource.filled(&uid);
        }
    }
    policy.id = new_id.to_string();
    // A policy's id is its `@id`: the link's `@id` names the link, not the template.
    policy.annotations = std::iter::once(("id".to_string(), new_id.to_string()))
        .chain(
            template
                .annotations
                .iter()
                .filter(|(k, _)| k != "id")
                .cloned(),
        )
        .collect();
    policy.template = Some(template.id.clone());
    Ok(policy)
}

impl PolicySet {
    /// A new set with each link made, in order; all or nothing.
    pub fn link_all(&self, links: &[Link]) -> Result<PolicySet> {
        let mut used: std::collections::HashSet<&str> = self
            .policies
            .iter()
            .map(|p| p.id.as_str())
            .chain(self.templates.iter().map(|t| t.id.as_str()))
            .collect();
        let mut policies = self.policies.clone();
        for link in links {
            let new_id = link.new_id.as_str();
            if new_id.is_empty() {
                return Err(fail(
                    "a linked policy needs a non-empty string id, got ''".into(),
                ));
            }
            let Some(template) = self.templates.iter().find(|t| t.id == link.template_id) else {
                let what = if used.contains(link.template_id.as_str()) {
                    "a static policy, not a template"
                } else {
                    "not a template"
                };
                return Err(fail(format!(
                    "cannot link `{new_id}`: `{}` is {what}",
                    link.template_id
                )));
            };
            if used.contains(new_id) {
                let kind = if self.templates.iter().any(|t| t.id == new_id) {
                    "template"
                } else {
                    "policy"
                };
                return Err(fail(format!(
                    "cannot link `{new_id}`: a {kind} already has that id"
                )));
            }
            policies.push(Arc::new(link_policy(
                template,
                new_id,
                &link.values,
                &link.at,
            )?));
            used.insert(new_id);
        }
        if policies.len() > self.limits.max_policies {
            return Err(fail(format!(
                "policy set has more than {} policies",
                self.limits.max_policies
            )));
        }
        Ok(PolicySet::new(
            policies,
            self.templates.clone(),
            self.limits.clone(),
        ))
    }

    /// A new set with one more policy: template `template_id` with its slots filled
    /// from `values` (a JSON object mapping `?principal` / `?resource` to uids).
    pub fn link(&self, template_id: &str, new_id: &str, values: Json) -> Result<PolicySet> {
        self.link_all(&[Link {
            template_id: template_id.to_string(),
            new_id: new_id.to_string(),
            values,
            at: "slots".into(),
        }])
    }
}
