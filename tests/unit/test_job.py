"""Job and CronJob controllers: backoff, counting, schedule math and a Job's life over a fake API."""

from __future__ import annotations

import asyncio
import copy
import itertools
from datetime import datetime, timezone
from typing import Any

import pytest

from kubeling.api import errors
from kubeling.api.timestamps import parse_rfc3339, rfc3339
from kubeling.controllers import cronjob as cj
from kubeling.controllers import job as jc

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


# ---- job: a life over a fake API ----------------------------------------------------------------------

class FakeAPI:
    def __init__(self) -> None:
        self.objs: dict[tuple[str, str | None, str], dict] = {}
        self.rv = itertools.count(1)
        self.names = itertools.count(1)

    def put(self, plural: str, obj: dict) -> dict:
        obj = copy.deepcopy(obj)
        m = obj["metadata"]
        m.setdefault("uid", f"uid-{m['name']}")
        m.setdefault("creationTimestamp", rfc3339(NOW))
        m["resourceVersion"] = str(next(self.rv))
        self.objs[(plural, m.get("namespace"), m["name"])] = obj
        return copy.deepcopy(obj)

    async def get(self, res: Any, ns: str | None, name: str, sub: str | None = None) -> dict:
        try:
            return copy.deepcopy(self.objs[(res.plural, ns, name)])
        except KeyError:
            raise errors.StatusError(404, "NotFound", "not found") from None

    async def create(self, res: Any, ns: str | None, obj: dict, **_: Any) -> dict:
        obj = copy.deepcopy(obj)
        obj["metadata"]["namespace"] = ns
        obj["metadata"].setdefault("name", obj["metadata"].get("generateName", "") + f"x{next(self.names):04d}")
        return self.put(res.plural, obj)

    async def update_status(self, res: Any, obj: dict, field_manager: str = "") -> dict:
        cur = await self.get(res, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        cur["status"] = copy.deepcopy(obj.get("status") or {})
        return self.put(res.plural, cur)

    async def patch(self, res: Any, ns: str | None, name: str, patch: dict, **_: Any) -> dict:
        cur = await self.get(res, ns, name)
        rm = patch["metadata"].get("$deleteFromPrimitiveList/finalizers")
        if rm:
            cur["metadata"]["finalizers"] = [f for f in cur["metadata"].get("finalizers") or [] if f not in rm]
        return self.put(res.plural, cur)

    async def delete(self, res: Any, ns: str | None, name: str, **_: Any) -> Any:
        cur = await self.get(res, ns, name)
        if cur["metadata"].get("finalizers"):
            cur["metadata"]["deletionTimestamp"] = rfc3339(NOW)
            self.put(res.plural, cur)
        else:
            del self.objs[(res.plural, ns, name)]

    def of(self, plural: str) -> list[dict]:
        return [copy.deepcopy(o) for (p, _, _), o in self.objs.items() if p == plural]


class _Inf:
    def __init__(self, api: FakeAPI, plural: str) -> None:
        self.api, self.plural = api, plural

    def list(self, namespace: str | None = None) -> list[dict]:
        return self.api.of(self.plural)

    def get(self, ns: str | None, name: str) -> dict | None:
        o = self.api.objs.get((self.plural, ns, name))
        return copy.deepcopy(o) if o else None


class _Rec:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: dict, typ: str, reason: str, msg: str) -> None:
        self.events.append((typ, reason, msg))


def make_controller(api: FakeAPI, t: list[float]) -> jc.JobController:
    c = jc.JobController(api, clock=lambda: t[0])  # type: ignore[arg-type]
    c.job_informer = _Inf(api, "jobs")  # type: ignore[assignment]
    c.pod_informer = _Inf(api, "pods")  # type: ignore[assignment]
    c.pod_refs.owners = c.job_informer  # type: ignore[assignment]
    c.recorder = _Rec()  # type: ignore[assignment]
    c.queue.add_after = lambda key, delay: None  # type: ignore[method-assign]
    return c


def new_job(api: FakeAPI, backoff_limit: int = 6, completions: int = 1) -> dict:
    return api.put("jobs", {"apiVersion": "batch/v1", "kind": "Job",
                            "metadata": {"name": "pi", "namespace": "default", "uid": "job-uid", "generation": 1},
                            "spec": {"completions": completions, "parallelism": 1, "backoffLimit": backoff_limit,
                                     "completionMode": "NonIndexed",
                                     "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "job-uid"}},
                                     "template": {"metadata": {"labels": {"batch.kubernetes.io/controller-uid": "job-uid"}},
                                                  "spec": {"containers": [{"name": "c", "image": "perl"}],
                                                           "restartPolicy": "Never"}}},
                            "status": {}})


