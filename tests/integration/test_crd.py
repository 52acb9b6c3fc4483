"""CustomResourceDefinitions with the real kubectl: a CRD with a schema, printer columns and the
status and scale subresources is served at once, validated, listed, scaled and deleted."""

from __future__ import annotations

import json
import textwrap

import pytest

from .conftest import Cluster

CRD = textwrap.dedent("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.crd-test.kubeling.io
    spec:
      group: crd-test.kubeling.io
      scope: Namespaced
      names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wdg], categories: [crdtest]}
      versions:
      - name: v1
        served: true
        storage: true
        subresources:
          status: {}
          scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
        additionalPrinterColumns:
        - {name: Size, type: string, jsonPath: .spec.size}
        - {name: Replicas, type: integer, jsonPath: .spec.replicas}
        - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                required: [size]
                properties:
                  size: {type: string, enum: [small, large]}
                  replicas: {type: integer, minimum: 0, maximum: 10, default: 1}
                  owner: {type: string, pattern: '^[a-z]+$'}
                  extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
              status:
                type: object
                properties:
                  replicas: {type: integer}
                  conditions:
                    type: array
                    items:
                      type: object
                      properties: {type: {type: string}, status: {type: string}}
      - name: v1beta1
        served: true
        storage: false
        schema:
          openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
    """)


def widget(name: str, spec: str) -> str:
    return f"apiVersion: crd-test.kubeling.io/v1\nkind: Widget\nmetadata: {{name: {name}}}\nspec: {spec}\n"


@pytest.fixture
def crd(cluster: Cluster):
    assert cluster.kubectl("create", "-f", "-", input=CRD).stdout.strip() == \
        "customresourcedefinition.apiextensions.k8s.io/widgets.crd-test.kubeling.io created"
    yield "widgets.crd-test.kubeling.io"
    cluster.kubectl("delete", "crd", "widgets.crd-test.kubeling.io", "--ignore-not-found", "--timeout=20s")


def test_crd_served_validated_listed_and_deleted(cluster: Cluster, ns: str, crd: str) -> None:
    # the new kind is usable at once, by every name kubectl knows it by
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=10s")
    out = cluster.kubectl("create", "-n", ns, "-f", "-", input=widget("w1", "{size: small, extra: {any: [1]}}"))
    assert out.stdout.strip() == "widget.crd-test.kubeling.io/w1 created"
    for name in ("widgets", "widget", "wdg", "crdtest", "widgets.crd-test.kubeling.io"):
        assert cluster.kubectl("get", name, "-n", ns, "-o", "name").stdout.split() == \
            ["widget.crd-test.kubeling.io/w1"], name
    # defaults and pruning through the schema; unknown fields are errors for kubectl (Strict)
    obj = cluster.json("get", "widget", "w1", "-n", ns)
    assert obj["spec"] == {"size": "small", "replicas": 1, "extra": {"any": [1]}}
    p = cluster.kubectl("create", "-n", ns, "-f", "-", input=widget("w2", "{size: small, bogus: 1}"), check=False)
    assert p.returncode == 1
    assert 'Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field ' \
           '"spec.bogus"' in p.stderr
    # schema validation, upstream's messages
    p = cluster.kubectl("create", "-n", ns, "-f", "-", check=False,
                        input=widget("w3", "{size: huge, replicas: 20, owner: Bob}"))
    assert p.returncode == 1
    assert 'The Widget "w3" is invalid: ' in p.stderr
    assert '* spec.size: Unsupported value: "huge": supported values: "small", "large"' in p.stderr
    assert "* spec.replicas: Invalid value: 20: spec.replicas in body should be less than or equal to 10" in p.stderr
    assert "* spec.owner: Invalid value: \"Bob\": spec.owner in body should match '^[a-z]+$'" in p.stderr
    p = cluster.kubectl("create", "-n", ns, "-f", "-", check=False, input=widget("w4", "{replicas: 2}"))
    assert p.stderr.strip() == 'The Widget "w4" is invalid: spec.size: Required value'
    # status subresource: the main resource ignores status, the subresource sets it
    cluster.kubectl("patch", "widget", "w1", "-n", ns, "--type=merge", "-p", '{"status": {"replicas": 5}}')
    assert "status" not in cluster.json("get", "widget", "w1", "-n", ns)
    cluster.kubectl("patch", "widget", "w1", "-n", ns, "--subresource=status", "--type=merge", "-p",
                    json.dumps({"status": {"replicas": 2, "conditions": [{"type": "Ready", "status": "True"}]}}))
    # scale subresource; strategic merge patch is refused as upstream
    assert cluster.kubectl("scale", "widget", "w1", "-n", ns, "--replicas=3").stdout.strip() == \
        "widget.crd-test.kubeling.io/w1 scaled"
    p = cluster.kubectl("patch", "widget", "w1", "-n", ns, "-p", '{"spec": {"size": "large"}}', check=False)
    assert "application/strategic-merge-patch+json is not supported" in p.stderr
    cluster.kubectl("patch", "widget", "w1", "-n", ns, "--type=merge", "-p", '{"spec": {"size": "large"}}')
    # printer columns
    lines = cluster.kubectl("get", "widgets", "-n", ns).stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "REPLICAS", "READY"]
    assert lines[1].split() == ["w1", "large", "3", "True"]
    # client-side apply: kubectl finds no strategic merge patch for the kind in OpenAPI, so merges
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=widget("wa", "{size: small}"))
    out = cluster.kubectl("apply", "-n", ns, "-f", "-", input=widget("wa", "{size: large, replicas: 5}")).stdout
    assert out.strip() == "widget.crd-test.kubeling.io/wa configured"
    assert cluster.json("get", "widget", "wa", "-n", ns)["spec"] == {"size": "large", "replicas": 5}
    cluster.kubectl("delete", "widget", "wa", "-n", ns)
    # server-side apply, typed by the schema
    cluster.kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=widget("w5", "{size: large}"))
    assert cluster.json("get", "widget", "w5", "-n", ns)["spec"] == {"size": "large", "replicas": 1}
    # another served version: the same object, apiVersion rewritten
    got = cluster.json("get", "widgets.v1beta1.crd-test.kubeling.io", "w1", "-n", ns)
    assert got["apiVersion"] == "crd-test.kubeling.io/v1beta1" and got["spec"]["replicas"] == 3
    # OpenAPI from the structural schema: kubectl explain
    out = cluster.kubectl("explain", "widgets.spec").stdout
    assert "KIND:       Widget" in out and "size\t<string> -required-" in out and "enum: small, large" in out
    # stored in the storage version whatever version wrote it; a namespace takes its CRs along
    cluster.kubectl("create", "-n", ns, "-f", "-", input=widget("w6", "{size: small}").replace("/v1\n", "/v1beta1\n"))
    assert cluster.json("get", "widget", "w6", "-n", ns)["apiVersion"] == "crd-test.kubeling.io/v1"
    cluster.kubectl("create", "namespace", ns + "-x")
    cluster.kubectl("create", "-n", ns + "-x", "-f", "-", input=widget("w7", "{size: small}"))
    cluster.kubectl("delete", "namespace", ns + "-x", "--timeout=20s")
    assert cluster.kubectl("get", "widgets", "-A", "-o", "name").stdout.split() == [
        f"widget.crd-test.kubeling.io/{n}" for n in ("w1", "w5", "w6")]
    # deleting the CRD deletes its objects, and the kind is no longer served
    cluster.kubectl("delete", "crd", crd, "--timeout=20s")
    p = cluster.kubectl("get", "widgets.crd-test.kubeling.io", "-n", ns, check=False)
    assert p.returncode == 1 and 'the server doesn\'t have a resource type "widgets"' in p.stderr
    cluster.kubectl("create", "-f", "-", input=CRD)
    assert cluster.kubectl("get", "widgets", "-n", ns, "-o", "name").stdout == ""


def test_crd_status_and_validation(cluster: Cluster, crd: str) -> None:
    status = cluster.json("get", "crd", crd)["status"]
    conds = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conds == {"NamesAccepted": ("True", "NoConflicts"), "Established": ("True", "InitialNamesAccepted")}
    assert status["acceptedNames"]["shortNames"] == ["wdg"] and status["storedVersions"] == ["v1"]
    bad = CRD.replace("name: widgets.crd-test.kubeling.io", "name: gadgets.crd-test.kubeling.io")
    p = cluster.kubectl("create", "-f", "-", input=bad, check=False)
    assert ('metadata.name: Invalid value: "gadgets.crd-test.kubeling.io": must be spec.names.plural+"."+spec.group'
            in p.stderr)
    # an updated schema is served at once (a new defaulted field)
    updated = CRD.replace("      extra: {type: object, x-kubernetes-preserve-unknown-fields: true}\n",
                          "      extra: {type: object, x-kubernetes-preserve-unknown-fields: true}\n"
                          "              color: {type: string, default: blue}\n")
    assert updated != CRD
    cluster.kubectl("apply", "-f", "-", input=updated)
    assert cluster.json("get", "crd", crd)["metadata"]["generation"] == 2
    made = json.loads(cluster.kubectl("create", "-n", "default", "-o", "json", "-f", "-",
                                      input=widget("colored", "{size: small}")).stdout)
    assert made["spec"] == {"size": "small", "replicas": 1, "color": "blue"}
    # the API group is discoverable and its resources are listed by kubectl
    res = cluster.kubectl("api-resources", "--api-group=crd-test.kubeling.io").stdout
    assert "widgets" in res and "wdg" in res and "Widget" in res


def test_garbage_collection_through_custom_resources(cluster: Cluster, ns: str, crd: str) -> None:
    """A custom resource owns a ConfigMap (as a Rollout owns ReplicaSets) and is owned by one."""
    owner = json.loads(cluster.kubectl("create", "-n", ns, "-f", "-", "-o", "json",
                                       input=widget("owner", "{size: small}")).stdout)
    ref = {"apiVersion": "crd-test.kubeling.io/v1", "kind": "Widget", "name": "owner", "uid": owner["metadata"]["uid"]}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dep", "ownerReferences": [ref]}}
    cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(cm))
    top = json.loads(cluster.kubectl("create", "-n", ns, "-f", "-", "-o", "json", input=json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "top"}})).stdout)
    owned = widget("owned", "{size: large}").replace(
        "metadata: {name: owned}", "metadata: " + json.dumps({"name": "owned", "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "top", "uid": top["metadata"]["uid"]}]}))
    cluster.kubectl("create", "-n", ns, "-f", "-", input=owned)
    cluster.kubectl("delete", "widget", "owner", "-n", ns)
    cluster.kubectl("delete", "configmap", "top", "-n", ns)
    cluster.wait_for(lambda: cluster.kubectl("get", "configmap", "dep", "-n", ns, check=False).returncode == 1,
                     what="the Widget's ConfigMap collected")
    cluster.wait_for(lambda: cluster.kubectl("get", "widget", "owned", "-n", ns, check=False).returncode == 1,
                     what="the ConfigMap's Widget collected")


RULES_CRD = textwrap.dedent("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: crontabs.rules.kubeling.io}
    spec:
      group: rules.kubeling.io
      scope: Namespaced
      names: {plural: crontabs, singular: crontab, kind: CronTab}
      versions:
      - name: v1
        served: true
        storage: true
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                x-kubernetes-validations:
                - {rule: "self.minReplicas <= self.replicas", message: "replicas should be greater than or equal to minReplicas."}
                - {rule: "self.replicas <= self.maxReplicas", messageExpression: "'replicas should be at most ' + string(self.maxReplicas)"}
                - {rule: "self.image == oldSelf.image", message: "image is immutable", reason: FieldValueForbidden, fieldPath: .image}
                properties:
                  image: {type: string}
                  minReplicas: {type: integer}
                  replicas: {type: integer}
                  maxReplicas: {type: integer}
    """)


