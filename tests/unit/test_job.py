"""Job and CronJob controllers: backoff, counting, schedule math and a Job's life over the real API."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import pytest

from kubeling.api.resources import lookup
from kubeling.api.timestamps import parse_rfc3339, rfc3339
from kubeling.controllers import cronjob as cj
from kubeling.controllers import job as jc

from .realapi import RealAPI

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def ts(s: str) -> float:
    return datetime.fromisoformat(s).replace(tzinfo=timezone.utc).timestamp()


# ---- cron parsing ----------------------------------------------------------------------------------

@pytest.mark.parametrize("spec,after,want", [
    ("*/1 * * * *", "2024-01-01T10:00:30", "2024-01-01T10:01:00"),
    ("* * * * *", "2024-01-01T10:00:00", "2024-01-01T10:01:00"),
    ("*/15 * * * *", "2024-01-01T10:07:00", "2024-01-01T10:15:00"),
    ("5 4 * * *", "2024-01-01T10:07:00", "2024-01-02T04:05:00"),
    ("0 22 * * 1-5", "2024-01-05T22:00:00", "2024-01-08T22:00:00"),  # Fri 22:00 -> Mon
    ("0 0 1 JAN *", "2024-03-01T00:00:00", "2025-01-01T00:00:00"),
    ("0 9 * * MON,fri", "2024-01-02T00:00:00", "2024-01-05T09:00:00"),
    ("@hourly", "2024-01-01T10:30:00", "2024-01-01T11:00:00"),
    ("@daily", "2024-01-01T10:30:00", "2024-01-02T00:00:00"),
    ("@weekly", "2024-01-01T10:30:00", "2024-01-07T00:00:00"),  # Sunday
    ("@monthly", "2024-01-31T10:30:00", "2024-02-01T00:00:00"),
    ("@yearly", "2024-06-01T00:00:00", "2025-01-01T00:00:00"),
    ("0 0 29 2 *", "2024-03-01T00:00:00", "2028-02-29T00:00:00"),
    ("30 6-16/4 * * 1-5", "2024-01-01T07:00:00", "2024-01-01T10:30:00"),
    ("10/20 * * * *", "2024-01-01T10:31:00", "2024-01-01T10:50:00"),
    ("0 0 13 * 5", "2024-01-01T00:00:00", "2024-01-05T00:00:00"),  # dom OR dow when both restricted
    ("0 0 */1 * 5", "2024-01-01T00:00:00", "2024-01-05T00:00:00"),  # */1 is a star: AND
])
def test_schedule_next(spec: str, after: str, want: str) -> None:
    assert cj.parse_schedule(spec).next(ts(after)) == ts(want)


def test_schedule_time_zone_and_every() -> None:
    s = cj.parse_schedule("0 9 * * *", "Europe/Berlin")
    assert s.next(ts("2024-01-01T00:00:00")) == ts("2024-01-01T08:00:00")  # 09:00 CET
    assert cj.parse_schedule("TZ=America/New_York 0 9 * * *").next(ts("2024-07-01T00:00:00")) == ts("2024-07-01T13:00:00")
    assert cj.parse_schedule("@every 1h30m").next(NOW) == NOW + 5400


@pytest.mark.parametrize("spec,msg", [
    ("* * * *", "expected exactly 5 fields, found 4"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("a * * * *", "failed to parse int from a"),
    ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
])
def test_schedule_errors(spec: str, msg: str) -> None:
    with pytest.raises(cj.ScheduleError, match=msg.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        cj.parse_schedule(spec)
    with pytest.raises(cj.ScheduleError, match="unknown time zone"):
        cj.parse_schedule("* * * * *", "Mars/Olympus")


# ---- cron schedule math ------------------------------------------------------------------------------

def cronjob(schedule: str = "*/1 * * * *", created: str = "2024-01-01T10:00:30", last: str | None = None,
            deadline: int | None = None) -> dict:
    c = {"metadata": {"name": "hello", "namespace": "default", "uid": "cj-uid",
                      "creationTimestamp": rfc3339(ts(created))},
         "spec": {"schedule": schedule, "jobTemplate": {"metadata": {"labels": {"a": "b"}},
                                                        "spec": {"template": {"spec": {"containers": []}}}}},
         "status": {}}
    if last:
        c["status"]["lastScheduleTime"] = rfc3339(ts(last))
    if deadline is not None:
        c["spec"]["startingDeadlineSeconds"] = deadline
    return c


@pytest.mark.parametrize("created,last,now,deadline,want,missed", [
    ("2024-01-01T10:00:30", None, "2024-01-01T10:00:50", None, None, "none"),  # not due yet
    ("2024-01-01T10:00:30", None, "2024-01-01T10:01:00", None, "2024-01-01T10:01:00", "none"),
    ("2024-01-01T10:00:30", None, "2024-01-01T10:01:59", None, "2024-01-01T10:01:00", "none"),
    ("2024-01-01T10:00:30", None, "2024-01-01T10:05:10", None, "2024-01-01T10:05:00", "few"),
    ("2024-01-01T10:00:30", "2024-01-01T10:05:00", "2024-01-01T10:05:10", None, None, "none"),
    ("2024-01-01T00:00:30", None, "2024-01-02T00:00:10", None, "2024-01-02T00:00:00", "many"),
    ("2024-01-01T00:00:30", None, "2024-01-02T00:00:10", 200, "2024-01-02T00:00:00", "few"),
])
def test_most_recent_schedule_time(created: str, last: str | None, now: str, deadline: int | None,
                                   want: str | None, missed: str) -> None:
    c = cronjob(created=created, last=last, deadline=deadline)
    _, recent, m = cj.most_recent_schedule_time(c, ts(now), cj.parse_schedule("*/1 * * * *"), True)
    assert recent == (ts(want) if want else None)
    assert m == missed


def test_next_schedule_delay_and_job_from_template() -> None:
    c = cronjob(created="2024-01-01T10:00:30")
    assert cj.next_schedule_delay(c, ts("2024-01-01T10:00:40"), cj.parse_schedule("*/1 * * * *")) == pytest.approx(20.1)
    job = cj.job_from_template(c, ts("2024-01-01T10:01:00"))
    assert job["metadata"]["name"] == f"hello-{int(ts('2024-01-01T10:01:00')) // 60}"
    assert job["metadata"]["annotations"] == {cj.SCHEDULED_TIMESTAMP_ANNOTATION: "2024-01-01T10:01:00Z"}
    assert job["metadata"]["labels"] == {"a": "b"}
    ref = job["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["apiVersion"], ref["controller"]) == ("CronJob", "batch/v1", True)
    c["spec"]["timeZone"] = "Europe/Berlin"
    assert cj.job_from_template(c, ts("2024-01-01T10:01:00"))["metadata"]["annotations"][
        cj.SCHEDULED_TIMESTAMP_ANNOTATION] == "2024-01-01T11:01:00+01:00"


def test_jobs_to_remove_oldest_first() -> None:
    def j(name: str, start: float | None) -> dict:
        return {"metadata": {"name": name}, "status": {} if start is None else {"startTime": rfc3339(start)}}

    jobs = [j("c", NOW), j("a", NOW - 10), j("b", None), j("d", NOW - 10)]
    assert [x["metadata"]["name"] for x in cj.jobs_to_remove(jobs, 1)] == ["a", "d", "c"]
    assert cj.jobs_to_remove(jobs, 4) == []


# ---- job: backoff ------------------------------------------------------------------------------------

@pytest.mark.parametrize("failures,want", [(0, 0), (1, 10), (2, 20), (3, 40), (6, 320), (7, 600), (20, 600)])
def test_backoff_duration(failures: int, want: float) -> None:
    assert jc.backoff_duration(failures) == want


def finished_pod(name: str, phase: str, finished: float) -> dict:
    return {"metadata": {"name": name, "uid": name, "creationTimestamp": rfc3339(finished - 5)},
            "status": {"phase": phase, "containerStatuses": [
                {"name": "c", "state": {"terminated": {"finishedAt": rfc3339(finished)}}}]}}


def test_backoff_record_and_remaining() -> None:
    r = jc.new_backoff_record(None, [], [finished_pod("a", "Failed", NOW)])
    assert r == jc.BackoffRecord(1, NOW)
    assert jc.remaining_backoff(r, NOW + 4) == 6
    r = jc.new_backoff_record(r, [], [finished_pod("b", "Failed", NOW + 20)])
    assert r == jc.BackoffRecord(2, NOW + 20)
    assert jc.remaining_backoff(r, NOW + 25) == 15  # 20 s backoff
    assert jc.remaining_backoff(r, NOW + 41) == 0
    # a success resets, but failures after it still count
    r = jc.new_backoff_record(r, [finished_pod("s", "Succeeded", NOW + 30)], [finished_pod("c", "Failed", NOW + 29),
                                                                             finished_pod("d", "Failed", NOW + 31)])
    assert r == jc.BackoffRecord(1, NOW + 31)
    r = jc.new_backoff_record(r, [finished_pod("s2", "Succeeded", NOW + 40)], [])
    assert r == jc.BackoffRecord(0, None)


def test_finished_time_fallbacks() -> None:
    p = {"metadata": {"creationTimestamp": rfc3339(NOW)}, "status": {
        "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": rfc3339(NOW + 7)}]}}
    assert jc.finished_time(p) == NOW + 7
    p = {"metadata": {"creationTimestamp": rfc3339(NOW), "deletionTimestamp": rfc3339(NOW + 40),
                      "deletionGracePeriodSeconds": 30}, "status": {}}
    assert jc.finished_time(p) == NOW + 10
    assert jc.finished_time({"metadata": {"creationTimestamp": rfc3339(NOW)}, "status": {}}) == NOW


# ---- job: counting -----------------------------------------------------------------------------------

@pytest.mark.parametrize("completions,parallelism,succeeded,active,want", [
    (1, 1, 0, 0, 1),
    (5, 2, 0, 0, 2),
    (5, 2, 4, 1, 1),
    (5, 2, 5, 0, 0),
    (None, 3, 0, 0, 3),
    (None, 3, 1, 2, 2),  # work queue: after one success start no more
    (3, 0, 0, 0, 0),
])
def test_want_active(completions: int | None, parallelism: int, succeeded: int, active: int, want: int) -> None:
    job = {"spec": {"completions": completions, "parallelism": parallelism}}
    assert jc.want_active(job, succeeded, active) == want


def test_is_pod_failed_and_terminating() -> None:
    job: dict = {"spec": {"podReplacementPolicy": "TerminatingOrFailed"}}
    deleting = {"metadata": {"deletionTimestamp": "x"}, "status": {"phase": "Running"}}
    assert jc.is_pod_failed({"metadata": {}, "status": {"phase": "Failed"}}, job)
    assert jc.is_pod_failed(deleting, job)
    assert not jc.is_pod_failed(deleting, {"spec": {"podReplacementPolicy": "Failed"}})
    assert not jc.is_pod_failed({"metadata": {"deletionTimestamp": "x"}, "status": {"phase": "Succeeded"}}, job)
    assert jc.is_terminating(deleting)


def test_past_backoff_limit_on_failure() -> None:
    job = {"spec": {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "OnFailure"}}}}
    pod = {"status": {"phase": "Running", "containerStatuses": [{"restartCount": 1}]}}
    assert not jc.past_backoff_limit_on_failure(job, [pod])
    assert jc.past_backoff_limit_on_failure(job, [pod, pod])
    job["spec"]["backoffLimit"] = 0
    assert jc.past_backoff_limit_on_failure(job, [pod])


def test_indexes() -> None:
    assert jc.parse_indexes("1,3-5,9", 6) == {1, 3, 4, 5}
    assert jc.format_indexes({0, 1, 2, 4, 6, 7}) == "0-2,4,6-7"
    assert jc.format_indexes(set()) == ""
    active = [{"metadata": {"annotations": {jc.COMPLETION_INDEX_ANNOTATION: "1"}}}]
    assert jc.first_pending_indexes(active, {0, 3}, 2, 5) == [2, 4]


def test_pod_from_job() -> None:
    job = {"metadata": {"name": "pi", "namespace": "default", "uid": "u1"},
           "spec": {"template": {"metadata": {"labels": {"job-name": "pi"}},
                                 "spec": {"containers": [{"name": "c", "image": "perl"}], "restartPolicy": "Never"}}}}
    p = jc.pod_from_job(job)
    assert p["metadata"]["generateName"] == "pi-"
    assert p["metadata"]["finalizers"] == [jc.TRACKING_FINALIZER]
    assert p["metadata"]["ownerReferences"][0]["kind"] == "Job"
    p = jc.pod_from_job(job, 3)
    assert p["metadata"]["generateName"] == "pi-3-"
    assert p["metadata"]["annotations"][jc.COMPLETION_INDEX_ANNOTATION] == "3"
    assert p["spec"]["hostname"] == "pi-3"
    assert p["spec"]["containers"][0]["env"][0]["name"] == "JOB_COMPLETION_INDEX"


def test_ensure_condition() -> None:
    conds: list = []
    assert not jc.ensure_condition(conds, "Suspended", "False", "JobResumed", "Job resumed", NOW)
    assert jc.ensure_condition(conds, "Suspended", "True", "JobSuspended", "Job suspended", NOW)
    assert not jc.ensure_condition(conds, "Suspended", "True", "JobSuspended", "Job suspended", NOW + 5)
    assert jc.ensure_condition(conds, "Suspended", "False", "JobResumed", "Job resumed", NOW + 5)
    assert conds == [jc.new_condition("Suspended", "False", "JobResumed", "Job resumed", NOW + 5)]


def test_ttl_remaining() -> None:
    job = {"metadata": {}, "spec": {"ttlSecondsAfterFinished": 100},
           "status": {"conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": rfc3339(NOW)}]}}
    assert jc.ttl_remaining(job, NOW + 30) == 70
    assert jc.ttl_remaining({**job, "spec": {}}, NOW) is None
    assert jc.ttl_remaining({**job, "status": {}}, NOW) is None


# ---- job: a life over the real API (tests/unit/realapi.py) ---------------------------------------------

JOBS, PODS = lookup("batch", "v1", "jobs"), lookup("", "v1", "pods")


class _Rec:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: dict, typ: str, reason: str, msg: str) -> None:
        self.events.append((typ, reason, msg))


def make_controller(api: RealAPI, t: list[float]) -> jc.JobController:
    c = jc.JobController(api.client, clock=lambda: t[0])
    c.job_informer = api.view(JOBS)  # type: ignore[assignment]
    c.pod_informer = api.view(PODS)  # type: ignore[assignment]
    c.pod_refs.owners = c.job_informer  # type: ignore[assignment]
    c.recorder = _Rec()  # type: ignore[assignment]
    c.queue.add_after = lambda key, delay: None  # type: ignore[method-assign]
    return c


def job_spec(backoff_limit: int = 6, completions: int = 1, **spec: Any) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default"},
            "spec": {"completions": completions, "parallelism": 1, "backoffLimit": backoff_limit,
                     "completionMode": "NonIndexed",
                     "template": {"spec": {"containers": [{"name": "c", "image": "perl"}], "restartPolicy": "Never"}},
                     **spec}}


async def started(**spec: Any) -> RealAPI:
    """The API with the Job `pi` in `default` (its selector and labels as the API generates them)."""
    api = await RealAPI().start()
    await api.create(JOBS, job_spec(**spec))
    return api


def pods(api: RealAPI) -> list[dict]:
    return api.view(PODS).list()


def job_status(api: RealAPI) -> dict:
    return api.view(JOBS).list()[0]["status"]


async def set_phase(api: RealAPI, pod: dict, phase: str, at: float) -> None:
    """What the kubelet reports when the pod's one container ended (pods/status)."""
    p = api.view(PODS).get("default", pod["metadata"]["name"])
    assert p is not None
    p["status"] = {"phase": phase, "containerStatuses": [
        {"name": "c", "image": "perl", "imageID": "", "ready": False, "restartCount": 0,
         "state": {"terminated": {"finishedAt": rfc3339(at), "exitCode": 0 if phase == "Succeeded" else 1}}}]}
    await api.client.update_status(PODS, p)


