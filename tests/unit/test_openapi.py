"""OpenAPI v2/v3 documents: shape kubectl 1.32 relies on (explain, client-side apply) and upstream format."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from typing import Any, Iterator

import orjson
import pytest

from kubeling.api import resources
from kubeling.apiserver import openapi

V3 = "#/components/schemas/"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."


def doc(path: str) -> dict[str, Any]:
    raw = openapi.v3_document(path)
    assert raw is not None
    return orjson.loads(raw)


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def resolve(d: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
    """Like apimachinery's PatchMetaFromOpenAPIV3 resolve: take allOf[0], then follow the $ref."""
    if s.get("allOf"):
        s = s["allOf"][0]
    ref = s.get("$ref")
    if ref:
        s = d["components"]["schemas"][ref[len(V3):]]
    return s


def field(d: dict[str, Any], kind_schema: str, path: str) -> dict[str, Any]:
    """The (unresolved) property schema at a dotted path; `[]` steps into array items."""
    s = d["components"]["schemas"][kind_schema]
    prop: dict[str, Any] = s
    for step in path.split("."):
        s = resolve(d, prop)
        if step == "[]":
            prop = s["items"]
            continue
        prop = s["properties"][step]
    return prop


# --- root -------------------------------------------------------------------------------------


def test_root_lists_every_served_group_version_with_upstream_hash():
    root = orjson.loads(openapi.v3_root())
    assert set(root) == {"paths"}
    # metrics.k8s.io is served without an OpenAPI document (kubernetes-validate ships no schema)
    served = {("api/" + r.version) if not r.group else f"apis/{r.group}/{r.version}" for r in resources.RESOURCES
              if r.group != resources.METRICS_GROUP}
    assert set(root["paths"]) == served
    for gv, entry in root["paths"].items():
        url = entry["serverRelativeURL"]
        m = re.fullmatch(r"/openapi/v3/(.+)\?hash=([0-9A-F]{128})", url)
        assert m, url
        assert m.group(1) == gv
        # kube-openapi handler3 computeETag: fmt.Sprintf("%X", sha512.Sum512(json))
        assert m.group(2) == hashlib.sha512(openapi.v3_document(gv)).hexdigest().upper()
        assert openapi.v3_hash(gv) == m.group(2)
        assert openapi.v3_url(gv) == url


def test_root_contains_core_and_apps_like_kubectl_expects():
    root = orjson.loads(openapi.v3_root())
    assert root["paths"]["api/v1"]["serverRelativeURL"].startswith("/openapi/v3/api/v1?hash=")
    assert root["paths"]["apis/apps/v1"]["serverRelativeURL"].startswith("/openapi/v3/apis/apps/v1?hash=")


@pytest.mark.parametrize("path", ["apis/apps/v2", "apis/extensions/v1beta1", "api/v2", "", "apis/apps", "api",
                                  "apis/autoscaling/v2beta2", "apis/apps/v1/deployments"])
def test_unknown_group_version_is_none(path):
    assert openapi.v3_document(path) is None
    assert openapi.v3_hash(path) is None


def test_path_forms_accepted():
    assert openapi.v3_document("/apis/apps/v1") is openapi.v3_document("apis/apps/v1")
    assert openapi.v3_document("/openapi/v3/apis/apps/v1") is openapi.v3_document("apis/apps/v1")
    assert openapi.v3_url("/openapi/v3/apis/apps/v1") == openapi.v3_url("apis/apps/v1")
    assert openapi.v3_url("apis/apps/v1").startswith("/openapi/v3/apis/apps/v1?hash=")


@pytest.mark.parametrize("accept,ok", [
    (None, True), ("", True), ("*/*", True), ("application/json", True), ("application/json, */*", True),
    ("application/*", True), ("application/json;q=0.9", True),
    ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", False),
    ("application/com.github.proto-openapi.spec.v3.v1.0+protobuf", False), ("text/html", False),
])
def test_json_acceptable(accept, ok):
    assert openapi.json_acceptable(accept) is ok


def test_documents_are_cached_bytes():
    a = openapi.v3_document("api/v1")
    assert isinstance(a, bytes)
    assert openapi.v3_document("api/v1") is a
    assert openapi.v3_root() is openapi.v3_root()
    assert openapi.v2_document() is openapi.v2_document()


