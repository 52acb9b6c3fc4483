"""Pod status computation: upstream getPhase, the kubelet-owned conditions, container statuses."""

from __future__ import annotations

from typing import Any

import pytest

from kubeling.kubelet import status as S
from kubeling.kubelet.runtime.base import CREATED, EXITED, RUNNING, ContainerStatus, SandboxStatus

T0 = 1_700_000_000.0


def pod(containers: list[str], init: list[str] | None = None, policy: str = "Always", **spec: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
        "spec": {"containers": [{"name": n, "image": "nginx:1.14.2"} for n in containers], "restartPolicy": policy,
                 **spec},
        "status": {"phase": "Pending", "qosClass": "BestEffort",
                   "conditions": [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                   "lastTransitionTime": "2023-01-01T00:00:00Z"}]},
    }
    if init:
        p["spec"]["initContainers"] = [{"name": n, "image": "busybox"} for n in init]
    return p


def cs(name: str, state: str, attempt: int = 0, exit_code: int = 0, reason: str = "", cid: str = "") -> ContainerStatus:
    return ContainerStatus(id=cid or f"{name}{attempt}".ljust(8, "0"), pod_uid="u1", name=name, attempt=attempt,
                           state=state, image="docker.io/library/nginx:1.14.2", image_ref="sha256:abc",
                           created_at=T0 + attempt * 10, started_at=T0 + attempt * 10 + 1,
                           finished_at=T0 + attempt * 10 + 5 if state == EXITED else 0.0, exit_code=exit_code,
                           reason=reason)


SANDBOX = SandboxStatus(pod_uid="u1", ready=True, ip="10.244.1.2", ips=["10.244.1.2"])


def inputs(**kw: Any) -> S.StatusInputs:
    return S.StatusInputs(runtime_name="simulated", node_ips=["172.18.0.2"], **kw)


def statuses(p: dict[str, Any], runs: list[ContainerStatus], **kw: Any) -> dict[str, Any]:
    return S.generate_pod_status(p, S.PodRuntimeState(SANDBOX, runs), inputs(**kw))


# ---- phase --------------------------------------------------------------------------------------
@pytest.mark.parametrize("policy,runs,expect", [
    ("Always", [], "Pending"),
    ("Always", [cs("a", RUNNING)], "Running"),
    ("Always", [cs("a", EXITED, exit_code=1)], "Running"),  # restarting
    ("Always", [cs("a", EXITED, exit_code=0)], "Running"),
    ("OnFailure", [cs("a", EXITED, exit_code=0)], "Succeeded"),
    ("OnFailure", [cs("a", EXITED, exit_code=2)], "Running"),
    ("Never", [cs("a", EXITED, exit_code=0)], "Succeeded"),
    ("Never", [cs("a", EXITED, exit_code=2)], "Failed"),
    ("Always", [cs("a", CREATED)], "Pending"),  # waiting {} counts as waiting
])
def test_phase_single_container(policy: str, runs: list[ContainerStatus], expect: str) -> None:
    assert statuses(pod(["a"], policy=policy), runs)["phase"] == expect


def test_phase_two_containers_one_running_one_unknown() -> None:
    assert statuses(pod(["a", "b"]), [cs("a", RUNNING)])["phase"] == "Pending"


def test_phase_init_containers() -> None:
    p = pod(["a"], init=["i1", "i2"], policy="Never")
    assert statuses(p, [cs("i1", RUNNING)])["phase"] == "Pending"
    assert statuses(p, [cs("i1", EXITED), cs("i2", EXITED), cs("a", RUNNING)])["phase"] == "Running"
    assert statuses(p, [cs("i1", EXITED, exit_code=1)])["phase"] == "Failed"
    p = pod(["a"], init=["i1"], policy="Always")
    assert statuses(p, [cs("i1", EXITED, exit_code=1)])["phase"] == "Pending"


def test_phase_terminal_pod_is_decided_by_exit_codes() -> None:
    p = pod(["a"], policy="Always")
    st = S.generate_pod_status(p, S.PodRuntimeState(None, [cs("a", EXITED, exit_code=137)]), inputs(terminal=True))
    assert st["phase"] == "Failed"


def test_terminal_phase_never_goes_back() -> None:
    p = pod(["a"], policy="Never")
    p["status"]["phase"] = "Succeeded"
    assert statuses(p, [])["phase"] == "Succeeded"


