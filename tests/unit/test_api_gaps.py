"""Smaller API gaps (issue 7 §5 and the deliberate patch/apply errors of §2), checked without a server."""

from __future__ import annotations

import copy
import functools
import struct
from typing import Any

import orjson
import pytest
import yaml

from kubeling.api import errors
from kubeling.api.apply import ssa as AS
from kubeling.api.patch.common import check_strict_decode
from kubeling.api import schema as schemas
from kubeling.api.resources import lookup
from kubeling.api.strategy import validate
from kubeling.apiserver import openapi
from kubeling.apiserver.admission import Chain
from kubeling.apiserver.handlers import _json, status_response
from kubeling.apiserver.openapi_pb import encode_document
from kubeling.apiserver.registry import Registry, WriteOptions, object_rv
from kubeling.store.sqlite import SQLiteStore

CONFIGMAPS = lookup("", "v1", "configmaps")
NAMESPACES = lookup("", "v1", "namespaces")


# ---- resourceVersion "0" ------------------------------------------------------------------------


@pytest.mark.parametrize("rv,want", [(None, 0), ("", 0), ("0", 0), ("000", 0), ("7", 7), ("007", 7),
                                     ("18446744073709551615", (1 << 64) - 1)])
def test_object_rv_parses_like_object_resource_version(rv: Any, want: int) -> None:
    assert object_rv(rv) == want


@pytest.mark.parametrize("rv,why", [("abc", "invalid syntax"), ("-1", "invalid syntax"),
                                    ("18446744073709551616", "value out of range")])
def test_unparsable_resource_version_is_the_strconv_error(rv: str, why: str) -> None:
    with pytest.raises(errors.StatusError) as e:
        object_rv(rv)
    assert (e.value.code, e.value.reason, e.value.message) == (500, "", f'strconv.ParseUint: parsing "{rv}": {why}')


async def test_update_with_resource_version_zero_is_unconditional(tmp_path) -> None:
    store = SQLiteStore(str(tmp_path / "db" / "state.db"))
    reg = Registry(store, admission=Chain([]))
    try:
        await reg.create(NAMESPACES, None, {"metadata": {"name": "default"}}, WriteOptions())
        cm = {"metadata": {"name": "c", "resourceVersion": "0"}, "data": {"a": "1"}}
        created = (await reg.create(CONFIGMAPS, "default", cm, WriteOptions())).obj()  # "0" is "unset" on create too
        await reg.update(CONFIGMAPS, "default", "c", {**copy.deepcopy(created), "data": {"a": "2"}}, WriteOptions())
        stale = {**copy.deepcopy(created), "data": {"a": "3"}}
        with pytest.raises(errors.StatusError) as e:
            await reg.update(CONFIGMAPS, "default", "c", stale, WriteOptions())
        assert e.value.reason == "Conflict"
        stale["metadata"]["resourceVersion"] = "0"  # kubectl replace of an object read at rv 0
        out = (await reg.update(CONFIGMAPS, "default", "c", stale, WriteOptions())).obj()
        assert out["data"] == {"a": "3"}
        with pytest.raises(errors.StatusError) as e:  # a plain error in the etcd3 store: 500, no reason
            await reg.create(CONFIGMAPS, "default", {"metadata": {"name": "d", "resourceVersion": "5"}}, WriteOptions())
        assert (e.value.code, e.value.reason, e.value.message) == (
            500, "", "resourceVersion should not be set on objects to be created")
        await reg.create(CONFIGMAPS, "default", {"metadata": {"name": "e", "resourceVersion": "-1"}}, WriteOptions())
    finally:
        store.close()


# ---- JSON bodies end in "\n" -------------------------------------------------------------------


def test_json_bodies_end_with_newline_like_json_encoder() -> None:
    assert status_response(errors.already_exists("configmaps", "x")).body.endswith(b'"code":409}\n')
    assert _json({"kind": "ConfigMap"}).body == b'{"kind":"ConfigMap"}\n'
    assert _json(b'{"kind":"ConfigMap"}').body == b'{"kind":"ConfigMap"}\n'


