"""Services that carry traffic, end to end: the tutorial's section 4 on a real node with real
kernel rules — `my-nginx` (3 replicas, each serving its own hostname) behind `my_service.yaml`
(NodePort 8080→80), reached through its ClusterIP and node port from the host and from a pod.

The cluster is this module's own (bridge `klpxN`, cluster CIDR 10.250.N.0/24, service CIDR
10.251.N.0/24, free API and kubelet ports, its own pod log dir), so a kubeling on the default
kubeling0 is not disturbed; teardown runs `kubeling down --data-dir`, and checks that none of this
cluster's proxy chains is left.
"""

from __future__ import annotations

import collections
import json
import math
import os
import random
import re
import socket
import subprocess
import sys
from typing import Any, Iterator

import pytest

from kubeling.kubelet.network.claim import owner_id
from tests.e2e.realcluster import own_cluster
from tests.e2e.test_tutorial_real import RealCluster, _ready, http_get
from tests.integration.conftest import free_port, manifest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/usr/lib/cni/bridge") or not os.path.exists("/usr/sbin/iptables-restore"),
    reason="needs root, the CNI plugins and iptables")

NET = random.Random(os.getpid() * 7).randrange(1, 250)
BRIDGE = f"klpx{NET}"
CLUSTER_CIDR = f"10.250.{NET}.0/24"
SERVICE_CIDR = f"10.251.{NET}.0/24"
NODE_IP = f"10.250.{NET}.1"

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: my-nginx}
spec:
  selector: {matchLabels: {run: my-nginx}}
  replicas: 3
  template:
    metadata: {labels: {run: my-nginx}}
    spec:
      initContainers:
      - name: page
        image: busybox
        command: ["sh", "-c", "hostname > /html/index.html && touch /html/ready"]
        volumeMounts: [{name: html, mountPath: /html}]
      containers:
      - name: my-nginx
        image: nginx
        ports: [{containerPort: 80}]
        readinessProbe:
          exec: {command: ["cat", "/usr/share/nginx/html/ready"]}
          periodSeconds: 1
          failureThreshold: 1
        volumeMounts: [{name: html, mountPath: /usr/share/nginx/html}]
      volumes: [{name: html, emptyDir: {}}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: client, image: busybox, command: ["sleep", "3600"]}
"""


class _Outside:
    """The upstream resolver the cluster DNS forwards to: on loopback, knows one name."""

    def resolve(self, request: Any, handler: Any) -> Any:
        from dnslib import QTYPE, RCODE, RR, A

        reply = request.reply()
        if str(request.q.qname) == "outside.example." and request.q.qtype == QTYPE.A:
            reply.add_answer(RR("outside.example.", QTYPE.A, rdata=A("192.0.2.7"), ttl=60))
        else:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    from dnslib.server import DNSServer

    port = free_port()
    server = DNSServer(_Outside(), address="127.0.0.1", port=port)
    server.start_thread()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory, upstream: str) -> Iterator[RealCluster]:
    base = str(tmp_path_factory.mktemp("proxy"))
    with own_cluster(base, BRIDGE, CLUSTER_CIDR, SERVICE_CIDR, "proxy-node", extra_args=("--dns-upstream", upstream),
                     cls=RealCluster) as c:
        c.mode = "iptables"  # type: ignore[attr-defined]
        yield c
    left = [ln for ln in _saved().splitlines() if _owned(ln, owner_id(os.path.join(base, "data")))]
    assert not left, f"kubeling down left: {left}"


@pytest.fixture(scope="module")
def app(kc: RealCluster) -> dict[str, Any]:
    """The tutorial's Deployment and Service, all three pods Ready, and a client pod."""
    kc.kubectl("apply", "-f", "-", input=DEPLOYMENT)
    kc.kubectl("apply", "-f", manifest("my_service.yaml"))

    def ready() -> Any:
        pods = kc.json("get", "pods")["items"]
        ok = [p for p in pods if _ready(p)]
        return pods if len(ok) == 4 else None
    pods = kc.wait_for(ready, 90, 0.3, "3 my-nginx pods and the client Ready")
    svc = kc.json("get", "svc", "my-nginx")
    names = {p["metadata"]["name"] for p in pods if p["metadata"]["name"] != "client"}
    return {"svc": svc, "ip": svc["spec"]["clusterIP"], "node_port": svc["spec"]["ports"][0]["nodePort"],
            "names": names}


MODES = ["iptables", "nftables", "userspace"]


