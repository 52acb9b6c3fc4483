"""DaemonSet on simulated nodes (issue 14): one pod per eligible node, nodes becoming eligible
and leaving, a rolling update within maxUnavailable, ControllerRevisions and `kubectl rollout
status/history/undo daemonset`, all through the real kubectl. The tests share one cluster and
run in file order."""

from __future__ import annotations

from typing import Iterator

import pytest
import yaml

from .conftest import Cluster, free_port
from .test_tutorial_sim import RolloutWatcher, is_ready, live, ready_nodes

NODES = {f"sim-node-{i}" for i in range(1, 5)}
DS = "nginx"
SELECTOR = "app=nginx"


def daemonset(image: str = "nginx:1.14.2", strategy: dict | None = None) -> str:
    return yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": DS},
        "spec": {"selector": {"matchLabels": {"app": "nginx"}},
                 "updateStrategy": strategy or {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                 "template": {"metadata": {"labels": {"app": "nginx"}},
                              "spec": {"containers": [{"name": "nginx", "image": image}]}}}})


@pytest.fixture(scope="module")
def c(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cl = Cluster(str(tmp_path_factory.mktemp("kubeling-ds")), free_port(),
                 extra_args=("--sim-nodes", "4", "--node-status-update-frequency", "1"))
    cl.start()
    cl.wait_for(lambda: ready_nodes(cl) == NODES, timeout=30, what="4 Ready simulated nodes")
    yield cl
    cl.stop()


def ds_pods(c: Cluster) -> list[dict]:
    return live(c.json("get", "pods", "-l", SELECTOR)["items"])


def settled(c: Cluster, n: int, image: str | None = None) -> list[dict]:
    """Exactly `n` live pods, all ready (with `image`), and a status that says so."""
    def check() -> list[dict] | None:
        ps = ds_pods(c)
        ok = [p for p in ps if is_ready(p) and (image is None or p["spec"]["containers"][0]["image"] == image)]
        st = c.json("get", "ds", DS)["status"]
        if len(ok) == n == len(ps) and st.get("numberReady") == n and st.get("desiredNumberScheduled") == n:
            return ok
        return None
    return c.wait_for(check, timeout=30, interval=0.2, what=f"{n} ready daemon pods")


def test_one_pod_per_eligible_node(c: Cluster) -> None:
    c.kubectl("taint", "node", "sim-node-4", "joining=yes:NoSchedule")
    c.kubectl("apply", "-f", "-", input=daemonset())
    ps = settled(c, 3)
    assert sorted(p["spec"]["nodeName"] for p in ps) == ["sim-node-1", "sim-node-2", "sim-node-3"]
    pod = ps[0]
    # scheduled by the scheduler through node affinity, with the default daemon tolerations
    required = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    terms = required["nodeSelectorTerms"]
    assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [pod["spec"]["nodeName"]]}]}]
    assert {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]} >= {
        ("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unschedulable", "NoSchedule")}
    assert pod["metadata"]["labels"]["pod-template-generation"] == "1"
    ds = c.json("get", "ds", DS)
    st = ds["status"]
    assert (st["desiredNumberScheduled"], st["currentNumberScheduled"], st["numberReady"], st["numberAvailable"],
            st["updatedNumberScheduled"], st["numberMisscheduled"], st["observedGeneration"]) == (3, 3, 3, 3, 3, 0, 1)
    row = c.kubectl("get", "ds", DS, "--no-headers").stdout.split()
    assert row[:6] == [DS, "3", "3", "3", "3", "3"], row
    revs = c.json("get", "controllerrevisions")["items"]
    assert len(revs) == 1 and revs[0]["revision"] == 1
    hash_label = "controller-revision-hash"
    assert revs[0]["metadata"]["labels"][hash_label] == pod["metadata"]["labels"][hash_label]


