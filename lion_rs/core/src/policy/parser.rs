//! Policy text -> AST, by recursive descent over a token list.
//!
//! It accepts exactly the Python reference's grammar (an LALR grammar with a
//! contextual lexer: a keyword where only an identifier fits is an
//! identifier) and reports the same location for every error. Like the
//! reference, the whole file is checked for syntax first; the other checks
//! (reserved names, limits, slots, ...) then report the first failure in the
//! order the reference finds them: each node's checks after its children's.

use std::sync::Arc;

use super::ast::{BinOp, Condition, Effect, Expr, ExprKind, Pattern, Policy, Scope, Span, Var};
use super::entities::{clip, unescape};
use super::value::{Uid, Value};
use super::Limits;
use crate::{CoreError, Result};

mod calls;
mod scope;

const RESERVED: [&str; 9] = [
    "true", "false", "if", "then", "else", "in", "is", "like", "has",
];
const MAX_UNARY_REPEAT: usize = 4;
const INT_MAX_PLUS_ONE: &str = "9223372036854775808";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum T {
    Word,
    Int,
    Str,
    Slot,
    P(&'static str),
    Eof,
    BadChar,
    Unterminated,
}

#[derive(Debug, Clone, Copy)]
struct Tok {
    t: T,
    start: usize,
    end: usize,
    line: u32,
    col: u32,
    /// For a word: a keyword may end here (Python's `\b` holds after it).
    kw_ok: bool,
}

impl Tok {
    fn span(&self) -> Span {
        Span {
            line: self.line,
            col: self.col,
        }
    }
}

const PUNCTS: [&str; 24] = [
    "::", "==", "!=", "<=", ">=", "&&", "||", "@", "(", ")", "[", "]", "{", "}", ",", ";", ":",
    ".", "<", ">", "+", "-", "*", "!",
];

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

/// Tokenize up to the first character no token can start with.
fn lex(src: &str) -> Vec<Tok> {
    let bytes = src.as_bytes();
    let mut toks = Vec::with_capacity(src.len() / 3 + 1);
    let (mut i, mut line, mut col) = (0usize, 1u32, 1u32);
    // Advance over bytes[i..j] (ASCII or not) updating line and column.
    fn advance(src: &str, i: usize, j: usize, line: &mut u32, col: &mut u32) {
        for ch in src[i..j].chars() {
            if ch == '\n' {
                *line += 1;
                *col = 1;
            } else {
                *col += 1;
            }
        }
    }
    while i < bytes.len() {
        let c = bytes[i];
        if matches!(c, b' ' | b'\t' | b'\x0c' | b'\r' | b'\n') {
            advance(src, i, i + 1, &mut line, &mut col);
            i += 1;
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            let mut j = i;
            while j < bytes.len() && bytes[j] != b'\n' {
                j += 1;
            }
            advance(src, i, j, &mut line, &mut col);
            i = j;
            continue;
        }
        let start = i;
        let (t, end) = if is_ident_start(c as char) {
            let mut j = i + 1;
            while j < bytes.len() && is_ident_char(bytes[j] as char) {
                j += 1;
            }
            (T::Word, j)
        } else if c.is_ascii_digit() {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            (T::Int, j)
        } else if c == b'"' {
            let mut j = i + 1;
            let mut closed = false;
            while j < bytes.len() {
                match bytes[j] {
                    b'"' => {
                        closed = true;
                        j += 1;
                        break;
                    }
                    b'\\' if j + 1 < bytes.len() => {
                        // Skip the escaped character, whatever its width.
                        j += 1;
                        j += src[j..].chars().next().map_or(1, char::len_utf8);
                    }
                    _ => j += 1,
                }
            }
            if closed {
                (T::Str, j)
            } else {
                (T::Unterminated, i + 1)
            }
        } else if c == b'?' && bytes.get(i + 1).is_some_and(|b| is_ident_start(*b as char)) {
            let mut j = i + 2;
            while j < bytes.len() && is_ident_char(bytes[j] as char) {
                j += 1;
            }
            (T::Slot, j)
        } else if let Some(p) = PUNCTS.iter().find(|p| src[i..].starts_with(**p)) {
            (T::P(p), i + p.len())
        } else {
            let w = src[i..].chars().next().map_or(1, char::len_utf8);
            (T::BadChar, i + w)
        };
        let kw_ok = t == T::Word
            && !src[end..]
                .chars()
                .next()
                .is_some_and(|n| n.is_alphanumeric() || n == '_');
        toks.push(Tok {
            t,
            start,
            end,
            line,
            col,
            kw_ok,
        });
        if matches!(t, T::BadChar | T::Unterminated) {
            return toks;
        }
        advance(src, start, end, &mut line, &mut col);
        i = end;
    }
    toks.push(Tok {
        t: T::Eof,
        start: src.len(),
        end: src.len(),
        line,
        col,
        kw_ok: false,
    });
    toks
}

enum Fail {
    /// A syntax error: reported at once.
    Syntax(String, Span),
}

type PResult<T> = std::result::Result<T, Fail>;

struct Draft {
    annotations: Vec<(String, String, Span)>,
    effect: Effect,
    span: Span,
    scope: [Scope; 3],
    conditions: Vec<Condition>,
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Tok>,
    pos: usize,
    limits: &'a Limits,
    /// The first non-syntax error, in the reference's order.
    first: Option<(String, Span)>,
    /// Literals equal to 2**63 still waiting for a `-`, in order.
    pending: Vec<(u32, Span)>,
    next_big: u32,
    nest: usize,
    hard_nest: usize,
    end: Span,
}

const OR: u8 = 1;
const AND: u8 = 2;
const REL: u8 = 3;
const ADD: u8 = 4;
const MUL: u8 = 5;

impl<'a> Parser<'a> {
    fn tok(&self) -> Tok {
        self.toks
            .get(self.pos)
            .or(self.toks.last())
            .copied()
            .unwrap_or(Tok {
                t: T::Eof,
                start: 0,
                end: 0,
                line: 1,
                col: 1,
                kw_ok: false,
            })
    }

    fn text(&self, t: Tok) -> &'a str {
        self.src.get(t.start..t.end).unwrap_or("")
    }

    fn bump(&mut self) -> Tok {
        let t = self.tok();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn is_p(&self, p: &str) -> bool {
        matches!(self.tok().t, T::P(q) if q == p)
    }

    fn is_kw(&self, kw: &str) -> bool {
        let t = self.tok();
        t.t == T::Word && t.kw_ok && self.text(t) == kw
    }

    fn is_word(&self) -> bool {
        self.tok().t == T::Word
    }

    /// A syntax error at the current token.
    fn unexpected(&self, expected: &str) -> Fail {
        let t = self.tok();
        let exp = if expected.is_empty() {
            String::new()
        } else {
            format!(", expected {expected}")
        };
        match t.t {
            T::Eof => Fail::Syntax(format!("unexpected end of input{exp}"), self.end),
            T::BadChar => {
                Fail::Syntax(format!("unexpected character `{}`", self.text(t)), t.span())
            }
            T::Unterminated => Fail::Syntax("unterminated string literal".into(), t.span()),
            _ => Fail::Syntax(
                format!("unexpected `{}`{exp}", clip(self.text(t), 40)),
                t.span(),
            ),
        }
    }

    /// The contextual lexer splits `!=` or `::` where only `!` or `:` fits:
    /// the error is then at the second character.
    fn split_error(&self) -> Fail {
        let t = self.tok();
        let second = self.src.get(t.start + 1..t.end).unwrap_or("");
        Fail::Syntax(
            format!("unexpected character `{second}`"),
            Span {
                line: t.line,
                col: t.col + 1,
            },
        )
    }

    fn expect_p(&mut self, p: &'static str) -> PResult<Tok> {
        if self.is_p(p) {
            return Ok(self.bump());
        }
        if p == ":" && self.is_p("::") {
            return Err(self.split_error());
        }
        Err(self.unexpected(&format!("`{p}`")))
    }

    fn expect_kw(&mut self, kw: &str) -> PResult<Tok> {
        if self.is_kw(kw) {
            return Ok(self.bump());
        }
        Err(self.unexpected(&format!("`{kw}`")))
    }

    fn expect_word(&mut self, what: &str) -> PResult<Tok> {
        if self.is_word() {
            return Ok(self.bump());
        }
        Err(self.unexpected(what))
    }

    fn expect_str(&mut self) -> PResult<Tok> {
        if self.tok().t == T::Str {
            return Ok(self.bump());
        }
        Err(self.unexpected("a string"))
    }

    // -- non-syntax checks ------------------------------------------------------

    fn record(&mut self, message: String, at: Span) {
        if self.first.is_none() {
            self.first = Some((message, at));
        }
    }

    /// The text of a string literal token, or "" after recording its error.
    fn string(&mut self, t: Tok) -> String {
        let raw = self.text(t);
        let body: Vec<char> = raw
            .get(1..raw.len().saturating_sub(1))
            .unwrap_or("")
            .chars()
            .collect();
        match unescape(&body, false) {
            Ok(chars) => {
                let text: String = chars.into_iter().flatten().collect();
                if text.chars().count() > self.limits.max_string_length {
                    self.record(
                        format!(
                            "string literal is longer than {} characters",
                            self.limits.max_string_length
                        ),
                        t.span(),
                    );
                }
                text
            }
            Err(msg) => {
                self.record(msg, t.span());
                String::new()
            }
        }
    }

    fn ident(&mut self, t: Tok, what: &str) -> String {
        let name = self.text(t);
        if RESERVED.contains(&name) || name.starts_with("__cedar") {
            self.record(
                format!("`{name}` is a reserved identifier and cannot be {what}"),
                t.span(),
            );
        }
        name.to_string()
    }

    fn no_slot(&mut self, exprs: &[&Expr]) {
        for e in exprs {
            if let ExprKind::Slot(name) = &e.kind {
                let msg = format!(
                    "the template slot `{name}` can appear only in the principal or resource scope"
                );
                self.record(msg, e.span);
                return;
            }
        }
    }

    /// Build a node, checking the depth limit at the start of its text.
    fn node(&mut self, kind: ExprKind, span: Span, depth: u32, start: Span) -> Expr {
        if depth as usize > self.limits.max_depth {
            self.record(
                format!(
                    "expression is nested too deeply (more than {} levels)",
                    self.limits.max_depth
                ),
                start,
            );
        }
        Expr { kind, span, depth }
    }

    fn dummy(span: Span) -> Expr {
        Expr {
            kind: ExprKind::Lit(Value::Bool(false)),
            span,
            depth: 1,
        }
    }

    // -- policies ----------------------------------------------------------------

    fn policies(&mut self) -> PResult<Vec<Draft>> {
        let mut drafts = Vec::new();
        while self.tok().t != T::Eof {
            drafts.push(self.policy()?);
        }
        Ok(drafts)
    }

    fn policy(&mut self) -> PResult<Draft> {
        let mut annotations = Vec::new();
        while self.is_p("@") {
            self.bump();
            let key = self.expect_word("an identifier")?;
            let value = if self.is_p("(") {
                self.bump();
                let s = self.expect_str()?;
                self.expect_p(")")?;
                self.string(s)
            } else {
                String::new()
            };
            annotations.push((self.text(key).to_string(), value, key.span()));
        }
        let effect_tok = self.tok();
        let effect = if self.is_kw("permit") {
            Effect::Permit
        } else if self.is_kw("forbid") {
            Effect::Forbid
        } else {
            return Err(self.unexpected("one of `@`, `permit` or `forbid`"));
        };
        self.bump();
        self.expect_p("(")?;
        let mut items = Vec::with_capacity(3);
        for i in 0..3 {
            items.push(self.scope_item()?);
            if i < 2 {
                self.expect_p(",")?;
            } else if self.is_p(",") {
                self.bump();
            }
        }
        self.expect_p(")")?;
        let scope = self.check_scope(items);
        let mut conditions = Vec::new();
        while self.is_kw("when") || self.is_kw("unless") {
            let kw = self.bump();
            self.expect_p("{")?;
            let expr = if self.is_p("}") {
                None
            } else {
                Some(self.expr()?.0)
            };
            self.expect_p("}")?;
            let is_when = self.text(kw) == "when";
            match expr {
                Some(e) if matches!(e.kind, ExprKind::Slot(_)) => {
                    self.no_slot(&[&e]);
                }
                Some(e) => conditions.push(Condition { is_when, expr: e }),
                None => {
                    let msg = format!("`{}` condition clause cannot be empty", self.text(kw));
                    self.record(msg, kw.span());
                }
            }
        }
        self.expect_p(";")?;
        if let Some(&(_, at)) = self.pending.first() {
            self.record(
                format!("integer literal `{INT_MAX_PLUS_ONE}` is too large"),
                at,
            );
        }
        let mut seen: Vec<&str> = Vec::new();
        let mut dup = None;
        for (key, _, at) in &annotations {
            if seen.contains(&key.as_str()) {
                dup = Some((format!("duplicate annotation `@{key}`"), *at));
                break;
            }
            seen.push(key);
        }
        if let Some((msg, at)) = dup {
            self.record(msg, at);
        }
        Ok(Draft {
            annotations,
            effect,
            span: effect_tok.span(),
            scope,
            conditions,
        })
    }

    /// `name` parts (IDENT (:: IDENT)*), stopping before `::` STRING. Returns
    /// the joined name and its first token; reserved parts are recorded.
    fn name_parts(&mut self, type_only: bool) -> PResult<(String, Tok)> {
        let first = self.expect_word("an identifier")?;
        let mut name = self.ident(first, "part of a name");
        while self.is_p("::") {
            let next = self.toks.get(self.pos + 1).copied();
            match next {
                Some(t) if t.t == T::Word || type_only => {
                    if t.t != T::Word {
                        self.bump();
                        return Err(self.unexpected("an identifier"));
                    }
                    self.bump();
                    let part = self.bump();
                    let part = self.ident(part, "part of a name");
                    name.push_str("::");
                    name.push_str(&part);
                }
                _ => break,
            }
        }
        Ok((name, first))
    }

    /// `ref`: name :: STRING.
    fn entity_ref(&mut self) -> PResult<(Uid, Tok)> {
        let (ty, first) = self.name_parts(false)?;
        self.expect_p("::")?;
        let s = self.expect_str()?;
        let id = self.string(s);
        Ok((Uid::new(&ty, &id), first))
    }

    // -- expressions -------------------------------------------------------------

    fn expr(&mut self) -> PResult<(Expr, Span)> {
        self.nest += 1;
        if self.nest > self.hard_nest {
            let at = self.tok().span();
            return Err(Fail::Syntax(
                format!(
                    "expression is nested too deeply (more than {} levels)",
                    self.limits.max_depth
                ),
                at,
            ));
        }
        let result = if self.is_kw("if") {
            self.if_expr()
        } else {
            self.binary(0)
        };
        self.nest -= 1;
        result
    }

    fn if_expr(&mut self) -> PResult<(Expr, Span)> {
        let if_tok = self.bump();
        let (c, _) = self.expr()?;
        self.expect_kw("then")?;
        let (t, _) = self.expr()?;
        self.expect_kw("else")?;
        let (e, _) = self.expr()?;
        self.no_slot(&[&c, &t, &e]);
        let depth = 1 + c.depth.max(t.depth).max(e.depth);
        let span = if_tok.span();
        let node = self.node(ExprKind::If(Box::new((c, t, e))), span, depth, span);
        Ok((node, span))
    }

    fn peek_binop(&self) -> Option<u8> {
        let t = self.tok();
        match t.t {
            T::P("||") => Some(OR),
            T::P("&&") => Some(AND),
            T::P("==" | "!=" | "<" | "<=" | ">" | ">=") => Some(REL),
            T::P("+" | "-") => Some(ADD),
            T::P("*") => Some(MUL),
            T::Word if t.kw_ok && matches!(self.text(t), "in" | "has" | "like" | "is") => Some(REL),
            _ => None,
        }
    }

    fn binary(&mut self, min: u8) -> PResult<(Expr, Span)> {
        let (left, start) = self.unary()?;
        self.binary_from(min, left, start)
    }

    fn binary_from(&mut self, min: u8, left: Expr, start: Span) -> PResult<(Expr, Span)> {
        let mut left = left;
        let mut had_rel = false;
        while let Some(level) = self.peek_binop() {
            if level < min {
                break;
            }
            // After a relation only `&&`, `||` or a closer may follow.
            if had_rel && level >= REL {
                return Err(self.unexpected(""));
            }
            let op = self.tok();
            match level {
                OR | AND => {
                    self.bump();
                    let (right, _) = self.binary(level + 1)?;
                    self.no_slot(&[&left, &right]);
                    // Extend a chain in place; its depth is the running maximum, so a
                    // flat `a && b && ...` of n terms parses in O(n), not O(n^2).
                    let (mut args, depth) = match left.kind {
                        ExprKind::Or(args) if level == OR => (args, left.depth),
                        ExprKind::And(args) if level == AND => (args, left.depth),
                        other => (
                            vec![Expr {
                                kind: other,
                                span: left.span,
                                depth: left.depth,
                            }],
                            1 + left.depth,
                        ),
                    };
                    let depth = depth.max(1 + right.depth);
                    args.push(right);
                    let kind = if level == OR {
                        ExprKind::Or(args)
                    } else {
                        ExprKind::And(args)
                    };
                    left = self.node(kind, start, depth, start);
                }
                REL => {
                    had_rel = true;
                    left = self.relation(left, start, op)?;
                }
                _ => {
                    self.bump();
                    let (right, _) = self.binary(level + 1)?;
                    self.no_slot(&[&left, &right]);
                    let bop = match self.text(op) {
                        "+" => BinOp::Add,
                        "-" => BinOp::Sub,
                        _ => BinOp::Mul,
                    };
                    let depth = 1 + left.depth.max(right.depth);
                    left = self.node(
                        ExprKind::Binary(bop, Box::new(left), Box::new(right)),
                        op.span(),
                        depth,
                        start,
                    );
                }
            }
        }
        Ok((left, start))
    }

    fn relation(&mut self, left: Expr, start: Span, op: Tok) -> PResult<Expr> {
        self.bump();
        let text = self.text(op);
        let span = op.span();
        let bop = match text {
            "==" => Some(BinOp::Eq),
            "!=" => Some(BinOp::Ne),
            "<" => Some(BinOp::Lt),
            "<=" => Some(BinOp::Le),
            ">" => Some(BinOp::Gt),
            ">=" => Some(BinOp::Ge),
            "in" => Some(BinOp::In),
            _ => None,
        };
        if let Some(bop) = bop {
            let (right, _) = self.binary(ADD)?;
            self.no_slot(&[&left, &right]);
            let depth = 1 + left.depth.max(right.depth);
            return Ok(self.node(
                ExprKind::Binary(bop, Box::new(left), Box::new(right)),
                span,
                depth,
                start,
            ));
        }
        match text {
            "has" => {
                let path = self.has_path()?;
                self.no_slot(&[&left]);
                let mut tests: Vec<Expr> = Vec::with_capacity(path.len());
                let mut target = left;
                for (i, attr) in path.iter().enumerate() {
                    if i > 0 {
                        let prev: Arc<str> = path[i - 1].as_str().into();
                        let depth = target.depth + 1;
                        target = Expr {
                            kind: ExprKind::GetAttr(Box::new(target), prev),
                            span,
                            depth,
                        };
                    }
                    tests.push(Expr {
                        kind: ExprKind::HasAttr(Box::new(target.clone()), attr.as_str().into()),
                        span,
                        depth: target.depth + 1,
                    });
                }
                if tests.len() == 1 {
                    let only = tests.remove(0);
                    let depth = only.depth;
                    return Ok(self.node(only.kind, span, depth, start));
                }
                let depth = 1 + tests.iter().map(|t| t.depth).max().unwrap_or(0);
                Ok(self.node(ExprKind::And(tests), span, depth, start))
            }
            "like" => {
                let s = self.expect_str()?;
                self.no_slot(&[&left]);
                let pattern = self.pattern(s);
                let depth = left.depth + 1;
                Ok(self.node(ExprKind::Like(Box::new(left), pattern), span, depth, start))
            }
            _ => {
                // `is`
                let (ty, _) = self.name_parts(true)?;
                if self.is_kw("in") {
                    self.bump();
                    let (target, _) = self.binary(ADD)?;
                    self.no_slot(&[&left, &target]);
                    let depth = 1 + left.depth.max(target.depth);
                    return Ok(self.node(
                        ExprKind::Is(Box::new(left), ty.into(), Some(Box::new(target))),
                        span,
                        depth,
                        start,
                    ));
                }
                self.no_slot(&[&left]);
                let depth = left.depth + 1;
                Ok(self.node(
                    ExprKind::Is(Box::new(left), ty.into(), None),
                    span,
                    depth,
                    start,
                ))
            }
        }
    }

    fn has_path(&mut self) -> PResult<Vec<String>> {
        let t = self.tok();
        if t.t == T::Str {
            self.bump();
            return Ok(vec![self.string(t)]);
        }
        let mut toks = vec![self.expect_word("an identifier or a string")?];
        while self.is_p(".") {
            self.bump();
            toks.push(self.expect_word("an identifier")?);
        }
        Ok(toks
            .into_iter()
            .map(|t| self.ident(t, "an attribute name"))
            .collect())
    }

    fn pattern(&mut self, t: Tok) -> Pattern {
        let raw = self.text(t);
        let body: Vec<char> = raw
            .get(1..raw.len().saturating_sub(1))
            .unwrap_or("")
            .chars()
            .collect();
        let chars = match unescape(&body, true) {
            Ok(chars) => chars,
            Err(msg) => {
                self.record(msg, t.span());
                return Pattern {
                    chunks: vec![String::new()],
                };
            }
        };
        if chars.len() > self.limits.max_string_length {
            self.record(
                format!(
                    "pattern is longer than {} characters",
                    self.limits.max_string_length
                ),
                t.span(),
            );
        }
        let mut chunks = Vec::new();
        let mut current = String::new();
        for c in chars {
            match c {
                None => chunks.push(std::mem::take(&mut current)),
                Some(c) => current.push(c),
            }
        }
        chunks.push(current);
        Pattern { chunks }
    }

    fn unary(&mut self) -> PResult<(Expr, Span)> {
        let first = self.tok();
        let op = if self.is_p("!") || self.is_p("!=") {
            "!"
        } else if self.is_p("-") {
            "-"
        } else {
            return self.member();
        };
        let mut ops = Vec::new();
        loop {
            if op == "!" && self.is_p("!=") {
                return Err(self.split_error());
            }
            if !self.is_p(op) {
                break;
            }
            ops.push(self.bump());
        }
        let (inner, _) = self.member()?;
        self.no_slot(&[&inner]);
        if ops.len() > MAX_UNARY_REPEAT {
            self.record(
                format!("too many occurrences of `{op}` in a row"),
                first.span(),
            );
            // Refused anyway: do not build (and later drop) a long chain.
            return Ok((Self::dummy(first.span()), first.span()));
        }
        let mut expr = inner;
        for tok in ops.iter().rev() {
            let span = tok.span();
            let depth = expr.depth + 1;
            expr = if op == "!" {
                Expr {
                    kind: ExprKind::Not(Box::new(expr)),
                    span,
                    depth,
                }
            } else {
                match expr.kind {
                    ExprKind::Lit(Value::Long(v)) if v > 0 => Expr {
                        kind: ExprKind::Lit(Value::Long(-v)),
                        span,
                        depth: 1,
                    },
                    ExprKind::BigLit(id) => {
                        self.pending.retain(|(p, _)| *p != id);
                        Expr {
                            kind: ExprKind::Lit(Value::Long(i64::MIN)),
                            span,
                            depth: 1,
                        }
                    }
                    kind => Expr {
                        kind: ExprKind::Neg(Box::new(Expr {
                            kind,
                            span: expr.span,
                            depth: expr.depth,
                        })),
                        span,
                        depth,
                    },
                }
            };
        }
        let (kind, span, depth) = (expr.kind, expr.span, expr.depth);
        let start = first.span();
        Ok((self.node(kind, span, depth, start), start))
    }

    fn member(&mut self) -> PResult<(Expr, Span)> {
        let (expr, start) = self.primary()?;
        self.member_from(expr, start)
    }

    fn member_from(&mut self, expr: Expr, start: Span) -> PResult<(Expr, Span)> {
        let mut expr = expr;
        loop {
            if self.is_p(".") {
                self.bump();
                let name = self.expect_word("an identifier")?;
                if self.is_p("(") {
                    self.bump();
                    let args = self.args(")")?;
                    self.expect_p(")")?;
                    expr = self.method_call(expr, name, args, start);
                } else {
                    self.no_slot(&[&expr]);
                    let attr = self.ident(name, "an attribute name");
                    let depth = expr.depth + 1;
                    expr = self.node(
                        ExprKind::GetAttr(Box::new(expr), attr.into()),
                        name.span(),
                        depth,
                        start,
                    );
                }
            } else if self.is_p("[") {
                self.bump();
                let s = self.expect_str()?;
                self.expect_p("]")?;
                self.no_slot(&[&expr]);
                let attr = self.string(s);
                let depth = expr.depth + 1;
                expr = self.node(
                    ExprKind::GetAttr(Box::new(expr), attr.into()),
                    s.span(),
                    depth,
                    start,
                );
            } else {
                return Ok((expr, start));
            }
        }
    }

    /// `args?` up to (not including) `close`; slots among them are recorded.
    fn args(&mut self, close: &'static str) -> PResult<Vec<Expr>> {
        let mut out = Vec::new();
        if self.is_p(close) {
            return Ok(out);
        }
        loop {
            out.push(self.expr()?.0);
            if self.is_p(",") {
                self.bump();
                if self.is_p(close) {
                    break;
                }
            } else if self.is_p(close) {
                break;
            } else {
                return Err(self.unexpected(&format!("`,` or `{close}`")));
            }
        }
        let refs: Vec<&Expr> = out.iter().collect();
        let slot = refs
            .iter()
            .find(|e| matches!(e.kind, ExprKind::Slot(_)))
            .map(|e| (*e).clone());
        if let Some(e) = slot {
            self.no_slot(&[&e]);
        }
        Ok(out)
    }

    fn primary(&mut self) -> PResult<(Expr, Span)> {
        let t = self.tok();
        let span = t.span();
        match t.t {
            T::Int => {
                self.bump();
                let digits = self.text(t);
                let trimmed = digits.trim_start_matches('0');
                let value: Option<u64> = if trimmed.is_empty() {
                    Some(0)
                } else if trimmed.len() > 19 {
                    None
                } else {
                    trimmed.parse::<u64>().ok()
                };
                let expr = match value {
                    Some(v) if v <= i64::MAX as u64 => Expr {
                        kind: ExprKind::Lit(Value::Long(v as i64)),
                        span,
                        depth: 1,
                    },
                    Some(v) if v == i64::MAX as u64 + 1 => {
                        let id = self.next_big;
                        self.next_big += 1;
                        self.pending.push((id, span));
                        Expr {
                            kind: ExprKind::BigLit(id),
                            span,
                            depth: 1,
                        }
                    }
                    _ => {
                        self.record(
                            format!("integer literal `{}` is too large", clip(digits, 40)),
                            span,
                        );
                        Self::dummy(span)
                    }
                };
                Ok((expr, span))
            }
            T::Str => {
                self.bump();
                let s = self.string(t);
                Ok((
                    Expr {
                        kind: ExprKind::Lit(Value::Str(s.into())),
                        span,
                        depth: 1,
                    },
                    span,
                ))
            }
            T::Word if t.kw_ok && matches!(self.text(t), "true" | "false") => {
                self.bump();
                let b = self.text(t) == "true";
                Ok((
                    Expr {
                        kind: ExprKind::Lit(Value::Bool(b)),
                        span,
                        depth: 1,
                    },
                    span,
                ))
            }
            T::Word => self.name_expr(),
            T::Slot => {
                self.bump();
                let name: Arc<str> = self.text(t).into();
                Ok((
                    Expr {
                        kind: ExprKind::Slot(name),
                        span,
                        depth: 1,
                    },
                    span,
                ))
            }
            T::P("(") => {
                // A run of `(` is read without recursion: parentheses add no
                // nesting to the AST, so any number of them is fine.
                let mut opens = Vec::new();
                while self.is_p("(") {
                    opens.push(self.bump().span());
                }
                let (mut expr, _) = self.expr()?;
                loop {
                    self.expect_p(")")?;
                    let open = opens.pop().unwrap_or(span);
                    self.no_slot(&[&expr]);
                    if matches!(expr.kind, ExprKind::BigLit(_)) {
                        self.record(
                            format!("integer literal `{INT_MAX_PLUS_ONE}` is too large"),
                            open,
                        );
                    }
                    let (kind, ispan, depth) = (expr.kind, expr.span, expr.depth);
                    expr = self.node(kind, ispan, depth, open);
                    if opens.is_empty() {
                        return Ok((expr, open));
                    }
                    // The parenthesized expression starts the enclosing one.
                    let (m, _) = self.member_from(expr, open)?;
                    let (b, _) = self.binary_from(0, m, open)?;
                    expr = b;
                }
            }
            T::P("[") => {
                self.bump();
                let elements = self.args("]")?;
                self.expect_p("]")?;
                if elements.len() > self.limits.max_set_size {
                    self.record(
                        format!(
                            "set literal has more than {} elements",
                            self.limits.max_set_size
                        ),
                        span,
                    );
                }
                let depth = 1 + elements.iter().map(|e| e.depth).max().unwrap_or(0);
                Ok((self.node(ExprKind::Set(elements), span, depth, span), span))
            }
            T::P("{") => {
                self.bump();
                let mut inits: Vec<(String, Expr, Span)> = Vec::new();
                if !self.is_p("}") {
                    loop {
                        let key = self.tok();
                        if !matches!(key.t, T::Word | T::Str) {
                            return Err(self.unexpected("an identifier or a string"));
                        }
                        self.bump();
                        self.expect_p(":")?;
                        let (value, _) = self.expr()?;
                        self.no_slot(&[&value]);
                        let k = if key.t == T::Str {
                            self.string(key)
                        } else {
                            self.ident(key, "a record key")
                        };
                        inits.push((k, value, key.span()));
                        if self.is_p(",") {
                            self.bump();
                            if self.is_p("}") {
                                break;
                            }
                        } else if self.is_p("}") {
                            break;
                        } else {
                            return Err(self.unexpected("`,` or `}`"));
                        }
                    }
                }
                self.expect_p("}")?;
                if inits.len() > self.limits.max_record_size {
                    self.record(
                        format!(
                            "record literal has more than {} fields",
                            self.limits.max_record_size
                        ),
                        span,
                    );
                }
                let mut seen = std::collections::HashSet::new();
                let mut dup = None;
                for (k, _, at) in &inits {
                    if !seen.insert(k.as_str()) {
                        dup = Some((format!("duplicate key `{k}` in record literal"), *at));
                        break;
                    }
                }
                if let Some((msg, at)) = dup {
                    self.record(msg, at);
                }
                let depth = 1 + inits.iter().map(|(_, e, _)| e.depth).max().unwrap_or(0);
                let fields = inits
                    .into_iter()
                    .map(|(k, e, _)| (Arc::from(k.as_str()), e))
                    .collect();
                Ok((self.node(ExprKind::Record(fields), span, depth, span), span))
            }
            _ => Err(self.unexpected("an expression")),
        }
    }

    /// A primary that starts with a name: a variable, an entity uid or a call.
    fn name_expr(&mut self) -> PResult<(Expr, Span)> {
        let (name, first) = self.name_parts(false)?;
        let span = first.span();
        if self.is_p("::") {
            self.bump();
            let s = self.expect_str()?;
            let id = self.string(s);
            let uid = Uid::new(&name, &id);
            return Ok((
                Expr {
                    kind: ExprKind::Lit(Value::Entity(Arc::new(uid))),
                    span,
                    depth: 1,
                },
                span,
            ));
        }
        if self.is_p("(") {
            self.bump();
            let args = self.args(")")?;
            self.expect_p(")")?;
            return Ok((self.function_call(&name, args, span), span));
        }
        let var = match name.as_str() {
            "principal" => Var::Principal,
            "action" => Var::Action,
            "resource" => Var::Resource,
            "context" => Var::Context,
            _ => {
                self.record(format!("invalid variable `{name}`"), span);
                return Ok((Self::dummy(span), span));
            }
        };
        Ok((
            Expr {
                kind: ExprKind::Var(var),
                span,
                depth: 1,
            },
            span,
        ))
    }
}

/// The Python reference's location prefix: `path:line:col: message`, then the
/// source line with a caret under the column.
fn located(path: &str, src: &str, at: Span, message: &str) -> CoreError {
    let line_text = src
        .split('\n')
        .nth(at.line.saturating_sub(1) as usize)
        .unwrap_or("");
    let mut text = format!("{path}:{}:{}: {message}", at.line, at.col);
    if !line_text.is_empty() {
        let pad: String = line_text
            .chars()
            .take(at.col.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        text.push_str(&format!("\n{line_text}\n{pad}^"));
    }
    CoreError::Policy(text)
}

fn end_position(src: &str) -> Span {
    let last = src.rsplit('\n').next().unwrap_or("");
    Span {
        line: src.matches('\n').count() as u32 + 1,
        col: last.chars().count() as u32 + 1,
    }
}

/// Parse a policy file into policies with their ids.
/// Nesting below this many levels is parsed on the caller's stack.
const SHALLOW: usize = 128;
/// Deeper text is parsed on a thread with this much stack, up to `DEEP` levels
/// (the reference has no nesting bound of its own but the AST depth limit).
const BIG_STACK: usize = 256 << 20;
const DEEP: usize = 10_000;

/// Parse a policy file into policies with their ids.
///
/// The parser recurses once per nesting level (parentheses excepted), so
/// text that might nest deeply is parsed on a thread with a large stack;
/// beyond `DEEP` levels it is refused as nested too deeply.
pub fn parse_policies(text: &str, path: &str, limits: &Limits) -> Result<Vec<Policy>> {
    // Every recursion opens a `(`, `[`, `{` or an `if`: count them as a bound.
    let openers = text
        .bytes()
        .filter(|b| matches!(b, b'(' | b'[' | b'{'))
        .count()
        + text.matches("if").count();
    if openers <= SHALLOW {
        return parse_with(text, path, limits, DEEP);
    }
    let spawned = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(BIG_STACK)
            .spawn_scoped(scope, || parse_with(text, path, limits, DEEP))
            .ok()
            .map(|handle| handle.join())
    });
    match spawned {
        Some(Ok(result)) => result,
        Some(Err(_)) => Err(CoreError::Policy(format!(
            "{path}: internal error while reading policies"
        ))),
        // No thread to be had: parse here, with the nesting the stack surely allows.
        None => parse_with(text, path, limits, SHALLOW),
    }
}

