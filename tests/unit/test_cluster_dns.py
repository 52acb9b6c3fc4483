"""Cluster DNS, pure parts: the records of the cluster domain and a pod's resolv.conf."""

from __future__ import annotations

from typing import Any

from dnslib import QTYPE, RCODE

from kubeling.dns.records import Zone
from kubeling.dns.server import parse_upstream
from kubeling.kubelet.dnsconfig import pod_dns
from kubeling.resolvconf import parse_resolv_conf


def svc(name: str, ip: str = "10.96.1.2", typ: str = "ClusterIP", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"type": typ, "clusterIP": ip, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                     **spec}}


def headless_slice(name: str) -> dict[str, Any]:
    return {"metadata": {"name": f"{name}-x", "namespace": "default", "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": True}, "hostname": "web-0"},
                          {"addresses": ["10.244.0.6"], "conditions": {"ready": True}},
                          {"addresses": ["10.244.0.7"], "conditions": {"ready": False}}]}


def zone() -> Zone:
    z = Zone()
    z.load([svc("my-nginx"), svc("db", ip="None"), svc("ext", ip="", typ="ExternalName", externalName="example.org")],
           [headless_slice("db")])
    return z


def _data(ans: Any) -> list[str]:
    return [str(rr.rdata) for rr in ans.rrs]


def test_service_a_record_and_nodata_for_aaaa() -> None:
    z = zone()
    assert _data(z.answer("my-nginx.default.svc.cluster.local.", QTYPE.A)) == ["10.96.1.2"]
    assert _data(z.answer("MY-NGINX.default.svc.cluster.local", QTYPE.A)) == ["10.96.1.2"]
    aaaa = z.answer("my-nginx.default.svc.cluster.local.", QTYPE.AAAA)
    assert aaaa is not None and aaaa.rcode == RCODE.NOERROR and aaaa.rrs == []


def test_unknown_names_in_the_cluster_domain_are_nxdomain_others_forwarded() -> None:
    z = zone()
    for name in ("nope.default.svc.cluster.local.", "my-nginx.other.svc.cluster.local.",
                 "my-nginx.svc.cluster.local.", "x.cluster.local."):
        a = z.answer(name, QTYPE.A)
        assert a is not None and a.rcode == RCODE.NXDOMAIN, name
    assert z.answer("default.svc.cluster.local.", QTYPE.A).rcode == RCODE.NOERROR  # a namespace: exists
    assert z.answer("example.org.", QTYPE.A) is None
    assert z.answer("my-nginx.default.svc.cluster.local.example.org.", QTYPE.A) is None


def test_headless_service_returns_ready_pods_and_hostnames() -> None:
    z = zone()
    assert sorted(_data(z.answer("db.default.svc.cluster.local.", QTYPE.A))) == ["10.244.0.5", "10.244.0.6"]
    assert _data(z.answer("web-0.db.default.svc.cluster.local.", QTYPE.A)) == ["10.244.0.5"]
    assert _data(z.answer("10-244-0-6.db.default.svc.cluster.local.", QTYPE.A)) == ["10.244.0.6"]


def test_srv_for_named_ports() -> None:
    z = zone()
    srv = z.answer("_http._tcp.my-nginx.default.svc.cluster.local.", QTYPE.SRV)
    assert _data(srv) == ["0 100 8080 my-nginx.default.svc.cluster.local."]
    assert _data(srv.__class__(rrs=srv.additional)) == ["10.96.1.2"]
    hl = z.answer("_http._tcp.db.default.svc.cluster.local.", QTYPE.SRV)
    assert sorted(_data(hl)) == ["0 50 80 10-244-0-6.db.default.svc.cluster.local.",
                                 "0 50 80 web-0.db.default.svc.cluster.local."]
    assert z.answer("_nope._tcp.my-nginx.default.svc.cluster.local.", QTYPE.SRV).rcode == RCODE.NXDOMAIN


def test_external_name_is_a_cname_and_ptr_and_pods() -> None:
    z = zone()
    assert _data(z.answer("ext.default.svc.cluster.local.", QTYPE.A)) == ["example.org."]
    assert _data(z.answer("2.1.96.10.in-addr.arpa.", QTYPE.PTR)) == ["my-nginx.default.svc.cluster.local."]
    assert _data(z.answer("5.0.244.10.in-addr.arpa.", QTYPE.PTR)) == ["web-0.db.default.svc.cluster.local."]
    assert z.answer("9.9.9.9.in-addr.arpa.", QTYPE.PTR) is None  # not ours: forwarded
    assert _data(z.answer("10-244-0-9.default.pod.cluster.local.", QTYPE.A)) == ["10.244.0.9"]


