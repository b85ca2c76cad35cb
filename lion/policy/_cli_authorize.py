"""`lion policy authorize`: decide one request and say why."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from lion.errors import BackendError, PolicyError
from lion.kernel.decision import Decision
from lion.kernel.policy import Entities, PolicySet, Request, Response
from lion.kernel.policy._entities import uid_from_json
from lion.policy._cli_io import (
    EXIT_FAILED,
    EXIT_OK,
    BadInput,
    locate_error,
    read_json,
    read_text,
)

__all__ = ["add_arguments", "authorize"]

_UID_FLAGS = ("principal", "action", "resource")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policies", required=True, metavar="FILE", help="Cedar policy text")
    p.add_argument(
        "--entities", metavar="FILE", help="Cedar entities JSON (a list; default: no entities)"
    )
    p.add_argument(
        "--request",
        metavar="FILE",
        help='Cedar request JSON: {"principal", "action", "resource", "context"}',
    )
    for name in _UID_FLAGS:
        p.add_argument(
            f"--{name}",
            metavar="UID",
            help=f'the {name}: Cedar uid text such as `User::"alice"`, or JSON '
            '{"type": ..., "id": ...} (instead of --request)',
        )
    p.add_argument(
        "--context", metavar="JSON", help="the context: a JSON object, or @FILE (default: {})"
    )
    p.add_argument(
        "--template-links",
        metavar="FILE",
        help='Cedar template-links JSON: [{"templateId", "newId", "values"}]',
    )
    p.add_argument(
        "--backend",
        choices=["python", "rust"],
        default="python",
        help="which kernel decides (default: python, the reference)",
    )


def _uid_argument(name: str, value: str) -> Any:
    """Cedar uid text or JSON, checked here so the error names the option."""
    text = value.strip()
    data: Any = value
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput(
                f"invalid JSON at column {exc.colno}: {exc.msg.lower()}", {"argument": f"--{name}"}
            ) from None
    try:
        uid_from_json(data, f"--{name}")
    except PolicyError as exc:
        message = str(exc).removeprefix(f"--{name}: ")
        raise BadInput(message, {"argument": f"--{name}"}) from None
    return data


def _request(args: argparse.Namespace, stdin: TextIO | None) -> dict[str, Any]:
    given = [name for name in (*_UID_FLAGS, "context") if getattr(args, name) is not None]
    if args.request is not None:
        if given:
            raise BadInput(
                f"give either --request or --{given[0]}, not both", {"argument": "--request"}
            )
        text = read_text(args.request, stdin)
        data = read_json(text, args.request)
        if not isinstance(data, dict):
            raise BadInput("a request must be a JSON object", {"path": args.request})
        try:
            Request.from_json(data)
        except PolicyError as exc:
            raise locate_error(str(exc), text, args.request, {"request": ""}) from None
        return data
    missing = [f"--{name}" for name in _UID_FLAGS if getattr(args, name) is None]
    if missing:
        raise BadInput(
            f"give --request, or --principal, --action and --resource (missing {missing[0]})",
            {"argument": missing[0]},
        )
    request = {name: _uid_argument(name, getattr(args, name)) for name in _UID_FLAGS}
    context: Any = {}
    if args.context is not None:
        if args.context.startswith("@"):
            source = args.context[1:]
            text = read_text(source, stdin)
            context = read_json(text, source)
        else:
            source, text = "--context", args.context
            try:
                context = json.loads(text)
            except json.JSONDecodeError as exc:
                raise BadInput(
                    f"invalid JSON at column {exc.colno}: {exc.msg.lower()}",
                    {"argument": "--context"},
                ) from None
        request["context"] = context
        try:
            Request.from_json(request)
        except PolicyError as exc:
            if source == "--context":
                raise BadInput(str(exc), {"argument": "--context"}) from None
            raise locate_error(str(exc), text, source, {"request": ".context"}) from None
    else:
        request["context"] = context
    return request


def _policies(args: argparse.Namespace, stdin: TextIO | None) -> Any:
    text = read_text(args.policies, stdin)
    try:
        if args.backend == "rust":
            from lion.kernel.backend import get_backend

            engine: Any = get_backend("rust").policy_set(text, args.policies)
        else:
            engine = PolicySet.from_str(text, args.policies)
    except BackendError as exc:
        raise BadInput(str(exc), {"argument": "--backend"}) from None
    except PolicyError as exc:
        raise BadInput.from_error(exc, args.policies) from None
    if args.template_links is not None:
        links_text = read_text(args.template_links, stdin)
        links = read_json(links_text, args.template_links)
        try:
            engine = engine.link_all(links)
        except PolicyError as exc:
            raise locate_error(str(exc), links_text, args.template_links, {"links": ""}) from None
    return engine


def _entities(args: argparse.Namespace, stdin: TextIO | None) -> Any:
    if args.entities is None:
        return None
    text = read_text(args.entities, stdin)
    data = read_json(text, args.entities)
    try:
        if args.backend == "rust":
            from lion.kernel.backend import get_backend

            return get_backend("rust").entities(data)
        return Entities.from_json(data)
    except PolicyError as exc:
        raise locate_error(str(exc), text, args.entities, {"entities": ""}) from None


def decide(args: argparse.Namespace, stdin: TextIO | None = None) -> Response:
    """Read the inputs (BadInput on any problem) and decide the request."""
    engine = _policies(args, stdin)
    entities = _entities(args, stdin)
    request = _request(args, stdin)
    try:
        response: Response = engine.evaluate(request, entities)
    except PolicyError as exc:  # anything the checks above let through
        raise BadInput(str(exc)) from None
    return response


def authorize(args: argparse.Namespace, stdout: TextIO, stdin: TextIO | None = None) -> int:
    response = decide(args, stdin)
    code = EXIT_OK if response.decision is Decision.PERMIT else EXIT_FAILED
    if args.json:
        out = {
            "ok": code == EXIT_OK,
            "exit_code": code,
            "decision": response.decision.name,
            "determining": list(response.determining),
            "erroring": list(response.erroring),
            "errors": [{"policy_id": e.policy_id, "message": e.message} for e in response.errors],
            "explanation": response.explain(),
            "backend": args.backend,
        }
        print(json.dumps(out, indent=2), file=stdout)
    else:
        print(f"decision: {response.decision.name}", file=stdout)
        print(f"determining: {', '.join(response.determining) or '(none)'}", file=stdout)
        print(f"erroring: {', '.join(response.erroring) or '(none)'}", file=stdout)
        print(response.explain(), file=stdout)
    return code
