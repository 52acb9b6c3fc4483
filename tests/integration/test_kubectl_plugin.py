"""`kubectl kubeling rollout ...` through the real kubectl (which finds `kubectl-kubeling` on
PATH) against a real `kubeling up`: the view of `get` and `get --watch`, the writes of promote /
abort / retry / undo / set image, and the one-line errors.

Rollouts are written here directly (status included) rather than driven by the Rollout
controller: each write of the plugin is checked in the watch stream from the version before it,
where it shows whatever a controller does afterwards. Without kubeling's Rollout CRD installed
at start, the module installs a minimal one (and removes it)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Iterator

import pytest

from tests.integration.conftest import Cluster

CRD = "rollouts.rollouts.kubeling.io"
MINIMAL_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": CRD},
    "spec": {"group": "rollouts.kubeling.io", "scope": "Namespaced",
             "names": {"plural": "rollouts", "singular": "rollout", "kind": "Rollout", "shortNames": ["ro"]},
             "versions": [{"name": "v1alpha1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                               "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]}}
STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"setWeight": 100}]
HASH = "rollouts-pod-template-hash"


def template(image: str, h: str = "") -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web", **({HASH: h} if h else {})}},
            "spec": {"containers": [{"name": "web", "image": image}]}}


@pytest.fixture(scope="module")
def own_crd(cluster: Cluster) -> Iterator[bool]:
    """Whether this module installed the CRD (else it is kubeling's own, with its controller)."""
    mine = cluster.kubectl("get", "crd", CRD, check=False).returncode != 0
    if mine:
        cluster.kubectl("create", "-f", "-", input=json.dumps(MINIMAL_CRD))
        wait(lambda: cluster.kubectl("get", "rollouts", "-A", check=False).returncode == 0, "rollouts served")
    yield mine
    if mine:
        cluster.kubectl("delete", "crd", CRD, "--wait=false")


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Where `kubectl-kubeling` is: the virtualenv's bin (pyproject's entry point, once installed),
    else a stand-in running the same `main` with this interpreter."""
    venv_bin = os.path.dirname(sys.executable)
    if os.path.exists(os.path.join(venv_bin, "kubectl-kubeling")):
        return venv_bin
    d = tmp_path_factory.mktemp("plugin-bin")
    shim = d / "kubectl-kubeling"
    shim.write_text(f"#!{sys.executable}\nimport sys\nfrom kubeling.plugin.cli import main\nsys.exit(main())\n")
    shim.chmod(0o755)
    return str(d)


def wait(fn: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise TimeoutError(what)


class Plugin:
    def __init__(self, cluster: Cluster, plugin_dir: str, ns: str) -> None:
        self.cluster, self.ns = cluster, ns
        self.env = {**os.environ, "KUBECONFIG": cluster.kubeconfig,
                    "PATH": f"{plugin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(["kubectl", "kubeling", "rollout", *args, "-n", self.ns], capture_output=True, text=True,
                           env=self.env, timeout=60)
        if ok:
            assert p.returncode == 0, p.stderr
        return p

    def rollout(self) -> dict[str, Any]:
        return self.cluster.json("get", "rollout", "web", "-n", self.ns)

    def written(self, rv: str, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first version of the Rollout after `rv` that `match`es (from the watch stream)."""
        s = self.cluster.session()
        url = f"{self.cluster.url}/apis/rollouts.kubeling.io/v1alpha1/namespaces/{self.ns}/rollouts"
        with s.get(url, params={"watch": "1", "resourceVersion": rv, "fieldSelector": "metadata.name=web",
                                "timeoutSeconds": "20"}, stream=True, timeout=30) as r:
            for line in r.iter_lines():
                obj = json.loads(line)["object"]
                if match(obj):
                    return obj
        raise AssertionError(f"no write after {rv} matched")


@pytest.fixture
def plugin(cluster: Cluster, plugin_dir: str, own_crd: bool, ns: str) -> Plugin:
    """A canary Rollout `web` paused at step 2 (20 %) with its two ReplicaSets, in `ns`."""
    ro = {"apiVersion": "rollouts.kubeling.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "web"},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template("nginx:1.26"),
                   "strategy": {"canary": {"canaryService": "web-canary", "stableService": "web", "steps": STEPS}}}}
    created = json.loads(cluster.kubectl("create", "-n", ns, "-f", "-", "-o", "json", input=json.dumps(ro)).stdout)
    owner = {"apiVersion": "rollouts.kubeling.io/v1alpha1", "kind": "Rollout", "name": "web",
             "uid": created["metadata"]["uid"], "controller": True}
    for rev, image, h, n in ((1, "nginx:1.25", "aaa111", 1), (2, "nginx:1.26", "bbb222", 0)):
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": f"web-{h}", "labels": {"app": "web", HASH: h}, "ownerReferences": [owner],
                           "annotations": {"rollout.argoproj.io/revision": str(rev)}},
              "spec": {"replicas": n, "selector": {"matchLabels": {"app": "web", HASH: h}},
                       "template": template(image, h)}}
        cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(rs))
    status = {"phase": "Paused", "message": "CanaryPauseStep", "currentStepIndex": 1, "currentPodHash": "bbb222",
              "stableRS": "aaa111", "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-01-01T00:00:00Z"}],
              "canary": {"weights": {"canary": {"weight": 20, "podTemplateHash": "bbb222"},
                                     "stable": {"weight": 80, "podTemplateHash": "aaa111"}}}}
    cluster.kubectl("patch", "rollout", "web", "-n", ns, "--subresource=status", "--type=merge",
                    "-p", json.dumps({"status": status}))
    return Plugin(cluster, plugin_dir, ns)


