"""OpenAPI definitions of custom resources, built from each served CRD version's structural
schema (apiextensions-apiserver/pkg/controller/openapi/builder): the object with apiVersion,
kind and ObjectMeta added, its List, both tagged with x-kubernetes-group-version-kind, named
by the reversed group (`example.com/v1 Widget` → `com.example.v1.Widget`). `kubectl explain`
reads them from /openapi/v3."""

from __future__ import annotations

from typing import Any

from . import resources

_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_API_VERSION = ("APIVersion defines the versioned schema of this representation of an object. Servers should "
                "convert recognized schemas to the latest internal value, and may reject unrecognized values. "
                "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
                "#resources")
_KIND = ("Kind is a string value representing the REST resource this object represents. Servers may infer this "
         "from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
         "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds")
_METADATA = ("Standard object's metadata. More info: "
             "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")
_LIST_METADATA = ("Standard list metadata. More info: "
                  "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds")


def def_name(group: str, version: str, kind: str) -> str:
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


def _v2(node: Any) -> Any:
    """The structural schema as swagger 2.0 takes it: upstream's ConvertJSONSchemaPropsToOpenAPIv2Schema
    drops what v2 cannot say (oneOf, anyOf and not: an int-or-string field's anyOf)."""
    if isinstance(node, list):
        return [_v2(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k in ("nullable", "x-kubernetes-validations", "oneOf", "anyOf", "not"):
            continue
        out[k] = {pk: _v2(pv) for pk, pv in v.items()} if k == "properties" and isinstance(v, dict) else _v2(v)
    return out


def definitions() -> dict[str, dict[str, Any]]:
    """Every served custom kind's definitions (object and list), by definition name."""
    out: dict[str, dict[str, Any]] = {}
    for r in resources.all_resources():
        if r.custom is None:
            continue
        name = def_name(r.group, r.version, r.kind)
        s = _v2(r.custom.schema)
        props = {"apiVersion": {"description": _API_VERSION, "type": "string"},
                 "kind": {"description": _KIND, "type": "string"},
                 "metadata": {"$ref": f"#/definitions/{_META}ObjectMeta", "description": _METADATA},
                 **{k: v for k, v in (s.get("properties") or {}).items() if k not in ("apiVersion", "kind", "metadata")}}
        out[name] = {**{k: v for k, v in s.items() if k != "properties"}, "type": "object", "properties": props,
                     "x-kubernetes-group-version-kind": [{"group": r.group, "kind": r.kind, "version": r.version}]}
        out[def_name(r.group, r.version, r.list_kind)] = {
            "description": f"{r.kind}List is a list of {r.kind}",
            "properties": {
                "apiVersion": {"description": _API_VERSION, "type": "string"},
                "items": {"description": f"List of {r.plural}. More info: "
                                         "https://git.k8s.io/community/contributors/devel/sig-architecture/"
                                         "api-conventions.md",
                          "items": {"$ref": f"#/definitions/{name}"}, "type": "array"},
                "kind": {"description": _KIND, "type": "string"},
                "metadata": {"$ref": f"#/definitions/{_META}ListMeta", "description": _LIST_METADATA},
            },
            "required": ["items"], "type": "object",
            "x-kubernetes-group-version-kind": [{"group": r.group, "kind": r.list_kind, "version": r.version}],
        }
    return out
