"""Event recorder: core/v1 Events as client-go's `record.EventRecorder` writes them.

`recorder.event(obj, "Normal", "ScalingReplicaSet", "Scaled up ...")` returns at once; the write
happens in a background task (an Event is best effort, never a reason to fail a reconcile).
Like upstream's EventCorrelator (client-go tools/record/events_cache.go):
- a repeat of the same event (same object, type, reason, message and source) is not a new object:
  it bumps `count` and `lastTimestamp` of the first one with a patch;
- more than 10 events differing only by message about one object within 10 minutes are
  aggregated: from the 10th on they count up one event "(combined from similar events): ...";
- a source may record a burst of 25 events about one object, then one every 5 minutes (a
  ReplicaSet scaled to 10,000 gets 25 "Created pod" events, not 10,000 writes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

from ..api import errors
from ..api.resources import lookup
from ..api.timestamps import rfc3339
from .rest import Client

log = logging.getLogger("kubeling.events")

EVENTS = lookup("", "v1", "events")
assert EVENTS is not None

_CACHE_SIZE = 4096  # maxLruCacheEntries
AGGREGATE_MAX_EVENTS = 10  # defaultAggregateMaxEvents
AGGREGATE_INTERVAL = 600.0  # defaultAggregateIntervalInSeconds
SPAM_BURST = 25  # defaultSpamBurst
SPAM_QPS = 1.0 / 300.0  # defaultSpamQPS
AGGREGATE_PREFIX = "(combined from similar events): "


def object_reference(obj: dict[str, Any]) -> dict[str, Any]:
    """reference.GetReference: what `involvedObject` holds."""
    meta = obj.get("metadata") or {}
    ref = {"kind": obj.get("kind", ""), "namespace": meta.get("namespace"), "name": meta.get("name"),
           "uid": meta.get("uid"), "apiVersion": obj.get("apiVersion", ""),
           "resourceVersion": meta.get("resourceVersion")}
    return {k: v for k, v in ref.items() if v}


def make_event(obj: dict[str, Any], event_type: str, reason: str, message: str, component: str,
               host: str = "", now: float | None = None) -> dict[str, Any]:
    """The Event object upstream's recorder creates (name `<object>.<hex unix nanos>`)."""
    t = time.time() if now is None else now
    ref = object_reference(obj)
    ns = ref.get("namespace") or "default"
    source = {"component": component}
    if host:
        source["host"] = host
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{ref.get('name', '')}.{int(t * 1e9):x}", "namespace": ns},
        "involvedObject": ref,
        "reason": reason, "message": message, "type": event_type,
        "source": source,
        "firstTimestamp": rfc3339(t), "lastTimestamp": rfc3339(t), "count": 1,
        "eventTime": None,
        "reportingComponent": component, "reportingInstance": host,
    }


def _dedupe_key(ev: dict[str, Any]) -> tuple[Any, ...]:
    ref = ev["involvedObject"]
    return (ev["source"].get("component"), ev["source"].get("host", ""), ref.get("kind"), ref.get("namespace"),
            ref.get("name"), ref.get("uid"), ref.get("apiVersion"), ev["type"], ev["reason"], ev["message"])


def _spam_key(ev: dict[str, Any]) -> tuple[Any, ...]:
    """getSpamKey: source and involved object."""
    ref = ev["involvedObject"]
    return (ev["source"].get("component"), ev["source"].get("host", ""), ref.get("kind"), ref.get("namespace"),
            ref.get("name"), ref.get("uid"), ref.get("apiVersion"))


def _aggregate_key(ev: dict[str, Any]) -> tuple[Any, ...]:
    """EventAggregatorByReasonFunc: everything but the message."""
    return _spam_key(ev) + (ev["type"], ev["reason"], ev.get("reportingComponent", ""),
                            ev.get("reportingInstance", ""))


class _LRU(OrderedDict):  # type: ignore[type-arg]
    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > _CACHE_SIZE:
            self.popitem(last=False)


