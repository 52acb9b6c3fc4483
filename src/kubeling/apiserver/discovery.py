"""Discovery documents built from the resource table: legacy (APIVersions, APIGroupList,
APIResourceList) and aggregated (apidiscovery.k8s.io/v2 APIGroupDiscoveryList), which kubectl
1.32 asks for first and which saves it ~30 requests on a cold cache.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from typing import Any

import orjson

from ..api import resources
from ..api.resources import Resource, Subresource

AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str | None) -> bool:
    for entry in (accept or "").split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip() for p in entry.split(";")[1:] if "=" in p}
        if params.get("as") == "APIGroupDiscoveryList" and params.get("g") == "apidiscovery.k8s.io" and params.get("v") == "v2":
            return True
        if entry.strip().split(";")[0] in ("application/json", "*/*") and "as" not in params:
            return False
    return False


def _storage_version_hash(r: Resource) -> str:
    """Upstream: base64 of the first 8 bytes of sha256("<group>/<version>/<kind>") of the storage version."""
    digest = hashlib.sha256(f"{r.group}/{r.version}/{r.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _sub_kind(r: Resource, s: Subresource) -> str:
    return s.kind or r.kind


def api_resource_list(group: str, version: str) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for r in sorted(resources.in_group_version(group, version), key=lambda r: r.plural):
        entry: dict[str, Any] = {
            "name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
            "kind": r.kind, "verbs": list(r.verbs),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        if "list" in r.verbs:
            entry["storageVersionHash"] = _storage_version_hash(r)
        out.append(entry)
        for s in sorted(r.subresources, key=lambda s: s.name):
            sub: dict[str, Any] = {"name": f"{r.plural}/{s.name}", "singularName": "", "namespaced": r.namespaced}
            if s.group is not None:
                sub["group"], sub["version"] = s.group, s.version
            sub["kind"] = _sub_kind(r, s)
            sub["verbs"] = list(s.verbs)
            out.append(sub)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}


def _group(group: str, versions: list[str]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": vs, "preferredVersion": vs[0]}


def api_group_list() -> dict[str, Any]:
    groups = [_group(g, vs) for g, vs in resources.group_versions().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str) -> dict[str, Any] | None:
    vs = resources.group_versions().get(group)
    if not vs or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, vs)}


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _aggregated_version(group: str, version: str) -> dict[str, Any]:
    res = []
    for r in sorted(resources.in_group_version(group, version), key=lambda r: r.plural):
        entry: dict[str, Any] = {
            "resource": r.plural,
            "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
            "scope": "Namespaced" if r.namespaced else "Cluster",
            "singularResource": r.singular,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        subs = []
        for s in sorted(r.subresources, key=lambda s: s.name):
            subs.append({
                "subresource": s.name,
                "responseKind": {"group": s.group if s.group is not None else r.group,
                                 "version": s.version or r.version, "kind": _sub_kind(r, s)},
                "verbs": list(s.verbs),
            })
        if subs:
            entry["subresources"] = subs
        res.append(entry)
    return {"version": version, "resources": res, "freshness": "Current"}


def aggregated(core: bool) -> bytes:
    """/api (core only) or /apis (every named group) as APIGroupDiscoveryList (cached until
    the custom resources change)."""
    return _aggregated(core, resources.generation())


@functools.lru_cache(maxsize=4)
def _aggregated(core: bool, generation: int) -> bytes:
    items = []
    for g, versions in resources.group_versions().items():
        if (g == "") != core:
            continue
        items.append({"metadata": {"name": g, "creationTimestamp": None},
                      "versions": [_aggregated_version(g, v) for v in versions]})
    doc = {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}
    return orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE)  # the serializer's "\n", as every object