# ---- /openapi/v2 as gnostic protobuf -----------------------------------------------------------


@functools.cache
def _wire() -> Any:
    from .test_protobuf import _tool

    return _tool()


def _fields(buf: bytes) -> list[tuple[int, Any]]:
    """The generic protobuf wire decoder of tools/proto_to_table.py: (field number, int | bytes)."""
    return list(_wire()._fields(buf))


def _one(buf: bytes, num: int) -> Any:
    vals = [v for n, v in _fields(buf) if n == num]
    assert len(vals) == 1, (num, vals)
    return vals[0]


def _named(buf: bytes, num: int) -> dict[str, bytes]:
    return {_one(e, 1).decode(): _one(e, 2) for n, e in _fields(buf) if n == num}


def test_openapi_v2_protobuf_decodes_to_the_json_document() -> None:
    doc = orjson.loads(openapi.v2_document())
    pb = openapi.v2_protobuf()
    assert _one(pb, 1) == b"2.0"  # swagger
    definitions = _named(_one(pb, 9), 1)
    assert set(definitions) == set(doc["definitions"])
    deploy = definitions["io.k8s.api.apps.v1.Deployment"]
    exts = {_one(e, 1).decode(): yaml.safe_load(_one(_one(e, 2), 2)) for n, e in _fields(deploy) if n == 31}
    assert exts["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    props = _named(_one(deploy, 25), 1)
    assert _one(props["spec"], 1) == b"#/definitions/io.k8s.api.apps.v1.DeploymentSpec"  # $ref
    containers = _named(_one(_named(_one(pb, 9), 1)["io.k8s.api.core.v1.PodSpec"], 25), 1)["containers"]
    ext = {_one(e, 1).decode(): yaml.safe_load(_one(_one(e, 2), 2)) for n, e in _fields(containers) if n == 31}
    assert ext["x-kubernetes-patch-merge-key"] == "name" and ext["x-kubernetes-patch-strategy"] == "merge"
    paths = _named(_one(pb, 8), 2)
    assert set(paths) == set(doc["paths"])
    get = _one(paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"], 2)
    assert _one(get, 5) == b"readAppsV1NamespacedDeployment"  # operationId
    key = _named(_one(pb, 13), 1)["BearerToken"]
    assert _one(_one(key, 2), 2) == b"authorization"  # ApiKeySecurity.name


def test_openapi_pb_scalars_and_unknown_keys() -> None:
    pb = encode_document({"definitions": {"x": {"type": "object", "additionalProperties": False, "minLength": -1,
                                                "maximum": 1.5, "uniqueItems": True}}})
    schema = _named(_one(pb, 9), 1)["x"]
    assert _one(_one(schema, 22), 1) == b"object"  # TypeItem
    assert _fields(_one(schema, 21)) == [(2, 0)]  # additionalProperties: false is written (a oneof)
    assert _one(schema, 12) == (1 << 64) - 1  # int64 -1
    assert struct.unpack("<d", _one(schema, 7)) == (1.5,) and _one(schema, 16) == 1
    with pytest.raises(ValueError, match="unknown property 'nope'"):
        encode_document({"definitions": {"x": {"nope": 1}}})


@pytest.mark.parametrize("accept,want", [
    ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", openapi.V2_PROTOBUF),
    ("application/com.github.proto-openapi.spec.v2.v1.0+protobuf", openapi.V2_PROTOBUF),
    ("application/json, */*", "application/json"), (None, "application/json"), ("*/*", "application/json"),
    ("text/html", None),
])
def test_openapi_v2_negotiation(accept: str | None, want: str | None) -> None:
    assert openapi.v2_content_type(accept) == want


# ---- validation messages -----------------------------------------------------------------------


def _service(ips: list[str], policy: str | None = None) -> dict:
    spec: dict = {"type": "ClusterIP", "clusterIP": ips[0] if ips else "", "clusterIPs": ips, "ports": [
        {"port": 80, "targetPort": 80, "protocol": "TCP"}], "sessionAffinity": "None"}
    if policy:
        spec["ipFamilyPolicy"] = policy
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "d"}, "spec": spec}


