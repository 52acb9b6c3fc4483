"""Which node(s) `kubeling up` runs, from the config: the one place that wires kubelets in.

- default (`--runtime runc`, or `crun`): the real node — OCI runtime, image service, CNI pod
  network, volume manager, the kubelet API on `--kubelet-port` (10250) and, in the background,
  the tutorial images plus a local registry mirroring docker.io (see `RealNode`).
- `--no-node` (or `--runtime none`): the control plane only.
- `--sim-nodes N`: N simulated kubelets (`sim-node-1..N`, pod CIDRs 10.244.1-N.0/24, node IPs
  127.0.1.1-N) sharing one pod informer, and no real node (`--sim-nodes 0`: no node at all).
- `--runtime simulated`: one simulated node named `--node-name` (pod CIDR 10.244.0.0/24).

The real node's InternalIP (`--node-ip`) defaults to the gateway address of its pod CIDR on the
bridge (10.244.0.1 on kubeling0): the API server reaches the kubelet API there (it is a local
address of the host), pods reach the node there (127.0.0.1 inside a pod is the pod itself),
and `status.hostIP` is an address that means the node from everywhere. hostPorts are DNATed by
portmap for any local destination, so they answer on 127.0.0.1 and on that address alike.
Without a pod network (no CNI plugins) the node falls back to 127.0.0.1.

The real node claims its bridge and CIDRs on the host (network/claim.py): a second cluster on
the same bridge or an overlapping cluster CIDR refuses to start, naming the other data dir. It
keeps its host network in repair while it runs (network/monitor.py): a missing bridge, address,
route or iptables rule is re-created, with a Node event and the NetworkUnavailable condition.

Stopping kubeling (SIGINT/SIGTERM) stops the kubelet, its API and the registry but leaves
containers, their monitors, the pod network and volumes in place: the next `kubeling up` on the
same data dir adopts them. `kubeling down` removes all of it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Awaitable

from .. import GIT_VERSION, __version__
from ..client.rest import Client
from ..config import Config
from .kubelet import Kubelet, KubeletConfig
from .node import NodeConfig

log = logging.getLogger("kubeling.kubelet")

REAL_NODE_BY_DEFAULT = True
RUNTIMES = ("runc", "crun", "simulated", "none")


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


class GatedImages:
    """The node's ImageService as the kubelet sees it:
    - pulls wait until the background image preparation (test images imported, local registry
      up and configured as the docker.io mirror) is done: until then a pod waits in
      ContainerCreating instead of failing to reach Docker Hub;
    - `pull_for_pod` pulls with the credentials of the pod's `imagePullSecrets` that match the
      image's registry (kubernetes.io/dockerconfigjson and dockercfg secrets)."""

    def __init__(self, service: Any, client: Any = None) -> None:
        self.service = service
        self.client = client
        self.ready = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.service, name)

    async def pull(self, image: str, *args: Any, **kwargs: Any) -> Any:
        await self.ready.wait()
        return await self.service.pull(image, *args, **kwargs)

    async def pull_for_pod(self, pod: dict[str, Any], container: dict[str, Any], auth: Any = None,
                           init: bool = False) -> Any:
        image = container.get("image", "")
        if auth is None:
            auth = await self.pod_auth(pod, image)
        return await (self.pull(image, auth) if auth else self.pull(image))

    async def pod_auth(self, pod: dict[str, Any], image: str) -> Any:
        """Credentials from the pod's pull secrets for the image's registry, or None."""
        from ..api import errors
        from ..api.resources import lookup
        from .images.reference import ReferenceError, normalize
        from .images.registries import auth_from_secrets

        names = [r.get("name", "") for r in (pod.get("spec") or {}).get("imagePullSecrets") or [] if r.get("name")]
        if not names or self.client is None:
            return None
        try:
            registry = normalize(image).domain
        except ReferenceError:
            return None
        secrets_res, ns = lookup("", "v1", "secrets"), (pod.get("metadata") or {}).get("namespace", "")
        found = []
        for name in names:
            try:
                found.append(await self.client.get(secrets_res, ns, name))
            except errors.StatusError as e:
                if e.code != 404:
                    raise
                log.warning("pod %s/%s: image pull secret %s not found", ns, pod["metadata"].get("name"), name)
        return auth_from_secrets(found, registry)


