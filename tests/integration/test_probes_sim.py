"""Probes on a simulated node: the same prober as a real node, only the check is simulated.
Probes succeed unless `sim.kubeling.io/probe-failure` names their type."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from .conftest import Cluster, free_port


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(str(tmp_path_factory.mktemp("kubeling-sim-probes")), free_port(), extra_args=("--sim-nodes", "1"))
    c.start()
    yield c
    c.stop()


def _pod(name: str, failing: str = "") -> dict[str, Any]:
    probe = {"tcpSocket": {"port": 80}, "periodSeconds": 1, "failureThreshold": 1}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "annotations": {"sim.kubeling.io/probe-failure": failing} if failing else {}},
            "spec": {"containers": [{"name": "app", "image": "redis", "livenessProbe": probe,
                                     "readinessProbe": probe}]}}


def _cs(c: Cluster, name: str) -> dict[str, Any]:
    return ((c.json("get", "pod", name).get("status") or {}).get("containerStatuses") or [{}])[0]


def test_simulated_probes(sim: Cluster) -> None:
    for pod in (_pod("healthy"), _pod("unready", "readiness"), _pod("dying", "liveness")):
        sim.kubectl("create", "-f", "-", input=json.dumps(pod))
    sim.wait_for(lambda: _cs(sim, "healthy").get("ready") is True, 20, 0.2, "healthy Ready")
    sim.wait_for(lambda: _cs(sim, "dying").get("restartCount", 0) >= 2, 20, 0.2, "dying restarted twice")
    unready = _cs(sim, "unready")
    assert unready["state"].get("running") and unready["ready"] is False and unready["restartCount"] == 0
    assert _cs(sim, "healthy")["restartCount"] == 0

    def reasons(name: str) -> set[tuple[str, str]]:
        items = sim.json("get", "events", "--field-selector", f"involvedObject.name={name}")["items"]
        return {(e["reason"], e["message"]) for e in items}
    want = ("Unhealthy", "Readiness probe failed: simulated failure (sim.kubeling.io/probe-failure)")
    sim.wait_for(lambda: want in reasons("unready"), 10, 0.2, "readiness Unhealthy event")
    sim.wait_for(lambda: ("Killing", "Container app failed liveness probe, will be restarted") in reasons("dying"),
                 10, 0.2, "Killing event")
