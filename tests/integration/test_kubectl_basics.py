"""The tutorial's kubectl commands against `kubeling up`, judged by the real kubectl's output."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import textwrap

import yaml

from .conftest import Cluster, manifest


def test_version_and_discovery(cluster: Cluster) -> None:
    out = cluster.kubectl("version", "-o", "json").stdout
    server = json.loads(out)["serverVersion"]
    assert server["gitVersion"].startswith("v1.32.") and "kubeling" in server["gitVersion"]
    res = cluster.kubectl("api-resources").stdout
    lines = {l.split()[0]: l for l in res.splitlines()[1:]}
    assert "deploy" in lines["deployments"] and "apps/v1" in lines["deployments"]
    assert "po" in lines["pods"] and "svc" in lines["services"] and "hpa" in lines["horizontalpodautoscalers"]
    versions = cluster.kubectl("api-versions").stdout.split()
    for gv in ("v1", "apps/v1", "batch/v1", "autoscaling/v2", "autoscaling/v1", "coordination.k8s.io/v1",
               "discovery.k8s.io/v1", "events.k8s.io/v1", "rbac.authorization.k8s.io/v1", "policy/v1"):
        assert gv in versions
    nss = cluster.kubectl("get", "ns").stdout
    for n in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert n in nss


def test_apply_redis_and_deployment_then_reapply(cluster: Cluster, ns: str) -> None:
    out = cluster.kubectl("apply", "-n", ns, "-f", manifest("redis.yaml")).stdout
    assert out.strip() == "pod/redis created"
    out = cluster.kubectl("apply", "-n", ns, "-f", manifest("my-nginx.yaml")).stdout
    assert out.strip() == "deployment.apps/nginx-deployment created"
    assert cluster.kubectl("apply", "-n", ns, "-f", manifest("my-nginx.yaml")).stdout.strip() == \
        "deployment.apps/nginx-deployment unchanged"
    modified = open(manifest("my-nginx.yaml")).read().replace("nginx:1.14.2", "nginx:latest")
    out = cluster.kubectl("apply", "-n", ns, "-f", "-", input=modified).stdout
    assert out.strip() == "deployment.apps/nginx-deployment configured"
    d = cluster.json("get", "-n", ns, "deploy", "nginx-deployment")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:latest"
    assert d["metadata"]["generation"] == 2
    # defaults as upstream
    assert d["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    assert d["spec"]["revisionHistoryLimit"] == 10 and d["spec"]["progressDeadlineSeconds"] == 600
    c = d["spec"]["template"]["spec"]["containers"][0]
    # the policy defaulted at create (1.14.2 → IfNotPresent) is kept: apply's patch doesn't touch it
    assert c["imagePullPolicy"] == "IfNotPresent" and c["terminationMessagePath"] == "/dev/termination-log"
    pod = cluster.json("get", "-n", ns, "pod", "redis")
    assert pod["status"]["phase"] == "Pending" and pod["status"]["qosClass"] == "BestEffort"
    assert pod["spec"]["restartPolicy"] == "Always" and pod["spec"]["terminationGracePeriodSeconds"] == 30
    assert pod["spec"]["dnsPolicy"] == "ClusterFirst" and pod["spec"]["schedulerName"] == "default-scheduler"


def test_get_output_formats(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", manifest("redis.yaml"))
    cluster.kubectl("apply", "-n", ns, "-f", manifest("my-nginx.yaml"))
    plain = cluster.kubectl("get", "-n", ns, "pod", "redis").stdout.splitlines()
    assert plain[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert plain[1].split()[:4] == ["redis", "0/1", "Pending", "0"]
    wide = cluster.kubectl("get", "-n", ns, "pod", "redis", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                               "READINESS", "GATES"]
    dw = cluster.kubectl("get", "-n", ns, "deploy", "-o", "wide").stdout.splitlines()
    assert dw[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert dw[1].split()[0] == "nginx-deployment" and "nginx:1.14.2" in dw[1] and "app=nginx" in dw[1]
    y = yaml.safe_load(cluster.kubectl("get", "-n", ns, "deploy", "nginx-deployment", "-o", "yaml").stdout)
    assert y["kind"] == "Deployment" and y["metadata"]["namespace"] == ns
    jp = cluster.kubectl("get", "-n", ns, "deploy", "nginx-deployment", "-o", "jsonpath={.spec.replicas}").stdout
    assert jp == "3"
    lab = cluster.kubectl("get", "-n", ns, "deploy", "-l", "app=nginx", "-o", "name").stdout.split()
    assert lab == ["deployment.apps/nginx-deployment"]
    assert cluster.kubectl("get", "-n", ns, "deploy", "-l", "app=other", "-o", "name").stdout.strip() == ""
    fs = cluster.kubectl("get", "-n", ns, "pods", "--field-selector", "metadata.name=redis", "-o", "name").stdout.split()
    assert fs == ["pod/redis"]
    fs = cluster.kubectl("get", "-n", ns, "pods", "--field-selector", "status.phase=Running", "-o", "name").stdout.split()
    assert fs == []
    allns = cluster.kubectl("get", "pods", "-A").stdout.splitlines()
    assert allns[0].split()[0] == "NAMESPACE" and any(l.split()[:2] == [ns, "redis"] for l in allns[1:])
    everything = cluster.kubectl("get", "all", "-n", ns).stdout
    assert "pod/redis" in everything and "deployment.apps/nginx-deployment" in everything
    missing = cluster.kubectl("get", "-n", ns, "cm", "does-not-exist", check=False)
    assert missing.returncode == 1
    assert 'Error from server (NotFound): configmaps "does-not-exist" not found' in missing.stderr


def test_describe_deployment_and_pod(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", manifest("my-nginx.yaml"))
    cluster.kubectl("apply", "-n", ns, "-f", manifest("redis.yaml"))
    out = cluster.kubectl("describe", "-n", ns, "deploy", "nginx-deployment").stdout
    assert "Name:                   nginx-deployment" in out
    assert "StrategyType:           RollingUpdate" in out
    assert "RollingUpdateStrategy:  25% max unavailable, 25% max surge" in out
    assert "Image:         nginx:1.14.2" in out
    out = cluster.kubectl("describe", "-n", ns, "pod", "redis").stdout
    assert "/data/redis from redis-storage (rw)" in out
    assert "EmptyDir (a temporary directory that shares a pod's lifetime)" in out
    assert "QoS Class:" in out and "BestEffort" in out


def test_create_generators_protobuf(cluster: Cluster, ns: str) -> None:
    k = cluster.kubectl
    assert k("create", "-n", ns, "configmap", "c1", "--from-literal=a=b").stdout.strip() == "configmap/c1 created"
    assert k("create", "-n", ns, "secret", "generic", "s1", "--from-literal=p=q").stdout.strip() == "secret/s1 created"
    assert k("create", "-n", ns, "deployment", "d1", "--image=nginx:1.14.2", "--replicas=2").stdout.strip() == \
        "deployment.apps/d1 created"
    assert k("create", "namespace", ns + "-extra").stdout.strip() == f"namespace/{ns}-extra created"
    cm = cluster.json("get", "-n", ns, "cm", "c1")
    assert cm["data"] == {"a": "b"}
    s = cluster.json("get", "-n", ns, "secret", "s1")
    assert s["data"] == {"p": "cQ=="} and s["type"] == "Opaque"
    d = cluster.json("get", "-n", ns, "deploy", "d1", managed_fields=True)
    assert d["spec"]["replicas"] == 2 and d["spec"]["selector"] == {"matchLabels": {"app": "d1"}}
    mf = [m for m in d["metadata"]["managedFields"] if m["manager"] == "kubectl-create"]
    assert mf and mf[0]["operation"] == "Update" and "f:spec" in mf[0]["fieldsV1"]


def test_edit_with_editor_script(cluster: Cluster, ns: str, tmp_path) -> None:
    cluster.kubectl("create", "-n", ns, "configmap", "edited", "--from-literal=k=v1")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/k: v1/k: v2/' \"$1\"\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    out = cluster.kubectl("edit", "-n", ns, "cm", "edited", env={"EDITOR": str(editor), "KUBE_EDITOR": str(editor)})
    assert out.stdout.strip() == "configmap/edited edited"
    assert cluster.json("get", "-n", ns, "cm", "edited")["data"] == {"k": "v2"}


def test_patch_three_types_label_annotate(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", manifest("my-nginx.yaml"))
    k = cluster.kubectl
    k("patch", "-n", ns, "deploy", "nginx-deployment", "-p",
      '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.16.1"}]}}}}')
    d = cluster.json("get", "-n", ns, "deploy", "nginx-deployment")
    c = d["spec"]["template"]["spec"]["containers"]
    assert len(c) == 1 and c[0]["image"] == "nginx:1.16.1" and c[0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    k("patch", "-n", ns, "deploy", "nginx-deployment", "--type=merge", "-p", '{"spec":{"replicas":4}}')
    assert cluster.json("get", "-n", ns, "deploy", "nginx-deployment")["spec"]["replicas"] == 4
    k("patch", "-n", ns, "deploy", "nginx-deployment", "--type=json",
      "-p", '[{"op":"replace","path":"/spec/replicas","value":2}]')
    assert cluster.json("get", "-n", ns, "deploy", "nginx-deployment")["spec"]["replicas"] == 2
    bad = k("patch", "-n", ns, "deploy", "nginx-deployment", "--type=json",
            "-p", '[{"op":"test","path":"/spec/replicas","value":7}]', check=False)
    assert bad.returncode != 0 and "The request is invalid" in bad.stderr
    k("label", "-n", ns, "deploy", "nginx-deployment", "tier=web")
    k("annotate", "-n", ns, "deploy", "nginx-deployment", "note=hello")
    d = cluster.json("get", "-n", ns, "deploy", "nginx-deployment")
    assert d["metadata"]["labels"]["tier"] == "web" and d["metadata"]["annotations"]["note"] == "hello"
    k("label", "-n", ns, "deploy", "nginx-deployment", "tier-")
    assert "tier" not in cluster.json("get", "-n", ns, "deploy", "nginx-deployment")["metadata"]["labels"]
    over = k("label", "-n", ns, "deploy", "nginx-deployment", "app=x", check=False)
    assert over.returncode != 0 and "already has a value" in over.stderr


def test_scale_and_dry_run(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", manifest("my-nginx.yaml"))
    out = cluster.kubectl("scale", "-n", ns, "deployment", "nginx-deployment", "--replicas", "5").stdout
    assert out.strip() == "deployment.apps/nginx-deployment scaled"
    d = cluster.json("get", "-n", ns, "deploy", "nginx-deployment", managed_fields=True)
    assert d["spec"]["replicas"] == 5
    scale_mf = [m for m in d["metadata"]["managedFields"] if m.get("subresource") == "scale"]
    assert scale_mf and scale_mf[0]["manager"] == "kubectl"
    out = cluster.kubectl("create", "-n", ns, "configmap", "dry", "--from-literal=a=b", "--dry-run=server").stdout
    assert "configmap/dry created (server dry run)" in out
    assert cluster.kubectl("get", "-n", ns, "cm", "dry", check=False).returncode == 1
    cluster.kubectl("scale", "-n", ns, "deployment", "nginx-deployment", "--replicas", "1", "--dry-run=server")
    assert cluster.json("get", "-n", ns, "deploy", "nginx-deployment")["spec"]["replicas"] == 5


def test_delete_and_wait(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "-n", ns, "configmap", "gone", "--from-literal=a=b")
    out = cluster.kubectl("delete", "-n", ns, "cm", "gone").stdout
    assert out.strip() == 'configmap "gone" deleted'
    assert cluster.kubectl("get", "-n", ns, "cm", "gone", check=False).returncode == 1
    cluster.kubectl("apply", "-n", ns, "-f", manifest("redis.yaml"))
    out = cluster.kubectl("delete", "-n", ns, "pod", "redis").stdout  # unscheduled: deleted at once
    assert out.strip() == 'pod "redis" deleted'


def test_explain(cluster: Cluster) -> None:
    out = cluster.kubectl("explain", "deployment.spec.strategy").stdout
    assert "GROUP:      apps" in out and "KIND:       Deployment" in out and "VERSION:    v1" in out
    assert "FIELD: strategy <DeploymentStrategy>" in out and "rollingUpdate" in out
    out = cluster.kubectl("explain", "pods.spec.containers.image").stdout
    assert "FIELD: image <string>" in out


def test_auth_whoami_and_can_i(cluster: Cluster) -> None:
    out = cluster.kubectl("auth", "whoami").stdout
    assert "kubernetes-admin" in out and "system:masters" in out
    assert cluster.kubectl("auth", "can-i", "create", "deployments").stdout.strip() == "yes"
    rules = cluster.kubectl("auth", "can-i", "--list").stdout
    assert "*.*" in rules
