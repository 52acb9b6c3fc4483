"""The tutorial on a real node, end to end: `kubeling up` with runc containers, the CNI pod
network, volumes, the kubelet API and the test images, driven by the real kubectl.

Section 1 (redis with an emptyDir), section 2 (the nginx Deployment: serve, roll, bad image,
undo), OOMKilled, CrashLoopBackOff, logs -f / exec -it / cp / port-forward, and a kubeling
restart that leaves the containers running.

The cluster is this module's own: a temp data dir, a free API port, a free kubelet port, and a
bridge / pod CIDR / service CIDR of its own (`kltutN`, 10.252.N.0/24, 10.253.N.0/24), so a
kubeling running on the same machine (kubeling0, 10.244/16, 10.96/12) is not disturbed.
Teardown stops kubeling and runs `kubeling down`, which removes the containers, the netns,
the bridge, routes and rules, the mounts and the cgroups — also when a test failed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
import urllib.request
from typing import Any, Iterator

import pytest

from kubeling.kubelet.images import build
from tests.e2e.realcluster import own_cluster
from tests.integration.conftest import Cluster, free_port, manifest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runc") or not shutil.which("kubectl")
    or not os.path.exists("/usr/lib/cni/bridge") or not shutil.which("docker-registry") or build.missing_packages(),
    reason="needs root, runc, kubectl, containernetworking-plugins, docker-registry and the test images' packages")

NET = random.Random(os.getpid()).randrange(1, 250)
BRIDGE = f"kltut{NET}"
CLUSTER_CIDR = f"10.252.{NET}.0/24"
SERVICE_CIDR = f"10.253.{NET}.0/24"
GATEWAY = f"10.252.{NET}.1"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RealCluster(Cluster):
    def pod(self, name: str) -> dict[str, Any]:
        return self.json("get", "pod", name)

    def wait_pod(self, name: str, pred: Any, timeout: float = 60.0, what: str = "") -> dict[str, Any]:
        def check() -> Any:
            p = self.kubectl("get", "pod", name, "-o", "json", check=False)
            if p.returncode != 0:
                return None
            pod = json.loads(p.stdout)
            return pod if pred(pod) else None
        return self.wait_for(check, timeout, 0.2, what or f"pod {name}")

    def wait_running(self, name: str, timeout: float = 60.0) -> dict[str, Any]:
        return self.wait_pod(name, lambda p: _ready(p) and p["status"].get("podIP"), timeout, f"{name} Running")

    def events(self, name: str) -> list[dict[str, Any]]:
        return self.json("get", "events", "--field-selector", f"involvedObject.name={name}")["items"]


def _cs(pod: dict[str, Any]) -> dict[str, Any]:
    return ((pod.get("status") or {}).get("containerStatuses") or [{}])[0]


def _ready(pod: dict[str, Any]) -> bool:
    st = pod.get("status") or {}
    return st.get("phase") == "Running" and bool(_cs(pod).get("ready"))


def http_get(url: str, timeout: float = 15.0) -> str:
    with NO_PROXY.open(url, timeout=timeout) as r:
        return r.read().decode(errors="replace")


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    base = str(tmp_path_factory.mktemp("tutorial-real"))
    with own_cluster(base, BRIDGE, CLUSTER_CIDR, SERVICE_CIDR, "tutorial-node", cls=RealCluster) as c:
        yield c
    leftovers = _leftovers(os.path.join(base, "data"))
    assert not leftovers, f"kubeling down left: {leftovers}"


def _leftovers(data: str) -> list[str]:
    """What a node of this data dir could leave on the host after `kubeling down`."""
    out = []
    if os.path.exists(f"/sys/class/net/{BRIDGE}"):
        out.append(f"bridge {BRIDGE}")
    with open("/proc/mounts") as f:
        out += [line.split()[1] for line in f if os.path.realpath(data) in line]
    routes = subprocess.run(["ip", "route", "show", "dev", BRIDGE], capture_output=True, text=True).stdout
    out += [r for r in routes.splitlines() if r.strip()]
    return out


@pytest.fixture(scope="module")
def node(kc: RealCluster) -> dict[str, Any]:
    def ready() -> Any:
        p = kc.kubectl("get", "node", "tutorial-node", "-o", "json", check=False)
        if p.returncode:
            return None
        n = json.loads(p.stdout)
        return n if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"]) else None
    return kc.wait_for(ready, 60, what="node Ready")


@pytest.fixture(scope="module")
def early_pods(kc: RealCluster, node: dict[str, Any]) -> None:
    """Pods whose story takes a while (crash loop back-off, OOM): created first, checked later."""
    kc.kubectl("apply", "-f", "-", input=CRASH_AND_OOM)


CRASH_AND_OOM = """
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  containers:
  - {name: crash, image: busybox, command: ["sh", "-c", "echo crashing; exit 3"]}
