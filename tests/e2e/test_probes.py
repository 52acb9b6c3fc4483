"""Probes on a real node: liveness (exec, httpGet, tcpSocket, gRPC) restarts, readiness behind a
Service (Endpoints, EndpointSlices, `kubectl get pods` READY, Deployment availability), startup
probes (a slow start is not killed; a start that never succeeds is), invalid probes → 422.

Every pod is created at once by the module fixture (periodSeconds 1, small thresholds,
terminationGracePeriodSeconds 1), and each test waits for its own story, so the whole file
costs about one cluster start plus the slowest story.

The cluster is this module's own: temp data dir, free API and kubelet ports, its own bridge and
CIDRs (`klprbN`, 10.234.N.0/24, 10.235.N.0/24), its own pod log dir; `kubeling down --data-dir`
cleans up, also when a test failed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from typing import Any, Iterator

import pytest

from kubeling.kubelet.images import build
from tests.e2e.realcluster import own_cluster
from tests.integration.conftest import Cluster

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runc") or not shutil.which("kubectl")
    or not os.path.exists("/usr/lib/cni/bridge") or not shutil.which("docker-registry") or build.missing_packages(),
    reason="needs root, runc, kubectl, containernetworking-plugins, docker-registry and the test images' packages")

NET = random.Random(os.getpid() + 10).randrange(1, 250)
BRIDGE = f"klprb{NET}"
CLUSTER_CIDR = f"10.234.{NET}.0/24"
SERVICE_CIDR = f"10.235.{NET}.0/24"

# an httpd whose /cgi-bin/healthz answers 200 three times, then 500 (a fresh count per container)
HEALTHZ_500 = r"""mkdir -p /www/cgi-bin
cat > /www/cgi-bin/healthz <<'EOF'
#!/bin/sh
n=$(($(cat /tmp/n 2>/dev/null || echo 0) + 1)); echo $n > /tmp/n
if [ $n -gt 3 ]; then printf 'HTTP/1.1 500 Internal Server Error\r\n\r\nbroken\n'; else printf 'HTTP/1.1 200 OK\r\n\r\nok\n'; fi
EOF
chmod +x /www/cgi-bin/healthz
exec httpd -f -p 8080 -h /www"""

SERVE_READY = "mkdir -p /www && echo ok > /www/ready && exec httpd -f -p 8080 -h /www"


def _pod(name: str, script: str, grace: int = 1, **container: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"test": name}},
            "spec": {"terminationGracePeriodSeconds": grace,
                     "containers": [{"name": name, "image": "busybox", "imagePullPolicy": "IfNotPresent",
                                     "command": ["sh", "-c", script], **container}]}}


def _probe(handler: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {**handler, "periodSeconds": 1, "timeoutSeconds": 1, **kw}


def _exec(*cmd: str) -> dict[str, Any]:
    return {"exec": {"command": list(cmd)}}


PODS = [
    _pod("liveness-exec", "touch /tmp/healthy; sleep 2; rm -f /tmp/healthy; sleep 600",
         livenessProbe=_probe(_exec("cat", "/tmp/healthy"), failureThreshold=2)),
    # the probe's own grace period (1 s) wins over the pod's (120 s: httpd as pid 1 ignores SIGTERM)
    _pod("liveness-http", HEALTHZ_500, grace=120, ports=[{"name": "web", "containerPort": 8080}],
         livenessProbe=_probe({"httpGet": {"path": "/cgi-bin/healthz", "port": "web"}}, failureThreshold=1,
                              terminationGracePeriodSeconds=1)),
    _pod("liveness-tcp", "sleep 600", livenessProbe=_probe({"tcpSocket": {"port": 8080}}, failureThreshold=2)),
    _pod("startup-slow", "sleep 4; touch /tmp/started; sleep 600",
         startupProbe=_probe(_exec("cat", "/tmp/started"), failureThreshold=20),
         livenessProbe=_probe(_exec("cat", "/tmp/started"), failureThreshold=1)),
    _pod("startup-never", "sleep 600", startupProbe=_probe(_exec("false"), failureThreshold=2),
         readinessProbe=_probe(_exec("true"))),
]

GRPC = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "liveness-grpc"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
            "name": "liveness-grpc", "image": build.GRPC_HEALTH, "imagePullPolicy": "IfNotPresent",
            "args": ["--port", "9000", "--fail-after", "3"],
            "livenessProbe": _probe({"grpc": {"port": 9000}}, failureThreshold=1, timeoutSeconds=2)}]}}

WEB = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
       "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                                 "name": "web", "image": "busybox", "imagePullPolicy": "IfNotPresent",
                                 "command": ["sh", "-c", SERVE_READY], "ports": [{"containerPort": 8080}],
                                 "readinessProbe": _probe({"httpGet": {"path": "/ready", "port": 8080}},
                                                          failureThreshold=1)}]}}}}
WEB_SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}


def _grpc_image(data_dir: str) -> None:
    """The optional gRPC image goes into the node's store before the node starts."""
    if build.grpc_available():
        build.ensure_test_images(data_dir, only=["kubeling/grpc-health"])


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = str(tmp_path_factory.mktemp("probes"))
    with own_cluster(base, BRIDGE, CLUSTER_CIDR, SERVICE_CIDR, "probe-node", before_start=_grpc_image) as c:
        items = [*PODS, WEB, WEB_SVC, *([GRPC] if build.grpc_available() else [])]
        c.kubectl("create", "-f", "-", input="\n".join(json.dumps(i) for i in items))
        yield c


