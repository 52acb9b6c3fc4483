"""Kubelet details a user notices, on a real node driven by the real kubectl (issue 8): a deleted
pod's log directory goes with it (and `kubeling down` removes the rest), an invalid image name is
InvalidImageName and never pulled, `kubectl exec -it` gets TERM=xterm, and the pod directory has
the kubelet's layout with a kubelet-managed etc-hosts. The node's components authenticate as
themselves (issue 12): kubelet, kube-proxy and cluster DNS, in-process and with their kubeconfigs;
the kubelet's own API lets in only whom the API server authorizes (a pod's token: 403), while
kubectl exec/logs (the API server's certificate) and `kubectl top` (metrics-server's token) work.

The cluster is this module's own: temp data dir and pod log dir, free API and kubelet ports, a
bridge and CIDRs of its own (`klkubN`, 10.254.N.0/24, 10.255.N.0/24) so no other cluster on the
machine is disturbed. Only busybox and redis are built (imported before start,
`--no-test-images`), so pods use `imagePullPolicy: IfNotPresent`. Teardown stops kubeling and runs `kubeling down`.
"""

from __future__ import annotations

import json
import os
import pty
import random
import re
import select
import shutil
import subprocess
import sys
import time
from typing import Any, Iterator

import pytest

from kubeling.kubelet.images import build
from tests.integration.conftest import Cluster, free_port
from tests.integration.identities import audit_args, identity_problems, in_process_events, refusals_in_log, users

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runc") or not shutil.which("kubectl")
    or not os.path.exists("/usr/lib/cni/bridge") or not os.path.exists(build.BUSYBOX),
    reason="needs root, runc, kubectl, containernetworking-plugins and busybox-static")

NET = random.Random(os.getpid()).randrange(1, 250)
BRIDGE = f"klkub{NET}"


def _pod(name: str, image: str = "busybox", command: str | None = "sleep 3600", mounts: Any = (), **spec: Any) -> str:
    c = {"name": "c", "image": image, "imagePullPolicy": "IfNotPresent", "volumeMounts": list(mounts),
         **({"command": ["sh", "-c", command]} if command else {})}
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                       "spec": {"terminationGracePeriodSeconds": 1, "containers": [c], **spec}})


class KubeletCluster(Cluster):
    logs: str = ""

    def pod(self, name: str) -> dict[str, Any] | None:
        p = self.kubectl("get", "pod", name, "-o", "json", check=False)
        return json.loads(p.stdout) if p.returncode == 0 else None

    def wait_pod(self, name: str, pred: Any, what: str, timeout: float = 60) -> dict[str, Any]:
        return self.wait_for(lambda: (lambda p: p if p and pred(p) else None)(self.pod(name)), timeout, 0.2, what)

    def wait_running(self, name: str) -> dict[str, Any]:
        return self.wait_pod(name, lambda p: (p.get("status") or {}).get("phase") == "Running"
                             and (p["status"].get("containerStatuses") or [{}])[0].get("ready"), f"{name} running")

    def log_dirs(self, uid: str) -> list[str]:
        return [d for d in os.listdir(self.logs) if d.endswith("_" + uid)] if os.path.isdir(self.logs) else []

    def pod_dir(self, uid: str) -> str:
        return os.path.join(self.data_dir, "agent", "pods", uid)


def _down(data_dir: str, logs: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubeling.cli", "down", "--data-dir", data_dir, "--pod-log-dir",
                           logs, "-q"], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeletCluster]:
    base = str(tmp_path_factory.mktemp("kubelet-real"))
    data, logs = os.path.join(base, "data"), os.path.join(base, "logs")
    build.ensure_test_images(data, only=["busybox", "redis"])
    c = KubeletCluster(data, free_port(), node=True, extra_args=(
        "--kubelet-port", str(free_port()), "--pod-bridge", BRIDGE, "--cluster-cidr", f"10.254.{NET}.0/24",
        "--service-cidr", f"10.255.{NET}.0/24", "--pod-log-dir", logs, "--node-name", "kubelet-node",
        "--no-test-images", "--metric-resolution", "5s", *audit_args(base)))
    c.logs = logs
    try:
        c.start()
        c.wait_for(lambda: c.kubectl("get", "serviceaccount", "default", check=False).returncode == 0,
                   what="default service account")
        yield c
    finally:
        c.stop()
        r = _down(data, logs)
        assert r.returncode == 0, r.stdout + r.stderr
        assert not os.path.isdir(logs) or os.listdir(logs) == [], "kubeling down left pod log dirs"