def test_get_shows_steps_weights_and_replicasets(plugin: Plugin, own_crd: bool) -> None:
    out = wait(lambda: (lambda p: p.stdout if "Pending" in p.stdout else None)(plugin("get", "web")),
               "the stable pod listed")
    lines = out.splitlines()
    assert lines[:2] == ["Name:            web", f"Namespace:       {plugin.ns}"]
    assert "Strategy:        Canary" in lines
    steps = lines[lines.index("Steps:") + 1:lines.index("Steps:") + 5]
    assert [s.split(". ", 1)[1] for s in steps] == ["setWeight: 20", "pause (until promoted)", "setWeight: 50",
                                                   "setWeight: 100"]
    rs_lines = [ln.split() for ln in lines[lines.index("ReplicaSets:") + 1:]]
    assert [r[1:3] for r in rs_lines if r[1] in ("web-aaa111", "web-bbb222")] == \
        [["web-bbb222", "revision:2"], ["web-aaa111", "revision:1"]]  # newest first
    pods = [r for r in rs_lines if r[2:3] == ["Pending"]]
    assert pods and all(r[0] == "◌" and r[3] == "ready:0/1" for r in pods), pods  # no node: never ready
    if own_crd:  # no controller rewrites the status written above
        assert "Status:          ॥ Paused" in lines and "  Step:          1/4" in lines
        assert [s[2] for s in steps] == ["✔", "॥", "·", "·"]
        assert "  Canary:         20 %  revision 2 (bbb222)" in lines
    assert "Traceback" not in out


def test_promote_abort_retry_write_the_status(plugin: Plugin) -> None:
    rv = plugin.rollout()["metadata"]["resourceVersion"]
    assert plugin("promote", "web").stdout == "rollout 'web' promoted\n"
    plugin.written(rv, lambda o: not (o.get("status") or {}).get("pauseConditions"))
    rv = plugin.rollout()["metadata"]["resourceVersion"]
    assert plugin("promote", "rollout/web", "--full").stdout == "rollout 'web' fully promoted\n"
    plugin.written(rv, lambda o: (o.get("status") or {}).get("promoteFull") is True)
    rv = plugin.rollout()["metadata"]["resourceVersion"]
    assert plugin("abort", "web").stdout == "rollout 'web' aborted\n"
    plugin.written(rv, lambda o: (o.get("status") or {}).get("abort") is True)
    rv = plugin.rollout()["metadata"]["resourceVersion"]
    assert plugin("retry", "web").stdout == "rollout 'web' retried\n"
    plugin.written(rv, lambda o: (o.get("status") or {}).get("abort") is False)
    assert plugin.rollout()["spec"]["strategy"]["canary"]["steps"] == STEPS  # the spec untouched


def test_set_image_and_undo_rewrite_the_template(plugin: Plugin) -> None:
    assert plugin("set", "image", "web", "web=nginx:1.27").stdout == 'rollout "web" image updated\n'
    assert plugin.rollout()["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert plugin("undo", "web", "--to-revision", "1").stdout == "rollout 'web' undo\n"
    t = plugin.rollout()["spec"]["template"]
    assert t["spec"]["containers"][0]["image"] == "nginx:1.25" and HASH not in t["metadata"]["labels"]
    assert plugin("undo", "web", "--to-revision", "1").stdout.startswith("skipped rollback")


def test_errors_are_one_line_and_exit_1(plugin: Plugin) -> None:
    for args, want in ((("get", "nope"), 'Error from server (NotFound): rollouts.rollouts.kubeling.io "nope" not found'),
                       (("set", "image", "web", "db=postgres"), 'error: unable to find container named "db"'),
                       (("promote", "deployment/web"), "error: deployment/web is not a Rollout"),
                       (("undo", "web", "--to-revision", "9"), "error: unable to find specified revision 9 in history")):
        p = plugin(*args, ok=False)
        assert p.returncode == 1 and p.stderr.splitlines() == [want] and p.stdout == "", (args, p.stderr)


def test_get_watch_redraws_when_the_rollout_changes(plugin: Plugin) -> None:
    proc = subprocess.Popen(["kubectl", "kubeling", "rollout", "get", "web", "--watch", "-n", plugin.ns],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=plugin.env)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stdout], daemon=True).start()  # type: ignore[union-attr]

    def until(text: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if text in lines.get(timeout=1):
                    return
            except queue.Empty:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        raise TimeoutError(text)
    try:
        until("  Desired:       2")
        plugin.cluster.kubectl("patch", "rollout", "web", "-n", plugin.ns, "--type=merge", "-p",
                               '{"spec": {"replicas": 7}}')
        until("  Desired:       7")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    assert proc.returncode == 0 and "Traceback" not in (proc.stderr.read() if proc.stderr else "")
