"""`kubeling down [--data-dir DIR] [--all]`: stop every container of a data dir's node and remove
what the node created on the host. Safe to run twice, and when nothing exists.

In order:
1. containers: every OCI runtime root of the data dir — the node's `/run/kubeling/<hash of
   DATA>/<runc|crun>` (see runtime/oci.py) and any under DATA/agent (a dir whose children hold
   runc's `state.json` or crun's `status`) → `<runtime> --root R delete -f ID` (after `kill
   --all KILL`); without the runtime binary, SIGKILL the init by PID (checked against its
   recorded start time) and drop the state dir; then the local registry (DATA/agent/registry/pid,
   checked to be that docker-registry);
2. the per-container monitor processes (DATA/agent/containers/*/state.json `monitor_pid`,
   again matched by start time): SIGTERM, then SIGKILL; then the log directories of the node's
   pods (by pod UID under `--pod-log-dir`, and each container's recorded log path);
3. the pod network recorded in DATA/agent/cni (PodNetwork.teardown_host: CNI DEL for each pod,
   the netns, the bridge and its routes if the bridge carries this data dir's owner mark, this
   data dir's masquerade/forward rules, IPAM state, its claim in /run/kubeling/net), and its
   kube-proxy's chains / nft table (names ending in its owner id, see proxy/);
4. every mount under DATA/agent (overlay rootfs, tmpfs and bind volumes), deepest first;
5. empty cgroups under /sys/fs/cgroup/*/kubeling (a cgroup that still has processes — another
   node's — can't be removed, so this is safe);
6. shared chains (only when this data dir had a pod network: a cluster without a node touches
   no host network state): once no node's rules are left in KUBELING-POSTROUTING/-FORWARD, every
   KUBELING-* and KUBE-* iptables chain and the nft tables `kube-proxy`/`kubeling*`, plus
   portmap's CNI-HOSTPORT-* chains when no mapping is left.
`--all` also removes what no data dir records: every `kubeling-*` netns, every `kubeling*`
bridge, and the shared chains unconditionally.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from typing import Callable

from .config import Config

Log = Callable[[str], None]
CGROUP_ROOT = "kubeling"
STATE_BASE = "/run/kubeling"
SKIP_DIRS = {"images", "rootfs", "upper", "work", "merged", "volumes", "ipam"}
TABLES = ("nat", "filter", "mangle", "raw")


def add_subcommand(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = subparsers.add_parser("down", help="stop the node's containers and remove what it created on the host")
    p.add_argument("--data-dir", default=Config.data_dir)
    p.add_argument("--all", action="store_true",
                   help="also remove every kubeling-* netns, kubeling* bridge and KUBELING-*/KUBE-* chain, "
                        "whichever data dir made them")
    p.add_argument("--pod-log-dir", default=Config.pod_log_dir,
                   help="the node's pod log dir (`up --pod-log-dir`): its pods' log directories are removed")
    p.add_argument("-q", "--quiet", action="store_true")


def running_server(data_dir: str) -> str:
    """The socket of a `kubeling up` still serving this data dir ('' when none answers; a
    socket file left by a killed one refuses the connection)."""
    path = Config(data_dir=data_dir).socket_path
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)  # a connect to a full backlog blocks; a timeout counts as "answers"
        try:
            s.connect(path)
        except socket.timeout:
            return path
        except OSError:
            return ""
    return path


def run(args: argparse.Namespace) -> int:
    # Tearing a node down under its running kubelet has it rebuild the bridge and rules at once,
    # with no record left for a later `down` to find: the running cluster must stop first.
    serving = running_server(args.data_dir)
    if serving:
        print(f"error: kubeling up is still running on {args.data_dir} ({serving} answers): stop it first")
        return 1
    log: Log = (lambda _m: None) if args.quiet else print
    errors = down(args.data_dir, everything=args.all, log=log, pod_log_dir=args.pod_log_dir)
    for e in errors:
        print(f"error: {e}")
    return 1 if errors else 0


def down(data_dir: str, *, everything: bool = False, log: Log = print, cgroup_root: str = CGROUP_ROOT,
         shared: bool | None = None, binaries: dict[str, str | None] | None = None,
         pod_log_dir: str = Config.pod_log_dir) -> list[str]:
    """Do the whole teardown; returns the errors (empty when everything is gone).

    shared: remove the host-wide KUBELING-*/KUBE-* chains (None: only when no node is left,
    True: always, False: never). binaries: runtime name -> path (default: found on PATH).
    pod_log_dir: where the node wrote container logs (its pods' directories there go too)."""
    agent = os.path.join(os.path.abspath(data_dir), "agent")
    errors: list[str] = []
    for kind, root in oci_state_roots(data_dir) + find_runtime_roots(agent):
        binary = binaries[kind] if binaries and kind in binaries else shutil.which(kind)
        errors += stop_containers(kind, root, binary, log)
    stop_monitors(agent, log)
    remove_state_roots(data_dir)  # after the monitors: none may send runc a command on a removed root
    remove_pod_logs(agent, pod_log_dir, log)
    stop_registry(os.path.join(agent, "registry"), log)
    errors += asyncio.run(_network(data_dir, everything, log, shared))
    errors += unmount_under(agent, log)
    remove_cgroups(cgroup_root, log)
    return errors


# --- processes --------------------------------------------------------------------------------

def proc_start_time(pid: int) -> int:
    """Field 22 of /proc/PID/stat (0 if gone or a zombie): with the pid, identifies the process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    fields = data[data.rindex(b")") + 2:].split()
    return 0 if fields[0] in (b"Z", b"X") else int(fields[19])


def kill_verified(pid: int, start: int, sig: int = signal.SIGKILL) -> bool:
    """Signal pid only if it is still the process that was recorded (same start time)."""
    if pid <= 1 or proc_start_time(pid) == 0 or (start and proc_start_time(pid) != start):
        return False
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def wait_gone(pids: list[tuple[int, int]], timeout: float) -> list[tuple[int, int]]:
    """Poll until every (pid, start) is gone or timeout; returns the survivors."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [(p, s) for p, s in pids if proc_start_time(p) and (not s or proc_start_time(p) == s)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


def _read_json(path: str) -> dict | None:
    try:
        with open(path) as f:
            d = json.load(f)
        return d if isinstance(d, dict) else None
    except (OSError, ValueError):
        return None


def state_kind(cdir: str) -> str:
    """'runc' if cdir is a runc container state dir, 'crun' for crun, else ''."""
    st = _read_json(os.path.join(cdir, "state.json"))
    if st and "init_process_pid" in st:
        return "runc"
    st = _read_json(os.path.join(cdir, "status"))
    if st and "pid" in st and ("cgroup-path" in st or "bundle" in st):
        return "crun"
    return ""


def find_runtime_roots(agent: str, depth: int = 3) -> list[tuple[str, str]]:
    """(runtime, root dir) for every OCI runtime state root under agent."""
    found: list[tuple[str, str]] = []
    if not os.path.isdir(agent):
        return found

    def walk(d: str, level: int) -> None:
        try:
            children = [e for e in os.scandir(d) if e.is_dir(follow_symlinks=False)]
        except OSError:
            return
        kinds = {state_kind(c.path) for c in children} - {""}
        for k in sorted(kinds):
            found.append((k, d))
        if kinds or level >= depth:
            return
        for c in children:
            if c.name not in SKIP_DIRS:
                walk(c.path, level + 1)

    walk(agent, 0)
    return found


def state_dir(data_dir: str) -> str:
    """`/run/kubeling/<hash>`: where the node's OCI runtime keeps its state (runtime/oci.py)."""
    import hashlib

    return os.path.join(STATE_BASE, hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:12])


