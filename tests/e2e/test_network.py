"""End to end: the pod network on real netns with the real CNI plugins (bridge, host-local,
loopback, portmap) — pod↔pod, pod↔gateway, host↔pod, service-CIDR routing, hostPort via
portmap, IP release on remove, re-add, and a clean teardown.

Uses its own bridge `kltest0`, CIDRs 10.236.x / 10.237.x and netns prefix `kltest-`, so a running
kubeling (kubeling0, 10.244/16, 10.96/12) on the same machine is not disturbed.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any, Iterator

import pytest

from kubeling.kubelet.network import NetworkError, PodNetwork, host, netns

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/usr/lib/cni/bridge") or not shutil.which("iptables"),
    reason="needs root, iptables and containernetworking-plugins")

BRIDGE = "kltest0"
PREFIX = "kltest-"
POD_CIDR = "10.236.1.0/24"
CLUSTER_CIDR = "10.236.0.0/20"  # the other tests' networks lie outside it (claims)
SERVICE_CIDR = "10.237.0.0/16"
GATEWAY = "10.236.1.1"
UID_A = "aaaaaaaa-0000-4000-8000-000000000001"
UID_B = "bbbbbbbb-0000-4000-8000-000000000002"
HOST_PORT = 18931

ECHO = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
print("ready", flush=True)
while True:
    c, addr = s.accept()
    data = c.recv(1024)
    c.sendall(data + b" from " + addr[0].encode())
    c.close()
"""

CLIENT = r"""
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
c.sendall(b"hi"); print(c.recv(1024).decode())
"""


