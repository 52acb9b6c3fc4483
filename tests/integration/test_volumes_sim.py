"""PersistentVolumes on simulated nodes (issue 14): the default `local-path` StorageClass, claims
waiting for their first consumer, provisioning on the node the scheduler picked, binding,
phases and reclaim policies, `kubectl get/describe pv,pvc`."""

from __future__ import annotations

import os
from typing import Iterator

import pytest
import yaml

from .conftest import Cluster, free_port
from .test_tutorial_sim import ready_nodes

NODES = {"sim-node-1", "sim-node-2"}


@pytest.fixture(scope="module")
def c(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cl = Cluster(str(tmp_path_factory.mktemp("kubeling-pv")), free_port(), extra_args=("--sim-nodes", "2"))
    cl.start()
    cl.wait_for(lambda: ready_nodes(cl) == NODES, timeout=30, what="2 Ready simulated nodes")
    yield cl
    cl.stop()


def claim(name: str, cls: str | None = None, size: str = "1Gi") -> dict:
    spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}, "spec": spec}


def pod(name: str, claim_name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "containers": [{"name": "c", "image": "busybox", "volumeMounts": [{"name": "d", "mountPath": "/data"}]}],
        "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim_name}}]}}


def apply(c: Cluster, *objs: dict) -> None:
    c.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objs))


def phase(c: Cluster, kind: str, name: str) -> str | None:
    out = c.kubectl("get", kind, name, "-o", "jsonpath={.status.phase}", check=False)
    return out.stdout if out.returncode == 0 else None


def test_default_class_waits_for_first_consumer_then_provisions_on_its_node(c: Cluster) -> None:
    row = c.kubectl("get", "sc", "--no-headers").stdout.split()
    assert row[:6] == ["local-path", "(default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer",
                       "false"], row
    apply(c, claim("data"))
    assert c.json("get", "pvc", "data")["spec"]["storageClassName"] == "local-path"
    c.wait_for(lambda: "waiting for first consumer to be created before binding"
               in c.kubectl("describe", "pvc", "data").stdout, what="WaitForFirstConsumer event")
    assert phase(c, "pvc", "data") == "Pending"
    apply(c, pod("user", "data"))
    c.wait_for(lambda: phase(c, "pvc", "data") == "Bound", timeout=30, what="claim bound")
    pvc = c.json("get", "pvc", "data")
    node = c.wait_for(lambda: c.json("get", "pod", "user")["spec"].get("nodeName"), what="pod bound")
    assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node
    assert pvc["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    pv = c.json("get", "pv", pvc["spec"]["volumeName"])
    assert pv["metadata"]["name"] == "pvc-" + pvc["metadata"]["uid"]
    want_path = os.path.join(c.data_dir, "storage", f"{pv['metadata']['name']}_default_data")
    assert pv["spec"]["hostPath"]["path"] == want_path
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]
    assert (pv["spec"]["claimRef"]["name"], pv["status"]["phase"]) == ("data", "Bound")
    assert (pvc["status"]["capacity"], pvc["status"]["accessModes"]) == ({"storage": "1Gi"}, ["ReadWriteOnce"])
    out = c.kubectl("get", "pv,pvc", "--no-headers").stdout.splitlines()
    assert out[0].split()[:7] == [f"persistentvolume/{pv['metadata']['name']}", "1Gi", "RWO", "Delete", "Bound",
                                  "default/data", "local-path"], out
    assert out[1].split()[:6] == ["persistentvolumeclaim/data", "Bound", pv["metadata"]["name"], "1Gi", "RWO",
                                  "local-path"], out
    # a second pod on the claim goes where the volume is
    apply(c, pod("user2", "data"))
    assert c.wait_for(lambda: c.json("get", "pod", "user2")["spec"].get("nodeName"), what="user2 bound") == node
    # delete policy: the volume goes with its claim
    c.kubectl("delete", "pod", "user", "user2", "--wait=false")
    c.kubectl("delete", "pvc", "data", "--wait=false")
    c.wait_for(lambda: phase(c, "pv", pv["metadata"]["name"]) is None, timeout=30, what="volume reclaimed")


def test_static_volume_binds_and_is_retained(c: Cluster) -> None:
    pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "manual-1"}, "spec": {
        "capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
        "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": "/tmp/kubeling-manual-pv-never-used"}}}
    small = {**pv, "metadata": {"name": "manual-small"}, "spec": {**pv["spec"], "capacity": {"storage": "1Mi"}}}
    apply(c, pv, small)
    c.wait_for(lambda: phase(c, "pv", "manual-1") == "Available", what="volume available")
    apply(c, claim("static", "manual", "2Gi"))
    c.wait_for(lambda: phase(c, "pvc", "static") == "Bound", what="claim bound")
    assert c.json("get", "pvc", "static")["spec"]["volumeName"] == "manual-1"
    assert phase(c, "pv", "manual-small") == "Available"
    c.kubectl("delete", "pvc", "static")
    c.wait_for(lambda: phase(c, "pv", "manual-1") == "Released", what="volume released")
    assert "Released" in c.kubectl("describe", "pv", "manual-1").stdout


def test_missing_claim_keeps_the_pod_pending(c: Cluster) -> None:
    apply(c, pod("orphan", "nope"))
    c.wait_for(lambda: 'persistentvolumeclaim "nope" not found' in c.kubectl("describe", "pod", "orphan").stdout,
               what="FailedScheduling")
    apply(c, claim("nope"))
    c.wait_for(lambda: c.json("get", "pod", "orphan")["spec"].get("nodeName"), timeout=30, what="scheduled")
    c.wait_for(lambda: phase(c, "pvc", "nope") == "Bound", what="claim bound")


def test_claim_in_use_is_protected_until_its_pod_goes(c: Cluster) -> None:
    apply(c, claim("busy"), pod("busy-user", "busy"))
    c.wait_for(lambda: phase(c, "pvc", "busy") == "Bound", timeout=30, what="claim bound")
    pvc = c.json("get", "pvc", "busy")
    assert pvc["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    pv_name = pvc["spec"]["volumeName"]
    assert c.json("get", "pv", pv_name)["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
    c.kubectl("delete", "pvc", "busy", "--wait=false")
    c.wait_for(lambda: "Terminating" in c.kubectl("get", "pvc", "busy", "--no-headers").stdout, what="terminating")
    # the pod still runs: the claim stays, and so do its volume and data
    assert c.json("get", "pvc", "busy")["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert phase(c, "pv", pv_name) == "Bound"
    c.kubectl("delete", "pod", "busy-user", "--wait=false")
    c.wait_for(lambda: phase(c, "pvc", "busy") is None, timeout=30, what="claim gone")
    c.wait_for(lambda: phase(c, "pv", pv_name) is None, timeout=30, what="volume reclaimed")
