//! Method calls (`x.contains(y)`, `ip.isInRange(net)`) and extension function
//! calls (`decimal("1.5")`). Extension calls take any number of arguments: a
//! wrong count is an evaluation error, as in Cedar.

use super::{Parser, Tok};
use crate::policy::ast::{Expr, ExprKind, Method, Span};
use crate::policy::ext::ExtFn;

fn depth_of<'e>(exprs: impl IntoIterator<Item = &'e Expr>) -> u32 {
    1 + exprs.into_iter().map(|e| e.depth).max().unwrap_or(0)
}

impl Parser<'_> {
    pub(super) fn method_call(
        &mut self,
        obj: Expr,
        name: Tok,
        mut args: Vec<Expr>,
        start: Span,
    ) -> Expr {
        self.no_slot(&[&obj]);
        let text = self.text(name);
        let span = name.span();
        if let Some(f) = ExtFn::from_name(text) {
            if f.is_constructor() {
                self.record(format!("`{text}` is a function, not a method"), span);
                return Self::dummy(span);
            }
            let depth = depth_of(std::iter::once(&obj).chain(args.iter()));
            let mut all = Vec::with_capacity(args.len() + 1);
            all.push(obj);
            all.append(&mut args);
            return self.node(ExprKind::Ext(f, all), span, depth, start);
        }
        let method = match text {
            "contains" => Some((Method::Contains, 1)),
            "containsAll" => Some((Method::ContainsAll, 1)),
            "containsAny" => Some((Method::ContainsAny, 1)),
            "isEmpty" => Some((Method::IsEmpty, 0)),
            "hasTag" => Some((Method::HasTag, 1)),
            "getTag" => Some((Method::GetTag, 1)),
            _ => None,
        };
        let Some((method, arity)) = method else {
            self.record(format!("`{text}` is not a valid method"), span);
            return Self::dummy(span);
        };
        if args.len() != arity {
            let s = if arity != 1 { "s" } else { "" };
            self.record(
                format!("`{text}` takes {arity} argument{s}, got {}", args.len()),
                span,
            );
            return Self::dummy(span);
        }
        let depth = depth_of(std::iter::once(&obj).chain(args.iter()));
        let arg = args.pop().map(Box::new);
        self.node(
            ExprKind::Call(method, Box::new(obj), arg),
            span,
            depth,
            start,
        )
    }

    /// `name(args)`: an extension constructor, else an error.
    pub(super) fn function_call(&mut self, name: &str, args: Vec<Expr>, span: Span) -> Expr {
        match ExtFn::from_name(name) {
            Some(f) if f.is_constructor() => {
                let depth = depth_of(args.iter());
                self.node(ExprKind::Ext(f, args), span, depth, span)
            }
            Some(_) => {
                self.record(format!("`{name}` is a method, not a function"), span);
                Self::dummy(span)
            }
            None => {
                self.record(format!("`{name}` is not a valid function"), span);
                Self::dummy(span)
            }
        }
    }
}
