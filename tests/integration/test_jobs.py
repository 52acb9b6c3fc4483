"""Jobs and CronJobs against `kubeling up` with the real kubectl.

No kubelet runs these pods: they name a scheduler nobody serves, and the test reports their end
through `pods/status` (Succeeded or Failed), as a kubelet would.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

from .conftest import Cluster


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _job(name: str, backoff_limit: int = 6, completions: int = 1, parallelism: int = 1,
         ttl: int | None = None) -> str:
    spec: dict[str, Any] = {
        "completions": completions, "parallelism": parallelism, "backoffLimit": backoff_limit,
        "template": {"spec": {"schedulerName": "nobody", "restartPolicy": "Never",
                              "containers": [{"name": "pi", "image": "perl:5.34.0",
                                              "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(20)"]}]}}}
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    return json.dumps({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec})


def _finish(c: Cluster, ns: str, pod: str, phase: str) -> None:
    code = 0 if phase == "Succeeded" else 1
    now = _now()
    status = {"status": {"phase": phase, "conditions": [
        {"type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": now}],
        "containerStatuses": [{"name": "pi", "image": "perl:5.34.0", "imageID": "", "ready": False,
                               "restartCount": 0, "started": False,
                               "state": {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                                        "startedAt": now, "finishedAt": now}}}]}}
    c.kubectl("patch", "pod", pod, "-n", ns, "--subresource=status", "--type=merge", "-p", json.dumps(status))


def _pods(c: Cluster, ns: str, job: str) -> list[dict]:
    return c.json("get", "pods", "-n", ns, "-l", f"job-name={job}")["items"]


def test_job_completes(cluster: Cluster, ns: str) -> None:
    c = cluster
    c.kubectl("apply", "-n", ns, "-f", "-", input=_job("pi"))
    pods = c.wait_for(lambda: _pods(c, ns, "pi") or None, what="job pod")
    assert len(pods) == 1
    pod = pods[0]
    assert pod["metadata"]["name"].startswith("pi-") and len(pod["metadata"]["name"]) == len("pi-") + 5
    assert pod["metadata"]["finalizers"] == ["batch.kubernetes.io/job-tracking"]
    ref = pod["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"], ref["blockOwnerDeletion"]) == ("Job", "pi", True, True)
    job = c.wait_for(lambda: (lambda j: j if j["status"].get("active") == 1 else None)(c.json("get", "job", "pi", "-n", ns)),
                     what="active 1")
    assert job["status"]["startTime"] and job["status"]["ready"] == 0
    out = c.kubectl("get", "jobs", "-n", ns).stdout
    assert "Running" in out and "0/1" in out

    _finish(c, ns, pod["metadata"]["name"], "Succeeded")

    def complete() -> dict | None:
        j = c.json("get", "job", "pi", "-n", ns)
        return j if any(x["type"] == "Complete" and x["status"] == "True" for x in j["status"].get("conditions") or []) else None

    job = c.wait_for(complete, what="job Complete")
    st = job["status"]
    assert st["succeeded"] == 1 and st.get("active", 0) == 0 and st["uncountedTerminatedPods"] == {}
    assert [(x["type"], x["reason"], x["message"]) for x in st["conditions"]] == [
        ("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
        ("Complete", "CompletionsReached", "Reached expected number of succeeded pods")]
    assert st["completionTime"]
    lines = c.kubectl("get", "jobs", "-n", ns).stdout.splitlines()
    assert lines[0].split()[:4] == ["NAME", "STATUS", "COMPLETIONS", "DURATION"]
    assert lines[1].split()[:3] == ["pi", "Complete", "1/1"]
    done = c.json("get", "pod", pod["metadata"]["name"], "-n", ns)
    assert done["metadata"].get("finalizers") in (None, [])
    events = {(e["reason"], e["message"]) for e in c.json("get", "events", "-n", ns)["items"]
              if e["involvedObject"]["kind"] == "Job"}
    assert ("SuccessfulCreate", f"Created pod: {pod['metadata']['name']}") in events
    assert ("Completed", "Job completed") in events


def test_job_parallel_completions(cluster: Cluster, ns: str) -> None:
    c = cluster
    c.kubectl("apply", "-n", ns, "-f", "-", input=_job("par", completions=3, parallelism=2))
    first = c.wait_for(lambda: (lambda ps: ps if len(ps) == 2 else None)(_pods(c, ns, "par")), what="2 pods")
    for p in first:
        _finish(c, ns, p["metadata"]["name"], "Succeeded")
    third = c.wait_for(lambda: [p for p in _pods(c, ns, "par") if p["status"].get("phase") == "Pending"] or None,
                       what="third pod")
    assert len(third) == 1
    _finish(c, ns, third[0]["metadata"]["name"], "Succeeded")
    c.wait_for(lambda: "3/3" in c.kubectl("get", "job", "par", "-n", ns).stdout and
               "Complete" in c.kubectl("get", "job", "par", "-n", ns).stdout, what="3/3 Complete")


def test_job_backoff_limit_exceeded(cluster: Cluster, ns: str) -> None:
    c = cluster
    c.kubectl("apply", "-n", ns, "-f", "-", input=_job("fail", backoff_limit=0))
    pod = c.wait_for(lambda: _pods(c, ns, "fail") or None, what="job pod")[0]
    _finish(c, ns, pod["metadata"]["name"], "Failed")

    def failed() -> dict | None:
        j = c.json("get", "job", "fail", "-n", ns)
        return j if any(x["type"] == "Failed" and x["status"] == "True" for x in j["status"].get("conditions") or []) else None

    job = c.wait_for(failed, what="job Failed")
    st = job["status"]
    assert st["failed"] == 1 and "completionTime" not in st
    assert [(x["type"], x["reason"], x["message"]) for x in st["conditions"]] == [
        ("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
        ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")]
    assert c.kubectl("get", "job", "fail", "-n", ns).stdout.splitlines()[1].split()[:3] == ["fail", "Failed", "0/1"]
    assert len(_pods(c, ns, "fail")) == 1  # no replacement after the limit
    events = {(e["reason"], e["message"]) for e in c.json("get", "events", "-n", ns)["items"]}
    assert ("BackoffLimitExceeded", "Job has reached the specified backoff limit") in events


def test_job_ttl_after_finished(cluster: Cluster, ns: str) -> None:
    c = cluster
    c.kubectl("apply", "-n", ns, "-f", "-", input=_job("short", ttl=0))
    pod = c.wait_for(lambda: _pods(c, ns, "short") or None, what="job pod")[0]
    _finish(c, ns, pod["metadata"]["name"], "Succeeded")
    c.wait_for(lambda: c.kubectl("get", "job", "short", "-n", ns, check=False).returncode != 0,
               what="job deleted by its TTL")


def test_cronjob_due_run_creates_job(cluster: Cluster, ns: str) -> None:
    c = cluster
    # created suspended and Forbid: no run of its own when a minute starts during the test (which
    # made a second job, ACTIVE 2, when the test ran across a minute boundary)
    cj = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "hello"},
          "spec": {"schedule": "*/1 * * * *", "suspend": True, "concurrencyPolicy": "Forbid",
                   "jobTemplate": {"spec": {"template": {"spec": {
                       "schedulerName": "nobody", "restartPolicy": "OnFailure",
                       "containers": [{"name": "hello", "image": "busybox:1.28", "command": ["date"]}]}}}}}}
    c.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(cj))
    # the controller was "down" for three minutes: the latest missed run is started at once
    last = datetime.fromtimestamp(time.time() - 180, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    c.kubectl("patch", "cronjob", "hello", "-n", ns, "--subresource=status", "--type=merge",
              "-p", json.dumps({"status": {"lastScheduleTime": last}}))
    c.kubectl("patch", "cronjob", "hello", "-n", ns, "--type=merge", "-p", '{"spec": {"suspend": false}}')
    jobs = c.wait_for(lambda: c.json("get", "jobs", "-n", ns)["items"] or None, timeout=60, what="a job")
    now_min = int(time.time()) // 60
    name = jobs[0]["metadata"]["name"]
    assert name.startswith("hello-") and now_min - 1 <= int(name.split("-")[1]) <= now_min
    ref = jobs[0]["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"]) == ("CronJob", "hello", True)
    assert "batch.kubernetes.io/cronjob-scheduled-timestamp" in jobs[0]["metadata"]["annotations"]

    def active() -> dict | None:
        s = c.json("get", "cronjob", "hello", "-n", ns)
        return s if s["status"].get("active") else None

    st = c.wait_for(active, what="status.active")["status"]
    assert st["active"][0]["name"] == name and st["lastScheduleTime"] != last
    out = c.kubectl("get", "cronjob", "hello", "-n", ns).stdout.splitlines()[1].split()
    assert out[:9] == ["hello", "*/1", "*", "*", "*", "*", "<none>", "False", "1"]  # NAME SCHEDULE TIMEZONE SUSPEND ACTIVE
    events = {(e["reason"], e["message"]) for e in c.json("get", "events", "-n", ns)["items"]}
    assert ("SuccessfulCreate", f"Created job {name}") in events
