//! The policy head: `principal`, `action` and `resource` scope items, with the
//! template slots `?principal` / `?resource` where they may stand.

use std::sync::Arc;

use super::{PResult, Parser, Tok, T};
use crate::policy::ast::{Scope, SlotOp, Span};
use crate::policy::value::Uid;

/// What a scope's right-hand side turned out to be.
enum Target {
    Uids(Vec<Arc<Uid>>),
    /// The scope's own slot.
    Slot,
    /// Refused (the error is recorded).
    Refused,
}

impl Parser<'_> {
    /// One scope item: (variable token, scope, operator token).
    pub(super) fn scope_item(&mut self) -> PResult<(Tok, Scope, Option<Tok>)> {
        let var = self.expect_word("an identifier")?;
        let many_ok = self.text(var) == "action";
        if self.is_p("==") {
            let op = self.bump();
            let scope = match self.scope_target(var, op, false)? {
                Target::Uids(mut uids) if uids.len() == 1 => Scope::Eq(uids.remove(0)),
                Target::Slot => Scope::Slot(SlotOp::Eq),
                _ => Scope::All,
            };
            return Ok((var, scope, Some(op)));
        }
        if self.is_kw("in") {
            let op = self.bump();
            let scope = match self.scope_target(var, op, many_ok)? {
                Target::Uids(uids) => Scope::In(uids),
                Target::Slot => Scope::Slot(SlotOp::In),
                Target::Refused => Scope::All,
            };
            return Ok((var, scope, Some(op)));
        }
        if self.is_kw("is") {
            let op = self.bump();
            let (ty, _) = self.name_parts(true)?;
            if self.is_kw("in") {
                let in_tok = self.bump();
                let scope = match self.scope_target(var, in_tok, false)? {
                    Target::Uids(mut uids) if uids.len() == 1 => {
                        Scope::IsIn(ty.into(), uids.remove(0))
                    }
                    Target::Slot => Scope::Slot(SlotOp::IsIn(ty.into())),
                    _ => Scope::All,
                };
                return Ok((var, scope, Some(op)));
            }
            return Ok((var, Scope::Is(ty.into()), Some(op)));
        }
        if self.is_p(",") || self.is_p(")") {
            return Ok((var, Scope::All, None));
        }
        Err(self.unexpected("one of `==`, `in`, `is`, `,` or `)`"))
    }

    /// A scope's right-hand side: uids, the scope's own slot, or refused.
    fn scope_target(&mut self, var: Tok, op: Tok, many_ok: bool) -> PResult<Target> {
        let t = self.tok();
        match t.t {
            T::Slot => {
                self.bump();
                let var_name = self.text(var);
                let slot = self.text(t);
                let wanted = match var_name {
                    "principal" => "?principal",
                    "resource" => "?resource",
                    _ => {
                        let msg = format!(
                            "the {var_name} scope takes an entity uid, not a template slot such as `{slot}`"
                        );
                        self.record(msg, t.span());
                        return Ok(Target::Refused);
                    }
                };
                if slot != wanted {
                    let msg = format!(
                        "expected an entity uid or the template slot `{wanted}`, found `{slot}`"
                    );
                    self.record(msg, t.span());
                    return Ok(Target::Refused);
                }
                Ok(Target::Slot)
            }
            T::P("[") => {
                self.bump();
                let mut uids = Vec::new();
                if !self.is_p("]") {
                    loop {
                        if self.tok().t != T::Word {
                            return Err(self.unexpected("one of `]`, an identifier"));
                        }
                        let (uid, _) = self.entity_ref()?;
                        uids.push(Arc::new(uid));
                        if self.is_p(",") {
                            self.bump();
                            if self.is_p("]") {
                                break;
                            }
                        } else if self.is_p("]") {
                            break;
                        } else {
                            return Err(self.unexpected("`,` or `]`"));
                        }
                    }
                }
                self.expect_p("]")?;
                if !many_ok {
                    let msg = format!("`{}` takes a single entity uid, not a list", self.text(op));
                    self.record(msg, op.span());
                    return Ok(Target::Refused);
                }
                Ok(Target::Uids(uids))
            }
            T::Word => {
                let (uid, _) = self.entity_ref()?;
                Ok(Target::Uids(vec![Arc::new(uid)]))
            }
            _ => Err(self.unexpected("an entity uid")),
        }
    }

    pub(super) fn check_scope(&mut self, items: Vec<(Tok, Scope, Option<Tok>)>) -> [Scope; 3] {
        let mut out = [Scope::All, Scope::All, Scope::All];
        for (i, ((var, scope, op), expected)) in items
            .into_iter()
            .zip(["principal", "action", "resource"])
            .enumerate()
        {
            let name = self.text(var);
            if name != expected {
                let msg = format!(
                    "expected the variable `{expected}` in the policy scope, found `{name}`"
                );
                self.record(msg, var.span());
            }
            if expected == "action" {
                let at = op.map_or(var.span(), |t| t.span());
                match &scope {
                    Scope::Is(_) | Scope::IsIn(..) => {
                        self.record("`is` cannot appear in the action scope".into(), at);
                    }
                    Scope::Eq(uid) => self.check_action_uid(uid, at),
                    Scope::In(uids) => {
                        for uid in uids {
                            self.check_action_uid(uid, at);
                        }
                    }
                    Scope::All | Scope::Slot(_) => {}
                }
            }
            if let Some(slot) = out.get_mut(i) {
                *slot = scope;
            }
        }
        out
    }

    fn check_action_uid(&mut self, uid: &Uid, at: Span) {
        if &*uid.ty != "Action" && !uid.ty.ends_with("::Action") {
            self.record(
                format!("the action scope takes uids of type `Action`, got `{uid}`"),
                at,
            );
        }
    }
}
