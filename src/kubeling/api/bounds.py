"""Size and nesting bounds of API objects, checked where a value enters the server.

Upstream's decoders stop at 10,000 levels (encoding/json's scanner, go-yaml, the apimachinery
JSON helpers). Python cannot walk that deep: the defaulting, validation, patch and apply code
recurses, orjson refuses to encode past 254 levels and the interpreter stops at 1,000 frames.
So every decoded body and every patch result is held to MAX_DEPTH levels, far more than any
Kubernetes object needs (a CRD schema, the deepest real object, nests ~2 levels per Go type).
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_DEPTH = 100


_ORJSON_MAX_DEPTH = 254  # orjson.dumps refuses deeper values: TypeError("Recursion limit reached")


def depth_exceeds(value: Any, limit: int = MAX_DEPTH, raw: bytes | None = None) -> bool:
    """Does `value` nest more than `limit` objects/arrays deep?

    `raw`, the JSON text `value` was decoded from, makes small bodies free: a text with at most
    `limit` brackets cannot nest deeper, whatever its strings hold. Otherwise orjson measures at
    C speed (~13 µs for a 3.5 KB Deployment, a Python walk takes 63 µs): under 254 - limit
    extra lists, the value is too deep exactly when orjson refuses to encode it.
    """
    if raw is not None and raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    if type(value) is not dict and type(value) is not list:
        return False
    for _ in range(_ORJSON_MAX_DEPTH - limit):
        value = [value]
    try:
        orjson.dumps(value)
    except TypeError as e:
        if str(e) == "Recursion limit reached":
            return True
        raise
    return False


def too_deep_message(limit: int = MAX_DEPTH) -> str:
    """The text of apimachinery's json helpers (`exceeded max depth of 10000` upstream)."""
    return f"exceeded max depth of {limit}"
