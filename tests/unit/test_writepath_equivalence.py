"""The write path's fast paths give exactly what the general algorithms give.

update_managed_fields on a create walks the new object once (`_added_children`) instead of
compare({}, new) + union, and strips metadata with `_strip` instead of difference(_, _STRIP);
the typed decode (unknown fields) uses checkers compiled per kind. Random objects generated from each kind's
schema (seeded, so failures reproduce) must come out the same both ways.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from kubeling.api.apply import fieldset as AF
from kubeling.api.apply import managed as AM
from kubeling.api.apply import typedmerge as AT
from kubeling.api import schema as S
from kubeling.api import typed as T
from kubeling.api.validation import field as F, meta as M, strict as SV

KINDS = [("apps", "v1", "Deployment"), ("", "v1", "Pod"), ("", "v1", "Service"), ("", "v1", "ConfigMap"),
         ("", "v1", "Secret"), ("batch", "v1", "Job"), ("apps", "v1", "StatefulSet"), ("apps", "v1", "DaemonSet"),
         ("", "v1", "Namespace"), ("", "v1", "Node"), ("", "v1", "Event"), ("batch", "v1", "CronJob"),
         ("networking.k8s.io", "v1", "Ingress"), ("rbac.authorization.k8s.io", "v1", "ClusterRole"),
         ("discovery.k8s.io", "v1", "EndpointSlice"), ("autoscaling", "v2", "HorizontalPodAutoscaler"),
         ("coordination.k8s.io", "v1", "Lease"), ("", "v1", "PersistentVolumeClaim"),
         ("policy", "v1", "PodDisruptionBudget"), ("apiextensions.k8s.io", "v1", "CustomResourceDefinition")]
WORDS = ["a", "b", "nginx", "x", "app", "80", "TCP", "<&>", "", "k.io/v"]


def gen(sch: Any, rnd: random.Random, depth: int = 0) -> Any:
    """A random value for a schema: some fields set, some null or {}, lists with keys mostly unique."""
    s = S.resolve(sch) if sch else None
    if s is None:
        return rnd.choice([{"free": rnd.choice(WORDS)}, "raw", 3, None])
    if s.get("x-kubernetes-preserve-unknown-fields"):
        return {"u": {"v": [1, {"w": rnd.choice(WORDS)}]}} if rnd.random() < .5 else rnd.choice(WORDS)
    t, fmt = s.get("type"), s.get("format")
    if fmt == "int-or-string":
        return rnd.choice([1, 80, "50%", "http"])
    if fmt == "quantity":
        return rnd.choice(["1", "100m", "1Gi"])
    if t == "array" or "items" in s:
        if depth > 7:
            return []
        items = [gen(s.get("items"), rnd, depth + 1) for _ in range(rnd.choice([0, 1, 1, 2, 3]))]
        merge_key = s.get("x-kubernetes-patch-merge-key")
        keys = list(s.get("x-kubernetes-list-map-keys") or ([merge_key] if merge_key else []))
        for i, it in enumerate(items):
            if isinstance(it, dict):
                for k in keys:
                    if k in it or rnd.random() < .9:
                        it[k] = 80 + i if k in ("containerPort", "port") else f"k{i}"
        return items
    if t == "object" or "properties" in s or "additionalProperties" in s:
        props, extra = s.get("properties") or {}, s.get("additionalProperties")
        if depth > 7:
            return {}
        out: dict[str, Any] = {}
        names = list(props)
        rnd.shuffle(names)
        for k in names[: rnd.randint(0, min(len(names), 6))]:
            if k in ("apiVersion", "kind", "managedFields"):
                continue
            r = rnd.random()
            out[k] = None if r < .06 else {} if r < .12 else gen(props[k], rnd, depth + 1)
        for k in s.get("required", ()):
            if k in props and k not in out and rnd.random() < .8:
                out[k] = gen(props[k], rnd, depth + 1)
        if isinstance(extra, dict):
            for i in range(rnd.randint(0, 3)):
                out[rnd.choice(WORDS) + str(i)] = gen(extra, rnd, depth + 1)
        if rnd.random() < .05:
            out["unknownField"] = {"x": 1}
        return out
    if t == "integer":
        return rnd.choice([0, 1, 3, 80])
    if t == "boolean":
        return rnd.choice([True, False])
    return rnd.choice(WORDS)


def random_object(seed: int) -> tuple[tuple[str, str, str], dict]:
    rnd = random.Random(seed)
    gvk = KINDS[seed % len(KINDS)]
    obj = gen(S.for_kind(*gvk), rnd)
    obj = obj if isinstance(obj, dict) else {}
    obj["apiVersion"] = f"{gvk[0]}/{gvk[1]}" if gvk[0] else gvk[1]
    obj["kind"] = gvk[2]
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    meta.pop("managedFields", None)
    meta.update(name="n", namespace="default", uid="u1")
    obj["metadata"] = meta
    return gvk, obj


def reference_created_fields(obj: dict, ignored: AF.FieldSet | None) -> AF.FieldSet:
    """What _structured_update computed for a create before the fast path."""
    t = AT.type_for(obj)
    cmp = AT.compare({}, obj, t, AF.union(AM._NO_MANAGED_FIELDS, ignored or {}))
    assert not cmp.removed
    fields = AF.difference(AF.union(cmp.modified, cmp.added), cmp.removed)
    if ignored:
        fields = AF.recursive_difference(fields, ignored)
    return AF.difference(fields, AM._STRIP)


@pytest.mark.parametrize("subresource", ["", "status"])
def test_create_fast_path_matches_compare(subresource: str) -> None:
    checked = 0
    for seed in range(400):
        gvk, obj = random_object(seed)
        ignored = AM.reset_fields(gvk[0], gvk[2], subresource)
        try:
            want = AF.sorted_fields(reference_created_fields(obj, ignored))
        except AT.SchemaError:
            with pytest.raises(AT.SchemaError):
                AT.added_children({}, obj, AT.type_for(obj), AM.ignored_with_meta(ignored))
            continue
        entries = AM.update_managed_fields(None, copy.deepcopy(obj), "m", obj["apiVersion"], "T0", subresource)
        got = entries[0]["fieldsV1"] if entries else {}
        assert got == want and list(_walk_keys(got)) == list(_walk_keys(want)), (seed, gvk)
        checked += 1
    assert checked > 200


def _walk_keys(s: AF.FieldSet, prefix: tuple[str, ...] = ()) -> Any:
    for k, v in s.items():
        yield prefix + (k,)
        yield from _walk_keys(v, prefix + (k,))


def test_strip_matches_difference() -> None:
    cases = [{}, {"f:apiVersion": {}}, {"f:metadata": {}}, {"f:metadata": {".": {}, "f:labels": {"f:a": {}}}},
             {"f:metadata": {"f:name": {}, "f:uid": {}}}, {"f:metadata": {"f:labels": {".": {}}}},
             {"f:kind": {".": {}, "f:x": {}}, "f:data": {"f:a": {}}},
             {"f:metadata": {"f:name": {".": {}, "f:odd": {}}, "f:generation": {}, "f:annotations": {"f:a": {}}}}]
    for seed in range(200):
        gvk, obj = random_object(seed)
        try:
            cases.append(AT.to_field_set(obj, AT.type_for(obj)))
        except AT.SchemaError:
            pass
    for s in cases:
        assert AM.strip_meta(s) == AF.difference(s, AM._STRIP), s


def walk_unknown(value: Any, sch: dict | None, path: str, out: list[str]) -> None:
    """A plain schema walk for unknown fields (the reference for the compiled typed decode)."""
    if isinstance(value, dict):
        s = S.resolve(sch)
        if s is None or s.get("x-kubernetes-preserve-unknown-fields"):
            return
        props, extra = s.get("properties") or None, s.get("additionalProperties")
        if props is None and not isinstance(extra, dict):
            return
        for k, v in value.items():
            p = f"{path}.{k}" if path else k
            if props is not None and k in props:
                walk_unknown(v, props[k], p, out)
            elif isinstance(extra, dict):
                walk_unknown(v, extra, p, out)
            elif extra is True:
                continue
            else:
                out.append(f'unknown field "{p}"')
    elif isinstance(value, list):
        s = S.resolve(sch)
        item = s.get("items") if s else None
        if item is None:
            return
        for i, v in enumerate(value):
            walk_unknown(v, item, f"{path}[{i}]", out)


def test_unknown_fields_compiled_matches_schema_walk() -> None:
    found = 0
    for seed in range(400):
        gvk, obj = random_object(seed)
        if seed % 3 == 0:
            obj["spec"] = {"bogus": [1], "template": {"spec": {"containers": [{"nme": "x"}]}}}
            obj["metadata"]["labelz"] = {}
        want: list[str] = []
        walk_unknown(obj, S.for_kind(*gvk), "", want)
        try:
            got = T.decode(*gvk, obj)
        except T.Mismatch:
            continue  # a value of the wrong type (e.g. the planted "bogus" spec): no unknown fields to compare
        assert [f'unknown field "{p}"' for p in got] == want, (seed, gvk)
        found += bool(want)
    assert found > 100


NAMES = ["a", "web-1", "a.b.c", "-x", "x-", "A", "a_b", "a/b", "example.com/app", "/x", "x/", "a//b", "ex_ample.com/x",
         "x" * 63, "x" * 64, "a" * 254, "abc\n", "a..b", "", "k8s.io/" + "n" * 63, "k8s.io/" + "n" * 64, "1", "a.b/c/d"]


def test_label_quick_check_is_exact() -> None:
    rnd = random.Random(7)
    for _ in range(3000):
        # typed values only: the typed decode runs before validation (api/typed.py)
        labels: Any = {rnd.choice(NAMES): rnd.choice(NAMES) for _ in range(rnd.randint(0, 3))}
        if rnd.random() < .05:
            labels = None
        assert M._labels_ok(labels) == (M._label_causes(labels, "metadata.labels") == []), labels


def test_object_meta_quick_check_is_sound() -> None:
    rnd = random.Random(11)
    name_fns = [F.name_is_dns_subdomain, F.name_is_dns_label, F.validate_path_segment_name, F.name_is_dns1035_label]
    quick = 0
    for _ in range(5000):
        meta: dict[str, Any] = {}
        for key, values in (("name", NAMES), ("namespace", NAMES),  # typed values only, as after the typed decode
                            ("generateName", ["", "x-", "-"]), ("generation", [0, 2, -1]),
                            ("labels", [{}, {"app": "x"}, {"-": "x"}, {"a": "-"}]),
                            ("annotations", [{}, {"a": "b"}, {"-": "b"}]), ("ownerReferences", [[], [{}]]),
                            ("finalizers", [[], ["a/b"], ["-"]])):
            if rnd.random() < .5:
                meta[key] = rnd.choice(values)
        namespaced, fn = rnd.random() < .7, rnd.choice(name_fns)
        full = M._object_meta_causes(meta, namespaced, fn, "metadata")
        if M._object_meta_ok(meta, namespaced, fn):
            quick += 1
            assert full == [], (meta, namespaced, fn)
        assert M.validate_object_meta(meta, namespaced, fn) == full
    assert quick > 20


def test_config_map_key_quick_check_is_exact() -> None:
    for k in NAMES + [".", "..", "..a", ".a", "a.", "a b", "k" * 253, "k" * 254, "KEY_NAME"]:
        assert F.config_map_key_ok(k) == (F.is_config_map_key(k) == []), k


def test_may_have_duplicates_counts_spaced_keys() -> None:
    import json

    for text in ['{"a":1,"a":2}', '{"a" :1, "a": 2}', '{"a":1,"b":{"c":2}}', '{"a": "x\\":y"}', '{\n "a"\n:\n1\n}',
                 '{"a": [{"b": 1}, {"b": 2, "b": 3}]}', '[]', '{"a": {"b": {"c": [1, {"d": 1}]}}}']:
        parsed = json.loads(text)
        raw = text.encode()
        slow = len(SV._KEY_TOKEN.findall(raw)) != SV._count_keys(parsed)
        assert SV.may_have_duplicates(raw, parsed) == slow, text
