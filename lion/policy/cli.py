"""`lion policy`: authorize, check-parse, format, validate and analyze Cedar policies.

Exit codes, as `lion-verify` (and Cedar's CLI) use them:

  0  yes / ok: PERMIT, every file parses or is formatted, the property holds
  1  the check said no: DENY or INDETERMINATE, a file does not parse or would be
     reformatted (--check), a validation issue, a counterexample (or Z3 gave up)
  2  bad input: a file that cannot be read, bad JSON or policy text, a bad uid,
     a bad option; reported as ``path:line:col: message`` on stderr
  3  internal error: the tool broke (please report it)

With ``--json`` every verb prints one JSON object on stdout, errors included:
``{"ok": false, "exit_code": 2, "error": {"kind": "bad input", "message": ...,
"location": {"path", "line", "column"} or {"path"} or {"argument"}}}``.
A closed output pipe (``lion policy format big.cedar | head -1``) is ignored:
the verb finishes quietly and exits with its own code. ``validate`` and
``analyze`` exist when ``lion.policy.validate`` and ``lion.policy.analyze`` do.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import traceback
from collections.abc import Sequence
from typing import TextIO, cast

from lion.policy import _cli_authorize, _cli_text
from lion.policy._cli_io import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_OK,
    BadInput,
    PipeGuard,
    error_json,
)

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_INTERNAL", "EXIT_OK", "main", "run"]

PROG = "lion"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _arguments() -> argparse.ArgumentParser:
    top = _Parser(
        prog=PROG,
        description="LION's command line.",
        epilog="exit codes: 0 yes/ok, 1 the check said no, 2 bad input, 3 internal error",
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    policy = commands.add_parser(
        "policy",
        help="authorize requests, check, format, validate and analyze Cedar policies",
        description="Cedar-syntax policies: decide, parse, format, validate, analyze.",
        epilog="exit codes: 0 yes/ok, 1 the check said no, 2 bad input, 3 internal error",
    )
    verbs = policy.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)

    def verb(name: str, help_text: str) -> argparse.ArgumentParser:
        p = verbs.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        return p

    _cli_authorize.add_arguments(
        verb("authorize", "decide one request: PERMIT (exit 0), DENY or INDETERMINATE (exit 1)")
    )
    _cli_text.add_check_parse_arguments(
        verb("check-parse", "check that policy files parse (exit 1 if one does not)")
    )
    _cli_text.add_format_arguments(
        verb("format", "print policy files in canonical form (or --check, or --write)")
    )
    if _available("lion.policy.validate"):
        from lion.policy import _cli_analyze

        _cli_analyze.add_validate_arguments(
            verb("validate", "validate policies against a Cedar schema (exit 1 on an issue)")
        )
    if _available("lion.policy.analyze"):
        from lion.policy import _cli_analyze

        _cli_analyze.add_analyze_arguments(
            verb(
                "analyze",
                "check a property with Z3; exit 1 with a counterexample when it does not hold",
            )
        )
    return top


def _usage_location(message: str) -> dict[str, object]:
    # argparse says "argument --backend: invalid choice: ..."
    if message.startswith("argument "):
        return {"argument": message[len("argument ") :].split(":", 1)[0]}
    return {"argument": None}


def run(argv: Sequence[str], stdout: TextIO, stderr: TextIO, stdin: TextIO | None = None) -> int:
    """Run `lion` on ``argv`` with the given streams; returns the exit code."""
    try:
        return _run(list(argv), stdout, stderr, stdin)
    except BadInput as exc:
        print(f"{PROG} policy: {exc.text()}", file=stderr)
        if "--json" in argv:
            print(error_json(EXIT_BAD_INPUT, "bad input", exc.message, exc.location), file=stdout)
        return EXIT_BAD_INPUT


def _run(argv: list[str], stdout: TextIO, stderr: TextIO, stdin: TextIO | None) -> int:
    parser = _arguments()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        raise BadInput(f"error: {exc}", _usage_location(str(exc))) from None
    if args.command is None:
        raise BadInput("error: give a command, such as `lion policy authorize`", {"argument": None})
    if args.verb is None:
        raise BadInput(
            "error: give a verb: authorize, check-parse, format, validate or analyze",
            {"argument": None},
        )
    if args.verb == "authorize":
        return _cli_authorize.authorize(args, stdout, stdin)
    if args.verb == "check-parse":
        return _cli_text.check_parse(args, stdout, stderr, stdin)
    if args.verb == "format":
        return _cli_text.format_files(args, stdout, stderr, stdin)
    from lion.policy import _cli_analyze

    if args.verb == "validate":
        return _cli_analyze.validate_files(args, stdout, stdin)
    try:
        return _cli_analyze.analyze(args, stdout, stdin)
    except _cli_analyze.InternalFailure as exc:
        raise _Internal(str(exc)) from exc


class _Internal(Exception):
    """An internal error found by a verb (not a crash): exit 3 with its message."""


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point `lion`; returns (and, from the console, exits with) the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    out, err = PipeGuard(sys.stdout), PipeGuard(sys.stderr)
    stdout, stderr = cast(TextIO, out), cast(TextIO, err)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = stdout, stderr  # argparse's --help writes to sys.stdout
    try:
        code = run(args, stdout, stderr)
    except SystemExit as exc:  # --help
        code = exc.code if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:
        _quietly(stderr, f"{PROG}: interrupted")
        code = 130
    except Exception as exc:
        known = isinstance(exc, _Internal)
        text = str(exc) if known else traceback.format_exc().rstrip()
        _quietly(stderr, f"{PROG}: internal error (this is a bug in lion):\n{text}")
        if "--json" in args:
            message = str(exc) if known else f"{type(exc).__name__}: {exc}"
            _quietly(stdout, error_json(EXIT_INTERNAL, "internal error", message, None))
        code = EXIT_INTERNAL
    out.flush()
    err.flush()
    sys.stdout, sys.stderr = saved
    if argv is None:
        sys.exit(code)
    return code


def _quietly(stream: TextIO, text: str) -> None:
    print(text, file=stream, flush=True)


if __name__ == "__main__":
    main()