def oci_state_roots(data_dir: str) -> list[tuple[str, str]]:
    return [(k, os.path.join(state_dir(data_dir), k)) for k in ("runc", "crun")
            if os.path.isdir(os.path.join(state_dir(data_dir), k))]


def remove_state_roots(data_dir: str) -> None:
    """Drop the runtime state dirs once no container is left in them."""
    for _kind, root in oci_state_roots(data_dir):
        if not any(state_kind(e.path) for e in os.scandir(root) if e.is_dir()):
            shutil.rmtree(root, ignore_errors=True)
    try:
        os.rmdir(state_dir(data_dir))
    except OSError:
        pass


def stop_registry(workdir: str, log: Log) -> None:
    """The local docker-registry `kubeling up` started, by its recorded PID, after checking
    the PID still is that registry (its argv names this workdir's config)."""
    try:
        with open(os.path.join(workdir, "pid")) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except (OSError, ValueError):
        return
    if os.path.join(workdir, "config.yml").encode() not in argv:
        return
    start = proc_start_time(pid)
    kill_verified(pid, start, signal.SIGTERM)
    for p, s in wait_gone([(pid, start)], 3):
        kill_verified(p, s, signal.SIGKILL)
    log(f"stopped registry {pid}")


def stop_containers(kind: str, root: str, binary: str | None, log: Log) -> list[str]:
    """Kill and delete every container in one runtime root."""
    errors = []
    ids = [e.name for e in os.scandir(root) if e.is_dir() and state_kind(e.path)]
    for cid in ids:
        cdir = os.path.join(root, cid)
        pid, start = _init_pid(kind, cdir)
        if binary:
            base = [binary, "--root", root]
            subprocess.run([*base, "kill", "--all", cid, "KILL"], capture_output=True, timeout=30)
            r = subprocess.run([*base, "delete", "-f", cid], capture_output=True, timeout=30)
            if r.returncode != 0 and os.path.isdir(cdir):
                errors.append(f"{kind} delete -f {cid}: {r.stderr.decode(errors='replace').strip()}")
                continue
        else:
            kill_verified(pid, start)
            if wait_gone([(pid, start)], 5):
                errors.append(f"container {cid}: init {pid} did not exit")
                continue
            shutil.rmtree(cdir, ignore_errors=True)
        wait_gone([(pid, start)], 5)
        log(f"stopped container {cid} ({kind}, root {root})")
    return errors


