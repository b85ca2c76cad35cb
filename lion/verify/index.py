"""The theorem index, generated from the specs: `docs/theorems.md` (statements and
strategies) and `proofs/README.md` (the same, with the status of the last run).

Regenerate both with ``lion-verify --write-index``; ``lion-verify --check-index``
fails when either is stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lion.spec import ast
from lion.verify._mutants_gen import expr_references, references
from lion.verify.proofs import Strategy
from lion.verify.prove import Result, obligation_names

__all__ = ["PROOFS_INDEX", "THEOREMS_DOC", "render"]

THEOREMS_DOC = Path("docs/theorems.md")
PROOFS_INDEX = Path("proofs/README.md")
_MODEL_ONLY = (
    "**Model-only** (no `bind` ties what these read to an implementation: they constrain "
    "the model, and no conformance check connects them to the code):"
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _model_only(module: ast.Module) -> set[str]:
    """The theorems and invariants that read nothing an implementation is bound to."""
    implemented = references(module, {b.name for b in module.binds})
    theorems = {
        t.name for t in module.theorems if not expr_references(module, t.body) & implemented
    }
    invariants = {i.name for i in module.invariants if i.machine not in implemented}
    return theorems | invariants


def render(
    modules: list[ast.Module],
    strategies: Mapping[str, Mapping[str, Strategy]],
    results: Mapping[tuple[str, str], Result] | None = None,
) -> str:
    """Markdown table of every obligation; with `results`, a status column too.

    `strategies` maps a module path to its proofs; `results` maps (path, name).
    """
    lines = [
        "# Theorem index" if results is None else "# Proofs: strategies and status",
        "",
        "Generated from `spec/*.lion` and `proofs/*.proof` by `lion-verify --write-index`;",
        "do not edit by hand (`lion-verify --check-index` fails when this file is stale).",
        "",
    ]
    if results is not None:
        lines += [
            "Each obligation's strategy comes from `proofs/<chapter>.proof` (default: `smt`",
            "for theorems, `induction` for invariants). Status is from the last full run.",
            "",
        ]
    for module in modules:
        docs: dict[str, str] = {}
        kinds: dict[str, str] = {}
        for d in module.definitions:
            if isinstance(d, ast.Theorem):
                docs[d.name], kinds[d.name] = d.doc, "theorem"
            elif isinstance(d, ast.Invariant):
                docs[d.name], kinds[d.name] = d.doc, f"invariant of `{d.machine}`"
        names = obligation_names(module)
        if not names:
            continue
        lines += [f"## {module.chapter} (`{Path(module.path).name}`)", ""]
        header = "| obligation | kind | guarantees | strategy |"
        rule = "|---|---|---|---|"
        if results is not None:
            header += " status |"
            rule += "---|"
        lines += [header, rule]
        own = strategies.get(module.path, {})
        model_only = _model_only(module)
        names = [n for n in names if n not in model_only] + [n for n in names if n in model_only]
        first_model_only = next((n for n in names if n in model_only), None)
        for name in names:
            if name == first_model_only:
                lines += ["", _MODEL_ONLY, "", header, rule]
            if name.endswith(".ranges") and name not in docs:
                machine = name.removesuffix(".ranges")
                doc, kind = f"every action of {machine} keeps its variables in range", "ranges"
                default = "induction"
            else:
                doc, kind = docs[name], kinds[name]
                default = "smt" if kind == "theorem" else "induction"
            strategy = str(own[name]) if name in own else default
            row = f"| `{name}` | {kind} | {_cell(doc) or '(no description)'} | {strategy} |"
            if results is not None:
                r = results.get((module.path, name))
                row += f" {r.status.value if r else 'not run'} |"
            lines.append(row)
        lines.append("")
    return "\n".join(lines)
