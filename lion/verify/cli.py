"""`lion-verify`: prove the theorems of `.lion` specs and report.

Exit codes (as Cedar's CLI does, "the check said no" is not "bad input"):

  0  every obligation holds (PROVED, or BOUNDED where a bound was asked for)
  1  some obligation is REFUTED, NOT INDUCTIVE, VACUOUS or UNKNOWN
  2  bad input: unreadable file, syntax or type error, bad proofs file, bad option,
     a bind whose target is missing or cannot be imported, a backend that is not built
  3  internal error: lion-verify itself broke (please report it)

With `--json`, bad input and internal errors are a JSON object on stdout too:
``{"ok": false, "exit_code": 2, "error": {"kind": "bad input", "message": ...,
"location": {"path": ..., "line": ..., "column": ...} or {"argument": ...}}}``.
A closed output pipe (``lion-verify | head -1``) ends the run quietly: with the
check's exit code when every check had finished, else 0.

`lion-verify audit FILE [--json] [--key-file KEY]` (only when the first argument
is literally `audit`; name a spec folder called audit as `./audit`) checks an
audit trail (lion.kernel.audit) instead: 0 chain, seal and mediation hold, 1 a
finding (the first violating line is printed), 2 bad input, 3 internal error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO, cast

from lion._pipe import PipeClosed, PipeGuard
from lion.errors import (
    LionError,
    SourceLocation,
    SpecError,
    VerifyError,
)
from lion.kernel.backend import BACKENDS, default_backend_name, get_backend
from lion.spec import ast
from lion.spec.load import load_paths
from lion.verify.conformance import BindResult, check_bind, check_targets
from lion.verify.index import PROOFS_INDEX, THEOREMS_DOC, render
from lion.verify.proofs import Strategy, read_proofs
from lion.verify.prove import (
    DEFAULT_TIMEOUT,
    Result,
    dependencies,
    obligation_names,
    prove_module,
    with_dependencies,
)

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_INTERNAL", "EXIT_OK", "main"]

DEFAULT_EXAMPLES = 1000
CORPUS = Path("tests/corpus/conformance")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


class _UsageError(Exception):
    pass


class _BadInput(Exception):
    """Bad input found by `run`: reported as text on stderr, and as JSON with --json."""

    def __init__(
        self, message: str, location: dict[str, Any] | None = None, *, shown: bool = False
    ) -> None:
        self.message = message
        self.location = location
        self.shown = shown  # already printed on stderr
        super().__init__(message)

    @classmethod
    def from_error(cls, exc: LionError) -> _BadInput:
        loc = getattr(exc, "location", None)
        if isinstance(loc, SourceLocation):
            where = {"path": loc.path, "line": loc.line, "column": loc.column}
            return cls(str(getattr(exc, "message", exc)), where)
        return cls(str(exc))

    def text(self) -> str:
        loc = self.location or {}
        if "path" in loc:
            return f"{loc['path']}:{loc['line']}:{loc['column']}: {self.message}"
        return self.message


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def _arguments() -> argparse.ArgumentParser:
    p = _Parser(
        prog="lion-verify",
        description="Prove the theorems of LION specs with Z3.",
        epilog="exit codes: 0 all hold, 1 a check failed, 2 bad input, 3 internal error; "
        "`lion-verify audit FILE` checks an audit trail instead (docs/audit.md)",
    )
    p.add_argument(
        "paths",
        nargs="*",
        default=["spec"],
        metavar="PATH",
        help="spec files or directories (default: spec/)",
    )
    p.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="report only this theorem, invariant or M.ranges (NAME or CHAPTER.NAME); what its "
        "answer depends on (lemmas, the machine's ranges) is proved too; repeatable",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"per-obligation Z3 timeout (default {DEFAULT_TIMEOUT:g})",
    )
    p.add_argument(
        "--proofs",
        type=Path,
        metavar="DIR",
        help="directory of .proof files (default: proofs/ beside the spec directory)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print, per machine bind, how often each action was tried and fired",
    )
    p.add_argument(
        "--examples",
        type=int,
        default=DEFAULT_EXAMPLES,
        metavar="N",
        help=f"random inputs per bind for conformance (default {DEFAULT_EXAMPLES}; "
        "0 skips conformance)",
    )
    p.add_argument(
        "--backend",
        choices=["python", "rust", "all"],
        default=None,
        help="which implementation conformance checks: python, rust, or all (spec vs python "
        "vs rust on the same inputs); default: $LION_BACKEND, else rust when built, else python",
    )
    p.add_argument(
        "--corpus",
        type=Path,
        metavar="DIR",
        help="where failing conformance inputs are saved (default: "
        "tests/corpus/conformance beside the spec directory, if tests/ exists)",
    )
    p.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="seed of the random conformance inputs: the same seed gives the same inputs and "
        "verdict (default: a fresh one, printed on failure and in --json)",
    )
    p.add_argument(
        "--max-steps",
        type=int,
        metavar="N",
        help="longest generated machine run (default: derived per machine from its bounded "
        "state, at least 16, after a walk; see docs/spec-language.md)",
    )
    p.add_argument(
        "--walk-steps",
        type=int,
        metavar="N",
        help="longest random walk a third of the machine runs start with, to reach deep "
        "states (default: 3 times the derived --max-steps; none when --max-steps is given)",
    )
    p.add_argument(
        "--write-index",
        action="store_true",
        help="regenerate docs/theorems.md and proofs/README.md from this run",
    )
    p.add_argument(
        "--check-index",
        action="store_true",
        help="fail (exit 1) when docs/theorems.md or proofs/README.md is stale",
    )
    p.add_argument(
        "--export-smt",
        type=Path,
        metavar="DIR",
        help="write each obligation as an SMT-LIB 2 query DIR/CHAPTER.NAME.smt2 (unsat: it holds)",
    )
    p.add_argument(
        "--cross-check",
        action="store_true",
        help="answer each obligation's SMT-LIB 2 query with cvc5 and Z3 too; a disagreement "
        "exits 3",
    )
    return p


def _backends(choice: str | None) -> tuple[str, ...]:
    """The backends conformance runs on; BackendError if one is not available."""
    names = BACKENDS if choice == "all" else (choice or default_backend_name(),)
    for name in names:
        get_backend(name)
    return tuple(names)


def _project_root(spec_path: str) -> Path:
    """The folder holding `spec/`, and beside it `proofs/`, `docs/` and `tests/`."""
    return Path(spec_path).resolve().parent.parent


def _proofs_for(module: ast.Module, proofs_dir: Path | None) -> dict[str, Strategy]:
    spec_path = Path(module.path)
    directory = proofs_dir if proofs_dir is not None else _project_root(module.path) / "proofs"
    strategies = read_proofs(directory / f"{spec_path.stem}.proof")
    known = set(obligation_names(module))
    for name, strategy in strategies.items():
        if name not in known:
            loc = strategy.location
            raise SpecError(f"`{name}` is not a theorem or invariant of {module.path}", loc)
    return strategies


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


def _table(results: list[Result], out: TextIO) -> None:
    header = ("theorem", "chapter", "strategy", "result", "time")
    rows = [(r.name, r.chapter, r.strategy, r.status.value, f"{r.seconds:.2f} s") for r in results]
    _print_table(header, rows, out)


def _details(results: list[Result], out: TextIO) -> None:
    for r in results:
        if r.status.ok:
            continue
        print(f"\n{r.status.value}: {r.chapter}.{r.name} ({r.path})", file=out)
        if r.doc:
            print(f"  claim: {r.doc}", file=out)
        if r.counterexample_text:
            print("  counterexample:", file=out)
            for name, text in r.counterexample_text.items():
                print(f"    {name} = {text}", file=out)
        elif r.trace:
            print("  trace:", file=out)
            for step in r.trace:
                print(f"    {step.text}", file=out)
        elif r.message:
            print(f"  {r.message}", file=out)


def _default_corpus(modules: list[ast.Module]) -> Path | None:
    root = _project_root(modules[0].path)
    return root / CORPUS if (root / "tests").is_dir() else None


def _bind_table(binds: list[BindResult], out: TextIO, verbose: bool = False) -> None:
    header = ("bind", "chapter", "kind", "backend", "examples", "result", "time")
    rows = [
        (
            b.name,
            b.chapter,
            b.kind,
            b.backend,
            str(b.examples),
            "OK" if b.ok else "FAILED",
            f"{b.seconds:.2f} s",
        )
        for b in binds
    ]
    print("\nconformance (spec interpreter vs implementation):", file=out)
    _print_table(header, rows, out)
    for b in binds:
        if not b.ok:
            print(f"\nFAILED: {b.chapter}.{b.name} -> {b.target}", file=out)
            if b.failing_text:
                print(f"  shrunk failing input: {b.failing_text}", file=out)
            print(f"  {b.message}", file=out)
            steps = f" --max-steps {b.max_steps}" if b.max_steps is not None else ""
            steps += f" --walk-steps {b.walk_steps}" if b.walk_steps is not None else ""
            if b.seed is not None:
                print(f"  replay: lion-verify --seed {b.seed}{steps} ...", file=out)
    for b in binds:
        for warning in b.warnings:
            print(f"\nwarning: {warning}", file=out)
        if verbose and b.coverage is not None:
            print(f"\ncoverage of {b.chapter}.{b.name} ({b.backend}):", file=out)
            for line in b.coverage.lines():
                print(f"  {line}", file=out)


def _summary(results: list[Result]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status.value] = counts.get(r.status.value, 0) + 1
    return counts


def _index(
    modules: list[ast.Module],
    plans: list[tuple[ast.Module, dict[str, Strategy]]],
    results: list[Result],
    *,
    write: bool,
) -> list[Path]:
    """Write or compare the generated index files; returns the stale ones."""
    root = _project_root(modules[0].path)
    strategies = {m.path: s for m, s in plans}
    by_name = {(r.path, r.name): r for r in results}
    texts = {
        root / THEOREMS_DOC: render(modules, strategies),
        root / PROOFS_INDEX: render(modules, strategies, by_name),
    }
    stale = []
    for path, text in texts.items():
        if write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        elif not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
    return stale


def _error_json(code: int, kind: str, message: str, location: dict[str, Any] | None) -> str:
    error = {"kind": kind, "message": message, "location": location}
    return json.dumps({"ok": False, "exit_code": code, "error": error}, indent=2)


def _usage_location(message: str) -> dict[str, Any]:
    # argparse says "argument --timeout: invalid float value: 'x'"
    if message.startswith("argument "):
        return {"argument": message[len("argument ") :].split(":", 1)[0]}
    return {"argument": None}


def run(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    """Run lion-verify on `argv`, writing to the given streams; returns the exit code."""
    if argv and argv[0] == "audit":
        from lion.verify.cli_audit import audit

        return audit(argv[1:], stdout, stderr)
    if argv and argv[0] == "mutate":
        from lion.verify.cli_mutate import mutate

        return mutate(argv[1:], stdout, stderr)
    try:
        return _run(argv, stdout, stderr)
    except _BadInput as exc:
        if not exc.shown:
            print(f"lion-verify: {exc.text()}", file=stderr)
        if "--json" in argv:
            print(_error_json(EXIT_BAD_INPUT, "bad input", exc.message, exc.location), file=stdout)
        return EXIT_BAD_INPUT


def _run(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    try:
        args = _arguments().parse_args(list(argv))
    except _UsageError as exc:
        raise _BadInput(f"error: {exc}", _usage_location(str(exc))) from None
    if args.examples < 0:
        raise _BadInput("error: --examples must be 0 or more", {"argument": "--examples"})
    if args.timeout <= 0:
        raise _BadInput("error: --timeout must be positive", {"argument": "--timeout"})
    if args.max_steps is not None and args.max_steps < 1:
        raise _BadInput("error: --max-steps must be 1 or more", {"argument": "--max-steps"})
    if args.walk_steps is not None and args.walk_steps < 0:
        raise _BadInput("error: --walk-steps must be 0 or more", {"argument": "--walk-steps"})
    if args.seed is not None and not 0 <= args.seed < 2**32:
        raise _BadInput("error: --seed must be in [0, 2**32)", {"argument": "--seed"})
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)

    def progress(text: str) -> None:
        if not args.quiet:
            print(text, file=stderr, flush=True)

    try:
        modules = load_paths(args.paths)
        plans = [(m, _proofs_for(m, args.proofs)) for m in modules]
        backends = _backends(args.backend)
    except LionError as exc:  # SpecError, BackendError
        raise _BadInput.from_error(exc) from None
    if args.examples:
        problems = check_targets(modules, backends)
        for problem in problems:
            print(f"lion-verify: {problem}", file=stderr)
        if problems:
            raise _BadInput("; ".join(problems), shown=True)
    only = set(args.only) if args.only else None
    if only is not None and (args.write_index or args.check_index):
        raise _BadInput(
            "error: the index covers every obligation; drop --only", {"argument": "--only"}
        )
    total = 0
    extra = 0  # obligations --only did not name that an answer may depend on
    for m, strategies in plans:
        names = obligation_names(m)
        if only is None:
            total += len(names)
            continue
        asked = {n for n in names if n in only or f"{m.chapter}.{n}" in only}
        total += len(asked)
        extra += len(with_dependencies(dependencies(m, strategies), asked)) - len(asked)
    if only is not None and total == 0:
        raise _BadInput(
            f"error: --only names no theorem or invariant: {', '.join(sorted(only))}",
            {"argument": "--only"},
        )

    also = f" (and up to {extra} they depend on, proved as needed, not shown)" if extra else ""
    progress(f"lion-verify: {len(modules)} spec file(s), {total} obligation(s){also}")
    results: list[Result] = []
    started = time.perf_counter()
    try:
        for module, strategies in plans:
            for r in prove_module(module, strategies, timeout=args.timeout, only=only):
                results.append(r)
                progress(
                    f"[{len(results)}/{total}] {r.chapter}.{r.name}: {r.status.value} "
                    f"({r.seconds:.2f} s)"
                )
        binds: list[BindResult] = []
        if args.examples and only is None:
            corpus = args.corpus if args.corpus is not None else _default_corpus(modules)
            todo = [(m, b) for m in modules for b in m.binds]
            progress(f"lion-verify: conformance with --seed {seed}")
            for m, b in todo:
                checked = check_bind(
                    m,
                    b,
                    examples=args.examples,
                    backends=backends,
                    corpus=corpus,
                    seed=seed,
                    max_steps=args.max_steps,
                    walk_steps=args.walk_steps,
                )
                binds.append(checked)
                steps = f", runs up to {checked.max_steps} steps" if checked.max_steps else ""
                if checked.walk_steps:
                    steps += f" after a walk of up to {checked.walk_steps}"
                progress(
                    f"[conformance {len(binds)}/{len(todo)}] {m.chapter}.{b.name} "
                    f"({checked.backend}): {'OK' if checked.ok else 'FAILED'} "
                    f"({checked.examples} examples{steps}, {checked.seconds:.2f} s)"
                )
    except (VerifyError, SpecError) as exc:
        raise _BadInput.from_error(exc) from None
    elapsed = time.perf_counter() - started
    ok = all(r.status.ok for r in results) and all(b.ok for b in binds)
    cross = None
    if args.export_smt is not None or args.cross_check:
        from lion.verify.cross_check import second_opinion

        try:
            cross = second_opinion(
                plans,
                results,
                export=args.export_smt,
                cross=args.cross_check,
                timeout=args.timeout,
                progress=progress,
            )
        except VerifyError as exc:
            raise _BadInput.from_error(exc) from None
    if args.write_index or args.check_index:
        stale = _index(modules, plans, results, write=args.write_index)
        for path in stale:
            print(f"lion-verify: {path} is stale: run `lion-verify --write-index`", file=stderr)
        ok = ok and not stale
    code = EXIT_OK if ok else EXIT_FAILED
    if cross is not None and cross.disagreements:
        code = EXIT_INTERNAL  # a solver is wrong, or lion-verify's encoding is
    try:
        _report(args, results, binds, elapsed, seed if binds else None, ok, stdout, cross)
    except PipeClosed:
        return code  # every check ran: the reader just stopped reading
    return code


def _report(
    args: argparse.Namespace,
    results: list[Result],
    binds: list[BindResult],
    elapsed: float,
    seed: int | None,
    ok: bool,
    stdout: TextIO,
    cross: Any = None,
) -> None:
    counts = _summary(results)
    if args.json:
        failed = cross is not None and cross.disagreements
        json.dump(
            {
                "ok": ok and not failed,
                "exit_code": EXIT_INTERNAL if failed else EXIT_OK if ok else EXIT_FAILED,
                "seconds": round(elapsed, 3),
                "seed": seed,
                "summary": counts,
                "results": [r.to_json() for r in results],
                "conformance": [b.to_json() for b in binds],
                **({"cross_check": cross.to_json()} if cross is not None else {}),
            },
            stdout,
            indent=2,
        )
        print(file=stdout)
    else:
        _table(results, stdout)
        _details(results, stdout)
        if binds:
            _bind_table(binds, stdout, verbose=args.verbose)
        summary = ", ".join(f"{n} {k.lower()}" for k, n in sorted(counts.items()))
        conforming = sum(1 for b in binds if b.ok)
        tail = f"; {conforming}/{len(binds)} bind(s) conform" if binds else ""
        print(f"\n{len(results)} obligation(s) in {elapsed:.1f} s: {summary}{tail}", file=stdout)
        if cross is not None:
            print("cross-check of the SMT-LIB 2 queries:", file=stdout)
            for line in [*cross.summary(), *(f"DISAGREEMENT: {d}" for d in cross.disagreements)]:
                print(f"  {line}", file=stdout)
    stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns (and exits with) the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    out, err = PipeGuard(sys.stdout, stop=True), PipeGuard(sys.stderr, stop=True)
    stdout, stderr = cast(TextIO, out), cast(TextIO, err)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = stdout, stderr  # argparse's --help writes to sys.stdout
    try:
        code = run(args, stdout, stderr)
    except PipeClosed:
        code = EXIT_OK  # the reader went away before the checks ended: stop quietly
    except SystemExit as exc:  # --help
        code = exc.code if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:
        _quietly(stderr, "lion-verify: interrupted")
        code = 130
    except Exception as exc:
        lines = [
            "lion-verify: internal error (this is a bug in lion-verify):",
            traceback.format_exc().rstrip(),
        ]
        _quietly(stderr, "\n".join(lines))
        if "--json" in args:
            message = f"{type(exc).__name__}: {exc}"
            _quietly(stdout, _error_json(EXIT_INTERNAL, "internal error", message, None))
        code = EXIT_INTERNAL
    with contextlib.suppress(PipeClosed):
        out.flush()
    with contextlib.suppress(PipeClosed):
        err.flush()
    sys.stdout, sys.stderr = saved
    if argv is None:
        sys.exit(code)
    return code


def _quietly(stream: TextIO, text: str) -> None:
    """Print, unless the reader has gone away."""
    with contextlib.suppress(PipeClosed):
        print(text, file=stream, flush=True)


if __name__ == "__main__":
    main()
