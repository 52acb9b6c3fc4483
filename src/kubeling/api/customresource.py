"""The resource-table rows a CustomResourceDefinition adds (one per served version) and the rules
of its custom resources (upstream apiextensions-apiserver's crdHandler and
customResourceStrategy); the CRD object itself: crd.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import crdprint, crdrules, structural, typed
from .printers.columns import Handler
from .resources import STATUS, Resource, Subresource
from .strategy import Strategy
from .validation.field import Causes
from .validation.other import validate_generic

SCALE = Subresource("scale", "Scale", ("get", "patch", "update"), "autoscaling", "v1")


@dataclass(frozen=True, eq=False)
class CustomVersion:
    """What the API server needs of one served version of a CRD (hung on its Resource row)."""

    crd_name: str
    uid: str
    storage_version: str
    schema: dict[str, Any]
    smd_schema: dict[str, Any]  # the schema with apiVersion, kind and ObjectMeta: what apply merges by
    columns: tuple[dict[str, Any], ...]
    scale: dict[str, Any] | None
    validator: structural.Validator | None
    decoder: typed.Checker
    strategy: Strategy  # customResourceStrategy: schema validation, generation, storage version

    def __eq__(self, other: object) -> bool:  # same CRD generation ⇒ same compiled version
        return isinstance(other, CustomVersion) and (self.uid, self.schema, self.columns, self.scale,
                                                     self.storage_version) == (
            other.uid, other.schema, other.columns, other.scale, other.storage_version)

    __hash__ = None  # type: ignore[assignment]


def _d(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _l(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _version_key(name: str) -> tuple:
    """upstream version.CompareKubeAwareVersionStrings: GA > beta > alpha > other, higher first."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", name)
    if not m:
        return (3, 0, 0, name)
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (stage, -int(m.group(1)), -int(m.group(3) or 0), name)


_OBJECT_META = {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}


def _object_schema(sch: dict[str, Any]) -> dict[str, Any]:
    """The whole object's schema: the CRD's plus the fields every object has (as upstream's
    typeconverter does for server-side apply)."""
    props = {**_d(sch.get("properties")), "apiVersion": {"type": "string"}, "kind": {"type": "string"},
             "metadata": _OBJECT_META}
    return {**sch, "type": "object", "properties": props}


def rows(crd: dict[str, Any]) -> list[Resource]:
    """One Resource per served version, in kube-aware version order (the first is preferred)."""
    spec = _d(crd.get("spec"))
    names = _d(spec.get("names"))
    group, kind, plural = spec.get("group", ""), names.get("kind", ""), names.get("plural", "")
    versions = [_d(v) for v in _l(spec.get("versions"))]
    storage = next((v.get("name") for v in versions if v.get("storage")), "")
    out = []
    for v in sorted((v for v in versions if v.get("served")), key=lambda v: _version_key(v.get("name", ""))):
        subs = _d(v.get("subresources"))
        sub_rows: tuple[Subresource, ...] = ()
        if "scale" in subs:
            sub_rows += (SCALE,)
        if "status" in subs:
            sub_rows += (STATUS,)
        sch = _d(_d(v.get("schema")).get("openAPIV3Schema"))
        namespaced = spec.get("scope") != "Cluster"
        validator = structural.compile_schema(sch)
        cv = CustomVersion(
            crd_name=_d(crd.get("metadata")).get("name", ""), uid=_d(crd.get("metadata")).get("uid", ""),
            storage_version=storage, schema=sch, smd_schema=_object_schema(sch), columns=tuple(_d(c) for c in _l(v.get("additionalPrinterColumns"))),
            scale=_d(subs.get("scale")) if "scale" in subs else None,
            validator=validator, decoder=typed.compile_structural(sch),
            strategy=_strategy(validator, crdrules.compile_rules(sch), namespaced, "status" in subs,
                               f"{group}/{storage}",
                               crdprint.handler(tuple(_d(c) for c in _l(v.get("additionalPrinterColumns"))))))
        out.append(Resource(group, v.get("name", ""), kind, plural, namespaced=namespaced,
                            short_names=tuple(_l(names.get("shortNames"))),
                            categories=tuple(_l(names.get("categories"))),
                            subresources=sub_rows, singular_name=names.get("singular") or "", custom=cv))
    return out


def get_path(obj: Any, path: str) -> Any:
    """The value at a simple `.a.b` path (scale's specReplicasPath...), None if absent."""
    for k in [p for p in path.split(".") if p]:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


def set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    keys = [p for p in path.split(".") if p]
    for k in keys[:-1]:
        nxt = obj.get(k)
        if not isinstance(nxt, dict):
            nxt = obj[k] = {}
        obj = nxt
    obj[keys[-1]] = value


def _strategy(validator: structural.Validator | None, rules: crdrules.RuleValidator | None, namespaced: bool,
              has_status: bool, storage_version: str, printer: Handler) -> Strategy:
    """customResourceStrategy: ObjectMeta, the schema, then (when the schema passed) its
    x-kubernetes-validations rules; generation counts spec changes; with a status subresource,
    status is not the client's to set on create; the version's additionalPrinterColumns print it."""
    def validate(obj: dict[str, Any], old: dict[str, Any] | None, version: str) -> Causes:
        schema = structural.validate(validator, obj)
        return validate_generic(obj, old, namespaced) + schema + (crdrules.validate(rules, obj, old) if not schema else [])
    drop_status = (lambda o: o.pop("status", None)) if has_status else None
    return Strategy(validate=validate, prepare_for_create=drop_status, generation=True,
                    storage_version=storage_version, printer=printer)