def _pod_json(kc: Cluster, name: str) -> dict[str, Any] | None:
    p = kc.kubectl("get", "pod", name, "-o", "json", check=False)
    return json.loads(p.stdout) if p.returncode == 0 else None


def _cs(pod: dict[str, Any] | None) -> dict[str, Any]:
    return (((pod or {}).get("status") or {}).get("containerStatuses") or [{}])[0]


def _events(kc: Cluster, name: str) -> list[dict[str, Any]]:
    return kc.json("get", "events", "--field-selector", f"involvedObject.name={name}")["items"]


def _wait_restarted(kc: Cluster, name: str, timeout: float = 90) -> dict[str, Any]:
    return kc.wait_for(lambda: (p := _pod_json(kc, name)) and _cs(p).get("restartCount", 0) >= 1 and p,
                       timeout, 0.3, f"{name} restarted")


def _event(kc: Cluster, name: str, reason: str, message: str, timeout: float = 60) -> dict[str, Any]:
    """Events are written asynchronously: wait for the one we expect."""
    def find() -> Any:
        return next((e for e in _events(kc, name) if e["reason"] == reason and e["message"] == message), None)
    return kc.wait_for(find, timeout, 0.3, f"{reason} event {message!r} on {name}")


def test_liveness_exec_restarts(kc: Cluster) -> None:
    pod = _wait_restarted(kc, "liveness-exec")
    assert _cs(pod)["lastState"]["terminated"]["exitCode"] == 137  # sh ignores SIGTERM: killed after 1 s
    _event(kc, "liveness-exec", "Killing", "Container liveness-exec failed liveness probe, will be restarted")
    ev = _event(kc, "liveness-exec", "Unhealthy",
                "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory\n")
    assert ev["type"] == "Warning" and ev["involvedObject"]["fieldPath"] == "spec.containers{liveness-exec}"
    assert ev["source"] == {"component": "kubelet", "host": "probe-node"}
    # failures of the next containers aggregate into the same Event (count grows), as upstream
    kc.wait_for(lambda: _event(kc, "liveness-exec", "Unhealthy", ev["message"])["count"] >= 2, 60, 0.5,
                "Unhealthy count grows")
    assert "Liveness:" in kc.kubectl("describe", "pod", "liveness-exec").stdout


def test_liveness_http_500_restarts(kc: Cluster) -> None:
    pod = _wait_restarted(kc, "liveness-http")  # within 40 s: the probe's grace period, not the pod's
    assert _cs(pod)["lastState"]["terminated"]["exitCode"] == 137
    _event(kc, "liveness-http", "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500")
    _event(kc, "liveness-http", "Killing", "Container liveness-http failed liveness probe, will be restarted")


def test_liveness_tcp_closed_port_restarts(kc: Cluster) -> None:
    pod = _wait_restarted(kc, "liveness-tcp")
    ip = pod["status"]["podIP"]
    _event(kc, "liveness-tcp", "Unhealthy", f"Liveness probe failed: dial tcp {ip}:8080: connect: connection refused")


@pytest.mark.skipif(not build.grpc_available(), reason="the gRPC test image needs Debian's python3-grpcio")
def test_liveness_grpc_not_serving_restarts(kc: Cluster) -> None:
    _wait_restarted(kc, "liveness-grpc", 60)
    _event(kc, "liveness-grpc", "Unhealthy", 'Liveness probe failed: service unhealthy (responded with "NOT_SERVING")')
    _event(kc, "liveness-grpc", "Killing", "Container liveness-grpc failed liveness probe, will be restarted")


