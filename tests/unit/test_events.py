"""client/events.py: the EventCorrelator's aggregation and spam filter (client-go events_cache.go)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from kubeling.client.events import AGGREGATE_PREFIX, EVENTS, EventCorrelator, EventRecorder, make_event

from .realapi import RealAPI

RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
      "metadata": {"name": "web-1", "namespace": "default", "uid": "u-1", "resourceVersion": "5"}}


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def ev(msg: str, reason: str = "SuccessfulCreate") -> dict:
    return make_event(RS, "Normal", reason, msg, "replicaset-controller")


def test_similar_events_are_aggregated_from_the_tenth() -> None:
    c = EventCorrelator(Clock())
    keys = set()
    for i in range(9):
        out, key = c.aggregate(ev(f"Created pod: web-1-{i}"))
        assert out["message"] == f"Created pod: web-1-{i}"
        keys.add(key)
    assert len(keys) == 9  # nine distinct events
    out, key = c.aggregate(ev("Created pod: web-1-9"))
    assert out["message"] == AGGREGATE_PREFIX + "Created pod: web-1-9"
    out2, key2 = c.aggregate(ev("Created pod: web-1-10"))
    assert key2 == key and out2["message"] == AGGREGATE_PREFIX + "Created pod: web-1-10"
    other, _ = c.aggregate(ev("Deleted pod: web-1-0", reason="SuccessfulDelete"))
    assert other["message"] == "Deleted pod: web-1-0"  # another reason is another group


def test_aggregation_starts_over_after_ten_minutes() -> None:
    clock = Clock()
    c = EventCorrelator(clock)
    for i in range(9):
        c.aggregate(ev(f"m{i}"))
    clock.t += 601
    out, _ = c.aggregate(ev("m9"))
    assert out["message"] == "m9"


def test_spam_filter_burst_25_then_one_per_five_minutes() -> None:
    clock = Clock()
    c = EventCorrelator(clock)
    assert [c.spam_filtered(ev(f"m{i}")) for i in range(26)] == [False] * 25 + [True]
    clock.t += 299
    assert c.spam_filtered(ev("x"))
    clock.t += 2
    assert not c.spam_filtered(ev("y"))
    assert c.spam_filtered(ev("z"))
    other = make_event({**RS, "metadata": {**RS["metadata"], "name": "web-2", "uid": "u-2"}}, "Normal", "R", "m",
                       "replicaset-controller")
    assert not c.spam_filtered(other)  # per object


@dataclass
class Recorded:
    """What an EventRecorder wrote through the API, and what the API then holds."""

    created: list[dict]  # the Events POSTed
    patched: list[tuple[str, dict]]  # (name, patch) of the Events counted up
    stored: list[dict]


def record(reason: str, messages: list[str], one_by_one: bool = False) -> Recorded:
    """What an EventRecorder writes for these events (all at once, or each written before the next)."""
    async def run() -> Recorded:
        api = await RealAPI().start()
        rec = EventRecorder(api.client, "replicaset-controller")
        for m in messages:
            rec.event(RS, "Normal", reason, m)
            if one_by_one:
                await rec.flush()
        await rec.flush()
        stored = (await api.client.list(EVENTS, "default"))["items"]
        api.close()
        writes = api.writes()
        return Recorded([body for method, _, body in writes if method == "POST"],
                        [(path.rsplit("/", 1)[1], body) for method, path, body in writes if method == "PATCH"], stored)

    return asyncio.run(run())


def test_recorder_writes_25_events_for_a_thousand_pods() -> None:
    client = record("SuccessfulCreate", [f"Created pod: web-1-{i}" for i in range(1000)])
    writes = len(client.created) + len(client.patched)
    assert writes == 25
    assert len(client.created) == 10  # 9 single events, then the aggregate...
    assert client.created[-1]["message"].startswith(AGGREGATE_PREFIX)
    assert all(p[0] == client.created[-1]["metadata"]["name"] for p in client.patched)  # ...counted up
    assert [p[1]["count"] for p in client.patched] == list(range(2, 17))
    # what the API holds: the 9 single events and the aggregate, counted up to 16
    assert len(client.stored) == 10
    assert [e["count"] for e in client.stored if e["message"].startswith(AGGREGATE_PREFIX)] == [16]


def test_an_aggregate_event_shows_the_newest_message() -> None:
    """client-go's eventObserve patches count, lastTimestamp and message: `kubectl describe`
    shows `(combined from similar events): <the latest>` (x2), not the first aggregated one."""
    client = record("ScalingReplicaSet", [f"Scaled up replica set web-1 from {i} to {i + 1}" for i in range(11)],
                    one_by_one=True)
    assert client.created[-1]["message"] == AGGREGATE_PREFIX + "Scaled up replica set web-1 from 9 to 10"
    assert client.patched == [(client.created[-1]["metadata"]["name"], {
        "count": 2, "message": AGGREGATE_PREFIX + "Scaled up replica set web-1 from 10 to 11",
        "lastTimestamp": client.patched[0][1]["lastTimestamp"]})]
    aggregate = next(e for e in client.stored if e["metadata"]["name"] == client.created[-1]["metadata"]["name"])
    assert (aggregate["count"], aggregate["message"]) == (2, AGGREGATE_PREFIX + "Scaled up replica set web-1 from 10 to 11")