def test_crd_validation_rules_with_kubectl(cluster: Cluster) -> None:
    """upstream's docs example (minReplicas <= replicas <= maxReplicas) and a transition rule."""
    cluster.kubectl("create", "-f", "-", input=RULES_CRD)
    try:
        def tab(spec: str) -> str:
            return f"apiVersion: rules.kubeling.io/v1\nkind: CronTab\nmetadata: {{name: t}}\nspec: {spec}\n"
        p = cluster.kubectl("create", "-n", "default", "-f", "-", check=False,
                            input=tab("{image: a, minReplicas: 5, replicas: 9, maxReplicas: 8}"))
        assert ('The CronTab "t" is invalid: spec: Invalid value: "object": replicas should be at most 8'
                in p.stderr), p.stderr
        cluster.kubectl("create", "-n", "default", "-f", "-", input=tab("{image: a, minReplicas: 1, replicas: 2, maxReplicas: 3}"))
        p = cluster.kubectl("apply", "-n", "default", "-f", "-", check=False,
                            input=tab("{image: b, minReplicas: 3, replicas: 2, maxReplicas: 3}"))
        assert "spec: Invalid value: \"object\": replicas should be greater than or equal to minReplicas." in p.stderr
        assert "spec.image: Forbidden: image is immutable" in p.stderr
        bad = RULES_CRD.replace("self.image == oldSelf.image", "self.image == nosuch")
        p = cluster.kubectl("apply", "-f", "-", input=bad, check=False)
        assert ("spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[2].rule: "
                'Invalid value: apiextensions.ValidationRule{Rule:"self.image == nosuch"') in p.stderr
        assert "compilation failed: ERROR: <input>:1:15: undeclared reference to 'nosuch'" in p.stderr
    finally:
        cluster.kubectl("delete", "crd", "crontabs.rules.kubeling.io", "--ignore-not-found", "--timeout=20s")
