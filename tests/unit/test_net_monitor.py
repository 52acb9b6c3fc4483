"""The node's host-network repair loop (network/monitor.py) and what the node makes of its
reports (agent.RealNode._network_changed: event, NetworkUnavailable, Ready), with fakes."""

from __future__ import annotations

from typing import Any

from kubeling.kubelet import agent
from kubeling.kubelet.network.monitor import NetworkMonitor
from kubeling.kubelet.node import node_conditions


class FakeNetwork:
    bridge = "kltest-mon"

    def __init__(self, results: list[Any]) -> None:
        self.results = results

    async def reconcile(self) -> list[str]:
        r = self.results.pop(0)
        if isinstance(r, Exception):
            raise r
        return list(r)


async def test_reports_repairs_failures_and_recovery_once() -> None:
    reports: list[tuple[bool, str, list[str]]] = []
    net = FakeNetwork([[], ["created bridge kltest-mon"], OSError("ip link add: Operation not permitted"),
                       OSError("still"), [], []])
    mon = NetworkMonitor(net, lambda *r: reports.append(r))
    for _ in range(6):
        await mon.check()
    assert reports == [
        (True, "", ["created bridge kltest-mon"]),
        (False, "ip link add: Operation not permitted", []),
        (False, "still", []),  # the message may change while broken
        (True, "", []),  # recovered: reported once, then quiet while all is in place
    ]


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def event(self, obj: dict[str, Any], typ: str, reason: str, message: str) -> None:
        self.events.append((obj, typ, reason, message))


class FakeNodeAgent:
    kicked = 0

    def status_changed(self) -> None:
        self.kicked += 1


def _node() -> Any:
    node = agent.RealNode.__new__(agent.RealNode)
    node.network = FakeNetwork([])
    node.node = type("N", (), {"name": "n1"})()
    node.kubelet = type("K", (), {"recorder": FakeRecorder(), "node": FakeNodeAgent()})()
    node._net_condition, node._net_error = None, ""
    return node


def test_the_node_reports_network_state() -> None:
    node = _node()
    assert node._readiness() == (True, "")
    node._network_changed(False, "ip link add: Operation not permitted", [])
    cond = node._net_condition
    assert cond[:3] == ("NetworkUnavailable", "True", "NoRouteCreated") and "Operation not permitted" in cond[3]
    ready, msg = node._readiness()
    assert not ready and msg.startswith("container runtime network not ready: NetworkReady=false "
                                        "reason:NetworkPluginNotReady message:Network plugin returns error: ip link")
    node._network_changed(True, "", ["created bridge kltest-mon"])
    assert node._net_condition[:3] == ("NetworkUnavailable", "False", "RouteCreated") and node._readiness()[0]
    ev = node.kubelet.recorder.events
    assert [(e[1], e[2]) for e in ev] == [("Warning", "NetworkNotReady"), ("Warning", "NetworkRepaired")]
    assert ev[0][0] == {"kind": "Node", "metadata": {"name": "n1", "uid": "n1"}}
    assert ev[1][3] == "pod network on bridge kltest-mon repaired: created bridge kltest-mon"
    assert node.kubelet.node.kicked == 2


def test_network_unavailable_comes_first_and_keeps_its_transition_time() -> None:
    cond = ("NetworkUnavailable", "True", "NoRouteCreated", "broken")
    first = node_conditions([], "t1", extra=[cond])
    assert [c["type"] for c in first] == ["NetworkUnavailable", "MemoryPressure", "DiskPressure", "PIDPressure",
                                          "Ready"]
    again = node_conditions(first, "t2", extra=[cond])
    assert again[0]["lastTransitionTime"] == "t1" and again[0]["lastHeartbeatTime"] == "t2"
    fixed = node_conditions(again, "t3", extra=[("NetworkUnavailable", "False", "RouteCreated", "ok")])
    assert (fixed[0]["status"], fixed[0]["lastTransitionTime"]) == ("False", "t3")
    assert node_conditions(fixed, "t4")[0]["type"] == "NetworkUnavailable"  # set by others: kept