@pytest.fixture(scope="module", params=MODES)
def proxy_mode(request: pytest.FixtureRequest, kc: RealCluster, app: dict[str, Any]) -> str:
    """kubeling restarted in this proxy mode (the pods keep running across the restart)."""
    mode = request.param
    if kc.mode != mode:  # type: ignore[attr-defined]
        kc.stop()
        assert kc.proc is not None and kc.proc.returncode == 0, "kubeling did not stop on SIGTERM"
        kc.extra_args = tuple(a for i, a in enumerate(kc.extra_args) if a != "--proxy-mode"
                              and (i == 0 or kc.extra_args[i - 1] != "--proxy-mode")) + ("--proxy-mode", mode)
        kc.start()
        kc.mode = mode  # type: ignore[attr-defined]
        kc.wait_for(lambda: kc.kubectl("exec", "client", "--", "true", check=False).returncode == 0, 60, 0.2,
                    "the kubelet API back after the restart")
        # the restarted kubelet probes readiness again: wait until the proxy has all three back
        url = f"http://{app['ip']}:8080/"
        kc.wait_for(lambda: set(_spread([_try(url) or "" for _ in range(30)])) == app["names"], 60, 0.2,
                    "all three pods served again after the restart")
    return mode


def _spread(bodies: list[str]) -> collections.Counter[str]:
    return collections.Counter(b.strip() for b in bodies)


def _host_get(url: str, kc: RealCluster) -> str:
    """GET from the host; waits for the rules of a fresh Service to be live (no sleeps)."""
    return kc.wait_for(lambda: _try(url), 60, 0.1, f"GET {url}")


def _try(url: str) -> str | None:
    try:
        return http_get(url, timeout=10)
    except OSError:
        return None


def _from_pod(kc: RealCluster, url: str, n: int) -> list[str]:
    out = kc.kubectl("exec", "client", "--", "sh", "-c",
                     f"for i in $(seq {n}); do wget -q -O - {url} || echo FAILED; done").stdout
    return out.splitlines()


def test_kubectl_shows_the_node_port_service_and_its_endpoints(kc: RealCluster, app: dict[str, Any]) -> None:
    row = kc.kubectl("get", "svc", "my-nginx").stdout.splitlines()[1].split()
    assert row[1] == "NodePort" and row[2] == app["ip"] and row[4] == f"8080:{app['node_port']}/TCP"
    pod_ips = {p["status"]["podIP"] for p in kc.json("get", "pods", "-l", "run=my-nginx")["items"]}
    endpoints = kc.wait_for(lambda: _endpoints_line(kc, len(pod_ips)), 60, 0.2, "describe shows 3 endpoints")
    assert set(endpoints) == {f"{ip}:80" for ip in pod_ips}


def _endpoints_line(kc: RealCluster, n: int) -> list[str] | None:
    for line in kc.kubectl("describe", "svc", "my-nginx").stdout.splitlines():
        if line.startswith("Endpoints:"):
            eps = line.split(None, 1)[1].split(",") if len(line.split()) > 1 else []
            return eps if len(eps) == n else None
    return None


def test_node_reports_kube_proxy_version(kc: RealCluster, app: dict[str, Any]) -> None:
    info = kc.json("get", "node", "proxy-node")["status"]["nodeInfo"]
    assert info["kubeProxyVersion"] == info["kubeletVersion"] != ""


def test_cluster_ip_from_the_host_reaches_all_three_pods(kc: RealCluster, app: dict[str, Any], proxy_mode: str) -> None:
    url = f"http://{app['ip']}:8080/"
    _host_get(url, kc)
    seen = _spread([http_get(url) for _ in range(90)])
    assert set(seen) == app["names"], seen
    assert min(seen.values()) >= 10, seen  # roughly even (expected 30 each)


def test_cluster_ip_from_a_pod_reaches_all_three_pods(kc: RealCluster, app: dict[str, Any], proxy_mode: str) -> None:
    seen = _spread(_from_pod(kc, f"http://{app['ip']}:8080/", 90))
    assert set(seen) == app["names"], seen
    assert min(seen.values()) >= 10, seen


def test_node_port_on_the_node_ip_and_localhost(kc: RealCluster, app: dict[str, Any], proxy_mode: str) -> None:
    port = app["node_port"]
    assert _host_get(f"http://{NODE_IP}:{port}/", kc).strip() in app["names"]
    if proxy_mode != "nftables":  # upstream's nftables mode has no localhost node ports
        assert _host_get(f"http://127.0.0.1:{port}/", kc).strip() in app["names"]
    assert {b.strip() for b in _from_pod(kc, f"http://{NODE_IP}:{port}/", 3)} <= app["names"]