@pytest.mark.parametrize("old,new,policy,want", [
    (["10.96.0.10"], ["10.96.0.11"], None,
     ['spec.clusterIPs[0]: Invalid value: []string{"10.96.0.11"}: may not change once set']),
    (["10.96.0.10", "fd00::10"], ["10.96.0.10", "fd00::11"], None,
     ['spec.clusterIPs[1]: Invalid value: []string{"10.96.0.10", "fd00::11"}: may not change once set']),
    (["10.96.0.10", "fd00::10"], ["10.96.0.11"], None,
     ['spec.clusterIPs[0]: Invalid value: []string{"10.96.0.11"}: may not change once set',
      'spec.ipFamilyPolicy: Invalid value: "null": must be set to \'SingleStack\' when releasing the secondary clusterIP']),
    (["10.96.0.10", "fd00::10"], ["10.96.0.10"], "SingleStack", []),
    (["10.96.0.10"], ["10.96.0.11", "fd00::10"], "PreferDualStack",
     ['spec.clusterIPs[0]: Invalid value: []string{"10.96.0.11", "fd00::10"}: may not change once set']),
])
def test_service_cluster_ips_update_messages(old: list[str], new: list[str], policy: str | None,
                                             want: list[str]) -> None:
    causes = validate("", "v1", "Service", _service(new, policy), _service(old))
    got = [c["message"] for c in causes if c["field"].startswith(("spec.clusterIPs", "spec.ipFamilyPolicy"))]
    assert got == want


# ---- deliberate patch and apply errors ---------------------------------------------------------


@pytest.mark.parametrize("ctype,body,message", [
    ("application/json-patch+json", {}, "json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"),
    ("application/json-patch+json", ["x"], "json: cannot unmarshal string into Go value of type handlers.jsonPatchOp"),
    ("application/json-patch+json", [{"op": 1}],
     "json: cannot unmarshal number into Go struct field jsonPatchOp.op of type string"),
    ("application/merge-patch+json", [1], "json: cannot unmarshal array into Go value of type map[string]interface {}"),
    ("application/merge-patch+json", 3, "json: cannot unmarshal number into Go value of type map[string]interface {}"),
])
def test_strict_patch_decode_is_400(ctype: str, body: Any, message: str) -> None:
    with pytest.raises(errors.StatusError) as e:
        check_strict_decode(ctype, body)
    assert (e.value.code, e.value.reason, e.value.message) == (400, "BadRequest", "error decoding patch: " + message)


@pytest.mark.parametrize("ctype,body", [("application/json-patch+json", None), ("application/json-patch+json", []),
                                        ("application/merge-patch+json", None), ("application/merge-patch+json", {})])
def test_strict_patch_decode_accepts(ctype: str, body: Any) -> None:
    check_strict_decode(ctype, body)


def _deployment() -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}


def _with(path: list[Any], value: Any) -> dict:
    obj = _deployment()
    node = obj
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return obj


_WHERE = "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "


@pytest.mark.parametrize("config,text", [
    (_with(["spec", "replicas"], "3"), ".spec.replicas: expected numeric (int or float), got string"),
    (_with(["spec", "paused"], 1), ".spec.paused: expected boolean, got &{1}"),
    (_with(["spec", "template", "spec", "containers", 0, "image"], 1),
     '.spec.template.spec.containers[name="web"].image: expected string, got &value.valueUnstructured{Value:1}'),
    (_with(["spec", "bogus"], 1), ".spec.bogus: field not declared in schema"),
    (_with(["spec", "selector"], "x"), ".spec.selector: expected map, got &{x}"),
    (_with(["spec", "template", "spec", "containers"], {"a": 1}),
     ".spec.template.spec.containers: expected list, got &{map[a:1]}"),
    (_with(["metadata", "labels"], {"a": ["x"]}),
     '.metadata.labels.a: expected string, got &value.valueUnstructured{Value:[]interface {}{"x"}}'),
    (_with(["spec", "template", "spec", "containers"], [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]),
     '.spec.template.spec.containers: duplicate entries for key [name="a"]'),
    (_with(["spec", "template", "spec", "containers"], [{"image": "x"}]),
     '.spec.template.spec.containers: element 0: associative list with keys has an element that omits key field '
     '"name" (and doesn\'t have default value)'),
    (_with(["spec", "replicas"], [1]) | {"status": {"replicas": "x"}},
     "errors:\n  .spec.replicas: expected numeric (int or float), got []interface {}\n"
     "  .status.replicas: expected numeric (int or float), got string"),
])
def test_apply_configuration_is_typed_first(config: dict, text: str) -> None:
    """ObjectToTyped(patchObj) fails before any merge: a plain error, so a 500 without a reason."""
    sch = schemas.for_kind("apps", "v1", "Deployment")
    with pytest.raises(errors.StatusError) as e:
        AS.server_side_apply(_deployment(), config, "m", True, "apps/v1", "2026-01-01T00:00:00Z", sch,
                                kind="Deployment")
    assert (e.value.code, e.value.reason, e.value.message) == (500, "", _WHERE + text)


