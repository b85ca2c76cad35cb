//! Resource patterns: `a/b` names one resource, `a/b/*` every resource strictly
//! below `a/b`, `*` every resource. Invalid input covers nothing (fail closed).

/// A concrete resource: `/`-separated non-empty segments, none `*`-bearing, `.` or `..`.
pub fn is_resource(resource: &str) -> bool {
    !resource.is_empty()
        && resource
            .split('/')
            .all(|s| !s.is_empty() && !s.contains('*') && s != "." && s != "..")
}

/// `*`, a concrete resource, or `<resource>/*`.
pub fn is_pattern(pattern: &str) -> bool {
    if pattern == "*" || is_resource(pattern) {
        return true;
    }
    pattern.strip_suffix("/*").is_some_and(is_resource)
}

/// True if `pattern` matches the concrete `resource` (invalid input matches nothing).
pub fn covers(pattern: &str, resource: &str) -> bool {
    if !is_pattern(pattern) || !is_resource(resource) {
        return false;
    }
    if pattern == "*" || pattern == resource {
        return true;
    }
    pattern
        .strip_suffix('*')
        .is_some_and(|prefix| prefix.ends_with('/') && resource.starts_with(prefix))
}

/// True if every resource `child` covers is also covered by `parent` (fail closed).
pub fn narrower_or_equal(child: &str, parent: &str) -> bool {
    if !is_pattern(child) || !is_pattern(parent) {
        return false;
    }
    if parent == "*" || child == parent {
        return true;
    }
    child != "*"
        && parent
            .strip_suffix('*')
            .is_some_and(|prefix| prefix.ends_with('/') && child.starts_with(prefix))
}
