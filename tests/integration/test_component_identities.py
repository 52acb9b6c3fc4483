"""Every built-in component authenticates as itself (issue 12): during a run that exercises the
controllers, the scheduler, the PV binder, the local-path provisioner, volume protection and two
simulated kubelets, every in-process request in the audit log is made by one of the expected
identities, none is refused, and only the API server's own loop (system:apiserver, upstream's
loopback client) is in system:masters."""

from __future__ import annotations

import json
from typing import Iterator

import pytest
import yaml

from .conftest import Cluster, free_port
from .identities import audit_args, identity_problems, in_process_events, refusals_in_log, users

NS = "idents"


def workload() -> str:
    """A StatefulSet with claims (binder, provisioner, protection on scale-down) and a Deployment."""
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": NS},
           "spec": {"serviceName": "web", "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Delete"},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}},
                    "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}]}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NS},
           "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"port": 80}]}}
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": NS},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "d"}},
                       "template": {"metadata": {"labels": {"app": "d"}},
                                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    return yaml.safe_dump_all([svc, sts, deploy])


@pytest.fixture(scope="module")
def c(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = str(tmp_path_factory.mktemp("kubeling-idents"))
    cl = Cluster(base + "/data", free_port(), extra_args=("--sim-nodes", "2", *audit_args(base)))
    cl.start()
    try:
        yield cl
    finally:
        cl.stop()


def _items(c: Cluster, *args: str) -> list[dict]:
    return json.loads(c.kubectl("get", *args, "-o", "json").stdout)["items"]


def test_components_run_as_themselves(c: Cluster) -> None:
    c.kubectl("create", "namespace", NS)
    c.kubectl("apply", "-f", "-", input=workload())
    running = lambda: [p for p in _items(c, "pods", "-n", NS) if (p.get("status") or {}).get("phase") == "Running"]  # noqa: E731
    c.wait_for(lambda: len(running()) == 4, 90, 0.3, "4 pods running")
    c.wait_for(lambda: [p["status"].get("phase") for p in _items(c, "pvc", "-n", NS)] == ["Bound", "Bound"], 60, 0.3,
               "both claims bound")
    c.kubectl("-n", NS, "scale", "statefulset", "web", "--replicas=1")  # whenScaled: Delete -> claim goes
    c.wait_for(lambda: len(_items(c, "pvc", "-n", NS)) == 1 and len(_items(c, "pv")) == 1, 90, 0.3,
               "the scaled-down claim and its volume gone")
    c.kubectl("delete", "namespace", NS, "--timeout=120s")
    c.wait_for(lambda: not _items(c, "pv"), 90, 0.3, "every provisioned volume reclaimed")
    events = in_process_events(c.data_dir)
    problems = identity_problems(events)
    assert problems == [], "\n".join(problems)
    seen = users(events)
    for who in ("statefulset-controller", "persistent-volume-binder", "pvc-protection-controller",
                "pv-protection-controller", "local-path-provisioner-service-account", "namespace-controller",
                "metrics-server"):
        assert f"system:serviceaccount:kube-system:{who}" in seen
    assert {"system:node:sim-node-1", "system:node:sim-node-2", "system:kube-scheduler"} <= seen
    assert refusals_in_log(c.log_path) == []
