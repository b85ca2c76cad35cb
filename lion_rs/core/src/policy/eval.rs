//! Three-valued evaluation of one policy, step for step as the Python
//! reference (`_evaluate.py`): same evaluation order, same short-circuits,
//! same step accounting and the same error messages.

use std::sync::Arc;

use super::ast::{BinOp, Expr, ExprKind, Method, Policy, Scope, Span, Var};
use super::entities::{Entities, Request};
use super::ext;
use super::value::{Record, Set, Uid, Value};
use super::Kleene;

/// Why a subexpression has no value.
#[derive(Debug)]
pub enum EvalErr {
    /// An evaluation error: the value is unknown (message with its location).
    Msg(String),
    /// The step budget ran out: the whole policy is unknown.
    Limit,
}

type R<T> = Result<T, EvalErr>;

fn err(message: String, span: Span) -> EvalErr {
    EvalErr::Msg(format!("{message} (at {span})"))
}

fn type_error(expected: &str, got: &Value, span: Span) -> EvalErr {
    err(
        format!("type error: expected {expected}, got {}", got.type_name()),
        span,
    )
}

/// The request, the entity store and the step counter of one evaluation.
pub struct Env<'a> {
    pub req: &'a Request,
    pub ents: &'a Entities,
    steps: usize,
    max_steps: usize,
}

impl<'a> Env<'a> {
    pub fn new(req: &'a Request, ents: &'a Entities, max_steps: usize) -> Self {
        Env {
            req,
            ents,
            steps: 0,
            max_steps,
        }
    }

    /// The steps spent on the last policy evaluated (its conditions only).
    pub fn steps(&self) -> usize {
        self.steps
    }

    #[inline]
    fn tick(&mut self, cost: usize) -> R<()> {
        self.steps += cost;
        if self.steps > self.max_steps {
            return Err(EvalErr::Limit);
        }
        Ok(())
    }

    fn as_bool(v: Value, span: Span) -> R<bool> {
        match v {
            Value::Bool(b) => Ok(b),
            other => Err(type_error("bool", &other, span)),
        }
    }

    fn as_long(v: Value, span: Span) -> R<i64> {
        match v {
            Value::Long(n) => Ok(n),
            other => Err(type_error("long", &other, span)),
        }
    }

    fn as_entity(v: Value, span: Span) -> R<Arc<Uid>> {
        match v {
            Value::Entity(u) => Ok(u),
            other => Err(type_error("entity", &other, span)),
        }
    }

    fn as_set(v: Value, span: Span) -> R<Arc<Set>> {
        match v {
            Value::Set(s) => Ok(s),
            other => Err(type_error("set", &other, span)),
        }
    }

