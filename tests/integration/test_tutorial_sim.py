"""Acceptance of issue 3: the tutorial's Deployment section end to end on 3 simulated nodes.

One `kubeling up --sim-nodes 3` for the whole module, driven by the real kubectl. Nothing on the
test side plays a kubelet or binds pods: the scheduler places every pod and the simulated kubelets
(runtime/simulated.py) run them, so what is asserted here is the control plane working together —
Deployment and ReplicaSet controllers, scheduler, garbage collector, namespace controller, service
allocation, endpoints, node lifecycle and taint eviction. Timings are shortened through flags
(node grace period 4 s, lease renewed every second) and through the objects themselves
(progressDeadlineSeconds 10, NoExecute tolerations of 2 s). The tests run in file order and share
the `default` namespace's nginx-deployment, like the tutorial.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from typing import Iterator

import pytest
import yaml
from kubernetes import client, config, watch

from .conftest import Cluster, free_port, manifest

NODES = {"sim-node-1", "sim-node-2", "sim-node-3"}
DEPLOY = "nginx-deployment"
SELECTOR = "app=nginx"


@pytest.fixture(scope="module")
def tut(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(str(tmp_path_factory.mktemp("kubeling-tutorial")), free_port(),
                extra_args=("--sim-nodes", "3", "--node-lease-duration-seconds", "4",
                            "--node-status-update-frequency", "1",
                            "--node-monitor-grace-period", "4s", "--node-monitor-period", "500ms",
                            "--node-eviction-rate", "10",
                            "--pod-log-dir", str(tmp_path_factory.mktemp("pod-logs"))))
    c.start()
    c.wait_for(lambda: ready_nodes(c) == NODES, timeout=30, what="3 Ready simulated nodes")
    yield c
    c.stop()


# ---- helpers ------------------------------------------------------------------------------------
def ready_nodes(c: Cluster) -> set[str]:
    return {n["metadata"]["name"] for n in c.json("get", "nodes")["items"]
            if condition(n, "Ready").get("status") == "True"}


def condition(obj: dict, typ: str) -> dict:
    return next((x for x in (obj.get("status") or {}).get("conditions") or [] if x["type"] == typ), {})


def is_ready(pod: dict) -> bool:
    """Available for the tests: Ready, and not on its way out."""
    return not pod["metadata"].get("deletionTimestamp") and condition(pod, "Ready").get("status") == "True"


def pods(c: Cluster, selector: str = SELECTOR, ns: str = "default") -> list[dict]:
    return c.json("get", "pods", "-n", ns, "-l", selector)["items"]


def live(ps: list[dict]) -> list[dict]:
    return [p for p in ps if not p["metadata"].get("deletionTimestamp")]


def image_of(obj: dict) -> str:
    spec = obj["spec"]["template"]["spec"] if obj.get("kind") != "Pod" else obj["spec"]
    return spec["containers"][0]["image"]


def wait_rolled_out(c: Cluster, name: str = DEPLOY, ns: str = "default", replicas: int = 3,
                    image: str | None = None, timeout: float = 40) -> list[dict]:
    """Wait for exactly `replicas` ready pods (with `image`) and no others left, then for
    `kubectl rollout status` to agree; return the pods. (The pods first: right after an undo of
    a rollout that exceeded its deadline, the stale ProgressDeadlineExceeded condition makes
    `rollout status` fail until the controller sees progress — upstream does the same.)"""

    labels = c.json("get", "deploy", name, "-n", ns)["spec"]["selector"]["matchLabels"]
    selector = ",".join(f"{k}={v}" for k, v in labels.items())

    def settled() -> list[dict] | None:
        ps = pods(c, selector, ns)
        ready = [p for p in ps if is_ready(p) and (image is None or image_of(p) == image)]
        return ready if len(ready) == replicas and len(live(ps)) == replicas else None

    ready = c.wait_for(settled, timeout=timeout, interval=0.2, what=f"{replicas} ready pods of {name}")
    out = c.kubectl("rollout", "status", f"deployment/{name}", "-n", ns, "--timeout=20s", timeout=30).stdout
    assert out.splitlines()[-1] == f'deployment "{name}" successfully rolled out', out
    return ready


def deploy_row(c: Cluster, name: str = DEPLOY, ns: str = "default") -> list[str]:
    """`kubectl get deploy`: NAME READY UP-TO-DATE AVAILABLE AGE."""
    return c.kubectl("get", "deploy", name, "-n", ns, "--no-headers").stdout.split()


def nginx_manifest(image: str = "nginx:1.14.2", replicas: int = 3) -> str:
    doc = yaml.safe_load(open(manifest("my-nginx.yaml")))
    doc["spec"]["replicas"] = replicas
    doc["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return yaml.safe_dump(doc)


class RolloutWatcher:
    """Watches the deployment's pods and checks the RollingUpdate bounds at every event.

    With 3 replicas and the default 25 % / 25 %, maxSurge rounds up to 1 and maxUnavailable
    rounds down to 0: at every instant at least 3 pods are available and at most 4 exist
    (terminating pods are no longer counted by the ReplicaSet controller, so not here either).
    """

    def __init__(self, c: Cluster, min_available: int = 3, max_pods: int = 4) -> None:
        self.api = config.new_client_from_config(config_file=c.kubeconfig)
        self.core = client.CoreV1Api(self.api)
        self.min_available, self.max_pods = min_available, max_pods
        self.pods: dict[str, dict] = {}
        self.violations: list[str] = []
        self.events = 0
        self.max_seen = 0
        self._stop = threading.Event()
        lst = self.core.list_namespaced_pod("default", label_selector=SELECTOR)
        for p in lst.items:
            self.pods[p.metadata.name] = self.api.sanitize_for_serialization(p)
        self.rv = lst.metadata.resource_version
        self._check("initial list")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _check(self, what: str) -> None:
        existing = live(list(self.pods.values()))
        available = [p for p in existing if is_ready(p)]
        self.max_seen = max(self.max_seen, len(existing))
        if len(available) < self.min_available or len(existing) > self.max_pods:
            self.violations.append(f"after {what}: {len(available)} available, {len(existing)} exist: "
                                   f"{sorted(p['metadata']['name'] for p in existing)}")

    def _run(self) -> None:
        while not self._stop.is_set():
            w = watch.Watch()
            try:
                for ev in w.stream(self.core.list_namespaced_pod, "default", label_selector=SELECTOR,
                                   resource_version=self.rv, timeout_seconds=2):
                    obj = self.api.sanitize_for_serialization(ev["object"])
                    self.rv = obj["metadata"]["resourceVersion"]
                    name = obj["metadata"]["name"]
                    if ev["type"] == "DELETED":
                        self.pods.pop(name, None)
                    else:
                        self.pods[name] = obj
                    self.events += 1
                    self._check(f"{ev['type']} {name}")
            except Exception as e:  # pragma: no cover - reported through violations
                if not self._stop.is_set():
                    self.violations.append(f"watch failed: {e!r}")
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.api.close()


def history(c: Cluster, name: str = DEPLOY) -> dict[int, str]:
    """`kubectl rollout history`: revision -> CHANGE-CAUSE."""
    out = c.kubectl("rollout", "history", f"deployment/{name}").stdout.splitlines()
    assert out[0] == f"deployment.apps/{name} ", out
    assert out[1].split() == ["REVISION", "CHANGE-CAUSE"], out
    rows = {}
    for line in out[2:]:
        if line.strip():
            rev, _, cause = line.strip().partition(" ")
            rows[int(rev)] = cause.strip()
    return rows


# ---- the tutorial ---------------------------------------------------------------------------------
def test_apply_runs_three_pods_spread_over_the_nodes(tut: Cluster) -> None:
    out = tut.kubectl("apply", "-f", manifest("my-nginx.yaml")).stdout
    assert out.strip() == "deployment.apps/nginx-deployment created"
    ready = wait_rolled_out(tut, image="nginx:1.14.2")
    assert {p["spec"]["nodeName"] for p in ready} == NODES  # one per node
    for p in ready:
        assert p["status"]["phase"] == "Running"
        assert ipaddress.ip_address(p["status"]["podIP"]) in ipaddress.ip_network("10.244.0.0/16")
    row = deploy_row(tut)
    assert row[:4] == [DEPLOY, "3/3", "3", "3"], row
    rs = tut.json("get", "rs", "-l", SELECTOR)["items"]
    assert len(rs) == 1
    assert rs[0]["metadata"]["name"] == f"{DEPLOY}-{rs[0]['metadata']['labels']['pod-template-hash']}"
    assert rs[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    # The scheduler recorded where it put each pod, with upstream's message.
    events = tut.json("get", "events", "--field-selector", "reason=Scheduled")["items"]
    msgs = {e["message"] for e in events}
    for p in ready:
        assert f"Successfully assigned default/{p['metadata']['name']} to {p['spec']['nodeName']}" in msgs
    tut.kubectl("annotate", f"deployment/{DEPLOY}", "kubernetes.io/change-cause=initial nginx 1.14.2")


def test_set_image_rolls_within_surge_and_unavailable_bounds(tut: Cluster) -> None:
    old_rs = {r["metadata"]["name"] for r in tut.json("get", "rs", "-l", SELECTOR)["items"]}
    watcher = RolloutWatcher(tut)
    try:
        tut.kubectl("set", "image", f"deployment/{DEPLOY}", "nginx=nginx:1.16.1")
        tut.kubectl("annotate", f"deployment/{DEPLOY}", "kubernetes.io/change-cause=image updated to 1.16.1",
                    "--overwrite")
        ready = wait_rolled_out(tut, image="nginx:1.16.1")
    finally:
        watcher.stop()
    assert not watcher.violations, watcher.violations[:5]
    assert watcher.events >= 9  # 3 pods created, run and became ready; 3 deleted: the watch saw it happen
    assert watcher.max_seen == 4  # the surge pod was used
    rs = tut.json("get", "rs", "-l", SELECTOR)["items"]
    new = [r for r in rs if r["metadata"]["name"] not in old_rs]
    assert len(new) == 1 and len(rs) == 2
    assert new[0]["spec"]["replicas"] == 3 and new[0]["status"].get("readyReplicas") == 3
    assert all(r["spec"]["replicas"] == 0 for r in rs if r["metadata"]["name"] in old_rs)
    assert {p["metadata"]["labels"]["pod-template-hash"] for p in ready} == \
        {new[0]["metadata"]["labels"]["pod-template-hash"]}
    assert deploy_row(tut)[:4] == [DEPLOY, "3/3", "3", "3"]
    desc = tut.kubectl("describe", f"deployment/{DEPLOY}").stdout
    assert f"Scaled up replica set {new[0]['metadata']['name']} from 0 to 1" in desc


def test_reapply_with_latest(tut: Cluster) -> None:
    tut.kubectl("apply", "-f", "-", input=nginx_manifest("nginx:latest"))
    tut.kubectl("annotate", f"deployment/{DEPLOY}", "kubernetes.io/change-cause=image updated to latest",
                "--overwrite")
    wait_rolled_out(tut, image="nginx:latest")
    assert len(tut.json("get", "rs", "-l", SELECTOR)["items"]) == 3


def test_rollout_history_with_change_cause(tut: Cluster) -> None:
    assert history(tut) == {1: "initial nginx 1.14.2", 2: "image updated to 1.16.1", 3: "image updated to latest"}
    rev2 = tut.kubectl("rollout", "history", f"deployment/{DEPLOY}", "--revision=2").stdout
    assert rev2.startswith(f"deployment.apps/{DEPLOY} with revision #2\n"), rev2
    assert any(line.split() == ["Image:", "nginx:1.16.1"] for line in rev2.splitlines()), rev2
    assert "kubernetes.io/change-cause: image updated to 1.16.1" in rev2


def test_bad_image_stalls_then_progress_deadline(tut: Cluster) -> None:
    tut.kubectl("patch", f"deployment/{DEPLOY}", "-p", json.dumps({"spec": {"progressDeadlineSeconds": 10}}))
    watcher = RolloutWatcher(tut)
    try:
        tut.kubectl("set", "image", f"deployment/{DEPLOY}", "nginx=nginx:1.161", "--record")  # deprecated, still works

        def stuck_pod() -> dict | None:
            for p in live(pods(tut)):
                if image_of(p) == "nginx:1.161":
                    waiting = ((p["status"].get("containerStatuses") or [{}])[0].get("state") or {}).get("waiting", {})
                    if waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff"):
                        return p
            return None

        tut.wait_for(stuck_pod, timeout=60, interval=0.2, what="the new pod failing to pull nginx:1.161")

        def deadline_exceeded() -> dict | None:
            d = tut.json("get", "deploy", DEPLOY)
            cond = condition(d, "Progressing")
            return cond if cond.get("status") == "False" else None

        cond = tut.wait_for(deadline_exceeded, timeout=30, interval=0.3, what="Progressing=False")
        assert cond["reason"] == "ProgressDeadlineExceeded"
        assert cond["message"].startswith(f'ReplicaSet "{DEPLOY}-') and \
            cond["message"].endswith('" has timed out progressing.'), cond
        ps = live(pods(tut))
        old = [p for p in ps if image_of(p) == "nginx:latest"]
        assert len(old) == 3 and all(is_ready(p) for p in old)
        assert len(ps) == 4  # maxUnavailable 0: only the surge pod was created
        d = tut.json("get", "deploy", DEPLOY)
        assert d["status"]["availableReplicas"] == 3 and d["status"]["updatedReplicas"] == 1
        assert condition(d, "Available")["status"] == "True"
        st = tut.kubectl("rollout", "status", f"deployment/{DEPLOY}", "--timeout=5s", check=False)
        assert st.returncode != 0
        assert f'deployment "{DEPLOY}" exceeded its progress deadline' in st.stderr + st.stdout
    finally:
        watcher.stop()
    assert not watcher.violations, watcher.violations[:5]


def test_undo_to_revision_2_recovers(tut: Cluster) -> None:
    out = tut.kubectl("rollout", "undo", f"deployment/{DEPLOY}", "--to-revision=2").stdout
    assert out.strip() == f"deployment.apps/{DEPLOY} rolled back"
    wait_rolled_out(tut, image="nginx:1.16.1")
    d = tut.json("get", "deploy", DEPLOY)
    assert condition(d, "Progressing")["reason"] == "NewReplicaSetAvailable"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "5"
    revs = history(tut)
    assert sorted(revs) == [1, 3, 4, 5]  # revision 2 became 5
    assert revs[5] == "image updated to 1.16.1"
    assert revs[4].startswith("kubectl set image deployment/nginx-deployment nginx=nginx:1.161") and \
        revs[4].endswith("--record=true"), revs[4]


def test_scale_and_replicas_through_apply(tut: Cluster) -> None:
    out = tut.kubectl("scale", f"deployment/{DEPLOY}", "--replicas", "5").stdout
    assert out.strip() == f"deployment.apps/{DEPLOY} scaled"
    ready = wait_rolled_out(tut, replicas=5, image="nginx:1.16.1")
    assert {p["spec"]["nodeName"] for p in ready} == NODES
    assert deploy_row(tut)[:4] == [DEPLOY, "5/5", "5", "5"]
    tut.kubectl("apply", "-f", "-", input=nginx_manifest("nginx:1.16.1", replicas=2))
    wait_rolled_out(tut, replicas=2, image="nginx:1.16.1")
    assert deploy_row(tut)[:4] == [DEPLOY, "2/2", "2", "2"]


def test_delete_deployment_removes_replicasets_and_pods(tut: Cluster) -> None:
    out = tut.kubectl("delete", "deploy", DEPLOY).stdout
    assert out.strip() == f'deployment.apps "{DEPLOY}" deleted'

    def all_gone() -> bool:
        return not tut.json("get", "rs", "-l", SELECTOR)["items"] and not pods(tut)

    tut.wait_for(all_gone, timeout=30, interval=0.2, what="ReplicaSets and pods garbage-collected")


def test_orphan_delete_then_namespace_deletion(tut: Cluster) -> None:
    ns = "tutorial-ns"
    tut.kubectl("create", "namespace", ns)
    tut.kubectl("apply", "-n", ns, "-f", manifest("my-nginx.yaml"))
    wait_rolled_out(tut, ns=ns)
    rs_name = tut.json("get", "rs", "-n", ns)["items"][0]["metadata"]["name"]
    tut.kubectl("delete", "deploy", DEPLOY, "-n", ns, "--cascade=orphan")
    assert "NotFound" in tut.kubectl("get", "deploy", DEPLOY, "-n", ns, check=False).stderr
    rs = tut.json("get", "rs", rs_name, "-n", ns)
    assert not rs["metadata"].get("ownerReferences")  # orphaned, not deleted
    assert len([p for p in pods(tut, ns=ns) if is_ready(p)]) == 3
    assert all(p["metadata"]["ownerReferences"][0]["name"] == rs_name for p in pods(tut, ns=ns))

    tut.kubectl("delete", "namespace", ns, "--timeout=60s", timeout=70)  # waits until it is gone
    assert "NotFound" in tut.kubectl("get", "namespace", ns, check=False).stderr
    assert not tut.json("get", "pods", "-A", "-l", SELECTOR, "--field-selector", f"metadata.namespace={ns}")["items"]


def test_nodeport_service_gets_ip_port_and_endpoints(tut: Cluster) -> None:
    tut.kubectl("apply", "-f", manifest("my_nginx.yaml"), "-f", manifest("my_service.yaml"))
    ready = wait_rolled_out(tut, name="my-nginx")
    svc = tut.json("get", "svc", "my-nginx")
    assert ipaddress.ip_address(svc["spec"]["clusterIP"]) in ipaddress.ip_network("10.96.0.0/12")
    assert svc["spec"]["clusterIPs"] == [svc["spec"]["clusterIP"]]
    port = svc["spec"]["ports"][0]
    assert 30000 <= port["nodePort"] <= 32767
    want = sorted(f"{p['status']['podIP']}:80" for p in ready)

    def described() -> str | None:
        out = tut.kubectl("describe", "svc", "my-nginx").stdout
        line = next((x for x in out.splitlines() if x.startswith("Endpoints:")), "")
        return out if sorted(line.split(None, 1)[1].split(",")) == want else None

    out = tut.wait_for(described, timeout=60, interval=0.2, what="describe svc lists the 3 pod endpoints")
    fields = {k.strip(): v.strip() for k, _, v in (x.partition(":") for x in out.splitlines()) if v}
    assert fields["Type"] == "NodePort"
    assert fields["IP"] == svc["spec"]["clusterIP"]
    assert fields["NodePort"] == f"http  {port['nodePort']}/TCP"
    assert fields["TargetPort"] == "80/TCP"


RESILIENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: resilient
spec:
  replicas: 3
  selector:
    matchLabels: {app: resilient}
  template:
    metadata:
      labels: {app: resilient}
    spec:
      tolerations:
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers:
      - name: nginx
        image: nginx:1.14.2
"""


