"""`lion policy check-parse` and `lion policy format`: policy files as text."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from typing import Any, TextIO

from lion.errors import PolicyError
from lion.kernel.policy import PolicySet
from lion.policy._cli_io import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    BadInput,
    read_text,
)
from lion.policy.format import format_policies

__all__ = ["add_check_parse_arguments", "add_format_arguments", "check_parse", "format_files"]


def add_check_parse_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="policy files (- reads stdin)")


def add_format_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="policy files (- reads stdin)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 if some file is not in canonical form",
    )
    mode.add_argument(
        "--write", action="store_true", help="rewrite the files that are not in canonical form"
    )


def _problem(exc: BadInput) -> dict[str, Any]:
    return {"message": exc.message, "location": exc.location, "text": exc.text()}


def _caret(exc: PolicyError) -> str:
    location = getattr(exc, "location", None)
    caret = location.caret() if location is not None else ""
    return "\n" + caret if caret else ""


def check_parse(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO | None = None
) -> int:
    """Exit 0 when every file parses, 1 when one does not, 2 when one cannot be read."""
    results: list[dict[str, Any]] = []
    code = EXIT_OK
    for path in args.files:
        entry: dict[str, Any] = {"path": path}
        try:
            text = read_text(path, stdin)
            try:
                policies = PolicySet.from_str(text, path)
            except PolicyError as exc:
                bad = BadInput.from_error(exc, path)
                entry.update(ok=False, error=_problem(bad))
                code = max(code, EXIT_FAILED)
                if not args.json:
                    print(bad.text() + _caret(exc), file=stdout)
            else:
                templates = len(getattr(policies, "templates", ()))
                entry.update(ok=True, policies=len(policies), templates=templates)
                if not args.json:
                    extra = f", {templates} template(s)" if templates else ""
                    print(f"{path}: ok ({len(policies)} policies{extra})", file=stdout)
        except BadInput as exc:
            entry.update(ok=False, error=_problem(exc))
            code = EXIT_BAD_INPUT
            print(f"lion policy: {exc.text()}", file=stderr)
        results.append(entry)
    if args.json:
        out = {"ok": code == EXIT_OK, "exit_code": code, "files": results}
        print(json.dumps(out, indent=2), file=stdout)
    return code


def _write(path: str, text: str) -> None:
    """Replace ``path`` atomically, keeping its permissions (a symlink's target is replaced)."""
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    mode = os.stat(path).st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".lion-format-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def format_files(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO | None = None
) -> int:
    """Print, check (exit 1 if a file would change) or rewrite files in canonical form.

    A file that cannot be read or does not parse is bad input (exit 2); the
    other files are still handled.
    """
    results: list[dict[str, Any]] = []
    bad = False
    changed_any = False
    for path in args.files:
        entry: dict[str, Any] = {"path": path}
        try:
            text = read_text(path, stdin)
            try:
                formatted = format_policies(text, path)
            except PolicyError as exc:
                raise BadInput.from_error(exc, path) from None
        except BadInput as exc:
            bad = True
            entry.update(ok=False, error=_problem(exc))
            print(f"lion policy: {exc.text()}", file=stderr)
            results.append(entry)
            continue
        changed = formatted != text
        changed_any = changed_any or changed
        entry.update(ok=True, changed=changed)
        if args.write and changed and path != "-":
            try:
                _write(path, formatted)
            except OSError as exc:
                problem = BadInput(f"cannot write: {exc.strerror or exc}", {"path": path})
                bad = True
                entry.update(ok=False, error=_problem(problem))
                print(f"lion policy: {problem.text()}", file=stderr)
                results.append(entry)
                continue
        if args.json:
            if not (args.check or args.write) or path == "-":
                entry["formatted"] = formatted
        elif args.check:
            if changed:
                print(f"would reformat {path}", file=stdout)
        elif args.write and path != "-":
            if changed:
                print(f"reformatted {path}", file=stdout)
        else:
            if len(args.files) > 1:
                print(f"// ==> {path} <==", file=stdout)
            stdout.write(formatted)
        results.append(entry)
    if bad:
        code = EXIT_BAD_INPUT
    elif args.check and changed_any:
        code = EXIT_FAILED
    else:
        code = EXIT_OK
    if args.json:
        out = {"ok": code == EXIT_OK, "exit_code": code, "files": results}
        print(json.dumps(out, indent=2), file=stdout)
    elif args.check and not bad and not changed_any:
        print(f"{len(results)} file(s) already formatted", file=stdout)
    return code