def test_pod_log_dir_goes_with_the_pod(kc: KubeletCluster) -> None:
    kc.kubectl("apply", "-f", "-", input=_pod("logs", command="echo hello; sleep 3600"))
    pod = kc.wait_running("logs")
    uid = pod["metadata"]["uid"]
    assert kc.log_dirs(uid) == [f"default_logs_{uid}"]
    assert kc.kubectl("logs", "logs").stdout == "hello\n"
    kc.kubectl("delete", "pod", "logs", "--wait=true")
    assert kc.log_dirs(uid) == [] and not os.path.exists(kc.pod_dir(uid))


def test_invalid_image_name_is_never_pulled(kc: KubeletCluster) -> None:
    kc.kubectl("apply", "-f", "-", input=_pod("badname", image="NGINX:Bad Tag"))
    msg = ('Failed to apply default image tag "NGINX:Bad Tag": couldn\'t parse image name "NGINX:Bad Tag": '
           "invalid reference format: repository name (library/NGINX) must be lowercase")
    pod = kc.wait_pod("badname", lambda p: ((p.get("status") or {}).get("containerStatuses") or [{}])[0]
                      .get("state", {}).get("waiting", {}).get("reason") == "InvalidImageName", "InvalidImageName")
    assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"] == msg
    assert kc.kubectl("get", "pod", "badname", "--no-headers").stdout.split()[2] == "InvalidImageName"

    def events() -> Any:
        evs = kc.json("get", "events", "--field-selector", "involvedObject.name=badname")["items"]
        return evs if {"InspectFailed", "Failed"} <= {e["reason"] for e in evs} else None

    evs = kc.wait_for(events, what="InspectFailed and Failed events")
    by_reason = {e["reason"]: e for e in evs}
    assert (by_reason["InspectFailed"]["type"], by_reason["InspectFailed"]["message"]) == ("Warning", msg)
    assert by_reason["Failed"]["message"] == "Error: InvalidImageName"
    assert not {"Pulling", "Pulled", "BackOff"} & set(by_reason)
    kc.kubectl("delete", "pod", "badname", "--wait=true")


