"""Size and nesting bounds of API objects, checked where a value enters the server.

Upstream's decoders stop at 10,000 levels (encoding/json's scanner, go-yaml, the apimachinery
JSON helpers). Python cannot walk that deep: the defaulting, validation, patch and apply code
recurses, orjson refuses to encode past 254 levels and the interpreter stops at 1,000 frames.
So every decoded body and every patch result is held to MAX_DEPTH levels, far more than any
Kubernetes object needs (a CRD schema, the deepest real object, nests ~2 levels per Go type).
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 100


def depth_exceeds(value: Any, limit: int = MAX_DEPTH, raw: bytes | None = None) -> bool:
    """Does `value` nest more than `limit` objects/arrays deep?

    `raw`, the JSON text `value` was decoded from, makes the common case free: a text with at
    most `limit` brackets cannot nest deeper, whatever its strings hold.
    """
    if raw is not None and raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    if not isinstance(value, (dict, list)):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if d > limit:
            return True
        for c in (v.values() if isinstance(v, dict) else v):
            if isinstance(c, (dict, list)):
                stack.append((c, d + 1))
    return False


def too_deep_message(limit: int = MAX_DEPTH) -> str:
    """The text of apimachinery's json helpers (`exceeded max depth of 10000` upstream)."""
    return f"exceeded max depth of {limit}"
