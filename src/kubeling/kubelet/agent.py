"""Which node(s) `kubeling up` runs, from the config: the one place that wires kubelets in.

- `--sim-nodes N`: N simulated kubelets (`sim-node-1..N`, pod CIDRs 10.244.1-N.0/24, node IPs
  127.0.1.1-N) sharing one pod informer, and no real node.
- `--runtime simulated`: one simulated node named `--node-name` (pod CIDR 10.244.0.0/24).
- `--runtime runc|crun`: the real node (OCI runtime, images, pod network, volumes).

The real node is started by default once `REAL_NODE_BY_DEFAULT` is switched on (when the OCI
runtime, network and volume modules are wired and their tests clean up after themselves);
until then a plain `kubeling up` runs the control plane only and `--runtime runc|crun` asks
for the real node explicitly (failing with a clear message if it cannot be built).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Awaitable

from ..client.rest import Client
from ..config import Config
from .kubelet import Kubelet, KubeletConfig
from .node import NodeConfig

log = logging.getLogger("kubeling.kubelet")

REAL_NODE_BY_DEFAULT = False
RUNTIMES = ("runc", "crun", "simulated")


class NodeSetupError(Exception):
    """The requested node cannot run here (message says why and what to do)."""


def _node_config(cfg: Config, runtime_version: str, simulated: bool) -> NodeConfig:
    from .sim import sim_pod_cidr

    return NodeConfig(name=cfg.node_name_or_default, ip=cfg.node_ip_or_default, pod_cidr=sim_pod_cidr(0, cfg.cluster_cidr),
                      runtime_version=runtime_version, simulated=simulated, control_plane=True,
                      data_dir=cfg.data_dir, lease_duration=cfg.node_lease_duration,
                      status_update_frequency=cfg.node_status_update_frequency)


def _simulated_node(cfg: Config, client: Client) -> Kubelet:
    from .runtime.simulated import SimulatedRuntime
    from .sim import sim_pod_cidr

    runtime = SimulatedRuntime(pod_cidr=sim_pod_cidr(0, cfg.cluster_cidr), node_name=cfg.node_name_or_default)
    node = _node_config(cfg, f"{runtime.name}://{runtime.version}", simulated=True)
    return Kubelet(client, KubeletConfig(node=node, root_dir=os.path.join(cfg.data_dir, "agent"),
                                         pod_log_dir=cfg.pod_log_dir), runtime)


def _real_node(cfg: Config, client: Client) -> Kubelet:
    """runc/crun: the OCI runtime with the image service, the pod network and the volume manager."""
    try:
        from .images.service import ImageService
        from .runtime.oci import OCIRuntime
        from .volumes.manager import VolumeManager
    except ImportError as e:
        raise NodeSetupError(f"the {cfg.runtime} node is not available in this build ({e}); "
                             "use --sim-nodes N or --runtime simulated") from e
    registries = os.path.join(cfg.data_dir, "registries.yaml")
    images = ImageService.for_data_dir(cfg.data_dir, registries if os.path.exists(registries) else "")
    network: Any = None
    try:
        from .network.podnet import PodNetwork

        network = PodNetwork(cfg.data_dir, pod_cidr=_node_config(cfg, "", False).pod_cidr)
    except Exception as e:  # the runtime falls back to loopback-only pods
        log.warning("pod network unavailable (%s); pods get loopback only", e)
    try:
        runtime = OCIRuntime(cfg.data_dir, runtime=cfg.runtime, images=images, network=network)
    except Exception as e:
        raise NodeSetupError(f"cannot use the {cfg.runtime} runtime: {e}") from e
    node = _node_config(cfg, f"{runtime.name}://{runtime.version}", simulated=False)
    agent_dir = os.path.join(cfg.data_dir, "agent")
    volumes = VolumeManager(client, os.path.join(agent_dir, "pods"), node.name)
    return Kubelet(client, KubeletConfig(node=node, root_dir=agent_dir, pod_log_dir=cfg.pod_log_dir), runtime,
                   image_service=images, volume_manager=volumes)


def node_runners(cfg: Config, client: Client) -> list[tuple[str, Awaitable[None]]]:
    """(task name, coroutine) for every node this process runs; [] for a control plane only."""
    if cfg.runtime not in RUNTIMES:
        raise NodeSetupError(f"unknown --runtime {cfg.runtime!r} (choose one of {', '.join(RUNTIMES)})")
    if cfg.sim_nodes > 0:
        from .sim import SimulatedNodes

        nodes = SimulatedNodes(client, cfg.sim_nodes, cluster_cidr=cfg.cluster_cidr, pod_log_dir=cfg.pod_log_dir,
                               lease_duration=cfg.node_lease_duration,
                               status_update_frequency=cfg.node_status_update_frequency)
        return [("sim-nodes", nodes.run())]
    if cfg.runtime == "simulated":
        k = _simulated_node(cfg, client)
        return [(f"kubelet-{k.node_name}", k.run())]
    if not (cfg.runtime_explicit or REAL_NODE_BY_DEFAULT):
        log.warning("no node: the real node (runc/crun) starts only with --runtime runc|crun for now; "
                    "use --sim-nodes N for simulated nodes")
        return []
    k = _real_node(cfg, client)
    return [(f"kubelet-{k.node_name}", k.run())]