def _init_pid(kind: str, cdir: str) -> tuple[int, int]:
    if kind == "runc":
        st = _read_json(os.path.join(cdir, "state.json")) or {}
        return int(st.get("init_process_pid") or 0), int(st.get("init_process_start") or 0)
    st = _read_json(os.path.join(cdir, "status")) or {}
    return int(st.get("pid") or 0), int(st.get("process-start-time") or 0)


def stop_monitors(agent: str, log: Log) -> None:
    """Per-container monitors exit once their container is gone; stop any that linger."""
    cdir = os.path.join(agent, "containers")
    procs = []
    try:
        entries = list(os.scandir(cdir))
    except OSError:
        return
    for e in entries:
        st = _read_json(os.path.join(e.path, "state.json")) or {}
        pid, start = int(st.get("monitor_pid") or 0), int(st.get("monitor_start") or 0)
        if pid and start and proc_start_time(pid) == start:
            procs.append((pid, start, e.name))
    if not procs:
        return
    alive = wait_gone([(p, s) for p, s, _ in procs], 1)
    for p, s in alive:
        kill_verified(p, s, signal.SIGTERM)
    for p, s in wait_gone(alive, 3):
        kill_verified(p, s, signal.SIGKILL)
    for p, s, name in procs:
        log(f"stopped monitor {p} of container {name}")


# --- pod logs ----------------------------------------------------------------------------------

