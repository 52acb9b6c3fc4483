"""CronJob controller (upstream pkg/controller/cronjob/cronjob_controllerv2.go and utils.go) and the
cron schedule parser it relies on (a port of github.com/robfig/cron/v3's ParseStandard).

Each CronJob is requeued for its next scheduled time (+100 ms). When a time is due it creates the
Job `<cronjob>-<scheduled time in minutes since the epoch>` (the name is the lock against creating
the same run twice), honoring `concurrencyPolicy` (Allow, Forbid: skip while one is active,
Replace: delete the active ones first), `startingDeadlineSeconds` (too late: MissSchedule),
`suspend` and `timeZone`; it tracks `status.active`, `lastScheduleTime`, `lastSuccessfulTime` and
keeps `successfulJobsHistoryLimit`/`failedJobsHistoryLimit` finished Jobs.

Example: schedule `*/15 * * * *`, created 10:07, nothing run yet: at 10:20 the most recent due
time is 10:15 and the Job is `<name>-<10:15 as epoch minutes>`; the next requeue is 10:30:00.1.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..api import errors
from ..api.resources import lookup
from ..api.timestamps import parse_rfc3339, rfc3339
from ..client.events import EventRecorder
from ..client.controller import Controller, ControllerRefManager
from ..client.informer import Informer, object_key, split_key
from ..client.rest import Client
from . import podutil
from .job.util import find_condition, is_job_finished

log = logging.getLogger("kubeling.cronjob")

JOBS = lookup("batch", "v1", "jobs")
CRONJOBS = lookup("batch", "v1", "cronjobs")
assert JOBS is not None and CRONJOBS is not None

SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1
TOO_MANY_MISSED = 100

Obj = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# cron schedules
# ---------------------------------------------------------------------------------------------


class ScheduleError(ValueError):
    pass


STAR = 1 << 63
_MONTHS = {n: i + 1 for i, n in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                                            "oct", "nov", "dec"))}
_DOWS = {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}


@dataclass(frozen=True)
class _Bounds:
    lo: int
    hi: int
    names: dict[str, int]


_MINUTE = _Bounds(0, 59, {})
_HOUR = _Bounds(0, 23, {})
_DOM = _Bounds(1, 31, {})
_MONTH = _Bounds(1, 12, _MONTHS)
_DOW = _Bounds(0, 6, _DOWS)

_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}


def _int_or_name(s: str, b: _Bounds) -> int:
    if b.names and s.lower() in b.names:
        return b.names[s.lower()]
    try:
        v = int(s)
    except ValueError:
        raise ScheduleError(f"failed to parse int from {s}") from None
    if v < 0:
        raise ScheduleError(f"negative number ({v}) not allowed: {s}")
    return v


def _range(expr: str, b: _Bounds) -> int:
    """getRange: `*`, `?`, `a`, `a-b`, each with an optional `/step` (`a/step` means a-max/step)."""
    range_step = expr.split("/")
    low_high = range_step[0].split("-")
    single = len(low_high) == 1
    extra = 0
    if low_high[0] in ("*", "?"):
        start, end, extra = b.lo, b.hi, STAR
    else:
        start = _int_or_name(low_high[0], b)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], b)
        else:
            raise ScheduleError(f"too many hyphens: {expr}")
    if len(range_step) == 1:
        step = 1
    elif len(range_step) == 2:
        try:
            step = int(range_step[1])
        except ValueError:
            raise ScheduleError(f"failed to parse int from {range_step[1]}") from None
        if single:
            end = b.hi
        if step > 1:
            extra = 0
    else:
        raise ScheduleError(f"too many slashes: {expr}")
    if start < b.lo:
        raise ScheduleError(f"beginning of range ({start}) below minimum ({b.lo}): {expr}")
    if end > b.hi:
        raise ScheduleError(f"end of range ({end}) above maximum ({b.hi}): {expr}")
    if start > end:
        raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step <= 0:
        raise ScheduleError(f"step of range should be a positive number: {expr}")
    bits = 0
    for v in range(start, end + 1, step):
        bits |= 1 << v
    return bits | extra


def _field(f: str, b: _Bounds) -> int:
    bits = 0
    for part in f.split(","):
        bits |= _range(part, b)
    return bits


@dataclass(frozen=True)
class Schedule:
    """A parsed standard cron spec (or an `@every` interval) in a time zone."""

    minute: int = 0
    hour: int = 0
    dom: int = 0
    month: int = 0
    dow: int = 0
    tz: str = "UTC"
    every: float = 0.0  # seconds, for `@every`

    def _zone(self) -> Any:
        return timezone.utc if self.tz in ("UTC", "") else ZoneInfo(self.tz)

    def _day_matches(self, d: datetime) -> bool:
        dom = bool((1 << d.day) & self.dom)
        dow = bool((1 << ((d.weekday() + 1) % 7)) & self.dow)
        if self.dom & STAR or self.dow & STAR:
            return dom and dow
        return dom or dow

    def next(self, t: float) -> float | None:
        """The first activation strictly after t (epoch seconds); None if none within 5 years."""
        if self.every:
            return float(int(t) + self.every)
        zone = self._zone()
        d = datetime.fromtimestamp(int(t), tz=zone).replace(second=0, tzinfo=None) + timedelta(minutes=1)
        limit = d.year + 5
        while d.year <= limit:
            if not (1 << d.month) & self.month:
                d = (d.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(d):
                d = d.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if not (1 << d.hour) & self.hour:
                d = d.replace(minute=0) + timedelta(hours=1)
                continue
            if not (1 << d.minute) & self.minute:
                d += timedelta(minutes=1)
                continue
            return d.replace(tzinfo=zone).timestamp()
        return None


def parse_schedule(spec: str, tz: str | None = None) -> Schedule:
    """cron.ParseStandard (with `TZ=`/`CRON_TZ=` prefixes) in the CronJob's time zone."""
    spec = spec.strip()
    zone = tz or "UTC"
    if spec.startswith("TZ=") or spec.startswith("CRON_TZ="):
        head, _, spec = spec.partition(" ")
        zone = head.split("=", 1)[1]
        spec = spec.strip()
    if zone not in ("UTC", ""):
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"provided bad location {zone}: unknown time zone {zone}") from None
    if not spec:
        raise ScheduleError("empty spec string")
    if spec.startswith("@"):
        if spec.startswith("@every "):
            secs = parse_go_duration(spec[len("@every "):])
            return Schedule(tz=zone, every=float(max(1, int(secs))))
        if spec not in _DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {spec}")
        spec = _DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: {fields}")
    return Schedule(minute=_field(fields[0], _MINUTE), hour=_field(fields[1], _HOUR), dom=_field(fields[2], _DOM),
                    month=_field(fields[3], _MONTH), dow=_field(fields[4], _DOW), tz=zone)


