"""One node, one bridge: the host claim (kubelet/network/claim.py) with a temp claim dir and a
fake view of the links, so no host state is touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from kubeling.kubelet.network import host
from kubeling.kubelet.network.claim import Claim, ClaimError, HostClaim, conflict, owner_id, owner_mark


def _claim(data: str, bridge: str = "kubeling0", cluster: str = "10.244.0.0/16",
           service: str = "10.96.0.0/12") -> Claim:
    return Claim(data, owner_id(data), bridge, cluster, service)


class Links:
    """name -> alias of the links that exist."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}

    def __call__(self, name: str) -> str | None:
        return self.aliases.get(name)


def _hc(tmp_path: Any, links: Links, claim: Claim) -> HostClaim:
    return HostClaim(claim, base=str(tmp_path / "net"), alias_of=links)


def test_conflicts() -> None:
    a = _claim("/a")
    assert conflict(_claim("/b"), a) == "bridge kubeling0 is its pod bridge"
    assert conflict(_claim("/b", "other0", "10.244.5.0/24"), a) == \
        "cluster CIDR 10.244.5.0/24 overlaps its cluster CIDR 10.244.0.0/16"
    assert conflict(_claim("/b", "other0", "10.100.0.0/16"), a) == \
        "cluster CIDR 10.100.0.0/16 overlaps its service CIDR 10.96.0.0/12"
    # service CIDRs may overlap: that route only keeps service IPs off the default route
    assert conflict(_claim("/b", "other0", "10.252.0.0/16"), a) == ""


def test_second_data_dir_on_the_same_bridge_is_refused(tmp_path: Any) -> None:
    links = Links()
    first = _hc(tmp_path, links, _claim("/data/one"))
    first.acquire()
    links.aliases["kubeling0"] = first.mark
    with pytest.raises(ClaimError) as e:
        _hc(tmp_path, links, _claim("/data/two")).acquire()
    msg = e.value.message
    assert "/data/one" in msg and f"running, pid {os.getpid()}" in msg and "bridge kubeling0" in msg
    for flag in ("--pod-bridge", "--cluster-cidr", "--kubelet-port", "--node-ip"):
        assert flag in msg
    # an overlapping CIDR on another bridge is refused too
    with pytest.raises(ClaimError, match="cluster CIDR 10.244.0.0/24 overlaps"):
        _hc(tmp_path, links, _claim("/data/two", "kubeling1", "10.244.0.0/24")).acquire()
    # its own bridge and CIDR: fine
    second = _hc(tmp_path, links, _claim("/data/two", "kubeling1", "10.245.0.0/16"))
    second.acquire()
    assert second.held
    first.release()
    second.release()


def test_a_stopped_cluster_keeps_its_claim_while_its_bridge_exists(tmp_path: Any) -> None:
    links = Links()
    first = _hc(tmp_path, links, _claim("/data/one"))
    first.acquire()
    links.aliases["kubeling0"] = first.mark
    first.release()  # the process stopped; its pods still run on the bridge
    with pytest.raises(ClaimError, match=r"stopped.*kubeling down --data-dir /data/one"):
        _hc(tmp_path, links, _claim("/data/two")).acquire()
    del links.aliases["kubeling0"]  # the bridge is gone: the claim is stale
    second = _hc(tmp_path, links, _claim("/data/two"))
    second.acquire()
    rec = json.loads(open(second.path).read())
    assert rec["data_dir"] == "/data/two" and rec["pid"] == os.getpid()
    second.release()


def test_a_marked_bridge_without_a_claim_is_refused(tmp_path: Any) -> None:
    links = Links()
    links.aliases["kubeling0"] = owner_mark("0123456789ab")
    with pytest.raises(ClaimError, match="exists with alias 'kubeling:0123456789ab'"):
        _hc(tmp_path, links, _claim("/data/two")).acquire()
    links.aliases["kubeling0"] = ""  # unmarked (made by the CNI plugin or an older kubeling): adopted
    hc = _hc(tmp_path, links, _claim("/data/two"))
    hc.acquire()
    hc.release()