def node_pod_uids(agent: str) -> set[str]:
    """Every pod this node has state for: pod dirs, sandboxes, containers."""
    uids: set[str] = set()
    for sub in ("pods", "sandboxes"):
        try:
            uids |= {e.name for e in os.scandir(os.path.join(agent, sub)) if e.is_dir(follow_symlinks=False)}
        except OSError:
            pass
    for meta in _container_metas(agent):
        if meta.get("pod_uid"):
            uids.add(str(meta["pod_uid"]))
    return uids


def _container_metas(agent: str) -> list[dict]:
    try:
        entries = list(os.scandir(os.path.join(agent, "containers")))
    except OSError:
        return []
    return [m for e in entries if (m := _read_json(os.path.join(e.path, "meta.json")))]


def remove_pod_logs(agent: str, pod_log_dir: str, log: Log) -> None:
    """The log directories (`<pod log dir>/<ns>_<name>_<uid>`) of this node's pods: found by UID
    in pod_log_dir and from each container's recorded log path, so another cluster's logs in a
    shared /var/log/pods stay."""
    uids = node_pod_uids(agent)
    dirs = set()
    for meta in _container_metas(agent):
        d = os.path.dirname(os.path.dirname(str(meta.get("log_path") or "")))
        if d and os.path.basename(d).rsplit("_", 1)[-1] == meta.get("pod_uid"):
            dirs.add(d)
    try:
        dirs |= {e.path for e in os.scandir(pod_log_dir) if e.name.rsplit("_", 1)[-1] in uids}
    except OSError:
        pass
    for d in sorted(dirs):
        if os.path.isdir(d) and not os.path.islink(d):
            shutil.rmtree(d, ignore_errors=True)
            log(f"removed pod log dir {d}")


# --- mounts and cgroups ------------------------------------------------------------------------

def _unescape(field: str) -> str:
    """mountinfo octal escapes (\\040 for space, ...)."""
    return field.encode().decode("unicode_escape").encode("latin-1").decode(errors="replace") \
        if "\\" in field else field


def mounts_under(prefix: str, mountinfo: str) -> list[str]:
    """Mount points at or below prefix, deepest (and most recently stacked) first."""
    prefix = prefix.rstrip("/")
    points = []
    for line in mountinfo.splitlines():
        parts = line.split()
        if len(parts) > 4:
            p = _unescape(parts[4])
            if p == prefix or p.startswith(prefix + "/"):
                points.append(p)
    points.reverse()  # later mounts stack on earlier ones
    return sorted(points, key=lambda p: p.count("/"), reverse=True)  # stable: keeps stack order


def unmount_under(prefix: str, log: Log) -> list[str]:
    real = os.path.realpath(prefix)
    for _ in range(10):
        with open("/proc/self/mountinfo") as f:
            points = mounts_under(real, f.read())
        if not points:
            return []
        for p in points:
            r = subprocess.run(["umount", p], capture_output=True)
            if r.returncode != 0:
                r = subprocess.run(["umount", "-l", p], capture_output=True)
            if r.returncode == 0:
                log(f"unmounted {p}")
    return [f"still mounted: {p}" for p in points]


def cgroup_mounts(mountinfo: str) -> list[str]:
    """Mount points of every cgroup (v1) and cgroup2 hierarchy."""
    out = []
    for line in mountinfo.splitlines():
        if " - " not in line:
            continue
        pre, post = line.split(" - ", 1)
        if post.split()[0] in ("cgroup", "cgroup2"):
            out.append(_unescape(pre.split()[4]))
    return sorted(set(out))


def remove_cgroups(name: str, log: Log) -> None:
    """rmdir, bottom-up, every empty cgroup under <hierarchy>/<name> (busy ones stay)."""
    with open("/proc/self/mountinfo") as f:
        mounts = cgroup_mounts(f.read())
    for m in mounts:
        top = os.path.join(m, name)
        if not os.path.isdir(top):
            continue
        for d, _subdirs, _files in sorted(os.walk(top), key=lambda t: t[0].count("/"), reverse=True):
            try:
                os.rmdir(d)
            except OSError:
                pass
        if not os.path.exists(top):
            log(f"removed cgroup {top}")


