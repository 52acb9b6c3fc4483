"""The CNI runtime's pure parts (config building, runtimeConfig/prevResult injection, result
and error parsing) and the iptables bookkeeping, plus exec_plugin against a fake plugin."""

from __future__ import annotations

import asyncio
import json
import os
import stat

import pytest

from kubeling.kubelet.network import PodNetwork, cni, host, netns


def test_pod_conflist() -> None:
    c = cni.pod_conflist("kubeling", "kubeling0", "10.244.0.0/24", "/d/agent/cni/ipam")
    assert c["cniVersion"] == "1.0.0" and c["name"] == "kubeling"
    br, pm = c["plugins"]
    assert br == {"type": "bridge", "bridge": "kubeling0", "isGateway": True, "ipMasq": False, "hairpinMode": True,
                  "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24", "gateway": "10.244.0.1"}]],
                           "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "/d/agent/cni/ipam"}}
    assert pm == {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}


def test_without_plugin() -> None:
    c = cni.pod_conflist("net", "br0", "10.1.0.0/24", "/ipam")
    assert [p["type"] for p in cni.without_plugin(c, "portmap")["plugins"]] == ["bridge"]
    assert [p["type"] for p in c["plugins"]] == ["bridge", "portmap"]  # untouched


def test_plugin_config_injects_name_version_prev_and_capabilities() -> None:
    c = cni.pod_conflist("net", "br0", "10.1.0.0/24", "/ipam")
    rc = {"portMappings": [{"hostPort": 80, "containerPort": 8080, "protocol": "tcp"}], "bandwidth": {"x": 1}}
    first = cni.plugin_config(c, 0, None, rc)
    assert first["name"] == "net" and first["cniVersion"] == "1.0.0"
    assert "prevResult" not in first and "runtimeConfig" not in first  # bridge has no capabilities
    prev = {"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.2/24"}]}
    second = cni.plugin_config(c, 1, prev, rc)
    assert second["prevResult"] == prev
    assert second["runtimeConfig"] == {"portMappings": rc["portMappings"]}  # only declared capabilities
    assert "runtimeConfig" not in cni.plugin_config(c, 1, prev, {})
    assert "runtimeConfig" not in c["plugins"][1]  # the list itself is untouched


