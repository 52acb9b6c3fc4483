"""kube-proxy's pure parts: Services + EndpointSlices → ServicePorts, ServicePorts → iptables rules,
and the partial-sync diff (no kernel needed)."""

from __future__ import annotations

from typing import Any

from kubeling.proxy import iptables as ipt
from kubeling.proxy.model import (Endpoint, ServicePort, all_service_ports, cluster_endpoints, external_endpoints,
                                  internal_endpoints)

CTX = ipt.Context("0123456789ab", "10.244.0.0/16", ("10.244.0.1", "127.0.0.1"), tag="kubeling:kb0:0123456789ab")


def svc(name: str = "web", typ: str = "ClusterIP", ip: str = "10.96.1.2", ns: str = "default",
        ports: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"type": typ, "clusterIP": ip,
                     "ports": ports or [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}], **spec}}


def eps(svc_name: str, *addrs: tuple[str, bool], port: int = 8080, node: str = "n1", ns: str = "default",
        port_name: str = "http", **cond: Any) -> dict[str, Any]:
    labels = {"kubernetes.io/service-name": svc_name}
    return {"metadata": {"name": f"{svc_name}-abc", "namespace": ns, "labels": labels},
            "addressType": "IPv4", "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready, "serving": cond.get("serving", ready),
                                                             "terminating": cond.get("terminating", False)},
                           "nodeName": node} for ip, ready in addrs]}


def test_service_ports_from_slices() -> None:
    ports = all_service_ports([svc(typ="NodePort")], [eps("web", ("10.244.0.6", True), ("10.244.0.5", True),
                                                             ("10.244.0.7", False))], "n1")
    assert len(ports) == 1
    sp = ports[0]
    assert (sp.key, sp.cluster_ip, sp.port, sp.node_port) == ("default/web:http", "10.96.1.2", 80, 30080)
    assert [e.addr for e in cluster_endpoints(sp)] == ["10.244.0.5:8080", "10.244.0.6:8080"]  # ready only, sorted


def test_headless_external_name_and_ipv6_bypass_the_proxy() -> None:
    services = [svc("h", ip="None"), svc("x", typ="ExternalName", ip=""), svc("v6", ip="fd00::1")]
    assert all_service_ports(services, [], "n1") == []


def test_node_port_only_for_node_port_and_load_balancer_types() -> None:
    assert all_service_ports([svc(typ="ClusterIP")], [], "n1")[0].node_port == 0
    assert all_service_ports([svc(typ="LoadBalancer")], [], "n1")[0].node_port == 30080


def test_terminating_fallback_and_local_policies() -> None:
    s = svc(typ="NodePort", externalTrafficPolicy="Local", internalTrafficPolicy="Local")
    sl = eps("web", ("10.244.0.5", False), serving=True, terminating=True)
    sl["endpoints"].append({"addresses": ["10.244.1.5"], "conditions": {"ready": True}, "nodeName": "n2"})
    sp = all_service_ports([s], [sl], "n1")[0]
    assert [e.ip for e in cluster_endpoints(sp)] == ["10.244.1.5"]  # a ready one elsewhere wins
    assert [e.ip for e in internal_endpoints(sp)] == ["10.244.0.5"]  # local: the serving-terminating one
    assert [e.ip for e in external_endpoints(sp)] == ["10.244.0.5"]


def test_session_affinity_default_timeout() -> None:
    sp = all_service_ports([svc(sessionAffinity="ClientIP")], [], "n1")[0]
    assert sp.affinity_timeout == 10800
    cfg = {"clientIP": {"timeoutSeconds": 60}}
    sp = all_service_ports([svc(sessionAffinity="ClientIP", sessionAffinityConfig=cfg)], [], "n1")[0]
    assert sp.affinity_timeout == 60


def _sp(n: int = 3, **kw: Any) -> ServicePort:
    eps_ = tuple(Endpoint(f"10.244.0.{i + 2}", 80) for i in range(n))
    return ServicePort("default", "my-nginx", "http", "TCP", "10.96.1.2", 8080, endpoints=eps_, **kw)


def _rules(rs: ipt.Ruleset) -> list[str]:
    return [r for chains in rs.values() for rules in chains.values() for r in rules]


def test_chain_names_carry_the_owner_and_fit_iptables() -> None:
    rs = ipt.generate([_sp(node_port=30080)], CTX)
    names = [c for chains in rs.values() for c in chains]
    assert all(c.endswith("-012345") and c.startswith("KUBE-") and len(c) <= 28 for c in names), names
    other = ipt.Context("fedcba987654", CTX.cluster_cidr, CTX.node_ips)
    assert not set(names) & {c for chains in ipt.generate([_sp(node_port=30080)], other).values() for c in chains}


