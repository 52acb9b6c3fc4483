"""Cluster settings: one dataclass, filled from the command line."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass


@dataclass
class Config:
    data_dir: str = "/var/lib/kubeling"
    bind: str = "127.0.0.1"
    port: int = 6443
    advertise: str = ""  # address written into the kubeconfig; defaults to the bind address
    service_cidr: str = "10.96.0.0/12"
    node_port_range: str = "30000-32767"
    encryption_provider_config: str = ""  # an EncryptionConfiguration file: encrypt those resources at rest
    audit_policy_file: str = ""  # an audit.k8s.io/v1 Policy: log requests to audit_log_path
    audit_log_path: str = ""  # default DATA/server/audit.log
    request_timeout: float = 60.0  # kube-apiserver --request-timeout (seconds): a body must have arrived by then
    authorization_mode: str = "Node,RBAC"  # kube-apiserver --authorization-mode; AlwaysAllow turns RBAC off
    # node lifecycle (kube-controller-manager flags, upstream defaults; seconds)
    node_monitor_period: float = 5.0
    node_monitor_grace_period: float = 40.0
    node_startup_grace_period: float = 60.0
    node_eviction_rate: float = 0.1
    # autoscaling (kube-controller-manager and metrics-server flags, upstream defaults; seconds)
    hpa_sync_period: float = 15.0
    hpa_downscale_stabilization: float = 300.0
    metric_resolution: float = 15.0  # how often the metrics component scrapes every kubelet
    # nodes (kubelet flags; see kubelet/agent.py)
    sim_nodes: int | None = None  # N simulated nodes sim-node-1..N instead of the real node (0: no node)
    runtime: str = "runc"  # runc | crun | simulated | none (= no_node)
    runtime_explicit: bool = False  # --runtime was given
    no_node: bool = False  # control plane only (--no-node); --sim-nodes still runs simulated nodes
    node_name: str = ""  # default: the hostname
    node_ip: str = ""  # default: the pod network's gateway on the bridge (see kubelet/agent.py)
    kubelet_port: int = 10250  # the kubelet API (logs, exec, attach, port-forward); 0 = any free port
    pod_bridge: str = "kubeling0"  # the node's CNI bridge
    test_images: bool = True  # build/import the tutorial images and run a local docker.io mirror
    pod_log_dir: str = "/var/log/pods"
    cluster_cidr: str = "10.244.0.0/16"  # node i gets the i-th /24
    node_lease_duration: int = 40  # seconds; the Lease is renewed every quarter of it
    node_status_update_frequency: float = 10.0
    proxy_mode: str = "iptables"  # kube-proxy on the real node: iptables | nftables | ipvs | userspace ("" = none)
    cluster_dns: str = ""  # the DNS Service IP pods use; "" = the 10th address of the service CIDR; "none" = no DNS
    cluster_domain: str = "cluster.local"
    dns_upstreams: tuple[str, ...] = ()  # where the cluster DNS forwards other names; () = the host's resolv.conf
    lb_pool: str = ""  # LoadBalancer addresses (ranges, CIDRs, IPs); "" = the nodes' InternalIPs (k3s ServiceLB)
    network_check_period: float = 10.0  # seconds between checks that the node's host network is intact

    @property
    def authorization_modes(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in self.authorization_mode.split(",") if m.strip())

    @property
    def node_name_or_default(self) -> str:
        import socket

        return self.node_name or socket.gethostname().lower()

    @property
    def node_ip_or_default(self) -> str:
        """--node-ip, else the bind address (simulated nodes; the real node prefers its gateway)."""
        if self.node_ip:
            return self.node_ip
        return "127.0.0.1" if self.bind in ("0.0.0.0", "::", "") else self.bind

    @property
    def cluster_dns_ip(self) -> str:
        """--cluster-dns, else the 10th address of the service CIDR (10.96.0.10); '' for none."""
        if self.cluster_dns == "none":
            return ""
        if self.cluster_dns:
            return self.cluster_dns
        return str(ipaddress.ip_network(self.service_cidr).network_address + 10)

    @property
    def real_node_address(self) -> str:
        """The InternalIP the real node will have ('' when this process runs none): --node-ip,
        else the gateway of its pod CIDR (kubelet/agent.py). Pods reach the API server there."""
        if self.sim_nodes is not None or self.no_node or self.runtime in ("none", "simulated"):
            return ""
        if self.node_ip:
            return self.node_ip
        net = ipaddress.ip_network(self.cluster_cidr)
        first = next(net.subnets(new_prefix=24)) if net.prefixlen <= 24 else net  # node 0's pod CIDR
        return str(first.network_address + 1)

    @property
    def server_dir(self) -> str:
        return os.path.join(self.data_dir, "server")

    @property
    def db_path(self) -> str:
        return os.path.join(self.server_dir, "db", "state.db")

    @property
    def socket_path(self) -> str:
        """Root-only unix socket for in-process components (plain HTTP, no TLS)."""
        return os.path.join(self.server_dir, "kubeling.sock")

    @property
    def kubeconfig_path(self) -> str:
        return os.path.join(self.data_dir, "kubeconfig.yaml")

    @property
    def first_service_ip(self) -> str:
        net = ipaddress.ip_network(self.service_cidr)
        return str(net.network_address + 1)

    @property
    def server_url(self) -> str:
        host = self.advertise or self.bind
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{self.port}"