class EventCorrelator:
    """Aggregation and the per source+object spam filter of upstream's EventCorrelator."""

    def __init__(self, clock: Any = time.time) -> None:
        self.clock = clock
        self._aggregates = _LRU()  # aggregate key -> (messages seen, last time)
        self._spam = _LRU()  # spam key -> (tokens, last refill time)

    def aggregate(self, ev: dict[str, Any]) -> tuple[dict[str, Any], tuple[Any, ...]]:
        """EventAggregate: (the event to record, its dedupe key). From the 10th similar event in
        10 minutes on, that is one aggregate event whose key is the aggregate key."""
        now = self.clock()
        akey = _aggregate_key(ev)
        messages, last = self._aggregates.get(akey, (set(), 0.0))
        if now - last > AGGREGATE_INTERVAL:
            messages = set()
        messages.add(ev["message"])
        self._aggregates.put(akey, (messages, now))
        if len(messages) < AGGREGATE_MAX_EVENTS:
            return ev, _dedupe_key(ev)
        messages.pop()  # do not grow the set past the maximum
        agg = {**ev, "metadata": {"name": f"{ev['involvedObject'].get('name', '')}.{int(now * 1e9):x}",
                                  "namespace": ev["metadata"]["namespace"]},
               "message": AGGREGATE_PREFIX + ev["message"], "count": 1,
               "firstTimestamp": rfc3339(now), "lastTimestamp": rfc3339(now)}
        return agg, akey

    def spam_filtered(self, ev: dict[str, Any]) -> bool:
        """EventSourceObjectSpamFilter: a token bucket (burst 25, refill 1 per 300 s) per key."""
        now = self.clock()
        key = _spam_key(ev)
        tokens, last = self._spam.get(key, (float(SPAM_BURST), now))
        tokens = min(float(SPAM_BURST), tokens + (now - last) * SPAM_QPS)
        accept = tokens >= 1.0
        if accept:
            tokens -= 1.0
        self._spam.put(key, (tokens, now))
        return not accept


class EventRecorder:
    """Writes Events for one component (e.g. `deployment-controller`)."""

    def __init__(self, client: Client, component: str, host: str = "") -> None:
        self.client = client
        self.component = component
        self.host = host
        self._seen: OrderedDict[tuple[Any, ...], tuple[str, str, int]] = OrderedDict()
        self._pending: set[asyncio.Task[None]] = set()
        self.correlator = EventCorrelator()

    def event(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        ev = make_event(obj, event_type, reason, message, self.component, self.host)
        log.info("event %s %s/%s: %s %s", event_type, ev["metadata"]["namespace"],
                 ev["involvedObject"].get("name"), reason, message)
        task = asyncio.get_running_loop().create_task(self.record(ev), name=f"event-{reason}")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def record(self, ev: dict[str, Any]) -> None:
        """Create the event, or bump the count of the identical (or aggregate) one recorded
        before; nothing when the source has sent too many events about the object."""
        ev, key = self.correlator.aggregate(ev)
        if self.correlator.spam_filtered(ev):
            log.debug("event %s about %s dropped by the spam filter", ev["reason"], ev["involvedObject"].get("name"))
            return
        try:
            prev = self._seen.get(key)
            if prev is not None:
                ns, name, count = prev
                try:
                    # eventObserve's two-way merge patch: the message too, so an aggregate
                    # event shows its newest one (an identical event's is the same)
                    await self.client.patch(EVENTS, ns, name, {"count": count + 1, "message": ev["message"],
                                                               "lastTimestamp": ev["lastTimestamp"]},
                                            patch_type="strategic")
                    self._remember(key, ns, name, count + 1)
                    return
                except errors.StatusError as e:
                    if e.code != 404:
                        raise
            created = await self.client.create(EVENTS, ev["metadata"]["namespace"], ev)
            self._remember(key, created["metadata"]["namespace"], created["metadata"]["name"], 1)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # events are best effort
            log.info("could not record event %s: %s", ev["reason"], e)

    def _remember(self, key: tuple[Any, ...], ns: str, name: str, count: int) -> None:
        self._seen[key] = (ns, name, count)
        self._seen.move_to_end(key)
        while len(self._seen) > _CACHE_SIZE:
            self._seen.popitem(last=False)

    async def flush(self) -> None:
        """Wait for the events recorded so far to be written (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