    pub fn eval(&mut self, e: &Expr) -> R<Value> {
        let span = e.span;
        match &e.kind {
            ExprKind::Lit(v) => {
                self.tick(1)?;
                Ok(v.clone())
            }
            ExprKind::Var(var) => Ok(match var {
                Var::Principal => Value::Entity(self.req.principal.clone()),
                Var::Action => Value::Entity(self.req.action.clone()),
                Var::Resource => Value::Entity(self.req.resource.clone()),
                Var::Context => Value::Record(self.req.context.clone()),
            }),
            ExprKind::Set(elements) => {
                self.tick(1 + elements.len())?;
                let mut values = Vec::with_capacity(elements.len());
                for x in elements {
                    values.push(self.eval(x)?);
                }
                Ok(Value::Set(Arc::new(Set::new(values))))
            }
            ExprKind::Record(fields) => {
                self.tick(1 + fields.len())?;
                let mut values = Vec::with_capacity(fields.len());
                for (k, x) in fields {
                    values.push((k.clone(), self.eval(x)?));
                }
                Ok(Value::Record(Arc::new(Record::new(values))))
            }
            ExprKind::Not(arg) => {
                self.tick(1)?;
                let v = self.eval(arg)?;
                Ok(Value::Bool(!Self::as_bool(v, span)?))
            }
            ExprKind::Neg(arg) => {
                self.tick(1)?;
                let v = Self::as_long(self.eval(arg)?, span)?;
                match v.checked_neg() {
                    Some(n) => Ok(Value::Long(n)),
                    None => Err(err(format!("integer overflow while negating `{v}`"), span)),
                }
            }
            ExprKind::Binary(op, left, right) => self.binary(*op, left, right, span),
            ExprKind::And(args) => self.junction(args, false, span),
            ExprKind::Or(args) => self.junction(args, true, span),
            ExprKind::If(parts) => self.if_then_else(&parts.0, &parts.1, &parts.2, span),
            ExprKind::GetAttr(obj, attr) => {
                self.tick(1)?;
                match self.eval(obj)? {
                    Value::Record(r) => match r.get(attr) {
                        Some(v) => Ok(v.clone()),
                        None => Err(err(
                            format!("record does not have the attribute `{attr}`"),
                            span,
                        )),
                    },
                    Value::Entity(uid) => {
                        let Some(entity) = self.ents.get(&uid) else {
                            return Err(err(format!("entity `{uid}` does not exist"), span));
                        };
                        match entity.attrs.get(attr) {
                            Some(v) => Ok(v.clone()),
                            None => Err(err(
                                format!("entity `{uid}` does not have the attribute `{attr}`"),
                                span,
                            )),
                        }
                    }
                    other => Err(type_error("record or entity", &other, span)),
                }
            }
            ExprKind::HasAttr(obj, attr) => {
                self.tick(1)?;
                match self.eval(obj)? {
                    Value::Record(r) => Ok(Value::Bool(r.contains_key(attr))),
                    Value::Entity(uid) => Ok(Value::Bool(
                        self.ents
                            .get(&uid)
                            .is_some_and(|entity| entity.attrs.contains_key(attr)),
                    )),
                    other => Err(type_error("record or entity", &other, span)),
                }
            }
            ExprKind::Like(arg, pattern) => {
                self.tick(1)?;
                match self.eval(arg)? {
                    Value::Str(s) => {
                        if s.len() >= 64 {
                            // Matching is linear in the text: charge for it.
                            self.tick(s.chars().count() / 64)?;
                        }
                        Ok(Value::Bool(pattern.matches(&s)))
                    }
                    other => Err(type_error("string", &other, span)),
                }
            }
            ExprKind::Is(arg, ty, in_) => {
                self.tick(1)?;
                let uid = Self::as_entity(self.eval(arg)?, span)?;
                if *uid.ty != **ty {
                    return Ok(Value::Bool(false));
                }
                match in_ {
                    None => Ok(Value::Bool(true)),
                    Some(target) => Ok(Value::Bool(self.is_in(&uid, target, span)?)),
                }
            }
            ExprKind::Call(method, obj, arg) => self.call(*method, obj, arg.as_deref(), span),
            ExprKind::Ext(f, args) => {
                self.tick(1)?;
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(self.eval(a)?);
                }
                ext::call(*f, &values).map_err(|m| err(m, span))
            }
            // Never built into a policy: the parser refuses both.
            ExprKind::Slot(_) | ExprKind::BigLit(_) => {
                Err(err("internal error: unparsed node".into(), span))
            }
        }
    }

    /// `uid in rhs`, where rhs is an entity or a set of entities.
    fn is_in(&mut self, uid: &Uid, rhs: &Expr, span: Span) -> R<bool> {
        match self.eval(rhs)? {
            Value::Entity(target) => Ok(self.ents.is_in(uid, &target)),
            Value::Set(set) => {
                self.tick(set.len())?;
                // Every element must be an entity, as in Cedar.
                for m in set.iter() {
                    if !matches!(m, Value::Entity(_)) {
                        return Err(type_error("entity", m, span));
                    }
                }
                let ancestors = self.ents.ancestors_of(uid);
                Ok(set.iter().any(|m| match m {
                    Value::Entity(m) => {
                        **m == *uid
                            || (!ancestors.is_empty()
                                && self
                                    .ents
                                    .number(m)
                                    .is_some_and(|n| ancestors.binary_search(&n).is_ok()))
                    }
                    _ => false,
                }))
            }
            other => Err(type_error("entity or set of entities", &other, span)),
        }
    }

    fn binary(&mut self, op: BinOp, left: &Expr, right: &Expr, span: Span) -> R<Value> {
        self.tick(1)?;
        match op {
            BinOp::In => {
                let uid = Self::as_entity(self.eval(left)?, span)?;
                Ok(Value::Bool(self.is_in(&uid, right, span)?))
            }
            BinOp::Eq | BinOp::Ne => {
                let a = self.eval(left)?;
                let b = self.eval(right)?;
                Ok(Value::Bool((a == b) == (op == BinOp::Eq)))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                // Both sides first, then the types: longs, datetimes or durations.
                let a = self.eval(left)?;
                let b = self.eval(right)?;
                let (x, y) = match (&a, &b) {
                    (Value::Long(x), Value::Long(y)) => (*x, *y),
                    _ => ext::compare(&a, &b).map_err(|m| err(m, span))?,
                };
                Ok(Value::Bool(match op {
                    BinOp::Lt => x < y,
                    BinOp::Le => x <= y,
                    BinOp::Gt => x > y,
                    _ => x >= y,
                }))
            }
            _ => {
                let a = Self::as_long(self.eval(left)?, span)?;
                let b = Self::as_long(self.eval(right)?, span)?;
                let (result, verb) = match op {
                    BinOp::Add => (a.checked_add(b), "adding"),
                    BinOp::Sub => (a.checked_sub(b), "subtracting"),
                    _ => (a.checked_mul(b), "multiplying"),
                };
                match result {
                    Some(n) => Ok(Value::Long(n)),
                    None => Err(err(
                        format!("integer overflow while {verb} `{a}` and `{b}`"),
                        span,
                    )),
                }
            }
        }
    }

    /// `&&` (decisive FALSE) and `||` (decisive TRUE) over any number of operands.
    fn junction(&mut self, args: &[Expr], decisive: bool, span: Span) -> R<Value> {
        self.tick(1)?;
        let mut error: Option<EvalErr> = None;
        for arg in args {
            let v = match self.eval(arg) {
                Ok(Value::Bool(b)) => b,
                Ok(other) => {
                    if error.is_none() {
                        error = Some(type_error("bool", &other, span));
                    }
                    continue;
                }
                Err(EvalErr::Limit) => return Err(EvalErr::Limit),
                Err(e) => {
                    if error.is_none() {
                        error = Some(e);
                    }
                    continue;
                }
            };
            if v == decisive {
                return Ok(Value::Bool(decisive));
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(Value::Bool(!decisive)),
        }
    }

    fn if_then_else(&mut self, cond: &Expr, then: &Expr, else_: &Expr, span: Span) -> R<Value> {
        self.tick(1)?;
        let c = match self.eval(cond) {
            Ok(v) => Self::as_bool(v, span),
            Err(e) => Err(e),
        };
        match c {
            Ok(true) => self.eval(then),
            Ok(false) => self.eval(else_),
            Err(EvalErr::Limit) => Err(EvalErr::Limit),
            Err(cond_error) => {
                // Unknown condition: the result is known only if both branches agree.
                let a = match self.eval(then) {
                    Ok(a) => a,
                    Err(EvalErr::Limit) => return Err(EvalErr::Limit),
                    Err(_) => return Err(cond_error),
                };
                let b = match self.eval(else_) {
                    Ok(b) => b,
                    Err(EvalErr::Limit) => return Err(EvalErr::Limit),
                    Err(_) => return Err(cond_error),
                };
                if a == b {
                    Ok(a)
                } else {
                    Err(cond_error)
                }
            }
        }
    }

    fn call(&mut self, method: Method, obj: &Expr, arg: Option<&Expr>, span: Span) -> R<Value> {
        self.tick(1)?;
        let receiver = self.eval(obj)?;
        let Some(arg) = arg else {
            // isEmpty, the only method without an argument
            return Ok(Value::Bool(Self::as_set(receiver, span)?.is_empty()));
        };
        match method {
            Method::HasTag | Method::GetTag => {
                let uid = Self::as_entity(receiver, span)?;
                let key = match self.eval(arg)? {
                    Value::Str(k) => k,
                    other => return Err(type_error("string", &other, span)),
                };
                let entity = self.ents.get(&uid);
                if method == Method::HasTag {
                    return Ok(Value::Bool(
                        entity.is_some_and(|e| e.tags.contains_key(&key)),
                    ));
                }
                let Some(entity) = entity else {
                    return Err(err(format!("entity `{uid}` does not exist"), span));
                };
                match entity.tags.get(&key) {
                    Some(v) => Ok(v.clone()),
                    None => Err(err(
                        format!("entity `{uid}` does not have the tag `{key}`"),
                        span,
                    )),
                }
            }
            Method::IsEmpty => Ok(Value::Bool(Self::as_set(receiver, span)?.is_empty())),
            Method::Contains => {
                let s = Self::as_set(receiver, span)?;
                let other = self.eval(arg)?;
                self.tick(1)?;
                Ok(Value::Bool(s.contains(&other)))
            }
            Method::ContainsAll | Method::ContainsAny => {
                let s = Self::as_set(receiver, span)?;
                let o = Self::as_set(self.eval(arg)?, span)?;
                self.tick(o.len())?;
                Ok(Value::Bool(if method == Method::ContainsAll {
                    o.iter().all(|v| s.contains(v))
                } else {
                    o.iter().any(|v| s.contains(v))
                }))
            }
        }
    }

    fn scope_holds(&self, scope: &Scope, uid: &Uid) -> bool {
        match scope {
            Scope::All => true,
            Scope::Eq(target) => **target == *uid,
            Scope::In(targets) => {
                if targets.iter().any(|t| **t == *uid) {
                    return true;
                }
                let ancestors = self.ents.ancestors_of(uid);
                !ancestors.is_empty()
                    && targets.iter().any(|t| {
                        self.ents
                            .number(t)
                            .is_some_and(|n| ancestors.binary_search(&n).is_ok())
                    })
            }
            Scope::Is(ty) => *uid.ty == **ty,
            Scope::IsIn(ty, target) => *uid.ty == **ty && self.ents.is_in(uid, target),
            // Templates are never evaluated; an unfilled slot matches nothing.
            Scope::Slot(_) => false,
        }
    }

    /// The policy's Kleene value for the request, and its first error if UNKNOWN:
    /// scope AND every `when` AND NOT every `unless`.
    pub fn evaluate_policy(&mut self, policy: &Policy) -> (Kleene, Option<String>) {
        let req = self.req;
        if !self.scope_holds(&policy.principal, &req.principal)
            || !self.scope_holds(&policy.action, &req.action)
            || !self.scope_holds(&policy.resource, &req.resource)
        {
            return (Kleene::False, None);
        }
        self.steps = 0;
        let mut error: Option<String> = None;
        for cond in &policy.conditions {
            let v = match self.eval(&cond.expr) {
                Ok(Value::Bool(b)) => b,
                Ok(other) => {
                    if error.is_none() {
                        if let EvalErr::Msg(m) = type_error("bool", &other, cond.expr.span) {
                            error = Some(m);
                        }
                    }
                    continue;
                }
                Err(EvalErr::Limit) => {
                    return (
                        Kleene::Unknown,
                        Some(format!(
                            "evaluation took more than {} steps",
                            self.max_steps
                        )),
                    )
                }
                Err(EvalErr::Msg(m)) => {
                    if error.is_none() {
                        error = Some(m);
                    }
                    continue;
                }
            };
            if v != cond.is_when {
                return (Kleene::False, None);
            }
        }
        match error {
            Some(m) => (Kleene::Unknown, Some(m)),
            None => (Kleene::True, None),
        }
    }
}