def test_even_spread_over_three_endpoints() -> None:
    rs = ipt.generate([_sp(3)], CTX)
    svc_chain = CTX.svc(_sp(3))
    rules = rs["nat"][svc_chain]
    assert "! -s 10.244.0.0/16 -j KUBE-MARK-MASQ-012345" in rules[0]
    assert "--probability 0.3333333333 " in rules[1] and "--probability 0.5000000000 " in rules[2]
    assert "statistic" not in rules[3]
    sep = rs["nat"][CTX.sep(_sp(3), Endpoint("10.244.0.2", 80))]
    assert sep[0].endswith("-s 10.244.0.2/32 -j KUBE-MARK-MASQ-012345")  # hairpin
    assert sep[1].endswith("-m tcp -p tcp -j DNAT --to-destination 10.244.0.2:80")


def test_cluster_ip_and_node_port_rules() -> None:
    sp = _sp(2, node_port=30080)
    rs = ipt.generate([sp], CTX)
    services = rs["nat"]["KUBE-SERVICES-012345"]
    assert services[0] == (f'-A KUBE-SERVICES-012345 -m comment --comment "default/my-nginx:http cluster IP" '
                           f"-m tcp -p tcp -d 10.96.1.2/32 --dport 8080 -j {CTX.svc(sp)}")
    assert list(services[-2:]) == [f'-A KUBE-SERVICES-012345 -m comment --comment "kubernetes service nodeports; NOTE: '
                             f'this must be the last rule in this chain" -d {ip}/32 -j KUBE-NODEPORTS-012345'
                             for ip in ("10.244.0.1", "127.0.0.1")]
    assert rs["nat"]["KUBE-NODEPORTS-012345"] == (
        f"-A KUBE-NODEPORTS-012345 -m comment --comment default/my-nginx:http -m tcp -p tcp --dport 30080 "
        f"-j {CTX.ext(sp)}",)
    assert rs["nat"][CTX.ext(sp)][-1] == f"-A {CTX.ext(sp)} -j {CTX.svc(sp)}"


def test_no_endpoints_rejects_instead_of_hanging() -> None:
    sp = _sp(0, node_port=30080)
    rs = ipt.generate([sp], CTX)
    assert not any(CTX.svc(sp) in r for r in _rules(rs))
    reject = rs["filter"]["KUBE-SERVICES-012345"]
    assert reject == ('-A KUBE-SERVICES-012345 -m comment --comment "default/my-nginx:http has no endpoints" '
                      "-m tcp -p tcp -d 10.96.1.2/32 --dport 8080 -j REJECT",)
    assert len(rs["filter"]["KUBE-EXTERNAL-SVCS-012345"]) == 2  # the node port on both node addresses


def test_session_affinity_rules() -> None:
    sp = _sp(2, affinity_timeout=10800)
    rs = ipt.generate([sp], CTX)
    sep = CTX.sep(sp, sp.endpoints[0])
    assert f"-m recent --name {sep} --rcheck --seconds 10800 --reap -j {sep}" in rs["nat"][CTX.svc(sp)][1]
    assert f"-m recent --name {sep} --set -m tcp" in rs["nat"][sep][1]


def test_external_traffic_policy_local() -> None:
    sp = ServicePort("default", "web", "", "TCP", "10.96.1.3", 80, node_port=30081, external_local=True,
                     endpoints=(Endpoint("10.244.0.2", 80), Endpoint("10.244.1.2", 80, local=False)))
    rs = ipt.generate([sp], CTX)
    assert rs["nat"][CTX.svl(sp)][-1].endswith(CTX.sep(sp, sp.endpoints[0]))
    assert len(rs["nat"][CTX.svl(sp)]) == 1  # only the local endpoint
    assert len([r for r in rs["nat"][CTX.svc(sp)] if "KUBE-SEP" in r]) == 2
    ext = rs["nat"][CTX.ext(sp)]
    assert "-s 10.244.0.0/16" in ext[0] and ext[-1] == f"-A {CTX.ext(sp)} -j {CTX.svl(sp)}"


def test_internal_traffic_policy_local_without_local_endpoints_drops() -> None:
    sp = ServicePort("default", "web", "", "TCP", "10.96.1.3", 80, internal_local=True,
                     endpoints=(Endpoint("10.244.1.2", 80, local=False),))
    rs = ipt.generate([sp], CTX)
    assert rs["filter"]["KUBE-SERVICES-012345"][0].endswith("-j DROP")
    assert "has no local endpoints" in rs["filter"]["KUBE-SERVICES-012345"][0]