def test_client_ip_affinity_pins_a_client_to_one_pod(kc: RealCluster, app: dict[str, Any], proxy_mode: str) -> None:
    kc.kubectl("apply", "-f", "-", input=AFFINITY)
    url = f"http://{kc.json('get', 'svc', 'sticky')['spec']['clusterIP']}/"
    first = _host_get(url, kc)
    assert _spread([http_get(url) for _ in range(20)]) == {first.strip(): 20}
    assert len(_spread(_from_pod(kc, url, 20))) == 1


AFFINITY = """
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {run: my-nginx}
  sessionAffinity: ClientIP
  ports: [{port: 80, targetPort: 80}]
"""

CANARY = DEPLOYMENT.split("---")[0].replace("my-nginx", "canary-nginx").replace("replicas: 3", "replicas: 1") + """
---
apiVersion: v1
kind: Service
metadata: {name: stable}
spec:
  type: NodePort
  selector: {run: my-nginx}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: canary}
spec:
  selector: {run: canary-nginx}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: canary-empty}
spec:
  selector: {run: nobody}
  ports: [{name: http, port: 80}]
"""


@pytest.fixture(scope="module")
def canary(kc: RealCluster, app: dict[str, Any]) -> dict[str, Any]:
    """A one-pod canary Deployment beside my-nginx's three pods, the `stable` Service (NodePort)
    over the three, `canary` over the one, and `canary-empty` over none."""
    kc.kubectl("apply", "-f", "-", input=CANARY)
    pod = kc.wait_for(lambda: next((p["metadata"]["name"] for p in kc.json("get", "pods", "-l", "run=canary-nginx")
                                    ["items"] if _ready(p)), None), 90, 0.3, "the canary pod Ready")
    stable = kc.json("get", "svc", "stable")["spec"]
    return {"pod": pod, "stable": stable["clusterIP"], "node_port": stable["ports"][0]["nodePort"],
            "canary": kc.json("get", "svc", "canary")["spec"]["clusterIP"]}


def test_canary_weight_splits_new_connections(kc: RealCluster, app: dict[str, Any], canary: dict[str, Any],
                                              proxy_mode: str) -> None:
    """issue 13: the stable Service's canary annotations send that share of new connections to
    the canary Service's pod. Each step first waits for answers the previous step's rules could
    not give (so the new rules are live), then counts."""
    pod, stable = canary["pod"], f"http://{canary['stable']}/"

    def weigh(service: str, weight: int) -> None:
        kc.kubectl("annotate", "svc", "stable", "--overwrite", f"rollouts.kubeling.io/canary-service={service}",
                   f"rollouts.kubeling.io/canary-weight={weight}")

    def sample(n: int, url: str = stable) -> collections.Counter[str]:
        return _spread([http_get(url) for _ in range(n)])

    weigh("canary", 100)  # all to the canary (before: none)
    kc.wait_for(lambda: sample(20) == {pod: 20}, 30, 0.1, "weight 100 live")
    assert sample(100) == {pod: 100}
    assert sample(20, f"http://{NODE_IP}:{canary['node_port']}/") == {pod: 20}  # node ports split alike
    weigh("canary-empty", 100)  # a canary without endpoints: all stable
    kc.wait_for(lambda: pod not in sample(20), 30, 0.1, "the empty canary live")
    seen = sample(100)
    assert pod not in seen and set(seen) == app["names"], seen
    weigh("canary", 20)
    kc.wait_for(lambda: pod in sample(10), 30, 0.1, "weight 20 live")
    n, p = 200, 0.2
    seen = sample(n)
    bound = 4.5 * math.sqrt(n * p * (1 - p))  # binomial: +-4.5 sigma (+-25 of 40) never flakes
    assert abs(seen[pod] - n * p) <= bound, seen
    assert set(seen) == app["names"] | {pod}, seen
    assert sample(20, f"http://{canary['canary']}/") == {pod: 20}  # the canary's own ClusterIP: unaffected
    weigh("canary", 100)  # back through 100, so that all-stable proves weight 0 is live
    kc.wait_for(lambda: sample(20) == {pod: 20}, 30, 0.1, "weight 100 live again")
    weigh("canary", 0)
    kc.wait_for(lambda: pod not in sample(20), 30, 0.1, "weight 0 live")
    seen = sample(200)
    assert pod not in seen and set(seen) == app["names"], seen