def test_node_joining_and_leaving(c: Cluster) -> None:
    c.kubectl("taint", "node", "sim-node-4", "joining-")
    ps = settled(c, 4)
    assert "sim-node-4" in {p["spec"]["nodeName"] for p in ps}
    c.kubectl("taint", "node", "sim-node-4", "leaving=yes:NoExecute")  # not tolerated: the pod goes
    ps = settled(c, 3)
    assert "sim-node-4" not in {p["spec"]["nodeName"] for p in ps}
    c.kubectl("cordon", "sim-node-4")  # unschedulable is tolerated by daemon pods
    c.kubectl("taint", "node", "sim-node-4", "leaving-")
    ps = settled(c, 4)
    c.kubectl("uncordon", "sim-node-4")
    c.kubectl("label", "node", "sim-node-4", "role=edge")
    c.kubectl("patch", "ds", DS, "-p", '{"spec":{"template":{"spec":{"nodeSelector":{"role":"core"}}}}}')
    c.wait_for(lambda: c.json("get", "ds", DS)["status"].get("desiredNumberScheduled") == 0 and not ds_pods(c),
               timeout=30, what="no node selected")
    c.kubectl("patch", "ds", DS, "--type=json", "-p", '[{"op":"remove","path":"/spec/template/spec/nodeSelector"}]')
    settled(c, 4)
    c.kubectl("taint", "node", "sim-node-4", "gone=yes:NoExecute")
    settled(c, 3)


def test_rolling_update_within_max_unavailable(c: Cluster) -> None:
    watcher = RolloutWatcher(c, min_available=2, max_pods=3)
    try:
        c.kubectl("set", "image", f"ds/{DS}", "nginx=nginx:1.16.1")
        out = c.kubectl("rollout", "status", f"ds/{DS}", "--timeout=40s", timeout=50).stdout
        assert out.splitlines()[-1] == f'daemon set "{DS}" successfully rolled out', out
        settled(c, 3, "nginx:1.16.1")
    finally:
        watcher.stop()
    assert watcher.violations == []
    assert watcher.events > 0


def test_rollout_history_and_undo(c: Cluster) -> None:
    # revisions so far: 1 (nginx:1.14.2), 2 (with a nodeSelector), 1 again when the selector went
    # (renumbered 3, the same ControllerRevision), 4 (nginx:1.16.1)
    out = c.kubectl("rollout", "history", f"ds/{DS}").stdout.splitlines()
    assert out[0] == f"daemonset.apps/{DS} " and out[1].split() == ["REVISION", "CHANGE-CAUSE"], out
    assert [line.split()[0] for line in out[2:] if line.strip()] == ["2", "3", "4"], out
    detail = c.kubectl("rollout", "history", f"ds/{DS}", "--revision=4").stdout
    assert "Image:\tnginx:1.16.1" in detail, detail
    out = c.kubectl("rollout", "undo", f"ds/{DS}").stdout
    assert out.strip() == f"daemonset.apps/{DS} rolled back", out
    c.kubectl("rollout", "status", f"ds/{DS}", "--timeout=40s", timeout=50)
    settled(c, 3, "nginx:1.14.2")
    revs = sorted((r["revision"], r["metadata"]["name"]) for r in c.json("get", "controllerrevisions")["items"])
    assert [r for r, _ in revs] == [2, 4, 5], revs  # revision 3 became the newest again
    ps = ds_pods(c)
    assert {p["metadata"]["labels"]["controller-revision-hash"] for p in ps} == {revs[-1][1].rsplit("-", 1)[1]}
    out = c.kubectl("rollout", "undo", f"ds/{DS}", "--to-revision=5").stdout
    assert out.strip() == f"daemonset.apps/{DS} skipped rollback (current template already matches revision 5)", out


def test_on_delete_replaces_only_deleted_pods(c: Cluster) -> None:
    c.kubectl("apply", "-f", "-", input=daemonset("nginx:1.14.2", {"type": "OnDelete"}))
    c.kubectl("set", "image", f"ds/{DS}", "nginx=nginx:1.17")
    c.wait_for(lambda: c.json("get", "ds", DS)["status"].get("observedGeneration")
               == c.json("get", "ds", DS)["metadata"]["generation"], what="observed")
    ps = settled(c, 3, "nginx:1.14.2")  # nothing replaced on its own
    assert c.json("get", "ds", DS)["status"].get("updatedNumberScheduled", 0) == 0
    c.kubectl("delete", "pod", ps[0]["metadata"]["name"])
    c.wait_for(lambda: sum(p["spec"]["containers"][0]["image"] == "nginx:1.17" for p in ds_pods(c) if is_ready(p)) == 1,
               timeout=30, what="one replaced pod")
    assert c.json("get", "ds", DS)["status"].get("updatedNumberScheduled") == 1
