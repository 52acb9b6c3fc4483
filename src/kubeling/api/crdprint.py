"""Tables of custom resources: the CRD version's additionalPrinterColumns, evaluated as
kubectl-style JSONPath (apiextensions-apiserver/pkg/registry/customresource/tableconvertor).

Without columns a CR prints Name and Age. Only the simple JSONPath the tableconvertor accepts
is needed: `.a.b`, `[n]`, `[*]`, `['key']` and filters `[?(@.type=="Ready")]`; the first result
is the cell. A missing value is a `null` cell; a "date" cell is the age (ConvertToHumanReadableDateType).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from .printers.columns import AGE, NAME, Col, Handler

_TOKEN = re.compile(r"\.([^.\[\]]+)|\[\?\(@\.([\w.-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]|\[(\d+|\*)\]|\['([^']*)'\]")
NAME_DESCRIPTION = ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "name")
_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
        "description": AGE.description}


def parse(path: str) -> list[tuple[str, Any]]:
    """`.status.conditions[?(@.type=="Ready")].status` → steps; raises ValueError if unsupported."""
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1]
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(p):
        m = _TOKEN.match(p, pos)
        if m is None:
            raise ValueError(f"unsupported JSONPath {path!r}")
        field, fkey, fval, idx, quoted = m.groups()
        if field is not None or quoted is not None:
            steps.append(("field", field if field is not None else quoted))
        elif fkey is not None:
            steps.append(("filter", (fkey.split("."), fval)))
        else:
            steps.append(("index", idx))
        pos = m.end()
    return steps


def first(obj: Any, steps: list[tuple[str, Any]]) -> Any:
    """The first value the path finds (None if none)."""
    vals = [obj]
    for op, arg in steps:
        nxt: list[Any] = []
        for v in vals:
            if op == "field" and isinstance(v, dict) and arg in v:
                nxt.append(v[arg])
            elif op == "index" and isinstance(v, list):
                if arg == "*":
                    nxt.extend(v)
                elif int(arg) < len(v):
                    nxt.append(v[int(arg)])
            elif op == "filter" and isinstance(v, list):
                keys, want = arg
                for item in v:
                    x = item
                    for k in keys:
                        x = x.get(k) if isinstance(x, dict) else None
                    if x is not None and _text(x) == want:
                        nxt.append(item)
        vals = nxt
        if not vals:
            return None
    return vals[0]


def _text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return orjson.dumps(v).decode()


def _cell(ctype: str, v: Any, clock: Any) -> Any:
    """cellForJSONValue, and the string printer for "string" columns."""
    if v is None:
        return None
    if ctype == "string":
        return _text(v)
    if ctype == "date":
        return clock.since(v) if isinstance(v, str) else None
    if ctype == "integer":
        return v if type(v) is int else (int(v) if isinstance(v, float) and v.is_integer() else None)
    if ctype == "number":
        return v if type(v) in (int, float) else None
    if ctype == "boolean":
        return v if type(v) is bool else None
    return None


def handler(columns: tuple[dict[str, Any], ...]) -> Any:
    """A printers handler for one CRD version (compiled once per version)."""
    cols = list(columns) or [_AGE]
    compiled = []
    defs = [NAME]
    for c in cols:
        try:
            steps = parse(c.get("jsonPath", ""))
        except ValueError:
            steps = None
        compiled.append((c.get("type", "string"), steps))
        defs.append(Col(c.get("name", ""), c.get("type", "string"), c.get("description", ""),
                                 c.get("priority", 0), c.get("format", "")))

    def cells(obj: dict, clock: Any) -> list:
        out: list[Any] = [(obj.get("metadata") or {}).get("name", "")]
        for ctype, steps in compiled:
            out.append(None if steps is None else _cell(ctype, first(obj, steps), clock))
        return out
    return Handler(tuple(defs), cells)