def test_apply_configuration_untyped_scalars_accept_numbers() -> None:
    """Quantity and IntOrString are untyped scalars: `cpu: 1` and `maxSurge: 1` fit."""
    config = _with(["spec", "template", "spec", "containers", 0, "resources"], {"limits": {"cpu": 1}})
    config["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": 1}}
    sch = schemas.for_kind("apps", "v1", "Deployment")
    out = AS.server_side_apply(_deployment(), config, "m", True, "apps/v1", "2026-01-01T00:00:00Z", sch,
                                  kind="Deployment")
    assert out["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 1


def test_service_ip_families_and_load_balancer_class_updates() -> None:
    old, new = _service(["10.96.0.10"]), _service(["10.96.0.10"])
    old["spec"]["ipFamilies"], new["spec"]["ipFamilies"] = ["IPv4"], ["IPv6"]
    assert [c["message"] for c in validate("", "v1", "Service", new, old)] == [
        'spec.ipFamilies[0]: Invalid value: []core.IPFamily{"IPv6"}: may not change once set']
    old, new = _service(["10.96.0.10"]), _service(["10.96.0.10"])
    for svc, cls in ((old, "a.io/lb"), (new, "b.io/lb")):
        svc["spec"].update(type="LoadBalancer", loadBalancerClass=cls)
    assert [c["message"] for c in validate("", "v1", "Service", new, old)] == [
        'spec.loadBalancerClass: Invalid value: "b.io/lb": may not change once set']
    new["spec"]["type"] = "ClusterIP"
    assert "spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'" in [
        c["message"] for c in validate("", "v1", "Service", new, None)]


def _query(*pairs: tuple[str, str]) -> Any:
    from multidict import MultiDict, MultiDictProxy

    return MultiDictProxy(MultiDict(pairs))


@pytest.mark.parametrize("kind,pairs,patch_type,want", [
    ("PatchOptions", (), "application/apply-patch+yaml",
     ["fieldManager: Required value: is required for apply patch"]),
    ("PatchOptions", (("force", "true"),), "application/merge-patch+json",
     ["force: Forbidden: may not be specified for non-apply patch"]),
    ("PatchOptions", (("force", "true"), ("fieldManager", "m")), "application/apply-patch+yaml", []),
    ("CreateOptions", (("dryRun", "All"), ("dryRun", "x")), "",
     ['dryRun: Unsupported value: []string{"All", "x"}: supported values: "All"']),
    ("UpdateOptions", (("fieldValidation", "strict"),), "",
     ['fieldValidation: Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn"']),
    ("CreateOptions", (("fieldManager", "m" * 129),), "", ["fieldManager: Too long: may not be more than 128 bytes"]),
    ("CreateOptions", (("fieldManager", "é\n"),), "",
     ['fieldManager: Invalid value: "é\\n": invalid character U+000A (at position 2)']),
])
def test_write_options_validation(kind: str, pairs: tuple, patch_type: str, want: list[str]) -> None:
    from kubeling.api.validation.meta import validate_write_options

    assert [c["message"] for c in validate_write_options(kind, _query(*pairs), patch_type)] == want
