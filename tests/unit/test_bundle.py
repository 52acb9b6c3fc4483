"""OCI spec generation: containerd/Docker defaults, user resolution, mounts, resources."""

from __future__ import annotations

import os

import pytest

from kubeling.kubelet.runtime import bundle
from kubeling.kubelet.runtime.base import ContainerConfig, Mount, RuntimeError_
from kubeling.kubelet.runtime.bundle import ImageConfig, SandboxPaths, build_spec

PASSWD = "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/false\nredis:x:999:999::/h:/bin/false\n"
GROUP = "root:x:0:\nwww-data:x:33:\nredis:x:999:\naudio:x:29:redis,www-data\nvideo:x:44:redis\n"


def cfg(**kw: object) -> ContainerConfig:
    base: dict = dict(pod_uid="u1", name="c", attempt=0, image="busybox", image_ref="busybox", command=[], env={})
    base.update(kw)
    return ContainerConfig(**base)  # type: ignore[arg-type]


SANDBOX = SandboxPaths(hostname="web-0", netns_path="/var/run/netns/kubeling-u1", ipc_ns_path="/sb/ns/ipc",
                       uts_ns_path="/sb/ns/uts", hosts_file="/sb/hosts", hostname_file="/sb/hostname",
                       resolv_file="/sb/resolv.conf", shm_dir="/sb/shm")


