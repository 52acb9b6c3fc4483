"""Named network namespaces (`ip netns`): the pod sandbox's network half.

A pod's netns is `/var/run/netns/<prefix><short uid>`; every container of the pod joins it by
path (the netns plays the pause container's role). Names are derived from the pod UID so a
restarted kubelet finds them again without any other state.
"""

from __future__ import annotations

import os

from ...hostcmd import run

NETNS_DIR = "/var/run/netns"
DEFAULT_PREFIX = "kubeling-"


def netns_name(pod_uid: str, prefix: str = DEFAULT_PREFIX) -> str:
    """`kubeling-<first 12 hex digits of the uid>`: short enough for tools, unique in practice."""
    short = pod_uid.replace("-", "").lower()[:12]
    return f"{prefix}{short}"


def netns_path(name: str) -> str:
    return os.path.join(NETNS_DIR, name)


def exists(name: str) -> bool:
    return os.path.exists(netns_path(name))


def list_names(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Names of the netns under /var/run/netns that start with prefix (sorted)."""
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []


async def create(name: str) -> str:
    """Create the netns (idempotent) with `lo` up, and return its path."""
    if not exists(name):
        r = await run(["ip", "netns", "add", name])
        if not r.ok and not exists(name):
            raise OSError(f"ip netns add {name}: {r.text()}")
    return netns_path(name)


async def delete(name: str) -> None:
    """Delete the netns (idempotent: a missing netns is fine)."""
    if not exists(name):
        return
    r = await run(["ip", "netns", "delete", name])
    if not r.ok and exists(name):
        # A leftover file that is no longer a mount (e.g. after a crash) can't be `ip netns del`eted.
        try:
            os.unlink(netns_path(name))
        except OSError:
            raise OSError(f"ip netns delete {name}: {r.text()}") from None


async def pids(name: str) -> list[int]:
    """Processes that live in the netns (empty when none or it doesn't exist)."""
    if not exists(name):
        return []
    r = await run(["ip", "netns", "pids", name])
    return [int(x) for x in r.stdout.split()] if r.ok else []
