"""The tutorial's Deployment lifecycle against `kubeling up` with the real kubectl.

No node runs pods in this test: `FakeKubelet` plays the kubelet for one namespace. It binds
pending pods to `n1` through `pods/binding`, reports them Running and Ready through `pods/status`
(except for images it is told are broken), and finishes graceful deletions with a zero grace period.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from .conftest import Cluster, manifest


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeKubelet:
    def __init__(self, cluster: Cluster, ns: str, broken_images: tuple[str, ...] = ()) -> None:
        self.api_client = config.new_client_from_config(config_file=cluster.kubeconfig)
        self.core = client.CoreV1Api(self.api_client)
        self.ns = ns
        self.broken = set(broken_images)
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "FakeKubelet":
        # the node the pods are bound to exists, or pod GC would rightly delete them
        try:
            self.core.create_node(client.V1Node(metadata=client.V1ObjectMeta(name="n1")))
        except client.exceptions.ApiException as e:
            if e.status != 409:
                raise
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)
        self.api_client.close()

    def _run(self) -> None:
        rv = ""
        while not self._stop.is_set():
            try:
                if not rv:
                    lst = self.core.list_namespaced_pod(self.ns)
                    for p in lst.items:
                        self._handle(self.api_client.sanitize_for_serialization(p))
                    rv = lst.metadata.resource_version
                for ev in watch.Watch().stream(self.core.list_namespaced_pod, self.ns, resource_version=rv,
                                               timeout_seconds=1):
                    obj = self.api_client.sanitize_for_serialization(ev["object"])
                    rv = obj["metadata"].get("resourceVersion", rv)
                    if ev["type"] in ("ADDED", "MODIFIED"):
                        self._handle(obj)
                    if self._stop.is_set():
                        return
            except Exception as e:
                self.errors.append(repr(e))
                rv = ""
                time.sleep(0.05)

    def _handle(self, pod: dict) -> None:
        meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        name = meta["name"]
        try:
            if meta.get("deletionTimestamp"):
                self.core.delete_namespaced_pod(name, self.ns, grace_period_seconds=0)
                return
            if not spec.get("nodeName"):
                body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                        "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}
                self.core.create_namespaced_pod_binding(name, self.ns, body, _preload_content=False)
                return
            images = {c.get("image") for c in spec.get("containers") or []}
            if images & self.broken or status.get("phase") == "Running":
                return
            t = _now()
            pod["status"] = {
                **status, "phase": "Running", "podIP": "10.244.0.10", "hostIP": "10.0.0.1", "startTime": t,
                "conditions": [
                    {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": t},
                    {"type": "Initialized", "status": "True", "lastTransitionTime": t},
                    {"type": "Ready", "status": "True", "lastTransitionTime": t},
                    {"type": "ContainersReady", "status": "True", "lastTransitionTime": t},
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": t}],
                "containerStatuses": [{"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": True,
                                       "started": True, "restartCount": 0, "state": {"running": {"startedAt": t}}}
                                      for c in spec.get("containers") or []],
            }
            self.core.replace_namespaced_pod_status(name, self.ns, pod)
        except ApiException as e:
            if e.status not in (404, 409):
                raise


class PodWatcher:
    """Counts live (not terminating) and available pods at every event of a watch."""

    def __init__(self, cluster: Cluster, ns: str) -> None:
        self.api_client = config.new_client_from_config(config_file=cluster.kubeconfig)
        self.core = client.CoreV1Api(self.api_client)
        self.ns = ns
        self.pods: dict[str, dict] = {}
        self.samples: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "PodWatcher":
        lst = self.core.list_namespaced_pod(self.ns)
        for p in lst.items:
            self.pods[p.metadata.name] = self.api_client.sanitize_for_serialization(p)
        self._rv = lst.metadata.resource_version
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.api_client.close()

    def _sample(self) -> None:
        live = [p for p in self.pods.values() if not p["metadata"].get("deletionTimestamp")]
        ready = [p for p in live if any(c.get("type") == "Ready" and c.get("status") == "True"
                                        for c in (p.get("status") or {}).get("conditions") or [])]
        self.samples.append((len(live), len(ready)))

    def _run(self) -> None:
        w = watch.Watch()
        while not self._stop.is_set():
            for ev in w.stream(self.core.list_namespaced_pod, self.ns, resource_version=self._rv, timeout_seconds=1):
                obj = self.api_client.sanitize_for_serialization(ev["object"])
                self._rv = obj["metadata"]["resourceVersion"]
                if ev["type"] == "DELETED":
                    self.pods.pop(obj["metadata"]["name"], None)
                else:
                    self.pods[obj["metadata"]["name"]] = obj
                self._sample()
                if self._stop.is_set():
                    return


def deploy_state(cluster: Cluster, ns: str, name: str = "nginx-deployment") -> dict:
    return cluster.json("-n", ns, "get", "deployment", name)


def rs_list(cluster: Cluster, ns: str) -> list[dict]:
    return cluster.json("-n", ns, "get", "rs")["items"]


def live_pods(cluster: Cluster, ns: str) -> list[dict]:
    return [p for p in cluster.json("-n", ns, "get", "pods")["items"] if not p["metadata"].get("deletionTimestamp")]


def rolled_out(cluster: Cluster, ns: str, replicas: int, name: str = "nginx-deployment") -> bool:
    d = deploy_state(cluster, ns, name)
    st = d.get("status") or {}
    return (st.get("observedGeneration", 0) >= d["metadata"]["generation"] and st.get("updatedReplicas") == replicas
            and st.get("replicas") == replicas and st.get("availableReplicas") == replicas)


def test_tutorial_deployment_lifecycle(cluster: Cluster, ns: str) -> None:
    k = cluster.kubectl
    with FakeKubelet(cluster, ns):
        k("-n", ns, "apply", "-f", manifest("my-nginx.yaml"))
        cluster.wait_for(lambda: rolled_out(cluster, ns, 3), what="3/3 ready")
        out = k("-n", ns, "get", "deploy", "nginx-deployment").stdout
        assert "3/3" in out.splitlines()[1]
        (rs1,) = rs_list(cluster, ns)
        pth = rs1["metadata"]["labels"]["pod-template-hash"]
        assert rs1["metadata"]["name"] == f"nginx-deployment-{pth}"
        assert rs1["spec"]["selector"]["matchLabels"] == {"app": "nginx", "pod-template-hash": pth}
        ann = rs1["metadata"]["annotations"]
        assert (ann["deployment.kubernetes.io/revision"], ann["deployment.kubernetes.io/desired-replicas"],
                ann["deployment.kubernetes.io/max-replicas"]) == ("1", "3", "4")
        ref = rs1["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["name"], ref["controller"], ref["blockOwnerDeletion"]) == (
            "Deployment", "nginx-deployment", True, True)
        pods = live_pods(cluster, ns)
        assert len(pods) == 3
        for p in pods:
            assert p["metadata"]["name"].startswith(rs1["metadata"]["name"] + "-")
            assert len(p["metadata"]["name"]) == len(rs1["metadata"]["name"]) + 6
            assert p["metadata"]["ownerReferences"][0]["uid"] == rs1["metadata"]["uid"]
        d = deploy_state(cluster, ns)
        assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
        conds = {c["type"]: c for c in d["status"]["conditions"]}
        assert (conds["Available"]["status"], conds["Available"]["reason"]) == ("True", "MinimumReplicasAvailable")
        assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
        assert conds["Progressing"]["message"] == f'ReplicaSet "{rs1["metadata"]["name"]}" has successfully progressed.'
        events = k("-n", ns, "get", "events", "--field-selector", "involvedObject.kind=Deployment").stdout
        assert f"Scaled up replica set {rs1['metadata']['name']} from 0 to 3" in events
        rs_events = k("-n", ns, "get", "events", "--field-selector", "reason=SuccessfulCreate").stdout
        assert rs_events.count("Created pod: nginx-deployment-") == 3

        # rolling update: always >= 3 available and <= 4 pods
        watcher = PodWatcher(cluster, ns).start()
        try:
            k("-n", ns, "set", "image", "deployment/nginx-deployment", "nginx=nginx:1.16.1")
            k("-n", ns, "annotate", "deployment/nginx-deployment", "kubernetes.io/change-cause=image updated to 1.16.1")
            k("-n", ns, "rollout", "status", "deployment/nginx-deployment", "--timeout=60s")
            cluster.wait_for(lambda: rolled_out(cluster, ns, 3), what="rollout done")
        finally:
            watcher.stop()
        assert len(watcher.samples) > 5
        assert all(live <= 4 for live, _ in watcher.samples), watcher.samples
        assert all(ready >= 3 for _, ready in watcher.samples), watcher.samples
        rss = {r["metadata"]["name"]: r for r in rs_list(cluster, ns)}
        assert len(rss) == 2
        new = next(r for r in rss.values() if r["metadata"]["name"] != rs1["metadata"]["name"])
        assert new["spec"]["replicas"] == 3 and rss[rs1["metadata"]["name"]]["spec"]["replicas"] == 0
        assert new["metadata"]["annotations"]["kubernetes.io/change-cause"] == "image updated to 1.16.1"
        assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
        assert all(p["spec"]["containers"][0]["image"] == "nginx:1.16.1" for p in live_pods(cluster, ns))

        hist = k("-n", ns, "rollout", "history", "deployment/nginx-deployment").stdout
        lines = [ln.split(None, 1) for ln in hist.splitlines()[2:] if ln.strip()]
        assert lines == [["1", "<none>"], ["2", "image updated to 1.16.1"]], hist
        rev1 = k("-n", ns, "rollout", "history", "deployment/nginx-deployment", "--revision=1").stdout
        assert "nginx:1.14.2" in rev1

        # undo to revision 1: the first ReplicaSet comes back as revision 3
        k("-n", ns, "rollout", "undo", "deployment/nginx-deployment", "--to-revision=1")
        k("-n", ns, "rollout", "status", "deployment/nginx-deployment", "--timeout=60s")
        cluster.wait_for(lambda: rolled_out(cluster, ns, 3), what="undo done")
        back = next(r for r in rs_list(cluster, ns) if r["metadata"]["name"] == rs1["metadata"]["name"])
        assert back["spec"]["replicas"] == 3
        assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
        assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
        assert all(p["spec"]["containers"][0]["image"] == "nginx:1.14.2" for p in live_pods(cluster, ns))

        # scale
        k("-n", ns, "scale", "deployment/nginx-deployment", "--replicas", "5")
        cluster.wait_for(lambda: rolled_out(cluster, ns, 5), what="5 replicas")
        assert len(live_pods(cluster, ns)) == 5

        # pause: template changes don't roll out; resume rolls them out
        k("-n", ns, "rollout", "pause", "deployment/nginx-deployment")
        k("-n", ns, "set", "image", "deployment/nginx-deployment", "nginx=nginx:1.17")
        cluster.wait_for(lambda: (deploy_state(cluster, ns).get("status") or {}).get("observedGeneration")
                         == deploy_state(cluster, ns)["metadata"]["generation"], what="paused observed")
        cond = next(c for c in deploy_state(cluster, ns)["status"]["conditions"] if c["type"] == "Progressing")
        assert (cond["status"], cond["reason"], cond["message"]) == ("Unknown", "DeploymentPaused", "Deployment is paused")
        assert len(rs_list(cluster, ns)) == 2
        k("-n", ns, "rollout", "resume", "deployment/nginx-deployment")
        k("-n", ns, "rollout", "status", "deployment/nginx-deployment", "--timeout=60s")
        cluster.wait_for(lambda: rolled_out(cluster, ns, 5), what="resumed rollout")
        assert len(rs_list(cluster, ns)) == 3

        # restart: a new ReplicaSet with the restartedAt annotation
        k("-n", ns, "rollout", "restart", "deployment/nginx-deployment")
        k("-n", ns, "rollout", "status", "deployment/nginx-deployment", "--timeout=60s")
        cluster.wait_for(lambda: rolled_out(cluster, ns, 5), what="restart")
        rss = rs_list(cluster, ns)
        assert len(rss) == 4
        newest = max(rss, key=lambda r: int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]))
        assert "kubectl.kubernetes.io/restartedAt" in newest["spec"]["template"]["metadata"]["annotations"]

        # delete: ReplicaSets and pods go with the Deployment
        k("-n", ns, "delete", "deployment", "nginx-deployment")
        cluster.wait_for(lambda: not rs_list(cluster, ns) and not live_pods(cluster, ns), timeout=30,
                         what="replica sets and pods collected")


def test_delete_orphan_keeps_replica_sets(cluster: Cluster, ns: str) -> None:
    with FakeKubelet(cluster, ns):
        cluster.kubectl("-n", ns, "apply", "-f", manifest("my-nginx.yaml"))
        cluster.wait_for(lambda: rolled_out(cluster, ns, 3), what="3/3 ready")
        cluster.kubectl("-n", ns, "delete", "deployment", "nginx-deployment", "--cascade=orphan")
        cluster.wait_for(lambda: not cluster.json("-n", ns, "get", "deployments")["items"], what="deployment gone")
        (rs,) = cluster.wait_for(lambda: [r for r in rs_list(cluster, ns) if not r["metadata"].get("ownerReferences")]
                                 or None, what="orphaned rs")
        assert rs["spec"]["replicas"] == 3
        assert len(live_pods(cluster, ns)) == 3


RECREATE = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  progressDeadlineSeconds: 3
  strategy: {type: Recreate}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.14.2"}]}
"""


