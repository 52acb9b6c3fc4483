"""A pod's /etc/resolv.conf (upstream pkg/kubelet/network/dns/dns.go GetPodDNS), pure.

- ClusterFirst (the default; for hostNetwork pods it falls back to Default), and
  ClusterFirstWithHostNet: the cluster DNS servers, searches `<ns>.svc.<domain> svc.<domain>
  <domain>` then the host's, `options ndots:5`. Without a cluster DNS, the host's (as upstream,
  which also records a MissingClusterDNS event).
- Default: the host's nameservers, searches and options.
- None: nothing but `dnsConfig`.
Then `spec.dnsConfig` is appended (nameservers, searches, deduplicated; options override by
name), and the result cut to upstream's limits: 3 nameservers, 32 search domains.
"""

from __future__ import annotations

from typing import Any

from ..resolvconf import parse_resolv_conf

MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
DEFAULT_OPTIONS = ["ndots:5"]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def merge_options(existing: list[str], extra: list[dict[str, Any]]) -> list[str]:
    """mergeDNSOptions: dnsConfig options replace host/cluster ones of the same name."""
    by_name = {o.split(":", 1)[0]: o for o in existing}
    for o in extra:
        name = o.get("name", "")
        if name:
            by_name[name] = f"{name}:{o['value']}" if o.get("value") else name
    return list(by_name.values())


def pod_dns(pod: dict[str, Any], cluster_dns: list[str], cluster_domain: str, host_resolv: str) -> dict[str, list[str]]:
    """{servers, searches, options} for the pod's resolv.conf."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    host = parse_resolv_conf(host_resolv)
    if policy == "None":
        cfg: dict[str, list[str]] = {"servers": [], "searches": [], "options": []}
    elif cluster_dns and (policy == "ClusterFirstWithHostNet" or (policy == "ClusterFirst"
                                                                   and not spec.get("hostNetwork"))):
        ns = (pod.get("metadata") or {}).get("namespace") or "default"
        cluster = [f"{ns}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain] if cluster_domain else []
        cfg = {"servers": list(cluster_dns), "searches": _unique(cluster + host["searches"]),
               "options": list(DEFAULT_OPTIONS)}
    else:
        cfg = host
    extra = spec.get("dnsConfig") or {}
    cfg["servers"] = _unique(cfg["servers"] + list(extra.get("nameservers") or []))[:MAX_NAMESERVERS]
    cfg["searches"] = _unique(cfg["searches"] + list(extra.get("searches") or []))[:MAX_SEARCHES]
    cfg["options"] = merge_options(cfg["options"], list(extra.get("options") or []))
    return cfg