def test_node_failure_evicts_and_reschedules(tut: Cluster) -> None:
    tut.kubectl("apply", "-f", "-", input=RESILIENT)
    ready = wait_rolled_out(tut, name="resilient")
    assert {p["spec"]["nodeName"] for p in ready} == NODES
    victim = "sim-node-2"
    on_victim = {p["metadata"]["name"] for p in ready if p["spec"]["nodeName"] == victim}
    tut.kubectl("annotate", "node", victim, "sim.kubeling.io/stop-heartbeat=true")
    try:
        def not_ready() -> bool:
            row = tut.kubectl("get", "node", victim, "--no-headers").stdout.split()
            return row[1] == "NotReady"

        tut.wait_for(not_ready, timeout=60, interval=0.2, what=f"{victim} NotReady")
        assert condition(tut.json("get", "node", victim), "Ready")["status"] == "Unknown"

        def tainted() -> bool:  # NoSchedule at once; NoExecute through the rate-limited eviction queue
            node = tut.json("get", "node", victim)
            return {("node.kubernetes.io/unreachable", "NoExecute"), ("node.kubernetes.io/unreachable", "NoSchedule")} \
                <= {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []}

        tut.wait_for(tainted, timeout=60, interval=0.2, what="unreachable taints")

        def replaced() -> list[dict] | None:
            ps = pods(tut, "app=resilient")
            gone = all(p["metadata"].get("deletionTimestamp") for p in ps if p["metadata"]["name"] in on_victim)
            fresh = [p for p in ps if is_ready(p) and p["spec"]["nodeName"] != victim]
            return fresh if gone and len(fresh) == 3 else None

        fresh = tut.wait_for(replaced, timeout=30, interval=0.2, what="pods evicted and recreated elsewhere")
        assert {p["spec"]["nodeName"] for p in fresh} == NODES - {victim}
        msgs = {e["message"] for e in tut.json("get", "events", "--field-selector", "reason=TaintManagerEviction")["items"]}
        for n in on_victim:
            assert f"Marking for deletion Pod default/{n}" in msgs
        assert deploy_row(tut, "resilient")[:4] == ["resilient", "3/3", "3", "3"]
    finally:
        tut.kubectl("annotate", "node", victim, "sim.kubeling.io/stop-heartbeat-")
    tut.wait_for(lambda: victim in ready_nodes(tut), timeout=60, what=f"{victim} Ready again")
