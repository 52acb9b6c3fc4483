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
