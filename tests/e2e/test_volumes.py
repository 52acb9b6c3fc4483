"""Volume manager against a real `kubeling up` (no containers): ConfigMaps, Secrets and bound
service-account tokens come from the API; volumes are set up in a tmp pods dir with real tmpfs
and bind mounts, refreshed through the `..data` swap, and torn down without leftovers."""

from __future__ import annotations

import asyncio
import base64
import os
import stat
import time
from typing import Any, Iterator

import pytest

from kubeling.api import errors
from kubeling.api.resources import lookup
from kubeling.client.rest import Client, ClientConfig
from kubeling.kubelet.volumes import VolumeManager, mountutil
from tests.integration.conftest import Cluster, free_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="tmpfs and bind mounts need root")

NS = lookup("", "v1", "namespaces")
PODS = lookup("", "v1", "pods")
CMS = lookup("", "v1", "configmaps")
SECRETS = lookup("", "v1", "secrets")
SAS = lookup("", "v1", "serviceaccounts")
NODE = "volumes-e2e-node"  # no kubelet runs this node: the pod stays ours


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(str(tmp_path_factory.mktemp("kubeling-volumes")), free_port())
    c.start()
    yield c
    c.stop()


async def _eventually(fn: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await fn()
        except errors.StatusError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def _ensure(client: Client, res: Any, ns: str, obj: dict[str, Any]) -> None:
    try:
        await client.create(res, ns, obj)
    except errors.StatusError as e:
        if e.code != 409:
            raise


def _pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "vols", "labels": {"app": "vols"}},
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"memory": "256Mi"}},
                            "volumeMounts": [
                                {"name": "data", "mountPath": "/data"},
                                {"name": "data", "mountPath": "/logs", "subPath": "logs/app"},
                                {"name": "mem", "mountPath": "/mem"},
                                {"name": "cfg", "mountPath": "/etc/cfg"},
                                {"name": "sec", "mountPath": "/etc/sec"},
                                {"name": "info", "mountPath": "/etc/info"}]}],
            "volumes": [
                {"name": "data", "emptyDir": {}},
                {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                {"name": "cfg", "configMap": {"name": "app", "items": [{"key": "a", "path": "conf/a.txt",
                                                                        "mode": 0o600}]}},
                {"name": "sec", "secret": {"secretName": "creds", "defaultMode": 0o400}},
                {"name": "info", "downwardAPI": {"items": [{"path": "labels",
                                                            "fieldRef": {"fieldPath": "metadata.labels"}}]}},
            ],
        },
    }


def _mode(p: str) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def _tmpfs_size(path: str) -> str:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            if parts[4] == path:
                return [o for o in parts[-1].split(",") if o.startswith("size=")][0]
    raise AssertionError(f"{path} is not mounted")