def pod(policy: str | None = None, host_network: bool = False, **spec: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"metadata": {"namespace": "team"}, "spec": {"hostNetwork": host_network, **spec}}
    if policy:
        p["spec"]["dnsPolicy"] = policy
    return p


HOST = "# generated\nnameserver 192.0.2.53\nsearch corp.example\noptions edns0\n"


def test_cluster_first_gets_cluster_dns_searches_and_ndots() -> None:
    assert pod_dns(pod(), ["10.96.0.10"], "cluster.local", HOST) == {
        "servers": ["10.96.0.10"],
        "searches": ["team.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"],
        "options": ["ndots:5"]}


def test_host_network_and_default_use_the_hosts_file() -> None:
    host = parse_resolv_conf(HOST)
    assert host == {"servers": ["192.0.2.53"], "searches": ["corp.example"], "options": ["edns0"]}
    assert pod_dns(pod(host_network=True), ["10.96.0.10"], "cluster.local", HOST) == host
    assert pod_dns(pod("Default"), ["10.96.0.10"], "cluster.local", HOST) == host
    assert pod_dns(pod("ClusterFirstWithHostNet", True), ["10.96.0.10"], "cluster.local", HOST)["servers"] == \
        ["10.96.0.10"]
    assert pod_dns(pod(), [], "cluster.local", HOST) == host  # no cluster DNS: the host's


def test_dns_policy_none_and_dns_config_merge() -> None:
    cfg = {"nameservers": ["1.1.1.1"], "searches": ["a.example"], "options": [{"name": "ndots", "value": "2"},
                                                                              {"name": "edns0"}]}
    assert pod_dns(pod("None", dnsConfig=cfg), ["10.96.0.10"], "cluster.local", HOST) == {
        "servers": ["1.1.1.1"], "searches": ["a.example"], "options": ["ndots:2", "edns0"]}
    many = {"nameservers": ["1.1.1.1", "1.0.0.1", "8.8.8.8", "9.9.9.9"], "options": [{"name": "ndots", "value": "1"}]}
    out = pod_dns(pod(dnsConfig=many), ["10.96.0.10"], "cluster.local", HOST)
    assert out["servers"] == ["10.96.0.10", "1.1.1.1", "1.0.0.1"] and out["options"] == ["ndots:1"]


def test_parse_upstream() -> None:
    assert parse_upstream("127.0.0.1") == ("127.0.0.1", 53)
    assert parse_upstream("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_upstream("[::1]:5353") == ("::1", 5353)


async def test_forwarding_to_a_loopback_upstream_and_servfail_when_none_answers() -> None:
    import asyncio
    import socket
    import types

    from dnslib import A, RR, DNSRecord

    from kubeling.dns.server import ClusterDNS

    class Upstream(asyncio.DatagramProtocol):
        def connection_made(self, transport: Any) -> None:
            self.t = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            r = DNSRecord.parse(data).reply()
            r.add_answer(RR(str(r.q.qname), QTYPE.A, rdata=A("192.0.2.7"), ttl=60))
            self.t.sendto(r.pack(), addr)

    loop = asyncio.get_running_loop()
    up, _ = await loop.create_datagram_endpoint(Upstream, local_addr=("127.0.0.1", 0))
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        port = up.get_extra_info("sockname")[1]
        dead = f"127.0.0.1:{silent.getsockname()[1]}"
        dns = ClusterDNS(types.SimpleNamespace(), "127.0.0.1", [dead, f"127.0.0.1:{port}"], port=0, timeout=0.2)
        dns.zone.load([svc("my-nginx")], [])
        dns._stale = False
        reply = DNSRecord.parse(await dns.resolve(DNSRecord.question("example.org").pack()))
        assert [str(rr.rdata) for rr in reply.rr] == ["192.0.2.7"]
        local = DNSRecord.parse(await dns.resolve(DNSRecord.question("my-nginx.default.svc.cluster.local").pack()))
        assert [str(rr.rdata) for rr in local.rr] == ["10.96.1.2"] and local.header.aa
        dns.upstreams = dns.upstreams[:1]
        fail = DNSRecord.parse(await dns.resolve(DNSRecord.question("example.org").pack()))
        assert fail.header.rcode == RCODE.SERVFAIL
    finally:
        up.close()
        silent.close()