EMPTY = """
apiVersion: v1
kind: Service
metadata: {name: nobody}
spec:
  type: NodePort
  selector: {run: nobody}
  ports: [{port: 80}]
"""


def test_no_endpoints_refuses_the_connection(kc: RealCluster, app: dict[str, Any], proxy_mode: str) -> None:
    kc.kubectl("apply", "-f", "-", input=EMPTY)
    svc = kc.json("get", "svc", "nobody")
    for host, port in ((svc["spec"]["clusterIP"], 80), (NODE_IP, svc["spec"]["ports"][0]["nodePort"])):
        kc.wait_for(lambda: _refused(host, port), 60, 0.1, f"{host}:{port} refused")


def _refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=10).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


def test_only_this_modes_rules_exist(kc: RealCluster, app: dict[str, Any], proxy_mode: str) -> None:
    """A mode change removed the other mode's chains (iptables and userspace share the tables)."""
    _host_get(f"http://{app['ip']}:8080/", kc)
    sfx = owner_id(kc.data_dir)[:6]
    chains = {ln.split()[0][1:] for ln in _saved().splitlines() if ln.startswith(":KUBE-") and _owned(ln, sfx)}
    table = subprocess.run(["nft", "list", "table", "ip", f"kubeling-{sfx}"], capture_output=True, text=True)
    if proxy_mode == "nftables":
        assert table.returncode == 0 and not chains, chains
        return
    other = "KUBE-SVC-" if proxy_mode == "userspace" else "KUBE-PORTALS-"
    assert table.returncode != 0
    assert chains and not [c for c in chains if c.startswith(other)], chains


FLAKY = """
apiVersion: v1
kind: Service
metadata: {name: flaky}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: flaky-1
  labels: {kubernetes.io/service-name: flaky}
addressType: IPv4
ports: [{name: http, port: 80, protocol: TCP}]
endpoints:
- addresses: ["%(ip)s"]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: flaky-2
  labels: {kubernetes.io/service-name: flaky}
addressType: IPv4
ports: [{name: http, port: 81, protocol: TCP}]
endpoints:
- addresses: ["%(ip)s"]
"""


def test_userspace_retries_a_dead_backend(kc: RealCluster, app: dict[str, Any], proxy_mode: str) -> None:
    """Two endpoints, one with nothing listening (port 81): every request still succeeds."""
    if proxy_mode != "userspace":
        pytest.skip("only the userspace proxy retries another backend")
    pod_ip = kc.json("get", "pods", "-l", "run=my-nginx")["items"][0]["status"]["podIP"]
    kc.kubectl("apply", "-f", "-", input=FLAKY % {"ip": pod_ip})
    url = f"http://{kc.json('get', 'svc', 'flaky')['spec']['clusterIP']}/"
    _host_get(url, kc)
    assert len([http_get(url) for _ in range(20)]) == 20


def test_a_pod_failing_readiness_stops_receiving_traffic(kc: RealCluster, app: dict[str, Any],
                                                        proxy_mode: str) -> None:
    victim = sorted(app["names"])[0]
    url = f"http://{app['ip']}:8080/"
    _host_get(url, kc)
    kc.kubectl("exec", victim, "-c", "my-nginx", "--", "rm", "/usr/share/nginx/html/ready")
    try:
        kc.wait_pod(victim, lambda p: not _ready(p), 20, f"{victim} not Ready")
        kc.wait_for(lambda: _endpoints_line(kc, 2), 60, 0.2, "the unready pod out of the endpoints")
        kc.wait_for(lambda: victim not in _spread([http_get(url) for _ in range(30)]), 60, 0.1,
                    "the proxy stops sending to the unready pod")  # by chance: (2/3)**30
        seen = _spread([http_get(url) for _ in range(30)])
        assert victim not in seen and set(seen) == app["names"] - {victim}, seen
    finally:
        kc.kubectl("exec", victim, "-c", "my-nginx", "--", "touch", "/usr/share/nginx/html/ready")
        kc.wait_pod(victim, _ready, 20, f"{victim} Ready again")
        kc.wait_for(lambda: _endpoints_line(kc, 3), 60, 0.2, "3 endpoints again")


LOAD_BALANCERS = """
apiVersion: v1
kind: Service
metadata: {name: my-lb}
spec:
  type: LoadBalancer
  selector: {run: my-nginx}
  ports: [{port: 8081, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: other-lb}
spec:
  type: LoadBalancer
  loadBalancerClass: example.com/other
  selector: {run: my-nginx}
  ports: [{port: 8082, targetPort: 80}]
"""


