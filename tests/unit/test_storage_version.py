"""One storage version per resource: HPAs stored as autoscaling/v2, Events as core/v1 Events,
whatever version they were written in; data an older kubeling stored in the other version still
reads, matches selectors and updates."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kubeling.api.resources import lookup
from kubeling.apiserver.admission import Chain
from kubeling.apiserver.handlers import Selectors
from kubeling.apiserver.registry import Registry, WriteOptions, encoded, view
from kubeling.store.sqlite import SQLiteStore

NAMESPACES = lookup("", "v1", "namespaces")
HPA_V1 = lookup("autoscaling", "v1", "horizontalpodautoscalers")
HPA_V2 = lookup("autoscaling", "v2", "horizontalpodautoscalers")
EVENTS = lookup("", "v1", "events")
NEW_EVENTS = lookup("events.k8s.io", "v1", "events")


@pytest.fixture
async def reg(tmp_path):
    r = Registry(SQLiteStore(str(tmp_path / "db" / "state.db")), admission=Chain([]))
    await r.create(NAMESPACES, None, {"metadata": {"name": "default"}}, WriteOptions())
    yield r
    r.store.close()


def _hpa_v1(name: str) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "maxReplicas": 5, "targetCPUUtilizationPercentage": 60}}


def _new_event(name: str) -> dict[str, Any]:
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": name},
            "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "test", "reportingInstance": "t1",
            "action": "Testing", "reason": "Tested", "type": "Normal", "note": "hello",
            "regarding": {"kind": "Pod", "name": "p", "namespace": "default"}}


async def test_hpa_written_in_v1_is_stored_as_v2(reg: Registry) -> None:
    entry = await reg.create(HPA_V1, "default", _hpa_v1("web"), WriteOptions())
    stored = orjson.loads(entry.value)
    assert stored["apiVersion"] == "autoscaling/v2"
    assert stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    assert encoded(HPA_V2, entry) is entry.value  # the storage version's bytes go out as they are
    v1 = view(HPA_V1, reg.get(HPA_V1, "default", "web"))
    assert v1["apiVersion"] == "autoscaling/v1" and v1["spec"]["targetCPUUtilizationPercentage"] == 60
    v1 = orjson.loads(encoded(HPA_V1, entry))
    v1["spec"]["maxReplicas"] = 7
    entry = await reg.update(HPA_V1, "default", "web", v1, WriteOptions())
    assert orjson.loads(entry.value)["apiVersion"] == "autoscaling/v2"
    assert view(HPA_V2, entry)["spec"]["maxReplicas"] == 7


async def test_events_k8s_io_events_are_stored_as_core_events(reg: Registry) -> None:
    entry = await reg.create(NEW_EVENTS, "default", _new_event("e1"), WriteOptions())
    stored = orjson.loads(entry.value)
    assert stored["apiVersion"] == "v1" and stored["involvedObject"]["name"] == "p" and stored["message"] == "hello"
    assert encoded(EVENTS, entry) is entry.value
    assert view(NEW_EVENTS, entry)["regarding"]["name"] == "p"
    sel = Selectors(NEW_EVENTS, {"fieldSelector": "regarding.name=p,reportingController=test"})
    assert sel.matches(entry.obj())
    assert not Selectors(NEW_EVENTS, {"fieldSelector": "regarding.name=q"}).matches(entry.obj())


async def test_objects_stored_in_the_other_version_still_read(reg: Registry) -> None:
    """A data dir written before one storage version: objects in the version they were written in."""
    legacy_event = {**_new_event("old"), "metadata": {"name": "old", "namespace": "default", "uid": "u1",
                                                       "creationTimestamp": "2026-01-01T00:00:00Z"}}
    await reg.store.create(EVENTS.key("default", "old"), legacy_event)
    legacy_hpa = {**_hpa_v1("old"), "metadata": {"name": "old", "namespace": "default", "uid": "u2",
                                                  "creationTimestamp": "2026-01-01T00:00:00Z"}}
    await reg.store.create(HPA_V2.key("default", "old"), legacy_hpa)

    core = view(EVENTS, reg.get(EVENTS, "default", "old"))
    assert core["apiVersion"] == "v1" and core["involvedObject"]["name"] == "p"
    for res, selector in ((EVENTS, "involvedObject.name=p,source=test"), (NEW_EVENTS, "regarding.name=p")):
        assert Selectors(res, {"fieldSelector": selector}).matches(reg.get(EVENTS, "default", "old").obj())
    v2 = view(HPA_V2, reg.get(HPA_V2, "default", "old"))
    assert v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60

    core["count"] = 2
    entry = await reg.update(EVENTS, "default", "old", core, WriteOptions())
    assert orjson.loads(entry.value)["apiVersion"] == "v1"  # rewritten in the storage version
    v2["spec"]["maxReplicas"] = 9
    entry = await reg.update(HPA_V2, "default", "old", v2, WriteOptions())
    assert orjson.loads(entry.value)["apiVersion"] == "autoscaling/v2"
    assert view(HPA_V1, entry)["spec"]["maxReplicas"] == 9
