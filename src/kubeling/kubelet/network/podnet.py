"""`PodNetwork`: one node's pod network (bridge + host-local IPAM + portmap) and its pods' netns.

State lives under `DATA/agent/cni/`:
  host.json                 the node's bridge and CIDRs (so `kubeling down` can undo them)
  net.d/10-<name>.conflist  the chained network config (for humans and other tools)
  ipam/<name>/              host-local's allocations (one file per IP, holding the sandbox ID)
  results/<pod uid>.json    each pod's ADD result + the config used (DEL needs both, even
                            after a restart or a config change)
Everything is idempotent and restart-safe: `add` of a pod already set up returns its
existing IPs, `remove` of a pod already gone succeeds, and `list_netns()` rediscovers pods.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from . import cni, host, netns
from .claim import Claim, HostClaim, link_alias, owner_id

log = logging.getLogger(__name__)

DEFAULT_POD_CIDR = "10.244.0.0/24"
DEFAULT_CLUSTER_CIDR = "10.244.0.0/16"
DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
DEFAULT_BRIDGE = "kubeling0"
DEFAULT_NETWORK_NAME = "kubeling"


@dataclass
class PodNetStatus:
    """What the node knows about one pod's network (for re-adoption after a restart)."""

    pod_uid: str
    namespace: str
    name: str
    netns_path: str
    ips: list[str] = field(default_factory=list)
    port_mappings: list[dict[str, Any]] = field(default_factory=list)
    netns_exists: bool = True
    created_at: float = 0.0


def cni_dir(data_dir: str) -> str:
    return os.path.join(data_dir, "agent", "cni")


