"""What a pod sandbox holds besides its namespaces: the network seam (a netns with the pod's
interfaces, from the CNI module or loopback only) and the kubelet-managed /etc files."""

from __future__ import annotations

import os
from typing import Any, Protocol

from .base import RuntimeError_, SandboxConfig
from .sysutil import read_text, run_cmd

NETNS_DIR = "/var/run/netns"


class PodNetwork(Protocol):
    """What run_sandbox needs from the network module: a netns with the pod's interfaces."""

    async def setup(self, config: SandboxConfig) -> tuple[str, list[str]]:
        """Create the pod's netns and network; returns (netns path, pod IPs)."""
        ...

    async def teardown(self, pod_uid: str, netns_path: str) -> None: ...


class LoopbackNetwork:
    """A netns with only `lo` up and no pod IP: the stand-in until the CNI network module
    (`kubeling.kubelet.network`) is passed as `network=`. Pods can still be reached through
    port_forward (which connects inside the netns)."""

    def __init__(self, prefix: str = "kubeling-") -> None:
        self.prefix = prefix

    def name(self, pod_uid: str) -> str:
        return self.prefix + pod_uid.replace("-", "").lower()[:12]

    async def setup(self, config: SandboxConfig) -> tuple[str, list[str]]:
        name = self.name(config.pod_uid)
        path = os.path.join(NETNS_DIR, name)
        if not os.path.exists(path):
            rc, _, err = await run_cmd(["ip", "netns", "add", name])
            if rc != 0:
                raise RuntimeError_("FailedCreatePodSandBox", f"ip netns add {name}: {err.decode().strip()}")
        rc, _, err = await run_cmd(["ip", "-n", name, "link", "set", "lo", "up"])
        if rc != 0:
            raise RuntimeError_("FailedCreatePodSandBox", f"loopback up in {name}: {err.decode().strip()}")
        return path, []

    async def teardown(self, pod_uid: str, netns_path: str) -> None:
        if netns_path and os.path.exists(netns_path):
            await run_cmd(["ip", "netns", "del", os.path.basename(netns_path)])


class CNINetwork:
    """Adapter for `kubeling.kubelet.network.PodNetwork` (CNI bridge + host-local + loopback +
    portmap): its `add`/`remove` as this runtime's `setup`/`teardown`, errors as RuntimeError_."""

    def __init__(self, podnet: Any) -> None:
        self.podnet = podnet

    async def setup(self, config: SandboxConfig) -> tuple[str, list[str]]:
        try:
            return await self.podnet.add(config.pod_uid, config.namespace, config.name, config.port_mappings)
        except Exception as e:
            if hasattr(e, "reason"):
                raise RuntimeError_(getattr(e, "reason"), getattr(e, "message", str(e))) from e
            raise

    async def teardown(self, pod_uid: str, netns_path: str) -> None:
        try:
            await self.podnet.remove(pod_uid)
        except Exception as e:
            if hasattr(e, "reason"):
                raise RuntimeError_(getattr(e, "reason"), getattr(e, "message", str(e))) from e
            raise


def as_pod_network(network: Any) -> PodNetwork:
    """Accept this module's PodNetwork protocol or the network module's PodNetwork."""
    if network is None:
        return LoopbackNetwork()
    if hasattr(network, "setup") and hasattr(network, "teardown"):
        return network  # type: ignore[no-any-return]
    if hasattr(network, "add") and hasattr(network, "remove"):
        return CNINetwork(network)
    raise TypeError(f"not a pod network: {network!r}")


def hosts_file(hostname: str, ips: list[str]) -> str:
    """The kubelet's managed /etc/hosts (pkg/kubelet/kubelet_pods.go managedHostsFileContent)."""
    lines = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost",
             "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet", "fe00::0\tip6-mcastprefix",
             "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters"]
    lines += [f"{ip}\t{hostname}" for ip in ips]
    return "\n".join(lines) + "\n"


def resolv_conf(dns: dict[str, Any], host_resolv: str = "/etc/resolv.conf") -> str:
    """resolv.conf from the kubelet's DNS config ({nameservers|servers, searches, options});
    an empty config (dnsPolicy Default) copies the host's."""
    servers = dns.get("nameservers") or dns.get("servers") or []
    searches = dns.get("searches") or []
    options = dns.get("options") or []
    if not (servers or searches or options):
        return read_text(host_resolv) or ""
    out = []
    if searches:
        out.append("search " + " ".join(searches))
    out += [f"nameserver {s}" for s in servers]
    if options:
        out.append("options " + " ".join(o if isinstance(o, str) else
                                          (f"{o['name']}:{o['value']}" if o.get("value") else o["name"])
                                          for o in options))
    return "\n".join(out) + "\n"
