"""`lion-verify audit FILE [--json] [--key-file KEY]`: check an audit trail
(lion.kernel.audit) against the Integration chapter; see docs/audit.md.

Exit codes as for `lion-verify`: 0 chain, seal and mediation hold, 1 a finding
(the first violating line is printed), 2 bad input (with --json, as a JSON
error object on stdout), 3 internal error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from lion.errors import KernelError
from lion.kernel.audit import read_audit
from lion.verify.cli import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    _error_json,
    _Parser,
    _usage_location,
    _UsageError,
)

__all__ = ["audit"]


def audit(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    p = _Parser(prog="lion-verify audit", description="Check a LION audit trail.")
    p.add_argument("file", type=Path, metavar="FILE", help="the audit file (JSON Lines)")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.add_argument(
        "--key-file", type=Path, metavar="KEY", help="the HMAC key the file was written with"
    )
    as_json = "--json" in argv

    def bad(message: str, location: dict[str, Any]) -> int:
        print(f"lion-verify audit: {message}", file=stderr)
        if as_json:
            print(_error_json(EXIT_BAD_INPUT, "bad input", message, location), file=stdout)
        return EXIT_BAD_INPUT

    try:
        args = p.parse_args(list(argv))
    except _UsageError as exc:
        return bad(f"error: {exc}", _usage_location(str(exc)))
    if not args.file.is_file():
        return bad(f"`{args.file}` is not a file", {"path": str(args.file)})
    try:
        key = args.key_file.read_bytes().rstrip(b"\r\n") if args.key_file else None
        report = read_audit(args.file, key=key)
    except (OSError, KernelError) as exc:
        return bad(str(exc), {"path": str(args.file)})
    first = report.first
    if args.json:
        json.dump({"path": str(args.file), **report.to_json()}, stdout, indent=2)
        print(file=stdout)
    elif first is None:
        print(
            f"{args.file}: OK: {len(report.observations)} observation(s); chain, seal and "
            "mediation hold",
            file=stdout,
        )
    else:
        for f in report.findings:
            print(f"{args.file}:{f.line}: {f.kind}: {f.message}", file=stdout)
        print(
            f"{args.file}: FAILED: {len(report.findings)} finding(s), "
            f"first violating line {first.line}",
            file=stdout,
        )
    return EXIT_OK if first is None else EXIT_FAILED
