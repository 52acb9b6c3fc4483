"""kubelet/agent.py: which node `kubeling up` runs, from the flags; pulls wait for the images."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import pytest

from kubeling import cli
from kubeling.config import Config
from kubeling.kubelet import agent


def _cfg(*flags: str) -> Config:
    args = cli._parser().parse_args(["up", *flags])
    cfg = Config()
    cli._apply_node_flags(cfg, args)
    return cfg


def _names(cfg: Config) -> list[str]:
    runners = agent.node_runners(cfg, client=None)  # type: ignore[arg-type]
    for _, coro in runners:
        coro.close()  # type: ignore[attr-defined]
    return [n for n, _ in runners]


def test_flags() -> None:
    cfg = _cfg()
    assert (cfg.runtime, cfg.no_node, cfg.kubelet_port, cfg.pod_bridge, cfg.test_images) == \
        ("runc", False, 10250, "kubeling0", True)
    cfg = _cfg("--no-node", "--kubelet-port", "0", "--pod-bridge", "kltest9", "--no-test-images")
    assert (cfg.no_node, cfg.kubelet_port, cfg.pod_bridge, cfg.test_images) == (True, 0, "kltest9", False)
    assert _cfg("--runtime", "none").no_node
    assert _cfg("--runtime", "crun").runtime_explicit


def test_control_plane_only() -> None:
    assert _names(_cfg("--no-node")) == []
    assert _names(_cfg("--runtime", "none")) == []


def test_simulated_nodes_win_over_no_node() -> None:
    assert _names(_cfg("--no-node", "--sim-nodes", "2")) == ["sim-nodes"]


def test_sim_nodes_zero_means_no_node() -> None:
    """`--sim-nodes 0` ran the real node (on the default bridge) against its help text."""
    assert _cfg("--sim-nodes", "0").sim_nodes == 0
    assert _names(_cfg("--sim-nodes", "0")) == []
    assert _cfg().sim_nodes is None


def test_unknown_runtime() -> None:
    cfg = Config(runtime="docker")
    with pytest.raises(agent.NodeSetupError, match="unknown --runtime 'docker'"):
        agent.node_runners(cfg, client=None)  # type: ignore[arg-type]


def test_real_node_is_the_default() -> None:
    assert agent.REAL_NODE_BY_DEFAULT


async def test_pulls_wait_for_the_images() -> None:
    class Service:
        pulled: list[str] = []

        def status(self, image: str) -> None:
            return None

        async def pull(self, image: str) -> str:
            self.pulled.append(image)
            return image

    svc = Service()
    gated = agent.GatedImages(svc)
    assert gated.status("nginx") is None  # everything else passes through
    task = asyncio.create_task(gated.pull("nginx"))
    await asyncio.sleep(0.01)
    assert not task.done() and svc.pulled == []
    gated.ready.set()
    assert await task == "nginx" and svc.pulled == ["nginx"]


def test_stale_registry_check_leaves_other_processes(tmp_path: Any) -> None:
    """Only a docker-registry serving this workdir's config is stopped."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "pid").write_text(str(p.pid))
        agent._stop_stale_registry(str(tmp_path))
        assert p.poll() is None
        (tmp_path / "pid").write_text("not a pid")
        agent._stop_stale_registry(str(tmp_path))
        os.unlink(tmp_path / "pid")
        agent._stop_stale_registry(str(tmp_path))
    finally:
        p.kill()
        p.wait()


def test_down_finds_the_runtime_state_root(tmp_path: Any) -> None:
    """`kubeling down` looks for containers where the node's OCIRuntime keeps its state."""
    from kubeling import down
    from kubeling.kubelet.runtime.oci import OCIRuntime

    rt = OCIRuntime(str(tmp_path / "data"), runtime="runc")
    assert os.path.dirname(rt.state_root) == down.state_dir(str(tmp_path / "data"))
    assert os.path.basename(rt.state_root) == "runc"


class _FakeRuntime:
    def __init__(self, state_root: str, sandboxes: list[str]) -> None:
        self.state_root = state_root
        self.sandboxes = sandboxes

    async def list_sandboxes(self) -> list[str]:
        return self.sandboxes

    async def list_containers(self) -> list[str]:
        return []


class _FakeNetwork:
    bridge = "kltest-none"  # no such link: no pod of anyone is on it
    torn_down = False

    async def teardown_host(self) -> None:
        self.torn_down = True


async def test_a_node_without_pods_leaves_nothing_when_it_stops(tmp_path: Any) -> None:
    root = tmp_path / "run" / "abc" / "runc"
    root.mkdir(parents=True)
    node = agent.RealNode.__new__(agent.RealNode)
    node.runtime, node.network = _FakeRuntime(str(root), ["some-pod"]), _FakeNetwork()
    node.proxier = None
    await node._tidy_if_unused()
    assert root.exists() and not node.network.torn_down  # pods left: everything stays
    node.runtime.sandboxes = []
    await node._tidy_if_unused()
    assert not (tmp_path / "run" / "abc").exists() and node.network.torn_down


async def test_pull_for_pod_uses_the_pods_pull_secrets() -> None:
    import base64
    import json as _json

    from kubeling.api import errors

    cfg = {"auths": {"registry.example.com": {"username": "u", "password": "p"},
                     "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw").decode()}}}
    secret = {"metadata": {"name": "creds"}, "type": "kubernetes.io/dockerconfigjson",
              "data": {".dockerconfigjson": base64.b64encode(_json.dumps(cfg).encode()).decode()}}

    class Client:
        async def get(self, res: Any, ns: str, name: str) -> dict[str, Any]:
            if name == "creds" and ns == "team":
                return secret
            raise errors.StatusError(404, "NotFound", f"secrets {name!r} not found")

    class Service:
        pulls: list[tuple[str, Any]] = []

        async def pull(self, image: str, auth: Any = None) -> str:
            self.pulls.append((image, auth))
            return image

    svc = Service()
    gated = agent.GatedImages(svc, Client())
    gated.ready.set()
    pod = {"metadata": {"name": "p", "namespace": "team"},
           "spec": {"imagePullSecrets": [{"name": "missing"}, {"name": "creds"}]}}
    await gated.pull_for_pod(pod, {"image": "registry.example.com/app:1"})
    await gated.pull_for_pod(pod, {"image": "nginx"})
    await gated.pull_for_pod(pod, {"image": "other.example.com/x"})
    await gated.pull_for_pod({"metadata": {"name": "q", "namespace": "team"}, "spec": {}}, {"image": "nginx"})
    (i1, a1), (i2, a2), (i3, a3), (i4, a4) = svc.pulls
    assert (a1.username, a1.password) == ("u", "p")
    assert (a2.username, a2.password) == ("hub", "pw")
    assert a3 is None and a4 is None


def test_real_node_address_is_where_pods_reach_the_api() -> None:
    from kubeling.config import Config

    assert Config().real_node_address == "10.244.0.1"
    assert Config(cluster_cidr="10.250.7.0/24").real_node_address == "10.250.7.1"
    assert Config(node_ip="192.0.2.5").real_node_address == "192.0.2.5"
    assert Config(no_node=True).real_node_address == ""
    assert Config(sim_nodes=3).real_node_address == ""