def _exec_tty(kc: KubeletCluster, *args: str) -> str:
    """`kubectl exec -it` with a real terminal on its stdin (kubectl drops -t otherwise)."""
    master, slave = pty.openpty()
    env = {**os.environ, "KUBECONFIG": kc.kubeconfig}
    proc = subprocess.Popen(["kubectl", f"--cache-dir={kc.cache_dir}", "exec", "-it", *args], stdin=slave,
                            stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the terminal closed
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        proc.wait(10)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out.decode(errors="replace").replace("\r", "")


def test_exec_tty_term_and_kubelet_managed_pod_files(kc: KubeletCluster) -> None:
    kc.kubectl("apply", "-f", "-", input=_pod("files", hostAliases=[{"ip": "10.9.9.9", "hostnames": ["alias.test"]}]))
    pod = kc.wait_running("files")
    uid, ip = pod["metadata"]["uid"], pod["status"]["podIP"]
    out = _exec_tty(kc, "files", "--", "sh", "-c", "echo term=$TERM; tty")
    assert "term=xterm" in out and "/dev/pts/" in out, out
    assert "term=\n" in kc.kubectl("exec", "files", "--", "sh", "-c", "echo term=$TERM").stdout + "\n"
    # a command runc cannot start: containerd's error on the error channel, which kubectl prints
    # and exits 1 (not runc's log line and "command terminated with exit code 255")
    r = kc.kubectl("exec", "files", "--", "nosuchcmd", check=False)
    assert r.returncode == 1 and r.stdout == "", r
    assert re.fullmatch(r'error: Internal error occurred: error executing command in container: failed to exec in '
                        r'container: failed to start exec "[0-9a-f]{64}": OCI runtime exec failed: exec failed: unable '
                        r'to start container process: exec: "nosuchcmd": executable file not found in \$PATH: '
                        r'unknown\n', r.stderr), r.stderr

    d = kc.pod_dir(uid)
    assert {"containers", "etc-hosts", "plugins", "volumes"} <= set(os.listdir(d))
    (token_vol,) = os.listdir(os.path.join(d, "volumes", "kubernetes.io~projected"))
    assert os.listdir(os.path.join(d, "plugins", "kubernetes.io~empty-dir", f"wrapped_{token_vol}")) == ["ready"]
    hosts = open(os.path.join(d, "etc-hosts")).read()
    assert hosts.startswith("# Kubernetes-managed hosts file.\n") and f"{ip}\tfiles\n" in hosts
    assert hosts.endswith("# Entries added by HostAliases.\n10.9.9.9\talias.test\n")
    assert kc.kubectl("exec", "files", "--", "cat", "/etc/hosts").stdout == hosts
    # the container's terminationMessagePath is a file under containers/<name>/
    (term,) = os.listdir(os.path.join(d, "containers", "c"))
    kc.kubectl("exec", "files", "--", "sh", "-c", "echo bye > /dev/termination-log")
    assert open(os.path.join(d, "containers", "c", term)).read() == "bye\n"


def test_log_file_is_component_tagged_and_written_once(kc: KubeletCluster) -> None:
    """stderr is redirected to DATA/kubeling.log by the harness (with -v): one copy of each line."""
    lines = open(kc.log_path).read().splitlines()
    registered = [line for line in lines if "[kubelet.node] node kubelet-node registered" in line]
    assert len(registered) == 1, registered
    assert any(" INFO [kubelet.runtime] runtime runc " in line for line in lines)


def test_redis_runs_like_the_official_image(kc: KubeletCluster) -> None:
    """The tutorial's redis (section 1): an emptyDir at /data/redis; the image's entrypoint gives
    /data to redis and drops to uid 999; killed, it restarts and the volume's file is still there."""
    kc.kubectl("apply", "-f", "-", input=_pod("redis", image="redis", command=None,
                                               mounts=[{"name": "redis-storage", "mountPath": "/data/redis"}],
                                               volumes=[{"name": "redis-storage", "emptyDir": {}}]))
    kc.wait_running("redis")

    def ping() -> bool:
        return kc.kubectl("exec", "redis", "--", "redis-cli", "ping", check=False).stdout.strip() == "PONG"

    kc.wait_for(ping, what="redis answers")
    out = kc.kubectl("exec", "redis", "--", "sh", "-c", "grep ^Uid: /proc/1/status; stat -c %U /data/redis; "
                     "echo tutorial > /data/redis/test-file").stdout.split()
    assert out == ["Uid:", "999", "999", "999", "999", "redis"], out
    kc.kubectl("exec", "redis", "--", "kill", "1")
    kc.wait_pod("redis", lambda p: p["status"]["containerStatuses"][0].get("restartCount") == 1
                and p["status"]["containerStatuses"][0].get("ready"), "redis restarted")
    kc.wait_for(ping, what="redis answers again")
    assert kc.kubectl("exec", "redis", "--", "cat", "/data/redis/test-file").stdout == "tutorial\n"
    kc.kubectl("delete", "pod", "redis", "--wait=true")


def test_a_vanished_bridge_is_logged(kc: KubeletCluster) -> None:
    """`kubeling up` says when its bridge disappears (a WARNING: on stderr by default)."""
    subprocess.run(["ip", "link", "del", BRIDGE], check=True)
    line = kc.wait_for(lambda: next((x for x in open(kc.log_path).read().splitlines()
                                     if " WARNING [kubelet.network" in x and f"pod network on {BRIDGE} repaired" in x),
                                    None), what="the repair's warning")
    assert "bridge" in line
    kc.wait_for(lambda: os.path.exists(f"/sys/class/net/{BRIDGE}"), what="bridge back")


def _kubelet_get(kc: KubeletCluster, path: str, token: str = "") -> tuple[int, str]:
    """GET on the node's kubelet port (from the Node's status), verifying its serving certificate."""
    import ssl
    import urllib.error
    import urllib.request

    status = json.loads(kc.kubectl("get", "node", "kubelet-node", "-o", "json").stdout)["status"]
    ip = next(a["address"] for a in status["addresses"] if a["type"] == "InternalIP")
    port = status["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    ctx = ssl.create_default_context(cafile=os.path.join(kc.data_dir, "server", "tls", "server-ca.crt"))
    req = urllib.request.Request(f"https://{ip}:{port}{path}", headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_kubelet_api_lets_in_only_the_authorized(kc: KubeletCluster) -> None:
    """Upstream's kubelet with --anonymous-auth=false and Webhook authn/authz: no credentials 401,
    the token a pod has mounted 403 (nodes/proxy, nodes/stats); `kubectl logs/exec` pass as the
    API server's certificate (kube-apiserver-kubelet-admin), `kubectl top` as metrics-server's token."""
    kc.kubectl("apply", "-f", "-", input=_pod("prober", command="echo from-prober; sleep 3600"))
    kc.wait_running("prober")
    token = kc.kubectl("exec", "prober", "--", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/token").stdout
    assert kc.kubectl("logs", "prober").stdout == "from-prober\n"
    assert _kubelet_get(kc, "/pods") == (401, "Unauthorized")
    assert _kubelet_get(kc, "/exec/default/prober/c?command=id&output=1", token) == (
        403, "Forbidden (user=system:serviceaccount:default:default, verb=get, resource=nodes, subresource=proxy)")
    assert _kubelet_get(kc, "/stats/summary", token) == (
        403, "Forbidden (user=system:serviceaccount:default:default, verb=get, resource=nodes, subresource=stats)")
    top = kc.wait_for(lambda: (lambda p: p.stdout if p.returncode == 0 and "prober" in p.stdout else None)(
        kc.kubectl("top", "pod", "prober", "--no-headers", check=False)), 120, 1, "kubectl top pod prober")
    assert top.split()[0] == "prober", top
    kc.kubectl("delete", "pod", "prober", "--wait=true")  # gone before the teardown stops the node


def test_node_components_run_as_themselves(kc: KubeletCluster) -> None:
    """Last in the module: everything the node did so far was done as kubelet, kube-proxy or DNS,
    never refused; the DNS mirror pod is the kubelet's own (NodeRestriction lets a node create a
    mirror pod owned by its Node); the kubeconfigs in DATA/agent authenticate each over HTTPS."""
    pod = kc.wait_for(lambda: (lambda p: json.loads(p.stdout) if p.returncode == 0 else None)(kc.kubectl(
        "-n", "kube-system", "get", "pod", "kube-dns-kubelet-node", "-o", "json", check=False)), 60, 0.3,
        "the DNS mirror pod")
    assert [(o["kind"], o["name"]) for o in pod["metadata"]["ownerReferences"]] == [("Node", "kubelet-node")]
    kc.wait_for(lambda: kc.kubectl("-n", "kube-system", "get", "endpoints", "kube-dns", check=False).returncode == 0,
                60, 0.3, "the kube-dns endpoints the DNS publishes")
    agent = os.path.join(kc.data_dir, "agent")
    for name, user in (("kubelet", "system:node:kubelet-node"), ("kubeproxy", "system:kube-proxy"),
                       ("coredns", "system:serviceaccount:kube-system:coredns")):
        env = {"KUBECONFIG": os.path.join(agent, f"{name}.kubeconfig")}
        assert json.loads(kc.kubectl("auth", "whoami", "-o", "json", env=env).stdout)["status"]["userInfo"][
            "username"] == user
        p = kc.kubectl("-n", "kube-system", "get", "secret", "anything", env=env, check=False)
        assert f'User "{user}" cannot get resource "secrets"' in p.stderr, p.stderr
    events = in_process_events(kc.data_dir)
    problems = identity_problems(events)
    assert problems == [], "\n".join(problems)
    assert {"system:node:kubelet-node", "system:kube-proxy", "system:serviceaccount:kube-system:coredns"} <= \
        users(events)
    assert refusals_in_log(kc.log_path) == []
