"""Resource patterns: which concrete resources a capability's `resource` pattern covers.

A resource is a `/`-separated path of non-empty segments (no `*`, `.` or
`..`); a pattern is `a/b` (exactly that), `a/b/*` (everything strictly below
`a/b`) or `*` (everything). The functions are total and fail closed: invalid
input covers nothing and is narrower than nothing. `lion.kernel.capability`
re-exports them.
"""

from __future__ import annotations

__all__ = ["covers", "is_pattern", "is_resource", "narrower_or_equal"]


def is_resource(resource: object) -> bool:
    """True if `resource` is a concrete resource: `/`-separated segments.

    Each segment is non-empty, has no `*`, and is not `.` or `..` (so a scope
    like `docs/*` can never be escaped by path traversal).
    """
    if not isinstance(resource, str) or not resource:
        return False
    return all(
        segment and "*" not in segment and segment not in (".", "..")
        for segment in resource.split("/")
    )


def is_pattern(pattern: object) -> bool:
    """True if `pattern` is `*` (everything), a concrete resource, or `<resource>/*`."""
    if not isinstance(pattern, str):
        return False
    if pattern == "*" or is_resource(pattern):
        return True
    return pattern.endswith("/*") and is_resource(pattern[:-2])


def covers(pattern: str, resource: str) -> bool:
    """True if `pattern` matches the concrete `resource`.

    `a/b` matches only `a/b`; `a/b/*` matches every resource strictly below
    `a/b` (`a/b/c`, `a/b/c/d`) but not `a/b` itself; `*` matches every
    resource. An invalid pattern or resource matches nothing (fail closed).
    """
    if not is_pattern(pattern) or not is_resource(resource):
        return False
    if pattern == "*" or pattern == resource:
        return True
    return pattern.endswith("/*") and resource.startswith(pattern[:-1])


def narrower_or_equal(child: str, parent: str) -> bool:
    """True if every resource `child` covers is also covered by `parent`.

    Invalid patterns are never narrower than anything (fail closed).
    """
    if not is_pattern(child) or not is_pattern(parent):
        return False
    if parent == "*" or child == parent:
        return True
    # A concrete parent covers one resource; only that same pattern is within it.
    return parent.endswith("/*") and child != "*" and child.startswith(parent[:-1])
