"""`kubeling down`'s pure helpers: mount ordering, chain selection, runtime-root discovery."""

from __future__ import annotations

import argparse
import json
import os
import socket

from kubeling import down

MOUNTINFO = """\
22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
30 22 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
31 22 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
40 22 0:50 / /d/agent/pods/u/volumes/kubernetes.io~empty-dir/c rw - tmpfs tmpfs rw
41 40 0:51 / /d/agent/pods/u/volumes/kubernetes.io~empty-dir/c/sub rw - tmpfs tmpfs rw
42 22 0:52 / /d/agent/containers/x/rootfs rw - overlay overlay rw
43 42 0:53 / /d/agent/containers/x/rootfs rw - tmpfs tmpfs rw
44 22 0:54 / /d/agent2/other rw - tmpfs tmpfs rw
45 22 0:55 / /d/agent/with\\040space rw - tmpfs tmpfs rw
"""


def test_mounts_under_deepest_and_latest_first() -> None:
    got = down.mounts_under("/d/agent", MOUNTINFO)
    assert got == ["/d/agent/pods/u/volumes/kubernetes.io~empty-dir/c/sub",
                   "/d/agent/pods/u/volumes/kubernetes.io~empty-dir/c",
                   "/d/agent/containers/x/rootfs", "/d/agent/containers/x/rootfs",
                   "/d/agent/with space"]
    assert down.mounts_under("/nothing", MOUNTINFO) == []


def test_cgroup_mounts() -> None:
    assert down.cgroup_mounts(MOUNTINFO) == ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified"]


def test_project_chains() -> None:
    listing = "-P PREROUTING ACCEPT\n-N CNI-HOSTPORT-DNAT\n-N KUBE-SERVICES\n-N KUBELING-POSTROUTING\n" \
              "-N DOCKER\n-A PREROUTING -j KUBE-SERVICES\n"
    assert down.project_chains(listing) == ["KUBE-SERVICES", "KUBELING-POSTROUTING"]


def test_find_runtime_roots(tmp_path) -> None:
    agent = tmp_path / "agent"
    (agent / "runc" / "abc").mkdir(parents=True)
    (agent / "runc" / "abc" / "state.json").write_text(json.dumps({"init_process_pid": 1}))
    (agent / "crun" / "def").mkdir(parents=True)
    (agent / "crun" / "def" / "status").write_text(json.dumps({"pid": 2, "bundle": "/b"}))
    # a monitor's state.json is not runc state
    (agent / "containers" / "abc").mkdir(parents=True)
    (agent / "containers" / "abc" / "state.json").write_text(json.dumps({"monitor_pid": 3}))
    assert sorted(down.find_runtime_roots(str(agent))) == [("crun", str(agent / "crun")),
                                                          ("runc", str(agent / "runc"))]
    assert down.find_runtime_roots(str(tmp_path / "missing")) == []


def test_proc_start_time() -> None:
    assert down.proc_start_time(os.getpid()) > 0
    assert down.proc_start_time(2 ** 22 + 7) == 0
    assert not down.kill_verified(os.getpid(), down.proc_start_time(os.getpid()) + 1)  # a reused pid is spared


def test_down_refuses_while_kubeling_up_serves_the_data_dir(tmp_path, capsys) -> None:
    """`down` under a running `up` removed the bridge and rules, the kubelet rebuilt them at once
    with no record, and no later `down` found them (a bridge left on the host)."""
    args = argparse.Namespace(data_dir=str(tmp_path), all=False, pod_log_dir=str(tmp_path / "logs"), quiet=True)
    os.makedirs(tmp_path / "server")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(str(tmp_path / "server" / "kubeling.sock"))
        srv.listen(1)
        assert down.run(args) == 1
        assert f"kubeling up is still running on {tmp_path}" in capsys.readouterr().out
    # the socket file of a stopped (or killed) server refuses the connection: down goes ahead
    assert down.running_server(str(tmp_path)) == ""