class RealNode:
    """The runc/crun node and everything around its kubelet (see the module docstring)."""

    def __init__(self, cfg: Config, client: Client) -> None:
        try:
            from .images.service import ImageService
            from .runtime.base import RuntimeError_
            from .runtime.oci import OCIRuntime
            from .volumes.manager import VolumeManager
        except ImportError as e:
            raise NodeSetupError(f"the {cfg.runtime} node is not available in this build ({e}); "
                                 "use --sim-nodes N or --runtime simulated") from e
        from .identities import node_clients

        self.cfg = cfg
        node = _node_config(cfg, "", simulated=False)
        agent_dir = os.path.join(cfg.data_dir, "agent")
        # kubelet, kube-proxy and DNS each authenticate as themselves (identities.py)
        self.clients = node_clients(client, node.name, agent_dir)
        self.client = client = self.clients.kubelet
        registries = os.path.join(cfg.data_dir, "registries.yaml")
        self.image_service = ImageService.for_data_dir(cfg.data_dir, registries if os.path.exists(registries) else "")
        self.images = GatedImages(self.image_service, client)
        self.network: Any = None
        try:
            from .network.podnet import PodNetwork

            self.network = PodNetwork(cfg.data_dir, pod_cidr=node.pod_cidr, bridge=cfg.pod_bridge,
                                      cluster_cidr=cfg.cluster_cidr, service_cidr=cfg.service_cidr)
        except Exception as e:  # the runtime falls back to loopback-only pods
            log.warning("pod network unavailable (%s); pods get loopback only", e)
        try:
            self.runtime = OCIRuntime(cfg.data_dir, runtime=cfg.runtime, images=self.images, network=self.network)
            self.runtime.check()
        except (RuntimeError_, ValueError, OSError) as e:
            msg = getattr(e, "message", str(e))
            raise NodeSetupError(f"cannot use the {cfg.runtime} runtime: {msg} "
                                 "(or run the control plane only with --no-node)") from e
        node.runtime_version = f"{self.runtime.name}://"  # + the version, once the runtime started
        node.kubelet_port = cfg.kubelet_port
        node.kube_proxy_version = GIT_VERSION if cfg.proxy_mode else ""
        self.node = node
        self.volumes = VolumeManager(client, os.path.join(agent_dir, "pods"), node.name)
        dns = [cfg.cluster_dns_ip] if cfg.cluster_dns_ip else []
        self.kubelet = Kubelet(client, KubeletConfig(node=node, root_dir=agent_dir, pod_log_dir=cfg.pod_log_dir,
                                                     cluster_dns=dns, cluster_domain=cfg.cluster_domain),
                               self.runtime, image_service=self.images, volume_manager=self.volumes)
        self.volumes.recorder = self.kubelet  # FailedMount events
        self.server: Any = None
        self.registry: Any = None
        self.proxier: Any = None
        self._net_condition: tuple[str, str, str, str] | None = None  # NetworkUnavailable, once it mattered
        self._net_error = ""
        self.kubelet.node.extra_conditions = lambda: [self._net_condition] if self._net_condition else []
        self.kubelet.node.readiness = self._readiness
        if self.network is not None:  # last: nothing above may fail with the claim held
            from .network.claim import ClaimError

            try:
                self.network.claim.acquire()
            except ClaimError as e:
                raise NodeSetupError(e.message) from None

    @property
    def name(self) -> str:
        return self.node.name

    async def _node_ip(self) -> str:
        """--node-ip, else the bridge gateway once the host side of the pod network is up."""
        if self.cfg.node_ip:
            return self.cfg.node_ip
        if self.network is not None:
            try:
                await self.network.setup_host()
                return str(self.network.gateway)
            except Exception as e:
                log.error("pod network not ready: %s", getattr(e, "message", e))
        return "127.0.0.1"

    def _readiness(self) -> tuple[bool, str]:
        """Ready=False while the pod network is broken, as upstream reports a runtime whose
        network is not ready."""
        if not self._net_error:
            return True, ""
        return False, ("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                       f"message:Network plugin returns error: {self._net_error}")

    def _network_changed(self, ok: bool, message: str, repaired: list[str]) -> None:
        """NetworkMonitor's report: a Node event, NetworkUnavailable (reasons as upstream's route
        controller) and Ready."""
        bridge = self.network.bridge
        ref = {"kind": "Node", "metadata": {"name": self.name, "uid": self.name}}
        if ok:
            self._net_condition = ("NetworkUnavailable", "False", "RouteCreated",
                                   f"kubelet set up the pod network on bridge {bridge}")
            self._net_error = ""
            if repaired:
                self.kubelet.recorder.event(ref, "Warning", "NetworkRepaired",
                                            f"pod network on bridge {bridge} repaired: {'; '.join(repaired)}")
        else:
            self._net_condition = ("NetworkUnavailable", "True", "NoRouteCreated",
                                   f"pod network on bridge {bridge} is broken: {message}")
            self._net_error = message
            self.kubelet.recorder.event(ref, "Warning", "NetworkNotReady",
                                        f"pod network on bridge {bridge} is broken and could not be repaired: "
                                        f"{message}")
        self.kubelet.node.status_changed()

    async def _start_server(self) -> None:
        """The kubelet API, with a serving certificate from the cluster CA for the node's names."""
        from ..pki import ensure_pki
        from .auth import ClientReviewer, KubeletAuth
        from .identities import write_kubeconfigs
        from .server import KubeletServer, ensure_serving_cert
        from .stats import StatsProvider

        cfg = self.cfg
        pki = ensure_pki(cfg.data_dir, cfg.bind, cfg.first_service_ip, [cfg.advertise] if cfg.advertise else [])
        cert_dir = os.path.join(cfg.data_dir, "agent", "pki")
        cert, key = await asyncio.to_thread(ensure_serving_cert, pki, cert_dir, self.node.name, [self.node.ip])
        # what the node's components would authenticate with over HTTPS (a node elsewhere)
        await asyncio.to_thread(write_kubeconfigs, pki, os.path.join(cfg.data_dir, "agent"), cfg.server_url,
                                self.node.name)
        self.server = KubeletServer(self.runtime, self.kubelet.pod_by_name, host=self.node.ip, port=cfg.kubelet_port,
                                    cert_file=cert, key_file=key, client_ca_file=pki.ca_cert,
                                    auth=KubeletAuth(ClientReviewer(self.clients.kubelet), self.node.name),
                                    log_dir=cfg.pod_log_dir, stats=StatsProvider(
                                        self.runtime, self.kubelet.pods.values, self.node.name).summary)
        try:
            await self.server.start()
        except OSError as e:
            log.error("kubelet API: cannot listen on %s:%d (%s); logs/exec/port-forward will not work "
                      "(use --kubelet-port)", self.node.ip, cfg.kubelet_port, e)
            self.server = None
            return
        self.node.kubelet_port = self.server.port

    async def _run_proxy(self) -> None:
        """kube-proxy for this node (proxy/): node ports on the node IP and 127.0.0.1."""
        from ..proxy import ProxyConfig, Proxier, cleanup, make_backend
        from .network.claim import owner_id

        cfg = self.cfg
        pcfg = ProxyConfig(mode=cfg.proxy_mode, node_name=self.name, node_ips=(self.node.ip, "127.0.0.1"),
                           owner=owner_id(cfg.data_dir), cluster_cidr=cfg.cluster_cidr, bridge=cfg.pod_bridge)
        await cleanup(pcfg.owner, keep=cfg.proxy_mode)  # what another mode left (a mode change)
        self.proxier = Proxier(self.clients.proxy, pcfg, make_backend(pcfg))
        await self.proxier.run()

    async def _run_dns(self) -> None:
        """The cluster DNS server on the node's address, published as kube-system/kube-dns."""
        from ..dns.server import ClusterDNS, host_upstreams, publisher

        cfg = self.cfg
        client = self.clients.dns
        dns = ClusterDNS(client, self.node.ip, list(cfg.dns_upstreams) or host_upstreams(), cfg.cluster_domain)
        await asyncio.gather(dns.run(), publisher(client, cfg.cluster_dns_ip, self.node.ip, dns.port).run(),
                             self._run_dns_pod(dns))

    async def _run_dns_pod(self, dns: Any) -> None:
        """The mirror pod `kube-system/kube-dns-<node>` of the in-process DNS server, once it serves
        and the Node (its owner) exists: the kubelet's, as NodeRestriction lets a node create."""
        from ..dns.server import kube_dns_static_pod
        from .mirror import MirrorPod

        await asyncio.gather(dns.listening.wait(), self.kubelet.node.registered.wait())
        node_uid = ((self.kubelet.node.node or {}).get("metadata") or {}).get("uid", "")
        keeper = MirrorPod(self.client, kube_dns_static_pod(dns.port, f"kubeling/dns:{__version__}"), self.name,
                           node_uid, self.node.ip, "kubeling://dns")
        self.kubelet.mirror_observers.append(keeper.observe)
        await keeper.run()

    async def _prepare_images(self) -> None:
        """Build/import the tutorial images and serve them from a local registry that mirrors
        docker.io; pulls wait for this (GatedImages)."""
        from ..logsetup import step
        from .images import build, localregistry

        data = self.cfg.data_dir
        t0 = time.monotonic()
        try:
            with step("Preparing images") as detail:
                names = await asyncio.to_thread(build.ensure_test_images, data)
                detail.append(" ".join(sorted(names)))
            log.info("test images ready in the node's store (%.1f s): %s", time.monotonic() - t0,
                     " ".join(sorted(names)))
            with step("Starting the local registry") as detail:
                workdir = os.path.join(data, "agent", "registry")
                await asyncio.to_thread(_stop_stale_registry, workdir)
                self.registry = await asyncio.to_thread(localregistry.start_registry, workdir)
                await build.push_test_images(data, self.registry.url)
                detail.append(f"{self.registry.url} mirrors docker.io")
            mirrors = self.image_service.client.config.mirrors
            if "docker.io" not in mirrors:
                mirrors["docker.io"] = {"endpoint": [self.registry.url]}
            log.info("local registry %s mirrors docker.io (%.1f s)", self.registry.url, time.monotonic() - t0)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.error("test images unavailable: %s", e)
        finally:
            self.images.ready.set()

    async def run(self) -> None:
        tasks: list[asyncio.Task[Any]] = []
        try:
            self.node.ip = await self._node_ip()
            if self.network is not None:
                from .network.monitor import NetworkMonitor

                monitor = NetworkMonitor(self.network, self._network_changed, self.cfg.network_check_period)
                tasks.append(asyncio.create_task(monitor.run(), name="node-network"))
            await self._start_server()
            if self.cfg.proxy_mode:
                tasks.append(asyncio.create_task(self._run_proxy(), name="kube-proxy"))
            if self.cfg.cluster_dns_ip:
                tasks.append(asyncio.create_task(self._run_dns(), name="cluster-dns"))
            if self.cfg.test_images:
                tasks.append(asyncio.create_task(self._prepare_images(), name="node-images"))
            else:
                self.images.ready.set()
            await self.kubelet.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("node %s failed", self.name)
            raise
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.close()
            from ..client.informer import SharedInformers

            for c in self.clients.all():  # proxy and DNS share informers among their own loops
                await SharedInformers.of(c).shutdown()
                await c.close()

    async def close(self) -> None:
        """Stop what this process runs (API, registry, zygote); containers keep running."""
        if self.server is not None:
            await self.server.stop()
        if self.registry is not None:
            await asyncio.to_thread(self.registry.stop)
            self.registry = None
        await self.runtime.close()
        await self.image_service.close()
        try:
            await self._tidy_if_unused()
        except Exception as e:
            log.warning("node %s: cleanup at exit: %s", self.name, e)
        if self.network is not None:
            self.network.claim.release()

    async def _tidy_if_unused(self) -> None:
        """A node that has no pod left leaves nothing on the host when it stops (the bridge, its
        routes and rules, the runtime's state dir): short-lived clusters that never ran a pod
        then need no `kubeling down`. Not when any pod of any node still uses the bridge."""
        if await self.runtime.list_sandboxes() or await self.runtime.list_containers():
            return
        for d in (self.runtime.state_root, os.path.dirname(self.runtime.state_root)):
            try:
                os.rmdir(d)  # empty without containers
            except OSError:
                pass
        if self.network is not None:
            ports = f"/sys/class/net/{self.network.bridge}/brif"
            if not os.path.isdir(ports) or not os.listdir(ports):
                await self.network.teardown_host()
                if self.proxier is not None:
                    await self.proxier.backend.cleanup()


def _stop_stale_registry(workdir: str) -> None:
    """A registry left running by a kubeling that was killed: stop it by its recorded PID,
    after checking that PID is a docker-registry serving this workdir's config."""
    import signal

    try:
        with open(os.path.join(workdir, "pid")) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except (OSError, ValueError):
        return
    if any(a.endswith(b"docker-registry") for a in argv) and os.path.join(workdir, "config.yml").encode() in argv:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(100):
            if not os.path.exists(f"/proc/{pid}"):
                return
            time.sleep(0.02)


def node_runners(cfg: Config, client: Client) -> list[tuple[str, Awaitable[None]]]:
    """(task name, coroutine) for every node this process runs; [] for a control plane only."""
    if cfg.runtime not in RUNTIMES:
        raise NodeSetupError(f"unknown --runtime {cfg.runtime!r} (choose one of {', '.join(RUNTIMES)})")
    if cfg.sim_nodes is not None:  # --sim-nodes N: N simulated nodes and no real node (0: none at all)
        if cfg.sim_nodes <= 0:
            return []
        from .sim import SimulatedNodes

        nodes = SimulatedNodes(client, cfg.sim_nodes, cluster_cidr=cfg.cluster_cidr, pod_log_dir=cfg.pod_log_dir,
                               lease_duration=cfg.node_lease_duration,
                               status_update_frequency=cfg.node_status_update_frequency)
        return [("sim-nodes", nodes.run())]
    if cfg.no_node or cfg.runtime == "none":
        return []
    # `client` makes no request itself: every node component derives its own identity from it
    # (identities.py). A kubelet is system:node:<name> (Node authorizer + NodeRestriction);
    # simulated nodes (--sim-nodes) each act as their own node too, over informers they share (sim.py).
    if cfg.runtime == "simulated":
        k = _simulated_node(cfg, client.as_node(cfg.node_name_or_default, own_informers=True)
                            if client is not None else client)
        return [(f"kubelet-{k.node_name}", k.run())]
    if not (cfg.runtime_explicit or REAL_NODE_BY_DEFAULT):
        return []
    node = RealNode(cfg, client)
    return [(f"kubelet-{node.name}", node.run())]
