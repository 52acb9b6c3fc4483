"""Mirror pods: the API's view of a component the node runs itself (upstream static pods).

Upstream's kubelet runs static pods from files and creates a *mirror pod* for each in the API
(pkg/kubelet/pod/mirror_client.go): annotations `kubernetes.io/config.mirror` (the static pod's
hash), `config.hash`, `config.source` and `config.seen`, an ownerReference to the Node
(controller: true), and the static pod's status. The kubelet never runs a mirror pod, and
recreates it when someone deletes it or when it no longer matches the static pod.

kubeling's node runs some components inside the `kubeling up` process (the cluster DNS server):
`MirrorPod` keeps one mirror pod per such component, Running and Ready on the node's address,
so `kubectl get pods -n kube-system` shows what serves the cluster.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

from ..api import errors
from ..api.resources import lookup
from ..api.timestamps import rfc3339
from ..client.rest import Client

log = logging.getLogger("kubeling.kubelet.mirror")

PODS = lookup("", "v1", "pods")
assert PODS is not None

MIRROR = "kubernetes.io/config.mirror"
HASH = "kubernetes.io/config.hash"
SOURCE = "kubernetes.io/config.source"
SEEN = "kubernetes.io/config.seen"
RESYNC = 60.0  # the kubelet's syncFrequency: a missed event is repaired within a minute
RETRY = 1.0
# A deleted mirror pod is recreated on the next sync, not in the same breath: `kubectl delete pod`
# GETs the pod, then LISTs and watches for its DELETED event (cmd/wait IsDeleted); a new pod of
# the same name appearing between the two makes it wait for a deletion that never comes.
RECREATE_AFTER = 1.0


def is_mirror_pod(pod: dict[str, Any]) -> bool:
    """kubetypes.IsMirrorPod: the kubelet only reports on these, it never runs them."""
    return MIRROR in ((pod.get("metadata") or {}).get("annotations") or {})


def static_hash(static: dict[str, Any]) -> str:
    """What upstream's file source sets as the static pod's UID and config.hash (an md5)."""
    return hashlib.md5(json.dumps(static, sort_keys=True).encode()).hexdigest()


def mirror_pod(static: dict[str, Any], node_name: str, node_uid: str, seen: str) -> dict[str, Any]:
    """The mirror pod object of `static` (a Pod without nodeName), as CreateMirrorPod builds it."""
    h = static_hash(static)
    meta = static["metadata"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {**meta, "name": f"{meta['name']}-{node_name}",
                         "annotations": {**(meta.get("annotations") or {}),
                                         HASH: h, MIRROR: h, SOURCE: "file", SEEN: seen},
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node_name,
                                              "uid": node_uid, "controller": True}]},
            "spec": {**static["spec"], "nodeName": node_name}}


def running_status(pod: dict[str, Any], node_ip: str, container_id: str, started: str) -> dict[str, Any]:
    """Running and Ready since `started`, on the node's address (the component is host-network)."""
    conds = [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": started}
             for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")]
    statuses = [{"name": c["name"], "ready": True, "started": True, "restartCount": 0, "image": c["image"],
                 "imageID": "", "containerID": container_id, "state": {"running": {"startedAt": started}},
                 "lastState": {}} for c in pod["spec"]["containers"]]
    return {"phase": "Running", "conditions": conds, "hostIP": node_ip, "hostIPs": [{"ip": node_ip}],
            "podIP": node_ip, "podIPs": [{"ip": node_ip}], "startTime": started, "containerStatuses": statuses}


class MirrorPod:
    """Keeps the mirror pod of one in-process component: created when missing, deleted (grace 0,
    UID precondition, as DeleteMirrorPod) and recreated when it is being deleted or stale, and
    its status kept Running/Ready. `observe` (the kubelet's pod source) wakes it on changes."""

    def __init__(self, client: Client, static: dict[str, Any], node_name: str, node_uid: str, node_ip: str,
                 container_id: str) -> None:
        self.client = client
        self.started = rfc3339()
        self.want = mirror_pod(static, node_name, node_uid, self.started)
        self.namespace, self.name = self.want["metadata"]["namespace"], self.want["metadata"]["name"]
        self.status = running_status(self.want, node_ip, container_id, self.started)
        self.wake = asyncio.Event()
        self._written: Any = None  # the status as the API stored it after our last write
        self.recreate_after = RECREATE_AFTER

    def observe(self, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        if meta.get("name") == self.name and meta.get("namespace") == self.namespace:
            self.wake.set()

    def _stale(self, cur: dict[str, Any]) -> bool:
        meta = cur["metadata"]
        return (bool(meta.get("deletionTimestamp")) or (meta.get("annotations") or {}).get(MIRROR)
                != self.want["metadata"]["annotations"][MIRROR]
                or meta.get("ownerReferences") != self.want["metadata"]["ownerReferences"])

    async def sync(self) -> None:
        """One pass; returns when the mirror pod exists, is current and reports Running."""
        while True:
            try:
                cur = await self.client.get(PODS, self.namespace, self.name)
            except errors.StatusError as e:
                if e.code != 404:
                    raise
                try:
                    cur = await self.client.create(PODS, self.namespace, self.want)
                    log.info("created mirror pod %s/%s", self.namespace, self.name)
                except errors.StatusError as e2:
                    if e2.code != 409:
                        raise
                    continue
            if self._stale(cur):
                log.info("deleting mirror pod %s/%s (deleted or outdated); recreating it", self.namespace, self.name)
                try:
                    await self.client.delete(PODS, self.namespace, self.name, grace_period=0,
                                             preconditions={"uid": cur["metadata"]["uid"]})
                except errors.StatusError as e:
                    if e.code not in (404, 409):
                        raise
                await asyncio.sleep(self.recreate_after)
                continue
            status = {**(cur.get("status") or {}), **self.status}
            if cur.get("status") not in (status, self._written):
                try:
                    self._written = (await self.client.update_status(PODS, {**cur, "status": status}))["status"]
                except errors.StatusError as e:
                    if e.code not in (404, 409):
                        raise
                    continue
            return

    async def run(self) -> None:
        while True:
            self.wake.clear()
            try:
                await self.sync()
                timeout = RESYNC
            except (errors.StatusError, OSError) as e:
                log.warning("mirror pod %s/%s: %s", self.namespace, self.name, e)
                timeout = RETRY
            try:
                await asyncio.wait_for(self.wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass
