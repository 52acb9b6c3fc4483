"""Scheduler framework: per-node aggregates, filter plugins and the fit error — pure, no I/O.

A port of the parts of upstream `pkg/scheduler/framework` that the default profile runs for
ordinary pods (no volumes, no inter-pod affinity):

- `PodInfo` / `NodeInfo`: the pod's requests, ports and tolerations parsed once, and per node the
  sums of what its pods request, the host ports in use and how many pods of each owner run there,
  so a scheduling cycle never rescans pods (O(nodes) per pod, not O(nodes x pods)).
- Filters, in the default profile's order (first failure wins, as RunFilterPlugins does):
  NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit.
- Scores: scoring.py (TaintToleration, NodeAffinity, NodeResourcesFit, PodTopologySpread,
  NodeResourcesBalancedAllocation) and selectHost.
- `FitError.message()`: the "0/3 nodes are available: ..." text of framework/types.go, with the
  DefaultPreemption PostFilter part ("preemption: ...") that v1.32 appends.

One addition: a node whose Ready condition is False/Unknown is treated as carrying the
`node.kubernetes.io/not-ready` / `unreachable` NoSchedule taint that upstream's node lifecycle
controller would put on it (TaintNodesByCondition), so the scheduler behaves the same whether or
not that controller has caught up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable

from ..api.taints import tolerates
from ..api import quantity

Obj = dict[str, Any]

MAX_NODE_SCORE = 100
DEFAULT_MILLI_CPU_REQUEST = 100  # schedutil.DefaultMilliCPURequest
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024  # schedutil.DefaultMemoryRequest

SUCCESS, UNSCHEDULABLE, UNRESOLVABLE = 0, 2, 3  # framework.Code: Unschedulable, UnschedulableAndUnresolvable

TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_ZONE = "topology.kubernetes.io/zone"

# upstream reason strings
ERR_UNSCHEDULABLE = "node(s) were unschedulable"
ERR_NODE_NAME = "node(s) didn't match the requested node name"
ERR_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
ERR_AFFINITY_CONFLICT = "pod affinity terms conflict"
ERR_NODE_PORTS = "node(s) didn't have free ports for the requested pod ports"
ERR_PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
ERR_NO_VICTIMS = "No preemption victims found for incoming pod"


# ---------------------------------------------------------------------------------------------
# resources
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _milli(q: str) -> int:
    return quantity.to_milli(q)


@lru_cache(maxsize=8192)
def _value(q: str) -> int:
    return quantity.to_int(q)


def _q(v: Any) -> str:
    return v if isinstance(v, str) else repr(v)


@dataclass
class Resource:
    """framework.Resource: cpu in millicores, memory/ephemeral-storage in bytes, extended scalars."""

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    allowed_pods: int = 0
    scalars: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_list(cls, rl: dict[str, Any] | None) -> "Resource":
        r = cls()
        r.add_list(rl)
        return r

    def add_list(self, rl: dict[str, Any] | None) -> None:
        for name, v in (rl or {}).items():
            s = _q(v)
            if name == "cpu":
                self.milli_cpu += _milli(s)
            elif name == "memory":
                self.memory += _value(s)
            elif name == "pods":
                self.allowed_pods += _value(s)
            elif name == "ephemeral-storage":
                self.ephemeral_storage += _value(s)
            elif _is_scalar(name):
                self.scalars[name] = self.scalars.get(name, 0) + _value(s)

    def add(self, o: "Resource", sign: int = 1) -> None:
        self.milli_cpu += sign * o.milli_cpu
        self.memory += sign * o.memory
        self.ephemeral_storage += sign * o.ephemeral_storage
        for k, v in o.scalars.items():
            self.scalars[k] = self.scalars.get(k, 0) + sign * v

    def max_with(self, o: "Resource") -> None:
        self.milli_cpu = max(self.milli_cpu, o.milli_cpu)
        self.memory = max(self.memory, o.memory)
        self.ephemeral_storage = max(self.ephemeral_storage, o.ephemeral_storage)
        for k, v in o.scalars.items():
            self.scalars[k] = max(self.scalars.get(k, 0), v)

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or any(self.scalars.values()))


def _is_scalar(name: str) -> bool:
    """IsScalarResourceName: extended or prefixed-native (has a '/'), hugepages-*, attachable-volumes-*."""
    if name.startswith(("hugepages-", "attachable-volumes-")):
        return True
    return "/" in name and not name.startswith("requests.")


def _container_requests(c: Obj, non_missing: bool) -> Resource:
    req = (c.get("resources") or {}).get("requests") or {}
    r = Resource.from_list(req)
    if non_missing:
        if "cpu" not in req:
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST
        if "memory" not in req:
            r.memory = DEFAULT_MEMORY_REQUEST
    return r


def pod_requests(pod: Obj, non_missing: bool = False) -> Resource:
    """resource.PodRequests: sum of containers, max with each init container step, plus overhead.

    Init containers run one at a time, so only the largest counts; restartable (sidecar) init
    containers keep running, so they add to everything after them. Example: init 2 cpu / 3G,
    containers 2+1 cpu / 1G+1G gives 3 cpu, 3G. `non_missing` substitutes 100m / 200MiB for a
    container without a cpu / memory request (the scoring view, so empty pods still spread).
    """
    spec = pod.get("spec") or {}
    reqs = Resource()
    for c in spec.get("containers") or []:
        reqs.add(_container_requests(c, non_missing))
    restartable = Resource()
    init_max = Resource()
    for c in spec.get("initContainers") or []:
        cr = _container_requests(c, non_missing)
        if c.get("restartPolicy") == "Always":
            reqs.add(cr)
            restartable.add(cr)
            step = restartable
        else:
            step = Resource()
            step.add(cr)
            step.add(restartable)
        init_max.max_with(step)
    reqs.max_with(init_max)
    if spec.get("overhead"):
        reqs.add(Resource.from_list(spec["overhead"]))
    return reqs


# ---------------------------------------------------------------------------------------------
# pod and node info
# ---------------------------------------------------------------------------------------------


def pod_key(pod: Obj) -> str:
    m = pod["metadata"]
    return f"{m.get('namespace', '')}/{m['name']}"


def _host_ports(pod: Obj) -> list[tuple[str, str, int]]:
    out = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            hp = p.get("hostPort") or 0
            if hp > 0:
                out.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(hp)))
    return out


def owner_key(pod: Obj) -> str | None:
    """The pods DefaultPodTopologySpread spreads together: those of the same controller."""
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid") or f"{ref.get('kind')}/{ref.get('name')}"
    return None


@dataclass
class PodInfo:
    """What the plugins need from a pod, computed once per pod version."""

    pod: Obj
    key: str
    namespace: str
    requests: Resource
    non_zero: Resource  # the scoring view: default 100m/200MiB for missing requests
    host_ports: list[tuple[str, str, int]]
    owner: str | None
    tolerations: list[Obj]
    priority: int
    terminating: bool

    @classmethod
    def of(cls, pod: Obj) -> "PodInfo":
        spec = pod.get("spec") or {}
        return cls(pod=pod, key=pod_key(pod), namespace=pod["metadata"].get("namespace", ""),
                   requests=pod_requests(pod), non_zero=pod_requests(pod, non_missing=True),
                   host_ports=_host_ports(pod), owner=owner_key(pod),
                   tolerations=spec.get("tolerations") or [], priority=int(spec.get("priority") or 0),
                   terminating=bool(pod["metadata"].get("deletionTimestamp")))


def _ready_status(node: Obj) -> str | None:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status")
    return None


def effective_taints(node: Obj) -> list[Obj]:
    """spec.taints plus the NoSchedule taint the node lifecycle controller derives from Ready."""
    taints = list((node.get("spec") or {}).get("taints") or [])
    ready = _ready_status(node)
    implied = {"False": TAINT_NOT_READY, "Unknown": TAINT_UNREACHABLE}.get(ready or "")
    if implied and not any(t.get("key") == implied and t.get("effect") == "NoSchedule" for t in taints):
        taints.append({"key": implied, "effect": "NoSchedule"})
    return taints


class NodeInfo:
    """framework.NodeInfo: a node plus running sums over the pods assigned (or assumed) to it."""

    def __init__(self, name: str, node: Obj | None = None) -> None:
        self.name = name
        self.node: Obj | None = None
        self.pods: dict[str, PodInfo] = {}
        self.requested = Resource()
        self.non_zero_requested = Resource()
        self.used_ports: dict[tuple[str, int], set[str]] = {}  # (protocol, port) -> host IPs
        self.owner_counts: dict[str, int] = {}
        self.allocatable = Resource()
        self.labels: dict[str, str] = {}
        self.taints: list[Obj] = []
        self.hard_taints: list[Obj] = []  # NoSchedule / NoExecute: what TaintToleration filters on
        self.prefer_taints: list[Obj] = []  # PreferNoSchedule: what TaintToleration scores
        self.unschedulable = False
        if node is not None:
            self.set_node(node)

    def set_node(self, node: Obj) -> None:
        self.node = node
        self.name = node["metadata"]["name"]
        self.allocatable = Resource.from_list((node.get("status") or {}).get("allocatable"))
        self.labels = node["metadata"].get("labels") or {}
        self.taints = effective_taints(node)
        self.hard_taints = [t for t in self.taints if t.get("effect") in ("NoSchedule", "NoExecute")]
        self.prefer_taints = [t for t in self.taints if t.get("effect") == "PreferNoSchedule"]
        self.unschedulable = bool((node.get("spec") or {}).get("unschedulable"))

    def add_pod(self, pi: PodInfo) -> None:
        if pi.key in self.pods:
            self.remove_pod(pi.key)
        self.pods[pi.key] = pi
        self._update(pi, 1)

    def remove_pod(self, key: str) -> PodInfo | None:
        pi = self.pods.pop(key, None)
        if pi is not None:
            self._update(pi, -1)
        return pi

    def _update(self, pi: PodInfo, sign: int) -> None:
        self.requested.add(pi.requests, sign)
        self.non_zero_requested.add(pi.non_zero, sign)
        for ip, proto, port in pi.host_ports:
            ips = self.used_ports.setdefault((proto, port), set())
            if sign > 0:
                ips.add(ip)
            else:
                ips.discard(ip)
                if not ips:
                    del self.used_ports[(proto, port)]
        if pi.owner and not pi.terminating:
            n = self.owner_counts.get(pi.owner, 0) + sign
            if n:
                self.owner_counts[pi.owner] = n
            else:
                self.owner_counts.pop(pi.owner, None)


# ---------------------------------------------------------------------------------------------
# statuses
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    code: int
    reasons: tuple[str, ...]
    plugin: str = ""


def _fail(plugin: str, code: int, *reasons: str) -> Status:
    return Status(code, reasons, plugin)


Filter = Callable[["PodInfo", NodeInfo], "Status | None"]


# ---------------------------------------------------------------------------------------------
# tolerations, taints
# ---------------------------------------------------------------------------------------------


def tolerations_tolerate(tolerations: Iterable[Obj], taint: Obj) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def node_unschedulable(pi: PodInfo, ni: NodeInfo) -> Status | None:
    """NodeUnschedulable: a cordoned node only takes pods tolerating the unschedulable taint."""
    if not ni.unschedulable:
        return None
    if tolerations_tolerate(pi.tolerations, {"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule"}):
        return None
    return _fail("NodeUnschedulable", UNRESOLVABLE, ERR_UNSCHEDULABLE)


def node_name(pi: PodInfo, ni: NodeInfo) -> Status | None:
    want = (pi.pod.get("spec") or {}).get("nodeName")
    if not want or want == ni.name:
        return None
    return _fail("NodeName", UNRESOLVABLE, ERR_NODE_NAME)


def taint_toleration(pi: PodInfo, ni: NodeInfo) -> Status | None:
    """TaintToleration: the first NoSchedule/NoExecute taint the pod does not tolerate."""
    for t in ni.hard_taints:
        if not tolerations_tolerate(pi.tolerations, t):
            return _fail("TaintToleration", UNRESOLVABLE,
                         f"node(s) had untolerated taint {{{t.get('key', '')}: {t.get('value', '')}}}")
    return None


# ---------------------------------------------------------------------------------------------
# node affinity (component-helpers/scheduling/corev1/nodeaffinity)
# ---------------------------------------------------------------------------------------------


def _parse_int64(s: str) -> int | None:
    try:
        v = int(s, 10)
    except (TypeError, ValueError):
        return None
    return v if -(1 << 63) <= v < (1 << 63) and s.strip() == s and "_" not in s else None


def _requirement_ok(expr: Obj) -> bool:
    """labels.NewRequirement's value-count rules; an invalid requirement fails its term."""
    op, values = expr.get("operator"), expr.get("values") or []
    if op in ("In", "NotIn"):
        return len(values) > 0
    if op in ("Exists", "DoesNotExist"):
        return len(values) == 0
    if op in ("Gt", "Lt"):
        return len(values) == 1 and _parse_int64(values[0]) is not None
    return False