def test_the_lock_dies_with_the_process(tmp_path: Any) -> None:
    """A claim held by a live process is 'running'; once it exits the flock is gone."""
    base = str(tmp_path / "net")
    code = ("import sys; from kubeling.kubelet.network.claim import *; "
            f"h = HostClaim(Claim('/data/one', owner_id('/data/one'), 'kubeling0', '10.244.0.0/16', "
            f"'10.96.0.0/12'), base={base!r}, alias_of=lambda n: None); h.acquire(); print('ok', flush=True); "
            "sys.stdin.read()")
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "ok"
        with pytest.raises(ClaimError, match=f"running, pid {p.pid}"):
            HostClaim(_claim("/data/two"), base=base, alias_of=lambda n: None).acquire()
    finally:
        assert p.stdin is not None
        p.stdin.close()
        p.wait(timeout=10)
    hc = HostClaim(_claim("/data/two"), base=base, alias_of=lambda n: None)
    hc.acquire()  # the dead process's claim (no bridge left) is stale
    hc.release()


def test_same_data_dir_twice_is_refused(tmp_path: Any) -> None:
    links = Links()
    a = _hc(tmp_path, links, _claim("/data/one"))
    a.acquire()
    with pytest.raises(ClaimError, match="already in use"):
        _hc(tmp_path, links, _claim("/data/one")).acquire()
    a.release()
    b = _hc(tmp_path, links, _claim("/data/one"))  # a restart re-claims
    b.acquire()
    b.remove()
    assert not os.path.exists(b.path) and not b.held


def test_remove_leaves_another_data_dirs_claim(tmp_path: Any) -> None:
    links = Links()
    a = _hc(tmp_path, links, _claim("/data/one"))
    a.acquire()
    _hc(tmp_path, links, _claim("/data/two")).remove()  # e.g. `kubeling down` of another data dir
    assert os.path.exists(a.path)
    a.release()


def test_rules_are_tagged_and_removed_by_owner() -> None:
    mine, other = owner_id("/data/one"), owner_id("/data/two")
    rules = host.forward_rules("kubeling0", "10.244.0.0/24", mine) + host.forward_rules("kubeling0", "10.244.0.0/24",
                                                                                          other)
    listing = "-N KUBELING-FORWARD\n" + "".join(
        "-A KUBELING-FORWARD " + " ".join(f'"{w}"' if " " in w else w for w in r) + "\n" for r in rules) + \
        '-A KUBELING-FORWARD -s 10.9.0.0/24 -m comment --comment kubeling:kubeling0 -j ACCEPT\n'
    own = host.rules_to_delete(listing, "KUBELING-FORWARD", "kubeling0", mine)
    assert len(own) == 3 and all(f"kubeling:kubeling0:{other}" not in d for d in own)  # + the legacy one
    assert len(host.rules_to_delete(listing, "KUBELING-FORWARD", "kubeling0")) == 5  # --all: any owner
    assert host.rules_to_delete(listing, "KUBELING-FORWARD", "kubeling1") == []


def test_an_unmarked_bridge_with_foreign_interfaces_is_not_adopted(tmp_path: Any) -> None:
    """A bridge of an older kubeling (no owner mark) whose pods still run on it: neither
    claimed nor (by teardown) deleted; with only our own pods' veths on it, it is ours."""
    links = Links()
    links.aliases["kubeling0"] = ""
    ports = {"kubeling0": {"veth1", "veth2"}}
    own: set[str] = set()
    hc = HostClaim(_claim("/data/two"), base=str(tmp_path / "net"), alias_of=links,
                   ports_of=lambda b: ports.get(b, set()), own_ports=lambda: own)
    with pytest.raises(ClaimError, match=r"without an owner mark and holds interfaces .*\(veth1, veth2\)"):
        hc.acquire()
    own |= {"veth1", "veth2"}  # our own pods, from before owner marks
    assert hc.foreign_ports() == set()
    hc.acquire()
    hc.release()