def test_recreate_and_progress_deadline(cluster: Cluster, ns: str) -> None:
    k = cluster.kubectl
    with FakeKubelet(cluster, ns, broken_images=("nginx:broken",)):
        k("-n", ns, "apply", "-f", "-", input=RECREATE)
        cluster.wait_for(lambda: rolled_out(cluster, ns, 2, "web"), what="web ready")
        k("-n", ns, "set", "image", "deployment/web", "web=nginx:1.16.1")
        cluster.wait_for(lambda: rolled_out(cluster, ns, 2, "web"), what="recreated")
        pods = live_pods(cluster, ns)
        assert len(pods) == 2 and all(p["spec"]["containers"][0]["image"] == "nginx:1.16.1" for p in pods)
        events = k("-n", ns, "get", "events", "--field-selector", "involvedObject.name=web").stdout
        assert "Scaled down replica set web-" in events and "from 2 to 0" in events

        # a broken image never becomes ready: Progressing turns False after the deadline
        k("-n", ns, "set", "image", "deployment/web", "web=nginx:broken")

        def timed_out() -> Any:
            conds = {c["type"]: c for c in (deploy_state(cluster, ns, "web").get("status") or {}).get("conditions", [])}
            c = conds.get("Progressing")
            return c if c and c["reason"] == "ProgressDeadlineExceeded" else None

        c = cluster.wait_for(timed_out, timeout=60, what="ProgressDeadlineExceeded")
        assert c["status"] == "False" and c["message"].endswith("has timed out progressing.")
        p = k("-n", ns, "rollout", "status", "deployment/web", "--timeout=10s", check=False)
        assert p.returncode != 0 and "exceeded its progress deadline" in p.stderr