async def _scenario(cluster: Cluster, pods_dir: str) -> None:
    cfg = ClientConfig.from_kubeconfig(cluster.kubeconfig)
    client = Client(cfg)
    ns = "vol-e2e"
    vm = VolumeManager(client, pods_dir, NODE)
    uid = ""
    try:
        await client.create(NS, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        # the ServiceAccount and root-CA controllers make these; don't depend on their timing
        with open(cfg.ca_file) as f:
            ca = f.read()
        await _ensure(client, SAS, ns, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
        await _ensure(client, CMS, ns, {"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": ca}})
        await client.create(CMS, ns, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"},
                                      "data": {"a": "alpha", "b": "beta"}})
        await client.create(SECRETS, ns, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
                                          "data": {"password": base64.b64encode(b"hunter2").decode()}})
        pod = await _eventually(lambda: client.create(PODS, ns, _pod()))
        uid = pod["metadata"]["uid"]
        sa_vol = next(v for v in pod["spec"]["volumes"] if v["name"].startswith("kube-api-access-"))

        await vm.setup(pod)
        vols = os.path.join(pods_dir, uid, "volumes")
        data = os.path.join(vols, "kubernetes.io~empty-dir", "data")
        mem = os.path.join(vols, "kubernetes.io~empty-dir", "mem")
        cmd = os.path.join(vols, "kubernetes.io~configmap", "cfg")
        sec = os.path.join(vols, "kubernetes.io~secret", "sec")
        info = os.path.join(vols, "kubernetes.io~downward-api", "info")
        sa = os.path.join(vols, "kubernetes.io~projected", sa_vol["name"])

        assert os.path.isdir(data) and not mountutil.is_mountpoint(data) and _mode(data) == 0o777
        assert mountutil.fstype_of(mem) == "tmpfs" and _tmpfs_size(mem) == "size=65536k"
        assert mountutil.fstype_of(sec) == "tmpfs" and mountutil.fstype_of(sa) == "tmpfs"
        assert _tmpfs_size(sa) == "size=262144k"  # the pod's memory limit
        with open(os.path.join(cmd, "conf", "a.txt")) as f:
            assert f.read() == "alpha"
        assert _mode(os.path.join(cmd, "conf", "a.txt")) == 0o600 and not os.path.exists(os.path.join(cmd, "b"))
        with open(os.path.join(sec, "password")) as f:
            assert f.read() == "hunter2"
        assert _mode(os.path.join(sec, "password")) == 0o400
        with open(os.path.join(info, "labels")) as f:
            assert f.read() == 'app="vols"'
        assert sorted(n for n in os.listdir(sa) if not n.startswith("..")) == ["ca.crt", "namespace", "token"]
        with open(os.path.join(sa, "namespace")) as f:
            assert f.read() == ns
        with open(os.path.join(sa, "token")) as f:
            token = f.read()
        assert token.count(".") == 2 and _mode(os.path.join(sa, "token")) == 0o644

        # the projected token authenticates (200 or 403, never 401)
        as_pod = Client(ClientConfig(server=cfg.server, ca_file=cfg.ca_file, token=token))
        try:
            try:
                await as_pod.request("GET", f"/api/v1/namespaces/{ns}/pods")
            except errors.StatusError as e:
                assert e.code == 403, e
        finally:
            await as_pod.close()

        # mounts: subPath is a bind mount of a safely created dir inside the volume
        mounts = vm.mounts_for(pod, pod["spec"]["containers"][0])
        by_path = {m.container_path: m for m in mounts}
        logs = by_path["/logs"]
        assert logs.host_path == os.path.join(pods_dir, uid, "volume-subpaths", "data", "c", "1")
        assert mountutil.is_mountpoint(logs.host_path) and os.path.isdir(os.path.join(data, "logs", "app"))
        with open(os.path.join(logs.host_path, "x.log"), "w") as f:
            f.write("hello")
        assert os.path.exists(os.path.join(data, "logs", "app", "x.log"))
        assert [by_path[p].read_only for p in ("/data", "/mem", "/etc/cfg", "/etc/sec", "/etc/info")] == \
            [False, False, True, True, True]
        assert by_path["/var/run/secrets/kubernetes.io/serviceaccount"].host_path == sa
        assert by_path["/var/run/secrets/kubernetes.io/serviceaccount"].read_only
        vm.mounts_for(pod, pod["spec"]["containers"][0])  # again (container restart): same binds reused
        assert len([m for m in mountutil.mounts_under(os.path.join(pods_dir, uid)) if "volume-subpaths" in m]) == 1

        # a ConfigMap update shows up after refresh, through a new ..data
        old = os.readlink(os.path.join(cmd, "..data"))
        live = await client.get(CMS, ns, "app")
        live["data"]["a"] = "ALPHA"
        await client.update(CMS, live)
        await vm.refresh(pod)
        assert os.readlink(os.path.join(cmd, "..data")) != old
        with open(os.path.join(cmd, "conf", "a.txt")) as f:
            assert f.read() == "ALPHA"

        # a restarted kubelet (new manager) finds the tmpfs in place and keeps its contents
        with open(os.path.join(mem, "keep"), "w") as f:
            f.write("1")
        vm2 = VolumeManager(client, pods_dir, NODE)
        await vm2.setup(pod)
        assert os.path.exists(os.path.join(mem, "keep"))
        assert len(mountutil.mounts_under(mem)) == 1

        # teardown (by a fresh manager, from what is on disk) unmounts and removes everything
        await vm2.cleanup_orphans(set())
        assert mountutil.mounts_under(os.path.join(pods_dir, uid)) == []
        assert not os.path.exists(os.path.join(pods_dir, uid))
        await vm.teardown(uid)  # idempotent
    finally:
        if uid:
            try:
                await vm.teardown(uid)
            except OSError:
                mountutil.unmount_all(os.path.join(pods_dir, uid))
        try:
            await client.delete(NS, None, ns)
        except errors.StatusError:
            pass
        await client.close()


def test_volumes_against_real_api(cluster: Cluster, tmp_path: Any) -> None:
    pods_dir = str(tmp_path / "pods")
    try:
        asyncio.run(_scenario(cluster, pods_dir))
    finally:
        mountutil.unmount_all(pods_dir) if os.path.isdir(pods_dir) else None
        assert mountutil.mounts_under(str(tmp_path)) == []