def _label_match(expr: Obj, labels: dict[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator"), expr.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if key not in labels:
        return False
    have, want = _parse_int64(labels[key]), _parse_int64(values[0])
    if have is None or want is None:
        return False
    return have > want if op == "Gt" else have < want


def _field_ok(expr: Obj) -> bool:
    """nodeSelectorRequirementsAsFieldSelector: metadata.name with In/NotIn of exactly one value."""
    return (expr.get("key") == "metadata.name" and expr.get("operator") in ("In", "NotIn")
            and len(expr.get("values") or []) == 1)


def term_matches(term: Obj | None, labels: dict[str, str], name: str) -> bool:
    """One NodeSelectorTerm: all expressions and fields hold; an empty or invalid term matches nothing."""
    if not term:
        return False
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False
    for e in exprs:
        if not _requirement_ok(e) or not _label_match(e, labels):
            return False
    for f in fields:
        if not _field_ok(f):
            return False
        eq = f["values"][0] == name
        if eq != (f["operator"] == "In"):
            return False
    return True


def _required_terms(pod: Obj) -> list[Obj] | None:
    req = ((((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if req is None:
        return None
    return req.get("nodeSelectorTerms") or []


def required_affinity_matches(pod: Obj, labels: dict[str, str], name: str) -> bool:
    """RequiredNodeAffinity.Match: spec.nodeSelector (all labels equal) and any required term."""
    sel = (pod.get("spec") or {}).get("nodeSelector") or {}
    for k, v in sel.items():
        if labels.get(k) != v:
            return False
    terms = _required_terms(pod)
    if terms is None:
        return True
    return any(term_matches(t, labels, name) for t in terms)


def node_affinity(pi: PodInfo, ni: NodeInfo) -> Status | None:
    if required_affinity_matches(pi.pod, ni.labels, ni.name):
        return None
    return _fail("NodeAffinity", UNRESOLVABLE, ERR_NODE_AFFINITY)


def node_affinity_prefilter(pod: Obj) -> tuple[set[str] | None, Status | None]:
    """NodeAffinity.PreFilter: required terms that all pin `metadata.name In [...]` narrow the nodes.

    Returns (node names or None for all nodes, rejection status). Terms are ORed, the
    requirements inside a term ANDed, so each term's name sets are intersected and then unioned.
    """
    terms = _required_terms(pod)
    if not terms:
        return None, None
    names: set[str] | None = None
    for t in terms:
        term_names: set[str] | None = None
        for r in t.get("matchFields") or []:
            if r.get("key") == "metadata.name" and r.get("operator") == "In":
                s = set(r.get("values") or [])
                term_names = s if term_names is None else term_names & s
        if term_names is None:
            return None, None
        names = term_names if names is None else names | term_names
    if names is not None and not names:
        return None, _fail("NodeAffinity", UNRESOLVABLE, ERR_AFFINITY_CONFLICT)
    return names, None


# ---------------------------------------------------------------------------------------------
# ports and resources
# ---------------------------------------------------------------------------------------------


def node_ports(pi: PodInfo, ni: NodeInfo) -> Status | None:
    """NodePorts: a wanted (protocol, port) conflicts when either side binds 0.0.0.0 or the IPs match."""
    for ip, proto, port in pi.host_ports:
        used = ni.used_ports.get((proto, port))
        if used and (ip == "0.0.0.0" or "0.0.0.0" in used or ip in used):
            return _fail("NodePorts", UNSCHEDULABLE, ERR_NODE_PORTS)
    return None


def insufficient_resources(req: Resource, ni: NodeInfo) -> list[str]:
    """fitsRequest: pod count, then cpu, memory, ephemeral-storage and scalars vs free allocatable."""
    out = []
    alloc, used = ni.allocatable, ni.requested
    if len(ni.pods) + 1 > alloc.allowed_pods:
        out.append("Too many pods")
    if req.is_zero():
        return out
    if req.milli_cpu > 0 and req.milli_cpu > alloc.milli_cpu - used.milli_cpu:
        out.append("Insufficient cpu")
    if req.memory > 0 and req.memory > alloc.memory - used.memory:
        out.append("Insufficient memory")
    if req.ephemeral_storage > 0 and req.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage:
        out.append("Insufficient ephemeral-storage")
    for name, q in req.scalars.items():
        if q and q > alloc.scalars.get(name, 0) - used.scalars.get(name, 0):
            out.append(f"Insufficient {name}")
    return out


def node_resources_fit(pi: PodInfo, ni: NodeInfo) -> Status | None:
    req, alloc, used = pi.requests, ni.allocatable, ni.requested
    if (len(ni.pods) < alloc.allowed_pods and req.milli_cpu <= alloc.milli_cpu - used.milli_cpu
            and req.memory <= alloc.memory - used.memory and not req.ephemeral_storage and not req.scalars):
        return None  # the common case, decided without building a reason list
    reasons = insufficient_resources(req, ni)
    return _fail("NodeResourcesFit", UNSCHEDULABLE, *reasons) if reasons else None


FILTERS: tuple[Filter, ...] = (node_unschedulable, node_name, taint_toleration, node_affinity, node_ports,
                               node_resources_fit)


def applicable_filters(pi: PodInfo, filters: Iterable[Filter] = FILTERS) -> tuple[Filter, ...]:
    """Drop the filters that cannot reject this pod on any node (PreFilter's Skip): no
    spec.nodeName, no node selector or required affinity, no host ports. Saves a call per node."""
    spec = pi.pod.get("spec") or {}
    skip: set[Filter] = set()
    if not spec.get("nodeName"):
        skip.add(node_name)
    if not spec.get("nodeSelector") and _required_terms(pi.pod) is None:
        skip.add(node_affinity)
    if not pi.host_ports:
        skip.add(node_ports)
    return tuple(f for f in filters if f not in skip)


def run_filters(pi: PodInfo, ni: NodeInfo, filters: Iterable[Filter] = FILTERS) -> Status | None:
    """RunFilterPlugins: the first plugin that rejects decides the node's status."""
    for f in filters:
        st = f(pi, ni)
        if st is not None:
            return st
    return None


# ---------------------------------------------------------------------------------------------
# fit error and preemption message
# ---------------------------------------------------------------------------------------------


def _histogram(statuses: Iterable[tuple[str, ...]], absent: tuple[str, ...] = (), absent_count: int = 0) -> list[str]:
    counts: dict[str, int] = {}
    for reasons in statuses:
        for r in reasons:
            counts[r] = counts.get(r, 0) + 1
    if absent_count > 0:
        for r in absent:
            counts[r] = counts.get(r, 0) + absent_count
    return sorted(f"{v} {k}" for k, v in counts.items())


@dataclass
class FitError:
    """framework.FitError: why each node rejected the pod, rendered as upstream does."""

    num_all_nodes: int
    node_status: dict[str, Status]
    absent_reasons: tuple[str, ...] = ()  # status of nodes a PreFilter excluded
    prefilter_msg: str = ""
    postfilter_msg: str = ""

    def message(self) -> str:
        msg = f"0/{self.num_all_nodes} nodes are available:"
        if self.prefilter_msg:
            msg += f" {self.prefilter_msg}."
        else:
            hist = _histogram((s.reasons for s in self.node_status.values()), self.absent_reasons,
                              self.num_all_nodes - len(self.node_status))
            if hist:
                msg += f" {', '.join(hist)}."
        if self.postfilter_msg:
            msg += f" {self.postfilter_msg}"
        return msg


def preemption_message(pi: PodInfo, fit: FitError, nodes: dict[str, NodeInfo],
                       filters: Iterable[Filter] = FILTERS) -> str:
    """DefaultPreemption.PostFilter's message when no preemption happens (kube-scheduler v1.32).

    Only nodes rejected as plain Unschedulable (resources, ports) are dry-run; the others are
    "Preemption is not helpful for scheduling". A dry-run node without lower-priority pods is
    "No preemption victims found for incoming pod"; with some, the filters run again as if they
    were gone and report what still fails. (Evicting victims is not implemented: a node where
    removing them would make room is reported as having no victims.)
    """
    if (pi.pod.get("spec") or {}).get("preemptionPolicy") == "Never":
        return "preemption: not eligible due to preemptionPolicy=Never."
    if not fit.num_all_nodes:
        return ""
    statuses: dict[str, Status] = {}
    filters = tuple(filters)
    for name, st in fit.node_status.items():
        if st.code != UNSCHEDULABLE or name not in nodes:
            continue
        ni = nodes[name]
        lower = [p for p in ni.pods.values() if p.priority < pi.priority]
        if not lower:
            statuses[name] = _fail("DefaultPreemption", UNRESOLVABLE, ERR_NO_VICTIMS)
            continue
        trial = NodeInfo(ni.name, ni.node)
        for p in ni.pods.values():
            if p.priority >= pi.priority:
                trial.add_pod(p)
        again = run_filters(pi, trial, filters)
        statuses[name] = again if again is not None else _fail("DefaultPreemption", UNRESOLVABLE, ERR_NO_VICTIMS)
    inner = FitError(fit.num_all_nodes, statuses, (ERR_PREEMPTION_NOT_HELPFUL,))
    return "preemption: " + inner.message()


def find_fit(pi: PodInfo, nodes: list[NodeInfo], filters: Iterable[Filter] = FILTERS
             ) -> tuple[list[NodeInfo], FitError]:
    """findNodesThatFitPod: PreFilter (NodeAffinity names), then the filters on every candidate."""
    names, st = node_affinity_prefilter(pi.pod)
    fit = FitError(len(nodes), {})
    if st is not None:
        fit.prefilter_msg = st.reasons[0]
        return [], fit
    candidates = nodes
    if names is not None:
        candidates = [ni for ni in nodes if ni.name in names]
        fit.absent_reasons = ("node(s) didn't satisfy plugin(s) [NodeAffinity]",)
    feasible = []
    filters = applicable_filters(pi, filters)
    statuses = fit.node_status
    for ni in candidates:
        for f in filters:
            st = f(pi, ni)
            if st is not None:
                statuses[ni.name] = st
                break
        else:
            feasible.append(ni)
    return feasible, fit
