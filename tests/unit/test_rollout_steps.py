"""The Rollout's pure logic: weights and replica counts per step, pauses and promotion, spec
checks, phases; and the analysis runner against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubeling.api import crd, customresource, rollout, structural
from kubeling.api.timestamps import rfc3339
from kubeling.controllers.rollout import status as rstatus
from kubeling.controllers.rollout import steps
from kubeling.controllers.rollout.analysis import FAILED, SUCCESSFUL, AnalysisRunner, measure

STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "30s"}}]


@pytest.mark.parametrize("index,want", [(0, 20), (1, 20), (2, 50), (3, 50), (4, 100), (9, 100)])
def test_weight_at_is_the_last_set_weight_so_far(index: int, want: int) -> None:
    assert steps.weight_at(STEPS, index) == want


def test_weight_before_any_set_weight_is_zero() -> None:
    assert steps.weight_at([{"pause": {}}, {"setWeight": 10}], 0) == 0
    assert steps.weight_at([], 0) == 100


@pytest.mark.parametrize("total,weight,routed,want", [
    (5, 20, False, (1, 4)),    # the weight is the replica share
    (3, 50, False, (2, 2)),    # both rounded up: one surge pod
    (5, 100, False, (5, 0)),
    (5, 0, False, (0, 5)),
    (5, 5, True, (1, 5)),      # kube-proxy carries 5 %: one canary pod, stable stays whole
    (10, 50, True, (5, 10)),
    (5, 0, True, (0, 5)),
    (0, 50, True, (0, 0)),
])
def test_replica_counts(total: int, weight: int, routed: bool, want: tuple[int, int]) -> None:
    assert steps.replica_counts(total, weight, routed) == want


@pytest.mark.parametrize("v,want", [(None, None), (10, 10.0), ("10", 10.0), ("30s", 30.0), ("5m", 300.0),
                                    ("1h", 3600.0), ("x", False), (-1, False), (True, False), ("1d", False)])
def test_parse_duration(v: Any, want: Any) -> None:
    assert steps.parse_duration(v) == want


def test_step_strings_as_in_events() -> None:
    assert [steps.step_string(s) for s in STEPS] == ["setWeight: 20", "pause", "setWeight: 50", "pause: 30s"]


def test_indefinite_pause_waits_for_promote() -> None:
    st: dict[str, Any] = {}
    out = steps.pause(st, steps.CANARY_PAUSE, None, 100.0)
    assert (out.done, out.started, out.recheck) == (False, True, None)
    assert st["controllerPause"] is True and st["pauseConditions"][0]["reason"] == "CanaryPauseStep"
    assert steps.pause(st, steps.CANARY_PAUSE, None, 5000.0).done is False  # no time limit
    st.pop("pauseConditions")  # `promote` clears the pause conditions
    assert steps.pause(st, steps.CANARY_PAUSE, None, 5001.0).done is True
    assert st["controllerPause"] is False


def test_timed_pause_ends_by_itself() -> None:
    st: dict[str, Any] = {}
    assert steps.pause(st, steps.CANARY_PAUSE, 30.0, 1000.0).recheck == 30.0
    out = steps.pause(st, steps.CANARY_PAUSE, 30.0, 1010.0)
    assert not out.done and out.recheck == pytest.approx(20.0)
    assert steps.pause(st, steps.CANARY_PAUSE, 30.0, 1031.0).done
    assert "pauseConditions" not in st and "controllerPause" not in st


def test_new_revision_resets_abort_pause_and_analysis() -> None:
    st = {"currentStepIndex": 3, "abort": True, "abortedAt": "t", "promoteFull": True, "controllerPause": True,
          "pauseConditions": [{"reason": "CanaryPauseStep"}], "stableRS": "abc",
          "canary": {"currentStepAnalysisRunStatus": {"name": "x", "status": "Failed"}, "weights": {}}}
    steps.reset_for_new_revision(st, 4)
    assert st == {"currentStepIndex": 0, "stableRS": "abc", "canary": {"weights": {}}}


def ro(strategy: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "r", "generation": 2},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "a"}}, "strategy": strategy, **spec}}


@pytest.mark.parametrize("strategy,spec,want", [
    ({"canary": {}}, {}, ""),
    ({"canary": {}}, {"selector": {}}, "This rollout is selecting all pods. A non-empty selector is required."),
    ({"canary": {}, "blueGreen": {"activeService": "a"}}, {}, "Multiple Strategies can not be listed"),
    ({"blueGreen": {"activeService": "a", "previewService": "a"}}, {},
     "This rollout uses the same service for the active and preview services, but two different services are "
     "required."),
    ({"canary": {"canaryService": "c"}}, {}, "canaryService and stableService must be set together"),
    ({"canary": {"steps": [{"setWeight": 5, "pause": {}}]}}, {},
     "Step 0 must have exactly one of setWeight, pause, analysis"),
    ({"canary": {"steps": [{"pause": {"duration": "soon"}}]}}, {}, "Step 0: invalid pause duration 'soon'"),
])
def test_invalid_spec(strategy: dict[str, Any], spec: dict[str, Any], want: str) -> None:
    assert steps.invalid_spec(ro(strategy, **spec)) == want


def test_phases() -> None:
    r = ro({"canary": {"steps": STEPS}})
    healthy = {"currentPodHash": "h2", "stableRS": "h2", "replicas": 3, "updatedReplicas": 3,
               "availableReplicas": 3, "currentStepIndex": 4}
    assert rstatus.phase(r, healthy, "") == ("Healthy", "")
    assert rstatus.phase(r, {**healthy, "replicas": 4}, "") == ("Progressing", "old replicas are pending termination")
    canary = {**healthy, "stableRS": "h1", "updatedReplicas": 1}
    assert rstatus.phase(r, canary, "") == ("Progressing", "waiting for all steps to complete")
    assert rstatus.phase(r, {**canary, "pauseConditions": [{"reason": "CanaryPauseStep"}]}, "") == (
        "Paused", "CanaryPauseStep")
    failed = {**canary, "abort": True, "canary": {"currentStepAnalysisRunStatus": {
        "name": "r-h2-2", "status": "Failed", "message": "1 of 1 measurements failed"}}}
    assert rstatus.phase(r, failed, "", 2) == (
        "Degraded", "RolloutAborted: Rollout aborted update to revision 2: 1 of 1 measurements failed")
    assert rstatus.phase(r, healthy, 'ServiceNotFound: service "s" not found')[0] == "Degraded"
    bg = ro({"blueGreen": {"activeService": "a"}})
    assert rstatus.phase(bg, {**healthy, "blueGreen": {"activeSelector": "h1"}}, "")[0] == "Progressing"
    assert rstatus.phase(bg, {**healthy, "blueGreen": {"activeSelector": "h2"}}, "")[0] == "Healthy"


def test_finish_reports_counts_selector_and_conditions() -> None:
    r = ro({"canary": {}})
    rss = [{"metadata": {}, "status": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2}},
           {"metadata": {}, "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 0}}]
    st = rstatus.finish(r, {"stableRS": "h"}, rss, rss[1], "h", 1, "", 0.0)
    assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"]) == (3, 1, 3, 2)
    assert st["selector"] == "app=a" and st["observedGeneration"] == "2" and st["phase"] == "Progressing"
    assert {c["type"] for c in st["conditions"]} == {"Available", "Progressing", "Healthy", "Completed"}


def test_the_rollout_crd_is_valid_and_its_schema_compiles() -> None:
    obj = rollout.definition()
    crd.apply_defaults(obj)
    assert crd.validate(obj, None) == []
    (row,) = customresource.rows({**obj, "metadata": {**obj["metadata"], "uid": "u"}})
    assert (row.group, row.version, row.plural, row.short_names) == ("rollouts.kubeling.io", "v1alpha1", "rollouts",
                                                                     ("ro",))
    bad = {"spec": {"replicas": -1, "selector": {}, "template": {},
                    "strategy": {"canary": {"maxSurge": True, "steps": [{"setWeight": 101}]}}}}
    msgs = [c["message"] for c in structural.validate(row.custom.validator, bad)]
    assert any("spec.replicas" in m for m in msgs) and any("maxSurge" in m for m in msgs)
    assert any("setWeight" in m for m in msgs)


# ---- analysis ---------------------------------------------------------------------------------------

async def _server(handler: Any) -> tuple[asyncio.base_events.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _pod(port: int) -> tuple[dict[str, Any], dict[str, Any]]:
    return ({"metadata": {"name": "p"}, "status": {"podIP": "127.0.0.1"}},
            {"name": "c", "ports": [{"name": "http", "containerPort": port}]})


def _http(status: int) -> Any:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".encode())
        await writer.drain()
        writer.close()
    return handle


def test_measure_against_a_real_server() -> None:
    async def main() -> None:
        ok, ok_port = await _server(_http(200))
        bad, bad_port = await _server(_http(500))
        async with ok, bad:
            spec = {"httpGet": {"path": "/", "port": "http"}, "timeoutSeconds": 2}
            assert await measure(spec, [_pod(ok_port)]) == ""
            assert await measure(spec, [_pod(bad_port)]) == "p: HTTP probe failed with statuscode: 500"
            assert await measure(spec, []) == "no ready pods to measure"
    asyncio.run(main())


def test_runner_succeeds_fails_and_reports_done() -> None:
    async def main() -> None:
        ok, ok_port = await _server(_http(200))
        bad, bad_port = await _server(_http(503))
        async with ok, bad:
            done: list[str] = []
            runner = AnalysisRunner(done.append)
            spec = {"httpGet": {"port": ok_port}, "intervalSeconds": 1, "count": 2}
            good = runner.ensure("ns/r", "r-h-0", spec, lambda: [_pod(ok_port)])
            failing = runner.ensure("ns/r", "r-h-1", {**spec, "httpGet": {"port": bad_port}, "failureLimit": 0},
                                    lambda: [_pod(bad_port)])
            assert runner.ensure("ns/r", "r-h-0", spec, lambda: []) is good  # one run per name
            await asyncio.wait_for(asyncio.gather(good.task, failing.task), 10)  # type: ignore[arg-type]
            assert (good.status, good.measurements, good.message) == (SUCCESSFUL, 2, "2 of 2 measurements succeeded")
            assert failing.status == FAILED and failing.measurements == 1  # aborted at the first failure
            assert "statuscode: 503" in failing.message and done == ["ns/r", "ns/r"]
            bg = runner.ensure("ns/r", "r-h-background", spec, lambda: [_pod(ok_port)], background=True)
            runner.retain("ns/r", {"r-h-0"})
            assert set(runner.runs) == {"r-h-0"}
            with pytest.raises(asyncio.CancelledError):
                await bg.task  # type: ignore[misc]
            runner.stop()
    asyncio.run(main())


def test_pause_start_time_is_an_api_timestamp() -> None:
    st: dict[str, Any] = {}
    steps.pause(st, steps.BLUE_GREEN_PAUSE, None, 0.0)
    assert st["pauseConditions"] == [{"reason": "BlueGreenPause", "startTime": rfc3339(0.0)}]
