"""`lion policy validate` (against a Cedar schema) and `lion policy analyze` (Z3)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from lion.errors import AnalysisError, AnalysisInternalError, PolicyError
from lion.kernel.policy import PolicySet
from lion.policy._cli_io import EXIT_FAILED, EXIT_OK, BadInput, read_text

__all__ = [
    "QUERIES",
    "add_analyze_arguments",
    "add_validate_arguments",
    "analyze",
    "validate_files",
]

#: query -> how many policy sets it compares
QUERIES = {
    "equivalent": 2,
    "implies": 2,
    "diff": 2,
    "always-allows": 1,
    "always-denies": 1,
    "never-indeterminate": 1,
}


class InternalFailure(Exception):
    """The analysis broke (a counterexample did not replay): exit 3."""


def add_validate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--schema",
        required=True,
        metavar="FILE",
        help="Cedar schema: .cedarschema (human form) or .json",
    )
    p.add_argument("files", nargs="+", metavar="POLICIES", help="policy files (- reads stdin)")


def add_analyze_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", choices=list(QUERIES), help="the property to check")
    p.add_argument("a", metavar="A", help="policy file")
    p.add_argument(
        "b", metavar="B", nargs="?", help="second policy file (equivalent, implies, diff)"
    )
    p.add_argument("--schema", metavar="FILE", help="only requests that conform to this schema")
    p.add_argument(
        "--limit",
        type=int,
        default=10,
        metavar="N",
        help="diff: at most N differing requests (default 10)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="Z3's budget per check (default 60)",
    )


def _schema(path: str, stdin: TextIO | None) -> Any:
    from lion.policy.schema import Schema

    text = read_text(path, stdin)
    try:
        if path.endswith(".json") or (
            not path.endswith(".cedarschema") and text.lstrip().startswith("{")
        ):
            return Schema.from_json(text, path)
        return Schema.from_cedar(text, path)
    except PolicyError as exc:  # SchemaError
        raise BadInput.from_error(exc, path) from None


def _policy_set(path: str, stdin: TextIO | None) -> PolicySet:
    text = read_text(path, stdin)
    try:
        return PolicySet.from_str(text, path)
    except PolicyError as exc:
        raise BadInput.from_error(exc, path) from None


def validate_files(args: argparse.Namespace, stdout: TextIO, stdin: TextIO | None = None) -> int:
    """Exit 0 when every policy validates, 1 with the issues otherwise."""
    from lion.policy.validate import validate

    schema = _schema(args.schema, stdin)
    files: list[dict[str, Any]] = []
    code = EXIT_OK
    for path in args.files:
        policies = _policy_set(path, stdin)
        try:
            report = validate(policies, schema, path=path)
        except PolicyError as exc:
            raise BadInput.from_error(exc, path) from None
        if not report.ok:
            code = EXIT_FAILED
        issues = [
            {
                "kind": i.kind,
                "message": i.message,
                "policy_id": i.policy_id,
                "location": {"path": i.path, "line": i.line, "column": i.column},
                "text": str(i),
            }
            for i in report.issues
        ]
        files.append({"path": path, "ok": report.ok, "issues": issues})
        if not args.json:
            for issue in report.issues:
                print(str(issue), file=stdout)
            if report.ok:
                print(f"{path}: ok ({len(policies)} policies validate)", file=stdout)
    if args.json:
        out = {"ok": code == EXIT_OK, "exit_code": code, "files": files}
        print(json.dumps(out, indent=2), file=stdout)
    return code


_UNDECIDED = "could not decide"


def _undecided(args: argparse.Namespace, message: str, stdout: TextIO) -> int:
    if args.json:
        out = {
            "ok": False,
            "exit_code": EXIT_FAILED,
            "query": args.query,
            "holds": None,
            "message": message,
            "counterexamples": [],
        }
        print(json.dumps(out, indent=2), file=stdout)
    else:
        print(f"{args.query}: unknown ({message})", file=stdout)
    return EXIT_FAILED


def _counterexample_json(c: Any) -> dict[str, Any]:
    return {
        "request": c.request,
        "entities": c.entities,
        "decisions": c.decisions,
        "unknown": {k: list(v) for k, v in getattr(c, "unknown", {}).items()},
    }


def analyze(args: argparse.Namespace, stdout: TextIO, stdin: TextIO | None = None) -> int:
    """Exit 0 when the property holds, 1 with counterexamples when it does not."""
    from lion.policy import analyze as queries

    want = QUERIES[args.query]
    if want == 2 and args.b is None:
        raise BadInput(f"`{args.query}` compares two policy files: give A and B", {"argument": "B"})
    if want == 1 and args.b is not None:
        raise BadInput(f"`{args.query}` takes one policy file, got two", {"argument": "B"})
    if args.limit < 1:
        raise BadInput("--limit must be 1 or more", {"argument": "--limit"})
    if args.timeout <= 0:
        raise BadInput("--timeout must be positive", {"argument": "--timeout"})
    sets: list[Any] = []
    for path in (args.a, args.b):
        if path is not None:
            parsed = _policy_set(path, stdin)  # bad text is reported here, with its place
            sets.append(parsed if path == "-" else Path(path))
    schema = _schema(args.schema, stdin) if args.schema is not None else None
    timeout_ms = max(1, int(args.timeout * 1000))
    try:
        if args.query == "diff":
            answer = queries.diff(sets[0], sets[1], schema, limit=args.limit, timeout_ms=timeout_ms)
        else:
            function = getattr(queries, args.query.replace("-", "_"))
            answer = function(*sets, schema, timeout_ms=timeout_ms)
    except AnalysisInternalError as exc:
        raise InternalFailure(str(exc)) from exc
    except AnalysisError as exc:
        if _UNDECIDED in str(exc):  # Z3 gave up (timeout): not a yes, as lion-verify's UNKNOWN
            return _undecided(args, str(exc), stdout)
        raise BadInput.from_error(exc) from None
    except PolicyError as exc:
        raise BadInput.from_error(exc) from None
    code = EXIT_OK if answer.holds else EXIT_FAILED
    examples = [_counterexample_json(c) for c in answer.counterexamples]
    if args.json:
        out = {
            "ok": answer.holds,
            "exit_code": code,
            "query": args.query,
            "holds": answer.holds,
            "counterexamples": examples,
        }
        print(json.dumps(out, indent=2), file=stdout)
        return code
    names = " ".join(p for p in (args.a, args.b) if p is not None)
    diff = args.query == "diff"
    if answer.holds:
        verdict = "no request is decided differently" if diff else "holds"
        print(f"{args.query} {names}: {verdict}", file=stdout)
        return code
    verdict = f"{len(examples)} request(s) decided differently" if diff else "does not hold"
    print(f"{args.query} {names}: {verdict}", file=stdout)
    for number, example in enumerate(examples, 1):
        decisions = ", ".join(f"{k}: {v}" for k, v in example["decisions"].items())
        print(f"\n{'request' if diff else 'counterexample'} {number} ({decisions})", file=stdout)
        print("request:", file=stdout)
        print(json.dumps(example["request"], indent=2), file=stdout)
        print("entities:", file=stdout)
        print(json.dumps(example["entities"], indent=2), file=stdout)
    return code