def spec(config: ContainerConfig | None = None, image: ImageConfig | None = None, sandbox: SandboxPaths = SANDBOX,
         **kw: object) -> dict:
    return build_spec(config or cfg(), image or ImageConfig(cmd=["sh"], env=["PATH=/bin"]), sandbox,
                      rootfs="/data/c/rootfs", cgroups_path="/kubeling/podu1/abc", passwd=PASSWD, group=GROUP,
                      **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("milli,shares", [(0, 2), (1, 2), (2, 2), (250, 256), (1000, 1024), (2500, 2560),
                                          (10**9, 262144)])
def test_milli_cpu_to_shares(milli: int, shares: int) -> None:
    assert bundle.milli_cpu_to_shares(milli) == shares


@pytest.mark.parametrize("milli,quota", [(0, 0), (1, 1000), (10, 1000), (100, 10000), (500, 50000), (1500, 150000)])
def test_milli_cpu_to_quota(milli: int, quota: int) -> None:
    assert bundle.milli_cpu_to_quota(milli) == quota


def test_process_defaults() -> None:
    s = spec(cfg(env={"A": "1", "PATH": "/usr/bin"}), ImageConfig(cmd=["nginx", "-g", "daemon off;"],
                                                                  env=["PATH=/bin", "NGINX_VERSION=1"]))
    p = s["process"]
    assert p["args"] == ["nginx", "-g", "daemon off;"]
    assert p["env"] == ["PATH=/usr/bin", "NGINX_VERSION=1", "HOSTNAME=web-0", "A=1"]
    assert p["cwd"] == "/"
    assert p["terminal"] is False
    assert p["user"] == {"uid": 0, "gid": 0}
    assert p["capabilities"]["bounding"] == bundle.DEFAULT_CAPS and len(bundle.DEFAULT_CAPS) == 14
    assert p["noNewPrivileges"] is False
    assert s["root"] == {"path": "/data/c/rootfs", "readonly": False}
    assert s["hostname"] == "web-0"
    assert s["linux"]["maskedPaths"] == bundle.MASKED_PATHS
    assert "/proc/sys" in s["linux"]["readonlyPaths"]
    assert s["linux"]["cgroupsPath"] == "/kubeling/podu1/abc"


def test_command_wins_over_image_and_entrypoint_plus_cmd() -> None:
    assert spec(cfg(command=["echo", "hi"]))["process"]["args"] == ["echo", "hi"]
    img = ImageConfig(entrypoint=["/entry"], cmd=["a", "b"])
    assert spec(cfg(), img)["process"]["args"] == ["/entry", "a", "b"]
    with pytest.raises(RuntimeError_) as e:
        spec(cfg(), ImageConfig())
    assert e.value.reason == "CreateContainerError"


def test_default_path_when_nobody_sets_it() -> None:
    env = spec(cfg(), ImageConfig(cmd=["sh"]))["process"]["env"]
    assert env[0] == bundle.DEFAULT_PATH


def test_working_dir() -> None:
    assert spec(cfg(), ImageConfig(cmd=["x"], working_dir="/data"))["process"]["cwd"] == "/data"
    assert spec(cfg(working_dir="/w"), ImageConfig(cmd=["x"], working_dir="/data"))["process"]["cwd"] == "/w"


@pytest.mark.parametrize("image_user,uid,gid,expect", [
    ("", None, None, (0, 0, [])),
    ("www-data", None, None, (33, 33, [29])),
    ("redis", None, None, (999, 999, [29, 44])),
    ("33", None, None, (33, 33, [29])),
    ("1234", None, None, (1234, 0, [])),
    ("redis:www-data", None, None, (999, 33, [29, 44])),
    ("1000:2000", None, None, (1000, 2000, [])),
    ("redis", 33, None, (33, 33, [29])),  # runAsUser wins; gid from its passwd entry
    ("redis", 5000, None, (5000, 0, [])),
    ("", 999, 7, (999, 7, [29, 44])),  # supplementary = explicit group memberships
])
def test_resolve_user(image_user: str, uid: int | None, gid: int | None, expect: tuple) -> None:
    assert bundle.resolve_user(image_user, uid, gid, PASSWD, GROUP) == expect


def test_unknown_user_name_fails() -> None:
    with pytest.raises(RuntimeError_, match="unable to find user nobody2"):
        bundle.resolve_user("nobody2", None, None, PASSWD, GROUP)
    with pytest.raises(RuntimeError_, match="unable to find group nogroup2"):
        bundle.resolve_user("root:nogroup2", None, None, PASSWD, GROUP)


def test_user_in_spec_with_additional_gids() -> None:
    s = spec(cfg(), ImageConfig(cmd=["x"], user="redis"))
    assert s["process"]["user"] == {"uid": 999, "gid": 999, "additionalGids": [29, 44]}


def test_capabilities_add_drop() -> None:
    c = bundle.capabilities(cfg(capabilities_add=["NET_ADMIN", "SYS_TIME"], capabilities_drop=["NET_RAW", "CAP_KILL"]))
    assert "CAP_NET_ADMIN" in c and "CAP_SYS_TIME" in c
    assert "CAP_NET_RAW" not in c and "CAP_KILL" not in c
    assert bundle.capabilities(cfg(capabilities_drop=["ALL"])) == []
    assert bundle.capabilities(cfg(capabilities_drop=["ALL"], capabilities_add=["NET_BIND_SERVICE"])) == \
        ["CAP_NET_BIND_SERVICE"]
    assert bundle.capabilities(cfg(capabilities_add=["ALL"])) == bundle.ALL_CAPS


def test_privileged() -> None:
    s = spec(cfg(privileged=True))
    assert s["process"]["capabilities"]["effective"] == bundle.ALL_CAPS
    assert "maskedPaths" not in s["linux"] and "readonlyPaths" not in s["linux"]
    assert s["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    sysfs = next(m for m in s["mounts"] if m["destination"] == "/sys")
    assert "rw" in sysfs["options"]


def test_namespaces() -> None:
    ns = spec()["linux"]["namespaces"]
    assert {"type": "pid"} in ns and {"type": "mount"} in ns
    assert {"type": "network", "path": "/var/run/netns/kubeling-u1"} in ns
    assert {"type": "ipc", "path": "/sb/ns/ipc"} in ns
    assert {"type": "uts", "path": "/sb/ns/uts"} in ns


def test_host_network_uses_host_net_and_uts() -> None:
    sb = SandboxPaths(hostname="node1", ipc_ns_path="/sb/ns/ipc", host_network=True)
    s = spec(sandbox=sb)
    types = {n["type"] for n in s["linux"]["namespaces"]}
    assert "network" not in types and "uts" not in types
    assert "hostname" not in s
    assert not any(e.startswith("HOSTNAME=") for e in s["process"]["env"])


def test_mounts_defaults_pod_files_and_volumes() -> None:
    c = cfg(mounts=[Mount("/data/sub", "/vol/b"), Mount("/data", "/vol/a", read_only=True),
                    Mount("/cache", "", kind="tmpfs", options=["size=64m"])], read_only_rootfs=True)
    s = spec(c)
    dests = [m["destination"] for m in s["mounts"]]
    assert dests[:6] == ["/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]
    assert dests[6:10] == ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/dev/shm"]
    assert dests.index("/data") < dests.index("/data/sub")  # parents first
    by = {m["destination"]: m for m in s["mounts"]}
    assert by["/etc/hosts"] == {"destination": "/etc/hosts", "type": "bind", "source": "/sb/hosts",
                                "options": ["rbind", "rprivate", "ro"]}
    assert by["/data"]["options"] == ["rbind", "rprivate", "ro"] and by["/data"]["source"] == "/vol/a"
    assert by["/cache"]["type"] == "tmpfs" and "size=64m" in by["/cache"]["options"]
    assert by["/dev/shm"]["source"] == "/sb/shm"
    assert "ro" in by["/sys"]["options"] and "ro" in by["/sys/fs/cgroup"]["options"]
    assert s["root"]["readonly"] is True


def test_volume_replaces_pod_file() -> None:
    s = spec(cfg(mounts=[Mount("/etc/hosts", "/mine/hosts")]))
    hosts = [m for m in s["mounts"] if m["destination"] == "/etc/hosts"]
    assert len(hosts) == 1 and hosts[0]["source"] == "/mine/hosts"


def test_subpath(tmp_path: "os.PathLike[str]") -> None:
    base = os.path.join(str(tmp_path), "vol")
    os.makedirs(os.path.join(base, "a", "b"))
    os.symlink("/etc", os.path.join(base, "evil"))
    m = bundle.volume_mount(Mount("/x", base, sub_path="a/b"))
    assert m["source"] == os.path.join(os.path.realpath(base), "a", "b")
    for bad in ("../..", "evil", "a/../../x"):
        with pytest.raises(RuntimeError_) as e:
            bundle.volume_mount(Mount("/x", base, sub_path=bad))
        assert e.value.reason == "CreateContainerConfigError"


def test_resources() -> None:
    s = spec(cfg(memory_limit=64 << 20, cpu_shares=256, cpu_quota=50000, cpu_period=100000), pids_limit=64,
             swap_accounting=True)
    r = s["linux"]["resources"]
    assert r["memory"] == {"limit": 64 << 20, "swap": 64 << 20}
    assert r["cpu"] == {"shares": 256, "quota": 50000, "period": 100000}
    assert r["pids"] == {"limit": 64}
    assert r["devices"] == [{"allow": False, "access": "rwm"}]
    assert "memory" not in spec()["linux"]["resources"]
    assert "cpu" not in spec()["linux"]["resources"]


def test_cgroups_paths() -> None:
    assert bundle.cgroups_path("u1", "abc") == "/kubeling/podu1/abc"
    assert bundle.cgroups_path("u1", "abc", "/k/") == "/k/podu1/abc"


def test_relative_rootfs_rejected() -> None:
    with pytest.raises(ValueError):
        build_spec(cfg(), ImageConfig(cmd=["x"]), SANDBOX, rootfs="rootfs", cgroups_path="/x")


def test_tty() -> None:
    assert spec(cfg(tty=True))["process"]["terminal"] is True