def test_import_builds_nothing():
    code = ("import kubeling.apiserver.openapi, kubeling.api.schema as s;"
            "print(s.definitions.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


# --- v3 schemas ---------------------------------------------------------------------------------


@pytest.mark.parametrize("gv", openapi.group_version_paths())
def test_v3_document_is_self_contained_and_upstream_shaped(gv):
    d = doc(gv)
    assert d["openapi"] == "3.0.0"
    assert d["info"]["title"] == "Kubernetes"
    schemas = d["components"]["schemas"]
    for node in walk(d):
        ref = node.get("$ref")
        if ref is None or "type" in node:  # JSONSchemaProps has a property named `$ref`
            continue
        assert ref.startswith(V3), ref
        assert ref[len(V3):] in schemas, ref
        # upstream wraps a $ref that has siblings in allOf
        assert set(node) == {"$ref"}, node
    assert "#/definitions/" not in openapi.v3_document(gv).decode()


@pytest.mark.parametrize("gv", openapi.group_version_paths())
def test_v3_document_has_every_kind_of_the_group_version(gv):
    d = doc(gv)
    group, version = ("", gv.split("/")[1]) if gv.startswith("api/") else tuple(gv.split("/")[1:])
    gvks = {(k["group"], k["version"], k["kind"])
            for s in d["components"]["schemas"].values() for k in s.get("x-kubernetes-group-version-kind", [])}
    for r in resources.in_group_version(group, version):
        assert (group, version, r.kind) in gvks
        if "list" in r.verbs:
            assert (group, version, r.list_kind) in gvks
    names = ["ObjectMeta", "APIResourceList"]
    if any("delete" in r.verbs for r in resources.in_group_version(group, version)):
        names += ["Status", "DeleteOptions", "Patch", "WatchEvent"]  # only groups with full CRUD need them
    for name in names:
        assert META + name in d["components"]["schemas"]


def test_v3_documents_describe_only_their_group_version():
    core = doc("api/v1")["components"]["schemas"]
    assert "io.k8s.api.apps.v1.Deployment" not in core
    assert "io.k8s.api.core.v1.Pod" in core
    assert "io.k8s.api.core.v1.Service" in core
    hpa1 = doc("apis/autoscaling/v1")["components"]["schemas"]
    hpa2 = doc("apis/autoscaling/v2")["components"]["schemas"]
    assert "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler" in hpa1
    assert "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler" not in hpa1
    assert "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler" in hpa2


def test_deployment_schema_for_explain():
    d = doc("apis/apps/v1")
    dep = d["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert dep["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert dep["properties"]["apiVersion"] == {
        "description": dep["properties"]["apiVersion"]["description"], "type": "string"}  # no enum upstream
    assert "enum" not in dep["properties"]["kind"]
    strategy = field(d, "io.k8s.api.apps.v1.Deployment", "spec.strategy")
    assert strategy["allOf"] == [{"$ref": V3 + "io.k8s.api.apps.v1.DeploymentStrategy"}]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"
    assert strategy["description"] == "The deployment strategy to use to replace existing pods with new ones."
    spec = d["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentSpec"]
    assert spec["required"] == ["selector", "template"]
    # Scale subresource brings autoscaling/v1 Scale into apps/v1
    assert "io.k8s.api.autoscaling.v1.Scale" in d["components"]["schemas"]


@pytest.mark.parametrize("path,strategy,key", [
    ("spec.template.spec.containers", "merge", "name"),
    ("spec.template.spec.containers.[].env", "merge", "name"),
    ("spec.template.spec.containers.[].ports", "merge", "containerPort"),
    ("spec.template.spec.volumes", "merge,retainKeys", "name"),
    ("metadata.ownerReferences", "merge", "uid"),
    ("metadata.finalizers", "merge", None),
    ("status.conditions", "merge", "type"),
])
def test_strategic_merge_metadata_reachable_like_client_side_apply(path, strategy, key):
    d = doc("apis/apps/v1")
    prop = field(d, "io.k8s.api.apps.v1.Deployment", path)
    assert prop["x-kubernetes-patch-strategy"] == strategy
    assert prop.get("x-kubernetes-patch-merge-key") == key


def test_list_and_map_types_kept():
    d = doc("api/v1")
    containers = field(d, "io.k8s.api.core.v1.Pod", "spec.containers")
    assert containers["x-kubernetes-list-type"] == "map"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    labels = field(d, "io.k8s.api.core.v1.Pod", "spec.nodeSelector")
    assert labels["x-kubernetes-map-type"] == "atomic"


def test_special_string_types_in_v3():
    s = doc("apis/apps/v1")["components"]["schemas"]
    ios = s["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert ios["format"] == "int-or-string"
    assert ios["oneOf"] == [{"type": "integer"}, {"type": "string"}]
    assert ios["description"].startswith("IntOrString is a type that can hold an int32 or a string.")
    q = s["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    assert q["oneOf"] == [{"type": "string"}, {"type": "number"}]
    assert q["description"].startswith("Quantity is a fixed-point representation of a number.")


# --- v3 paths ------------------------------------------------------------------------------------


def op_ids(d: dict[str, Any]) -> set[str]:
    return {op["operationId"] for item in d["paths"].values() for k, op in item.items() if k != "parameters"}


def test_apps_operation_ids_match_upstream():
    ids = op_ids(doc("apis/apps/v1"))
    for expected in (
        "getAppsV1APIResources", "listAppsV1NamespacedDeployment", "createAppsV1NamespacedDeployment",
        "deleteAppsV1CollectionNamespacedDeployment", "readAppsV1NamespacedDeployment",
        "replaceAppsV1NamespacedDeployment", "patchAppsV1NamespacedDeployment", "deleteAppsV1NamespacedDeployment",
        "listAppsV1DeploymentForAllNamespaces", "watchAppsV1NamespacedDeploymentList",
        "watchAppsV1NamespacedDeployment", "watchAppsV1DeploymentListForAllNamespaces",
        "readAppsV1NamespacedDeploymentScale", "patchAppsV1NamespacedDeploymentScale",
        "replaceAppsV1NamespacedDeploymentStatus",
    ):
        assert expected in ids


def test_core_operation_ids_match_upstream():
    ids = op_ids(doc("api/v1"))
    for expected in (
        "getCoreV1APIResources", "listCoreV1NamespacedPod", "readCoreV1NamespacedPodLog",
        "connectCoreV1GetNamespacedPodExec", "connectCoreV1PostNamespacedPodExec",
        "connectCoreV1GetNamespacedPodPortforward", "createCoreV1NamespacedPodEviction",
        "createCoreV1NamespacedPodBinding", "createCoreV1NamespacedBinding",
        "createCoreV1NamespacedServiceAccountToken", "replaceCoreV1NamespaceFinalize", "listCoreV1Namespace",
        "readCoreV1NamespaceStatus", "readCoreV1NamespacedReplicationControllerScale", "watchCoreV1Node",
    ):
        assert expected in ids
    # served verbs only: namespaces have no deletecollection, bindings are create-only
    assert "deleteCoreV1CollectionNamespace" not in ids
    assert "listCoreV1NamespacedBinding" not in ids
    assert "readCoreV1NamespacedBinding" not in ids


def test_group_with_dots_operation_ids_and_tags():
    d = doc("apis/rbac.authorization.k8s.io/v1")
    assert "listRbacAuthorizationV1NamespacedRole" in op_ids(d)
    assert "listRbacAuthorizationV1ClusterRole" in op_ids(d)
    op = d["paths"]["/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles"]["get"]
    assert op["tags"] == ["rbacAuthorization_v1"]
    assert "listCoordinationV1NamespacedLease" in op_ids(doc("apis/coordination.k8s.io/v1"))


def test_paths_only_for_served_resources():
    for gv in openapi.group_version_paths():
        d = doc(gv)
        group, version = ("", gv.split("/")[1]) if gv.startswith("api/") else tuple(gv.split("/")[1:])
        plurals = {r.plural for r in resources.in_group_version(group, version)}
        prefix = "/" + gv
        seen = set()
        for p in d["paths"]:
            assert p.startswith(prefix + "/")
            rest = p[len(prefix) + 1:].split("/")
            if rest == [""]:
                continue
            if rest[0] == "watch":
                rest = rest[1:]
            if rest[0] == "namespaces" and len(rest) > 2 and rest[1] == "{namespace}":
                rest = rest[2:]
            assert rest[0] in plurals, p
            seen.add(rest[0])
        assert seen == plurals


def test_collection_and_item_parameters_like_upstream():
    d = doc("apis/apps/v1")
    coll = d["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]
    assert [p["name"] for p in coll["parameters"]] == ["namespace", "pretty"]
    assert coll["parameters"][0] == {
        "description": "object name and auth scope, such as for teams and projects", "in": "path",
        "name": "namespace", "required": True, "schema": {"type": "string", "uniqueItems": True}}
    lst = coll["get"]
    assert [p["name"] for p in lst["parameters"]] == [
        "allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
        "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"]
    assert lst["x-kubernetes-action"] == "list"
    assert lst["x-kubernetes-group-version-kind"] == {"group": "apps", "kind": "Deployment", "version": "v1"}
    assert lst["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": V3 + "io.k8s.api.apps.v1.DeploymentList"}
    assert "application/json;stream=watch" in lst["responses"]["200"]["content"]
    assert lst["responses"]["401"] == {"description": "Unauthorized"}
    create = coll["post"]
    assert [p["name"] for p in create["parameters"]] == ["dryRun", "fieldManager", "fieldValidation"]
    assert create["requestBody"] == {"content": {"*/*": {"schema": {"$ref": V3 + "io.k8s.api.apps.v1.Deployment"}}},
                                     "required": True}
    assert set(create["responses"]) == {"200", "201", "202", "401"}

    item = d["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    assert [p["name"] for p in item["parameters"]] == ["name", "namespace", "pretty"]
    assert item["parameters"][0]["description"] == "name of the Deployment"
    patch = item["patch"]
    assert [p["name"] for p in patch["parameters"]] == ["dryRun", "fieldManager", "fieldValidation", "force"]
    assert set(patch["requestBody"]["content"]) == {
        "application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
        "application/strategic-merge-patch+json"}
    assert patch["requestBody"]["content"]["application/json-patch+json"]["schema"] == {"$ref": V3 + META + "Patch"}
    delete = item["delete"]
    assert delete["requestBody"] == {"content": {"*/*": {"schema": {"$ref": V3 + META + "DeleteOptions"}}}}
    assert delete["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": V3 + META + "Status"}
    assert "gracePeriodSeconds" in [p["name"] for p in delete["parameters"]]


def test_pod_delete_returns_the_pod_and_log_is_text():
    d = doc("api/v1")
    delete = d["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["delete"]
    assert delete["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": V3 + "io.k8s.api.core.v1.Pod"}
    log = d["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/log"]
    assert log["get"]["responses"]["200"]["content"]["text/plain"]["schema"] == {"type": "string"}
    assert {"container", "follow", "tailLines", "name", "namespace"} <= {p["name"] for p in log["parameters"]}
    ex = d["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/exec"]
    assert set(ex) == {"get", "post", "parameters"}
    assert [p["name"] for p in ex["parameters"]] == [
        "command", "container", "name", "namespace", "stderr", "stdin", "stdout", "tty"]
    assert ex["get"]["x-kubernetes-action"] == "connect"


def test_scale_subresource_paths_use_autoscaling_scale():
    d = doc("apis/apps/v1")
    item = d["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert set(item) == {"get", "put", "patch", "parameters"}
    assert item["get"]["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "kind": "Scale", "version": "v1"}
    assert item["parameters"][0]["description"] == "name of the Scale"
    assert item["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": V3 + "io.k8s.api.autoscaling.v1.Scale"}


def test_cluster_scoped_paths():
    d = doc("api/v1")
    assert "/api/v1/nodes/{name}" in d["paths"]
    assert "/api/v1/namespaces/{namespace}/nodes" not in d["paths"]
    assert [p["name"] for p in d["paths"]["/api/v1/nodes/{name}"]["parameters"]] == ["name", "pretty"]
    assert "/api/v1/watch/nodes/{name}" in d["paths"]


# --- v2 -----------------------------------------------------------------------------------------


def test_v2_document():
    d = orjson.loads(openapi.v2_document())
    assert d["swagger"] == "2.0"
    defs = d["definitions"]
    for node in walk(d):
        ref = node.get("$ref")
        if ref is not None and "type" not in node:  # not JSONSchemaProps' `$ref` property
            assert ref.startswith("#/definitions/"), ref
            assert ref[len("#/definitions/"):] in defs, ref
    for gv in openapi.group_version_paths():
        v3 = doc(gv)
        assert set(v3["components"]["schemas"]) <= set(defs)
        assert set(v3["paths"]) <= set(d["paths"])
    assert "enum" not in defs["io.k8s.api.core.v1.Pod"]["properties"]["kind"]
    assert defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["type"] == "string"
    create = d["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["post"]
    assert create["parameters"][0] == {"in": "body", "name": "body", "required": True,
                                       "schema": {"$ref": "#/definitions/io.k8s.api.apps.v1.Deployment"}}
    assert create["parameters"][1]["type"] == "string"
    strategy = defs["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strategy["$ref"] == "#/definitions/io.k8s.api.apps.v1.DeploymentStrategy"
    assert d["securityDefinitions"]["BearerToken"]["in"] == "header"
