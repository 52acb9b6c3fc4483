"""The pod's directory on the node, laid out like the kubelet's `/var/lib/kubelet/pods/<uid>`:

    <pods>/<uid>/etc-hosts                   the pod's /etc/hosts (kubelet-managed, rewritten at
                                             every container start, like ensureHostsFile)
    <pods>/<uid>/containers/<name>/<8 hex>   one terminationMessagePath file per container start
    <pods>/<uid>/plugins/                    volume plugins' private state (empty here)
    <pods>/<uid>/volumes/<plugin>/<name>     the volumes (volumes/manager.py)

The volume manager removes the whole directory with the pod's volumes.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from .runtime.base import Mount

ETC_HOSTS = "/etc/hosts"
CLUSTER_DOMAIN = "cluster.local"
SUBDIRS = ("containers", "plugins", "volumes")


def make_pod_dirs(pod_dir: str) -> None:
    """makePodDataDirs: the pod dir and its subdirectories (0750, like upstream)."""
    for sub in SUBDIRS:
        os.makedirs(os.path.join(pod_dir, sub), mode=0o750, exist_ok=True)


def _alias_lines(pod: dict[str, Any]) -> list[str]:
    """hostsEntriesFromHostAliases: one line per alias entry, after a blank line and a header."""
    aliases = (pod.get("spec") or {}).get("hostAliases") or []
    if not aliases:
        return []
    return ["", "# Entries added by HostAliases."] + [
        f"{a.get('ip', '')}\t" + "\t".join(a.get("hostnames") or []) for a in aliases]


def managed_hosts(pod: dict[str, Any], ips: list[str]) -> str:
    """managedHostsFileContent: localhost entries, the pod's IPs with its hostname (and FQDN when
    it has a subdomain), then spec.hostAliases."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    hostname = (spec.get("hostname") or meta.get("name", ""))[:63].rstrip("-.")
    lines = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost",
             "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet", "fe00::0\tip6-mcastprefix",
             "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters"]
    if spec.get("subdomain"):
        domain = f"{spec['subdomain']}.{meta.get('namespace', '')}.svc.{CLUSTER_DOMAIN}"
        lines += [f"{ip}\t{hostname}.{domain}\t{hostname}" for ip in ips]
    else:
        lines += [f"{ip}\t{hostname}" for ip in ips]
    return "\n".join(lines + _alias_lines(pod)) + "\n"


def node_hosts(pod: dict[str, Any], host_file: str = ETC_HOSTS) -> str:
    """nodeHostsFileContent (hostNetwork pods): the node's /etc/hosts plus spec.hostAliases."""
    try:
        with open(host_file) as f:
            text = f.read()
    except OSError:
        text = ""
    extra = _alias_lines(pod)
    return text + ("\n".join(extra) + "\n" if extra else "")


def _mounted(container: dict[str, Any], path: str) -> bool:
    return any(os.path.normpath(m.get("mountPath", "")) == path for m in container.get("volumeMounts") or [])


def pod_file_mounts(pod_dir: str, pod: dict[str, Any], container: dict[str, Any], ips: list[str]) -> list[Mount]:
    """makeMounts' pod files: `etc-hosts` at /etc/hosts (when the pod has IPs and the container
    mounts nothing there) and a fresh termination-message file at terminationMessagePath."""
    out = []
    host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
    if ips and not _mounted(container, ETC_HOSTS):
        path = os.path.join(pod_dir, "etc-hosts")
        text = node_hosts(pod) if host_network else managed_hosts(pod, ips)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.chmod(path + ".tmp", 0o644)
        os.replace(path + ".tmp", path)
        out.append(Mount(container_path=ETC_HOSTS, host_path=path))
    term = container.get("terminationMessagePath", "/dev/termination-log")
    if term and not _mounted(container, os.path.normpath(term)):
        d = os.path.join(pod_dir, "containers", container.get("name", ""))
        os.makedirs(d, mode=0o750, exist_ok=True)
        path = os.path.join(d, f"{secrets.randbits(32):08x}")
        with open(path, "w"):
            pass
        os.chmod(path, 0o666)  # any container user may write its message (upstream: 0666 too)
        out.append(Mount(container_path=term, host_path=path))
    return out
