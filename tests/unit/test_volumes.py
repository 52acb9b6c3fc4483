"""Volume manager pure parts: atomic writer, payloads, downward API, hostPath types, subPath,
token refresh rule, env resolution ($(VAR) rules, service links), and VolumeManager over a fake API."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import stat
from typing import Any

import pytest

from kubeling.api import errors
from kubeling.kubelet.runtime.base import RuntimeError_
from kubeling.kubelet.volumes import VolumeError, VolumeManager, resolve_env
from kubeling.kubelet.volumes import configmap_secret, downward, emptydir, hostpath, mountutil, projected, subpath
from kubeling.kubelet.volumes.atomic_writer import AtomicWriteError, AtomicWriter, FileProjection, validate_path
from kubeling.kubelet.volumes.env import expand, from_services, is_env_var_name, mapping_for

# ---- atomic writer ------------------------------------------------------------------------------


def _read(d: str, rel: str) -> bytes:
    with open(os.path.join(d, rel), "rb") as f:
        return f.read()


def test_atomic_writer_layout_and_modes(tmp_path: Any) -> None:
    d = str(tmp_path)
    w = AtomicWriter(d)
    assert w.write({"podName": FileProjection(b"redis", 0o644), "user/labels": FileProjection(b"a=1", 0o400)})
    assert os.readlink(os.path.join(d, "podName")) == "..data/podName"
    assert os.readlink(os.path.join(d, "user")) == "..data/user"
    ts = os.readlink(os.path.join(d, "..data"))
    assert ts.startswith("..") and ts != "..data" and os.path.isdir(os.path.join(d, ts))
    assert stat.S_IMODE(os.stat(os.path.join(d, ts)).st_mode) == 0o755
    assert _read(d, "podName") == b"redis" and _read(d, "user/labels") == b"a=1"
    assert stat.S_IMODE(os.stat(os.path.join(d, "podName")).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(os.path.join(d, "user/labels")).st_mode) == 0o400


def test_atomic_writer_update_swaps_data_dir_and_prunes(tmp_path: Any) -> None:
    d = str(tmp_path)
    w = AtomicWriter(d)
    w.write({"a": FileProjection(b"1"), "b": FileProjection(b"2")})
    old = os.readlink(os.path.join(d, "..data"))
    assert w.write({"a": FileProjection(b"changed")})
    new = os.readlink(os.path.join(d, "..data"))
    assert new != old and not os.path.exists(os.path.join(d, old))
    assert _read(d, "a") == b"changed"
    assert not os.path.lexists(os.path.join(d, "b"))
    assert sorted(os.listdir(d)) == sorted(["..data", new, "a"])


def test_atomic_writer_same_data_is_noop_but_restores_links(tmp_path: Any) -> None:
    d = str(tmp_path)
    w = AtomicWriter(d)
    w.write({"a": FileProjection(b"1")})
    ts = os.readlink(os.path.join(d, "..data"))
    os.remove(os.path.join(d, "a"))
    assert not w.write({"a": FileProjection(b"1", 0o600)})  # mode-only change: no write (as upstream)
    assert os.readlink(os.path.join(d, "..data")) == ts
    assert _read(d, "a") == b"1"


@pytest.mark.parametrize("path,msg", [
    ("", 'invalid path: must not be empty: ""'),
    ("/abs", "invalid path: must be relative path: /abs"),
    ("a/../b", "invalid path: must not contain '..': a/../b"),
    ("..data/x", "invalid path: must not start with '..': ..data/x"),
    ("x" * 256, "invalid path: filenames must be less than or equal to 255 characters"),
])
def test_atomic_writer_invalid_paths(path: str, msg: str) -> None:
    with pytest.raises(AtomicWriteError) as e:
        validate_path(path)
    assert str(e.value) == msg


@pytest.mark.parametrize("path", ["a", "a/b", "a/.b", ".a", "a/..b", "./a"])
def test_atomic_writer_valid_paths(path: str) -> None:
    validate_path(path)


# ---- configMap / secret payloads ----------------------------------------------------------------

CM = {"data": {"game.properties": "lives=3", "ui": "color=red"},
      "binaryData": {"bin": base64.b64encode(b"\x00\x01").decode()}}


def test_configmap_payload_all_keys_default_mode() -> None:
    p = configmap_secret.configmap_payload(CM, None, None, False)
    assert p == {"game.properties": FileProjection(b"lives=3", 0o644), "ui": FileProjection(b"color=red", 0o644),
                 "bin": FileProjection(b"\x00\x01", 0o644)}


def test_configmap_payload_items_and_modes() -> None:
    p = configmap_secret.configmap_payload(CM, [{"key": "ui", "path": "conf/ui.ini", "mode": 0o400},
                                                {"key": "bin", "path": "b"}], 0o640, False)
    assert p == {"conf/ui.ini": FileProjection(b"color=red", 0o400), "b": FileProjection(b"\x00\x01", 0o640)}


def test_payload_missing_key() -> None:
    with pytest.raises(configmap_secret.PayloadError, match="^configmap references non-existent config key: nope$"):
        configmap_secret.configmap_payload(CM, [{"key": "nope", "path": "x"}], None, False)
    assert configmap_secret.configmap_payload(CM, [{"key": "nope", "path": "x"}], None, True) == {}
    with pytest.raises(configmap_secret.PayloadError, match="^references non-existent secret key: nope$"):
        configmap_secret.secret_payload({"data": {}}, [{"key": "nope", "path": "x"}], None, False)


def test_secret_payload_decodes_base64() -> None:
    s = {"data": {"password": base64.b64encode(b"s3cr3t").decode()}}
    assert configmap_secret.secret_payload(s, None, 0o400, False) == {"password": FileProjection(b"s3cr3t", 0o400)}


# ---- downward API -------------------------------------------------------------------------------

POD: dict[str, Any] = {
    "metadata": {"name": "redis", "namespace": "default", "uid": "u-1",
                 "labels": {"app": "redis", "tier": "db"}, "annotations": {"note": 'say "hi"\n'}},
    "spec": {"nodeName": "node-1", "serviceAccountName": "default",
             "containers": [{"name": "redis", "resources": {"limits": {"cpu": "500m", "memory": "64Mi"},
                                                            "requests": {"cpu": "250m", "memory": "32Mi"}}},
                            {"name": "side"}]},
    "status": {"podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}], "hostIP": "192.168.1.1"},
}


@pytest.mark.parametrize("path,value", [
    ("metadata.name", "redis"), ("metadata.namespace", "default"), ("metadata.uid", "u-1"),
    ("metadata.labels", 'app="redis"\ntier="db"'), ("metadata.annotations", 'note="say \\"hi\\"\\n"'),
    ("metadata.labels['app']", "redis"), ("metadata.labels['missing']", ""),
    ("metadata.annotations['note']", 'say "hi"\n'),
])
def test_extract_field_path(path: str, value: str) -> None:
    assert downward.extract_field_path(POD, path) == value


def test_extract_field_path_errors() -> None:
    with pytest.raises(downward.DownwardAPIError, match="^unsupported fieldPath: spec.nodeName$"):
        downward.extract_field_path(POD, "spec.nodeName")
    with pytest.raises(downward.DownwardAPIError, match='does not support subscript'):
        downward.extract_field_path(POD, "metadata.name['x']")


@pytest.mark.parametrize("resource,divisor,value", [
    ("limits.cpu", None, "1"), ("limits.cpu", "1m", "500"), ("requests.cpu", "1m", "250"),
    ("limits.memory", None, str(64 << 20)), ("limits.memory", "1Mi", "64"), ("requests.memory", "1Mi", "32"),
    ("limits.memory", "1M", "68"), ("requests.ephemeral-storage", None, "0"), ("limits.cpu", "0", "1"),
])
def test_resource_values(resource: str, divisor: str | None, value: str) -> None:
    sel = {"containerName": "redis", "resource": resource}
    if divisor is not None:
        sel["divisor"] = divisor
    assert downward.resource_value(sel, POD, None, None) == value


def test_resource_values_default_to_node_allocatable() -> None:
    alloc = {"cpu": "2", "memory": "4Gi"}
    assert downward.resource_value({"containerName": "side", "resource": "limits.cpu"}, POD, None, alloc) == "2"
    assert downward.resource_value({"containerName": "side", "resource": "limits.memory", "divisor": "1Gi"},
                                   POD, None, alloc) == "4"
    with pytest.raises(downward.DownwardAPIError, match="^container nope not found$"):
        downward.resource_value({"containerName": "nope", "resource": "limits.cpu"}, POD, None, alloc)
    with pytest.raises(downward.DownwardAPIError, match="^unsupported container resource : limits.gpu$"):
        downward.resource_value({"containerName": "redis", "resource": "limits.gpu"}, POD, None, alloc)


def test_downward_collect_modes_and_paths() -> None:
    items = [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
             {"path": "./cpu/limit", "mode": 0o400, "resourceFieldRef": {"containerName": "redis",
                                                                         "resource": "limits.cpu", "divisor": "1m"}}]
    p = downward.collect(items, POD, 0o640, None)
    assert p == {"labels": FileProjection(b'app="redis"\ntier="db"', 0o640), "cpu/limit": FileProjection(b"500", 0o400)}


# ---- emptyDir sizes -----------------------------------------------------------------------------

def _pod_mem(*limits: str | None, init: list[str] | None = None, size: str | None = None) -> dict[str, Any]:
    cs = [{"name": f"c{i}", "resources": {"limits": {"memory": m}} if m else {}} for i, m in enumerate(limits)]
    ics = [{"name": f"i{i}", "resources": {"limits": {"memory": m}}} for i, m in enumerate(init or [])]
    return {"spec": {"containers": cs, "initContainers": ics}}


@pytest.mark.parametrize("pod,size_limit,expected", [
    (_pod_mem(None), None, 8 << 30),                     # no limit: node allocatable
    (_pod_mem("1Gi", "1Gi"), None, 2 << 30),             # sum of container limits
    (_pod_mem("1Gi", None), None, 8 << 30),              # one container unlimited: pod unlimited
    (_pod_mem("1Gi", init=["3Gi"]), None, 3 << 30),      # an init container alone needs more
    (_pod_mem("1Gi"), "64Mi", 64 << 20),                 # sizeLimit below the pod limit wins
    (_pod_mem("1Gi"), "2Gi", 1 << 30),                   # sizeLimit above it doesn't
    (_pod_mem("16Gi"), None, 8 << 30),                   # the pod limit above allocatable doesn't
])
def test_memory_emptydir_size(pod: dict[str, Any], size_limit: str | None, expected: int) -> None:
    assert emptydir.memory_size(8 << 30, pod, size_limit) == expected


# ---- hostPath -----------------------------------------------------------------------------------

def test_hostpath_types(tmp_path: Any) -> None:
    d, f = tmp_path / "dir", tmp_path / "file"
    d.mkdir()
    f.write_text("x")
    sock_path = str(tmp_path / "s.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(sock_path)
    try:
        for p, t in [(d, "Directory"), (f, "File"), (sock_path, "Socket"), ("/dev/null", "CharDevice"),
                     (tmp_path / "nothing", ""), (d, "DirectoryOrCreate"), (f, "FileOrCreate")]:
            hostpath.check_type(str(p), t)
        cases = [(f, "Directory", "is not a directory"), (d, "File", "is not a file"),
                 (f, "Socket", "is not a socket file"), (f, "CharDevice", "is not a character device"),
                 ("/dev/null", "BlockDevice", "is not a block device"), (tmp_path / "missing", "Directory",
                                                                         "is not a directory"),
                 (f, "DirectoryOrCreate", "is not a directory"), (d, "FileOrCreate", "is not a file")]
        for p, t, why in cases:
            with pytest.raises(hostpath.HostPathError) as e:
                hostpath.check_type(str(p), t)
            assert str(e.value) == f"hostPath type check failed: {p} {why}"
        with pytest.raises(hostpath.HostPathError, match="^Weird is an invalid volume type$"):
            hostpath.check_type(str(d), "Weird")
    finally:
        s.close()


def test_hostpath_or_create(tmp_path: Any) -> None:
    hostpath.check_type(str(tmp_path / "a" / "b"), "DirectoryOrCreate")
    assert (tmp_path / "a" / "b").is_dir()
    hostpath.check_type(str(tmp_path / "f.txt"), "FileOrCreate")
    assert (tmp_path / "f.txt").is_file() and (tmp_path / "f.txt").read_bytes() == b""


# ---- subPath ------------------------------------------------------------------------------------

def test_subpath_validate_messages() -> None:
    with pytest.raises(subpath.SubPathError, match="^error SubPath `/etc` must not be an absolute path$"):
        subpath.validate("/etc")
    with pytest.raises(subpath.SubPathError, match="^unable to provision SubPath `a/../b`: must not contain '..'$"):
        subpath.validate("a/../b")
    subpath.validate("a/..b/c")


def test_safe_make_dir(tmp_path: Any) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    subpath.safe_make_dir("a/b/c", str(vol), 0o750)
    assert (vol / "a" / "b" / "c").is_dir()
    assert stat.S_IMODE(os.stat(vol / "a" / "b").st_mode) == 0o750
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), vol / "escape")
    with pytest.raises(subpath.SubPathError, match="outside of allowed base"):
        subpath.safe_make_dir("escape/x", str(vol), 0o755)
    assert not (outside / "x").exists()
    os.symlink("a/b", vol / "inside")  # a link that stays inside the volume is fine
    subpath.safe_make_dir("inside/d", str(vol), 0o755)
    assert (vol / "a" / "b" / "d").is_dir()


def test_safe_open_refuses_symlink_components(tmp_path: Any) -> None:
    vol = tmp_path / "vol"
    (vol / "a").mkdir(parents=True)
    os.symlink(str(tmp_path), vol / "link")
    fd = subpath.safe_open(str(vol / "a"), str(vol))
    os.close(fd)
    with pytest.raises(subpath.SubPathError):
        subpath.safe_open(str(vol / "link"), str(vol))
    with pytest.raises(subpath.SubPathError, match="outside of allowed base"):
        subpath.safe_open(str(tmp_path), str(vol))


# ---- mount helpers ------------------------------------------------------------------------------

def test_parse_mountinfo() -> None:
    text = ("36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n"
            "37 35 0:5 / /tmp/t rw shared:2 - tmpfs tmpfs rw,size=1024k\n")
    assert mountutil.parse_mountinfo(text) == [("/mnt/with space", "ext3"), ("/tmp/t", "tmpfs")]


def test_remove_tree_does_not_follow_symlinks(tmp_path: Any) -> None:
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "precious").write_text("x")
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    os.symlink(str(keep), root / "d" / "link")
    mountutil.remove_tree(str(root))
    assert not root.exists() and (keep / "precious").exists()
    mountutil.remove_tree(str(root))  # idempotent


# ---- token request (the renewal rule: test_tokensource.py) -------------------------------------

def test_token_request_body() -> None:
    body = projected.token_request(POD, {"path": "token", "expirationSeconds": 3607})
    assert body["spec"] == {"expirationSeconds": 3607, "boundObjectRef": {
        "apiVersion": "v1", "kind": "Pod", "name": "redis", "uid": "u-1"}}
    body = projected.token_request(POD, {"path": "t", "audience": "vault"})
    assert body["spec"]["audiences"] == ["vault"] and body["spec"]["expirationSeconds"] == 3600


# ---- env: $(VAR) expansion (upstream expand_test.go) --------------------------------------------

EXPAND_VARS = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""}


@pytest.mark.parametrize("inp,out", [
    ("$(VAR_A)", "A"), ("___$(VAR_B)___", "___B___"), ("$(VAR_A)-$(VAR_A)", "A-A"), ("$(VAR_A)-1", "A-1"),
    ("$(VAR_DNE)", "$(VAR_DNE)"), ("$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"), ("$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"),
    ("$$(VAR_A)", "$(VAR_A)"), ("$$$$(VAR_A)", "$$(VAR_A)"), ("$$$(VAR_A)", "$A"), ("$(VAR_REF)", "$(VAR_A)"),
    ("$(VAR_EMPTY)", ""), ("$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"), ("$$$$$$$(VAR_A)", "$$$A"),
    ("$(VAR_A", "$(VAR_A"), ("$VAR_A", "$VAR_A"), ("$$", "$"), ("$", "$"), ("$(", "$("), ("$()", "$()"),
    ("f000-$$VAR_A", "f000-$VAR_A"), ("$(VAR_A)$", "A$"), ("foo\\$(VAR_C)bar", "foo\\Cbar"),
    ("$(VAR_A)$(VAR_DNE", "A$(VAR_DNE"), ("", ""),
])
def test_expand(inp: str, out: str) -> None:
    assert expand(inp, mapping_for(EXPAND_VARS)) == out


@pytest.mark.parametrize("name,ok", [("A", True), ("my.env-name", True), ("_x", True), ("1z", False),
                                     ("1234", False), ("p_1234", True), (".", False), ("..x", False),
                                     ("a b", False), ("", False)])
def test_is_env_var_name(name: str, ok: bool) -> None:
    assert is_env_var_name(name) is ok


# ---- env: resolve_env ---------------------------------------------------------------------------

def _svc(ns: str, name: str, ip: str, ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": name}, "spec": {"clusterIP": ip, "ports": ports}}


KUBERNETES = _svc("default", "kubernetes", "10.96.0.1", [{"name": "https", "port": 443, "protocol": "TCP"}])


def test_service_env_vars() -> None:
    env = from_services([_svc("ns", "my-db", "10.96.0.20", [{"port": 5432}, {"name": "metrics", "port": 9187,
                                                                             "protocol": "UDP"}])])
    assert env == {
        "MY_DB_SERVICE_HOST": "10.96.0.20", "MY_DB_SERVICE_PORT": "5432", "MY_DB_SERVICE_PORT_METRICS": "9187",
        "MY_DB_PORT": "tcp://10.96.0.20:5432",
        "MY_DB_PORT_5432_TCP": "tcp://10.96.0.20:5432", "MY_DB_PORT_5432_TCP_PROTO": "tcp",
        "MY_DB_PORT_5432_TCP_PORT": "5432", "MY_DB_PORT_5432_TCP_ADDR": "10.96.0.20",
        "MY_DB_PORT_9187_UDP": "udp://10.96.0.20:9187", "MY_DB_PORT_9187_UDP_PROTO": "udp",
        "MY_DB_PORT_9187_UDP_PORT": "9187", "MY_DB_PORT_9187_UDP_ADDR": "10.96.0.20"}


def _resolve(container: dict[str, Any], pod: dict[str, Any] | None = None, **kw: Any) -> dict[str, str]:
    args: dict[str, Any] = {"configmaps": {}, "secrets": {}, "services": [KUBERNETES], "node_ip": "192.168.1.7"}
    args.update(kw)
    return resolve_env(pod or POD, container, **args)


def test_resolve_env_kubernetes_service_always_present() -> None:
    others = [KUBERNETES, _svc("default", "web", "10.96.0.9", [{"port": 80}]),
              _svc("other", "db", "10.96.0.8", [{"port": 5432}]), _svc("default", "headless", "None", [{"port": 1}])]
    env = _resolve({"name": "c"}, services=others)
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1" and env["KUBERNETES_SERVICE_PORT"] == "443"
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443" and env["KUBERNETES_PORT"] == "tcp://10.96.0.1:443"
    assert env["WEB_SERVICE_HOST"] == "10.96.0.9" and "DB_SERVICE_HOST" not in env
    assert not any(k.startswith("HEADLESS") for k in env)
    no_links = {**POD, "spec": {**POD["spec"], "enableServiceLinks": False}}
    env = _resolve({"name": "c"}, pod=no_links, services=others)
    assert "WEB_SERVICE_HOST" not in env and env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"


def test_resolve_env_values_and_expansion_order() -> None:
    c = {"name": "c", "env": [
        {"name": "A", "value": "a"}, {"name": "B", "value": "$(A)-$(C)-$$(A)"}, {"name": "C", "value": "c"},
        {"name": "SVC", "value": "$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)"},
        {"name": "KUBERNETES_SERVICE_PORT", "value": "8443"}]}
    env = _resolve(c)
    assert env["B"] == "a-$(C)-$(A)"  # C is declared later: not expanded
    assert env["SVC"] == "10.96.0.1:443" and env["KUBERNETES_SERVICE_PORT"] == "8443"


def test_resolve_env_field_and_resource_refs() -> None:
    refs = {"POD_NAME": "metadata.name", "NS": "metadata.namespace", "UID": "metadata.uid",
            "APP": "metadata.labels['app']", "NODE": "spec.nodeName", "SA": "spec.serviceAccountName",
            "HOST_IP": "status.hostIP", "POD_IP": "status.podIP", "POD_IPS": "status.podIPs",
            "HOST": "spec.host"}
    c = {**POD["spec"]["containers"][0],
         "env": [{"name": k, "valueFrom": {"fieldRef": {"fieldPath": v}}} for k, v in refs.items()]
         + [{"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "requests.memory", "divisor": "1Mi"}}}]}
    env = _resolve(c)
    assert {k: env[k] for k in refs} == {
        "POD_NAME": "redis", "NS": "default", "UID": "u-1", "APP": "redis", "NODE": "node-1", "SA": "default",
        "HOST_IP": "192.168.1.7", "POD_IP": "10.244.0.5", "POD_IPS": "10.244.0.5", "HOST": "node-1"}
    assert env["CPU"] == "500" and env["MEM"] == "32"
    env = _resolve(c, pod_ips=["10.244.0.9", "fd00::9"])
    assert env["POD_IP"] == "10.244.0.9" and env["POD_IPS"] == "10.244.0.9,fd00::9"
    with pytest.raises(RuntimeError_) as e:
        _resolve({"name": "c", "env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}]})
    assert e.value.reason == "CreateContainerConfigError" and e.value.message == "field label not supported: spec.bogus"


def test_resolve_env_unlimited_resource_reads_node_allocatable() -> None:
    c = {"name": "side", "env": [{"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                                     "divisor": "1Mi"}}}]}
    assert _resolve(c, node_allocatable={"memory": "2Gi"})["MEM"] == "2048"


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


CMS = {"cfg": {"data": {"LOG_LEVEL": "debug", "1badkey": "x", "2alsobad": "y", "mode": "fast"}}}
SECRETS = {"db": {"data": {"password": _b64("hunter2"), "user": _b64("admin")}}}


def test_resolve_env_from_and_key_refs() -> None:
    events: list[tuple[str, str, str]] = []
    c = {"name": "c",
         "envFrom": [{"configMapRef": {"name": "cfg"}}, {"prefix": "DB_", "secretRef": {"name": "db"}}],
         "env": [{"name": "LOG_LEVEL", "value": "info"},
                 {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
                 {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                 {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nope", "optional": True}}},
                 {"name": "OPT2", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": True}}}]}
    env = _resolve(c, configmaps=CMS, secrets=SECRETS, on_event=lambda *a: events.append(a))
    assert env["LOG_LEVEL"] == "info" and env["mode"] == "fast" and env["MODE"] == "fast"
    assert env["DB_password"] == "hunter2" and env["DB_user"] == "admin" and env["PW"] == "hunter2"
    assert "OPT" not in env and "OPT2" not in env and "1badkey" not in env
    assert events == [("Warning", "InvalidEnvironmentVariableNames",
                       "Keys [1badkey, 2alsobad] from the EnvFrom configMap default/cfg were skipped since they are "
                       "considered invalid environment variable names.")]


@pytest.mark.parametrize("env_item,msg", [
    ({"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "x"}}}, "couldn't find key x in ConfigMap default/cfg"),
    ({"name": "X", "valueFrom": {"secretKeyRef": {"name": "db", "key": "x"}}}, "couldn't find key x in Secret default/db"),
    ({"name": "X", "valueFrom": {"configMapKeyRef": {"name": "y", "key": "x"}}}, 'configmap "y" not found'),
    ({"name": "X", "valueFrom": {"secretKeyRef": {"name": "y", "key": "x"}}}, 'secret "y" not found'),
])
def test_resolve_env_errors(env_item: dict[str, Any], msg: str) -> None:
    with pytest.raises(RuntimeError_) as e:
        _resolve({"name": "c", "env": [env_item]}, configmaps=CMS, secrets=SECRETS)
    assert (e.value.reason, e.value.message) == ("CreateContainerConfigError", msg)


def test_resolve_env_from_missing() -> None:
    with pytest.raises(RuntimeError_, match='configmap "nope" not found'):
        _resolve({"name": "c", "envFrom": [{"configMapRef": {"name": "nope"}}]})
    assert "X" not in _resolve({"name": "c", "envFrom": [{"secretRef": {"name": "nope", "optional": True}}]})


# ---- VolumeManager over a fake API (no mounts: disk wrappers) -----------------------------------

class FakeClient:
    def __init__(self, objects: dict[tuple[str, str, str], dict[str, Any]]) -> None:
        self.objects = objects
        self.token_requests: list[dict[str, Any]] = []

    async def get(self, res: Any, ns: str, name: str, sub: str | None = None) -> dict[str, Any]:
        obj = self.objects.get((res.plural, ns, name))
        if obj is None:
            raise errors.not_found(res.plural, name)
        return obj

    async def create(self, res: Any, ns: str, body: dict[str, Any], *, sub_name: str | None = None,
                     sub: str | None = None, field_manager: str = "") -> dict[str, Any]:
        assert res.plural == "serviceaccounts" and sub == "token"
        self.token_requests.append(body)
        n = len(self.token_requests)
        return {**body, "status": {"token": f"jwt-{n}", "expirationTimestamp": "2030-01-01T00:00:00Z"}}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: Any, etype: str, reason: str, message: str) -> None:
        self.events.append((etype, reason, message))


def _vm_pod() -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": "uid-1", "labels": {"app": "web"}},
        "spec": {"serviceAccountName": "default", "containers": [{"name": "c", "volumeMounts": [
            {"name": "cache", "mountPath": "/cache"}, {"name": "cfg", "mountPath": "/etc/cfg"},
            {"name": "sec", "mountPath": "/etc/sec"}, {"name": "info", "mountPath": "/etc/info", "readOnly": False},
            {"name": "kube-api-access-abcde", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
             "readOnly": True},
            {"name": "host", "mountPath": "/host", "readOnly": True}]}],
                 "volumes": [
                     {"name": "cache", "emptyDir": {}},
                     {"name": "cfg", "configMap": {"name": "app", "defaultMode": 0o600,
                                                   "items": [{"key": "a", "path": "dir/a.conf"}]}},
                     {"name": "sec", "secret": {"secretName": "s", "defaultMode": 0o400}},
                     {"name": "info", "downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                     {"name": "kube-api-access-abcde", "projected": {"defaultMode": 420, "sources": [
                         {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                         {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                         {"downwardAPI": {"items": [{"path": "namespace",
                                                     "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}},
                     {"name": "host", "hostPath": {"path": "/tmp", "type": "Directory"}}]},
    }


def _objects() -> dict[tuple[str, str, str], dict[str, Any]]:
    return {("configmaps", "ns", "app"): {"data": {"a": "alpha", "b": "beta"}},
            ("configmaps", "ns", "kube-root-ca.crt"): {"data": {"ca.crt": "PEM"}},
            ("secrets", "ns", "s"): {"data": {"k": _b64("v")}}}


def test_manager_setup_mounts_and_teardown(tmp_path: Any) -> None:
    async def go() -> None:
        client = FakeClient(_objects())
        vm = VolumeManager(client, str(tmp_path / "pods"), "node-1", memory_backed_wrappers=False)
        pod = _vm_pod()
        await vm.setup(pod)
        base = tmp_path / "pods" / "uid-1" / "volumes"
        assert sorted(os.listdir(base)) == ["kubernetes.io~configmap", "kubernetes.io~downward-api",
                                            "kubernetes.io~empty-dir", "kubernetes.io~projected",
                                            "kubernetes.io~secret"]
        assert stat.S_IMODE(os.stat(base / "kubernetes.io~empty-dir" / "cache").st_mode) == 0o777
        cfg = base / "kubernetes.io~configmap" / "cfg"
        assert (cfg / "dir" / "a.conf").read_text() == "alpha" and not (cfg / "b").exists()
        assert stat.S_IMODE(os.stat(cfg / "dir" / "a.conf").st_mode) == 0o600
        sec = base / "kubernetes.io~secret" / "sec"
        assert (sec / "k").read_text() == "v" and stat.S_IMODE(os.stat(sec / "k").st_mode) == 0o400
        assert (base / "kubernetes.io~downward-api" / "info" / "name").read_text() == "web"
        sa = base / "kubernetes.io~projected" / "kube-api-access-abcde"
        assert sorted(os.listdir(sa))[-3:] == ["ca.crt", "namespace", "token"]
        assert (sa / "token").read_text() == "jwt-1" and (sa / "ca.crt").read_text() == "PEM"
        assert (sa / "namespace").read_text() == "ns" and stat.S_IMODE(os.stat(sa / "token").st_mode) == 0o644
        assert client.token_requests[0]["spec"]["boundObjectRef"] == {"apiVersion": "v1", "kind": "Pod",
                                                                       "name": "web", "uid": "uid-1"}

        mounts = vm.mounts_for(pod, pod["spec"]["containers"][0])
        got = [(m.container_path, m.host_path, m.read_only) for m in mounts]
        assert got == [("/cache", str(base / "kubernetes.io~empty-dir" / "cache"), False),
                       ("/etc/cfg", str(cfg), True), ("/etc/sec", str(sec), True),
                       ("/etc/info", str(base / "kubernetes.io~downward-api" / "info"), True),
                       ("/var/run/secrets/kubernetes.io/serviceaccount", str(sa), True),
                       ("/host", "/tmp", True)]

        # data change -> new ..data; token cached (not near expiry)
        old = os.readlink(cfg / "..data")
        client.objects[("configmaps", "ns", "app")] = {"data": {"a": "ALPHA"}}
        await vm.refresh(pod)
        assert (cfg / "dir" / "a.conf").read_text() == "ALPHA" and os.readlink(cfg / "..data") != old
        assert len(client.token_requests) == 1

        (base / "kubernetes.io~empty-dir" / "cache" / "f").write_text("data")
        await vm.setup(pod)  # idempotent: emptyDir contents survive
        assert (base / "kubernetes.io~empty-dir" / "cache" / "f").read_text() == "data"

        await vm.teardown("uid-1")
        assert not (tmp_path / "pods" / "uid-1").exists()
        await vm.teardown("uid-1")
    asyncio.run(go())


def test_manager_token_refreshed_near_expiry(tmp_path: Any) -> None:
    async def go() -> None:
        now = [0.0]
        client = FakeClient(_objects())

        async def create(res: Any, ns: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
            client.token_requests.append(body)
            exp = int(now[0]) + body["spec"]["expirationSeconds"]
            import time as _t
            return {**body, "status": {"token": f"jwt-{len(client.token_requests)}",
                                       "expirationTimestamp": _t.strftime("%Y-%m-%dT%H:%M:%SZ", _t.gmtime(exp))}}
        client.create = create  # type: ignore[method-assign]
        vm = VolumeManager(client, str(tmp_path), "n", memory_backed_wrappers=False, clock=lambda: now[0])
        pod = _vm_pod()
        pod["spec"]["volumes"] = [v for v in pod["spec"]["volumes"] if v["name"].startswith("kube-api")]
        await vm.setup(pod)
        tok = tmp_path / "uid-1" / "volumes" / "kubernetes.io~projected" / "kube-api-access-abcde" / "token"
        assert tok.read_text() == "jwt-1"
        now[0] = 1000.0
        await vm.refresh(pod)
        assert tok.read_text() == "jwt-1"
        now[0] = 3607 * 0.8 + 11  # past 80% of the TTL (and the 10 s jitter)
        await vm.refresh(pod)
        assert tok.read_text() == "jwt-2"
    asyncio.run(go())


def test_manager_failed_mount_events(tmp_path: Any) -> None:
    async def go() -> None:
        rec = Recorder()
        vm = VolumeManager(FakeClient({}), str(tmp_path), "n", recorder=rec, memory_backed_wrappers=False)
        pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u"}, "spec": {"volumes": [
            {"name": "x", "configMap": {"name": "x"}}, {"name": "o", "configMap": {"name": "o", "optional": True}},
            {"name": "s", "secret": {"secretName": "nope"}},
            {"name": "h", "hostPath": {"path": str(tmp_path / "none"), "type": "File"}}]}}
        with pytest.raises(VolumeError) as e:
            await vm.setup(pod)
        assert e.value.failures == {"x": 'configmap "x" not found', "s": 'secret "nope" not found',
                                    "h": f"hostPath type check failed: {tmp_path / 'none'} is not a file"}
        assert ("Warning", "FailedMount", 'MountVolume.SetUp failed for volume "x" : configmap "x" not found') \
            in rec.events
        optional = os.listdir(tmp_path / "u" / "volumes" / "kubernetes.io~configmap" / "o")
        assert len(optional) == 2 and "..data" in optional  # optional and missing: an empty volume
    asyncio.run(go())


def test_mounts_for_errors(tmp_path: Any) -> None:
    vm = VolumeManager(FakeClient({}), str(tmp_path), "n", memory_backed_wrappers=False)
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u"}, "spec": {"volumes": [{"name": "v", "emptyDir": {}}]}}
    with pytest.raises(RuntimeError_) as e:
        vm.mounts_for(pod, {"name": "c", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]})
    assert e.value.message == 'cannot find volume "nope" to mount into container "c"'
    with pytest.raises(RuntimeError_) as e:
        vm.mounts_for(pod, {"name": "c", "volumeMounts": [{"name": "v", "mountPath": "/x", "subPath": "/etc"}]})
    assert e.value.message == "error SubPath `/etc` must not be an absolute path"
    with pytest.raises(RuntimeError_) as e:
        vm.mounts_for(pod, {"name": "c", "volumeMounts": [{"name": "v", "mountPath": "/x",
                                                           "subPathExpr": "$(POD)/$(NS)"}]}, env={"NS": "ns"})
    assert e.value.message == "missing value for POD"