def test_replicaset_adopts_and_releases(cluster: Cluster, ns: str) -> None:
    k = cluster.kubectl
    k("-n", ns, "run", "stray", "--image=nginx", "--labels=app=rs")
    k("-n", ns, "apply", "-f", "-", input="""
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  replicas: 2
  selector: {matchLabels: {app: rs}}
  template:
    metadata: {labels: {app: rs}}
    spec: {containers: [{name: c, image: nginx}]}
""")

    def owned() -> Any:
        pods = live_pods(cluster, ns)
        return pods if len(pods) == 2 and all(p["metadata"].get("ownerReferences") for p in pods) else None

    pods = cluster.wait_for(owned, what="stray pod adopted, one created")
    assert "stray" in {p["metadata"]["name"] for p in pods}
    st = cluster.json("-n", ns, "get", "rs", "rs")["status"]
    assert st["replicas"] == 2 and st["fullyLabeledReplicas"] == 2
    # relabel the adopted pod: it is released and replaced
    k("-n", ns, "label", "pod", "stray", "app=other", "--overwrite")
    cluster.wait_for(lambda: not cluster.json("-n", ns, "get", "pod", "stray")["metadata"].get("ownerReferences"),
                     what="stray released")
    cluster.wait_for(lambda: len([p for p in live_pods(cluster, ns) if p["metadata"]["labels"].get("app") == "rs"]) == 2,
                     what="replacement")
    k("-n", ns, "scale", "rs", "rs", "--replicas=0")
    cluster.wait_for(lambda: [p["metadata"]["name"] for p in live_pods(cluster, ns)] == ["stray"], what="scaled to 0")
