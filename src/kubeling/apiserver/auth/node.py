"""The Node authorizer and NodeRestriction admission (upstream plugin/pkg/auth/authorizer/node,
plugin/pkg/admission/noderestriction).

A kubelet is `system:node:<name>` in group `system:nodes`. It may read a Secret, ConfigMap,
PersistentVolumeClaim or PersistentVolume only if a pod bound to its node uses it, mint tokens
only for its pods' ServiceAccounts, touch only its own Lease, and otherwise do what the
`system:node` ClusterRole says. NodeRestriction then limits its writes to its own Node object,
its pods' status, and mirror pods.
"""

from __future__ import annotations

from typing import Any, Iterator

from ...api import errors
from ...api.resources import lookup
from ...identity import NODE_PREFIX, NODES_GROUP
from ...store.base import DELETED, Watcher
from ..admission import BasePlugin
from . import policy_data
from . import rules as rulelib
from .attributes import Attributes
from .user import current_request

NODE_RULES = policy_data.CLUSTER_ROLES["system:node"]
MIRROR = "kubernetes.io/config.mirror"
_PODS = lookup("", "v1", "pods")


def node_name(user: Any) -> str | None:
    """The node a user is, or None (upstream's NodeIdentity)."""
    if NODES_GROUP in user.groups and user.name.startswith(NODE_PREFIX):
        return user.name[len(NODE_PREFIX):]
    return None