# ---- container statuses -------------------------------------------------------------------------
def test_waiting_defaults() -> None:
    st = statuses(pod(["a"]), [])
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    st = statuses(pod(["a"], init=["i"]), [])
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert st["initContainerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}


def test_running_container_status() -> None:
    st = statuses(pod(["a"]), [cs("a", RUNNING, cid="abc123")],
                  image_id=lambda c: "docker.io/library/nginx@sha256:feed")
    c = st["containerStatuses"][0]
    assert c == {"name": "a", "state": {"running": {"startedAt": S.rfc3339(T0 + 1)}}, "lastState": {},
                 "ready": True, "restartCount": 0, "image": "docker.io/library/nginx:1.14.2",
                 "imageID": "docker.io/library/nginx@sha256:feed", "started": True,
                 "containerID": "simulated://abc123"}
    assert st["podIP"] == "10.244.1.2" and st["podIPs"] == [{"ip": "10.244.1.2"}]
    assert st["hostIP"] == "172.18.0.2" and st["hostIPs"] == [{"ip": "172.18.0.2"}]


def test_crash_loop_back_off_moves_terminated_to_last_state() -> None:
    reasons = {"a": S.Reason("CrashLoopBackOff", "back-off 10s restarting failed container=a pod=p_default(u1)")}
    st = statuses(pod(["a"]), [cs("a", EXITED, attempt=1, exit_code=1), cs("a", EXITED, attempt=0, exit_code=1)],
                  reasons=reasons)
    c = st["containerStatuses"][0]
    assert c["state"] == {"waiting": {"reason": "CrashLoopBackOff",
                                      "message": "back-off 10s restarting failed container=a pod=p_default(u1)"}}
    assert c["lastState"]["terminated"]["exitCode"] == 1
    assert c["lastState"]["terminated"]["reason"] == "Error"
    assert c["lastState"]["terminated"]["finishedAt"] == S.rfc3339(T0 + 15)
    assert c["restartCount"] == 1 and c["ready"] is False
    assert st["phase"] == "Running"
    ready = next(x for x in st["conditions"] if x["type"] == "Ready")
    assert ready["status"] == "False" and ready["message"] == "containers with unready status: [a]"


def test_restarted_container_shows_previous_as_last_state() -> None:
    st = statuses(pod(["a"]), [cs("a", RUNNING, attempt=2), cs("a", EXITED, attempt=1, exit_code=137, reason="OOMKilled")])
    c = st["containerStatuses"][0]
    assert "running" in c["state"]
    assert c["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert c["restartCount"] == 2


def test_image_pull_reason_on_a_never_created_container() -> None:
    st = statuses(pod(["a"]), [], reasons={"a": S.Reason("ErrImagePull", "rpc error: code = NotFound desc = x")})
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "ErrImagePull",
                                                               "message": "rpc error: code = NotFound desc = x"}}
    assert st["phase"] == "Pending"


def test_reason_ignored_while_running() -> None:
    st = statuses(pod(["a"]), [cs("a", RUNNING)], reasons={"a": S.Reason("CrashLoopBackOff", "x")})
    assert "running" in st["containerStatuses"][0]["state"]


def test_readiness_hook() -> None:
    st = statuses(pod(["a", "b"]), [cs("a", RUNNING), cs("b", RUNNING)], readiness=lambda n: n != "b")
    assert [c["ready"] for c in st["containerStatuses"]] == [True, False]
    cr = next(x for x in st["conditions"] if x["type"] == "ContainersReady")
    assert cr["reason"] == "ContainersNotReady" and cr["message"] == "containers with unready status: [b]"