def test_startup_slow_is_not_killed(kc: Cluster) -> None:
    pod = kc.wait_for(lambda: (p := _pod_json(kc, "startup-slow")) and _cs(p).get("ready") and p, 90, 0.3,
                      "startup-slow Ready")
    assert _cs(pod)["restartCount"] == 0 and _cs(pod)["started"] is True
    # liveness (which would fail before the file exists) never ran before startup succeeded
    assert not [e for e in _events(kc, "startup-slow") if e["message"].startswith("Liveness")]


def test_startup_never_succeeds_is_killed(kc: Cluster) -> None:
    pod = _pod_json(kc, "startup-never")
    assert _cs(pod).get("ready") is False  # readiness does not run before startup succeeded
    pod = _wait_restarted(kc, "startup-never")
    _event(kc, "startup-never", "Killing", "Container startup-never failed startup probe, will be restarted")
    _event(kc, "startup-never", "Unhealthy", "Startup probe failed: ")
    assert not [e for e in _events(kc, "startup-never") if e["message"].startswith("Readiness")]


def _endpoints(kc: Cluster) -> tuple[set[str], set[str]]:
    ep = kc.json("get", "endpoints", "web")
    ready = {a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []}
    not_ready = {a["ip"] for s in ep.get("subsets") or [] for a in s.get("notReadyAddresses") or []}
    return ready, not_ready


def _slice_ready(kc: Cluster) -> dict[str, bool]:
    items = kc.json("get", "endpointslices", "-l", "kubernetes.io/service-name=web")["items"]
    return {e["addresses"][0]: e["conditions"]["ready"] for s in items for e in s.get("endpoints") or []}


def test_readiness_behind_a_service(kc: Cluster) -> None:
    def all_ready() -> Any:
        pods = kc.json("get", "pods", "-l", "app=web")["items"]
        ok = len(pods) == 3 and all(_cs(p).get("ready") for p in pods)
        return ok and len(_endpoints(kc)[0]) == 3 and pods
    pods = kc.wait_for(all_ready, 60, 0.3, "3 web pods ready behind the Service")
    victim = pods[0]
    name, ip = victim["metadata"]["name"], victim["status"]["podIP"]

    kc.kubectl("exec", name, "--", "rm", "/www/ready")
    kc.wait_for(lambda: _endpoints(kc) == ({p["status"]["podIP"] for p in pods[1:]}, {ip}), 60, 0.2,
                "the failing pod moves to notReadyAddresses")
    assert _slice_ready(kc)[ip] is False
    row = next(line.split() for line in kc.kubectl("get", "pods", "-l", "app=web").stdout.splitlines()
               if line.startswith(name))
    assert row[1:3] == ["0/1", "Running"]
    kc.wait_for(lambda: kc.json("get", "deployment", "web")["status"].get("availableReplicas") == 2, 60, 0.3,
                "the Deployment counts it unavailable")
    _event(kc, name, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 404")

    kc.kubectl("exec", name, "--", "sh", "-c", "echo ok > /www/ready")
    kc.wait_for(lambda: len(_endpoints(kc)[0]) == 3, 60, 0.2, "the pod comes back")
    assert _slice_ready(kc)[ip] is True and _cs(_pod_json(kc, name))["restartCount"] == 0


def test_invalid_probes_are_422(kc: Cluster) -> None:
    bad = _pod("bad", "sleep 1", livenessProbe={"exec": {"command": ["true"]}, "tcpSocket": {"port": 80},
                                                "successThreshold": 2, "periodSeconds": -1},
               readinessProbe={"httpGet": {"port": 80}, "initialDelaySeconds": -5})
    r = kc.session().post(f"{kc.url}/api/v1/namespaces/default/pods", json=bad)
    assert r.status_code == 422, r.text
    status = r.json()
    assert status["reason"] == "Invalid"
    fields = {(c["field"], c["message"]) for c in status["details"]["causes"]}
    assert {("spec.containers[0].livenessProbe.tcpSocket", "Forbidden: may not specify more than 1 handler type"),
            ("spec.containers[0].livenessProbe.periodSeconds",
             "Invalid value: -1: must be greater than or equal to 0"),
            ("spec.containers[0].livenessProbe.successThreshold", "Invalid value: 2: must be 1"),
            ("spec.containers[0].readinessProbe.initialDelaySeconds",
             "Invalid value: -5: must be greater than or equal to 0")} <= fields, fields
