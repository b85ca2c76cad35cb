"""`spec/capabilities.lion` resource patterns <-> `lion.kernel.capability`.

Spec paths and patterns become the kernel's strings: `X/Y`, `X/*`, `*`.
"""

from __future__ import annotations

from lion.kernel import capability as kc
from lion.verify.values import RecordValue

__all__ = ["covers_path", "narrower_or_equal", "path_text", "pattern_text"]


def path_text(r: RecordValue) -> str:
    segments = [r["s1"].variant]
    if r["s2"] is not None:
        segments.append(r["s2"].variant)
        if r["s3"] is not None:
            segments.append(r["s3"].variant)
    return "/".join(segments)


def pattern_text(p: RecordValue) -> str:
    shape = p["shape"].variant
    if shape == "Everything":
        return "*"
    base = p["s1"].variant if p["s2"] is None else f"{p['s1'].variant}/{p['s2'].variant}"
    return base if shape == "Exact" else f"{base}/*"


def covers_path(p: RecordValue, r: RecordValue) -> bool:
    return kc.covers(pattern_text(p), path_text(r))


def narrower_or_equal(c: RecordValue, p: RecordValue) -> bool:
    return kc.narrower_or_equal(pattern_text(c), pattern_text(p))