# --- network -----------------------------------------------------------------------------------

async def _network(data_dir: str, everything: bool, log: Log, shared: bool | None) -> list[str]:
    from .kubelet.network import NetworkError, PodNetwork, host, netns

    errors: list[str] = []
    recorded = PodNetwork.from_state(data_dir)
    # no host.json (no node, or its setup never finished): still undo each recorded pod's netns
    net = recorded or PodNetwork(data_dir)
    for st in net.list_netns():
        try:
            await net.remove(st.pod_uid)
            log(f"removed pod network of {st.namespace}/{st.name} ({os.path.basename(st.netns_path)})")
        except NetworkError as e:
            errors.append(e.message)
    if recorded is not None:
        owned = recorded.owns_bridge()
        await recorded.teardown_host()
        from .proxy import cleanup as proxy_cleanup

        removed = await proxy_cleanup(recorded.owner)
        if removed:
            log(f"removed kube-proxy state {' '.join(removed)}")
        what = f"bridge {net.bridge}, routes {net.cluster_cidr} {net.service_cidr}, " if owned else ""
        log(f"removed {what}its rules and IPAM state")
    elif not everything:
        return errors  # this data dir made nothing on the host network: leave the shared state alone
    if everything:
        for n in netns.list_names("kubeling-"):
            await netns.delete(n)
            log(f"deleted netns {n}")
        for link in _bridges("kubeling"):
            await host.remove_bridge_rules(link)
            await host.delete_link(link)
            log(f"deleted bridge {link}")
    if shared is None:
        shared = everything or await _no_node_left()
    if shared:
        removed = await remove_project_chains()
        if removed:
            log(f"removed chains {' '.join(removed)}")
    await host.drop_portmap_chains_if_unused()
    return errors


def _bridges(prefix: str) -> list[str]:
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        return []
    return sorted(n for n in names if n.startswith(prefix) and os.path.isdir(f"/sys/class/net/{n}/bridge"))


async def _no_node_left() -> bool:
    """True when no node on this host still has rules in our shared chains."""
    from .kubelet.network import host as h

    for table, chain, _parent, _top in h.CHAINS:
        rc, listing = await h.iptables(table, "-S", chain)
        if rc == 0 and h.chain_rule_count(listing, chain):
            return False
    return True


def project_chains(listing: str) -> list[str]:
    """Chains in `iptables -S` output that the project creates (KUBELING-*, KUBE-*)."""
    out = []
    for line in listing.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "-N" and (words[1].startswith("KUBELING-") or words[1].startswith("KUBE-")):
            out.append(words[1])
    return out


async def remove_project_chains() -> list[str]:
    """Delete every KUBELING-*/KUBE-* chain in every table (jumps first), and the nft tables
    named kube-proxy / kubeling*."""
    from .kubelet.network import host as h

    removed = []
    for table in TABLES:
        rc, listing = await h.iptables(table, "-S")
        if rc:
            continue
        chains = project_chains(listing)
        for c in chains:  # flush all first so chains that jump to each other can be deleted
            await h.iptables(table, "-F", c)
        for c in chains:
            if await h.delete_chain(table, c, None):
                removed.append(f"{table}/{c}")
    if shutil.which("nft"):
        r = subprocess.run(["nft", "-j", "list", "tables"], capture_output=True, text=True)
        try:
            tables = [t["table"] for t in json.loads(r.stdout).get("nftables", []) if "table" in t]
        except ValueError:
            tables = []
        for t in tables:
            if t.get("name") == "kube-proxy" or str(t.get("name", "")).startswith("kubeling"):
                subprocess.run(["nft", "delete", "table", t["family"], t["name"]], capture_output=True)
                removed.append(f"nft {t['family']} {t['name']}")
    return removed