---
apiVersion: v1
kind: Pod
metadata: {name: oom}
spec:
  containers:
  - name: oom
    image: busybox
    command: ["sh", "-c", "x=0123456789abcdef; while true; do x=$x$x; done"]
    resources: {limits: {memory: 32Mi}}
"""


def test_node(kc: RealCluster, node: dict[str, Any], early_pods: None) -> None:
    st = node["status"]
    assert {"type": "InternalIP", "address": GATEWAY} in st["addresses"]
    assert st["daemonEndpoints"]["kubeletEndpoint"]["Port"] > 0
    assert st["nodeInfo"]["containerRuntimeVersion"].startswith("runc://1.")
    assert node["spec"]["podCIDR"] == CLUSTER_CIDR
    wide = kc.kubectl("get", "nodes", "-o", "wide").stdout
    assert "tutorial-node" in wide and GATEWAY in wide and "runc://" in wide


def test_section1_redis(kc: RealCluster, node: dict[str, Any]) -> None:
    kc.kubectl("apply", "-f", manifest("redis.yaml"))
    pod = kc.wait_running("redis", 90)
    ip = pod["status"]["podIP"]
    assert ip.startswith(f"10.252.{NET}.")
    line = kc.kubectl("get", "pod", "redis").stdout.splitlines()[1].split()
    assert line[:3] == ["redis", "1/1", "Running"]
    wide = kc.kubectl("get", "pod", "redis", "-o", "wide").stdout.splitlines()[1].split()
    assert ip in wide and "tutorial-node" in wide

    # describe: what the tutorial shows (events are written asynchronously: wait for Started)
    kc.wait_for(lambda: {"Scheduled", "Pulling", "Pulled", "Created", "Started"}
                <= {e["reason"] for e in kc.events("redis")}, 60, what="redis events")
    d = kc.kubectl("describe", "pod", "redis").stdout
    for want in (f"Node:             tutorial-node/{GATEWAY}", "Start Time:", f"IP:               {ip}",
                 "Container ID:   runc://", "Image:          redis", "docker.io/library/redis@sha256:",
                 "State:          Running", "Started:", "Ready:          True", "Restart Count:  0",
                 "/data/redis from redis-storage (rw)", "/var/run/secrets/kubernetes.io/serviceaccount from kube-api-access-",
                 "PodScheduled                True", "ContainersReady             True",
                 "EmptyDir (a temporary directory that shares a pod's lifetime)",
                 "Projected (a volume that contains injected data from multiple sources)",
                 "QoS Class:                   BestEffort",
                 "node.kubernetes.io/not-ready:NoExecute op=Exists for 300s",
                 "Successfully assigned default/redis to tutorial-node", 'Pulling image "redis"',
                 'Successfully pulled image "redis"', "Created container redis", "Started container redis"):
        assert want in d, f"{want!r} not in describe:\n{d}"
    assert "kube-api-access-" in d and "(ro)" in d

    assert kc.kubectl("exec", "redis", "--", "redis-cli", "ping").stdout.strip() == "PONG"

    # a file in the emptyDir survives a container restart
    kc.kubectl("exec", "redis", "--", "sh", "-c", "echo tutorial > /data/redis/test-file")
    first = _cs(kc.pod("redis"))["containerID"]
    kc.kubectl("exec", "redis", "--", "kill", "1")
    pod = kc.wait_pod("redis", lambda p: _cs(p).get("restartCount") == 1 and _ready(p), 30, "redis restarted")
    assert _cs(pod)["containerID"] != first
    assert _cs(pod)["lastState"]["terminated"]["containerID"] == first
    assert kc.kubectl("exec", "redis", "--", "cat", "/data/redis/test-file").stdout == "tutorial\n"
    assert kc.kubectl("exec", "redis", "--", "redis-cli", "ping").stdout.strip() == "PONG"

    # ... and is gone, with the pod's whole dir, once the pod is deleted
    uid = pod["metadata"]["uid"]
    vol = os.path.join(kc.data_dir, "agent", "pods", uid, "volumes", "kubernetes.io~empty-dir", "redis-storage")
    with open(os.path.join(vol, "test-file")) as f:
        assert f.read() == "tutorial\n"
    kc.kubectl("delete", "pod", "redis", "--timeout=60s")
    assert not os.path.exists(vol)
    assert not os.path.exists(os.path.join(kc.data_dir, "agent", "pods", uid))


VOLUMES_POD = """
apiVersion: v1
kind: Pod
metadata: {name: vols}
spec:
  containers:
  - name: c
    image: busybox
    command: ["sleep", "3600"]
    volumeMounts:
    - {name: mem, mountPath: /cache}
    - {name: host, mountPath: /host, readOnly: true}
  volumes:
  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 16Mi}}
  - name: host
    hostPath: {path: HOSTDIR, type: Directory}