def test_load_balancer_gets_an_external_ip_that_serves(kc: RealCluster, app: dict[str, Any], proxy_mode: str) -> None:
    kc.kubectl("apply", "-f", "-", input=LOAD_BALANCERS)

    def external_ip() -> str | None:
        row = kc.kubectl("get", "svc", "my-lb").stdout.splitlines()[1].split()
        return row[3] if row[3] != "<pending>" else None
    ip = kc.wait_for(external_ip, 60, 0.2, "my-lb EXTERNAL-IP")
    assert ip == NODE_IP  # the default pool: the node's address, as k3s's ServiceLB
    assert _host_get(f"http://{ip}:8081/", kc).strip() in app["names"]
    assert {b.strip() for b in _from_pod(kc, f"http://{ip}:8081/", 3)} <= app["names"]
    row = kc.kubectl("get", "svc", "other-lb").stdout.splitlines()[1].split()
    assert row[3] == "<pending>"  # another loadBalancerClass: not ours


def test_deleted_service_leaves_no_rules(kc: RealCluster, app: dict[str, Any], proxy_mode: str) -> None:
    kc.kubectl("apply", "-f", "-", input=EMPTY.replace("nobody", "brief"))
    ip = kc.json("get", "svc", "brief")["spec"]["clusterIP"]
    kc.wait_for(lambda: _mentions(_saved(), ip), 60, 0.1, "rules for the new service")
    kc.kubectl("delete", "svc", "brief")
    kc.wait_for(lambda: not _mentions(_saved(), ip), 60, 0.1, "rules of the deleted service gone")


def _owned(line: str, owner: str) -> bool:
    """`line` names this cluster: its owner id (12 hex, in rule comments) or the 6-hex suffix of
    its chains and nft table, as a whole token — an all-digit suffix must not be found inside
    another cluster's hash or address."""
    return re.search(rf"(?<![0-9A-Za-z])({re.escape(owner)}|{re.escape(owner[:6])})(?![0-9A-Za-z])", line) is not None


def _mentions(rules: str, ip: str) -> bool:
    """`ip` as a whole address: 10.251.7.2 must not be found inside another service's 10.251.7.23."""
    return re.search(rf"(?<![\d.]){re.escape(ip)}(?![\d])", rules) is not None


def _saved() -> str:
    """The rules of every table, iptables' and nft's."""
    return subprocess.run(["iptables-save"], capture_output=True, text=True).stdout + \
        subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout


IN_CLUSTER = """
import sys
from kubernetes import client, config
config.incluster_config.InClusterConfigLoader(token_filename=sys.argv[1], cert_filename=sys.argv[2]).load_and_set()
pods = client.CoreV1Api().list_namespaced_pod("default").items
print(sorted(p.metadata.name for p in pods)[-1])
"""


def test_in_cluster_config_reaches_the_api_from_a_pod(kc: RealCluster, app: dict[str, Any], tmp_path: Any) -> None:
    """The official client's in-cluster config, in the client pod's network namespace, with the
    pod's own KUBERNETES_SERVICE_HOST/PORT, mounted token and CA."""
    from kubeling.kubelet.network.podnet import PodNetwork

    sl = kc.json("get", "endpointslice", "kubernetes")
    assert sl["endpoints"][0]["addresses"] == [NODE_IP]
    env = dict(line.split("=", 1) for line in kc.kubectl("exec", "client", "--", "env").stdout.splitlines()
               if line.startswith("KUBERNETES_SERVICE_"))
    assert env["KUBERNETES_SERVICE_HOST"] == kc.json("get", "svc", "kubernetes")["spec"]["clusterIP"]
    sa = "/var/run/secrets/kubernetes.io/serviceaccount"
    for name in ("token", "ca.crt"):
        (tmp_path / name).write_text(kc.kubectl("exec", "client", "--", "cat", f"{sa}/{name}").stdout)
    net = PodNetwork.from_state(kc.data_dir)
    assert net is not None
    st = net.status(kc.json("get", "pod", "client")["metadata"]["uid"])
    assert st is not None
    clean = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}

    def in_cluster() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["nsenter", f"--net={st.netns_path}", sys.executable, "-c", IN_CLUSTER,
                               str(tmp_path / "token"), str(tmp_path / "ca.crt")],
                              capture_output=True, text=True, timeout=60, env={**clean, **env})
    # RBAC: the pod's ServiceAccount reaches the API but may not list pods until it is bound
    r = in_cluster()
    assert r.returncode != 0 and "(403)" in r.stderr and "system:serviceaccount:default:default" in r.stderr, \
        r.stderr[-2000:]
    kc.kubectl("create", "rolebinding", "client-view", "--clusterrole=view", "--serviceaccount=default:default")
    r = kc.wait_for(lambda: (lambda p: p if p.returncode == 0 else None)(in_cluster()), 60, 0.5, "a bound account")
    assert r.stdout.strip() == sorted(app["names"])[-1], r.stderr[-2000:]


