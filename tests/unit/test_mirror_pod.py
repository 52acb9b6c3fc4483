"""Mirror pods (issue 11): the in-process DNS server shows as `kube-system/kube-dns-<node>`, the
kubelet never runs a mirror pod, and a deleted mirror pod is recreated."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from kubeling.api import errors
from kubeling.dns.server import kube_dns_static_pod
from kubeling.kubelet.kubelet import Kubelet, KubeletConfig
from kubeling.kubelet.mirror import MIRROR, MirrorPod, is_mirror_pod
from kubeling.kubelet.node import NodeConfig
from kubeling.kubelet.runtime.simulated import SimulatedRuntime

_uids = itertools.count(1)


class _Pods:
    """Just enough of the API for pods: UIDs, graceful deletion (deletionTimestamp), preconditions."""

    def __init__(self) -> None:
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.deletes: list[dict[str, Any]] = []

    async def get(self, res: Any, ns: str, name: str) -> dict[str, Any]:
        if (ns, name) not in self.pods:
            raise errors.StatusError(404, "NotFound", "not found")
        return self.pods[ns, name]

    async def create(self, res: Any, ns: str, obj: dict[str, Any]) -> dict[str, Any]:
        if (ns, obj["metadata"]["name"]) in self.pods:
            raise errors.StatusError(409, "AlreadyExists", "exists")
        new = {**obj, "metadata": {**obj["metadata"], "uid": f"uid-{next(_uids)}"}, "status": {"phase": "Pending"}}
        self.pods[ns, obj["metadata"]["name"]] = new
        return new

    async def update_status(self, res: Any, obj: dict[str, Any]) -> dict[str, Any]:
        cur = self.pods[obj["metadata"]["namespace"], obj["metadata"]["name"]]
        cur["status"] = obj["status"]
        return cur

    async def delete(self, res: Any, ns: str, name: str, *, grace_period: int | None = None,
                     preconditions: dict[str, str] | None = None) -> None:
        self.deletes.append({"grace": grace_period, **(preconditions or {})})
        cur = await self.get(res, ns, name)
        if grace_period == 0:
            del self.pods[ns, name]
        else:  # kubectl delete pod: graceful, the node finishes it
            cur["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"


def _keeper(api: _Pods) -> MirrorPod:
    keeper = MirrorPod(api, kube_dns_static_pod(53, "kubeling/dns:0.1.0"), "node-1",  # type: ignore[arg-type]
                       "node-uid", "10.244.0.1", "kubeling://dns")
    keeper.recreate_after = 0
    return keeper


async def test_dns_mirror_pod_object_and_status() -> None:
    api = _Pods()
    await _keeper(api).sync()
    pod = api.pods["kube-system", "kube-dns-node-1"]
    meta, spec, status = pod["metadata"], pod["spec"], pod["status"]
    ann = meta["annotations"]
    assert ann[MIRROR] == ann["kubernetes.io/config.hash"] and len(ann[MIRROR]) == 32
    assert ann["kubernetes.io/config.source"] == "file" and ann["kubernetes.io/config.seen"]
    assert meta["labels"] == {"k8s-app": "kube-dns"}
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": "node-1", "uid": "node-uid",
                                        "controller": True}]
    assert spec["nodeName"] == "node-1" and spec["hostNetwork"] is True
    assert spec["priorityClassName"] == "system-cluster-critical"
    assert [(p["containerPort"], p["protocol"]) for p in spec["containers"][0]["ports"]] == [(53, "UDP"), (53, "TCP")]
    assert status["phase"] == "Running" and status["podIP"] == status["hostIP"] == "10.244.0.1"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    [cs] = status["containerStatuses"]
    assert (cs["name"], cs["ready"], cs["image"], cs["containerID"]) == \
        ("kube-dns", True, "kubeling/dns:0.1.0", "kubeling://dns")
    assert "running" in cs["state"]


async def test_deleted_mirror_pod_is_recreated_and_a_restart_keeps_it() -> None:
    api = _Pods()
    keeper = _keeper(api)
    await keeper.sync()
    first = api.pods["kube-system", "kube-dns-node-1"]["metadata"]["uid"]
    await api.delete(None, "kube-system", "kube-dns-node-1", grace_period=30)  # kubectl delete pod
    await keeper.sync()
    assert api.deletes[-1] == {"grace": 0, "uid": first}  # DeleteMirrorPod: grace 0, UID precondition
    pod = api.pods["kube-system", "kube-dns-node-1"]
    assert pod["metadata"]["uid"] != first and "deletionTimestamp" not in pod["metadata"]
    assert pod["status"]["phase"] == "Running"
    n = len(api.deletes)
    await _keeper(api).sync()  # the next `kubeling up`: same static pod, the mirror pod stays
    assert len(api.deletes) == n and api.pods["kube-system", "kube-dns-node-1"]["metadata"]["uid"] == \
        pod["metadata"]["uid"]


class _Source:
    synced = asyncio.Event()

    def add_handlers(self, *a: Any, **kw: Any) -> None: ...

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return []


async def test_kubelet_never_runs_a_mirror_pod() -> None:
    kubelet = Kubelet(None, KubeletConfig(node=NodeConfig(name="node-1")), SimulatedRuntime(),  # type: ignore
                      pod_source=_Source())
    seen: list[str] = []
    kubelet.mirror_observers.append(lambda p: seen.append(p["metadata"]["name"]))
    api = _Pods()
    await _keeper(api).sync()
    mirror = api.pods["kube-system", "kube-dns-node-1"]
    assert is_mirror_pod(mirror)
    kubelet._on_add(mirror)
    kubelet._on_update(mirror, {**mirror, "spec": {**mirror["spec"], "activeDeadlineSeconds": 5}})
    kubelet._on_delete(mirror)
    assert seen == ["kube-dns-node-1"] * 3
    assert kubelet.pods == {} and kubelet.removed == {} and len(kubelet.queue) == 0
    regular = {"metadata": {"name": "web", "namespace": "default", "uid": "u-web"},
               "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx"}]}}
    kubelet._on_add(regular)
    assert list(kubelet.pods) == ["u-web"] and len(kubelet.queue) == 1
    await kubelet.queue.shutdown()