@pytest.mark.parametrize("entries,want", [
    ([], []),
    ([{"containerPort": 80}], []),  # no hostPort: not mapped
    ([{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}],
     [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]),
    ([{"containerPort": 53, "hostPort": 5353, "protocol": "UDP", "hostIP": "127.0.0.1", "name": "dns"}],
     [{"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "127.0.0.1"}]),
    ([{"containerPort": 80, "hostPort": 0}], []),
    ([{"containerPort": 80, "hostPort": 81}], [{"hostPort": 81, "containerPort": 80, "protocol": "tcp"}]),
])
def test_port_mappings(entries: list, want: list) -> None:
    assert cni.port_mappings(entries) == want


def test_cni_args_and_env() -> None:
    a = cni.cni_args("default", "redis", "uid-1", "uid-1")
    assert a == ("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=redis;"
                 "K8S_POD_INFRA_CONTAINER_ID=uid-1;K8S_POD_UID=uid-1")
    env = cni.plugin_env("ADD", "uid-1", "/var/run/netns/x", "eth0", a, "/usr/lib/cni")
    assert {k: env[k] for k in ("CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH")} == {
        "CNI_COMMAND": "ADD", "CNI_CONTAINERID": "uid-1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0",
        "CNI_PATH": "/usr/lib/cni"}
    assert "PATH" in env


def test_result_ips() -> None:
    res = {"cniVersion": "1.0.0",
           "interfaces": [{"name": "kubeling0"}, {"name": "veth1"}, {"name": "eth0", "sandbox": "/var/run/netns/x"}],
           "ips": [{"address": "fd00::5/64", "interface": 2}, {"address": "10.244.0.5/24", "gateway": "10.244.0.1",
                                                               "interface": 2},
                   {"address": "10.244.0.1/24", "interface": 0}]}
    assert cni.result_ips(res) == ["10.244.0.5", "fd00::5"]  # IPv4 first; host-side address dropped
    assert cni.result_ips({"ips": [{"address": "10.0.0.2/8"}]}) == ["10.0.0.2"]  # no interface index
    assert cni.result_ips({}) == []


def test_parse_error() -> None:
    e = cni.parse_error("bridge", "ADD", 1, b'{"code":11,"msg":"failed to allocate","details":"range full"}', b"")
    assert (e.code, e.msg, e.details) == (11, "failed to allocate", "range full")
    assert str(e) == 'plugin type="bridge" failed (add): failed to allocate; range full'
    e = cni.parse_error("portmap", "DEL", 2, b"", b"panic:\n  something\n")
    assert (e.code, str(e)) == (2, 'plugin type="portmap" failed (del): panic: something')
    assert cni.parse_error("x", "ADD", 3, b"", b"").msg == "exit status 3"


def test_netns_name() -> None:
    assert netns.netns_name("6F9619FF-8B86-D011-B42D-00C04FC964FF") == "kubeling-6f9619ff8b86"
    assert netns.netns_name("abc", "kltest-") == "kltest-abc"
    assert netns.netns_path("kubeling-x") == "/var/run/netns/kubeling-x"


def test_host_rules() -> None:
    assert host.masquerade_rules("kubeling0", "10.244.0.0/24", "10.244.0.0/16") == [
        ["-s", "10.244.0.0/24", "!", "-d", "10.244.0.0/16", "!", "-o", "kubeling0",
         "-m", "comment", "--comment", "kubeling:kubeling0", "-j", "MASQUERADE"]]
    assert [r[:2] for r in host.forward_rules("b", "10.1.0.0/24")] == [["-s", "10.1.0.0/24"], ["-d", "10.1.0.0/24"]]


def test_rules_to_delete_only_this_bridge() -> None:
    listing = "\n".join([
        "-N KUBELING-POSTROUTING",
        '-A KUBELING-POSTROUTING -s 10.244.0.0/24 ! -d 10.244.0.0/16 ! -o kubeling0 -m comment '
        '--comment "kubeling:kubeling0" -j MASQUERADE',
        '-A KUBELING-POSTROUTING -s 10.250.1.0/24 ! -d 10.250.0.0/16 ! -o kltest0 -m comment '
        '--comment "kubeling:kltest0" -j MASQUERADE',
    ])
    assert host.rules_to_delete(listing, "KUBELING-POSTROUTING", "kltest0") == [
        ["-D", "KUBELING-POSTROUTING", "-s", "10.250.1.0/24", "!", "-d", "10.250.0.0/16", "!", "-o", "kltest0",
         "-m", "comment", "--comment", "kubeling:kltest0", "-j", "MASQUERADE"]]
    assert host.rules_to_delete(listing, "KUBELING-POSTROUTING", "kltest") == []  # exact tag only
    assert host.chain_rule_count(listing, "KUBELING-POSTROUTING") == 2
    assert host.chain_rule_count("-N KUBELING-POSTROUTING\n", "KUBELING-POSTROUTING") == 0


def test_podnetwork_parameters(tmp_path) -> None:
    n = PodNetwork(str(tmp_path), "10.244.1.0/24", bridge="kubeling1")
    assert n.gateway == "10.244.1.1" and n.cluster_cidr == "10.244.0.0/16" and n.service_cidr == "10.96.0.0/12"
    assert n.ipam_dir == os.path.join(str(tmp_path), "agent", "cni", "ipam")
    assert n.conflist["plugins"][0]["ipam"]["dataDir"] == n.ipam_dir
    assert n.list_netns() == [] and n.status("x") is None
    assert PodNetwork.from_state(str(tmp_path)) is None
    with pytest.raises(ValueError):
        PodNetwork(str(tmp_path), bridge="a-very-long-bridge-name")
    with pytest.raises(ValueError):
        PodNetwork(str(tmp_path), "10.0.0.0/31")


FAKE = """#!/bin/sh
cat > "$OUT.stdin"
env | grep ^CNI_ | sort > "$OUT.env"
case "$MODE" in
  ok) echo '{"cniVersion":"1.0.0","ips":[{"address":"10.9.0.2/24"}]}' ;;
  fail) echo '{"code":7,"msg":"invalid config","details":"bad"}'; exit 1 ;;
  hang) sleep 5 ;;
esac
"""


def _fake(tmp_path, mode: str) -> tuple[str, dict]:
    p = tmp_path / "fake"
    p.write_text(FAKE)
    p.chmod(p.stat().st_mode | stat.S_IEXEC)
    env = cni.plugin_env("ADD", "cid", "/var/run/netns/n", "eth0", "IgnoreUnknown=1", str(tmp_path))
    env.update(OUT=str(tmp_path / "out"), MODE=mode)
    return str(tmp_path), env


def test_exec_plugin_passes_stdin_env_and_parses(tmp_path) -> None:
    d, env = _fake(tmp_path, "ok")
    conf = {"cniVersion": "1.0.0", "name": "n", "type": "fake"}
    res = asyncio.run(cni.exec_plugin(d, conf, env, 5))
    assert res["ips"][0]["address"] == "10.9.0.2/24"
    assert json.loads((tmp_path / "out.stdin").read_text()) == conf
    assert "CNI_COMMAND=ADD\nCNI_CONTAINERID=cid\nCNI_IFNAME=eth0\nCNI_NETNS=/var/run/netns/n" in \
        (tmp_path / "out.env").read_text()
    assert asyncio.run(cni.exec_plugin(d, conf, {**env, "CNI_COMMAND": "DEL"}, 5)) == {}


def test_exec_plugin_errors(tmp_path) -> None:
    d, env = _fake(tmp_path, "fail")
    with pytest.raises(cni.CNIPluginError) as ei:
        asyncio.run(cni.exec_plugin(d, {"type": "fake"}, env, 5))
    assert (ei.value.code, str(ei.value)) == (7, 'plugin type="fake" failed (add): invalid config; bad')
    d, env = _fake(tmp_path, "hang")
    with pytest.raises(cni.CNIPluginError, match="timed out after 0.2s"):
        asyncio.run(cni.exec_plugin(d, {"type": "fake"}, env, 0.2))
    with pytest.raises(cni.CNIPluginError, match='failed to find plugin "missing"'):
        asyncio.run(cni.exec_plugin(d, {"type": "missing"}, env, 5))


def test_del_list_runs_every_plugin_in_reverse(tmp_path) -> None:
    d, env = _fake(tmp_path, "fail")
    conflist = {"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "fake", "n": 1}, {"type": "fake", "n": 2}]}
    with pytest.raises(cni.CNIPluginError):
        asyncio.run(cni.del_list(d, conflist, {}, {"ips": []}, {**env, "CNI_COMMAND": "DEL"}, 5))
    last = json.loads((tmp_path / "out.stdin").read_text())
    assert last["n"] == 1 and last["prevResult"] == {"ips": []}  # the first plugin ran last, despite errors
