"""resolv.conf, parsed: the host's nameservers, searches and options.

Pure and shared by two node components that read the host's file: the kubelet (a pod with
dnsPolicy Default, or without a cluster DNS, gets the host's, kubelet/dnsconfig.py) and the
cluster DNS server (it forwards other names to the host's nameservers, dns/server.py). So it
lives below both, not inside either.
"""

from __future__ import annotations


def parse_resolv_conf(text: str) -> dict[str, list[str]]:
    """nameservers, searches and options of a resolv.conf (the last search/domain line wins)."""
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if not words:
            continue
        if words[0] == "nameserver" and len(words) > 1:
            servers.append(words[1])
        elif words[0] in ("search", "domain"):
            searches = [w.rstrip(".") for w in words[1:] if w.rstrip(".")]
        elif words[0] == "options":
            options += words[1:]
    return {"servers": servers, "searches": searches, "options": options}
