"""Server-side Table printing: compared with real kube-apiserver Tables and upstream printer rules."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kubeling.api import printers as P
from kubeling.api.printers import fmt as PF
from kubeling.api.errors import StatusError
from kubeling.api.resources import RESOURCES
from kubeling.api.selectors import selector_to_string

SAMPLES = Path("/work/shared/reference/samples")
NOW = datetime(2026, 11, 26, 2, 28, 36, tzinfo=timezone.utc)  # implied by the pods_table ages


def _load(name: str):
    return json.loads((SAMPLES / name).read_text())


def _lines(name: str) -> list[dict]:
    return [json.loads(line) for line in (SAMPLES / name).read_text().splitlines() if line.strip()]


def ts(delta: timedelta, now: datetime = NOW) -> str:
    return (now - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def _shape(cols: list[dict]) -> list[tuple]:
    return [(c["name"], c["type"], c["format"], c["priority"]) for c in cols]


# ---------------------------------------------------------------- samples from a real apiserver

needs_samples = pytest.mark.skipif(not SAMPLES.exists(), reason="reference samples not present")


@needs_samples
def test_deployment_matches_real_table():
    sample = _load("deploy_table.json")
    dep = _load("deployment_nginx.json")
    got = P.table("apps", "Deployment", [dep], NOW, "349")
    assert got["rows"][0]["cells"] == sample["rows"][0]["cells"]
    assert _shape(got["columnDefinitions"]) == _shape(sample["columnDefinitions"])
    assert got["metadata"] == sample["metadata"]
    assert got["rows"][0]["object"] == sample["rows"][0]["object"]
    assert got.keys() == sample.keys()


@needs_samples
def test_pods_match_real_table():
    sample = _load("pods_table.json")
    pods = {e["object"]["metadata"]["name"]: e["object"] for e in _lines("watch_pods_stream.jsonl")}
    objs = [pods[r["cells"][0]] for r in sample["rows"]]
    got = P.table("", "Pod", objs, NOW, "349")
    assert [r["cells"] for r in got["rows"]] == [r["cells"] for r in sample["rows"]]
    # Restarts is a string column since 1.22 ("5 (5m ago)"); the 1.24 sample agrees on everything else.
    assert _shape(got["columnDefinitions"]) == _shape(sample["columnDefinitions"])


@needs_samples
def test_watch_table_stream_matches_real_events():
    now = NOW + timedelta(seconds=4)  # the watch ran 4 s after the list
    for i, (event, want) in enumerate(zip(_lines("watch_pods_stream.jsonl"), _lines("watch_pods_table_stream.jsonl"))):
        obj = event["object"]
        got = P.table("", "Pod", [obj], now, obj["metadata"]["resourceVersion"], with_columns=(i == 0))
        want = want["object"]
        assert got["rows"] == want["rows"]
        assert got["metadata"] == want["metadata"]
        if i == 0:
            assert _shape(got["columnDefinitions"]) == _shape(want["columnDefinitions"])
        else:
            assert got["columnDefinitions"] is None and want["columnDefinitions"] is None


@needs_samples
def test_replicasets_from_sample():
    items = _load("replicasets.json")["items"]
    got = [P.row_cells("apps", "ReplicaSet", rs, NOW) for rs in items]
    assert got == [
        ["nginx-74cb48c8bd", 2, 2, 0, "61s", "nginx", "nginx:1.24", "app=nginx,pod-template-hash=74cb48c8bd"],
        ["nginx-8646c796dc", 2, 2, 0, "56s", "nginx", "nginx:1.25", "app=nginx,pod-template-hash=8646c796dc"],
    ]


def test_standard_column_descriptions_come_from_the_openapi_docs():
    cols = P.column_definitions("", "ConfigMap")
    assert cols[0]["description"].startswith("Name must be unique within a namespace.")
    assert cols[2]["description"].startswith("CreationTimestamp is a timestamp representing the server time")
    assert cols[1]["description"].startswith("Data contains the configuration data.")
    pod = {c["name"]: c["description"] for c in P.column_definitions("", "Pod")}
    assert pod["Ready"] == "The aggregate readiness state of this pod for accepting traffic."
    assert pod["IP"].startswith("podIP address allocated to the pod.")
    cols[0]["name"] = "mutated"  # a copy: the cached definitions stay intact
    assert P.column_definitions("", "ConfigMap")[0]["name"] == "Name"


# ---------------------------------------------------------------- HumanDuration

@pytest.mark.parametrize("seconds,want", [
    (-3600, "<invalid>"), (-2, "<invalid>"), (-1.5, "0s"), (-1, "0s"), (0, "0s"), (1, "1s"), (74, "74s"),
    (119, "119s"), (120, "2m"), (283, "4m43s"), (300, "5m"), (599, "9m59s"), (600, "10m"), (3120, "52m"),
    (179 * 60 + 59, "179m"), (3 * 3600, "3h"), (3 * 3600 + 300, "3h5m"), (8 * 3600 - 60, "7h59m"),
    (8 * 3600, "8h"), (47 * 3600 + 3599, "47h"), (48 * 3600, "2d"), (5 * 86400 + 3 * 3600, "5d3h"),
    (8 * 86400, "8d"), (729 * 86400, "729d"), (730 * 86400, "2y"), (775 * 86400, "2y45d"),
    (8 * 365 * 86400, "8y"), (10 * 365 * 86400 + 100 * 86400, "10y"),
])
def test_human_duration(seconds, want):
    assert PF.human_duration(seconds) == want
    assert PF.human_duration(timedelta(seconds=seconds)) == want


@pytest.mark.parametrize("seconds,want", [
    (-5, "<invalid>"), (-1, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h"), (23 * 3600, "23h"),
    (86400, "1d"), (364 * 86400, "364d"), (365 * 86400, "1y"), (3 * 365 * 86400, "3y"),
])
def test_short_human_duration(seconds, want):
    assert PF.short_human_duration(seconds) == want


def test_age_edge_cases():
    cm = {"metadata": {"name": "a"}}
    assert P.row_cells("", "ConfigMap", cm, NOW)[2] == "<unknown>"
    cm["metadata"]["creationTimestamp"] = ts(timedelta(seconds=-5))
    assert P.row_cells("", "ConfigMap", cm, NOW)[2] == "<invalid>"
    cm["metadata"]["creationTimestamp"] = ts(timedelta(hours=3, minutes=5, seconds=30))
    assert P.row_cells("", "ConfigMap", cm, NOW)[2] == "3h5m"
    naive = NOW.replace(tzinfo=None)  # naive datetimes are UTC
    assert P.row_cells("", "ConfigMap", cm, naive)[2] == "3h5m"


# ---------------------------------------------------------------- pod STATUS

def _pod(status: dict | None = None, *, init: list[dict] | None = None, containers: int = 1,
         deleted: bool = False, **spec) -> dict:
    md = {"name": "p", "namespace": "default", "creationTimestamp": ts(timedelta(minutes=10))}
    if deleted:
        md["deletionTimestamp"] = ts(timedelta(seconds=1))
    s = {"containers": [{"name": f"c{i}", "image": "busybox"} for i in range(containers)], **spec}
    if init is not None:
        s["initContainers"] = init
    return {"metadata": md, "spec": s, "status": status or {"phase": "Pending"}}


def _cs(name: str, state: dict, ready: bool = False, restarts: int = 0, last: dict | None = None, **kw) -> dict:
    d = {"name": name, "state": state, "ready": ready, "restartCount": restarts, **kw}
    if last is not None:
        d["lastState"] = last
    return d


RUNNING = {"running": {"startedAt": ts(timedelta(minutes=9))}}
INIT1 = [{"name": "init", "image": "busybox"}]
SIDECAR = [{"name": "side", "image": "busybox", "restartPolicy": "Always"}]


def _status(**kw) -> dict:
    return {"phase": "Running", **kw}


POD_CASES = [
    ("pending", _pod(), "0/1", "Pending"),
    ("scheduling gated", _pod({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}), "0/1", "SchedulingGated"),
    ("init running", _pod({"phase": "Pending", "initContainerStatuses": [_cs("init", RUNNING)]}, init=INIT1),
     "0/1", "Init:0/1"),
    ("init waiting PodInitializing", _pod({"phase": "Pending", "initContainerStatuses": [
        _cs("init", {"waiting": {"reason": "PodInitializing"}})]}, init=INIT1), "0/1", "Init:0/1"),
    ("second init of two", _pod({"phase": "Pending", "initContainerStatuses": [
        _cs("a", {"terminated": {"exitCode": 0, "reason": "Completed"}}), _cs("b", RUNNING)]},
        init=[{"name": "a"}, {"name": "b"}]), "0/1", "Init:1/2"),
    ("init image pull", _pod({"phase": "Pending", "initContainerStatuses": [
        _cs("init", {"waiting": {"reason": "ErrImagePull"}})]}, init=INIT1), "0/1", "Init:ErrImagePull"),
    ("init crash", _pod({"phase": "Pending", "initContainerStatuses": [
        _cs("init", {"terminated": {"exitCode": 1, "reason": "Error"}})]}, init=INIT1), "0/1", "Init:Error"),
    ("init exit code", _pod({"phase": "Pending", "initContainerStatuses": [
        _cs("init", {"terminated": {"exitCode": 3}})]}, init=INIT1), "0/1", "Init:ExitCode:3"),
    ("init signal", _pod({"phase": "Pending", "initContainerStatuses": [
        _cs("init", {"terminated": {"exitCode": 137, "signal": 9}})]}, init=INIT1), "0/1", "Init:Signal:9"),
    ("container creating", _pod({"phase": "Pending", "initContainerStatuses": [
        _cs("init", {"terminated": {"exitCode": 0, "reason": "Completed"}})],
        "containerStatuses": [_cs("c0", {"waiting": {"reason": "ContainerCreating"}})]}, init=INIT1),
     "0/1", "ContainerCreating"),
    ("running ready", _pod(_status(containerStatuses=[_cs("c0", RUNNING, ready=True)])), "1/1", "Running"),
    ("running not ready", _pod(_status(containerStatuses=[_cs("c0", RUNNING)])), "0/1", "Running"),
    ("crash loop", _pod(_status(containerStatuses=[_cs("c0", {"waiting": {"reason": "CrashLoopBackOff"}})])),
     "0/1", "CrashLoopBackOff"),
    ("exit code", _pod(_status(containerStatuses=[_cs("c0", {"terminated": {"exitCode": 2}})])),
     "0/1", "ExitCode:2"),
    ("signal", _pod(_status(containerStatuses=[_cs("c0", {"terminated": {"exitCode": 0, "signal": 15}})])),
     "0/1", "Signal:15"),
    ("completed", _pod({"phase": "Succeeded", "containerStatuses": [
        _cs("c0", {"terminated": {"exitCode": 0, "reason": "Completed"}})]}), "0/1", "Completed"),
    ("error", _pod({"phase": "Failed", "containerStatuses": [
        _cs("c0", {"terminated": {"exitCode": 1, "reason": "Error"}})]}), "0/1", "Error"),
    # c1 is printed first (reverse order); c0 Completed next to a running c1 -> Running/NotReady
    ("completed + running + Ready", _pod(_status(conditions=[{"type": "Ready", "status": "True"}], containerStatuses=[
        _cs("c0", {"terminated": {"exitCode": 0, "reason": "Completed"}}), _cs("c1", RUNNING, ready=True)]),
        containers=2), "1/2", "Running"),
    ("completed + running, not Ready", _pod(_status(containerStatuses=[
        _cs("c0", {"terminated": {"exitCode": 0, "reason": "Completed"}}), _cs("c1", RUNNING, ready=True)]),
        containers=2), "1/2", "NotReady"),
    ("evicted", _pod({"phase": "Failed", "reason": "Evicted"}), "0/1", "Evicted"),
    ("terminating", _pod(_status(containerStatuses=[_cs("c0", RUNNING, ready=True)]), deleted=True),
     "1/1", "Terminating"),
    ("deleted but succeeded", _pod({"phase": "Succeeded", "containerStatuses": [
        _cs("c0", {"terminated": {"exitCode": 0, "reason": "Completed"}})]}, deleted=True), "0/1", "Completed"),
    ("node lost", _pod({"phase": "Running", "reason": "NodeLost"}, deleted=True), "0/1", "Unknown"),
    ("node lost not deleted", _pod({"phase": "Running", "reason": "NodeLost"}), "0/1", "NodeLost"),
    ("sidecar started", _pod(_status(
        initContainerStatuses=[_cs("side", RUNNING, ready=True, started=True)],
        containerStatuses=[_cs("c0", RUNNING, ready=True)]), init=SIDECAR), "2/2", "Running"),
    ("sidecar not started", _pod({"phase": "Pending", "initContainerStatuses": [
        _cs("side", RUNNING, started=False)]}, init=SIDECAR), "0/2", "Init:0/1"),
]


@pytest.mark.parametrize("name,pod,ready,status", POD_CASES, ids=[c[0] for c in POD_CASES])
def test_pod_status(name, pod, ready, status):
    cells = P.row_cells("", "Pod", pod, NOW)
    assert (cells[1], cells[2]) == (ready, status)


def test_pod_restarts_show_last_restart_age():
    last = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ts(timedelta(minutes=5))}}
    pod = _pod(_status(containerStatuses=[_cs("c0", {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=5,
                                              last=last)]))
    assert P.row_cells("", "Pod", pod, NOW)[3] == "5 (5m ago)"
    # restarts without a termination time: just the number
    pod = _pod(_status(containerStatuses=[_cs("c0", RUNNING, restarts=2)]))
    assert P.row_cells("", "Pod", pod, NOW)[3] == "2"


def test_pod_restarts_of_finished_init_containers_do_not_count():
    last = {"terminated": {"exitCode": 1, "finishedAt": ts(timedelta(minutes=7))}}
    pod = _pod(_status(initContainerStatuses=[_cs("init", {"terminated": {"exitCode": 0}}, restarts=3, last=last)],
                       containerStatuses=[_cs("c0", RUNNING, ready=True)]), init=INIT1)
    assert P.row_cells("", "Pod", pod, NOW)[1:4] == ["1/1", "Running", "0"]
    # ... but while initialising they do
    pod = _pod({"phase": "Pending", "initContainerStatuses": [
        _cs("init", {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=3, last=last)]}, init=INIT1)
    assert P.row_cells("", "Pod", pod, NOW)[2:4] == ["Init:CrashLoopBackOff", "3 (7m ago)"]


def test_pod_wide_columns():
    pod = _pod(_status(podIPs=[{"ip": "10.244.0.5"}], nominatedNodeName="n2",
                       conditions=[{"type": "gate-a", "status": "True"}, {"type": "gate-b", "status": "False"}]),
               nodeName="n1", readinessGates=[{"conditionType": "gate-a"}, {"conditionType": "gate-b"}])
    assert P.row_cells("", "Pod", pod, NOW)[5:] == ["10.244.0.5", "n1", "n2", "1/2"]
    pod = _pod(_status(podIP="10.0.0.9"))
    assert P.row_cells("", "Pod", pod, NOW)[5:] == ["10.0.0.9", "<none>", "<none>", "<none>"]


def test_pod_row_conditions():
    done = _pod({"phase": "Succeeded"})
    failed = _pod({"phase": "Failed"})
    t = P.table("", "Pod", [done, failed, _pod()], NOW, "1")
    assert t["rows"][0]["conditions"] == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                           "message": "The pod has completed successfully."}]
    assert t["rows"][1]["conditions"][0]["reason"] == "Failed"
    assert "conditions" not in t["rows"][2]
    assert list(t["rows"][0]) == ["cells", "conditions", "object"]


# ---------------------------------------------------------------- other kinds

def _md(name: str = "x", age: timedelta = timedelta(minutes=5), **kw) -> dict:
    return {"name": name, "namespace": "default", "creationTimestamp": ts(age), **kw}


def _svc(spec: dict, status: dict | None = None) -> dict:
    return {"metadata": _md("svc"), "spec": spec, "status": status or {"loadBalancer": {}}}


@pytest.mark.parametrize("svc,cells", [
    (_svc({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
           "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}], "selector": {"app": "web", "a": "b"}}),
     ["svc", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "5m", "a=b,app=web"]),
    (_svc({"type": "NodePort", "clusterIPs": ["10.96.1.1"], "externalIPs": ["1.2.3.4"],
           "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}),
     ["svc", "NodePort", "10.96.1.1", "1.2.3.4", "80:30080/TCP,53/UDP", "5m", "<none>"]),
    (_svc({"type": "LoadBalancer", "clusterIPs": ["10.96.1.2"], "ports": [{"port": 443, "nodePort": 31443,
                                                                           "protocol": "TCP"}]}),
     ["svc", "LoadBalancer", "10.96.1.2", "<pending>", "443:31443/TCP", "5m", "<none>"]),
    (_svc({"type": "LoadBalancer", "clusterIPs": ["10.96.1.2"], "externalIPs": ["9.9.9.9"]},
          {"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example.com"}, {"ip": "1.1.1.1"}]}}),
     ["svc", "LoadBalancer", "10.96.1.2", "1.1.1.1,5.6.7.8,lb.example.com,9.9.9.9", "<none>", "5m", "<none>"]),
    (_svc({"type": "ExternalName", "externalName": "example.com"}),
     ["svc", "ExternalName", "<none>", "example.com", "<none>", "5m", "<none>"]),
    (_svc({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]}),
     ["svc", "ClusterIP", "None", "<none>", "<none>", "5m", "<none>"]),
])
def test_service(svc, cells):
    assert P.row_cells("", "Service", svc, NOW) == cells


def test_node():
    node = {"metadata": _md("n1", timedelta(days=3), labels={
        "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/": "", "kubernetes.io/role": "edge"}),
        "spec": {"unschedulable": True},
        "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                   "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.1"}],
                   "nodeInfo": {"kubeletVersion": "v1.32.4", "osImage": "Debian", "kernelVersion": "6.1",
                                "containerRuntimeVersion": "kubeling://0.1"}}}
    assert P.row_cells("", "Node", node, NOW) == [
        "n1", "Ready,SchedulingDisabled", "control-plane,edge", "3d", "v1.32.4", "10.0.0.1", "<none>", "Debian",
        "6.1", "kubeling://0.1"]
    bare = {"metadata": _md("n2"), "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    assert P.row_cells("", "Node", bare, NOW) == [
        "n2", "NotReady", "<none>", "5m", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"]
    assert P.row_cells("", "Node", {"metadata": _md("n3")}, NOW)[1] == "Unknown"


def test_events_core_and_events_k8s_io():
    core = {"metadata": _md("nginx.17a", timedelta(minutes=3)), "type": "Normal", "reason": "Scheduled",
            "involvedObject": {"kind": "Pod", "name": "nginx", "fieldPath": "spec.containers{nginx}"},
            "source": {"component": "default-scheduler"}, "message": " Successfully assigned \n",
            "firstTimestamp": ts(timedelta(minutes=3)), "lastTimestamp": ts(timedelta(seconds=30)), "count": 4}
    assert P.row_cells("", "Event", core, NOW) == [
        "30s", "Normal", "Scheduled", "pod/nginx", "spec.containers{nginx}", "default-scheduler",
        "Successfully assigned", "3m", 4, "nginx.17a"]
    new = {"metadata": _md("e2"), "type": "Warning", "reason": "BackOff", "regarding": {"kind": "Pod", "name": "p"},
           "note": "Back-off", "eventTime": (NOW - timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
           "reportingController": "kubelet", "reportingInstance": "node-1"}
    assert P.row_cells("events.k8s.io", "Event", new, NOW) == [
        "90s", "Warning", "BackOff", "pod/p", "", "kubelet, node-1", "Back-off", "90s", 1, "e2"]
    series = dict(new, series={"count": 7, "lastObservedTime": ts(timedelta(seconds=5))})
    assert P.row_cells("events.k8s.io", "Event", series, NOW)[0] == "5s"
    assert P.row_cells("events.k8s.io", "Event", series, NOW)[8] == 7
    names = [c["name"] for c in P.column_definitions("", "Event") if c["priority"] == 0]
    assert names == ["Last Seen", "Type", "Reason", "Object", "Message"]


def _job(status: dict, **spec) -> dict:
    return {"metadata": _md("job"), "spec": {"template": {"spec": {"containers": [
        {"name": "pi", "image": "perl"}]}}, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
        **spec}, "status": status}


@pytest.mark.parametrize("job,cells", [
    (_job({"succeeded": 1, "startTime": ts(timedelta(minutes=5)),
           "completionTime": ts(timedelta(minutes=4, seconds=22)),
           "conditions": [{"type": "Complete", "status": "True"}]}, completions=1, parallelism=1),
     ["Complete", "1/1", "38s"]),
    (_job({"active": 2, "startTime": ts(timedelta(minutes=2))}, parallelism=3), ["Running", "0/1 of 3", "2m"]),
    (_job({"conditions": [{"type": "Failed", "status": "True"}]}, completions=5), ["Failed", "0/5", ""]),
    (_job({"conditions": [{"type": "Suspended", "status": "True"}]}), ["Suspended", "0/1", ""]),
    (_job({"conditions": [{"type": "FailureTarget", "status": "True"}]}), ["FailureTarget", "0/1", ""]),
    (_job({"conditions": [{"type": "Complete", "status": "False"}]}), ["Running", "0/1", ""]),
])
def test_job(job, cells):
    got = P.row_cells("batch", "Job", job, NOW)
    assert got[1:4] == cells
    assert got[5:] == ["pi", "perl", "batch.kubernetes.io/controller-uid=u"]


def test_job_terminating():
    job = _job({})
    job["metadata"]["deletionTimestamp"] = ts(timedelta(seconds=1))
    assert P.row_cells("batch", "Job", job, NOW)[1] == "Terminating"


def test_cronjob():
    cj = {"metadata": _md("cj"), "spec": {"schedule": "*/1 * * * *", "suspend": False, "jobTemplate": {"spec": {
        "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}},
        "status": {"active": [{"name": "j1"}], "lastScheduleTime": ts(timedelta(seconds=40))}}
    assert P.row_cells("batch", "CronJob", cj, NOW) == [
        "cj", "*/1 * * * *", "<none>", "False", 1, "40s", "5m", "c", "busybox", "<none>"]
    cj["spec"].update(timeZone="Etc/UTC")
    del cj["spec"]["suspend"]
    cj["status"] = {}
    assert P.row_cells("batch", "CronJob", cj, NOW)[2:6] == ["Etc/UTC", "<unset>", 0, "<none>"]


def _hpa(metrics, current=None, **spec):
    return {"metadata": _md("web"), "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
                                             "minReplicas": 1, "maxReplicas": 10, "metrics": metrics, **spec},
            "status": {"currentReplicas": 3, "currentMetrics": current or []}}


CPU50 = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}


@pytest.mark.parametrize("hpa,targets", [
    (_hpa([CPU50], [{"type": "Resource", "resource": {"name": "cpu", "current": {
        "averageUtilization": 50, "averageValue": "250m"}}}]), "cpu: 50%/50%"),
    (_hpa([CPU50]), "cpu: <unknown>/50%"),
    (_hpa([]), "<none>"),
    (_hpa([{"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue",
                                                                          "averageValue": "100Mi"}}}]),
     "memory: <unknown>/100Mi"),
    (_hpa([{"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"averageValue": "1k"}}},
           {"type": "Object", "object": {"target": {"value": "10"}}},
           {"type": "External", "external": {"target": {"averageValue": "30"}}}],
          [{"type": "Pods", "pods": {"current": {"averageValue": "500"}}}]),
     "500/1k, <unknown>/10 + 1 more..."),
    (_hpa([{"type": "External", "external": {"target": {"averageValue": "30"}}},
           {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "target": {
               "averageUtilization": 60}}}],
          [{"type": "External", "external": {"current": {"averageValue": "12"}}}]),
     "12/30 (avg), cpu: <unknown>/60%"),
])
def test_hpa_targets(hpa, targets):
    assert P.row_cells("autoscaling", "HorizontalPodAutoscaler", hpa, NOW) == [
        "web", "Deployment/web", targets, "1", 10, 3, "5m"]


def test_hpa_autoscaling_v1_objects():
    v1 = {"apiVersion": "autoscaling/v1", "metadata": _md("web"),
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5,
                   "targetCPUUtilizationPercentage": 70},
          "status": {"currentReplicas": 1, "currentCPUUtilizationPercentage": 12}}
    assert P.row_cells("autoscaling", "HorizontalPodAutoscaler", v1, NOW)[2:5] == ["cpu: 12%/70%", "<unset>", 5]
    del v1["spec"]["targetCPUUtilizationPercentage"]
    del v1["status"]["currentCPUUtilizationPercentage"]
    assert P.row_cells("autoscaling", "HorizontalPodAutoscaler", v1, NOW)[2] == "cpu: <unknown>/80%"


def test_small_kinds():
    now = NOW
    age = "5m"
    cases = [
        ("", "ConfigMap", {"metadata": _md("cm"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}},
         ["cm", 3, age]),
        ("", "Secret", {"metadata": _md("s"), "type": "Opaque", "data": {"k": "dg=="}}, ["s", "Opaque", 1, age]),
        ("", "ServiceAccount", {"metadata": _md("default")}, ["default", 0, age]),
        ("", "Namespace", {"metadata": _md("ns"), "status": {"phase": "Active"}}, ["ns", "Active", age]),
        ("", "Endpoints", {"metadata": _md("ep")}, ["ep", "<none>", age]),
        ("", "Endpoints", {"metadata": _md("ep"), "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]},
            {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 8080}]}]},
         ["ep", "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...", age]),
        ("", "Endpoints", {"metadata": _md("ep"), "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [
            {"port": 53}]}, {"addresses": [{"ip": "10.0.0.3"}]}, {"notReadyAddresses": [{"ip": "10.0.0.4"}],
                                                               "ports": [{"port": 1}]}]},
         ["ep", "[fd00::1]:53,10.0.0.3", age]),
        ("discovery.k8s.io", "EndpointSlice", {"metadata": _md("es"), "addressType": "IPv4", "ports": [
            {"name": "http", "port": 80}, {"name": "named"}, {}, {"port": 9}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]}]},
         ["es", "IPv4", "80,named,* + 1 more...", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", age]),
        ("discovery.k8s.io", "EndpointSlice", {"metadata": _md("es"), "addressType": "IPv4"},
         ["es", "IPv4", "<unset>", "<unset>", age]),
        ("policy", "PodDisruptionBudget", {"metadata": _md("pdb"), "spec": {"minAvailable": "50%"},
                                           "status": {"disruptionsAllowed": 1}}, ["pdb", "50%", "N/A", 1, age]),
        ("policy", "PodDisruptionBudget", {"metadata": _md("pdb"), "spec": {"maxUnavailable": 1}},
         ["pdb", "N/A", "1", 0, age]),
        ("coordination.k8s.io", "Lease", {"metadata": _md("l"), "spec": {"holderIdentity": "me"}}, ["l", "me", age]),
        ("coordination.k8s.io", "Lease", {"metadata": _md("l"), "spec": {}}, ["l", "", age]),
        ("apps", "StatefulSet", {"metadata": _md("web"), "spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "a", "image": "x:1"}, {"name": "b", "image": "y:2"}]}}}, "status": {"readyReplicas": 2}},
         ["web", "2/3", age, "a,b", "x:1,y:2"]),
        ("apps", "DaemonSet", {"metadata": _md("ds"), "spec": {"selector": {"matchLabels": {"k": "v"}}, "template": {
            "spec": {"nodeSelector": {"os": "linux"}, "containers": [{"name": "a", "image": "x"}]}}},
            "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1,
                       "updatedNumberScheduled": 2, "numberAvailable": 1}},
         ["ds", 2, 2, 1, 2, 1, "os=linux", age, "a", "x", "k=v"]),
        ("", "ReplicationController", {"metadata": _md("rc"), "spec": {"replicas": 2, "selector": {"app": "a"}},
                                       "status": {"replicas": 2, "readyReplicas": 1}},
         ["rc", 2, 2, 1, age, "", "", "app=a"]),
        ("", "PodTemplate", {"metadata": _md("pt"), "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
            "containers": [{"name": "c", "image": "i"}]}}}, ["pt", "c", "i", "a=b"]),
        ("apps", "ControllerRevision", {"metadata": _md("web-6d", ownerReferences=[
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}]), "revision": 2},
         ["web-6d", "statefulset.apps/web", 2, age]),
        ("apps", "ControllerRevision", {"metadata": _md("r", ownerReferences=[
            {"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": True}]), "revision": 1},
         ["r", "pod/p", 1, age]),
        ("apps", "ControllerRevision", {"metadata": _md("r"), "revision": 1}, ["r", "<none>", 1, age]),
        ("", "ResourceQuota", {"metadata": _md("q"), "status": {
            "hard": {"pods": "10", "limits.memory": "2Gi", "requests.cpu": "1", "limits.cpu": "2"},
            "used": {"pods": "3", "requests.cpu": "500m"}}},
         ["q", "pods: 3/10, requests.cpu: 500m/1", "limits.cpu: 0/2, limits.memory: 0/2Gi", age]),
        ("scheduling.k8s.io", "PriorityClass", {"metadata": _md("high"), "value": 1000000, "globalDefault": False,
                                                "preemptionPolicy": "PreemptLowerPriority"},
         ["high", 1000000, False, age, "PreemptLowerPriority"]),
        ("storage.k8s.io", "StorageClass", {"metadata": _md("local", annotations={
            "storageclass.kubernetes.io/is-default-class": "true"}), "provisioner": "kubeling.io/local",
            "volumeBindingMode": "WaitForFirstConsumer"},
         ["local (default)", "kubeling.io/local", "Delete", "WaitForFirstConsumer", False, age]),
        ("networking.k8s.io", "NetworkPolicy", {"metadata": _md("np"), "spec": {"podSelector": {}}},
         ["np", "<none>", age]),
        ("networking.k8s.io", "NetworkPolicy", {"metadata": _md("np"), "spec": {"podSelector": {"matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["web", "api"]}, {"key": "env", "operator": "DoesNotExist"}],
            "matchLabels": {"app": "x"}}}}, ["np", "app=x,!env,tier in (api,web)", age]),
        ("networking.k8s.io", "Ingress", {"metadata": _md("ing"), "spec": {"ingressClassName": "nginx", "rules": [
            {"host": "a.com"}, {"host": "b.com"}, {}, {"host": "c.com"}, {"host": "d.com"}], "tls": [{}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}},
         ["ing", "nginx", "a.com,b.com,c.com + 2 more...", "1.2.3.4", "80, 443", age]),
        ("networking.k8s.io", "Ingress", {"metadata": _md("ing"), "spec": {"rules": [{}]}},
         ["ing", "<none>", "*", "", "80", age]),
        ("networking.k8s.io", "IngressClass", {"metadata": _md("nginx"), "spec": {
            "controller": "k8s.io/ingress-nginx", "parameters": {"apiGroup": "k8s.example.com", "kind": "Params",
                                                                 "name": "p"}}},
         ["nginx", "k8s.io/ingress-nginx", "Params.k8s.example.com/p", age]),
        ("rbac.authorization.k8s.io", "RoleBinding", {"metadata": _md("rb"), "roleRef": {"kind": "Role", "name": "r"},
                                                      "subjects": [{"kind": "User", "name": "alice"},
                                                                   {"kind": "User", "name": "bob"},
                                                                   {"kind": "ServiceAccount", "name": "sa",
                                                                    "namespace": "ns"}]},
         ["rb", "Role/r", age, "alice, bob", "", "ns/sa"]),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding", {"metadata": _md("crb"), "roleRef": {
            "kind": "ClusterRole", "name": "admin"}, "subjects": [{"kind": "Group", "name": "system:masters"}]},
         ["crb", "ClusterRole/admin", age, "", "system:masters", ""]),
    ]
    for group, kind, obj, cells in cases:
        assert P.row_cells(group, kind, obj, now) == cells, (kind, obj)


def test_persistent_volumes():
    pv = {"metadata": _md("pv1"), "spec": {"capacity": {"storage": "1Gi"}, "accessModes": [
        "ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
        "claimRef": {"namespace": "default", "name": "data"}, "storageClassName": "local",
        "volumeMode": "Filesystem"}, "status": {"phase": "Bound"}}
    assert P.row_cells("", "PersistentVolume", pv, NOW) == [
        "pv1", "1Gi", "RWO,RWX", "Retain", "Bound", "default/data", "local", "<unset>", "", "5m", "Filesystem"]
    pv["metadata"]["deletionTimestamp"] = ts(timedelta(0))
    pv["metadata"]["annotations"] = {"volume.beta.kubernetes.io/storage-class": "old"}
    assert P.row_cells("", "PersistentVolume", pv, NOW)[4:7] == ["Terminating", "default/data", "old"]

    pvc = {"metadata": _md("data"), "spec": {"accessModes": ["ReadWriteOnce"], "resources": {
        "requests": {"storage": "1Gi"}}, "storageClassName": "local"}, "status": {"phase": "Pending"}}
    assert P.row_cells("", "PersistentVolumeClaim", pvc, NOW) == [
        "data", "Pending", "", "", "", "local", "<unset>", "5m", "<unset>"]
    pvc["spec"].update(volumeName="pv1", volumeMode="Block")
    pvc["status"] = {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "2Gi"}}
    assert P.row_cells("", "PersistentVolumeClaim", pvc, NOW) == [
        "data", "Bound", "pv1", "2Gi", "RWO", "local", "<unset>", "5m", "Block"]


def test_selectors():
    assert selector_to_string(None) == "<none>"
    assert selector_to_string({}) == "<none>"
    assert selector_to_string({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}) == "<error>"
    assert selector_to_string({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}) == "<error>"
    assert selector_to_string({"matchExpressions": [
        {"key": "b", "operator": "NotIn", "values": ["z"]}, {"key": "a", "operator": "Exists"}]}) == "a,b notin (z)"
    dep = {"metadata": _md("d"), "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Nope"}]}}}
    assert P.row_cells("apps", "Deployment", dep, NOW)[-1] == "<invalid>"
    dep["spec"] = {}
    assert P.row_cells("apps", "Deployment", dep, NOW) == ["d", "0/1", 0, 0, "5m", "", "", ""]


def test_kinds_without_printer_get_name_and_created_at():
    role = {"metadata": _md("r", timedelta(days=1)), "rules": []}
    for group, kind in (("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "ClusterRole"),
                        ("", "LimitRange"), ("example.com", "Widget")):
        assert not P.has_printer(group, kind)
        cols = P.column_definitions(group, kind)
        assert _shape(cols) == [("Name", "string", "name", 0), ("Created At", "date", "", 0)]
        assert P.row_cells(group, kind, role, NOW) == ["r", ts(timedelta(days=1))]
    assert P.row_cells("", "LimitRange", {"metadata": {"name": "x"}}, NOW) == ["x", "0001-01-01T00:00:00Z"]
    t = P.table("", "LimitRange", [], NOW, "7")
    assert t["rows"] is None  # upstream's generic convertor leaves the slice nil
    assert P.table("", "ConfigMap", [], NOW, "7")["rows"] == []


def test_every_kind_prints_as_many_cells_as_columns():
    for r in RESOURCES:
        cols = P.column_definitions(r.group, r.kind)
        for obj in ({"metadata": {"name": "x"}}, {"metadata": {"name": "x"}, "spec": {}, "status": {}}):
            cells = P.row_cells(r.group, r.kind, obj, NOW)
            assert len(cells) == len(cols), r.kind
        assert all(c["description"] for c in cols), (r.kind, [c["name"] for c in cols if not c["description"]])
    printed = {(r.group, r.kind) for r in RESOURCES if P.has_printer(r.group, r.kind)}
    assert ("", "Pod") in printed and ("apps", "Deployment") in printed and ("", "Binding") not in printed


# ---------------------------------------------------------------- table()

def test_table_include_object_modes():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _md("cm"), "data": {}}
    t = P.table("", "ConfigMap", [cm], NOW, "10")
    assert t["rows"][0]["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                      "metadata": cm["metadata"]}
    assert P.table("", "ConfigMap", [cm], NOW, "10", include_object="Object")["rows"][0]["object"] is cm
    assert P.table("", "ConfigMap", [cm], NOW, "10", include_object="None")["rows"][0] == {
        "cells": ["cm", 0, "5m"], "object": None}
    beta = P.table("", "ConfigMap", [cm], NOW, "10", api_version="meta.k8s.io/v1beta1")
    assert beta["apiVersion"] == beta["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"
    with pytest.raises(StatusError) as e:
        P.table("", "ConfigMap", [cm], NOW, "10", include_object="Everything")
    assert e.value.code == 400


def test_table_list_metadata_and_headers():
    t = P.table("", "ConfigMap", [], NOW, "42", continue_token="abc", remaining=0, with_columns=False)
    assert t == {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                 "metadata": {"resourceVersion": "42", "continue": "abc", "remainingItemCount": 0},
                 "columnDefinitions": None, "rows": []}
    assert list(P.table("", "ConfigMap", [], NOW, "")["metadata"]) == []