def _write_json(path: str, obj: Any) -> None:
    """Atomic write (tmp + rename), so a crash never leaves a half-written state file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def _read_json(path: str) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return None


class PodNetwork:
    def __init__(self, data_dir: str, pod_cidr: str = DEFAULT_POD_CIDR, bridge: str = DEFAULT_BRIDGE,
                 cluster_cidr: str = DEFAULT_CLUSTER_CIDR, service_cidr: str = DEFAULT_SERVICE_CIDR, *,
                 network_name: str = DEFAULT_NETWORK_NAME, netns_prefix: str = netns.DEFAULT_PREFIX,
                 bin_dir: str | None = None, timeout: float = 20.0) -> None:
        net = ipaddress.ip_network(pod_cidr)
        if net.num_addresses < 4:
            raise ValueError(f"pod CIDR {pod_cidr} is too small")
        if len(bridge) > 15:
            raise ValueError(f"bridge name {bridge!r} is longer than 15 characters")
        self.data_dir = data_dir
        self.pod_cidr = str(net)
        self.bridge = bridge
        self.cluster_cidr = str(ipaddress.ip_network(cluster_cidr))
        self.service_cidr = str(ipaddress.ip_network(service_cidr))
        self.network_name = network_name
        self.netns_prefix = netns_prefix
        self.bin_dir = bin_dir
        self.timeout = timeout
        self.gateway = str(net.network_address + 1)
        self.dir = cni_dir(data_dir)
        self.ipam_dir = os.path.join(self.dir, "ipam")
        self.results_dir = os.path.join(self.dir, "results")
        self.conflist = cni.pod_conflist(network_name, bridge, self.pod_cidr, self.ipam_dir, gateway=self.gateway)
        self.owner = owner_id(data_dir)
        self.claim = HostClaim(Claim(os.path.abspath(data_dir), self.owner, bridge, self.cluster_cidr,
                                     self.service_cidr), own_ports=lambda: set(self.host_ports()))
        self.warnings: list[str] = []
        self._host_ready = False
        self._host_lock = asyncio.Lock()
        self._pod_locks: dict[str, asyncio.Lock] = {}

    @classmethod
    def from_state(cls, data_dir: str) -> "PodNetwork | None":
        """The PodNetwork a node set up in data_dir (from host.json), or None."""
        st = _read_json(os.path.join(cni_dir(data_dir), "host.json"))
        if not isinstance(st, dict):
            return None
        return cls(data_dir, st["pod_cidr"], st["bridge"], st["cluster_cidr"], st["service_cidr"],
                   network_name=st.get("network_name", DEFAULT_NETWORK_NAME),
                   netns_prefix=st.get("netns_prefix", netns.DEFAULT_PREFIX), bin_dir=st.get("bin_dir"))

    # --- host ------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._host_ready

    def _state(self) -> dict[str, Any]:
        return {"bridge": self.bridge, "pod_cidr": self.pod_cidr, "cluster_cidr": self.cluster_cidr,
                "service_cidr": self.service_cidr, "gateway": self.gateway, "network_name": self.network_name,
                "netns_prefix": self.netns_prefix, "bin_dir": self.bin_dir}

    async def setup_host(self) -> None:
        """Claim the bridge and CIDRs (ClaimError if another data dir has them), then bridge +
        gateway IP, routes for the cluster and service CIDRs onto the bridge, sysctls,
        masquerade and forward rules. Idempotent; raises NetworkError (NetworkPluginNotReady)
        with a message the node can put in its Ready condition."""
        async with self._host_lock:
            self.claim.acquire()
            try:
                await self._setup_host()
            except (OSError, cni.NetworkError) as e:
                msg = e.message if isinstance(e, cni.NetworkError) else str(e)
                raise cni.NetworkError("NetworkPluginNotReady",
                                       f"container runtime network not ready: NetworkReady=false "
                                       f"reason:NetworkPluginNotReady message:Network plugin returns error: "
                                       f"{msg}") from None
            self._host_ready = True

    async def _setup_host(self) -> None:
        dirs = (self.bin_dir,) if self.bin_dir else cni.DEFAULT_BIN_DIRS
        found = cni.find_bin_dir(dirs)
        if not found:
            raise cni.NetworkError("NetworkPluginNotReady",
                                   f"cni plugin not initialized: no directory of {list(dirs)} has "
                                   f"{', '.join(cni.REQUIRED_PLUGINS)} (apt-get install containernetworking-plugins)")
        self.bin_dir = found
        os.makedirs(self.ipam_dir, exist_ok=True)
        os.makedirs(self.results_dir, exist_ok=True)
        _write_json(os.path.join(self.dir, "host.json"), self._state())
        _write_json(os.path.join(self.dir, "net.d", f"10-{self.network_name}.conflist"), self.conflist)
        await self._ensure_host()
        self.warnings = await host.ensure_sysctls()
        for w in self.warnings:
            log.warning("pod network: %s", w)

    async def _ensure_host(self) -> list[str]:
        """Bridge (marked as ours), address, routes, chains, rules and the pods' ports on the
        bridge: create what is missing, return what that was."""
        prefix = ipaddress.ip_network(self.pod_cidr).prefixlen
        done = await host.ensure_bridge(self.bridge, f"{self.gateway}/{prefix}", self.claim.mark)
        done += await host.ensure_route(self.cluster_cidr, self.bridge, self.gateway)
        done += await host.ensure_route(self.service_cidr, self.bridge, self.gateway, shared=True)
        for table, chain, parent, top in host.CHAINS:
            done += await host.ensure_chain(table, chain, parent, top)
        for rule in host.masquerade_rules(self.bridge, self.pod_cidr, self.cluster_cidr, self.owner):
            done += await host.ensure_rule("nat", host.POSTROUTING_CHAIN, rule)
        for rule in host.forward_rules(self.bridge, self.pod_cidr, self.owner):
            done += await host.ensure_rule("filter", host.FORWARD_CHAIN, rule)
        for port in self.host_ports():
            done += await host.ensure_port(port, self.bridge)
        return done

    async def reconcile(self) -> list[str]:
        """Repair the host side of a network set up before (a bridge, address, route, chain or
        rule deleted by another program or a network restart; pods' veths left without their
        bridge): returns what was re-created, [] when all was in place. Raises OSError or
        NetworkError when it can't."""
        if not self._host_ready:  # setup failed at start: try again
            await self.setup_host()
            return [f"set up bridge {self.bridge}"]
        async with self._host_lock:
            return await self._ensure_host()

    def host_ports(self) -> list[str]:
        """The pods' host-side veths (from the CNI results)."""
        ports = []
        for fn in self._result_files():
            rec = _read_json(fn) or {}
            for iface in ((rec.get("result") or {}).get("interfaces") or []):
                name = iface.get("name")
                if name and not iface.get("sandbox") and name != self.bridge:
                    ports.append(name)
        return ports

    def owns_bridge(self) -> bool:
        """The bridge carries our owner mark, or no mark (made by the CNI plugin, or by a
        kubeling from before owner marks) and no interface but our pods'; and no other data
        dir claims it."""
        return link_alias(self.bridge) in (None, "", self.claim.mark) and not self.claim.foreign_ports() \
            and not self.claim.claimed_by_other()

    async def teardown_host(self) -> None:
        """Remove every pod's network, then the bridge and our routes if the bridge is ours,
        our rules (and chains no other node uses), portmap's chains if unused, the IPAM state,
        host.json and our claim. Another data dir's bridge is never touched. ip_forward stays 1
        (other software may rely on it)."""
        async with self._host_lock:
            for st in self.list_netns():
                try:
                    await self.remove(st.pod_uid)
                except cni.NetworkError as e:
                    log.warning("teardown: %s", e.message)
            if self.owns_bridge():
                for cidr in (self.cluster_cidr, self.service_cidr):
                    await host.delete_route(cidr, self.bridge)
                await host.delete_link(self.bridge)
            else:
                log.warning("bridge %s belongs to another kubeling data dir: left in place", self.bridge)
            await host.remove_bridge_rules(self.bridge, self.owner)
            await host.drop_portmap_chains_if_unused()
            self.claim.remove()
            shutil.rmtree(os.path.join(self.ipam_dir, self.network_name), ignore_errors=True)
            for p in (os.path.join(self.dir, "host.json"),
                      os.path.join(self.dir, "net.d", f"10-{self.network_name}.conflist")):
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass
            self._host_ready = False

    # --- pods ------------------------------------------------------------------------------

    def netns_name(self, pod_uid: str) -> str:
        return netns.netns_name(pod_uid, self.netns_prefix)

    def _result_path(self, pod_uid: str) -> str:
        return os.path.join(self.results_dir, f"{pod_uid}.json")

    def _lock(self, pod_uid: str) -> asyncio.Lock:
        return self._pod_locks.setdefault(pod_uid, asyncio.Lock())

    def _env(self, pod_uid: str, ns_path: str, ifname: str, namespace: str, name: str) -> dict[str, str]:
        args = cni.cni_args(namespace, name, pod_uid, pod_uid)
        return cni.plugin_env("ADD", pod_uid, ns_path, ifname, args, self.bin_dir or "")

    async def add(self, pod_uid: str, namespace: str, name: str,
                  port_mappings: Iterable[dict[str, Any]] = ()) -> tuple[str, list[str]]:
        """Create the pod's netns and attach it (loopback, then bridge → portmap).
        Returns (netns path, pod IPs). Raises NetworkError(FailedCreatePodSandBox) after
        undoing whatever part succeeded."""
        if not self._host_ready:
            await self.setup_host()
        async with self._lock(pod_uid):
            cached = self.status(pod_uid)
            if cached and cached.netns_exists and cached.ips:
                return cached.netns_path, cached.ips
            t0 = time.monotonic()
            pm = cni.port_mappings(list(port_mappings))
            ns_name = self.netns_name(pod_uid)
            try:
                ns_path = await netns.create(ns_name)
            except OSError as e:
                raise cni.NetworkError("FailedCreatePodSandBox",
                                       f'failed to create network namespace for sandbox "{pod_uid}": {e}') from None
            conflist = self.conflist if pm else cni.without_plugin(self.conflist, "portmap")
            # lo and eth0 are independent: bring them up concurrently
            lo = cni.add_list(self.bin_dir or "", cni.loopback_config(), {},
                              self._env(pod_uid, ns_path, "lo", namespace, name), self.timeout)
            eth0 = cni.add_list(self.bin_dir or "", conflist, {"portMappings": pm},
                                self._env(pod_uid, ns_path, "eth0", namespace, name), self.timeout)
            try:
                results = await asyncio.gather(lo, eth0, return_exceptions=True)
                for r in results:
                    if isinstance(r, BaseException):
                        raise r
                result = results[1]
                ips = cni.result_ips(result)
                if not ips:
                    raise cni.CNIPluginError("bridge", "ADD", 999, "no IP addresses in the result")
            except cni.CNIPluginError as e:
                await self._undo(pod_uid, ns_name, ns_path, conflist, pm, namespace, name)
                raise cni.NetworkError("FailedCreatePodSandBox",
                                       f'failed to setup network for sandbox "{pod_uid}": {e}') from None
            _write_json(self._result_path(pod_uid), {
                "pod_uid": pod_uid, "namespace": namespace, "name": name, "netns": ns_name,
                "netns_path": ns_path, "ips": ips, "port_mappings": pm, "result": result,
                "conflist": conflist, "created_at": time.time()})
            log.debug("pod network for %s/%s: %s in %.1f ms", namespace, name, ips, (time.monotonic() - t0) * 1e3)
            return ns_path, ips

    async def _undo(self, pod_uid: str, ns_name: str, ns_path: str, conflist: dict[str, Any],
                    pm: list[dict[str, Any]], namespace: str, name: str) -> None:
        try:
            await cni.del_list(self.bin_dir or "", conflist, {"portMappings": pm}, None,
                               self._env(pod_uid, ns_path, "eth0", namespace, name), self.timeout)
        except cni.CNIPluginError as e:
            log.warning("cleanup after failed ADD of %s: %s", pod_uid, e)
        try:
            await netns.delete(ns_name)
        except OSError as e:
            log.warning("cleanup after failed ADD of %s: %s", pod_uid, e)

    async def remove(self, pod_uid: str) -> None:
        """CNI DEL in reverse chain order (portmap, then bridge, releasing the IP) and delete the
        netns. Succeeds when nothing is left; raises NetworkError(FailedKillPod) if a plugin
        fails (the netns is deleted anyway; the cached result stays so a retry can DEL again)."""
        if not self.bin_dir:
            self.bin_dir = cni.find_bin_dir()
        async with self._lock(pod_uid):
            rec = _read_json(self._result_path(pod_uid)) or {}
            ns_name = rec.get("netns") or self.netns_name(pod_uid)
            ns_path = netns.netns_path(ns_name)
            namespace, name = rec.get("namespace", ""), rec.get("name", "")
            conflist = rec.get("conflist") or self.conflist
            err: cni.CNIPluginError | None = None
            if self.bin_dir:
                try:
                    await cni.del_list(self.bin_dir, conflist, {"portMappings": rec.get("port_mappings") or []},
                                       rec.get("result"), self._env(pod_uid, ns_path, "eth0", namespace, name),
                                       self.timeout)
                except cni.CNIPluginError as e:
                    err = e
                # no loopback DEL: it only sets lo down, and lo goes away with the netns
            try:
                await netns.delete(ns_name)
            except OSError as e:
                raise cni.NetworkError("FailedKillPod", f'failed to remove network namespace for sandbox '
                                                        f'"{pod_uid}": {e}') from None
            if err:
                raise cni.NetworkError("FailedKillPod",
                                       f'failed to destroy network for sandbox "{pod_uid}": {err}')
            try:
                os.unlink(self._result_path(pod_uid))
            except FileNotFoundError:
                pass
            self._pod_locks.pop(pod_uid, None)

    def status(self, pod_uid: str) -> PodNetStatus | None:
        rec = _read_json(self._result_path(pod_uid))
        return self._status(rec) if isinstance(rec, dict) else None

    @staticmethod
    def _status(rec: dict[str, Any]) -> PodNetStatus:
        return PodNetStatus(pod_uid=rec["pod_uid"], namespace=rec.get("namespace", ""), name=rec.get("name", ""),
                            netns_path=rec.get("netns_path", ""), ips=list(rec.get("ips") or []),
                            port_mappings=list(rec.get("port_mappings") or []),
                            netns_exists=netns.exists(rec.get("netns", "")), created_at=rec.get("created_at", 0.0))

    def _result_files(self) -> list[str]:
        try:
            names = sorted(os.listdir(self.results_dir))
        except FileNotFoundError:
            return []
        return [os.path.join(self.results_dir, fn) for fn in names if fn.endswith(".json")]

    def list_netns(self) -> list[PodNetStatus]:
        """Every pod this node attached (from the results cache), for re-adoption after a
        restart; `netns_exists` is False when the netns vanished (remove() it)."""
        out = []
        for fn in self._result_files():
            rec = _read_json(fn)
            if isinstance(rec, dict) and "pod_uid" in rec:
                out.append(self._status(rec))
        return out

    def orphan_netns(self) -> list[str]:
        """Netns with our prefix that no cached pod owns (e.g. a crash between `ip netns add`
        and the ADD result being saved)."""
        owned = {os.path.basename(s.netns_path) for s in self.list_netns()}
        return [n for n in netns.list_names(self.netns_prefix) if n not in owned]
