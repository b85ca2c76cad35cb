"""`lion-verify mutate [PATH ...]`: the mutation score of each chapter.

Generates spec mutants (lion.verify.mutate) and reports, per chapter, how many
are refuted by a theorem, caught by conformance, equivalent (with the reason)
or survive, and lists the survivors. Progress goes to stderr; `--json` prints
one JSON object on stdout.

Exit codes as for `lion-verify`: 0 every non-equivalent mutant is killed, 1 some
mutant survived, 2 bad input, 3 internal error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from lion.errors import LionError, SpecError
from lion.kernel.backend import get_backend
from lion.spec.load import load_paths
from lion.verify.cli import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    _BadInput,
    _error_json,
    _Parser,
    _proofs_for,
    _usage_location,
    _UsageError,
)
from lion.verify.mutate import DEFAULT_EXAMPLES, ChapterReport, mutate_chapter

__all__ = ["mutate"]


def _arguments() -> _Parser:
    p = _Parser(
        prog="lion-verify mutate",
        description="Mutation testing of LION specs: do the theorems and binds kill every "
        "non-equivalent mutant of the model?",
        epilog="exit codes: 0 every non-equivalent mutant killed, 1 a mutant survived, "
        "2 bad input, 3 internal error",
    )
    p.add_argument("paths", nargs="*", default=["spec"], metavar="PATH")
    p.add_argument(
        "--chapter",
        action="append",
        metavar="NAME",
        help="only this chapter (its name or its file's stem); repeatable",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.add_argument(
        "--max",
        type=int,
        metavar="N",
        help="at most N mutants per chapter (the "
        "named ones always, the others sampled with --seed)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of the sampling and of the conformance inputs (default 0)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="per-obligation Z3 timeout while re-proving (default 3)",
    )
    p.add_argument(
        "--examples",
        type=int,
        default=DEFAULT_EXAMPLES,
        metavar="N",
        help=f"conformance inputs per bind and mutant (default {DEFAULT_EXAMPLES}; "
        "0 skips conformance)",
    )
    p.add_argument(
        "--backend",
        choices=["python", "rust"],
        default="python",
        help="the implementation conformance runs (default python)",
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="ID",
        help="judge only the mutant with this id (e.g. policy:bochvar-and)",
    )
    p.add_argument("--proofs", type=Path, metavar="DIR", help="directory of .proof files")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def _table(reports: list[ChapterReport], out: TextIO) -> None:
    header = (
        "chapter",
        "generated",
        "refuted",
        "caught",
        "survived",
        "equivalent",
        "killed",
        "time",
    )
    rows = [
        (
            r.chapter,
            str(len(r.outcomes)) + (f"/{r.available}" if r.available > len(r.outcomes) else ""),
            str(r.count("refuted")),
            str(r.count("caught")),
            str(r.count("survived")),
            str(r.count("equivalent")),
            f"{100 * r.score:.1f}%",
            f"{r.seconds:.1f} s",
        )
        for r in reports
    ]
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)
    for r in reports:
        for o in r.outcomes:
            if o.verdict == "survived":
                m = o.mutant
                print(f"\nSURVIVED {m.id} at {m.location()} ({m.where}): {m.description}", file=out)
                print(f"  {o.reason}", file=out)
        for o in r.outcomes:
            if o.verdict == "equivalent":
                m = o.mutant
                print(
                    f"\nequivalent {m.id} at {m.location()} ({m.where}): {m.description}: "
                    f"{o.reason}",
                    file=out,
                )


def mutate(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    as_json = "--json" in argv

    def bad(exc: _BadInput) -> int:
        print(f"lion-verify mutate: {exc.text()}", file=stderr)
        if as_json:
            print(_error_json(EXIT_BAD_INPUT, "bad input", exc.message, exc.location), file=stdout)
        return EXIT_BAD_INPUT

    try:
        args = _arguments().parse_args(list(argv))
    except _UsageError as exc:
        return bad(_BadInput(f"error: {exc}", _usage_location(str(exc))))
    for flag, value, low in (("--max", args.max, 1), ("--examples", args.examples, 0)):
        if value is not None and value < low:
            return bad(_BadInput(f"error: {flag} must be {low} or more", {"argument": flag}))
    if args.timeout <= 0:
        return bad(_BadInput("error: --timeout must be positive", {"argument": "--timeout"}))
    try:
        modules = load_paths(args.paths)
        plans = [(m, _proofs_for(m, args.proofs)) for m in modules]
        if args.examples:
            get_backend(args.backend)
    except LionError as exc:
        return bad(_BadInput.from_error(exc))
    if args.chapter:
        wanted = {c.lower() for c in args.chapter}
        plans = [
            (m, s)
            for m, s in plans
            if m.chapter.lower() in wanted or Path(m.path).stem.lower() in wanted
        ]
        if not plans:
            return bad(
                _BadInput(
                    f"error: no chapter named {', '.join(args.chapter)}", {"argument": "--chapter"}
                )
            )

    def progress(text: str) -> None:
        if not args.quiet:
            print(text, file=stderr, flush=True)

    started = time.perf_counter()
    reports: list[ChapterReport] = []
    try:
        for module, strategies in plans:
            report = mutate_chapter(
                module,
                strategies,
                limit=args.max,
                seed=args.seed,
                timeout=args.timeout,
                examples=args.examples,
                backend=args.backend,
                progress=progress,
                only_ids=args.only,
            )
            reports.append(report)
            progress(
                f"lion-verify mutate: {report.chapter}: {len(report.outcomes)} mutant(s), "
                f"{report.killed} killed, {report.count('survived')} survived, "
                f"{report.count('equivalent')} equivalent ({report.seconds:.1f} s)"
            )
    except SpecError as exc:
        return bad(_BadInput.from_error(exc))
    ok = all(r.ok for r in reports)
    code = EXIT_OK if ok else EXIT_FAILED
    if as_json:
        out: dict[str, Any] = {
            "ok": ok,
            "exit_code": code,
            "seed": args.seed,
            "seconds": round(time.perf_counter() - started, 2),
            "chapters": [r.to_json() for r in reports],
        }
        json.dump(out, stdout, indent=2)
        print(file=stdout)
    else:
        _table(reports, stdout)
        total = sum(len(r.outcomes) for r in reports)
        survived = sum(r.count("survived") for r in reports)
        print(
            f"\n{total} mutant(s) in {time.perf_counter() - started:.1f} s: {survived} survived",
            file=stdout,
        )
    stdout.flush()
    return code