DNS_IP = f"10.251.{NET}.10"


def test_kube_dns_service_and_pod_resolv_conf(kc: RealCluster, app: dict[str, Any]) -> None:
    svc = kc.wait_for(lambda: _get(kc, "svc", "kube-dns", "-n", "kube-system"), 60, 0.2, "kube-dns")
    assert svc["spec"]["clusterIP"] == DNS_IP
    assert [(p["name"], p["protocol"], p["port"]) for p in svc["spec"]["ports"]] == [("dns", "UDP", 53),
                                                                                  ("dns-tcp", "TCP", 53)]
    resolv = kc.kubectl("exec", "client", "--", "cat", "/etc/resolv.conf").stdout.split("\n")
    assert f"nameserver {DNS_IP}" in resolv
    assert "search default.svc.cluster.local svc.cluster.local cluster.local" in resolv
    assert "options ndots:5" in resolv


def test_dns_server_shows_as_a_mirror_pod_recreated_when_deleted(kc: RealCluster, app: dict[str, Any]) -> None:
    def dns_row(not_uid: str = "") -> list[str] | None:
        pods = _get(kc, "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns") or {"items": []}
        pods = [p for p in pods["items"] if p["metadata"]["uid"] != not_uid]
        if not pods:
            return None
        rows = kc.kubectl("get", "pods", "-n", "kube-system").stdout.splitlines()
        row = next((r.split() for r in rows if r.startswith(pods[0]["metadata"]["name"] + " ")), None)
        return row + [pods[0]["metadata"]["uid"]] if row and row[1:3] == ["1/1", "Running"] else None

    name, *_, uid = kc.wait_for(dns_row, 60, 0.2, "kube-dns pod Running 1/1")
    assert name.startswith("kube-dns-")
    kc.kubectl("delete", "pod", "-n", "kube-system", name)
    assert kc.wait_for(lambda: dns_row(not_uid=uid), 60, 0.2, "kube-dns pod recreated")[0] == name


def _get(kc: RealCluster, *args: str) -> Any:
    p = kc.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(p.stdout) if p.returncode == 0 else None


def test_nslookup_and_wget_by_service_name_from_a_pod(kc: RealCluster, app: dict[str, Any]) -> None:
    def lookup() -> str | None:
        p = kc.kubectl("exec", "client", "--", "nslookup", "my-nginx.default.svc.cluster.local", check=False)
        return p.stdout if app["ip"] in p.stdout else None
    kc.wait_for(lookup, 60, 0.3, "nslookup my-nginx")
    body = kc.kubectl("exec", "client", "--", "wget", "-q", "-O", "-", "http://my-nginx:8080/").stdout
    assert body.strip() in app["names"]


def test_other_names_are_forwarded_to_the_upstream(kc: RealCluster, app: dict[str, Any]) -> None:
    out = kc.kubectl("exec", "client", "--", "nslookup", "outside.example", check=False).stdout
    assert "192.0.2.7" in out, out


def test_ipvs_mode_refuses_to_start_naming_the_missing_module(tmp_path: Any) -> None:
    if os.path.exists("/proc/net/ip_vs"):
        pytest.skip("this kernel has ip_vs")
    data = str(tmp_path / "data")
    r = subprocess.run([sys.executable, "-m", "kubeling.cli", "up", "--data-dir", data, "--port", str(free_port()),
                        "--proxy-mode", "ipvs", "--pod-bridge", f"klpv{NET}", "--cluster-cidr", f"10.249.{NET}.0/24",
                        "--service-cidr", f"10.248.{NET}.0/24", "--no-test-images", "--kubelet-port", str(free_port())],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "--proxy-mode ipvs needs the kernel module ip_vs" in r.stderr and "nftables or userspace" in r.stderr
    assert not os.path.exists(f"/sys/class/net/klpv{NET}")
