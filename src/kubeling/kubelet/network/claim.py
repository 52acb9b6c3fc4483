"""One node, one bridge: a node claims its bridge and CIDRs on the host for as long as they exist.

Two clusters on one host must not share a bridge or overlapping pod CIDRs (duplicate pod IPs,
routes moved under each other's feet, one `kubeling down` deleting what the other's pods use).
So a node, before touching the host network, claims:

- `/run/kubeling/net/<bridge>.claim`: a record (JSON: data dir, owner id, bridge, CIDRs, pid)
  whose file is `flock`ed for the node's lifetime. The kernel drops the lock when the process
  dies, so a live claim is one whose lock is held;
- the owner mark on the link: `ip link set dev BRIDGE alias kubeling:<owner id>`, where the
  owner id is the hash of the data dir (as in `/run/kubeling/<hash>`). A stopped cluster's pods
  keep running on its bridge, so a claim whose lock is free still counts while its bridge
  exists with its mark; only `kubeling down` of that data dir (or the bridge vanishing) frees it.

A second node refuses to start (ClaimError) when its bridge is claimed by another data dir or
when its cluster CIDR overlaps another claim's cluster or service CIDR. Service CIDRs may
overlap each other: that route only keeps unresolved service IPs off the default route.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import ipaddress
import json
import os
from dataclasses import asdict, dataclass
from typing import Callable

CLAIM_DIR = "/run/kubeling/net"
MARK_PREFIX = "kubeling:"


def owner_id(data_dir: str) -> str:
    """The data dir's hash: `/run/kubeling/<owner id>` holds its runtime state too."""
    return hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:12]


def owner_mark(owner: str) -> str:
    """The link alias that says which data dir made a bridge."""
    return f"{MARK_PREFIX}{owner}"


def link_alias(name: str) -> str | None:
    """The link's alias ('' when unset), None when there is no such link."""
    try:
        with open(f"/sys/class/net/{name}/ifalias") as f:
            return f.read().strip()
    except FileNotFoundError:
        return None if not os.path.exists(f"/sys/class/net/{name}") else ""
    except OSError:
        return ""


def bridge_ports(name: str) -> set[str]:
    """The interfaces enslaved to a bridge (empty when there is none)."""
    try:
        return set(os.listdir(f"/sys/class/net/{name}/brif"))
    except OSError:
        return set()


