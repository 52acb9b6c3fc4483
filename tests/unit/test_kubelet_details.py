"""Kubelet details a user notices (issue 8): InvalidImageName without a pull, pod log directories
removed with the pod, TERM=xterm for tty sessions, the pod directory's etc-hosts / containers /
plugins layout."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from kubeling.kubelet import poddir
from kubeling.kubelet.images import policy
from kubeling.kubelet.kubelet import Kubelet, KubeletConfig
from kubeling.kubelet.node import NodeConfig
from kubeling.kubelet.runtime import logs
from kubeling.kubelet.runtime.bundle import merge_env
from kubeling.kubelet.runtime.oci import OCIRuntime
from kubeling.kubelet.runtime.simulated import SimulatedRuntime


class _Source:
    synced = asyncio.Event()

    def add_handlers(self, *a: Any, **kw: Any) -> None: ...

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return []


class _NoPulls:
    def status(self, image: str) -> None:
        return None

    async def pull(self, image: str, *a: Any) -> Any:
        raise AssertionError(f"pulled {image!r}")


def _pod(image: str) -> dict[str, Any]:
    return {"metadata": {"name": "bad", "namespace": "default", "uid": "u-1"},
            "spec": {"containers": [{"name": "c", "image": image}]}}


async def test_invalid_image_name_is_reported_and_never_pulled() -> None:
    kubelet = Kubelet(None, KubeletConfig(node=NodeConfig(name="n")), SimulatedRuntime(),  # type: ignore[arg-type]
                      image_service=_NoPulls(), pod_source=_Source())
    events: list[tuple[str, str, str]] = []
    kubelet.event = lambda pod, typ, reason, msg, *a, **kw: events.append((typ, reason, msg))  # type: ignore
    pod = _pod("NGINX:Bad Tag")
    assert await kubelet._ensure_image(pod, pod["spec"]["containers"][0], False) is None
    want = ('Failed to apply default image tag "NGINX:Bad Tag": couldn\'t parse image name "NGINX:Bad Tag": '
            "invalid reference format: repository name (library/NGINX) must be lowercase")
    assert events == [("Warning", "InspectFailed", want), ("Warning", "Failed", "Error: InvalidImageName")]
    reason = kubelet.reasons["u-1"]["c"]
    assert (reason.reason, reason.message) == ("InvalidImageName", want)
    await kubelet.queue.shutdown()


@pytest.mark.parametrize("image, err", [
    ("nginx:bad tag", "invalid reference format"),
    ("nginx:", "invalid reference format"),
    ("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"),
])
def test_invalid_image_messages(image: str, err: str) -> None:
    with pytest.raises(ValueError) as e:
        policy.check_image_name(image)
    assert policy.msg_invalid_name(image, e.value) == \
        f'Failed to apply default image tag "{image}": couldn\'t parse image name "{image}": {err}'


def test_valid_names_pass() -> None:
    for image in ("nginx", "nginx:1.14.2", "localhost:5000/a/b@sha256:" + "0" * 64, "redis:latest"):
        policy.check_image_name(image)


def test_remove_pod_logs_only_that_pod(tmp_path: Any) -> None:
    root = str(tmp_path)
    mine = logs.container_log_path(root, "default", "web", "uid-1", "nginx", 0)
    other = logs.container_log_path(root, "default", "web", "uid-2", "nginx", 0)
    for p in (mine, other):
        os.makedirs(os.path.dirname(p))
        open(p, "w").close()
    assert mine == os.path.join(root, "default_web_uid-1", "nginx", "0.log")
    assert logs.remove_pod_logs(root, "uid-1") == [os.path.join(root, "default_web_uid-1")]
    assert sorted(os.listdir(root)) == ["default_web_uid-2"]
    assert logs.remove_pod_logs(root, "uid-2", "default", "web") == [os.path.join(root, "default_web_uid-2")]
    assert os.listdir(root) == []
    assert logs.remove_pod_logs(root, "") == [] and logs.remove_pod_logs(str(tmp_path / "none"), "x") == []


def test_tty_containers_get_term_xterm() -> None:
    assert merge_env([], "h", {}, tty=True)[1:] == ["TERM=xterm", "HOSTNAME=h"]
    assert "TERM=vt100" in merge_env(["TERM=vt100"], "", {}, tty=True)  # the image's wins
    assert "TERM=dumb" in merge_env([], "", {"TERM": "dumb"}, tty=True)  # the pod's wins
    assert not any(e.startswith("TERM=") for e in merge_env([], "h", {}))


def test_tty_exec_gets_term_xterm(tmp_path: Any) -> None:
    rt = OCIRuntime(str(tmp_path), runtime="runc", binary="/bin/true")
    rt.base_cmd = ["runc", "--root", "/r"]
    assert rt._exec_argv("c1", ["sh"], True) == ["runc", "--root", "/r", "exec", "--tty", "--env", "TERM=xterm",
                                                 "c1", "sh"]
    assert rt._exec_argv("c1", ["env"], False) == ["runc", "--root", "/r", "exec", "c1", "env"]


def test_managed_hosts_file() -> None:
    pod = {"metadata": {"name": "web", "namespace": "ns"},
           "spec": {"hostname": "h", "subdomain": "sub",
                    "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]}]}}
    assert poddir.managed_hosts(pod, ["10.244.0.5"]).splitlines()[-4:] == [
        "10.244.0.5\th.sub.ns.svc.cluster.local\th", "", "# Entries added by HostAliases.",
        "10.1.2.3\tfoo.local\tbar.local"]
    plain = poddir.managed_hosts({"metadata": {"name": "web"}, "spec": {}}, ["10.244.0.5"])
    assert plain.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert plain.endswith("fe00::2\tip6-allrouters\n10.244.0.5\tweb\n")


def test_pod_dir_layout_and_mounts(tmp_path: Any) -> None:
    d = str(tmp_path / "pods" / "uid-1")
    poddir.make_pod_dirs(d)
    assert sorted(os.listdir(d)) == ["containers", "plugins", "volumes"]
    pod = {"metadata": {"name": "web", "namespace": "ns", "uid": "uid-1"}, "spec": {}}
    c = {"name": "nginx"}
    mounts = poddir.pod_file_mounts(d, pod, c, ["10.244.0.7"])
    assert [(m.container_path, m.read_only) for m in mounts] == [("/etc/hosts", False),
                                                                 ("/dev/termination-log", False)]
    assert mounts[0].host_path == os.path.join(d, "etc-hosts")
    assert open(mounts[0].host_path).read().endswith("10.244.0.7\tweb\n")
    assert os.path.dirname(mounts[1].host_path) == os.path.join(d, "containers", "nginx")
    assert len(os.path.basename(mounts[1].host_path)) == 8
    # a container that mounts its own /etc/hosts, or a pod without IPs, gets no etc-hosts mount
    own = {"name": "x", "volumeMounts": [{"name": "v", "mountPath": "/etc/hosts"}],
           "terminationMessagePath": "/tmp/msg"}
    assert [m.container_path for m in poddir.pod_file_mounts(d, pod, own, ["10.244.0.7"])] == ["/tmp/msg"]
    assert [m.container_path for m in poddir.pod_file_mounts(d, pod, c, [])] == ["/dev/termination-log"]


def test_down_removes_only_this_nodes_pod_logs(tmp_path: Any) -> None:
    from kubeling import down

    agent, logdir, elsewhere = tmp_path / "data" / "agent", tmp_path / "pods-logs", tmp_path / "other-logs"
    (agent / "pods" / "uid-a").mkdir(parents=True)
    (agent / "containers" / "c1").mkdir(parents=True)
    moved = logs.container_log_path(str(elsewhere), "ns", "b", "uid-b", "c", 0)  # logged to another --pod-log-dir
    (agent / "containers" / "c1" / "meta.json").write_text(f'{{"pod_uid": "uid-b", "log_path": "{moved}"}}')
    for ns_name_uid in ("ns_a_uid-a", "ns_z_uid-z"):
        (logdir / ns_name_uid / "c").mkdir(parents=True)
    os.makedirs(os.path.dirname(moved))
    said: list[str] = []
    down.remove_pod_logs(str(agent), str(logdir), said.append)
    assert os.listdir(logdir) == ["ns_z_uid-z"]  # another cluster's pod in a shared log dir stays
    assert os.listdir(elsewhere) == []
    assert sorted(said) == [f"removed pod log dir {elsewhere}/ns_b_uid-b", f"removed pod log dir {logdir}/ns_a_uid-a"]


def test_empty_dir_ready_marker(tmp_path: Any) -> None:
    from kubeling.kubelet.volumes import emptydir

    emptydir.set_ready(str(tmp_path), "cache")
    emptydir.set_ready(str(tmp_path), "cache")  # idempotent
    assert os.listdir(tmp_path / "plugins" / "kubernetes.io~empty-dir" / "cache") == ["ready"]


async def test_image_preparation_shows_progress(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                tmp_path: Any) -> None:
    """First-start work after the ready line says what it is doing, like kind."""
    from types import SimpleNamespace

    from kubeling.config import Config
    from kubeling.kubelet import agent
    from kubeling.kubelet.images import build, localregistry

    async def push(data: str, url: str) -> list[str]:
        return []

    monkeypatch.setattr(build, "ensure_test_images", lambda data: {"busybox:latest": "docker.io/library/busybox"})
    monkeypatch.setattr(build, "push_test_images", push)
    monkeypatch.setattr(localregistry, "start_registry", lambda workdir: SimpleNamespace(url="http://127.0.0.1:5999"))
    node = agent.RealNode.__new__(agent.RealNode)
    node.cfg, node.images = Config(data_dir=str(tmp_path)), agent.GatedImages(None)
    node.image_service = SimpleNamespace(client=SimpleNamespace(config=SimpleNamespace(mirrors={})))
    await node._prepare_images()
    out = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in out] == [
        " • Preparing images ...", " ✓ Preparing images", " • Starting the local registry ...",
        " ✓ Starting the local registry"]
    assert "(busybox:latest, " in out[1] and "(http://127.0.0.1:5999 mirrors docker.io, " in out[3]
    assert node.images.ready.is_set()
