"""Every kind the API serves, in one table.

This table is the single source for discovery (legacy and aggregated), URL routing, OpenAPI
filtering, short names and kubectl categories (`kubectl get all`). Adding a kind is adding a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .strategy import Strategy

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NO_COLLECTION_DELETE = ("create", "delete", "get", "list", "patch", "update", "watch")
SUB_RW = ("get", "patch", "update")


@dataclass(frozen=True)
class Subresource:
    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str | None = None  # set when the response kind lives in another group (scale, eviction)
    version: str | None = None


STATUS = Subresource("status", "", SUB_RW)  # kind "" = same kind as the parent
SCALE = Subresource("scale", "Scale", SUB_RW, "autoscaling", "v1")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[Subresource, ...] = ()
    # storage identity: resources served in several versions (or groups) share one store prefix
    storage_group: str | None = None
    storage_plural: str | None = None
    # a CustomResourceDefinition's version (api/customresource.py CustomVersion): schema, printer columns,
    # subresource paths; None for built-in kinds
    singular_name: str = ""  # a CRD's spec.names.singular (built-in kinds: the kind in lower case)
    custom: Any = field(default=None, compare=False, hash=False)

    @property
    def singular(self) -> str:
        return self.singular_name or self.kind.lower()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def storage_prefix(self) -> str:
        """Key prefix in the store, like etcd's /registry/<group>/<plural>/."""
        group = self.storage_group if self.storage_group is not None else self.group
        plural = self.storage_plural or self.plural
        return f"/registry/{group or 'core'}/{plural}/"

    def key(self, namespace: str | None, name: str) -> str:
        if self.namespaced:
            return f"{self.storage_prefix}{namespace}/{name}"
        return f"{self.storage_prefix}{name}"

    def prefix(self, namespace: str | None) -> str:
        if self.namespaced and namespace:
            return f"{self.storage_prefix}{namespace}/"
        return self.storage_prefix

    def subresource(self, name: str) -> Subresource | None:
        for s in self.subresources:
            if s.name == name:
                return s
        return None

    @property
    def has_status(self) -> bool:
        return self.subresource("status") is not None

    @cached_property
    def strategy(self) -> "Strategy":
        """The kind's rules: defaults, validation, create and status steps (api/strategy.py);
        a custom resource's come with its CRD version (api/crd.py)."""
        if self.custom is not None:
            return self.custom.strategy
        from . import strategy  # the rules import defaults and validation; the table stays a leaf

        return strategy.of(self.group, self.kind)


def _r(gv: str, kind: str, plural: str, **kw) -> Resource:
    group, _, version = gv.rpartition("/")
    return Resource(group, version, kind, plural, **kw)


