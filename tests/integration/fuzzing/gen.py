"""Objects from served schemas: valid-ish ones, and hostile mutations of them.

A `Gen` walks a schema with a `random.Random` (seeded by hypothesis, so runs are reproducible):
valid-ish values have the right JSON types, small numbers, DNS names and enum values read from
the schema's own descriptions; a mutation replaces the value at one random schema path (present
or not) by a value of the wrong type or a hostile one (huge ints, floats for ints, deep nesting,
huge strings, long unknown field names, odd unicode).
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from .schema import INT_OR_STRING, OPAQUE, QUANTITY, TIMES, Schema, ServedAPI

_ENUM = re.compile(r'- `"([^"`]+)"`')  # "Possible enum values:\n - `"Always"` means ..."
_SAFE_STRINGS = ["a", "fz", "x-1", "TCP", "None", "1", "app", "10.0.0.1", "busybox"]
_SKIP_VALID = {"finalizers", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "ownerReferences",
               "resourceVersion", "uid", "generateName", "selfLink", "creationTimestamp"}
# one placeholder string replaced in the serialized text (for raw JSON/YAML hostility)
SENTINEL = "__fz_sentinel__"


def _wrong_type_values(t: str, fmt: str, big: bool) -> list[Any]:
    """Values a Go decoder must refuse for a field of JSON type `t`, plus hostile oddities."""
    huge = "x" * (1_000_000 if big else 70_000)
    common = [huge, "\ud800\udfff\u0000\u202e\ufffe", {"x" * 300: 1}, [[[[[[[[[[[]]]]]]]]]]]]
    by_type: dict[str, list[Any]] = {
        "integer": ["3", 1.5, 1e300, -0.5, 2**63, -2**63 - 1, 10**40, True, [], {}, ""]
        + ([2**31, -2**31 - 1] if fmt == "int32" else []),
        "number": ["1.5", True, [], {}, 10**400],
        "string": [1, 1.5, True, [], {"a": "b"}, [1], 2**63],
        "boolean": ["true", 1, 0, [], {}, "yes"],
        "array": ["x", {"a": 1}, 1, True, [[1]], [None], [{}, "a"], {"0": "a"}],
        "object": ["x", [1], 1, True, [], [{}], 2.5, "invalid"],
    }
    return by_type.get(t, ["x", 1, [], {}, True]) + common


class Gen:
    """Values for one served API, drawn from one `random.Random`."""

    def __init__(self, api: ServedAPI, rnd: random.Random, big: bool = False) -> None:
        self.api, self.rnd, self.big = api, rnd, big

    def name(self) -> str:
        return "fz-" + "".join(self.rnd.choice("0123456789abcdef") for _ in range(8))

    def value(self, s: Schema, depth: int = 0, key: str = "") -> Any:
        """A valid-ish value: right types, small numbers, plausible strings, few optional fields."""
        name, s = self.api.resolve(s)
        r = self.rnd
        if name == QUANTITY:
            return r.choice(["1", "100m", "64Mi", "0.5", "2Gi"])
        if name == INT_OR_STRING:
            return r.choice([1, 80, "25%", "http", 0])
        if name in TIMES:
            return "2024-01-02T03:04:05Z"
        if name in OPAQUE:
            return {}
        t = s.get("type")
        if t == "object" or "properties" in s:
            out: dict[str, Any] = {}
            required = set(s.get("required", ()))
            for k, sub in s.get("properties", {}).items():
                if k in ("apiVersion", "kind", "status") or (k in _SKIP_VALID and k not in required):
                    continue
                if k in required or (depth < 6 and r.random() < 0.35 / (1 + depth)):
                    out[k] = self.value(sub, depth + 1, k)
            extra = s.get("additionalProperties")
            if isinstance(extra, dict) and depth < 6:
                for _ in range(r.choice([0, 1, 1, 2])):
                    out[r.choice(["app", "a", "k8s.io/x", "tier", "b.c"])] = self.value(extra, depth + 1)
            return out
        if t == "array":
            n = r.choice([0, 1, 1, 1, 2]) if depth < 6 else 0
            return [self.value(s.get("items", {}), depth + 1, key) for _ in range(n)]
        if t == "integer":
            return r.choice([0, 1, 2, 3, 80])
        if t == "number":
            return r.choice([0, 0.5, 1])
        if t == "boolean":
            return r.random() < 0.5
        if t == "string":
            enum = _ENUM.findall(s.get("description", ""))
            if s.get("format") == "byte":
                return "aGVsbG8="
            if enum and r.random() < 0.8:
                return r.choice(enum)
            if key in ("name", "namespace", "serviceAccountName", "nodeName", "claimName", "secretName"):
                return self.name() if key == "name" else "default"
            if key == "image":
                return "busybox"
            return r.choice(_SAFE_STRINGS)
        return r.choice(["x", 1, {}])

    def obj(self, schema_name: str, api_version: str, kind: str, name: str, namespace: str | None) -> dict[str, Any]:
        body = self.value({"$ref": "#/components/schemas/" + schema_name})
        body = {"apiVersion": api_version, "kind": kind, **body}
        meta = body.setdefault("metadata", {}) if isinstance(body.get("metadata", {}), dict) else {}
        meta["name"] = name
        if namespace:
            meta["namespace"] = namespace
        body["metadata"] = meta
        return body

    # -- hostile mutations -------------------------------------------------------------------

    def sites(self, value: Any, s: Schema, path: tuple = (), depth: int = 0) -> list[tuple[tuple, Schema]]:
        """Every schema path of `value` (present fields, and absent fields of present objects)."""
        _, rs = self.api.resolve(s)
        out = [(path, s)]
        if depth > 10:
            return out
        if isinstance(value, dict):
            for k, sub in rs.get("properties", {}).items():
                if k in value:
                    out += self.sites(value[k], sub, path + (k,), depth + 1)
                elif depth < 4:
                    out.append((path + (k,), sub))
            extra = rs.get("additionalProperties")
            if isinstance(extra, dict):
                for k in list(value)[:3]:
                    out += self.sites(value[k], extra, path + (k,), depth + 1)
        elif isinstance(value, list) and "items" in rs:
            for i, v in enumerate(value[:2]):
                out += self.sites(v, rs["items"], path + (i,), depth + 1)
        return out

    def hostile(self, s: Schema) -> Any:
        """A value the typed decode of `s` must refuse (or a hostile one of the right type)."""
        name, rs = self.api.resolve(s)
        r = self.rnd
        if name == QUANTITY:
            return r.choice(["1.5.5", "x", [], {}, True, "9" * 400, 1e308, "-"])
        if name == INT_OR_STRING:
            return r.choice([1.5, [], {}, True, 2**31, 2**63])
        if name in TIMES:
            return r.choice(["yesterday", 1, [], "2024-13-45T99:99:99Z"])
        t = "object" if "properties" in rs else rs.get("type", "")
        if rs.get("format") == "byte" and r.random() < 0.5:
            return r.choice(["not base64!", "aGVsbG8", "\u00e9\u00e9"])
        return r.choice(_wrong_type_values(t, rs.get("format", ""), self.big))

    def unknown_field(self) -> tuple[str, Any]:
        n = self.rnd.choice([5, 300, 60_000 if not self.big else 200_000])
        return "unknownField" + "u" * n, self.rnd.choice([1, "x", {"a": [1]}])

    def mutate(self, obj: dict[str, Any], schema_name: str) -> tuple[dict[str, Any], tuple]:
        """`obj` with one hostile value at a random schema path; returns (object, path)."""
        obj = json.loads(json.dumps(obj))
        sites = self.sites(obj, {"$ref": "#/components/schemas/" + schema_name})
        path, s = self.rnd.choice(sites[1:] or sites)
        if self.rnd.random() < 0.12:
            _, rs = self.api.resolve(s)
            if isinstance(get_path(obj, path), dict) or "properties" in rs:
                k, v = self.unknown_field()
                return set_path(obj, path + (k,), v), path + (k,)
        return set_path(obj, path, self.hostile(s)), path


def get_path(obj: Any, path: tuple) -> Any:
    for p in path:
        try:
            obj = obj[p]
        except (KeyError, IndexError, TypeError):
            return None
    return obj


def set_path(obj: Any, path: tuple, value: Any) -> Any:
    """Set `value` at `path`, creating (or overwriting wrongly shaped) parents as needed."""
    if not path:
        return value
    cur = obj
    for i, p in enumerate(path[:-1]):
        nxt = path[i + 1]
        want = list if isinstance(nxt, int) else dict
        child = cur[p] if (isinstance(cur, dict) and p in cur) or (isinstance(cur, list) and p < len(cur)) else None
        if not isinstance(child, want):
            child = [{} for _ in range(nxt + 1)] if want is list else {}
            cur[p] = child
        cur = child
    last = path[-1]
    if isinstance(cur, list) and isinstance(last, int) and last >= len(cur):
        cur.extend({} for _ in range(last + 1 - len(cur)))
    cur[last] = value
    return obj


def nested(depth: int, kind: str) -> str:
    """Text of `depth` nested JSON arrays or objects (for the deep-nesting bodies)."""
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def patch_for(path: tuple, value: Any) -> dict[str, Any]:
    """A merge patch that sets `value` at `path` (list indexes become whole lists)."""
    out: Any = value
    for p in reversed(path):
        out = [out] if isinstance(p, int) else {p: out}
    return out if isinstance(out, dict) else {"spec": out}


def pointer(path: tuple) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