def parse_go_duration(s: str) -> float:
    """A Go time.Duration string: `1h30m`, `90s`, `500ms`."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    total, num, i = 0.0, "", 0
    s = s.strip()
    if not s:
        raise ScheduleError("invalid duration")
    while i < len(s):
        if s[i].isdigit() or s[i] == ".":
            num += s[i]
            i += 1
            continue
        unit = next((u for u in ("ns", "us", "µs", "ms", "s", "m", "h") if s.startswith(u, i)), None)
        if unit is None or not num:
            raise ScheduleError(f"time: invalid duration {s!r}")
        total += float(num) * units[unit]
        num, i = "", i + len(unit)
    if num:
        raise ScheduleError(f"time: missing unit in duration {s!r}")
    return total


# ---------------------------------------------------------------------------------------------
# schedule math (utils.go)
# ---------------------------------------------------------------------------------------------


def most_recent_schedule_time(cj: Obj, now: float, sched: Schedule,
                              include_starting_deadline: bool) -> tuple[float, float | None, str]:
    """mostRecentScheduleTime: (earliest time considered, most recent due time or None, missed).

    `missed` is "none", "few" or "many" (more than 100 missed runs).
    """
    earliest = parse_rfc3339(cj["metadata"].get("creationTimestamp")) or now
    last = parse_rfc3339((cj.get("status") or {}).get("lastScheduleTime"))
    if last is not None:
        earliest = last
    sds = (cj.get("spec") or {}).get("startingDeadlineSeconds")
    if include_starting_deadline and sds is not None:
        earliest = max(earliest, now - int(sds))
    t1 = sched.next(earliest)
    if t1 is None or now < t1:
        return earliest, None, "none"
    t2 = sched.next(t1)
    if t2 is None or now < t2:
        return earliest, t1, "none"
    between = round(t2 - t1)
    if between < 1:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    missed_n = int(now - t1) // between + 1
    potential = t1 + (missed_n - 2) * between
    recent = None
    t = sched.next(potential)
    while t is not None and t <= now:
        recent = t
        t = sched.next(t)
    missed = "many" if missed_n > TOO_MANY_MISSED else ("few" if missed_n > 0 else "none")
    return earliest, recent, missed


def next_schedule_delay(cj: Obj, now: float, sched: Schedule) -> float:
    """nextScheduleTimeDuration: seconds until the next run after the most recent one, +100 ms."""
    try:
        earliest, recent, missed = most_recent_schedule_time(cj, now, sched, False)
    except ScheduleError:
        earliest, recent, missed = now, now, "none"
    if recent is None:
        recent = earliest if missed == "none" else now
    nxt = sched.next(recent)
    if nxt is None:
        return 3600.0
    return nxt + NEXT_SCHEDULE_DELTA - now


def job_name(cj: Obj, scheduled: float) -> str:
    """getJobName: `<cronjob>-<scheduled time in minutes since the epoch>`."""
    return f"{cj['metadata']['name']}-{int(scheduled) // 60}"


def job_from_template(cj: Obj, scheduled: float) -> Obj:
    """getJobFromTemplate2: labels/annotations of the template, the scheduled-timestamp
    annotation (in the CronJob's time zone), a controller reference and the template's spec."""
    jt = (cj.get("spec") or {}).get("jobTemplate") or {}
    jmeta = jt.get("metadata") or {}
    tz = (cj.get("spec") or {}).get("timeZone")
    zone = ZoneInfo(tz) if tz else timezone.utc
    stamp = datetime.fromtimestamp(int(scheduled), tz=zone).isoformat()
    if stamp.endswith("+00:00"):
        stamp = stamp[:-6] + "Z"
    annotations = dict(jmeta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = stamp
    meta: Obj = {"name": job_name(cj, scheduled), "namespace": cj["metadata"].get("namespace"),
                 "labels": dict(jmeta.get("labels") or {}), "annotations": annotations,
                 "ownerReferences": [podutil.new_controller_ref(cj, "batch/v1", "CronJob")]}
    if not meta["labels"]:
        del meta["labels"]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": copy.deepcopy(jt.get("spec") or {})}


def finished_type(job: Obj) -> str | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return c["type"]
    return None


def jobs_to_remove(jobs: list[Obj], limit: int) -> list[Obj]:
    """removeOldestJobs: the oldest (by startTime, then name; unstarted last) beyond the limit."""
    n = len(jobs) - limit
    if n <= 0:
        return []

    def key(j: Obj) -> tuple[Any, ...]:
        st = parse_rfc3339((j.get("status") or {}).get("startTime"))
        return (1, 0.0, j["metadata"]["name"]) if st is None else (0, st, j["metadata"]["name"])

    return sorted(jobs, key=key)[:n]


def job_ref(job: Obj) -> Obj:
    m = job["metadata"]
    return {"kind": "Job", "namespace": m.get("namespace"), "name": m["name"], "uid": m.get("uid"),
            "apiVersion": "batch/v1", "resourceVersion": m.get("resourceVersion")}


# ---------------------------------------------------------------------------------------------
# controller
# ---------------------------------------------------------------------------------------------


class CronJobController(Controller):
    def __init__(self, client: Client, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__("cronjob")
        self.client = client
        self.now = clock
        self.recorder = EventRecorder(client, "cronjob-controller")
        self.cj_informer = self.watch(Informer(client, CRONJOBS), on_add=lambda c: self.queue.add(object_key(c)),
                                      on_update=self._on_cj_update)
        self.job_informer = self.watch(Informer(client, JOBS), on_add=self._on_job, on_update=self._on_job_update,
                                       on_delete=self._on_job)
        self.queue = self.add_queue("cronjob", self.sync, workers=5)
        self.job_refs = ControllerRefManager(client, self.cj_informer, JOBS)

    # ---- handlers ---------------------------------------------------------------------------
    def _on_job(self, job: Obj) -> None:
        cj = self.job_refs.controller_of(job)
        if cj is not None:
            self.queue.add(object_key(cj))

    def _on_job_update(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        if podutil.controller_of(old) != podutil.controller_of(cur):
            self._on_job(old)
        self._on_job(cur)

    def _on_cj_update(self, old: Obj, cur: Obj) -> None:
        o, c = old.get("spec") or {}, cur.get("spec") or {}
        if o.get("schedule") != c.get("schedule") or o.get("timeZone") != c.get("timeZone"):
            try:
                sched = parse_schedule(c.get("schedule", ""), c.get("timeZone"))
            except ScheduleError:
                self.recorder.event(cur, "Warning", "UnParseableCronJobSchedule",
                                    f"unparseable schedule for cronjob: {c.get('schedule', '')}")
                return
            self.queue.add_after(object_key(cur), next_schedule_delay(cur, self.now(), sched))
            return
        self.queue.add(object_key(cur))

    # ---- sync -------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        cj = self.cj_informer.get(ns, name)
        if cj is None:
            return
        jobs = [j for j in self.job_informer.list(ns)
                if (podutil.controller_of(j) or {}).get("name") == name]
        cj = copy.deepcopy(cj)
        cj.setdefault("status", {})
        update = await self.cleanup_finished_jobs(cj, jobs)
        requeue, updated, err = await self.sync_cronjob(cj, jobs)
        if update or updated:
            st = cj["status"]
            if not st.get("active"):
                st.pop("active", None)
            await self.client.update_status(CRONJOBS, cj)
        if requeue is not None:
            self.queue.add_after(key, requeue)
            return
        if err is not None:
            raise err

    async def sync_cronjob(self, cj: Obj, jobs: list[Obj]) -> tuple[float | None, bool, Exception | None]:
        """syncCronJob: (requeue after, status changed, error)."""
        now = self.now()
        changed = False
        st = cj["status"]
        active = st.setdefault("active", [])
        children = set()
        for j in jobs:
            uid = j["metadata"].get("uid")
            children.add(uid)
            found = any(a.get("uid") == uid for a in active)
            if not found and not is_job_finished(j):
                try:
                    live = await self.client.get(CRONJOBS, cj["metadata"].get("namespace"), cj["metadata"]["name"])
                except errors.StatusError as e:
                    return None, changed, e
                if any(a.get("uid") == uid for a in (live.get("status") or {}).get("active") or []):
                    continue
                self.recorder.event(cj, "Warning", "UnexpectedJob",
                                    f"Saw a job that the controller did not create or forgot: {j['metadata']['name']}")
            elif found and is_job_finished(j):
                st["active"] = active = [a for a in active if a.get("uid") != uid]
                self.recorder.event(cj, "Normal", "SawCompletedJob",
                                    f"Saw completed job: {j['metadata']['name']}, status: {finished_type(j)}")
                changed = True
            elif finished_type(j) == "Complete":
                ct = (j.get("status") or {}).get("completionTime")
                prev = parse_rfc3339(st.get("lastSuccessfulTime"))
                if ct and (prev is None or (parse_rfc3339(ct) or 0) > prev):
                    st["lastSuccessfulTime"] = ct
                    changed = True
        for a in list(active):
            if a.get("uid") in children:
                continue
            try:
                await self.client.get(JOBS, a.get("namespace"), a.get("name", ""))
            except errors.StatusError as e:
                if e.code != 404:
                    return None, changed, e
                self.recorder.event(cj, "Normal", "MissingJob", f"Active job went missing: {a.get('name')}")
                st["active"] = active = [x for x in active if x.get("uid") != a.get("uid")]
                changed = True
        if cj["metadata"].get("deletionTimestamp"):
            return None, changed, None
        spec = cj.get("spec") or {}
        tz = spec.get("timeZone")
        if tz is not None and tz not in ("UTC", ""):
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                self.recorder.event(cj, "Warning", "UnknownTimeZone", f'invalid timeZone: "{tz}": unknown time zone {tz}')
                return None, changed, None
        if spec.get("suspend"):
            return None, changed, None
        schedule = spec.get("schedule", "")
        if "TZ" in schedule:
            self.recorder.event(cj, "Warning", "UnsupportedSchedule",
                                f'CRON_TZ or TZ used in schedule "{schedule}" is not officially supported, see '
                                "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details")
        try:
            sched = parse_schedule(schedule, None if "TZ" in schedule else tz)
        except ScheduleError as e:
            self.recorder.event(cj, "Warning", "UnparseableSchedule", f'unparseable schedule: "{schedule}" : {e}')
            return None, changed, None
        try:
            _, scheduled, missed = most_recent_schedule_time(cj, now, sched, True)
        except ScheduleError as e:
            self.recorder.event(cj, "Warning", "InvalidSchedule", f"invalid schedule: {schedule} : {e}")
            return None, changed, None
        if scheduled is None or scheduled > now:
            return next_schedule_delay(cj, now, sched), changed, None
        if missed == "many":
            self.recorder.event(cj, "Warning", "TooManyMissedTimes",
                                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
        sds = spec.get("startingDeadlineSeconds")
        if sds is not None and scheduled + int(sds) < now:
            when = datetime.fromtimestamp(int(scheduled), tz=timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
            self.recorder.event(cj, "Warning", "MissSchedule", f"Missed scheduled time to start a job: {when}")
            return next_schedule_delay(cj, now, sched), changed, None
        name = job_name(cj, scheduled)
        if any(a.get("name") == name for a in active) or parse_rfc3339(st.get("lastScheduleTime")) == scheduled:
            return next_schedule_delay(cj, now, sched), changed, None
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and active:
            self.recorder.event(cj, "Normal", "JobAlreadyActive",
                                "Not starting job because prior execution is running and concurrency policy is Forbid")
            return next_schedule_delay(cj, now, sched), changed, None
        if policy == "Replace":
            for a in list(active):
                try:
                    j = await self.client.get(JOBS, a.get("namespace"), a.get("name", ""))
                except errors.StatusError as e:
                    self.recorder.event(cj, "Warning", "FailedGet", f"Get job: {e.message}")
                    return None, changed, e
                if not await self._delete_job(cj, j):
                    return None, changed, errors.StatusError(
                        500, "InternalError", f"could not replace job {j['metadata'].get('namespace')}/{j['metadata']['name']}")
                changed = True
        req = job_from_template(cj, scheduled)
        try:
            created = await self.client.create(JOBS, cj["metadata"].get("namespace"), req)
            self.recorder.event(cj, "Normal", "SuccessfulCreate", f"Created job {created['metadata']['name']}")
        except errors.StatusError as e:
            if "is being terminated" in e.message:
                return None, changed, e
            if e.code != 409:
                self.recorder.event(cj, "Warning", "FailedCreate", f"Error creating job: {e.message}")
                return None, changed, e
            try:
                created = await self.client.get(JOBS, cj["metadata"].get("namespace"), name)
            except errors.StatusError as e2:
                return None, changed, e2
            if (podutil.controller_of(created) or {}).get("uid") != cj["metadata"].get("uid"):
                return None, changed, None
            if any(a.get("uid") == created["metadata"].get("uid") for a in active):
                return None, changed, None
            log.info("job %s already exists", name)
        active.append(job_ref(created))
        st["active"] = active
        st["lastScheduleTime"] = rfc3339(scheduled)
        return next_schedule_delay(cj, now, sched), True, None

    async def cleanup_finished_jobs(self, cj: Obj, jobs: list[Obj]) -> bool:
        spec = cj.get("spec") or {}
        if spec.get("successfulJobsHistoryLimit") is None and spec.get("failedJobsHistoryLimit") is None:
            return False
        changed = False
        ok = [j for j in jobs if finished_type(j) == "Complete"]
        failed = [j for j in jobs if finished_type(j) == "Failed"]
        for lst, limit in ((ok, spec.get("successfulJobsHistoryLimit")), (failed, spec.get("failedJobsHistoryLimit"))):
            if limit is None:
                continue
            for j in jobs_to_remove(lst, int(limit)):
                if await self._delete_job(cj, j):
                    changed = True
        return changed

    async def _delete_job(self, cj: Obj, job: Obj) -> bool:
        """deleteJob: delete in the background and drop it from status.active."""
        try:
            await self.client.delete(JOBS, job["metadata"].get("namespace"), job["metadata"]["name"],
                                     propagation="Background")
        except errors.StatusError as e:
            if e.code != 404:
                self.recorder.event(cj, "Warning", "FailedDelete", f"Deleted job: {e.message}")
                return False
        st = cj.setdefault("status", {})
        st["active"] = [a for a in st.get("active") or [] if a.get("uid") != job["metadata"].get("uid")]
        self.recorder.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {job['metadata']['name']}")
        return True


__all__ = ["CronJobController", "Schedule", "ScheduleError", "parse_schedule", "most_recent_schedule_time",
           "next_schedule_delay", "job_name", "job_from_template", "jobs_to_remove", "find_condition"]
