"""Weighted canary traffic in kube-proxy (issue 13): the stable Service's annotations →
`ServicePort.canary` (model.py), and each dataplane's split — iptables `statistic` chains,
nftables `numgen`, the userspace balancer's weighted draw. No kernel needed."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest

from kubeling.proxy import iptables as ipt
from kubeling.proxy import nftables as nft
from kubeling.proxy.model import (CANARY_SERVICE, CANARY_WEIGHT, Canary, Endpoint, ModelCache, ServicePort, Split,
                                  all_service_ports, cluster_endpoints, split)
from kubeling.proxy.userspace import Balancer
from tests.unit.test_proxy_rules import CTX, eps, svc


def stable(weight: Any = "20", canary: str | None = "web-canary", **kw: Any) -> dict[str, Any]:
    s = svc("web", **kw)
    ann = {CANARY_WEIGHT: weight} if weight is not None else {}
    if canary is not None:
        ann[CANARY_SERVICE] = canary
    s["metadata"]["annotations"] = ann
    return s


TEN = [(f"10.244.0.{i}", True) for i in range(10, 20)]
CANARY_SVC = svc("web-canary", ip="10.96.1.9")
CANARY_EPS = eps("web-canary", ("10.244.1.5", True), port=8081)


def model(*services: dict[str, Any], canary_eps: dict[str, Any] | None = CANARY_EPS) -> list[ServicePort]:
    slices = [eps("web", *TEN)] + ([canary_eps] if canary_eps else [])
    return all_service_ports([*services, CANARY_SVC], slices, "n1")


# ---- the model -----------------------------------------------------------------------------------

def test_annotated_service_port_carries_the_canary_side() -> None:
    sp, canary_sp = model(stable())
    assert sp.canary == Canary("web-canary", "http", 20, (Endpoint("10.244.1.5", 8081, local=True),))
    sides = split(sp)
    assert sides.weighted and sides.weight == 20 and len(sides.stable) == 10 and len(sides.canary) == 1
    assert canary_sp.name == "web-canary" and canary_sp.canary is None  # its own ClusterIP: unaffected
    assert len(cluster_endpoints(sp)) == 11  # both sides receive traffic (UDP conntrack flush, REJECT)


@pytest.mark.parametrize("weight, want", [("0", (10, 0, 0)), ("100", (0, 1, 100)), ("5", (10, 1, 5))])
def test_weight_0_all_stable_100_all_canary(weight: str, want: tuple[int, int, int]) -> None:
    sides = split(model(stable(weight))[0])
    assert (len(sides.stable), len(sides.canary), sides.weight) == want


def test_a_side_without_endpoints_gets_no_traffic() -> None:
    sp = model(stable("50"), canary_eps=eps("web-canary", ("10.244.1.5", False), port=8081))[0]
    assert split(sp) == Split(split(sp).stable, (), 0) and len(split(sp).stable) == 10  # canary not ready
    none_stable = ServicePort("default", "web", "http", "TCP", "10.96.1.2", 80,
                              canary=Canary("c", "http", 30, (Endpoint("10.244.1.5", 80),)))
    assert split(none_stable) == Split((), (Endpoint("10.244.1.5", 80),), 100)  # rather than 70 % refused
    assert not split(ServicePort("default", "web", "http", "TCP", "10.96.1.2", 80,
                                 canary=Canary("c", "http", 0, (Endpoint("10.244.1.5", 80),))))  # 0 % is 0 %


def test_local_policy_splits_over_this_nodes_endpoints_only() -> None:
    sp = ServicePort("default", "web", "http", "TCP", "10.96.1.2", 80, internal_local=True,
                     endpoints=(Endpoint("10.244.0.2", 80),),
                     canary=Canary("c", "http", 40, (Endpoint("10.244.1.2", 80, local=False),
                                                     Endpoint("10.244.0.3", 80))))
    assert split(sp, True) == Split((Endpoint("10.244.0.2", 80),), (Endpoint("10.244.0.3", 80),), 40)


@pytest.mark.parametrize("stable_port, canary_ports, want", [
    ({"name": "http", "port": 80}, [{"name": "metrics", "port": 80}, {"name": "http", "port": 8080}], "http"),
    ({"name": "http", "port": 80}, [{"name": "web", "port": 80}], "web"),  # no such name: the number
    ({"port": 80, "targetPort": 8080}, [{"name": "other", "port": 81, "targetPort": 8080}], "other"),
    ({"name": "dns", "port": 53, "protocol": "UDP"}, [{"name": "dns", "port": 53, "protocol": "TCP"}], None),
])
def test_canary_port_by_name_then_number_then_target_port(stable_port: dict[str, Any],
                                                          canary_ports: list[dict[str, Any]],
                                                          want: str | None) -> None:
    s = stable(ports=[stable_port])
    c = svc("web-canary", ip="10.96.1.9", ports=canary_ports)
    sp = all_service_ports([s, c], [], "n1")[0]
    assert (sp.canary.port_name if sp.canary else None) == want


@pytest.mark.parametrize("weight, canary, why", [
    ("abc", "web-canary", "is not an integer 0..100"), ("101", "web-canary", "is not an integer 0..100"),
    ("-1", "web-canary", "is not an integer 0..100"), (" 5", "web-canary", "is not an integer 0..100"),
    (None, "web-canary", "is not an integer 0..100"), ("20", None, "without"),
    ("20", "web", "names the Service itself"), ("20", "gone", "canary Service 'gone' not found"),
])
def test_invalid_annotations_are_ignored_with_one_log_line(caplog: pytest.LogCaptureFixture, weight: Any,
                                                           canary: str | None, why: str) -> None:
    services = [stable(weight, canary), CANARY_SVC]
    slices = [eps("web", *TEN), CANARY_EPS]
    cache = ModelCache()
    with caplog.at_level(logging.WARNING, "kubeling.proxy"):
        sp = cache(services, slices, "n1")[0]
        cache(services, slices, "n1")  # nothing changed: not derived (nor logged) again
    assert sp.canary is None and len(split(sp).stable) == 10
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and why in lines[0] and "default/web" in lines[0], lines


def test_model_cache_rederives_the_stable_service_when_its_canary_changes() -> None:
    services = [stable(), CANARY_SVC]
    slices = [eps("web", *TEN), CANARY_EPS]
    cache = ModelCache()
    first = cache(services, slices, "n1")
    assert cache(services, slices, "n1")[0] is first[0]
    slices[1] = eps("web-canary", ("10.244.1.5", True), ("10.244.1.6", True), port=8081)  # a canary pod more
    second = cache(services, slices, "n1")
    assert second[0] is not first[0] and second[0].canary is not None and len(second[0].canary.endpoints) == 2
    assert second == all_service_ports(services, slices, "n1")
    services[1] = svc("web-canary", ip="10.96.1.9", ports=[{"name": "other", "port": 99}])  # no matching port now
    assert cache(services, slices, "n1")[0].canary is None


# ---- iptables ------------------------------------------------------------------------------------

def _weighted(n: int = 10, weight: int = 20, **kw: Any) -> ServicePort:
    return ServicePort("default", "web", "http", "TCP", "10.96.1.2", 80,
                       endpoints=tuple(Endpoint(f"10.244.0.{10 + i}", 8080) for i in range(n)),
                       canary=Canary("web-canary", "http", weight, (Endpoint("10.244.1.5", 8081),)), **kw)


def _reach(nat: dict[str, tuple[str, ...]], chain: str, p: float = 1.0) -> dict[str, float]:
    """The probability that a new connection entering `chain` ends in each KUBE-SEP chain: a walk
    of the rules as the kernel runs them (a jump to a SEP or another chain ends the walk)."""
    out: dict[str, float] = {}
    for rule in nat[chain]:
        w = rule.split()
        if "-j" not in w or "KUBE-MARK-MASQ" in rule or "--rcheck" in rule:
            continue
        target = w[w.index("-j") + 1]
        q = float(w[w.index("--probability") + 1]) if "--probability" in w else 1.0
        taken = p * q
        if target.startswith("KUBE-SEP-"):
            out[target] = out.get(target, 0.0) + taken
        else:
            for k, v in _reach(nat, target, taken).items():
                out[k] = out.get(k, 0.0) + v
        p -= taken
    return out


def test_iptables_split_is_in_the_service_chain_by_shares() -> None:
    sp = _weighted()
    nat = ipt.generate([sp], CTX)["nat"]
    rules = nat[CTX.svc(sp)]
    assert "-j KUBE-MARK-MASQ-012345" in rules[0] and len(rules) == 12  # masquerade + one rule per endpoint
    assert "--probability 0.0800000000 " in rules[1] and "--probability 0.0869565217 " in rules[2]  # 2/25, 2/23
    canary_sep = CTX.sep(sp, Endpoint("10.244.1.5", 8081))
    assert rules[-1] == f'-A {CTX.svc(sp)} -m comment --comment "default/web:http -> canary 10.244.1.5:8081" ' \
                        f"-j {canary_sep}"
    assert nat[canary_sep][-1].endswith("-j DNAT --to-destination 10.244.1.5:8081")
    reach = _reach(nat, CTX.svc(sp))
    assert reach[canary_sep] == pytest.approx(0.20)  # one canary pod, ten stable ones: still 20 %
    assert all(v == pytest.approx(0.08) for k, v in reach.items() if k != canary_sep) and len(reach) == 11
    assert len([c for c in nat if c.startswith("KUBE-SVC-")]) == 1  # no chain per side: no extra cost


@pytest.mark.parametrize("n, m, weight", [(3, 1, 5), (1, 4, 33), (7, 3, 50), (2, 2, 99)])
def test_iptables_shares_add_up_for_any_sides(n: int, m: int, weight: int) -> None:
    canary = tuple(Endpoint(f"10.244.1.{i}", 80) for i in range(m))
    sp = ServicePort(**{**_weighted(n).__dict__, "canary": Canary("c", "http", weight, canary)})
    reach = _reach(ipt.generate([sp], CTX)["nat"], CTX.svc(sp))
    assert sum(reach[CTX.sep(sp, e)] for e in canary) == pytest.approx(weight / 100, abs=1e-8)
    assert {round(v, 8) for k, v in reach.items() if k not in {CTX.sep(sp, e) for e in canary}} == \
        {round((100 - weight) / 100 / n, 8)}


def test_iptables_weight_100_only_the_canary() -> None:
    sp = _weighted(weight=100, node_port=30080)
    nat = ipt.generate([sp], CTX)["nat"]
    assert len(nat[CTX.svc(sp)]) == 2  # masquerade + the canary endpoint
    assert list(_reach(nat, CTX.svc(sp))) == [CTX.sep(sp, Endpoint("10.244.1.5", 8081))]
    assert not [c for c in nat if c.startswith("KUBE-SEP") and c != CTX.sep(sp, Endpoint("10.244.1.5", 8081))]
    assert nat[CTX.ext(sp)][-1] == f"-A {CTX.ext(sp)} -j {CTX.svc(sp)}"  # node ports follow the same split


def test_iptables_affinity_checks_both_sides_first() -> None:
    sp = _weighted(n=2, affinity_timeout=60)
    rules = ipt.generate([sp], CTX)["nat"][CTX.svc(sp)]
    assert [("--rcheck" in r) for r in rules[1:5]] == [True, True, True, False] and "statistic" in rules[4]


def test_iptables_weight_change_rewrites_one_chain() -> None:
    a, other = _weighted(), ServicePort("default", "o", "", "TCP", "10.96.1.7", 80, endpoints=(Endpoint("10.244.0.9", 80),))
    gen = ipt.Generator(CTX)
    first = gen([a, other])
    assert a.canary is not None
    second = gen([ServicePort(**{**a.__dict__, "canary": Canary("web-canary", "http", 30, a.canary.endpoints)}),
                  other])
    text = ipt.restore_text(second, first)
    assert text.count(" - [0:0]") == 1 and f":{CTX.svc(a)} - [0:0]" in text
    assert "--probability 0.0700000000" in text  # 70 % over ten: 7 of 100
    gone = ipt.restore_text(gen([ServicePort(**{**a.__dict__, "canary": None}), other]), second)
    assert f"-X {CTX.sep(a, Endpoint('10.244.1.5', 8081))}" in gone


# ---- nftables ------------------------------------------------------------------------------------

def test_nftables_numgen_ranges_by_share() -> None:
    sp = _weighted(node_port=30080)
    st = nft.generate([sp], CTX)
    rules = st.chains[nft.svc_chain(sp)]
    canary_ep = nft.ep_chain(sp, Endpoint("10.244.1.5", 8081))
    assert rules[1].startswith(f"numgen random mod 25 vmap {{ 0-1 : goto {nft.ep_chain(sp, sp.endpoints[0])} , "
                               f"2-3 : goto ")
    assert rules[1].endswith(f", 20-24 : goto {canary_ep} }}") and rules[1].count("goto endpoint-") == 11
    assert len(rules) == 2 and st.elements["service-nodeports"] == {"tcp . 30080": f"goto {nft.ext_chain(sp)}"}
    hundred = nft.generate([_weighted(weight=100)], CTX)
    assert hundred.chains[nft.svc_chain(sp)][1] == f"goto {canary_ep}"


def test_nftables_weight_change_is_one_chain_refill() -> None:
    a = _weighted()
    assert a.canary is not None
    gen = nft.Generator(CTX)
    first = gen([a])
    second = gen([ServicePort(**{**a.__dict__, "canary": Canary("web-canary", "http", 35, a.canary.endpoints)})])
    text = nft.script(second, first, CTX, ["10.244.0.1"]).splitlines()
    assert text[0] == f"flush chain ip kubeling-012345 {nft.svc_chain(a)}"
    assert len(text) == 3 and "numgen random mod 200 vmap" in text[2]  # 65 % over ten, 35 % on one: 13 each, 70
    assert text[2].endswith(f", 130-199 : goto {nft.ep_chain(a, a.canary.endpoints[0])} }}")


# ---- userspace -----------------------------------------------------------------------------------

def test_userspace_draws_the_side_by_weight_then_round_robin() -> None:
    sp = _weighted(n=4)
    b = Balancer(rng=random.Random(7))
    b.set(split(sp))
    firsts = [b.order("c")[0] for _ in range(4000)]
    canary = sum(e.ip == "10.244.1.5" for e in firsts)
    assert 640 <= canary <= 960  # 20 % of 4000 = 800, sigma 25: ±6 sigma
    stable_ips = [e.ip for e in firsts if e.ip != "10.244.1.5"]
    assert stable_ips[:8] == [f"10.244.0.{10 + i % 4}" for i in range(8)]  # round-robin within the side
    assert len(b.order("c")) == 5  # fallbacks: the rest of its side, then the other side
    b.set(split(_weighted(n=4, weight=0)))
    assert {b.order("c")[0].ip for _ in range(50)} == {f"10.244.0.{10 + i}" for i in range(4)}
    b.set(split(_weighted(n=4, weight=100)))
    assert {b.order("c")[0].ip for _ in range(50)} == {"10.244.1.5"}