def test_partial_sync_writes_only_changed_chains() -> None:
    a, b = _sp(3), ServicePort("default", "other", "", "TCP", "10.96.1.9", 80, endpoints=(Endpoint("10.244.0.9", 80),))
    first = ipt.generate([a, b], CTX)
    full = ipt.restore_text(first, None)
    assert full.count("COMMIT") == 2 and CTX.svc(b) in full
    assert ipt.restore_text(first, first) == ""  # nothing changed: nothing written
    a2 = ServicePort(**{**a.__dict__, "endpoints": a.endpoints[:2]})
    second = ipt.generate([a2, b], CTX)
    text = ipt.restore_text(second, first)
    gone = CTX.sep(a, a.endpoints[2])
    assert f":{CTX.svc(a)} - [0:0]" in text and f"-X {gone}" in text
    assert CTX.svc(b) not in text and "*filter" not in text  # the other service is untouched
    assert text.index(f"-X {gone}") > text.index(f"-A {CTX.svc(a)}")


def test_owned_chains() -> None:
    listing = "-N KUBE-SERVICES-012345\n-N KUBE-SERVICES-abcdef\n-N KUBELING-FORWARD\n-A X -j Y\n"
    assert ipt.owned_chains(listing, "0123456789ab") == ["KUBE-SERVICES-012345"]


def test_userspace_portals_dnat_to_the_proxy_socket() -> None:
    from kubeling.proxy.userspace import portal_key, portal_rules

    sp, empty = _sp(2, node_port=30080), ServicePort("default", "empty", "", "TCP", "10.96.1.3", 80)
    rs = portal_rules([sp, empty], CTX, {portal_key(sp): 40001, portal_key(empty): 40002}, "10.244.0.1")
    nat = rs["nat"]["KUBE-PORTALS-012345"]
    assert nat[0] == ('-A KUBE-PORTALS-012345 -m comment --comment "default/my-nginx:http" -m tcp -p tcp '
                      "-d 10.96.1.2/32 --dport 8080 -j DNAT --to-destination 10.244.0.1:40001")
    assert [r.split(" -d ")[1].split()[0:3] for r in nat[1:]] == [["10.244.0.1/32", "--dport", "30080"],
                                                                  ["127.0.0.1/32", "--dport", "30080"]]
    assert len(rs["filter"]["KUBE-SERVICES-012345"]) == 1  # the service without endpoints is rejected


def test_userspace_round_robin_and_affinity() -> None:
    from kubeling.proxy.userspace import Balancer

    eps = [Endpoint("10.0.0.1", 80), Endpoint("10.0.0.2", 80), Endpoint("10.0.0.3", 80)]
    b = Balancer(eps)
    firsts = [b.order("c")[0].ip for _ in range(6)]
    assert firsts == ["10.0.0.1", "10.0.0.2", "10.0.0.3"] * 2
    assert b.order("c")[1:] == [eps[1], eps[2]]  # the fallbacks after a failed connect
    sticky = Balancer(eps, affinity_timeout=60)
    sticky.used("c", sticky.order("c")[0])
    assert {sticky.order("c")[0].ip for _ in range(5)} == {"10.0.0.1"}


def test_nftables_verdict_maps_and_numgen() -> None:
    from kubeling.proxy import nftables as nft

    sp, empty = _sp(3, node_port=30080), ServicePort("default", "empty", "", "TCP", "10.96.1.3", 80, node_port=30081)
    st = nft.generate([sp, empty], CTX)
    assert st.elements["service-ips"] == {"10.96.1.2 . tcp . 8080": f"goto {nft.svc_chain(sp)}"}
    assert st.elements["service-nodeports"] == {"tcp . 30080": f"goto {nft.ext_chain(sp)}"}
    assert st.elements["no-endpoint-services"] == {"10.96.1.3 . tcp . 80": "goto reject-chain"}
    assert st.elements["no-endpoint-nodeports"] == {"tcp . 30081": "goto reject-chain"}
    rules = st.chains[nft.svc_chain(sp)]
    assert rules[0] == "ip daddr 10.96.1.2 tcp dport 8080 ip saddr != 10.244.0.0/16 jump mark-for-masquerade"
    assert rules[1].startswith("numgen random mod 3 vmap { 0 : goto endpoint-") and rules[1].count("goto") == 3
    assert nft.svc_chain(sp).startswith("service-") and nft.svc_chain(sp).endswith("-default/my-nginx/tcp/http")
    assert st.chains[nft.ep_chain(sp, sp.endpoints[0])][-1] == "meta l4proto tcp dnat to 10.244.0.2:80"
    assert nft.table_name(CTX) == "kubeling-012345"


