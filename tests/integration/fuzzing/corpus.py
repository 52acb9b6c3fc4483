"""Hostile text that no schema produces: YAML tags and alias bombs, deep nesting, duplicate keys,
broken encodings, bad query parameters and Authorization headers."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import yaml

from .gen import SENTINEL, nested

# YAML values spliced in place of one field (they parse to what upstream's YAML→JSON refuses or to
# odd types: binary, sets, timestamps, non-string keys, merge keys, undefined aliases, Python tags)
YAML_VALUES = [
    "!!binary aGVsbG8=", "!!set {a, b}", "!!int abc", "!!float x", "!!timestamp 2001-12-14", "!!str", "!!null x",
    "!!python/object/apply:os.system ['true']", "!!python/name:os.system", "!custom x", "!!map [1]", "!!seq {a: 1}",
    "*undefined", "&a [1, *a]", "{? [1, 2]: x}", "{1: a, null: b, true: c}", "{<<: {a: 1}, b: 2}",
    "0x1F", "0o17", ".inf", "-.nan", "yes", "~", "2001-12-14t21:59:43.10-05:00", "'\\xff'", "\"\\ud800\"",
    "|\n  multi\n  line", "[a, {b: [c, {d: e}]}]", "!!omap [a: 1, a: 2]", "{a: 1, a: 2}",
]


def alias_bomb(levels: int, width: int) -> str:
    """The billion-laughs shape: each level is a list of `width` aliases of the previous one."""
    lines = ['l0: &l0 "lol"']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join(f"*l{i - 1}" for _ in range(width)) + "]")
    return "\n".join(lines)


def yaml_doc(obj: dict[str, Any], rnd: random.Random, bomb: tuple[int, int]) -> bytes:
    """`obj` as YAML with one field replaced by hostile YAML (the field must hold SENTINEL)."""
    text = yaml.safe_dump(obj, sort_keys=False, width=10**9)
    choice = rnd.randrange(6)
    if choice == 0:  # a bomb whose anchors are top-level (unknown) keys, referenced at the sentinel
        text = alias_bomb(*bomb) + "\n" + text.replace(f"'{SENTINEL}'", f"*l{bomb[0] - 1}").replace(SENTINEL, "x")
        return text.encode()
    if choice == 1:
        return text.replace(SENTINEL, nested(rnd.choice([100, 1000, 10_000, 20_000]), "list")).encode()
    if choice == 2:  # two documents, tabs, BOM, NUL
        return rnd.choice([b"---\n" + text.encode() + b"---\nkind: Pod\n", b"\xef\xbb\xbf" + text.encode(),
                           text.replace(SENTINEL, "a\x00b").encode(), text.encode().replace(b"  ", b"\t", 1)])
    value = rnd.choice(YAML_VALUES)
    return text.replace(f"'{SENTINEL}'", value).replace(SENTINEL, value).encode()


def json_text(obj: dict[str, Any], rnd: random.Random) -> bytes:
    """`obj` as JSON with one raw-text hostility at the sentinel or around the document."""
    text = json.dumps(obj)
    choice = rnd.randrange(7)
    if choice == 0:
        return text.replace(f'"{SENTINEL}"', nested(rnd.choice([100, 1000, 10_001, 50_000]), rnd.choice(["list", "map"]))).encode()
    if choice == 1:  # duplicate keys: upstream's strict decoder reports them, the lax one keeps the last
        return ('{"metadata": 1, "kind": [], ' + text[1:]).encode() if text.startswith("{") else text.encode()
    if choice == 2:
        return text.replace(f'"{SENTINEL}"', rnd.choice(['"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', "1e999",
                                                         "-0", "1E+400", "NaN", "Infinity", "0x10", "01",
                                                         "99999999999999999999999999999"])).encode()
    if choice == 3:
        return text.replace(SENTINEL, "\udcff", 1).encode("utf-8", "surrogateescape")  # raw 0xFF byte
    if choice == 4:
        return text.encode()[: rnd.randrange(1, max(2, len(text)))]  # truncated
    if choice == 5:
        return text.encode() + rnd.choice([b" garbage", b"{}", b"\x00", b"\n\n{}"])
    return ("\ufeff" + text).encode()


def merge_patch_depth(depth: int) -> bytes:
    return ('{"metadata":{"labels":' + nested(depth, "map") + "}}").encode()


def json_patch_hostile(rnd: random.Random, ptr: str, value: Any) -> Any:
    """JSON patch documents with broken ops around a real pointer."""
    return rnd.choice([
        [{"op": "nope", "path": ptr, "value": value}], [{"op": "add", "path": ptr}], [{"op": "add", "value": 1}],
        [{"op": "remove", "path": ptr + "/does/not/exist"}], [{"op": "move", "from": "/x", "path": ptr}],
        [{"op": "copy", "from": ptr, "path": ptr + "/child"}], [{"op": "test", "path": ptr, "value": value}],
        [{"op": "replace", "path": "", "value": value}], [{"op": "add", "path": "metadata", "value": 1}],
        [{"op": "add", "path": "/metadata/labels/~2", "value": "x"}], [{"op": "add", "path": ptr + "/-", "value": value}],
        {"op": "add", "path": ptr, "value": value}, [[]], ["x"], [None], "[]",
        [{"op": "add", "path": "/spec/containers/99999999999999999999", "value": {}}],
        [{"op": "add", "path": "/spec/containers/-1", "value": {}}],
    ])


def smp_directives(rnd: random.Random, base: dict[str, Any]) -> dict[str, Any]:
    """Strategic-merge-patch directives with odd arguments, merged into a patch."""
    extra = rnd.choice([
        {"$patch": rnd.choice(["delete", "replace", "merge", "bogus", 1])},
        {"spec": {"$setElementOrder/containers": rnd.choice([[{"name": "x"}], "x", [1], [[]]])}},
        {"spec": {"$retainKeys": rnd.choice([["x"], "x", [1], {}])}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": rnd.choice([["a"], "a", [{}], None])}},
        {"spec": {"containers": rnd.choice([[{"$patch": "delete"}], [{"name": "c", "$patch": "x"}], [{"image": "x"}],
                                            [1, "a"], [[1]], [{"name": ["x"]}], [{"name": {"a": 1}}]])}},
        {"spec": {"ports": [{"port": "x"}, 1]}}, {"metadata": {"ownerReferences": [{"uid": 1}, "x"]}},
    ])
    return {**base, **extra}


CONTENT_TYPES = ["application/json", "application/yaml", "application/merge-patch+json", "application/json-patch+json",
                 "application/strategic-merge-patch+json", "application/apply-patch+yaml", "text/plain", "",
                 "application/vnd.kubernetes.protobuf", "application/json; charset=latin1", "application/x-www-form-urlencoded"]


def random_json(rnd: random.Random, depth: int = 0) -> Any:
    """A small random JSON value (any shape: the body need not look like an object)."""
    pick = rnd.randrange(8 if depth < 3 else 5)
    if pick == 0:
        return None
    if pick == 1:
        return rnd.random() < 0.5
    if pick == 2:
        return rnd.choice([0, -1, 2**63, 1.5, 10**30])
    if pick in (3, 4):
        return rnd.choice(["", "x", "\u00e9", "metadata", "{", "Pod"])
    if pick == 5:
        return [random_json(rnd, depth + 1) for _ in range(rnd.randrange(4))]
    keys = ["apiVersion", "kind", "metadata", "spec", "data", "name", "status", "x"]
    return {rnd.choice(keys): random_json(rnd, depth + 1) for _ in range(rnd.randrange(5))}


# --- query parameters and headers --------------------------------------------------------------

BAD_QUERY: dict[str, list[str]] = {
    "labelSelector": ["a in (", "a==", "!!", "a,,b", "a=b=c", "a notin ()", "=", "a in (b,", "x" * 400, "a!=",
                      "\x00", "a=é", "a in (b c)", "!a=b", "a==b==c", "a>1", "a<x", ",", "a in (" + "b," * 300 + "b)"],
    "fieldSelector": ["metadata.name==", "spec.nodeName=a,", "bogus=x", "=", "metadata.name", "status.phase!=",
                      "a==b==c", "\x00", "metadata.name in (a)"],
    "timeoutSeconds": ["9" * 80, "-1", "abc", "1.5", "", "2147483648", "0x10"],
    "limit": ["-1", "abc", "1e9", "9" * 40, "", "1.5", "0"],
    "continue": ["garbage", "", "%%%", base64.b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": 10**40, "start": "x"}).encode()).decode(),
                 base64.b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": -1, "start": "\x00"}).encode()).decode(),
                 base64.b64encode(b"[1,2]").decode(), base64.b64encode(json.dumps({"v": "x"}).encode()).decode()],
    "resourceVersion": ["abc", "-1", "9" * 40, "1.5", "", "0x10", "99999999"],
    "resourceVersionMatch": ["Exact", "NotOlderThan", "bogus", ""],
    "watch": ["1", "true", "maybe", "", "2"],
    "allowWatchBookmarks": ["maybe", "1"],
    "sendInitialEvents": ["true", "maybe"],
    "pretty": ["maybe", "1"],
    "propagationPolicy": ["Orphan", "bogus"],
    "gracePeriodSeconds": ["-5", "abc", "9" * 30],
    "orphanDependents": ["maybe"],
}
# odd but valid (k8s.io/apimachinery/pkg/labels and fields grammars): a LIST with one of these is a 200.
# (Only metadata.name is a field label of every kind: Namespace and Node refuse metadata.namespace.)
VALID_QUERY: list[dict[str, str]] = [
    {"labelSelector": "a=="}, {"labelSelector": "a!="}, {"labelSelector": "!a"}, {"labelSelector": "a in (b)"},
    {"labelSelector": "a notin (b,c)"}, {"labelSelector": "a"}, {"labelSelector": "a=,b!=c"},
    {"labelSelector": "k8s.io/x in (,y)"}, {"fieldSelector": "metadata.name="}, {"fieldSelector": "metadata.name!=x"},
    {"limit": "1"}, {"limit": "0"}, {"resourceVersion": "0"},
    {"resourceVersion": "0", "resourceVersionMatch": "NotOlderThan"}, {"labelSelector": ""},
]
WRITE_QUERY: dict[str, list[str | None]] = {
    "fieldValidation": [None, None, "Strict", "Warn", "Ignore", "strict", "bogus", ""],
    "dryRun": [None, None, None, "All", "all", "bogus", ""],
    "fieldManager": [None, None, "fz", "x" * 200, "\x00", ""],
}
# (no control characters: Go's net/http answers those with a plain-text 400 before any handler)
AUTH_HEADERS = [b"Bearer \xff\xfe\xfd", b"Bearer ", b"Basic \xc3\x28", b"bearer x", "Bearer " + "x" * 10_000,
                b"Bearer a b c", b"\xff", b"Basic " + base64.b64encode(b"\xff:\xfe")]
