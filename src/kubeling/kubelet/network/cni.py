"""A minimal CNI runtime (what libcni does for containerd), driving the reference plugins.

The pod network is a chained conflist (`cniVersion` 1.0.0): `bridge` (with `host-local` IPAM)
then `portmap` (hostPorts). `loopback` runs as its own one-plugin network on `lo` like
containerd's CRI does, because the loopback plugin acts on `CNI_IFNAME` and the chain's
interface is `eth0`. ADD runs the chain in order, feeding each plugin the previous result;
DEL runs it in reverse with the cached ADD result. A pod without hostPorts gets the chain
without portmap (recorded with its result, so its DEL uses the same chain). The functions at the top are pure: they
build configs and parse results; `exec_plugin` does the I/O.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
from typing import Any

from ...hostcmd import CommandTimeout, run

CNI_VERSION = "1.0.0"
DEFAULT_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
REQUIRED_PLUGINS = ("bridge", "host-local", "loopback", "portmap")


class NetworkError(Exception):
    """A pod network failure; `reason` is the event reason the kubelet records
    (NetworkPluginNotReady, FailedCreatePodSandBox, FailedKillPod)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class CNIPluginError(Exception):
    """A plugin exited non-zero; carries the CNI error code and message it printed."""

    def __init__(self, plugin: str, command: str, code: int, msg: str, details: str = "") -> None:
        self.plugin, self.command, self.code, self.msg, self.details = plugin, command, code, msg, details
        text = msg + (f"; {details}" if details else "")
        super().__init__(f'plugin type="{plugin}" failed ({command.lower()}): {text}')


