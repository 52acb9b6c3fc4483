"""Scheduler plugins, fit-error text and queue: table tests after upstream's plugin tests."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kubeling.scheduler import framework as fw
from kubeling.scheduler import scoring
from kubeling.scheduler.queue import SchedulingQueue
from kubeling.scheduler.scheduler import (Cache, node_scheduling_properties_changed, responsible_for,
                                          scheduled_condition_patch)

Obj = dict[str, Any]


def make_pod(name: str = "p", *, cpu: str | None = None, mem: str | None = None, ns: str = "default",
             owner: str | None = None, **spec: Any) -> Obj:
    res: Obj = {}
    if cpu or mem:
        res = {"requests": {k: v for k, v in (("cpu", cpu), ("memory", mem)) if v}}
    pod: Obj = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}"},
                "spec": {"containers": [{"name": "c", "image": "x", "resources": res}], **spec}}
    if owner:
        pod["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner,
                                               "uid": f"uid-{owner}", "controller": True}]
    return pod


def make_node(name: str, *, cpu: str = "4", mem: str = "8Gi", pods: str = "110", labels: Obj | None = None,
              taints: list[Obj] | None = None, unschedulable: bool = False, ready: str | None = "True") -> Obj:
    node: Obj = {"apiVersion": "v1", "kind": "Node",
                 "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
                 "spec": {},
                 "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": pods, "ephemeral-storage": "10Gi"},
                            "conditions": [] if ready is None else [{"type": "Ready", "status": ready}]}}
    if taints:
        node["spec"]["taints"] = taints
    if unschedulable:
        node["spec"]["unschedulable"] = True
    return node


def ni(node: Obj, *pods: Obj) -> fw.NodeInfo:
    info = fw.NodeInfo(node["metadata"]["name"], node)
    for p in pods:
        info.add_pod(fw.PodInfo.of(p))
    return info


def pi(pod: Obj) -> fw.PodInfo:
    return fw.PodInfo.of(pod)


# ---------------------------------------------------------------------------------------------
# requests
# ---------------------------------------------------------------------------------------------


def test_pod_requests_init_containers_max_and_overhead() -> None:
    # upstream computePodResourceRequest example: init 2/1G then 2/3G; containers 2/1G + 1/1G -> 3 cpu, 3G
    pod = {"spec": {
        "initContainers": [{"resources": {"requests": {"cpu": "2", "memory": "1G"}}},
                           {"resources": {"requests": {"cpu": "2", "memory": "3G"}}}],
        "containers": [{"resources": {"requests": {"cpu": "2", "memory": "1G"}}},
                       {"resources": {"requests": {"cpu": "1", "memory": "1G"}}}]}}
    r = fw.pod_requests(pod)
    assert (r.milli_cpu, r.memory) == (3000, 3_000_000_000)
    pod["spec"]["overhead"] = {"cpu": "250m", "memory": "120Mi"}
    r = fw.pod_requests(pod)
    assert (r.milli_cpu, r.memory) == (3250, 3_000_000_000 + 120 * 1024 * 1024)


def test_pod_requests_sidecar_adds_to_containers() -> None:
    pod = {"spec": {
        "initContainers": [{"restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}}},
                           {"resources": {"requests": {"cpu": "2"}}}],
        "containers": [{"resources": {"requests": {"cpu": "1"}}}]}}
    # containers 1 + sidecar 0.5 = 1.5; init step 2 + sidecar 0.5 = 2.5 -> 2.5
    assert fw.pod_requests(pod).milli_cpu == 2500


def test_pod_requests_non_missing_defaults() -> None:
    pod = make_pod()
    assert fw.pod_requests(pod).is_zero()
    r = fw.pod_requests(pod, non_missing=True)
    assert (r.milli_cpu, r.memory) == (100, 200 * 1024 * 1024)
    r = fw.pod_requests(make_pod(cpu="1"), non_missing=True)
    assert (r.milli_cpu, r.memory) == (1000, 200 * 1024 * 1024)


def test_extended_and_hugepages_resources() -> None:
    pod = {"spec": {"containers": [{"resources": {"requests": {"example.com/gpu": "2", "hugepages-2Mi": "4Mi"}}}]}}
    r = fw.pod_requests(pod)
    assert r.scalars == {"example.com/gpu": 2, "hugepages-2Mi": 4 * 1024 * 1024}


# ---------------------------------------------------------------------------------------------
# filters
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tolerations,unschedulable,ok", [
    ([], False, True),
    ([], True, False),
    ([{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}], True, True),
    ([{"operator": "Exists"}], True, True),
    ([{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoExecute"}], True, False),
])
def test_node_unschedulable(tolerations: list[Obj], unschedulable: bool, ok: bool) -> None:
    st = fw.node_unschedulable(pi(make_pod(tolerations=tolerations)), ni(make_node("n", unschedulable=unschedulable)))
    assert (st is None) == ok
    if st:
        assert st.reasons == ("node(s) were unschedulable",) and st.code == fw.UNRESOLVABLE


@pytest.mark.parametrize("taints,tolerations,reason", [
    ([], [], None),
    ([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}], [], "node(s) had untolerated taint {dedicated: gpu}"),
    ([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
     [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}], None),
    ([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
     [{"key": "dedicated", "operator": "Equal", "value": "cpu"}], "node(s) had untolerated taint {dedicated: gpu}"),
    ([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}], [{"key": "dedicated", "operator": "Exists"}], None),
    ([{"key": "a", "effect": "PreferNoSchedule"}], [], None),  # only NoSchedule/NoExecute filter
    ([{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}], [],
     "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"),
    ([{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}],
     [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
     None),
    ([{"key": "a", "value": "1", "effect": "NoSchedule"}, {"key": "b", "value": "2", "effect": "NoExecute"}],
     [{"key": "a", "operator": "Exists"}], "node(s) had untolerated taint {b: 2}"),
])
def test_taint_toleration(taints: list[Obj], tolerations: list[Obj], reason: str | None) -> None:
    st = fw.taint_toleration(pi(make_pod(tolerations=tolerations)), ni(make_node("n", taints=taints)))
    assert (st.reasons[0] if st else None) == reason


@pytest.mark.parametrize("ready,reason", [
    ("True", None),
    (None, None),  # never reported: the lifecycle controller has not tainted it yet
    ("False", "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"),
    ("Unknown", "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"),
])
def test_ready_condition_implies_taint(ready: str | None, reason: str | None) -> None:
    st = fw.taint_toleration(pi(make_pod()), ni(make_node("n", ready=ready)))
    assert (st.reasons[0] if st else None) == reason


def test_ready_condition_taint_not_duplicated_and_tolerable() -> None:
    node = make_node("n", ready="False", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}])
    assert len(fw.effective_taints(node)) == 1
    tol = [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}]
    assert fw.taint_toleration(pi(make_pod(tolerations=tol)), ni(node)) is None


def _affinity(*terms: Obj) -> Obj:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


@pytest.mark.parametrize("spec,labels,ok", [
    ({}, {}, True),
    ({"nodeSelector": {"disk": "ssd"}}, {"disk": "ssd"}, True),
    ({"nodeSelector": {"disk": "ssd"}}, {"disk": "hdd"}, False),
    ({"nodeSelector": {"disk": "ssd", "zone": "a"}}, {"disk": "ssd"}, False),
    ({"affinity": _affinity({"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd", "nvme"]}]})},
     {"disk": "nvme"}, True),
    ({"affinity": _affinity({"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["hdd"]}]})},
     {}, True),
    ({"affinity": _affinity({"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["hdd"]}]})},
     {"disk": "hdd"}, False),
    ({"affinity": _affinity({"matchExpressions": [{"key": "gpu", "operator": "Exists"}]})}, {"gpu": ""}, True),
    ({"affinity": _affinity({"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]})}, {"gpu": "1"}, False),
    ({"affinity": _affinity({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]})},
     {"cores": "8"}, True),
    ({"affinity": _affinity({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["8"]}]})},
     {"cores": "8"}, False),
    ({"affinity": _affinity({"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["8"]}]})},
     {"cores": "4"}, True),
    ({"affinity": _affinity({"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["8"]}]})},
     {"cores": "four"}, False),
    ({"affinity": _affinity({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["x"]}]})},
     {"cores": "4"}, False),  # invalid requirement: the term matches nothing
    ({"affinity": _affinity({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]}]},
                            {"matchExpressions": [{"key": "b", "operator": "In", "values": ["2"]}]})},
     {"b": "2"}, True),  # terms are ORed
    ({"affinity": _affinity({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]},
                                                  {"key": "b", "operator": "In", "values": ["2"]}]})},
     {"b": "2"}, False),  # expressions are ANDed
    ({"affinity": _affinity({})}, {}, False),  # an empty term matches nothing
    ({"affinity": _affinity({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n"]}]})},
     {}, True),
    ({"affinity": _affinity({"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n"]}]})},
     {}, False),
    ({"nodeSelector": {"disk": "ssd"},
      "affinity": _affinity({"matchExpressions": [{"key": "disk", "operator": "Exists"}]})}, {"disk": "hdd"}, False),
])
def test_node_affinity(spec: Obj, labels: Obj, ok: bool) -> None:
    st = fw.node_affinity(pi(make_pod(**spec)), ni(make_node("n", labels=labels)))
    assert (st is None) == ok
    if st:
        assert st.reasons == ("node(s) didn't match Pod's node affinity/selector",)


def test_node_affinity_prefilter_names() -> None:
    pod = make_pod(affinity=_affinity(
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a", "b"]}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["c"]}]}))
    assert fw.node_affinity_prefilter(pod) == ({"a", "b", "c"}, None)
    pod = make_pod(affinity=_affinity(
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]},
                         {"key": "metadata.name", "operator": "In", "values": ["b"]}]}))
    names, st = fw.node_affinity_prefilter(pod)
    assert names is None and st is not None and st.reasons == ("pod affinity terms conflict",)
    pod = make_pod(affinity=_affinity({"matchExpressions": [{"key": "x", "operator": "Exists"}]}))
    assert fw.node_affinity_prefilter(pod) == (None, None)


def _port_pod(name: str, port: int, ip: str = "", proto: str = "TCP") -> Obj:
    p = make_pod(name)
    cp: Obj = {"containerPort": 80, "hostPort": port, "protocol": proto}
    if ip:
        cp["hostIP"] = ip
    p["spec"]["containers"][0]["ports"] = [cp]
    return p


@pytest.mark.parametrize("existing,wanted,ok", [
    (None, _port_pod("b", 8080), True),
    (_port_pod("a", 8080), _port_pod("b", 8080), False),
    (_port_pod("a", 8080), _port_pod("b", 8081), True),
    (_port_pod("a", 8080, proto="UDP"), _port_pod("b", 8080), True),
    (_port_pod("a", 8080, ip="127.0.0.1"), _port_pod("b", 8080, ip="127.0.0.2"), True),
    (_port_pod("a", 8080, ip="127.0.0.1"), _port_pod("b", 8080, ip="127.0.0.1"), False),
    (_port_pod("a", 8080, ip="127.0.0.1"), _port_pod("b", 8080), False),  # 0.0.0.0 conflicts with any IP
    (_port_pod("a", 8080), _port_pod("b", 8080, ip="10.0.0.1"), False),
])
def test_node_ports(existing: Obj | None, wanted: Obj, ok: bool) -> None:
    info = ni(make_node("n"), *([existing] if existing else []))
    st = fw.node_ports(pi(wanted), info)
    assert (st is None) == ok
    if st:
        assert st.reasons == ("node(s) didn't have free ports for the requested pod ports",)


def test_node_ports_released_on_remove() -> None:
    info = ni(make_node("n"), _port_pod("a", 8080))
    info.remove_pod("default/a")
    assert fw.node_ports(pi(_port_pod("b", 8080)), info) is None


@pytest.mark.parametrize("existing_cpu,existing_mem,cpu,mem,pods,reasons", [
    ("1", "1Gi", "1", "1Gi", "110", []),
    ("3500m", "1Gi", "1", "1Gi", "110", ["Insufficient cpu"]),
    ("1", "7Gi", "1", "2Gi", "110", ["Insufficient memory"]),
    ("4", "8Gi", "1", "1Gi", "110", ["Insufficient cpu", "Insufficient memory"]),
    ("1", "1Gi", "1", "1Gi", "1", ["Too many pods"]),
    ("1", "1Gi", None, None, "1", ["Too many pods"]),
    ("4", "8Gi", None, None, "110", []),  # a best-effort pod needs no room
    ("1", "1Gi", "3", None, "110", []),  # exactly full is fine
])
def test_node_resources_fit(existing_cpu: str, existing_mem: str, cpu: str | None, mem: str | None, pods: str,
                            reasons: list[str]) -> None:
    info = ni(make_node("n", pods=pods), make_pod("e", cpu=existing_cpu, mem=existing_mem))
    st = fw.node_resources_fit(pi(make_pod(cpu=cpu, mem=mem)), info)
    assert list(st.reasons if st else []) == reasons
    if st:
        assert st.code == fw.UNSCHEDULABLE


def test_node_resources_fit_ephemeral_storage_and_extended() -> None:
    pod = make_pod()
    pod["spec"]["containers"][0]["resources"] = {"requests": {"ephemeral-storage": "20Gi", "example.com/gpu": "1"}}
    st = fw.node_resources_fit(pi(pod), ni(make_node("n")))
    assert st is not None and st.reasons == ("Insufficient ephemeral-storage", "Insufficient example.com/gpu")


def test_run_filters_first_failure_wins() -> None:
    node = make_node("n", unschedulable=True, taints=[{"key": "k", "effect": "NoSchedule"}], cpu="1")
    st = fw.run_filters(pi(make_pod(cpu="2")), ni(node))
    assert st is not None and st.plugin == "NodeUnschedulable"


# ---------------------------------------------------------------------------------------------
# scores
# ---------------------------------------------------------------------------------------------


def test_least_allocated_upstream_example() -> None:
    # upstream least_allocated_test "nothing scheduled, resources requested, differently sized nodes":
    # pod 3000m/5000, node1 4000m/10000 -> cpu (4000-3000)*100/4000=25, mem (10000-5000)*100/10000=50 -> 37
    node = make_node("n1", cpu="4", mem="10000")
    pod = make_pod(cpu="3", mem="5000")
    assert scoring.least_allocated(pi(pod), ni(node)) == 37
    node2 = make_node("n2", cpu="6", mem="10000")
    assert scoring.least_allocated(pi(pod), ni(node2)) == 50  # (3000*100/6000=50 + 50)/2


def test_balanced_allocation() -> None:
    # pod 3000m/5000 on 4000m/10000: fractions 0.75 and 0.5 -> std 0.125 -> 87
    assert scoring.balanced_allocation(pi(make_pod(cpu="3", mem="5000")), ni(make_node("n", cpu="4", mem="10000"))) == 87


def test_default_normalize() -> None:
    assert scoring.default_normalize([1, 2, 4]) == [25, 50, 100]
    assert scoring.default_normalize([1, 2, 4], reverse=True) == [75, 50, 0]
    assert scoring.default_normalize([0, 0], reverse=True) == [100, 100]
    assert scoring.default_normalize([0, 0]) == [0, 0]


def test_taint_toleration_score_prefers_fewer_prefer_no_schedule() -> None:
    a = ni(make_node("a", taints=[{"key": "x", "effect": "PreferNoSchedule"}, {"key": "y", "effect": "PreferNoSchedule"}]))
    b = ni(make_node("b", taints=[{"key": "x", "effect": "PreferNoSchedule"}]))
    c = ni(make_node("c"))
    raw = [scoring.taint_toleration_score(pi(make_pod()), n) for n in (a, b, c)]
    assert raw == [2, 1, 0]
    assert scoring.default_normalize(raw, reverse=True) == [0, 50, 100]
    tol = [{"key": "x", "operator": "Exists", "effect": "PreferNoSchedule"}]
    assert scoring.taint_toleration_score(pi(make_pod(tolerations=tol)), a) == 1


def test_node_affinity_preferred_score() -> None:
    terms = [{"weight": 5, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
             {"weight": 2, "preference": {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}}]
    nodes = [ni(make_node("a", labels={"disk": "ssd", "zone": "z"})), ni(make_node("b", labels={"zone": "z"})),
             ni(make_node("c"))]
    assert [scoring.node_affinity_score(terms, n) for n in nodes] == [7, 2, 0]


def test_topology_spread_prefers_nodes_without_siblings() -> None:
    nodes = [ni(make_node("n1"), make_pod("r-1", owner="rs")), ni(make_node("n2")), ni(make_node("n3"))]
    scores = scoring.topology_spread_scores(pi(make_pod("r-2", owner="rs")), nodes, nodes)
    # raw: n1 round(1*ln(5)+2)=4, others 2 -> 100*(4+2-4)/4=50, 100*(4+2-2)/4=100
    assert scores == [50, 100, 100]
    assert scoring.topology_spread_scores(pi(make_pod("lonely")), nodes, nodes) is None
    # terminating siblings do not count
    dying = make_pod("r-0", owner="rs")
    dying["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    nodes[1].add_pod(pi(dying))
    assert scoring.topology_spread_scores(pi(make_pod("r-2", owner="rs")), nodes, nodes) == [50, 100, 100]


def test_three_replicas_spread_over_three_nodes() -> None:
    """Whatever the seed, three equal replicas land one per node."""
    for seed in range(20):
        rng = random.Random(seed)
        nodes = [ni(make_node(f"n{i}")) for i in range(3)]
        placed = []
        for r in range(3):
            p = pi(make_pod(f"web-{r}", owner="rs", cpu="100m", mem="64Mi"))
            feasible, _ = fw.find_fit(p, nodes)
            chosen = scoring.select_host(feasible, scoring.score_nodes(p, feasible, nodes), rng)
            chosen.add_pod(p)
            placed.append(chosen.name)
        assert sorted(placed) == ["n0", "n1", "n2"], (seed, placed)


def test_least_allocated_prefers_emptier_node() -> None:
    nodes = [ni(make_node("busy"), make_pod("x", cpu="3", mem="6Gi")), ni(make_node("idle"))]
    p = pi(make_pod("new", cpu="500m", mem="512Mi"))
    feasible, _ = fw.find_fit(p, nodes)
    scores = scoring.score_nodes(p, feasible, nodes)
    assert scoring.select_host(feasible, scores, random.Random(0)).name == "idle"


def test_select_host_ties_are_seedable_and_uniform() -> None:
    nodes = [ni(make_node(f"n{i}")) for i in range(4)]
    picks = [scoring.select_host(nodes, [5, 5, 5, 5], random.Random(s)).name for s in range(200)]
    assert set(picks) == {"n0", "n1", "n2", "n3"}
    assert picks == [scoring.select_host(nodes, [5, 5, 5, 5], random.Random(s)).name for s in range(200)]
    assert scoring.select_host(nodes, [1, 9, 3, 9], random.Random(1)).name in ("n1", "n3")


# ---------------------------------------------------------------------------------------------
# fit error text
# ---------------------------------------------------------------------------------------------


def test_fit_error_message_upstream_form() -> None:
    nodes = [ni(make_node("n1", taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])),
             ni(make_node("n2", cpu="1")), ni(make_node("n3", cpu="1"))]
    p = pi(make_pod("redis", cpu="2"))
    feasible, fit = fw.find_fit(p, nodes)
    assert feasible == []
    fit.postfilter_msg = fw.preemption_message(p, fit, {n.name: n for n in nodes})
    assert fit.message() == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, "
        "2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod.")


def test_fit_error_counts_every_reason_of_a_node() -> None:
    nodes = [ni(make_node("n1", cpu="1", mem="1Gi"))]
    p = pi(make_pod(cpu="2", mem="2Gi"))
    _, fit = fw.find_fit(p, nodes)
    fit.postfilter_msg = fw.preemption_message(p, fit, {n.name: n for n in nodes})
    assert fit.message() == ("0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. "
                             "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")


def test_fit_error_all_unresolvable() -> None:
    nodes = [ni(make_node("n1", unschedulable=True)), ni(make_node("n2", labels={"disk": "hdd"}))]
    p = pi(make_pod(nodeSelector={"disk": "ssd"}))
    _, fit = fw.find_fit(p, nodes)
    fit.postfilter_msg = fw.preemption_message(p, fit, {n.name: n for n in nodes})
    assert fit.message() == ("0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
                             "1 node(s) were unschedulable. preemption: 0/2 nodes are available: "
                             "2 Preemption is not helpful for scheduling.")


def test_fit_error_prefilter_narrowed_nodes() -> None:
    nodes = [ni(make_node("a", cpu="1")), ni(make_node("b")), ni(make_node("c"))]
    p = pi(make_pod(cpu="2", affinity=_affinity(
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]})))
    feasible, fit = fw.find_fit(p, nodes)
    assert feasible == []
    assert fit.message() == ("0/3 nodes are available: 1 Insufficient cpu, "
                             "2 node(s) didn't satisfy plugin(s) [NodeAffinity].")


def test_fit_error_prefilter_rejection() -> None:
    p = pi(make_pod(affinity=_affinity({"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": ["a"]},
        {"key": "metadata.name", "operator": "In", "values": ["b"]}]})))
    _, fit = fw.find_fit(p, [ni(make_node("a")), ni(make_node("b"))])
    assert fit.message() == "0/2 nodes are available: pod affinity terms conflict."


def test_preemption_policy_never_and_lower_priority_victims() -> None:
    nodes = [ni(make_node("n1", cpu="1"), make_pod("low", cpu="500m"))]
    p = pi(make_pod(cpu="2", preemptionPolicy="Never"))
    _, fit = fw.find_fit(p, nodes)
    assert fw.preemption_message(p, fit, {"n1": nodes[0]}) == "preemption: not eligible due to preemptionPolicy=Never."
    p = pi(make_pod(cpu="2", priority=100))
    _, fit = fw.find_fit(p, nodes)
    # even without the low-priority pod, 2 cpu do not fit in 1
    assert fw.preemption_message(p, fit, {"n1": nodes[0]}) == (
        "preemption: 0/1 nodes are available: 1 Insufficient cpu.")


# ---------------------------------------------------------------------------------------------
# queue
# ---------------------------------------------------------------------------------------------


def test_queue_priority_then_fifo() -> None:
    q = SchedulingQueue()
    q.add("a", make_pod("a"), 1.0)
    q.add("b", make_pod("b", priority=10), 2.0)
    q.add("c", make_pod("c"), 0.5)
    assert [q.pop(3.0).key for _ in range(3)] == ["b", "c", "a"]
    assert q.pop(3.0) is None


def test_queue_unschedulable_waits_for_event_then_backoff() -> None:
    q = SchedulingQueue(backoff_initial=1.0, backoff_max=10.0)
    q.add("a", make_pod("a"), 0.0)
    qp = q.pop(0.0)
    q.unschedulable(qp, 0.0)
    assert q.pop(100.0) is None  # parked: time alone does not bring it back (before the timeout)
    q.move_all(100.5)  # backoff (1 s) long over -> active
    assert q.pop(100.5).key == "a"
    q.unschedulable(qp, 101.0)
    q.move_all(101.5)  # second attempt: 2 s backoff, not over -> backoffQ
    assert q.counts()["backoff"] == 1 and q.pop(102.0) is None
    assert q.next_backoff_expiry() == 103.0
    assert q.pop(103.0).key == "a"


def test_queue_event_during_cycle_sends_to_backoff() -> None:
    q = SchedulingQueue()
    q.add("a", make_pod("a"), 0.0)
    qp = q.pop(0.0)
    q.move_all(0.1)  # a node was added while "a" was being scheduled
    q.unschedulable(qp, 0.2)
    assert q.counts() == {"active": 0, "backoff": 1, "unschedulable": 0}


def test_queue_flush_leftover_and_delete() -> None:
    q = SchedulingQueue(unschedulable_timeout=300.0)
    q.add("a", make_pod("a"), 0.0)
    q.unschedulable(q.pop(0.0), 0.0)
    assert q.flush_leftover(299.0) == 0
    assert q.flush_leftover(300.0) == 1
    assert q.pop(300.0).key == "a"
    q.add("b", make_pod("b"), 0.0)
    q.delete("b")
    assert q.pop(1.0) is None


def test_queue_backoff_doubles_to_max() -> None:
    q = SchedulingQueue(backoff_initial=1.0, backoff_max=10.0)
    q.add("a", make_pod("a"), 0.0)
    qp = q.pods["a"]
    got = []
    for n in range(1, 7):
        qp.attempts = n
        got.append(q.backoff_duration(qp))
    assert got == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


# ---------------------------------------------------------------------------------------------
# scheduler helpers and cache
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("change,expect", [
    (lambda n: n["status"]["conditions"][0].update(lastHeartbeatTime="later"), False),
    (lambda n: n["spec"].update(unschedulable=True), True),
    (lambda n: n["metadata"]["labels"].update(disk="ssd"), True),
    (lambda n: n["status"]["allocatable"].update(cpu="8"), True),
    (lambda n: n["spec"].update(taints=[{"key": "k", "effect": "NoSchedule"}]), True),
    (lambda n: n["status"]["conditions"][0].update(status="False"), True),
])
def test_node_update_relevance(change: Any, expect: bool) -> None:
    import copy

    old = make_node("n")
    old["status"]["conditions"][0]["lastHeartbeatTime"] = "now"
    new = copy.deepcopy(old)
    change(new)
    assert node_scheduling_properties_changed(old, new) is expect


def test_responsible_for() -> None:
    assert responsible_for(make_pod(schedulerName="default-scheduler"))
    assert responsible_for(make_pod())
    assert not responsible_for(make_pod(schedulerName="other"))
    assert not responsible_for(make_pod(nodeName="n"))
    assert not responsible_for(make_pod(schedulingGates=[{"name": "g"}]))
    p = make_pod()
    p["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert not responsible_for(p)


def test_scheduled_condition_patch_only_on_change() -> None:
    pod = make_pod()
    patch = scheduled_condition_patch(pod, "0/1 nodes are available: 1 Insufficient cpu.")
    cond = patch["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("PodScheduled", "False", "Unschedulable")
    pod["status"] = {"conditions": [dict(cond)]}
    assert scheduled_condition_patch(pod, cond["message"]) is None
    again = scheduled_condition_patch(pod, "other")
    assert again["status"]["conditions"][0]["lastTransitionTime"] == cond["lastTransitionTime"]


def test_cache_assume_counts_immediately_and_moves() -> None:
    c = Cache()
    c.set_node(make_node("a", cpu="1"))
    c.set_node(make_node("b", cpu="1"))
    p = pi(make_pod("x", cpu="800m"))
    c.assume(p, "a")
    assert c.nodes["a"].requested.milli_cpu == 800
    feasible, _ = fw.find_fit(pi(make_pod("y", cpu="800m")), c.ready_nodes())
    assert [n.name for n in feasible] == ["b"]
    c.add_pod(p, "b")  # the informer says it is elsewhere after all
    assert c.nodes["a"].requested.milli_cpu == 0 and c.nodes["b"].requested.milli_cpu == 800
    c.remove_node("b")
    assert "b" in c.nodes and c.nodes["b"].node is None and [n.name for n in c.ready_nodes()] == ["a"]
    c.remove_pod("default/x")
    assert "b" not in c.nodes