def test_nftables_affinity_sets() -> None:
    from kubeling.proxy import nftables as nft

    sp = _sp(2, affinity_timeout=60)
    st = nft.generate([sp], CTX)
    aff = nft.affinity_set(sp, sp.endpoints[0])
    assert st.sets[aff] == "type ipv4_addr ; flags dynamic,timeout ; timeout 60s ;"
    assert f"ip saddr @{aff} goto {nft.ep_chain(sp, sp.endpoints[0])}" in st.chains[nft.svc_chain(sp)]
    assert f"update @{aff} {{ ip saddr }}" in st.chains[nft.ep_chain(sp, sp.endpoints[0])]


def test_nftables_partial_sync_transaction() -> None:
    from kubeling.proxy import nftables as nft

    a, b = _sp(3), ServicePort("default", "other", "", "TCP", "10.96.1.9", 80, endpoints=(Endpoint("10.244.0.9", 80),))
    first = nft.generate([a, b], CTX)
    full = nft.script(first, None, CTX, ["10.244.0.1"])
    assert full.startswith("add table ip kubeling-012345\ndelete table ip kubeling-012345\n")
    assert nft.script(first, first, CTX, ["10.244.0.1"]) == ""
    second = nft.generate([ServicePort(**{**a.__dict__, "endpoints": a.endpoints[:2]})], CTX)  # b deleted too
    text = nft.script(second, first, CTX, ["10.244.0.1"]).splitlines()
    gone = nft.ep_chain(a, a.endpoints[2])
    assert f"delete chain ip kubeling-012345 {gone}" in text
    assert "delete element ip kubeling-012345 service-ips { 10.96.1.9 . tcp . 80 }" in text
    assert text.index(f"flush chain ip kubeling-012345 {gone}") < text.index(f"delete chain ip kubeling-012345 {gone}")
    assert not any(nft.svc_chain(b) in ln and "add rule" in ln for ln in text)


def test_ipvs_without_the_kernel_module_is_a_clear_startup_error(monkeypatch: Any) -> None:
    import pytest

    from kubeling.proxy import ProxyError, check_mode, ipvs

    monkeypatch.setattr(ipvs, "kernel_has_ipvs", lambda: (False, "modprobe: FATAL: Module ip_vs not found"))
    with pytest.raises(ProxyError) as e:
        check_mode("ipvs")
    msg = str(e.value)
    assert "kernel module ip_vs" in msg and "Module ip_vs not found" in msg
    assert "--proxy-mode iptables (the default), nftables or userspace" in msg
    with pytest.raises(ProxyError, match="unknown --proxy-mode 'bogus'"):
        check_mode("bogus")


def test_large_cluster_mode_drops_the_per_endpoint_comments() -> None:
    small = [ServicePort("default", f"s{i}", "", "TCP", f"10.96.2.{i}", 80,
                         endpoints=(Endpoint(f"10.244.1.{i}", 80), Endpoint(f"10.244.2.{i}", 80))) for i in range(200)]
    many = [ServicePort("default", f"s{i}", "", "TCP", f"10.96.{3 + i // 250}.{i % 250}", 80,
                        endpoints=(Endpoint(f"10.244.{3 + i // 250}.{i % 250}", 80),
                                   Endpoint(f"10.245.{3 + i // 250}.{i % 250}", 80))) for i in range(501)]
    sep = CTX.sep(small[0], small[0].endpoints[0])
    assert all("--comment" in r for r in ipt.generate(small, CTX)["nat"][sep])
    big = ipt.generate(many, CTX)["nat"]
    sep = CTX.sep(many[0], many[0].endpoints[0])
    assert big[sep] == (f"-A {sep} -s 10.244.3.0/32 -j KUBE-MARK-MASQ-012345",
                        f"-A {sep} -m tcp -p tcp -j DNAT --to-destination 10.244.3.0:80")
    assert "--comment" in big["KUBE-SERVICES-012345"][0]  # the service rules keep theirs


def test_model_cache_rederives_only_what_changed() -> None:
    from kubeling.proxy.model import ModelCache

    services = [svc("a"), svc("b", ip="10.96.1.3")]
    slices = [eps("a", ("10.244.0.5", True)), eps("b", ("10.244.0.6", True))]
    cache = ModelCache()
    first = cache(services, slices, "n1")
    assert first == all_service_ports(services, slices, "n1")
    slices[1] = eps("b", ("10.244.0.6", True), ("10.244.0.7", True))  # an update: a new object
    second = cache(services, slices, "n1")
    assert second[0] is first[0] and [e.ip for e in second[1].endpoints] == ["10.244.0.6", "10.244.0.7"]
    assert second == all_service_ports(services, slices, "n1")