"""


def test_memory_emptydir_and_hostpath(kc: RealCluster, node: dict[str, Any], tmp_path: Any) -> None:
    hostdir = tmp_path / "hostdir"
    hostdir.mkdir()
    (hostdir / "from-host.txt").write_text("written on the host\n")
    kc.kubectl("apply", "-f", "-", input=VOLUMES_POD.replace("HOSTDIR", str(hostdir)))
    kc.wait_running("vols")
    mounts = kc.kubectl("exec", "vols", "--", "cat", "/proc/mounts").stdout
    cache = [line.split() for line in mounts.splitlines() if line.split()[1] == "/cache"]
    assert cache and cache[0][2] == "tmpfs", mounts
    assert "size=16384k" in cache[0][3]
    assert kc.kubectl("exec", "vols", "--", "cat", "/host/from-host.txt").stdout == "written on the host\n"
    r = kc.kubectl("exec", "vols", "--", "sh", "-c", "echo x > /host/nope", check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stderr
    kc.kubectl("delete", "pod", "vols", "--wait=false")


def _nginx_pods(kc: RealCluster) -> list[dict[str, Any]]:
    return kc.json("get", "pods", "-l", "app=nginx")["items"]


def _serving(kc: RealCluster, version: str) -> list[str]:
    """IPs of the nginx pods that are ready and serve the page of `version`."""
    out = []
    for p in _nginx_pods(kc):
        ip = (p.get("status") or {}).get("podIP")
        if not (_ready(p) and ip) or p["metadata"].get("deletionTimestamp"):
            continue
        try:
            if f"nginx:{version}" in http_get(f"http://{ip}/"):
                out.append(ip)
        except OSError:
            pass
    return out


def test_section2_nginx_deployment(kc: RealCluster, node: dict[str, Any]) -> None:
    kc.kubectl("apply", "-f", manifest("my-nginx.yaml"))
    kc.kubectl("rollout", "status", "deployment/nginx-deployment", "--timeout=90s", timeout=100)
    kc.wait_for(lambda: len(_serving(kc, "1.14.2")) == 3, 90, what="3 pods serving 1.14.2")
    assert len({p["status"]["podIP"] for p in _nginx_pods(kc)}) == 3

    t0 = time.monotonic()
    kc.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:1.16.1")
    kc.kubectl("rollout", "status", "deployment/nginx-deployment", "--timeout=90s", timeout=100)
    print(f"rolling update of 3 replicas: {time.monotonic() - t0:.1f}s")
    kc.wait_for(lambda: len(_serving(kc, "1.16.1")) == 3, 90, what="3 pods serving 1.16.1")
    # the pods of 1.16.1 (an old pod may still be terminating: nginx quits gracefully on SIGQUIT)
    good = {p["metadata"]["name"] for p in _nginx_pods(kc) if not p["metadata"].get("deletionTimestamp")}

    # a missing tag: the new pod can't pull, the old ones keep serving
    kc.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:1.161")

    def bad_pod() -> Any:
        for p in _nginx_pods(kc):
            w = (_cs(p).get("state") or {}).get("waiting") or {}
            if w.get("reason") in ("ErrImagePull", "ImagePullBackOff"):
                return p
        return None
    bad = kc.wait_for(bad_pod, 90, what="a pod in ErrImagePull/ImagePullBackOff")
    assert bad["spec"]["containers"][0]["image"] == "nginx:1.161"
    kc.wait_for(lambda: any("not found" in e.get("message", "") for e in kc.events(bad["metadata"]["name"])),
                60, what="Failed event saying not found")
    kc.wait_pod(bad["metadata"]["name"], lambda p: _cs(p).get("state", {}).get("waiting", {}).get("reason")
                == "ImagePullBackOff", 20, "ImagePullBackOff")
    assert len(_serving(kc, "1.16.1")) == 3
    assert good <= {p["metadata"]["name"] for p in _nginx_pods(kc)}

    kc.kubectl("rollout", "undo", "deployment/nginx-deployment", "--to-revision=2")
    kc.kubectl("rollout", "status", "deployment/nginx-deployment", "--timeout=60s", timeout=70)
    kc.wait_for(lambda: len(_nginx_pods(kc)) == 3, 90, what="bad pod gone")
    assert len(_serving(kc, "1.16.1")) == 3
    assert all(p["spec"]["containers"][0]["image"] == "nginx:1.16.1" for p in _nginx_pods(kc))


def test_streaming(kc: RealCluster, node: dict[str, Any], tmp_path: Any) -> None:
    kc.wait_for(lambda: len(_serving(kc, "1.16.1")) == 3, 90, what="nginx pods")
    pod = sorted(_nginx_pods(kc), key=lambda p: p["metadata"]["name"])[0]
    name, ip = pod["metadata"]["name"], pod["status"]["podIP"]
    env = {**os.environ, "KUBECONFIG": kc.kubeconfig}

    # logs -f: follows the access log as requests come in
    f = subprocess.Popen(["kubectl", f"--cache-dir={kc.cache_dir}", "logs", "-f", name], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env)
    try:
        assert f.stdout is not None
        os.set_blocking(f.stdout.fileno(), False)
        seen, deadline = "", time.monotonic() + 60
        while "GET /follow-me" not in seen and time.monotonic() < deadline:
            try:
                http_get(f"http://{ip}/follow-me", 10)
            except OSError:
                pass  # 404
            time.sleep(0.3)
            try:
                seen += os.read(f.stdout.fileno(), 65536).decode(errors="replace")
            except BlockingIOError:
                pass
        assert "GET /follow-me" in seen, seen
    finally:
        f.kill()
        f.wait()

    # exec -it through a pty
    script = subprocess.run(["script", "-qec", f"kubectl --cache-dir={kc.cache_dir} exec -it {name} -- "
                             "sh -c 'tty; echo in-a-pty'", "/dev/null"], capture_output=True, text=True, env=env,
                            timeout=30, stdin=subprocess.DEVNULL)
    assert "/dev/pts/" in script.stdout and "in-a-pty" in script.stdout, script.stdout + script.stderr

    # cp both ways
    src = tmp_path / "to-pod.txt"
    src.write_text("copied in\n")
    kc.kubectl("cp", str(src), f"{name}:/tmp/to-pod.txt")
    assert kc.kubectl("exec", name, "--", "cat", "/tmp/to-pod.txt").stdout == "copied in\n"
    kc.kubectl("cp", f"{name}:/usr/share/nginx/html/index.html", str(tmp_path / "index.html"))
    assert "nginx:1.16.1" in (tmp_path / "index.html").read_text()

    # port-forward
    port = free_port()
    pf = subprocess.Popen(["kubectl", f"--cache-dir={kc.cache_dir}", "port-forward", f"pod/{name}", f"{port}:80"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        body = kc.wait_for(lambda: _try_get(f"http://127.0.0.1:{port}/"), 60, what="port-forward")
        assert "nginx:1.16.1" in body
    finally:
        pf.terminate()
        pf.wait(10)


def _try_get(url: str) -> str | None:
    try:
        return http_get(url, 10)
    except OSError:
        return None


def test_oom_killed(kc: RealCluster, early_pods: None) -> None:
    pod = kc.wait_pod("oom", lambda p: ((_cs(p).get("lastState") or {}).get("terminated") or {}).get("reason")
                      == "OOMKilled", 60, "OOMKilled")
    term = _cs(pod)["lastState"]["terminated"]
    assert term["exitCode"] == 137 and term["startedAt"] and term["finishedAt"]
    kc.kubectl("delete", "pod", "oom", "--wait=false")


def test_crash_loop_backoff(kc: RealCluster, early_pods: None) -> None:
    """Restarts 1 and 2 come 0 s and 10 s after the first two crashes; the next wait is 20 s."""
    def waiting(p: dict[str, Any]) -> dict[str, Any]:
        return (_cs(p).get("state") or {}).get("waiting") or {}
    p1 = kc.wait_pod("crash", lambda p: _cs(p).get("restartCount", 0) >= 1 and waiting(p).get("reason")
                     == "CrashLoopBackOff", 60, "first back-off")
    if _cs(p1)["restartCount"] == 1:
        assert "back-off 10s restarting failed container=crash pod=crash_default(" in waiting(p1)["message"]
    p2 = kc.wait_pod("crash", lambda p: _cs(p).get("restartCount", 0) >= 2 and "back-off 20s"
                     in waiting(p).get("message", ""), 40, "second back-off (20s)")
    last = _cs(p2)["lastState"]["terminated"]
    assert last["exitCode"] == 3 and last["reason"] == "Error" and last["startedAt"]
    assert kc.kubectl("logs", "crash").stdout == "crashing\n"
    assert kc.kubectl("logs", "crash", "--previous").stdout == "crashing\n"
    events = kc.events("crash")
    backoff = [e for e in events if e["reason"] == "BackOff"]
    assert backoff and backoff[0]["message"].startswith("Back-off restarting failed container crash in pod crash_default(")
    assert backoff[0]["type"] == "Warning"
    kc.kubectl("delete", "pod", "crash", "--wait=false")


def test_restart_keeps_containers(kc: RealCluster, node: dict[str, Any]) -> None:
    """SIGTERM stops kubeling, not the containers; the next start adopts them as they are."""
    kc.wait_for(lambda: len(_serving(kc, "1.16.1")) == 3, 90, what="nginx pods")
    pods = _nginx_pods(kc)
    before = {p["metadata"]["name"]: (_cs(p)["containerID"], _cs(p)["restartCount"]) for p in pods}
    kc.stop()
    assert kc.proc is not None and kc.proc.returncode == 0, open(kc.log_path).read()[-3000:]
    for p in pods:  # still serving while kubeling is down
        assert "nginx:1.16.1" in http_get(f"http://{p['status']['podIP']}/")
    kc.start()
    kc.wait_for(lambda: len(_serving(kc, "1.16.1")) == 3, 90, what="nginx pods after restart")
    after = {p["metadata"]["name"]: (_cs(p)["containerID"], _cs(p)["restartCount"]) for p in _nginx_pods(kc)}
    assert after == before, (before, after)
    name = sorted(after)[0]
    # the kubelet API is back once the node has started again
    out = kc.wait_for(lambda: kc.kubectl("exec", name, "--", "cat", "/tmp/to-pod.txt", check=False).stdout, 60,
                      what="exec after the restart")
    assert out == "copied in\n"
    assert "GET /follow-me" in kc.kubectl("logs", name).stdout
    kc.kubectl("delete", "deployment", "nginx-deployment")
    kc.wait_for(lambda: not _nginx_pods(kc), 60, what="nginx pods gone")