def pod_conflist(name: str, bridge: str, subnet: str, ipam_dir: str, *, gateway: str = "",
                 mtu: int = 0) -> dict[str, Any]:
    """The pod network: bridge + host-local for `subnet` (gateway = first address), then portmap.

    `ipMasq` is off: outbound masquerade lives in our own KUBELING-POSTROUTING chain, one rule
    per node, instead of the bridge plugin's per-pod chains."""
    net = ipaddress.ip_network(subnet)
    gw = gateway or str(net.network_address + 1)
    bridge_conf: dict[str, Any] = {
        "type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False, "hairpinMode": True,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": str(net), "gateway": gw}]],
                 "routes": [{"dst": "0.0.0.0/0"}], "dataDir": ipam_dir},
    }
    if mtu:
        bridge_conf["mtu"] = mtu
    return {"cniVersion": CNI_VERSION, "name": name, "plugins": [
        bridge_conf,
        {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
    ]}


def without_plugin(conflist: dict[str, Any], plugin_type: str) -> dict[str, Any]:
    """The chain minus one plugin type (a pod without hostPorts skips portmap: one exec and
    several iptables calls fewer on both ADD and DEL)."""
    return {**conflist, "plugins": [p for p in conflist["plugins"] if p.get("type") != plugin_type]}


def loopback_config() -> dict[str, Any]:
    return {"cniVersion": CNI_VERSION, "name": "cni-loopback", "plugins": [{"type": "loopback"}]}


def port_mappings(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pod `ports[]` entries (or CNI portMappings) with a hostPort → CNI `portMappings`
    (`{"hostPort","containerPort","protocol" lower-case,"hostIP"}`); entries without one are dropped."""
    out = []
    for e in entries:
        host_port = int(e.get("hostPort") or 0)
        if host_port <= 0:
            continue
        m: dict[str, Any] = {"hostPort": host_port, "containerPort": int(e.get("containerPort") or host_port),
                             "protocol": str(e.get("protocol") or "TCP").lower()}
        if e.get("hostIP"):
            m["hostIP"] = e["hostIP"]
        out.append(m)
    return out


def plugin_config(conflist: dict[str, Any], index: int, prev_result: dict[str, Any] | None,
                  runtime_config: dict[str, Any]) -> dict[str, Any]:
    """The stdin JSON for plugin `index` of the chain, as libcni builds it: the plugin's own
    keys plus the list's `name`/`cniVersion`, `prevResult`, and `runtimeConfig` restricted to
    the capabilities the plugin declares."""
    conf = copy.deepcopy(conflist["plugins"][index])
    conf["cniVersion"] = conflist["cniVersion"]
    conf["name"] = conflist["name"]
    caps = {k for k, v in (conf.get("capabilities") or {}).items() if v}
    rc = {k: v for k, v in runtime_config.items() if k in caps}
    if rc:
        conf["runtimeConfig"] = rc
    if prev_result is not None:
        conf["prevResult"] = prev_result
    return conf


def cni_args(namespace: str, name: str, sandbox_id: str, pod_uid: str) -> str:
    """CNI_ARGS as the kubelet/CRI passes them (IgnoreUnknown so plugins don't reject them)."""
    return (f"IgnoreUnknown=1;K8S_POD_NAMESPACE={namespace};K8S_POD_NAME={name};"
            f"K8S_POD_INFRA_CONTAINER_ID={sandbox_id};K8S_POD_UID={pod_uid}")


def plugin_env(command: str, container_id: str, netns: str, ifname: str, args: str,
               bin_dir: str) -> dict[str, str]:
    """The CNI_* environment for one plugin call (PATH kept so plugins find iptables)."""
    return {"CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_NETNS": netns,
            "CNI_IFNAME": ifname, "CNI_ARGS": args, "CNI_PATH": bin_dir,
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}


def result_ips(result: dict[str, Any]) -> list[str]:
    """Pod IPs from a CNI result: addresses on the sandbox's interfaces (IPv4 first, like
    the kubelet's podIPs ordering), without the prefix length."""
    ifaces = result.get("interfaces") or []
    ips = []
    for ip in result.get("ips") or []:
        idx = ip.get("interface")
        if idx is not None and 0 <= idx < len(ifaces) and not ifaces[idx].get("sandbox"):
            continue  # an address on a host-side interface, not the pod's
        ips.append(str(ipaddress.ip_interface(ip["address"]).ip))
    return sorted(dict.fromkeys(ips), key=lambda a: ipaddress.ip_address(a).version)


def parse_error(plugin: str, command: str, rc: int, stdout: bytes, stderr: bytes) -> CNIPluginError:
    """A CNI error from a failed plugin: the spec'd JSON on stdout, else stderr text."""
    try:
        e = json.loads(stdout)
        if isinstance(e, dict) and "msg" in e:
            return CNIPluginError(plugin, command, int(e.get("code", rc)), str(e["msg"]), str(e.get("details", "")))
    except ValueError:
        pass
    text = " ".join((stderr or stdout).decode(errors="replace").split()) or f"exit status {rc}"
    return CNIPluginError(plugin, command, rc, text)


def find_bin_dir(candidates: tuple[str, ...] = DEFAULT_BIN_DIRS) -> str | None:
    """The first directory holding every plugin we need."""
    for d in candidates:
        if all(os.access(os.path.join(d, p), os.X_OK) for p in REQUIRED_PLUGINS):
            return d
    return None


async def exec_plugin(bin_dir: str, conf: dict[str, Any], env: dict[str, str],
                      timeout: float) -> dict[str, Any]:
    """Run one plugin with conf on stdin; return its result (empty dict for DEL/CHECK)."""
    plugin = conf["type"]
    path = os.path.join(bin_dir, plugin)
    command = env["CNI_COMMAND"]
    try:
        r = await run([path], input=json.dumps(conf).encode(), env=env, timeout=timeout)
    except CommandTimeout:
        raise CNIPluginError(plugin, command, 999, f"timed out after {timeout:g}s") from None
    if r.rc == 127 and not os.path.exists(path):
        raise CNIPluginError(plugin, command, 999, f"failed to find plugin \"{plugin}\" in path [{bin_dir}]")
    if not r.ok:
        raise parse_error(plugin, command, r.rc, r.stdout, r.stderr)
    if command != "ADD":
        return {}
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise CNIPluginError(plugin, command, 999, f"invalid result JSON: {r.stdout[:200]!r}") from None


async def add_list(bin_dir: str, conflist: dict[str, Any], runtime_config: dict[str, Any],
                   env: dict[str, str], timeout: float) -> dict[str, Any]:
    """ADD every plugin of the chain in order; the last result is the network's result."""
    result: dict[str, Any] | None = None
    for i in range(len(conflist["plugins"])):
        conf = plugin_config(conflist, i, result, runtime_config)
        result = await exec_plugin(bin_dir, conf, {**env, "CNI_COMMAND": "ADD"}, timeout)
    return result or {}


async def del_list(bin_dir: str, conflist: dict[str, Any], runtime_config: dict[str, Any],
                   prev_result: dict[str, Any] | None, env: dict[str, str], timeout: float) -> None:
    """DEL every plugin in reverse order, each with the cached ADD result as prevResult.
    Every plugin runs even if one fails (so IPs are released); the first error is raised."""
    first: CNIPluginError | None = None
    for i in reversed(range(len(conflist["plugins"]))):
        conf = plugin_config(conflist, i, prev_result, runtime_config)
        try:
            await exec_plugin(bin_dir, conf, {**env, "CNI_COMMAND": "DEL"}, timeout)
        except CNIPluginError as e:
            first = first or e
    if first:
        raise first
