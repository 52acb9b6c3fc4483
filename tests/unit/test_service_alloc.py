"""Service ClusterIP / NodePort allocation through the real registry (upstream alloc.go rules)."""

from __future__ import annotations

import copy
import random

import pytest

from kubeling.api import errors
from kubeling.api.resources import lookup
from kubeling.apiserver.admission import Chain
from kubeling.apiserver.plugins.service_alloc import (IPAllocator, PortAllocator, ServiceAllocator,
                                                      range_offset)
from kubeling.apiserver.registry import DeleteOptions, Registry, WriteOptions
from kubeling.store.sqlite import SQLiteStore

SERVICES = lookup("", "v1", "services")
NAMESPACES = lookup("", "v1", "namespaces")


def svc(name: str, type_: str = "ClusterIP", **spec) -> dict:
    ports = spec.pop("ports", [{"port": 80, "targetPort": 80, "protocol": "TCP"}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": type_, "selector": {"app": name}, "ports": ports, **spec}}


@pytest.fixture
async def env(tmp_path):
    store = SQLiteStore(str(tmp_path / "db" / "state.db"))
    plugin = ServiceAllocator("10.96.0.0/12", "30000-32767", random.Random(7))
    reg = Registry(store, admission=Chain([plugin]))
    await reg.create(NAMESPACES, None, {"metadata": {"name": "default"}}, WriteOptions())
    yield reg, plugin, store
    store.close()


async def create(reg, obj, dry_run=False):
    return copy.deepcopy((await reg.create(SERVICES, "default", obj, WriteOptions(dry_run=dry_run))).obj())


async def update(reg, obj):
    return copy.deepcopy((await reg.update(SERVICES, "default", obj["metadata"]["name"], obj, WriteOptions())).obj())


@pytest.mark.parametrize("size,lo,hi,step,want", [
    ((1 << 20) - 2, 16, 256, 16, 256),   # /12: static band of 256 IPs
    (254, 16, 256, 16, 16),              # /24
    (14, 16, 256, 16, 0),                # /28: too small for a band
    (2768, 16, 128, 32, 86),             # 30000-32767
])
def test_range_offset(size, lo, hi, step, want):
    assert range_offset(size, lo, hi, step) == want


def test_ip_allocator_ranges_and_messages():
    a = IPAllocator("10.96.0.0/12", random.Random(1))
    a.allocate("10.96.0.1", "default/kubernetes")
    with pytest.raises(Exception, match="^provided IP is already allocated$"):
        a.allocate("10.96.0.1", "x/y")
    for bad in ("10.96.0.0", "10.111.255.255", "10.112.0.1", "192.168.0.1"):
        with pytest.raises(Exception, match=r"the provided IP \(.*\) is not in the valid range. "
                                            r"The range of valid IPs is 10.96.0.0/12"):
            a.allocate(bad, "x/y")
    ip = a.allocate_next("x/y")
    assert a.has(ip) and int(ip.split(".")[2]) >= 1  # dynamic IPs skip the static band 10.96.0.1-10.96.1.0
    a.release(ip, "someone/else")
    assert a.has(ip)  # only the owner releases
    a.release(ip, "x/y")
    assert not a.has(ip)


def test_small_range_fills_up():
    a = IPAllocator("10.0.0.0/29", random.Random(3))  # 6 usable, no static band
    got = {a.allocate_next(f"ns/{i}") for i in range(6)}
    assert got == {f"10.0.0.{i}" for i in range(1, 7)}
    with pytest.raises(Exception, match="range is full"):
        a.allocate_next("ns/x")


def test_port_allocator():
    p = PortAllocator("30000-32767", random.Random(2))
    for _ in range(50):
        assert 30086 <= p.allocate_next("ns/a") <= 32767  # upper band first
    p.allocate(30080, "ns/b")
    with pytest.raises(Exception, match="^provided port is already allocated$"):
        p.allocate(30080, "ns/c")
    with pytest.raises(Exception, match="^provided port is not in the valid range. The range of valid ports is 30000-32767$"):
        p.allocate(80, "ns/c")


async def test_cluster_ip_and_node_port_filled(env):
    reg, plugin, _ = env
    k = await create(reg, svc("kubernetes", clusterIP="10.96.0.1"))
    assert k["spec"]["clusterIP"] == "10.96.0.1" and k["spec"]["clusterIPs"] == ["10.96.0.1"]
    assert k["spec"]["ipFamilies"] == ["IPv4"] and k["spec"]["ipFamilyPolicy"] == "SingleStack"
    s = await create(reg, svc("web", "NodePort", ports=[{"port": 8080, "targetPort": 80, "protocol": "TCP", "name": "http"}]))
    ip = s["spec"]["clusterIP"]
    assert plugin.ips.contains(ip) and s["spec"]["clusterIPs"] == [ip] and ip != "10.96.0.1"
    assert 30000 <= s["spec"]["ports"][0]["nodePort"] <= 32767


async def test_taken_and_out_of_range_are_422(env):
    reg, _, _ = env
    await create(reg, svc("a", clusterIP="10.96.0.5"))
    with pytest.raises(errors.StatusError) as e:
        await create(reg, svc("b", clusterIP="10.96.0.5"))
    assert e.value.code == 422
    assert e.value.message == ('Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.5"}: '
                               'failed to allocate IP 10.96.0.5: provided IP is already allocated')
    with pytest.raises(errors.StatusError) as e:
        await create(reg, svc("c", clusterIP="10.200.0.5"))
    assert e.value.message.endswith("failed to allocate IP 10.200.0.5: the provided IP (10.200.0.5) is not in the "
                                    "valid range. The range of valid IPs is 10.96.0.0/12")
    ports = [{"port": 80, "protocol": "TCP", "nodePort": 30080}]
    await create(reg, svc("np1", "NodePort", ports=ports))
    with pytest.raises(errors.StatusError) as e:
        await create(reg, svc("np2", "NodePort", ports=[{"port": 80, "protocol": "TCP", "nodePort": 30080}]))
    assert e.value.message == ('Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 30080: '
                               'provided port is already allocated')
    with pytest.raises(errors.StatusError) as e:
        await create(reg, svc("np3", "NodePort", ports=[{"port": 80, "protocol": "TCP", "nodePort": 80}]))
    assert e.value.message.endswith("spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid "
                                    "range. The range of valid ports is 30000-32767")


async def test_failed_create_releases_what_it_took(env):
    reg, plugin, _ = env
    await create(reg, svc("np1", "NodePort", ports=[{"port": 80, "protocol": "TCP", "nodePort": 30080}]))
    before = plugin.ips.allocated()
    with pytest.raises(errors.StatusError):  # IP allocated first, then the node port fails
        await create(reg, svc("np2", "NodePort", clusterIP="10.96.0.9",
                              ports=[{"port": 80, "protocol": "TCP", "nodePort": 30080}]))
    assert plugin.ips.allocated() == before
    with pytest.raises(errors.StatusError):  # allocation fine, validation fails afterwards
        await create(reg, svc("bad", clusterIP="10.96.0.9", sessionAffinity="Bogus"))
    assert plugin.ips.allocated() == before


async def test_headless_external_name_and_dry_run_allocate_nothing(env):
    reg, plugin, _ = env
    h = await create(reg, svc("h", clusterIP="None"))
    assert h["spec"]["clusterIPs"] == ["None"] and h["spec"]["ipFamilies"] == ["IPv4"]
    e = await create(reg, {"metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "externalName": "example.com"}})
    assert "clusterIP" not in e["spec"] and "ipFamilies" not in e["spec"]
    d = await create(reg, svc("dry", "NodePort"), dry_run=True)
    assert d["spec"]["clusterIP"] and d["spec"]["ports"][0]["nodePort"]
    assert plugin.ips.allocated() == [] and plugin.ports.allocated() == []
    # a dry run that asks for a taken value is rejected the same way, and releases nothing
    await create(reg, svc("real", clusterIP="10.96.0.7"))
    with pytest.raises(errors.StatusError):
        await create(reg, svc("dry2", clusterIP="10.96.0.7"), dry_run=True)
    with pytest.raises(errors.StatusError):
        await create(reg, svc("dry3", clusterIP="10.96.0.7", sessionAffinity="Bogus"), dry_run=True)
    assert plugin.ips.allocated() == ["10.96.0.7"]


async def test_delete_releases(env):
    reg, plugin, _ = env
    s = await create(reg, svc("a", "NodePort", clusterIP="10.96.0.10"))
    await reg.delete(SERVICES, "default", "a", DeleteOptions())
    assert plugin.ips.allocated() == [] and plugin.ports.allocated() == []
    again = await create(reg, svc("b", "NodePort", clusterIP="10.96.0.10",
                                  ports=[{"port": 80, "protocol": "TCP", "nodePort": s["spec"]["ports"][0]["nodePort"]}]))
    assert again["spec"]["clusterIP"] == "10.96.0.10"


async def test_type_changes_allocate_and_release(env):
    reg, plugin, _ = env
    s = await create(reg, svc("a"))
    ip = s["spec"]["clusterIP"]
    s["spec"]["type"] = "NodePort"
    s = await update(reg, s)
    np = s["spec"]["ports"][0]["nodePort"]
    assert plugin.ports.allocated() == [np] and s["spec"]["clusterIP"] == ip
    s["spec"]["type"] = "ClusterIP"
    s = await update(reg, s)
    assert "nodePort" not in s["spec"]["ports"][0]
    s["spec"] = {"type": "ExternalName", "externalName": "example.com", **{k: v for k, v in s["spec"].items()
                                                                       if k in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "ports")}}
    s = await update(reg, s)
    assert "clusterIP" not in s["spec"]
    p = await create(reg, svc("probe"))  # the next write settles the releases
    assert plugin.ips.allocated() == [p["spec"]["clusterIP"]] and plugin.ports.allocated() == []


async def test_resubmitted_manifest_keeps_allocations(env):
    reg, plugin, _ = env
    s = await create(reg, svc("a", "NodePort"))
    resubmit = svc("a", "NodePort")
    resubmit["metadata"]["resourceVersion"] = s["metadata"]["resourceVersion"]
    u = await update(reg, resubmit)
    assert u["spec"]["clusterIP"] == s["spec"]["clusterIP"]
    assert u["spec"]["ports"][0]["nodePort"] == s["spec"]["ports"][0]["nodePort"]


async def test_failed_update_keeps_old_and_drops_new(env):
    reg, plugin, _ = env
    s = await create(reg, svc("a", "NodePort", ports=[{"port": 80, "protocol": "TCP", "nodePort": 30001}]))
    s["spec"]["ports"][0]["nodePort"] = 30002
    s["spec"]["sessionAffinity"] = "Bogus"
    with pytest.raises(errors.StatusError):
        await update(reg, s)
    await create(reg, svc("probe"))
    assert plugin.ports.allocated() == [30001]


async def test_allocations_survive_restart(tmp_path):
    path = str(tmp_path / "db" / "state.db")
    store = SQLiteStore(path)
    reg = Registry(store, admission=Chain([ServiceAllocator(rng=random.Random(1))]))
    await reg.create(NAMESPACES, None, {"metadata": {"name": "default"}}, WriteOptions())
    first = await create(reg, svc("a", "NodePort"))
    store.close()
    store = SQLiteStore(path)
    plugin = ServiceAllocator(rng=random.Random(1))  # same seed: would pick the same values again
    reg = Registry(store, admission=Chain([plugin]))
    second = await create(reg, svc("b", "NodePort"))
    assert second["spec"]["clusterIP"] != first["spec"]["clusterIP"]
    assert second["spec"]["ports"][0]["nodePort"] != first["spec"]["ports"][0]["nodePort"]
    assert first["spec"]["clusterIP"] in plugin.ips.allocated()
    store.close()