def set_phase(api: FakeAPI, pod: dict, phase: str, at: float) -> None:
    p = api.objs[("pods", "default", pod["metadata"]["name"])]
    p["status"] = {"phase": phase, "containerStatuses": [
        {"name": "c", "state": {"terminated": {"finishedAt": rfc3339(at), "exitCode": 0 if phase == "Succeeded" else 1}}}]}
    p["metadata"]["resourceVersion"] = str(next(api.rv))


def test_job_runs_to_complete() -> None:
    async def body() -> None:
        t = [NOW]
        api = FakeAPI()
        new_job(api)
        c = make_controller(api, t)
        await c.sync("default/pi")
        pods = api.of("pods")
        assert len(pods) == 1 and pods[0]["metadata"]["finalizers"] == [jc.TRACKING_FINALIZER]
        st = api.of("jobs")[0]["status"]
        assert (st["active"], st["ready"], st["startTime"]) == (1, 0, rfc3339(NOW))
        assert ("Normal", "SuccessfulCreate", f"Created pod: {pods[0]['metadata']['name']}") in c.recorder.events
        t[0] += 5
        set_phase(api, pods[0], "Succeeded", t[0])
        c.expectations.creation_observed("default/pi")
        await c.sync("default/pi")
        job = api.of("jobs")[0]
        st = job["status"]
        assert st["succeeded"] == 1 and st["active"] == 0 and st["uncountedTerminatedPods"] == {}
        assert [(x["type"], x["reason"]) for x in st["conditions"]] == [
            ("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "CompletionsReached")]
        assert st["completionTime"] == rfc3339(t[0])
        assert api.of("pods")[0]["metadata"]["finalizers"] == []
        assert ("Normal", "Completed", "Job completed") in c.recorder.events

    asyncio.run(body())


def test_job_fails_after_backoff_limit_with_backoff_between() -> None:
    async def body() -> None:
        t = [NOW]
        api = FakeAPI()
        new_job(api, backoff_limit=1)
        c = make_controller(api, t)
        await c.sync("default/pi")
        first = api.of("pods")[0]
        c.expectations.creation_observed("default/pi")
        t[0] += 1
        set_phase(api, first, "Failed", t[0])
        await c.sync("default/pi")
        st = api.of("jobs")[0]["status"]
        assert st["failed"] == 1 and st["active"] == 0
        assert len(api.of("pods")) == 1  # still backing off (10 s)
        t[0] += 10.5
        await c.sync("default/pi")
        pods = api.of("pods")
        assert len(pods) == 2
        c.expectations.creation_observed("default/pi")
        second = next(p for p in pods if p["metadata"]["name"] != first["metadata"]["name"])
        t[0] += 1
        set_phase(api, second, "Failed", t[0])
        await c.sync("default/pi")
        st = api.of("jobs")[0]["status"]
        assert st["failed"] == 2
        assert [(x["type"], x["status"], x["reason"], x["message"]) for x in st["conditions"]] == [
            ("FailureTarget", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
            ("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit")]
        assert "completionTime" not in st
        assert ("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit") in c.recorder.events

    asyncio.run(body())


def test_job_active_deadline_and_suspend() -> None:
    async def body() -> None:
        t = [NOW]
        api = FakeAPI()
        j = new_job(api)
        j["spec"]["activeDeadlineSeconds"] = 30
        api.put("jobs", j)
        c = make_controller(api, t)
        await c.sync("default/pi")
        c.expectations.creation_observed("default/pi")
        t[0] += 31
        await c.sync("default/pi")  # deletes the active pod (finalizer kept): FailureTarget, not yet Failed
        pod = api.of("pods")[0]
        assert pod["metadata"].get("deletionTimestamp")
        st = api.of("jobs")[0]["status"]
        assert [x["type"] for x in st["conditions"]] == ["FailureTarget"]
        assert st["conditions"][0]["reason"] == "DeadlineExceeded"
        # the pod is gone: the job turns Failed
        c.expectations.deletion_observed("default/pi", "default/" + pod["metadata"]["name"])
        del api.objs[("pods", "default", pod["metadata"]["name"])]
        await c.sync("default/pi")
        st = api.of("jobs")[0]["status"]
        assert [x["type"] for x in st["conditions"]] == ["FailureTarget", "Failed"]

        api2 = FakeAPI()
        j = new_job(api2)
        j["spec"]["suspend"] = True
        api2.put("jobs", j)
        c2 = make_controller(api2, t)
        await c2.sync("default/pi")
        st = api2.of("jobs")[0]["status"]
        assert api2.of("pods") == [] and "startTime" not in st
        assert [(x["type"], x["status"], x["reason"]) for x in st["conditions"]] == [("Suspended", "True", "JobSuspended")]
        assert ("Normal", "Suspended", "Job suspended") in c2.recorder.events

    asyncio.run(body())


def test_parse_time_micro() -> None:
    assert parse_rfc3339("2024-01-01T00:00:00.500000Z") == ts("2024-01-01T00:00:00") + 0.5