def test_init_container_ready_when_succeeded() -> None:
    st = statuses(pod(["a"], init=["i"]), [cs("i", EXITED, exit_code=0)])
    assert st["initContainerStatuses"][0]["ready"] is True
    assert st["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    init = next(x for x in st["conditions"] if x["type"] == "Initialized")
    assert init["status"] == "True"


# ---- conditions ---------------------------------------------------------------------------------
def test_conditions_order_and_messages_while_creating() -> None:
    st = S.generate_pod_status(pod(["a", "b"], init=["i"]), S.PodRuntimeState(None, []), inputs())
    got = [(c["type"], c["status"], c.get("reason"), c.get("message")) for c in st["conditions"]]
    assert got == [
        ("PodReadyToStartContainers", "False", None, None),
        ("Initialized", "False", "ContainersNotInitialized", "containers with incomplete status: [i]"),
        ("Ready", "False", "ContainersNotReady", "containers with unready status: [a b]"),
        ("ContainersReady", "False", "ContainersNotReady", "containers with unready status: [a b]"),
        ("PodScheduled", "True", None, None),
    ]


def test_conditions_for_completed_pod() -> None:
    st = statuses(pod(["a"], policy="Never"), [cs("a", EXITED)])
    by = {c["type"]: c for c in st["conditions"]}
    assert st["phase"] == "Succeeded"
    assert by["Ready"]["reason"] == "PodCompleted" and by["ContainersReady"]["reason"] == "PodCompleted"
    assert by["Initialized"]["status"] == "True"


def test_readiness_gates() -> None:
    p = pod(["a"], readinessGates=[{"conditionType": "example.com/lb"}])
    by = {c["type"]: c for c in statuses(p, [cs("a", RUNNING)])["conditions"]}
    assert by["Ready"]["reason"] == "ReadinessGatesNotReady"
    assert by["Ready"]["message"] == 'corresponding condition of pod readiness gate "example.com/lb" does not exist.'
    p["status"]["conditions"].append({"type": "example.com/lb", "status": "False"})
    by = {c["type"]: c for c in statuses(p, [cs("a", RUNNING)])["conditions"]}
    assert by["Ready"]["message"] == 'the status of pod readiness gate "example.com/lb" is not "True", but False'


# ---- merge --------------------------------------------------------------------------------------
def test_merge_keeps_transition_times_start_time_and_qos() -> None:
    p = pod(["a"])
    p["status"]["conditions"].insert(0, {"type": "example.com/custom", "status": "True"})
    first = S.pod_status_for_api(p, S.PodRuntimeState(SANDBOX, []), inputs(), "2024-01-01T00:00:00Z")
    assert first["startTime"] == "2024-01-01T00:00:00Z" and first["qosClass"] == "BestEffort"
    assert [c["type"] for c in first["conditions"]] == ["example.com/custom", "PodReadyToStartContainers",
                                                        "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    by = {c["type"]: c for c in first["conditions"]}
    assert by["PodScheduled"]["lastTransitionTime"] == "2023-01-01T00:00:00Z"
    assert by["Ready"]["lastTransitionTime"] == "2024-01-01T00:00:00Z"
    p["status"] = first
    second = S.pod_status_for_api(p, S.PodRuntimeState(SANDBOX, [cs("a", RUNNING)]), inputs(), "2024-01-01T00:00:05Z")
    by2 = {c["type"]: c for c in second["conditions"]}
    assert second["startTime"] == "2024-01-01T00:00:00Z"
    assert by2["Ready"]["status"] == "True" and by2["Ready"]["lastTransitionTime"] == "2024-01-01T00:00:05Z"
    assert by2["Initialized"]["lastTransitionTime"] == "2024-01-01T00:00:00Z"
    p["status"] = second
    third = S.pod_status_for_api(p, S.PodRuntimeState(SANDBOX, [cs("a", RUNNING)]), inputs(), "2024-01-01T00:01:00Z")
    assert third == second  # nothing changed → nothing to write


def test_pod_ip_kept_when_sandbox_gone() -> None:
    p = pod(["a"])
    p["status"]["podIP"] = "10.244.1.9"
    p["status"]["podIPs"] = [{"ip": "10.244.1.9"}]
    st = S.generate_pod_status(p, S.PodRuntimeState(None, []), inputs())
    assert st["podIP"] == "10.244.1.9"


def test_host_network_pod_ip_is_node_ip() -> None:
    st = statuses(pod(["a"], hostNetwork=True), [cs("a", RUNNING)])
    assert st["podIP"] == "172.18.0.2"


def test_volume_mounts_status() -> None:
    p = pod(["a"])
    p["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"},
                                                  {"name": "tok", "mountPath": "/var/run/secrets", "readOnly": True}]
    c = statuses(p, [cs("a", RUNNING)])["containerStatuses"][0]
    assert c["volumeMounts"] == [{"name": "data", "mountPath": "/data"},
                                 {"name": "tok", "mountPath": "/var/run/secrets", "readOnly": True,
                                  "recursiveReadOnly": "Disabled"}]
