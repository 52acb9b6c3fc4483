"""The built-in load balancer's address choice (controllers/servicelb.py), pure."""

from __future__ import annotations

from typing import Any

import pytest

from kubeling.controllers.servicelb import node_addresses, parse_pool, want_ips


def lb(name: str, ips: tuple[str, ...] = (), **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {"type": "LoadBalancer", **spec},
            "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]} if ips else {}}}


def test_parse_pool() -> None:
    assert parse_pool("10.0.0.10-10.0.0.12, 10.0.1.5") == ["10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.1.5"]
    assert parse_pool("10.0.2.0/30") == ["10.0.2.1", "10.0.2.2"]
    assert parse_pool("127.241.0.8/31") == ["127.241.0.8", "127.241.0.9"]
    for bad in ("10.0.0.5-10.0.0.1", "nope", "10.0.0.0/33"):
        with pytest.raises(ValueError):
            parse_pool(bad)


def test_default_pool_is_the_nodes_addresses_shared() -> None:
    nodes = [{"metadata": {"name": "b"}, "status": {"addresses": [{"type": "InternalIP", "address": "10.244.1.1"},
                                                                   {"type": "Hostname", "address": "b"}]}},
             {"metadata": {"name": "a"}, "status": {"addresses": [{"type": "InternalIP", "address": "10.244.0.1"}]}},
             {"metadata": {"name": "sim", "labels": {"node.kubeling.io/simulated": "true"}},
              "status": {"addresses": [{"type": "InternalIP", "address": "127.0.1.1"}]}}]
    ips = node_addresses(nodes)
    assert ips == ["10.244.0.1", "10.244.1.1"]
    assert want_ips(lb("x"), [], ips, [lb("y", ips)]) == ips


def test_pool_gives_each_service_its_own_address_and_keeps_it() -> None:
    pool = ["10.0.0.10", "10.0.0.11"]
    assert want_ips(lb("a"), pool, [], [lb("b", ("10.0.0.10",))]) == ["10.0.0.11"]
    assert want_ips(lb("a", ("10.0.0.11",)), pool, [], [lb("b")]) == ["10.0.0.11"]  # kept
    assert want_ips(lb("c"), pool, [], [lb("a", ("10.0.0.11",)), lb("b", ("10.0.0.10",))]) == []  # pending
    assert want_ips(lb("a", ("192.0.2.1",)), pool, [], []) == ["10.0.0.10"]  # out of the pool: replaced


def test_load_balancer_class_and_other_types_are_not_ours() -> None:
    assert want_ips(lb("a", loadBalancerClass="example.com/lb"), [], ["10.244.0.1"], []) == []
    svc = lb("a", ("10.244.0.1",))
    svc["spec"]["type"] = "ClusterIP"
    assert want_ips(svc, [], ["10.244.0.1"], []) == []  # no longer a LoadBalancer: cleared