class Env:
    """One event loop for the module (PodNetwork holds asyncio locks) + started processes."""

    def __init__(self, data_dir: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.net = PodNetwork(data_dir, POD_CIDR, BRIDGE, CLUSTER_CIDR, SERVICE_CIDR, netns_prefix=PREFIX)
        self.procs: list[subprocess.Popen[str]] = []
        self.pods: dict[str, tuple[str, list[str]]] = {}
        self.timings: dict[str, list[float]] = {"netns+ADD": [], "DEL+netns": []}

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def add(self, uid: str, name: str, ports: list[dict[str, Any]] | None = None) -> tuple[str, list[str]]:
        t = time.monotonic()
        res = self.run(self.net.add(uid, "default", name, ports or []))
        self.timings["netns+ADD"].append(time.monotonic() - t)
        self.pods[uid] = res
        return res

    def remove(self, uid: str) -> None:
        t = time.monotonic()
        self.run(self.net.remove(uid))
        self.timings["DEL+netns"].append(time.monotonic() - t)

    def echo_server(self, uid: str, port: int) -> subprocess.Popen[str]:
        """A TCP echo server inside the pod's netns, stopped by PID at teardown."""
        ns = self.net.netns_name(uid)
        p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", ECHO, str(port)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        assert p.stdout is not None and p.stdout.readline().strip() == "ready", p.stderr
        return p

    def stop_procs(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=5)
        self.procs.clear()


def in_netns(ns: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=10)


def tcp_from(ns: str | None, ip: str, port: int) -> str:
    argv = [sys.executable, "-c", CLIENT, ip, str(port)]
    r = in_netns(ns, *argv) if ns else subprocess.run(argv, capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def ping_from(ns: str, ip: str) -> bool:
    return in_netns(ns, "busybox", "ping", "-c", "1", "-W", "2", ip).returncode == 0


def sh(cmd: str) -> str:
    return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout


def force_cleanup() -> None:
    """Last resort if teardown_host failed: nothing named kltest may survive the module."""
    for n in netns.list_names(PREFIX):
        subprocess.run(["ip", "netns", "delete", n], capture_output=True)
    subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(host.remove_bridge_rules(BRIDGE))
        loop.run_until_complete(host.drop_portmap_chains_if_unused())
    finally:
        loop.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    e = Env(str(tmp_path_factory.mktemp("netdata")))
    try:
        e.run(e.net.setup_host())
        e.run(e.net.setup_host())  # idempotent
        e.add(UID_A, "pod-a", [{"containerPort": 8080, "hostPort": HOST_PORT, "protocol": "TCP"}])
        e.add(UID_B, "pod-b")
        e.echo_server(UID_A, 8080)
        e.echo_server(UID_B, 9090)
        yield e
    finally:
        e.stop_procs()
        try:
            e.run(e.net.teardown_host())
        finally:
            force_cleanup()
            e.loop.close()
        t = {k: f"median {statistics.median(v) * 1e3:.0f} ms (n={len(v)})" for k, v in e.timings.items() if v}
        print(f"\npod network timings: {t}")


def ip_of(env: Env, uid: str) -> str:
    return env.pods[uid][1][0]


def test_add_gives_netns_and_ip_in_pod_cidr(env: Env) -> None:
    import ipaddress
    for uid in (UID_A, UID_B):
        path, ips = env.pods[uid]
        assert path == f"/var/run/netns/{PREFIX}{uid.replace('-', '')[:12]}" and os.path.exists(path)
        assert len(ips) == 1 and ipaddress.ip_address(ips[0]) in ipaddress.ip_network(POD_CIDR)
        assert ips[0] != GATEWAY
    assert ip_of(env, UID_A) != ip_of(env, UID_B)
    ns = env.net.netns_name(UID_A)
    assert "UP" in in_netns(ns, "ip", "-br", "link", "show", "lo").stdout
    assert f"default via {GATEWAY} dev eth0" in in_netns(ns, "ip", "route").stdout
    # add is idempotent: same netns, same IP
    assert env.run(env.net.add(UID_A, "default", "pod-a")) == env.pods[UID_A]


def test_pod_to_pod_and_gateway(env: Env) -> None:
    a, b = env.net.netns_name(UID_A), env.net.netns_name(UID_B)
    assert tcp_from(a, ip_of(env, UID_B), 9090) == f"hi from {ip_of(env, UID_A)}"  # no NAT between pods
    assert tcp_from(b, ip_of(env, UID_A), 8080) == f"hi from {ip_of(env, UID_B)}"
    assert ping_from(a, ip_of(env, UID_B))
    assert ping_from(a, GATEWAY)
    assert ping_from(b, GATEWAY)


def test_host_reaches_pods(env: Env) -> None:
    assert tcp_from(None, ip_of(env, UID_A), 8080) == f"hi from {GATEWAY}"
    assert tcp_from(None, ip_of(env, UID_B), 9090) == f"hi from {GATEWAY}"


def test_service_and_cluster_cidr_route_to_bridge(env: Env) -> None:
    """An unNATed service IP, or another node's pod IP, must not take the default route."""
    for ip in ("10.237.0.99", "10.237.255.1", "10.236.7.7"):
        assert env.run(host.route_dev(ip)) == BRIDGE, sh(f"ip route get {ip}")
    # and for pod traffic the host forwards (it arrives on the bridge): back onto the bridge,
    # where nobody answers ARP, so the host answers ICMP host-unreachable — it never leaves.
    r = sh(f"ip -o route get 10.237.0.99 from {ip_of(env, UID_A)} iif {BRIDGE}")
    assert f"dev {BRIDGE}" in r and "eth0" not in r, r


def test_host_port_via_portmap(env: Env) -> None:
    """portmap DNATs hostPort on every local address: the host's 127.0.0.1 (it sets
    route_localnet on the bridge and masquerades with its mark), the bridge's own address,
    and from another pod to the gateway address (hairpin-free, the pod is on the same bridge)."""
    out = tcp_from(None, "127.0.0.1", HOST_PORT)
    assert out == f"hi from {GATEWAY}"  # 127.0.0.1 masqueraded to the bridge address
    assert tcp_from(None, GATEWAY, HOST_PORT).startswith("hi from ")
    b = env.net.netns_name(UID_B)
    assert tcp_from(b, GATEWAY, HOST_PORT).startswith("hi from ")
    assert "1" == open(f"/proc/sys/net/ipv4/conf/{BRIDGE}/route_localnet").read().strip()


def test_host_rules_and_sysctls(env: Env) -> None:
    nat = sh("iptables -t nat -S KUBELING-POSTROUTING")
    assert f'-A KUBELING-POSTROUTING -s {POD_CIDR} ! -d {CLUSTER_CIDR} ! -o {BRIDGE} -m comment --comment ' \
           f'"kubeling:{BRIDGE}:{env.net.owner}" -j MASQUERADE' in nat
    assert sh(f"ip -d link show {BRIDGE}").split("alias ")[1].split()[0] == f"kubeling:{env.net.owner}"
    assert "-A POSTROUTING -j KUBELING-POSTROUTING" in sh("iptables -t nat -S POSTROUTING")
    assert open("/proc/sys/net/ipv4/ip_forward").read().strip() == "1"
    assert sh(f"ip -br addr show {BRIDGE}").split()[2] == f"{GATEWAY}/24"


def test_list_netns_readopts(env: Env) -> None:
    """A fresh PodNetwork over the same data dir (a restarted kubelet) sees both pods."""
    again = PodNetwork.from_state(env.net.data_dir)
    assert again is not None and again.bridge == BRIDGE and again.pod_cidr == POD_CIDR
    got = {s.pod_uid: s for s in again.list_netns()}
    assert set(got) >= {UID_A, UID_B}
    assert got[UID_A].ips == env.pods[UID_A][1] and got[UID_A].netns_exists
    assert got[UID_A].port_mappings == [{"hostPort": HOST_PORT, "containerPort": 8080, "protocol": "tcp"}]
    assert got[UID_A].namespace == "default" and got[UID_A].name == "pod-a"
    assert again.orphan_netns() == []
    rec = json.load(open(os.path.join(again.results_dir, f"{UID_B}.json")))
    assert [p["type"] for p in rec["conflist"]["plugins"]] == ["bridge"]  # no hostPort: no portmap


def _reachable(env: Env) -> None:
    a, b = env.net.netns_name(UID_A), env.net.netns_name(UID_B)
    assert tcp_from(a, ip_of(env, UID_B), 9090) == f"hi from {ip_of(env, UID_A)}"
    assert tcp_from(None, ip_of(env, UID_A), 8080) == f"hi from {GATEWAY}"
    assert env.run(host.route_dev("10.237.0.99")) == BRIDGE


def test_reconcile_repairs_what_disappeared(env: Env) -> None:
    """Bridge deleted (its address, routes and ports go with it) and our masquerade rule
    deleted: reconcile re-creates them and re-attaches the pods' veths, pods talk again."""
    assert env.run(env.net.reconcile()) == []  # all in place: nothing to do
    ports = env.net.host_ports()
    assert len(ports) == 2 and all(host.link_master(p) == BRIDGE for p in ports)
    rule = host.masquerade_rules(BRIDGE, POD_CIDR, CLUSTER_CIDR, env.net.owner)[0]
    subprocess.run(["iptables", "-t", "nat", "-D", host.POSTROUTING_CHAIN, *rule], check=True)
    subprocess.run(["ip", "link", "delete", BRIDGE], check=True)
    assert all(host.link_master(p) == "" for p in ports)
    done = env.run(env.net.reconcile())
    assert done[:4] == [f"created bridge {BRIDGE}", f"added address {GATEWAY}/24", f"set {BRIDGE} up",
                        f"added route {CLUSTER_CIDR} dev {BRIDGE}"], done
    assert f"added route {SERVICE_CIDR} dev {BRIDGE}" in done
    assert sorted(d for d in done if d.startswith("re-attached")) == sorted(f"re-attached {p}" for p in ports)
    assert any(d.startswith(f"added rule nat/{host.POSTROUTING_CHAIN}") for d in done)
    assert open(f"/sys/class/net/{ports[0]}/brport/hairpin_mode").read().strip() == "1"
    assert env.run(env.net.reconcile()) == []
    _reachable(env)


def _subscribed(pid: int) -> bool:
    """`ip monitor` (pid) has its netlink socket bound to multicast groups (/proc/net/netlink:
    the Pid column is the first socket's port id, Groups the bitmask it listens to): from then
    on it sees every link event."""
    rows = [line.split() for line in open("/proc/net/netlink").read().splitlines()[1:]]
    return any(r[2] == str(pid) and int(r[3], 16) for r in rows)


def _rules_on_port(port: int) -> list[str]:
    """The host's iptables rules that match `port` as a port (a number inside another cluster's
    chain hash or address is not one)."""
    return [ln for ln in sh("iptables-save").splitlines() if re.search(rf"--dports? (\S+,)?{port}\b", ln)]


def test_monitor_repairs_on_the_netlink_event(env: Env) -> None:
    """The node's monitor (a period far too long to matter here) sees the bridge go away
    through `ip monitor` and repairs it at once; pods are reachable again."""
    from kubeling.kubelet.network.monitor import NetworkMonitor

    reports: list[tuple[bool, str, list[str]]] = []
    mon = NetworkMonitor(env.net, lambda ok, msg, done: reports.append((ok, msg, done)), period=3600)
    task = env.loop.create_task(mon.run())

    async def until(pred: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            assert time.monotonic() < deadline, reports
            await asyncio.sleep(0.05)

    try:
        env.run(until(lambda: mon._proc is not None and _subscribed(mon._proc.pid), 30))
        subprocess.run(["ip", "link", "delete", BRIDGE], check=True)
        env.run(until(lambda: reports, 60))
        ok, _msg, done = reports[0]
        assert ok and f"created bridge {BRIDGE}" in done
    finally:
        task.cancel()
        env.run(asyncio.gather(task, return_exceptions=True))
    assert mon._proc is None  # `ip monitor` stopped with the monitor
    _reachable(env)


def test_remove_releases_ip_and_readd(env: Env) -> None:
    uid = "cccccccc-0000-4000-8000-000000000003"
    path, ips = env.add(uid, "pod-c", [{"containerPort": 80, "hostPort": HOST_PORT + 1}])
    ipam = os.path.join(env.net.ipam_dir, "kubeling")
    assert os.path.exists(os.path.join(ipam, ips[0]))
    assert f"--dports {HOST_PORT + 1}" in sh("iptables -t nat -S CNI-HOSTPORT-DNAT")
    env.remove(uid)
    assert not os.path.exists(path)
    assert not os.path.exists(os.path.join(ipam, ips[0]))
    assert f"--dports {HOST_PORT + 1}" not in sh("iptables -t nat -S CNI-HOSTPORT-DNAT")
    assert env.net.status(uid) is None
    env.remove(uid)  # idempotent: already gone
    env.run(env.net.remove("dddddddd-0000-4000-8000-00000000dead"))  # never existed
    path2, ips2 = env.add(uid, "pod-c")
    assert os.path.exists(path2) and ips2 and os.path.exists(os.path.join(ipam, ips2[0]))
    env.remove(uid)
    # a netns that vanished behind our back: remove still releases the IP
    path3, ips3 = env.add(uid, "pod-c")
    subprocess.run(["ip", "netns", "delete", os.path.basename(path3)], check=True)
    env.remove(uid)
    assert not os.path.exists(os.path.join(ipam, ips3[0]))


def test_failed_add_is_undone(env: Env, tmp_path: Any) -> None:
    """A /30 has one pod address: the second ADD fails with FailedCreatePodSandBox and leaves
    no netns behind; missing plugins give NetworkPluginNotReady."""
    loop = env.loop
    small = PodNetwork(str(tmp_path), "10.236.16.0/30", "kltest1", "10.236.16.0/30", "10.236.17.0/30",
                       netns_prefix="kltest-x")
    try:
        loop.run_until_complete(small.add("eeeeeeee-1", "default", "one"))
        with pytest.raises(NetworkError) as ei:
            loop.run_until_complete(small.add("eeeeeeee-2", "default", "two"))
        assert ei.value.reason == "FailedCreatePodSandBox"
        assert 'failed to setup network for sandbox "eeeeeeee-2": plugin type="bridge" failed (add):' in ei.value.message
        assert "no IP addresses available" in ei.value.message
        assert not netns.exists(small.netns_name("eeeeeeee-2"))
    finally:
        loop.run_until_complete(small.teardown_host())
    assert not os.path.exists("/sys/class/net/kltest1")
    broken = PodNetwork(str(tmp_path / "b"), "10.236.18.0/24", "kltest2", "10.236.18.0/24", "10.236.19.0/24",
                        bin_dir=str(tmp_path / "nope"))
    with pytest.raises(NetworkError) as ei:
        loop.run_until_complete(broken.add("ffffffff-1", "default", "x"))
    assert ei.value.reason == "NetworkPluginNotReady"
    assert "NetworkReady=false reason:NetworkPluginNotReady" in ei.value.message
    loop.run_until_complete(broken.teardown_host())
    assert not os.path.exists("/sys/class/net/kltest2")


def test_teardown_leaves_nothing(tmp_path: Any) -> None:
    """Runs last-ish on its own network: after teardown_host no bridge, routes, rules, IPAM state."""
    loop = asyncio.new_event_loop()
    net = PodNetwork(str(tmp_path), "10.236.20.0/24", "kltest3", "10.236.20.0/22", "10.236.30.0/24",
                     netns_prefix="kltest-t")
    try:
        loop.run_until_complete(net.add("99999999-1", "default", "t", [{"containerPort": 1, "hostPort": 18999}]))
        assert _rules_on_port(18999)
        loop.run_until_complete(net.teardown_host())
        loop.run_until_complete(net.teardown_host())  # twice is fine
        assert not os.path.exists("/sys/class/net/kltest3")
        assert "kltest3" not in sh("ip route")
        assert "kubeling:kltest3" not in sh("iptables-save")
        assert _rules_on_port(18999) == []
        assert netns.list_names("kltest-t") == []
        assert not os.path.exists(os.path.join(net.ipam_dir, "kubeling"))
        assert PodNetwork.from_state(str(tmp_path)) is None
    finally:
        loop.run_until_complete(net.teardown_host())
        loop.close()


# --- kubeling down ---------------------------------------------------------------------------

def _orphan_sleep() -> tuple[int, int]:
    """A `sleep` that is not our child (like a container init under its monitor): pid + start."""
    from kubeling.down import proc_start_time
    out = subprocess.run(["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True)
    pid = int(out.stdout.strip())
    return pid, proc_start_time(pid)


def test_kubeling_down(tmp_path: Any) -> None:
    """`down` on a data dir with a pod network, mounts, a (fake-runc-state) container, a
    monitor and cgroups removes all of it; a second run finds nothing and reports no error."""
    from kubeling import down
    data = str(tmp_path / "data")
    agent = os.path.join(data, "agent")
    loop = asyncio.new_event_loop()
    net = PodNetwork(data, "10.236.40.0/24", "kltest4", "10.236.40.0/22", "10.236.44.0/24", netns_prefix="kltest-d")
    cg_root = "kltest-down"
    cg_dirs: list[str] = []
    pids: list[int] = []
    try:
        loop.run_until_complete(net.add("d0000001-aaaa", "default", "a", [{"containerPort": 80, "hostPort": 18971}]))
        loop.run_until_complete(net.add("d0000002-bbbb", "default", "b"))
        # mounts: a tmpfs emptyDir with a bind stacked inside, and an overlay rootfs
        vol = os.path.join(agent, "pods", "u1", "volumes", "kubernetes.io~empty-dir", "cache")
        sub = os.path.join(vol, "sub")
        rootfs, lower, upper, work = (os.path.join(agent, "containers", "c1", d) for d in ("rootfs", "l", "u", "w"))
        for d in (vol, rootfs, lower, upper, work):
            os.makedirs(d, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", vol], check=True)
        os.makedirs(sub)
        subprocess.run(["mount", "--bind", str(tmp_path), sub], check=True)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}",
                        rootfs], check=True)
        # a container in a runc root (state only; the "init" is a sleep) and its monitor
        init_pid, init_start = _orphan_sleep()
        mon_pid, mon_start = _orphan_sleep()
        pids += [init_pid, mon_pid]
        cid = "c1" + "0" * 62
        state_dir = os.path.join(agent, "runc", cid)
        os.makedirs(state_dir)
        with open(os.path.join(state_dir, "state.json"), "w") as f:
            json.dump({"id": cid, "init_process_pid": init_pid, "init_process_start": init_start}, f)
        with open(os.path.join(agent, "containers", "c1", "state.json"), "w") as f:
            json.dump({"id": cid, "monitor_pid": mon_pid, "monitor_start": mon_start, "status": "running"}, f)
        # cgroups like the runtime's /kubeling/pod<uid>/<id> (a distinct root name here)
        with open("/proc/self/mountinfo") as f:
            hier = [m for m in down.cgroup_mounts(f.read()) if m.endswith("/pids") or m == "/sys/fs/cgroup"][:1]
        for h in hier:
            d = os.path.join(h, cg_root, "podu1", "c1")
            os.makedirs(d)
            cg_dirs.append(os.path.join(h, cg_root))

        assert down.find_runtime_roots(agent) == [("runc", os.path.join(agent, "runc"))]
        lines: list[str] = []
        errors = down.down(data, log=lines.append, cgroup_root=cg_root, shared=False, binaries={"runc": None})
        assert errors == [], errors
        text = "\n".join(lines)
        assert f"stopped container {cid}" in text and "unmounted" in text and "removed bridge kltest4" in text
        from kubeling.down import proc_start_time
        assert proc_start_time(init_pid) == 0 and proc_start_time(mon_pid) == 0
        assert not os.path.exists(state_dir)
        with open("/proc/self/mountinfo") as f:
            assert down.mounts_under(os.path.realpath(agent), f.read()) == []
        assert netns.list_names("kltest-d") == []
        assert not os.path.exists("/sys/class/net/kltest4")
        assert "kltest4" not in sh("ip route") and "kubeling:kltest4" not in sh("iptables-save")
        assert _rules_on_port(18971) == []
        assert all(not os.path.exists(d) for d in cg_dirs)
        # twice, and on a data dir that never existed
        lines.clear()
        assert down.down(data, log=lines.append, cgroup_root=cg_root, shared=False) == []
        assert lines == []
        assert down.down(str(tmp_path / "nothing"), log=lines.append, shared=False) == [] and lines == []
    finally:
        for p in pids:
            try:
                os.kill(p, 9)
            except ProcessLookupError:
                pass
        with open("/proc/self/mountinfo") as f:
            for p in down.mounts_under(os.path.realpath(agent), f.read()):
                subprocess.run(["umount", "-l", p], capture_output=True)
        for d in cg_dirs:
            for sub_d, _s, _f in sorted(os.walk(d), key=lambda t: -t[0].count("/")):
                try:
                    os.rmdir(sub_d)
                except OSError:
                    pass
        loop.run_until_complete(net.teardown_host())
        loop.close()


def test_down_cli_parses(tmp_path: Any) -> None:
    import argparse
    from kubeling import down
    p = argparse.ArgumentParser()
    down.add_subcommand(p.add_subparsers(dest="cmd"))
    args = p.parse_args(["down", "--data-dir", str(tmp_path), "-q"])
    assert (args.data_dir, args.all, args.quiet) == (str(tmp_path), False, True)


@pytest.mark.skipif(not shutil.which("runc") or not shutil.which("busybox"), reason="needs runc and busybox-static")
def test_kubeling_down_stops_real_runc_container(tmp_path: Any) -> None:
    """A real runc container joined to a pod's netns (it sees the pod IP on eth0) is killed and
    deleted by `down`, along with its cgroup and the pod network."""
    from kubeling import down
    data = str(tmp_path / "data")
    root = os.path.join(data, "agent", "runc")
    bundle = tmp_path / "bundle"
    rootfs = bundle / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    for d in ("proc", "sys", "dev", "tmp", "etc"):
        (rootfs / d).mkdir()
    shutil.copy(shutil.which("busybox") or "", rootfs / "bin" / "busybox")
    for a in ("sh", "sleep", "ip"):
        os.symlink("busybox", rootfs / "bin" / a)
    loop = asyncio.new_event_loop()
    net = PodNetwork(data, "10.236.48.0/24", "kltest5", "10.236.48.0/22", "10.236.52.0/24", netns_prefix="kltest-r")
    cid = "kltestdown" + "1" * 20
    try:
        ns_path, ips = loop.run_until_complete(net.add("r0000001-aaaa", "default", "r"))
        subprocess.run(["runc", "spec"], cwd=bundle, check=True)
        spec = json.loads((bundle / "config.json").read_text())
        spec["process"].update(terminal=False, args=["sleep", "60"])
        spec["root"] = {"path": str(rootfs), "readonly": True}
        spec["linux"]["cgroupsPath"] = f"/kltest-down/podr1/{cid}"
        spec["linux"]["namespaces"] = [n if n["type"] != "network" else {"type": "network", "path": ns_path}
                                       for n in spec["linux"]["namespaces"]]
        (bundle / "config.json").write_text(json.dumps(spec))
        subprocess.run(["runc", "--root", root, "run", "-d", "--bundle", str(bundle), "--pid-file",
                        str(tmp_path / "pid"), cid], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True, timeout=30)
        pid = int((tmp_path / "pid").read_text())
        r = subprocess.run(["runc", "--root", root, "exec", cid, "ip", "-o", "-4", "addr", "show", "eth0"],
                           capture_output=True, text=True, timeout=10)
        assert f"inet {ips[0]}/24" in r.stdout, r
        assert down.find_runtime_roots(os.path.join(data, "agent")) == [("runc", root)]
        lines: list[str] = []
        assert down.down(data, log=lines.append, cgroup_root="kltest-down", shared=False) == []
        assert f"stopped container {cid} (runc, root {root})" in lines
        assert down.proc_start_time(pid) == 0
        assert json.loads(subprocess.run(["runc", "--root", root, "list", "-f", "json"], capture_output=True,
                                         text=True).stdout or "null") in (None, [])
        assert not os.path.exists(ns_path) and not os.path.exists("/sys/class/net/kltest5")
        assert not any(os.path.exists(f"/sys/fs/cgroup/{c}/kltest-down") for c in ("memory", "pids", "cpu"))
    finally:
        subprocess.run(["runc", "--root", root, "delete", "-f", cid], capture_output=True)
        down.remove_cgroups("kltest-down", lambda _m: None)
        loop.run_until_complete(net.teardown_host())
        loop.close()