def test_job_runs_to_complete() -> None:
    async def body() -> None:
        t = [NOW]
        api = await started()
        c = make_controller(api, t)
        await c.sync("default/pi")
        created = pods(api)
        assert len(created) == 1 and created[0]["metadata"]["finalizers"] == [jc.TRACKING_FINALIZER]
        st = job_status(api)
        assert (st["active"], st["ready"], st["startTime"]) == (1, 0, rfc3339(NOW))
        assert ("Normal", "SuccessfulCreate", f"Created pod: {created[0]['metadata']['name']}") in c.recorder.events
        t[0] += 5
        await set_phase(api, created[0], "Succeeded", t[0])
        c.expectations.creation_observed("default/pi")
        await c.sync("default/pi")
        st = job_status(api)
        assert st["succeeded"] == 1 and st["active"] == 0 and st["uncountedTerminatedPods"] == {}
        assert [(x["type"], x["reason"]) for x in st["conditions"]] == [
            ("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "CompletionsReached")]
        assert st["completionTime"] == rfc3339(t[0])
        assert not pods(api)[0]["metadata"].get("finalizers")
        assert ("Normal", "Completed", "Job completed") in c.recorder.events
        api.close()

    asyncio.run(body())


def test_job_fails_after_backoff_limit_with_backoff_between() -> None:
    async def body() -> None:
        t = [NOW]
        api = await started(backoff_limit=1)
        c = make_controller(api, t)
        await c.sync("default/pi")
        first = pods(api)[0]
        c.expectations.creation_observed("default/pi")
        t[0] += 1
        await set_phase(api, first, "Failed", t[0])
        await c.sync("default/pi")
        st = job_status(api)
        assert st["failed"] == 1 and st["active"] == 0
        assert len(pods(api)) == 1  # still backing off (10 s)
        t[0] += 10.5
        await c.sync("default/pi")
        assert len(pods(api)) == 2
        c.expectations.creation_observed("default/pi")
        second = next(p for p in pods(api) if p["metadata"]["name"] != first["metadata"]["name"])
        t[0] += 1
        await set_phase(api, second, "Failed", t[0])
        await c.sync("default/pi")
        st = job_status(api)
        assert st["failed"] == 2
        assert [(x["type"], x["status"], x["reason"], x["message"]) for x in st["conditions"]] == [
            ("FailureTarget", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
            ("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit")]
        assert "completionTime" not in st
        assert ("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit") in c.recorder.events
        api.close()

    asyncio.run(body())


def test_job_active_deadline_and_suspend() -> None:
    async def body() -> None:
        t = [NOW]
        api = await started(activeDeadlineSeconds=30)
        c = make_controller(api, t)
        await c.sync("default/pi")
        c.expectations.creation_observed("default/pi")
        name = pods(api)[0]["metadata"]["name"]
        t[0] += 31
        await c.sync("default/pi")  # deletes the active pod, counts it, releases it: FailureTarget, not yet Failed
        assert [path for _, path, _ in api.writes("DELETE")] == [f"/api/v1/namespaces/default/pods/{name}"]
        assert pods(api) == []  # its tracking finalizer released, the API removed it
        st = job_status(api)
        assert [x["type"] for x in st["conditions"]] == ["FailureTarget"]
        assert st["conditions"][0]["reason"] == "DeadlineExceeded"
        # the pod is gone: the job turns Failed
        c.expectations.deletion_observed("default/pi", f"default/{name}")
        await c.sync("default/pi")
        st = job_status(api)
        assert [x["type"] for x in st["conditions"]] == ["FailureTarget", "Failed"]
        api.close()

        api2 = await started(suspend=True)
        c2 = make_controller(api2, t)
        await c2.sync("default/pi")
        st = job_status(api2)
        assert pods(api2) == [] and "startTime" not in st
        assert [(x["type"], x["status"], x["reason"]) for x in st["conditions"]] == [("Suspended", "True", "JobSuspended")]
        assert ("Normal", "Suspended", "Job suspended") in c2.recorder.events
        api2.close()

    asyncio.run(body())


def test_parse_time_micro() -> None:
    assert parse_rfc3339("2024-01-01T00:00:00.500000Z") == ts("2024-01-01T00:00:00") + 0.5