fn parse_with(text: &str, path: &str, limits: &Limits, hard_nest: usize) -> Result<Vec<Policy>> {
    let origin = Span { line: 1, col: 1 };
    if text.len() > limits.max_source_length && text.chars().count() > limits.max_source_length {
        return Err(located(
            path,
            text,
            origin,
            &format!(
                "policy source is longer than {} characters",
                limits.max_source_length
            ),
        ));
    }
    let mut p = Parser {
        src: text,
        toks: lex(text),
        pos: 0,
        limits,
        first: None,
        pending: Vec::new(),
        next_big: 0,
        nest: 0,
        hard_nest,
        end: end_position(text),
    };
    let drafts = match p.policies() {
        Ok(d) => d,
        Err(Fail::Syntax(msg, at)) => return Err(located(path, text, at, &msg)),
    };
    if let Some((msg, at)) = p.first {
        return Err(located(path, text, at, &msg));
    }
    if drafts.len() > limits.max_policies {
        return Err(located(
            path,
            text,
            origin,
            &format!("policy set has more than {} policies", limits.max_policies),
        ));
    }
    assign_ids(drafts, path, text)
}

fn assign_ids(drafts: Vec<Draft>, path: &str, text: &str) -> Result<Vec<Policy>> {
    let mut policies = Vec::with_capacity(drafts.len());
    let mut first_use: std::collections::HashMap<String, Span> = std::collections::HashMap::new();
    for (index, draft) in drafts.into_iter().enumerate() {
        let id_ann = draft.annotations.iter().find(|(k, _, _)| k == "id");
        let (pid, at) = match id_ann {
            Some((_, value, at)) => {
                if value.is_empty() {
                    return Err(located(
                        path,
                        text,
                        *at,
                        "`@id` needs a non-empty string, such as `@id(\"allow-read\")`",
                    ));
                }
                (value.clone(), *at)
            }
            None => (format!("policy{index}"), draft.span),
        };
        if let Some(first) = first_use.get(&pid) {
            return Err(located(
                path,
                text,
                at,
                &format!("duplicate policy id `{pid}` (first used at {first})"),
            ));
        }
        first_use.insert(pid.clone(), at);
        let [principal, action, resource] = draft.scope;
        policies.push(Policy {
            id: pid,
            effect: draft.effect,
            principal,
            action,
            resource,
            conditions: draft.conditions,
            annotations: draft
                .annotations
                .into_iter()
                .map(|(k, v, _)| (k, v))
                .collect(),
            template: None,
        });
    }
    Ok(policies)
}