class ClaimError(Exception):
    """The node's bridge or CIDR belongs to another cluster on this host."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Claim:
    data_dir: str
    owner: str
    bridge: str
    cluster_cidr: str
    service_cidr: str
    pid: int = 0

    @classmethod
    def from_json(cls, d: object) -> "Claim | None":
        if not isinstance(d, dict):
            return None
        try:
            return cls(str(d["data_dir"]), str(d["owner"]), str(d["bridge"]), str(d["cluster_cidr"]),
                       str(d["service_cidr"]), int(d.get("pid") or 0))
        except (KeyError, ValueError):
            return None


def _overlap(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_network(a).overlaps(ipaddress.ip_network(b))
    except ValueError:
        return False


def conflict(mine: Claim, other: Claim) -> str:
    """Why `other` (another data dir's claim) keeps `mine` from starting; '' when it doesn't."""
    if other.bridge == mine.bridge:
        return f"bridge {mine.bridge} is its pod bridge"
    for my_kind, my_cidr in (("cluster CIDR", mine.cluster_cidr), ("service CIDR", mine.service_cidr)):
        for kind, cidr in (("cluster CIDR", other.cluster_cidr), ("service CIDR", other.service_cidr)):
            if my_kind == kind == "service CIDR":
                continue
            if _overlap(my_cidr, cidr):
                return f"{my_kind} {my_cidr} overlaps its {kind} {cidr}"
    return ""


def conflict_message(mine: Claim, other: Claim | None, why: str, running: bool) -> str:
    """The refusal: who holds what, and the flags that choose another bridge / CIDR."""
    if other is None:
        whose = "another owner"
        state = ""
    else:
        whose = f"the cluster in {other.data_dir}"
        state = (f" (running, pid {other.pid})" if running else
                 f" (stopped, its pods may still run; `kubeling down --data-dir {other.data_dir}` removes them)")
    return (f"the pod network of {mine.data_dir} conflicts with {whose}{state}: {why}. Give this cluster its own "
            f"with --pod-bridge NAME and --cluster-cidr CIDR (and --service-cidr CIDR, --kubelet-port PORT or "
            f"--node-ip IP if those collide too)")


def _lock_held(path: str) -> bool:
    """True when some open file (this process's too) holds the flock on path."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError as e:
        return e.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)
    finally:
        os.close(fd)


def _read(path: str) -> Claim | None:
    try:
        with open(path) as f:
            return Claim.from_json(json.load(f))
    except (OSError, ValueError):
        return None


class HostClaim:
    """This node's claim (see the module docstring). acquire() before the first host change,
    release() when the process stops, remove() once the bridge is torn down."""

    def __init__(self, claim: Claim, base: str = CLAIM_DIR,
                 alias_of: Callable[[str], str | None] = link_alias,
                 ports_of: Callable[[str], set[str]] = bridge_ports,
                 own_ports: Callable[[], set[str]] = set) -> None:
        self.claim = claim
        self.base = base
        self.alias_of = alias_of
        self.ports_of = ports_of  # interfaces on a bridge
        self.own_ports = own_ports  # our pods' host-side veths
        self.path = os.path.join(base, f"{claim.bridge}.claim")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    @property
    def mark(self) -> str:
        return owner_mark(self.claim.owner)

    def _alive(self, other: Claim, path: str) -> tuple[bool, bool]:
        """(running, in use): a claim is in use while its node runs or its marked bridge exists."""
        running = _lock_held(path)
        return running, running or self.alias_of(other.bridge) == owner_mark(other.owner)

    def acquire(self) -> None:
        """Claim the bridge and CIDRs, or raise ClaimError naming the other data dir."""
        if self._fd is not None:
            return
        os.makedirs(self.base, mode=0o755, exist_ok=True)
        guard = os.open(os.path.join(self.base, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(guard, fcntl.LOCK_EX)  # one claim at a time on this host
            self._check_others()
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise ClaimError(conflict_message(self.claim, _read(self.path), "the node already runs",
                                                  True)) from None
            rec = asdict(self.claim) | {"pid": os.getpid()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(rec, indent=1).encode(), 0)
            self._fd = fd
        finally:
            os.close(guard)

    def _check_others(self) -> None:
        mine = self.claim
        for name in sorted(os.listdir(self.base)):
            if not name.endswith(".claim"):
                continue
            path = os.path.join(self.base, name)
            other = _read(path)
            if other is None:
                continue
            running, in_use = self._alive(other, path)
            if other.owner == mine.owner:
                if running and other.bridge == mine.bridge:
                    raise ClaimError(f"{mine.data_dir} is already in use by kubeling pid {other.pid}")
                continue
            if not in_use:
                _unlink(path)  # a dead node whose bridge is gone: stale
                continue
            why = conflict(mine, other)
            if why:
                raise ClaimError(conflict_message(mine, other, why, running))
        alias = self.alias_of(mine.bridge)
        if alias and alias != self.mark:  # marked by a data dir without a claim record, or not ours at all
            raise ClaimError(conflict_message(mine, None, f"bridge {mine.bridge} exists with alias {alias!r}",
                                              False))
        foreign = self.foreign_ports()
        if foreign:
            raise ClaimError(conflict_message(mine, None, f"bridge {mine.bridge} exists without an owner mark and "
                                                          f"holds interfaces not made by this data dir "
                                                          f"({', '.join(sorted(foreign)[:5])})", False))

    def foreign_ports(self) -> set[str]:
        """Interfaces on an unmarked bridge that are not our pods' (an older kubeling's or
        anybody's pods): such a bridge is not ours to adopt or delete. A marked bridge: none."""
        if self.alias_of(self.claim.bridge) != "":
            return set()
        return self.ports_of(self.claim.bridge) - self.own_ports()

    def claimed_by_other(self) -> bool:
        """Another data dir's claim on this bridge is in use."""
        other = _read(self.path)
        return other is not None and other.owner != self.claim.owner and self._alive(other, self.path)[1]

    def release(self) -> None:
        """Drop the lock (the process stops); the record stays while the bridge does."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def remove(self) -> None:
        """Forget the claim (after teardown), unless the record is another data dir's."""
        other = _read(self.path)
        if other is None or other.owner == self.claim.owner:
            _unlink(self.path)
        self.release()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
