//! The typed policy AST, produced by `parser` and read by `eval`.

use std::fmt;
use std::sync::Arc;

use super::ext::ExtFn;
use super::value::{Uid, Value};

/// Where a node starts in the policy source (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    Principal,
    Action,
    Resource,
    Context,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    In,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Contains,
    ContainsAll,
    ContainsAny,
    IsEmpty,
    HasTag,
    GetTag,
}

/// A `like` pattern: literal chunks separated by `*` wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub chunks: Vec<String>,
}

impl Pattern {
    /// Whether `text` matches; linear scans only, never backtracking.
    pub fn matches(&self, text: &str) -> bool {
        let chunks = &self.chunks;
        let (Some(first), Some(last)) = (chunks.first(), chunks.last()) else {
            return false;
        };
        if chunks.len() == 1 {
            return text == first;
        }
        if text.len() < first.len() + last.len() {
            return false;
        }
        if !text.starts_with(first.as_str()) || !text.ends_with(last.as_str()) {
            return false;
        }
        let mut pos = first.len();
        let end = text.len() - last.len();
        for chunk in &chunks[1..chunks.len() - 1] {
            let Some(hay) = text.get(pos..end) else {
                return false;
            };
            match hay.find(chunk.as_str()) {
                Some(found) => pos += found + chunk.len(),
                None => return false,
            }
        }
        true
    }
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Lit(Value),
    Var(Var),
    Set(Vec<Expr>),
    Record(Vec<(Arc<str>, Expr)>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    If(Box<(Expr, Expr, Expr)>),
    GetAttr(Box<Expr>, Arc<str>),
    HasAttr(Box<Expr>, Arc<str>),
    Like(Box<Expr>, Pattern),
    Is(Box<Expr>, Arc<str>, Option<Box<Expr>>),
    Call(Method, Box<Expr>, Option<Box<Expr>>),
    /// An extension function or method; a method's receiver is the first argument.
    Ext(ExtFn, Vec<Expr>),
    /// Parse-time only: a template slot (always rejected).
    Slot(Arc<str>),
    /// Parse-time only: the literal 9223372036854775808, waiting for a `-`.
    BigLit(u32),
}

/// An expression node with its span (for messages) and nesting depth (a leaf is 1).
#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    pub depth: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Permit,
    Forbid,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Permit => "permit",
            Effect::Forbid => "forbid",
        }
    }
}

/// One scope constraint of a policy head.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    All,
    Eq(Arc<Uid>),
    /// `in` one uid, or (action scope only) any of a list.
    In(Vec<Arc<Uid>>),
    Is(Arc<str>),
    IsIn(Arc<str>, Arc<Uid>),
    /// In a template only: `== ?slot`, `in ?slot` or `is T in ?slot`, the slot
    /// being the scope's own (`?principal` or `?resource`).
    Slot(SlotOp),
}

/// The operator of a template slot's scope.
#[derive(Debug, Clone, PartialEq)]
pub enum SlotOp {
    Eq,
    In,
    IsIn(Arc<str>),
}

impl Scope {
    /// The scope with its slot (if any) filled by `uid`.
    pub fn filled(&self, uid: &Arc<Uid>) -> Scope {
        match self {
            Scope::Slot(SlotOp::Eq) => Scope::Eq(uid.clone()),
            Scope::Slot(SlotOp::In) => Scope::In(vec![uid.clone()]),
            Scope::Slot(SlotOp::IsIn(ty)) => Scope::IsIn(ty.clone(), uid.clone()),
            other => other.clone(),
        }
    }
}

/// A `when` (true) or `unless` (false) clause.
#[derive(Debug, Clone)]
pub struct Condition {
    pub is_when: bool,
    pub expr: Expr,
}

/// One parsed policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub id: String,
    pub effect: Effect,
    pub principal: Scope,
    pub action: Scope,
    pub resource: Scope,
    pub conditions: Vec<Condition>,
    pub annotations: Vec<(String, String)>,
    /// For a linked policy, the id of its template.
    pub template: Option<String>,
}

impl Policy {
    /// Whether the principal or resource scope has a slot (a template, never evaluated).
    pub fn is_template(&self) -> bool {
        matches!(self.principal, Scope::Slot(_)) || matches!(self.resource, Scope::Slot(_))
    }

    /// The slots the template declares, `?principal` first.
    pub fn slots(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if matches!(self.principal, Scope::Slot(_)) {
            out.push("?principal");
        }
        if matches!(self.resource, Scope::Slot(_)) {
            out.push("?resource");
        }
        out
    }
}