def pod_references(pod: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(kind, name) of what a pod makes its node read: secrets, configmaps, claims, its account."""
    spec = pod.get("spec") or {}
    yield "serviceaccounts", spec.get("serviceAccountName") or "default"
    for s in spec.get("imagePullSecrets") or ():
        yield "secrets", s.get("name", "")
    for v in spec.get("volumes") or ():
        if v.get("secret"):
            yield "secrets", v["secret"].get("secretName", "")
        if v.get("configMap"):
            yield "configmaps", v["configMap"].get("name", "")
        if v.get("persistentVolumeClaim"):
            yield "persistentvolumeclaims", v["persistentVolumeClaim"].get("claimName", "")
        for src in (v.get("projected") or {}).get("sources") or ():
            if src.get("secret"):
                yield "secrets", src["secret"].get("name", "")
            if src.get("configMap"):
                yield "configmaps", src["configMap"].get("name", "")
    for c in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ()),
              *(spec.get("ephemeralContainers") or ())]:
        for e in c.get("envFrom") or ():
            if e.get("secretRef"):
                yield "secrets", e["secretRef"].get("name", "")
            if e.get("configMapRef"):
                yield "configmaps", e["configMapRef"].get("name", "")
        for e in c.get("env") or ():
            vf = e.get("valueFrom") or {}
            if vf.get("secretKeyRef"):
                yield "secrets", vf["secretKeyRef"].get("name", "")
            if vf.get("configMapKeyRef"):
                yield "configmaps", vf["configMapKeyRef"].get("name", "")


class NodeAuthorizer:
    """Grants only; a request it does not grant falls through to RBAC (where system:node has no
    subjects, so a node gets nothing there). The graph of what each node's pods use is an index
    fed by the store's pod watch, drained when a node asks for a graph-guarded object."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._pods: dict[str, tuple[str, frozenset[tuple[str, str]]]] = {}  # pod key -> (node, refs)
        self._refs: dict[tuple[str, str, str], dict[str, int]] = {}  # (kind, ns, name) -> node -> count
        self._watcher: Watcher | None = None

    # ---- the pod graph ------------------------------------------------------------------------
    def _relist(self) -> None:
        if self._watcher is not None:
            self.store.unwatch(self._watcher)
        self._pods.clear()
        self._refs.clear()
        entries, rev = self.store.list(_PODS.prefix(None))
        for e in entries:
            self._set(e.key, e.obj())
        self._watcher = self.store.watch(_PODS.prefix(None), rev)

    def _set(self, key: str, pod: dict[str, Any] | None) -> None:
        old = self._pods.pop(key, None)
        if old is not None:
            for ref in old[1]:
                counts = self._refs.get(ref)
                if counts is not None:
                    counts[old[0]] -= 1
                    if counts[old[0]] <= 0:
                        del counts[old[0]]
        node = ((pod or {}).get("spec") or {}).get("nodeName")
        if pod is None or not node:
            return
        ns = pod["metadata"].get("namespace", "")
        refs = frozenset((kind, ns, name) for kind, name in pod_references(pod) if name)
        self._pods[key] = (node, refs)
        for ref in refs:
            counts = self._refs.setdefault(ref, {})
            counts[node] = counts.get(node, 0) + 1

    def _sync(self) -> None:
        if self._watcher is None:
            self._relist()
            return
        q = self._watcher.queue
        while not q.empty():
            ev = q.get_nowait()
            if ev is None:
                self._relist()
                return
            self._set(ev.entry.key, None if ev.type == DELETED else ev.entry.obj())

    def _related(self, node: str, kind: str, ns: str, name: str) -> bool:
        self._sync()
        return node in self._refs.get((kind, ns, name), {})

    # ---- decisions ----------------------------------------------------------------------------
    def authorize(self, a: Attributes) -> bool:
        node = node_name(a.user)
        if node is None or not node:
            return False
        if a.resource_request and a.api_group == "":
            if a.resource in ("secrets", "configmaps"):  # read only, by name (a get, or a list/watch of one)
                return (not a.subresource and a.verb in ("get", "list", "watch") and bool(a.name)
                        and self._related(node, a.resource, a.namespace, a.name))
            if a.resource == "persistentvolumeclaims":
                verbs = ("get", "update", "patch") if a.subresource == "status" else ("get",)
                return (a.subresource in ("", "status") and a.verb in verbs and bool(a.name)
                        and self._related(node, a.resource, a.namespace, a.name))
            if a.resource == "persistentvolumes":
                return a.verb == "get" and bool(a.name) and self._pv_related(node, a.name)
            if a.resource == "serviceaccounts" and a.subresource == "token":
                return a.verb == "create" and self._related(node, "serviceaccounts", a.namespace, a.name)
        if a.resource_request and a.api_group == "coordination.k8s.io" and a.resource == "leases":
            return (a.namespace == "kube-node-lease" and a.verb in ("get", "create", "update", "patch", "delete")
                    and (a.name == node or (a.verb == "create" and not a.name)))
        return any(rulelib.allows(a, r) for r in NODE_RULES)

    def _pv_related(self, node: str, pv: str) -> bool:
        """A PV bound to a claim a pod on the node uses."""
        pvs = lookup("", "v1", "persistentvolumes")
        entry = self.store.get(pvs.key(None, pv)) if pvs is not None else None
        ref = ((entry.obj().get("spec") or {}).get("claimRef") or {}) if entry is not None else {}
        return bool(ref) and self._related(node, "persistentvolumeclaims", ref.get("namespace", ""), ref.get("name", ""))


_NODES = lookup("", "v1", "nodes")


def mirror_pod_refusal(store: Any, node: str, pod: dict[str, Any]) -> str:
    """Why `node` may not create `pod`, or "" (upstream's admitPodCreate): only a mirror pod
    bound to itself, owned (controller, no blockOwnerDeletion) by its own Node object, that
    references no ServiceAccount, Secret, ConfigMap or claim."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    if MIRROR not in (meta.get("annotations") or {}):
        return f'pod does not have "{MIRROR}" annotation, node "{node}" can only create mirror pods'
    if spec.get("nodeName") != node:
        return f'node "{node}" can only create pods with spec.nodeName set to itself'
    owners = meta.get("ownerReferences") or []
    if len(owners) > 1:
        return f'node "{node}" can only create pods with a single owner reference set to itself'
    if not owners or (owners[0].get("apiVersion"), owners[0].get("kind"), owners[0].get("name")) != ("v1", "Node", node):
        return f'node "{node}" can only create pods with an owner reference set to itself'
    owner = owners[0]
    if not owner.get("controller"):
        return f'node "{node}" can only create pods with a controller owner reference set to itself'
    if owner.get("blockOwnerDeletion"):
        return f'node "{node}" must not set blockOwnerDeletion on an owner reference'
    entry = store.get(_NODES.key(None, node)) if _NODES is not None else None
    if entry is None:
        raise errors.not_found("nodes", node)
    uid = entry.obj()["metadata"].get("uid", "")
    if owner.get("uid") != uid:
        return f"node {node} UID mismatch: expected {owner.get('uid', '')} got {uid}"
    if spec.get("serviceAccountName"):
        return f'node "{node}" can not create pods that reference a service account'
    kinds = {kind for kind, _ in pod_references(pod) if kind != "serviceaccounts"}
    for kind in ("secrets", "configmaps", "persistentvolumeclaims"):
        if kind in kinds:
            return f'node "{node}" can not create pods that reference {kind}'
    return ""


class NodeRestriction(BasePlugin):
    """Admission for writes by nodes: own Node object, own pods' status, mirror pods only."""

    kinds = (("", "Node"), ("", "Pod"))

    def _node(self) -> tuple[str | None, Attributes | None]:
        a = current_request.get()
        return (node_name(a.user), a) if a is not None else (None, None)

    def admit_create(self, registry: Any, res: Any, obj: dict[str, Any], dry_run: bool) -> None:
        node, a = self._node()
        if node is None:
            return
        name = (obj.get("metadata") or {}).get("name", "")
        if res.kind == "Node":
            if name != node:
                raise errors.forbidden("nodes", name, "", f'node "{node}" is not allowed to modify node "{name}"')
            return
        reason = mirror_pod_refusal(registry.store, node, obj)
        if reason:
            raise errors.forbidden("pods", name, "", reason)

    def admit_update(self, registry: Any, res: Any, old: dict[str, Any], new: dict[str, Any], dry_run: bool) -> None:
        node, a = self._node()
        if node is None or a is None:
            return
        name = (old.get("metadata") or {}).get("name", "")
        if res.kind == "Node":
            if name != node:
                raise errors.forbidden("nodes", name, "", f'node "{node}" is not allowed to modify node "{name}"')
            return
        if a.subresource != "status":
            raise errors.forbidden("pods", name, "", f'unexpected operation "UPDATE", node "{node}" can only create '
                                                     "and delete mirror pods")
        if (old.get("spec") or {}).get("nodeName") != node:
            raise errors.forbidden("pods", name, "", f'node "{node}" can only update pod status for pods with '
                                                     "spec.nodeName set to itself")


def check_node_delete(store: Any, a: Attributes) -> None:
    """NodeRestriction on deletes, which admission here does not see: a node deletes only its own
    Node object and pods bound to it."""
    node = node_name(a.user)
    if node is None or a.verb not in ("delete", "deletecollection") or a.api_group != "":
        return
    if a.resource == "nodes" and a.name != node:
        raise errors.forbidden("nodes", a.name, "", f'node "{node}" is not allowed to modify node "{a.name}"')
    if a.resource == "pods" and not a.subresource:
        entry = store.get(_PODS.key(a.namespace, a.name)) if a.name else None
        if entry is None:
            if a.name:
                raise errors.not_found("pods", a.name)
            raise errors.forbidden("pods", "", "", f'node "{node}" can only delete pods with spec.nodeName set to itself')
        if (entry.obj().get("spec") or {}).get("nodeName") != node:
            raise errors.forbidden("pods", a.name, "", f'node "{node}" can only delete pods with spec.nodeName set '
                                                       "to itself")