RESOURCES: tuple[Resource, ...] = (
    # core/v1
    _r("v1", "Binding", "bindings", verbs=("create",)),
    _r("v1", "ConfigMap", "configmaps", short_names=("cm",)),
    _r("v1", "Endpoints", "endpoints", short_names=("ep",)),
    _r("v1", "Event", "events", short_names=("ev",)),
    _r("v1", "LimitRange", "limitranges", short_names=("limits",)),
    _r("v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",), verbs=NO_COLLECTION_DELETE,
       subresources=(STATUS, Subresource("finalize", "", ("update",)))),
    _r("v1", "Node", "nodes", namespaced=False, short_names=("no",), subresources=(STATUS,)),
    _r("v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",), subresources=(STATUS,)),
    _r("v1", "PersistentVolume", "persistentvolumes", namespaced=False, short_names=("pv",), subresources=(STATUS,)),
    _r("v1", "Pod", "pods", short_names=("po",), categories=("all",), subresources=(
        Subresource("attach", "PodAttachOptions", ("create", "get")),
        Subresource("binding", "Binding", ("create",)),
        Subresource("eviction", "Eviction", ("create",), "policy", "v1"),
        Subresource("exec", "PodExecOptions", ("create", "get")),
        Subresource("log", "Pod", ("get",)),
        Subresource("portforward", "PodPortForwardOptions", ("create", "get")),
        STATUS,
    )),
    _r("v1", "PodTemplate", "podtemplates"),
    _r("v1", "ReplicationController", "replicationcontrollers", short_names=("rc",), categories=("all",),
       subresources=(SCALE, STATUS)),
    _r("v1", "ResourceQuota", "resourcequotas", short_names=("quota",), subresources=(STATUS,)),
    _r("v1", "Secret", "secrets"),
    _r("v1", "ServiceAccount", "serviceaccounts", short_names=("sa",), subresources=(
        Subresource("token", "TokenRequest", ("create",), "authentication.k8s.io", "v1"),)),
    _r("v1", "Service", "services", short_names=("svc",), categories=("all",), subresources=(STATUS,)),
    # apps/v1
    _r("apps/v1", "ControllerRevision", "controllerrevisions"),
    _r("apps/v1", "DaemonSet", "daemonsets", short_names=("ds",), categories=("all",), subresources=(STATUS,)),
    _r("apps/v1", "Deployment", "deployments", short_names=("deploy",), categories=("all",),
       subresources=(SCALE, STATUS)),
    _r("apps/v1", "ReplicaSet", "replicasets", short_names=("rs",), categories=("all",), subresources=(SCALE, STATUS)),
    _r("apps/v1", "StatefulSet", "statefulsets", short_names=("sts",), categories=("all",), subresources=(SCALE, STATUS)),
    # autoscaling: v2 is the storage version, v1 is converted on the way in and out
    _r("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short_names=("hpa",),
       categories=("all",), subresources=(STATUS,)),
    _r("autoscaling/v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short_names=("hpa",),
       categories=("all",), subresources=(STATUS,)),
    # batch/v1
    _r("batch/v1", "CronJob", "cronjobs", short_names=("cj",), categories=("all",), subresources=(STATUS,)),
    _r("batch/v1", "Job", "jobs", categories=("all",), subresources=(STATUS,)),
    # coordination, discovery, events, policy, rbac, scheduling, storage, networking
    _r("coordination.k8s.io/v1", "Lease", "leases"),
    _r("discovery.k8s.io/v1", "EndpointSlice", "endpointslices"),
    _r("events.k8s.io/v1", "Event", "events", short_names=("ev",), storage_group=""),
    _r("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=("pdb",), subresources=(STATUS,)),
    _r("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    _r("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", namespaced=False),
    _r("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io/v1", "Role", "roles"),
    _r("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", namespaced=False, short_names=("pc",)),
    _r("storage.k8s.io/v1", "StorageClass", "storageclasses", namespaced=False, short_names=("sc",)),
    _r("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations",
       namespaced=False),
    _r("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations",
       namespaced=False),
    _r("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies",
       namespaced=False, categories=("api-extensions",), subresources=(STATUS,)),
    _r("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings",
       namespaced=False, categories=("api-extensions",)),
    _r("networking.k8s.io/v1", "Ingress", "ingresses", short_names=("ing",), subresources=(STATUS,)),
    _r("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", short_names=("netpol",)),
    _r("networking.k8s.io/v1", "IngressClass", "ingressclasses", namespaced=False),
    # aggregated APIs: the registrations, and the resource metrics API (served from the metrics
    # component's memory, never stored: see metrics/)
    _r("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", namespaced=False,
       short_names=("crd", "crds"), categories=("api-extensions",), subresources=(STATUS,)),
    _r("apiregistration.k8s.io/v1", "APIService", "apiservices", namespaced=False, categories=("api-extensions",),
       subresources=(STATUS,)),
    _r("metrics.k8s.io/v1beta1", "NodeMetrics", "nodes", namespaced=False, verbs=("get", "list")),
    _r("metrics.k8s.io/v1beta1", "PodMetrics", "pods", verbs=("get", "list")),
    # reviews: create-only, answered from the request's identity, never stored
    _r("authentication.k8s.io/v1", "SelfSubjectReview", "selfsubjectreviews", namespaced=False, verbs=("create",)),
    _r("authentication.k8s.io/v1", "TokenReview", "tokenreviews", namespaced=False, verbs=("create",)),
    _r("authorization.k8s.io/v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", verbs=("create",)),
    _r("authorization.k8s.io/v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", namespaced=False,
       verbs=("create",)),
    _r("authorization.k8s.io/v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", namespaced=False,
       verbs=("create",)),
    _r("authorization.k8s.io/v1", "SubjectAccessReview", "subjectaccessreviews", namespaced=False, verbs=("create",)),
)

REVIEW_GROUPS = ("authentication.k8s.io", "authorization.k8s.io")
METRICS_GROUP = "metrics.k8s.io"

# Group order as kube-apiserver lists it (discovery order decides kubectl's preferred resource).
GROUP_ORDER = (
    "", "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io", "autoscaling", "batch",
    "networking.k8s.io", "policy",
    "rbac.authorization.k8s.io", "storage.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io",
    "scheduling.k8s.io", "coordination.k8s.io", "discovery.k8s.io", "metrics.k8s.io",
)
# Preferred version per group (the first served version is preferred unless named here).
PREFERRED_VERSION = {"autoscaling": "v2"}

_STATIC_BY_PATH: dict[tuple[str, str, str], Resource] = {(r.group, r.version, r.plural): r for r in RESOURCES}
_STATIC_BY_KIND: dict[tuple[str, str, str], Resource] = {(r.group, r.version, r.kind): r for r in RESOURCES}


@dataclass(frozen=True)
class _Table:
    """One immutable snapshot of every served row: built-in, then custom (CRD) rows.

    Readers take `_table` once and never lock; a CRD change builds a new snapshot and swaps the
    module reference (copy-on-write), so a request sees either the old table or the new one.
    """

    rows: tuple[Resource, ...]
    by_path: dict[tuple[str, str, str], Resource]
    by_kind: dict[tuple[str, str, str], Resource]
    custom: tuple[Resource, ...] = ()
    generation: int = 0


_table = _Table(RESOURCES, _STATIC_BY_PATH, _STATIC_BY_KIND)


def install_custom(rows: tuple[Resource, ...]) -> bool:
    """Serve exactly these custom rows from now on (built-in rows always win a clash).
    Returns whether anything changed (discovery and openapi caches key on `generation()`)."""
    global _table
    cur = _table
    if rows == cur.custom and all(a.custom == b.custom for a, b in zip(rows, cur.custom)):
        return False
    by_path, by_kind = dict(_STATIC_BY_PATH), dict(_STATIC_BY_KIND)
    kept = []
    for r in rows:
        if (r.group, r.version, r.plural) in _STATIC_BY_PATH:
            continue
        by_path[(r.group, r.version, r.plural)] = r
        by_kind.setdefault((r.group, r.version, r.kind), r)
        kept.append(r)
    _table = _Table(RESOURCES + tuple(kept), by_path, by_kind, tuple(rows), cur.generation + 1)
    return True


def generation() -> int:
    """Bumped on every change of the custom rows."""
    return _table.generation


def all_resources() -> tuple[Resource, ...]:
    return _table.rows


def lookup(group: str, version: str, plural: str) -> Resource | None:
    return _table.by_path.get((group, version, plural))


def by_kind(group: str, version: str, kind: str) -> Resource | None:
    return _table.by_kind.get((group, version, kind))


def group_versions() -> dict[str, list[str]]:
    """group -> versions, preferred first, in discovery order (CRD groups last, their versions
    in the CRD's priority order: api/crd.py sorts them)."""
    out: dict[str, list[str]] = {g: [] for g in GROUP_ORDER}
    for r in _table.rows:
        versions = out.setdefault(r.group, [])
        if r.version not in versions:
            versions.append(r.version)
    for g, pref in PREFERRED_VERSION.items():
        if pref in out.get(g, []):
            out[g].remove(pref)
            out[g].insert(0, pref)
    return {g: v for g, v in out.items() if v}


def in_group_version(group: str, version: str) -> list[Resource]:
    return [r for r in _table.rows if r.group == group and r.version == version]
