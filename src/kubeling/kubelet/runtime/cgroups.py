"""cgroup layout detection, per-container stats and cleanup (cgroupfs driver, v1 and v2).

Layouts: `v2` (unified: cgroup2 at /sys/fs/cgroup), `v1` (one hierarchy per controller under
/sys/fs/cgroup/<controller>), `hybrid` (v1 controllers plus a cgroup2 mount at
/sys/fs/cgroup/unified, as on this Debian machine). runc in v1/hybrid mode creates the
container's `cgroupsPath` in every v1 hierarchy (and in the unified one); it removes the leaf
on delete but leaves parents (`/kubeling/pod<uid>`), which `remove_empty` cleans up.

Everything here reads the cgroup filesystem only; the mount table is parsed once per call
of `detect()`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

ROOT = "/sys/fs/cgroup"
V1, V2, HYBRID = "v1", "v2", "hybrid"


@dataclass
class Layout:
    version: str  # v1 | v2 | hybrid
    v1: dict[str, str] = field(default_factory=dict)  # controller -> mount point
    unified: str = ""  # cgroup2 mount point ("" if none)

    def dirs(self, path: str) -> list[str]:
        """Every directory a cgroupfs driver uses for the absolute cgroup `path`."""
        rel = path.lstrip("/")
        mounts = sorted(set(self.v1.values()))
        if self.unified:
            mounts.append(self.unified)
        return [os.path.join(m, rel) if rel else m for m in mounts]

    def memory_dir(self, path: str) -> str:
        base = self.v1.get("memory") if self.version != V2 else self.unified
        return os.path.join(base or self.unified, path.lstrip("/"))

    def cpu_dir(self, path: str) -> str:
        base = self.v1.get("cpuacct") if self.version != V2 else self.unified
        return os.path.join(base or self.unified, path.lstrip("/"))


def parse_mounts(text: str) -> Layout:
    """From /proc/self/mountinfo-style or /proc/mounts text: which hierarchies are where."""
    v1: dict[str, str] = {}
    unified = ""
    for line in text.splitlines():
        parts = line.split()
        if " - " in line:  # mountinfo: fields after the separator are fstype, source, options
            pre, post = line.split(" - ", 1)
            post_parts = post.split()
            point, fstype = pre.split()[4], post_parts[0]
            opts = post_parts[2] if len(post_parts) > 2 else ""
        elif len(parts) >= 4:  # /proc/mounts
            point, fstype, opts = parts[1], parts[2], parts[3]
        else:
            continue
        if fstype == "cgroup2":
            unified = point
        elif fstype == "cgroup":
            names = [o for o in opts.split(",") if o not in ("rw", "ro", "relatime", "nosuid", "nodev", "noexec")
                     and "=" not in o or o.startswith("name=")]
            for n in names:
                v1[n] = point
    if v1 and unified:
        return Layout(HYBRID, v1, unified)
    if v1:
        return Layout(V1, v1, "")
    return Layout(V2, {}, unified or ROOT)


def detect() -> Layout:
    with open("/proc/self/mounts") as f:
        return parse_mounts(f.read())


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return 0


def parse_kv(text: str) -> dict[str, int]:
    """memory.stat / cpu.stat / memory.events / memory.oom_control: `key value` lines."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        if v.strip().lstrip("-").isdigit():
            out[k] = int(v)
    return out


@dataclass
class Stats:
    """What cAdvisor reports per container (kubectl top uses working set and cpu)."""

    memory_usage: int = 0  # bytes
    memory_working_set: int = 0  # usage - inactive file (what evictions and `top` use)
    memory_rss: int = 0
    cpu_usage_ns: int = 0  # cumulative
    oom_kills: int = 0


def stats(layout: Layout, path: str) -> Stats:
    """Memory and CPU usage of the cgroup at absolute `path` (zeros if it is gone)."""
    mem = layout.memory_dir(path)
    cpu = layout.cpu_dir(path)
    if layout.version == V2:
        usage = _int(_read(os.path.join(mem, "memory.current")))
        st = parse_kv(_read(os.path.join(mem, "memory.stat")))
        inactive = st.get("inactive_file", 0)
        rss = st.get("anon", 0)
        cpu_ns = parse_kv(_read(os.path.join(cpu, "cpu.stat"))).get("usage_usec", 0) * 1000
    else:
        usage = _int(_read(os.path.join(mem, "memory.usage_in_bytes")))
        st = parse_kv(_read(os.path.join(mem, "memory.stat")))
        inactive = st.get("total_inactive_file", st.get("inactive_file", 0))
        rss = st.get("total_rss", st.get("rss", 0))
        cpu_ns = _int(_read(os.path.join(cpu, "cpuacct.usage")))
    return Stats(usage, max(0, usage - inactive), rss, cpu_ns, oom_kills(layout, path))


def oom_kills(layout: Layout, path: str) -> int:
    """How many processes the kernel OOM-killed in this cgroup (v1 oom_control, v2 events)."""
    mem = layout.memory_dir(path)
    if layout.version == V2:
        return parse_kv(_read(os.path.join(mem, "memory.events"))).get("oom_kill", 0)
    return parse_kv(_read(os.path.join(mem, "memory.oom_control"))).get("oom_kill", 0)


def remove(layout: Layout, path: str) -> None:
    """rmdir the cgroup in every hierarchy (it must have no processes; children first)."""
    for d in layout.dirs(path):
        _rmdir_tree(d)


def _rmdir_tree(d: str) -> None:
    if not os.path.isdir(d):
        return
    for name in os.listdir(d):
        sub = os.path.join(d, name)
        if os.path.isdir(sub):
            _rmdir_tree(sub)
    try:
        os.rmdir(d)
    except OSError:
        pass


def remove_empty(layout: Layout, path: str, stop: str = "/") -> None:
    """rmdir `path` and then its parents up to (not including) `stop`, while they are empty."""
    path = "/" + path.strip("/")
    stop = "/" + stop.strip("/")
    while path not in ("/", stop) and path.startswith(stop.rstrip("/") + "/"):
        for d in layout.dirs(path):
            try:
                os.rmdir(d)
            except FileNotFoundError:
                pass
            except OSError:
                pass
        path = os.path.dirname(path)


def exists(layout: Layout, path: str) -> bool:
    return any(os.path.isdir(d) for d in layout.dirs(path))
