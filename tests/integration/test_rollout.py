"""The built-in Rollout kind on one simulated node, through the real kubectl: canary steps with
pause/promote/promoteFull, weights on the stable Service, abort/retry/undo, blue-green with
autoPromotionSeconds and scaleDownDelaySeconds, `kubectl get ro` columns, `kubectl scale ro`.
Control uses the same writes as Argo's kubectl plugin (status.pauseConditions, status.abort,
status.promoteFull through the status subresource)."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
import yaml

from .conftest import Cluster, free_port

HASH = "rollouts-pod-template-hash"
WEIGHT = "rollouts.kubeling.io/canary-weight"
CANARY_SVC = "rollouts.kubeling.io/canary-service"


@pytest.fixture(scope="module")
def c(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cl = Cluster(str(tmp_path_factory.mktemp("kubeling-rollout")), free_port(),
                 extra_args=("--sim-nodes", "1", "--node-status-update-frequency", "1"))
    cl.start()
    yield cl
    cl.stop()


@pytest.fixture
def ns(c: Cluster, request: pytest.FixtureRequest) -> str:
    name = "ro-" + request.node.name.lower().replace("_", "-")[5:30].strip("-")
    c.kubectl("create", "namespace", name)
    return name


def rollout(name: str, strategy: dict[str, Any], replicas: int = 4, image: str = "nginx:1") -> dict[str, Any]:
    return {"apiVersion": "rollouts.kubeling.io/v1alpha1", "kind": "Rollout", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}},
                     "strategy": strategy}}


def service(name: str, app: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": app}, "ports": [{"port": 80}]}}


def apply(c: Cluster, ns: str, *objs: dict[str, Any]) -> None:
    c.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump_all(objs))


def status(c: Cluster, ns: str, name: str) -> dict[str, Any]:
    return c.json("get", "ro", name, "-n", ns).get("status") or {}


def wait_status(c: Cluster, ns: str, name: str, what: str, **want: Any) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        st = status(c, ns, name)
        return st if all(st.get(k) == v for k, v in want.items()) else None
    return c.wait_for(check, timeout=60, interval=0.2, what=f"{what}: {want}")


def rs_sizes(c: Cluster, ns: str) -> dict[str, tuple[int, int]]:
    """pod-template hash -> (spec.replicas, status.availableReplicas)."""
    return {rs["metadata"]["labels"][HASH]: (rs["spec"]["replicas"], rs.get("status", {}).get("availableReplicas", 0))
            for rs in c.json("get", "rs", "-n", ns)["items"]}


def set_image(c: Cluster, ns: str, name: str, image: str) -> None:
    c.kubectl("patch", "ro", name, "-n", ns, "--type", "merge", "-p",
              json.dumps({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}))


def patch_status(c: Cluster, ns: str, name: str, st: dict[str, Any]) -> None:
    c.kubectl("patch", "ro", name, "-n", ns, "--subresource", "status", "--type", "merge", "-p",
              json.dumps({"status": st}))


def promote(c: Cluster, ns: str, name: str) -> None:
    """What `kubectl argo rollouts promote` writes."""
    patch_status(c, ns, name, {"pauseConditions": None})
    c.kubectl("patch", "ro", name, "-n", ns, "--type", "merge", "-p", '{"spec":{"paused":false}}')


def selector_hash(c: Cluster, ns: str, svc: str) -> str | None:
    return c.json("get", "svc", svc, "-n", ns)["spec"]["selector"].get(HASH)


def svc_annotations(c: Cluster, ns: str, svc: str) -> dict[str, str]:
    ann = c.json("get", "svc", svc, "-n", ns)["metadata"].get("annotations") or {}
    return {k: v for k, v in ann.items() if k.startswith("rollouts.kubeling.io/")}


def reasons(c: Cluster, ns: str) -> list[str]:
    return [e["reason"] for e in c.json("get", "events", "-n", ns, "--field-selector",
                                        "involvedObject.kind=Rollout")["items"]]


def test_canary_steps_pause_promote_and_full_promotion(c: Cluster, ns: str) -> None:
    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}, {"setWeight": 80},
             {"pause": {"duration": "1h"}}]
    apply(c, ns, rollout("web", {"canary": {"steps": steps}}, replicas=5))
    v1 = wait_status(c, ns, "web", "first version healthy", phase="Healthy", availableReplicas=5)["stableRS"]
    assert v1 == v1 and v1 == status(c, ns, "web")["currentPodHash"]
    out = c.kubectl("get", "ro", "-n", ns).stdout.splitlines()
    assert out[0].split() == ["NAME", "DESIRED", "CURRENT", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert out[1].split()[:5] == ["web", "5", "5", "5", "5"]

    set_image(c, ns, "web", "nginx:2")
    st = wait_status(c, ns, "web", "paused at step 1", phase="Paused", currentStepIndex=1, availableReplicas=5)
    v2 = st["currentPodHash"]
    assert st["message"] == "CanaryPauseStep" and st["stableRS"] == v1 and st["controllerPause"] is True
    assert st["canary"]["weights"]["canary"] == {"weight": 20, "podTemplateHash": v2}
    c.wait_for(lambda: rs_sizes(c, ns) == {v1: (4, 4), v2: (1, 1)}, timeout=40, what="20 % of 5 replicas: 1 canary, 4 stable")

    c.kubectl("patch", "ro", "web", "-n", ns, "--type", "merge", "-p", '{"spec":{"paused":true}}')
    patch_status(c, ns, "web", {"pauseConditions": None})  # half a promote: still paused by the user
    st = wait_status(c, ns, "web", "held by spec.paused", phase="Paused", message="manually paused")
    assert st["currentStepIndex"] == 1
    promote(c, ns, "web")
    wait_status(c, ns, "web", "paused at step 3", phase="Paused", currentStepIndex=3)
    c.wait_for(lambda: rs_sizes(c, ns) == {v1: (3, 3), v2: (3, 3)}, timeout=40, what="50 %: both rounded up")

    patch_status(c, ns, "web", {"promoteFull": True})  # skips the remaining steps and the 1 h pause
    st = wait_status(c, ns, "web", "fully promoted", phase="Healthy", stableRS=v2, currentStepIndex=6)
    assert "promoteFull" not in st and "pauseConditions" not in st
    c.wait_for(lambda: rs_sizes(c, ns) == {v1: (0, 0), v2: (5, 5)}, timeout=40, what="the old version scaled down")
    rss = {rs["metadata"]["labels"][HASH]: rs for rs in c.json("get", "rs", "-n", ns)["items"]}
    assert rss[v2]["metadata"]["annotations"]["rollout.argoproj.io/revision"] == "2"
    assert rss[v2]["metadata"]["ownerReferences"][0]["kind"] == "Rollout"
    got = reasons(c, ns)
    for r in ("RolloutUpdated", "NewReplicaSetCreated", "ScalingReplicaSet", "RolloutStepCompleted",
              "RolloutPaused", "RolloutCompleted"):
        assert r in got
    described = c.kubectl("describe", "ro", "web", "-n", ns).stdout
    assert "Rollout step 1/6 completed (setWeight: 20)" in described


def test_canary_weights_on_the_stable_service_abort_retry_and_undo(c: Cluster, ns: str) -> None:
    strategy = {"canary": {"canaryService": "web-canary", "stableService": "web-stable", "scaleDownDelaySeconds": 1,
                           "steps": [{"setWeight": 5}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]}}
    apply(c, ns, service("web-stable", "web"), service("web-canary", "web"), rollout("web", strategy))
    v1 = wait_status(c, ns, "web", "first version healthy", phase="Healthy", availableReplicas=4)["stableRS"]
    c.wait_for(lambda: selector_hash(c, ns, "web-stable") == v1 == selector_hash(c, ns, "web-canary"),
               timeout=40, what="both services select the stable version")
    assert svc_annotations(c, ns, "web-stable") == {}

    set_image(c, ns, "web", "nginx:2")
    st = wait_status(c, ns, "web", "paused at 5 %", phase="Paused", currentStepIndex=1)
    v2 = st["currentPodHash"]
    # with services the stable side stays whole and one canary pod carries 5 % through kube-proxy
    c.wait_for(lambda: rs_sizes(c, ns) == {v1: (4, 4), v2: (1, 1)}, timeout=40, what="4 stable + 1 canary")
    assert svc_annotations(c, ns, "web-stable") == {CANARY_SVC: "web-canary", WEIGHT: "5"}
    assert selector_hash(c, ns, "web-canary") == v2 and selector_hash(c, ns, "web-stable") == v1
    assert st["canary"]["weights"]["stable"] == {"weight": 95, "podTemplateHash": v1, "serviceName": "web-stable"}

    patch_status(c, ns, "web", {"abort": True})
    st = wait_status(c, ns, "web", "aborted", phase="Degraded")
    assert st["message"] == "RolloutAborted: Rollout aborted update to revision 2" and st["abortedAt"]
    c.wait_for(lambda: rs_sizes(c, ns) == {v1: (4, 4), v2: (0, 0)}, timeout=40, what="the canary scaled to zero")
    c.wait_for(lambda: svc_annotations(c, ns, "web-stable") == {} and selector_hash(c, ns, "web-canary") == v1,
               timeout=40, what="all traffic back on stable")
    assert "RolloutAborted" in reasons(c, ns)

    patch_status(c, ns, "web", {"abort": False})  # retry
    st = wait_status(c, ns, "web", "retried from step 0", phase="Paused", currentStepIndex=1)
    assert "abortedAt" not in st
    c.wait_for(lambda: svc_annotations(c, ns, "web-stable").get(WEIGHT) == "5", timeout=40, what="the weight again")
    assert "RolloutRetry" in reasons(c, ns)

    promote(c, ns, "web")
    wait_status(c, ns, "web", "paused at 50 %", phase="Paused", currentStepIndex=3)
    c.wait_for(lambda: svc_annotations(c, ns, "web-stable").get(WEIGHT) == "50", timeout=40, what="weight 50")
    c.wait_for(lambda: rs_sizes(c, ns) == {v1: (4, 4), v2: (2, 2)}, timeout=40, what="2 canary pods for 50 % of 4")
    promote(c, ns, "web")
    wait_status(c, ns, "web", "promoted", phase="Healthy", stableRS=v2)
    c.wait_for(lambda: selector_hash(c, ns, "web-stable") == v2 and svc_annotations(c, ns, "web-stable") == {},
               timeout=40, what="the stable service switched, its weight removed")
    c.wait_for(lambda: rs_sizes(c, ns) == {v1: (0, 0), v2: (4, 4)}, timeout=40, what="old pods gone after the delay")

    # undo: the previous template again (what `kubectl argo rollouts undo` writes) is a new revision
    set_image(c, ns, "web", "nginx:1")
    st = wait_status(c, ns, "web", "undo to v1 paused at 5 %", phase="Paused", currentPodHash=v1, currentStepIndex=1)
    rss = {rs["metadata"]["labels"][HASH]: rs for rs in c.json("get", "rs", "-n", ns)["items"]}
    assert len(rss) == 2 and rss[v1]["metadata"]["annotations"]["rollout.argoproj.io/revision"] == "3"
    # ...and a template back to the stable one while a canary is in progress ends it at once
    set_image(c, ns, "web", "nginx:2")
    wait_status(c, ns, "web", "back on stable", phase="Healthy", currentPodHash=v2, stableRS=v2)
    c.wait_for(lambda: rs_sizes(c, ns) == {v1: (0, 0), v2: (4, 4)}, timeout=40, what="canary gone")


def test_blue_green_preview_auto_promotion_and_scale_down_delay(c: Cluster, ns: str) -> None:
    strategy = {"blueGreen": {"activeService": "bg-active", "previewService": "bg-preview",
                              "autoPromotionEnabled": False, "scaleDownDelaySeconds": 2}}
    apply(c, ns, service("bg-active", "bg"), service("bg-preview", "bg"), rollout("bg", strategy, replicas=2))
    v1 = wait_status(c, ns, "bg", "first version healthy", phase="Healthy", availableReplicas=2)["stableRS"]
    assert status(c, ns, "bg")["blueGreen"] == {"activeSelector": v1, "previewSelector": v1}

    set_image(c, ns, "bg", "nginx:2")
    st = wait_status(c, ns, "bg", "waiting for promotion", phase="Paused", message="BlueGreenPause")
    v2 = st["currentPodHash"]
    assert st["blueGreen"] == {"activeSelector": v1, "previewSelector": v2}
    assert (selector_hash(c, ns, "bg-active"), selector_hash(c, ns, "bg-preview")) == (v1, v2)
    assert rs_sizes(c, ns) == {v1: (2, 2), v2: (2, 2)}  # the new version at full size behind preview

    promote(c, ns, "bg")
    st = wait_status(c, ns, "bg", "promoted", phase="Healthy", stableRS=v2)
    assert selector_hash(c, ns, "bg-active") == v2
    rss = {rs["metadata"]["labels"][HASH]: rs for rs in c.json("get", "rs", "-n", ns)["items"]}
    assert "rollouts.kubeling.io/scale-down-deadline" in rss[v1]["metadata"]["annotations"]
    c.wait_for(lambda: rs_sizes(c, ns) == {v1: (0, 0), v2: (2, 2)}, timeout=40, what="old version down after the delay")

    # autoPromotionSeconds: it pauses, then promotes by itself
    c.kubectl("patch", "ro", "bg", "-n", ns, "--type", "merge", "-p", json.dumps(
        {"spec": {"strategy": {"blueGreen": {"autoPromotionEnabled": True, "autoPromotionSeconds": 2}},
                  "template": {"spec": {"containers": [{"name": "web", "image": "nginx:3"}]}}}}))
    st = wait_status(c, ns, "bg", "paused before auto promotion", phase="Paused", message="BlueGreenPause")
    v3 = st["currentPodHash"]
    wait_status(c, ns, "bg", "auto-promoted", phase="Healthy", stableRS=v3)
    assert selector_hash(c, ns, "bg-active") == v3

    # abort before promotion: the new version goes, preview returns to active
    c.kubectl("patch", "ro", "bg", "-n", ns, "--type", "merge", "-p", json.dumps(
        {"spec": {"strategy": {"blueGreen": {"autoPromotionEnabled": False, "autoPromotionSeconds": None}},
                  "template": {"spec": {"containers": [{"name": "web", "image": "nginx:4"}]}}}}))
    v4 = wait_status(c, ns, "bg", "waiting", phase="Paused", message="BlueGreenPause")["currentPodHash"]
    patch_status(c, ns, "bg", {"abort": True})
    wait_status(c, ns, "bg", "aborted", phase="Degraded")
    c.wait_for(lambda: selector_hash(c, ns, "bg-preview") == v3 and rs_sizes(c, ns)[v4] == (0, 0),
               timeout=40, what="preview back on the active version, the new one scaled down")


def test_scale_explain_and_validation(c: Cluster, ns: str) -> None:
    apply(c, ns, rollout("s", {"canary": {}}, replicas=1))
    wait_status(c, ns, "s", "healthy", phase="Healthy", availableReplicas=1)
    c.kubectl("scale", "ro", "s", "-n", ns, "--replicas", "3")
    st = wait_status(c, ns, "s", "scaled", phase="Healthy", availableReplicas=3)
    assert st["selector"] == "app=s"
    scale = json.loads(c.kubectl("get", "--raw", f"/apis/rollouts.kubeling.io/v1alpha1/namespaces/{ns}/rollouts/s/scale"
                                 ).stdout)
    assert (scale["spec"]["replicas"], scale["status"]["selector"]) == (3, "app=s")
    assert "setWeight" in c.kubectl("explain", "rollout.spec.strategy.canary.steps").stdout
    defaults = c.json("get", "ro", "s", "-n", ns)["spec"]
    assert defaults["revisionHistoryLimit"] == 10

    bad = rollout("bad", {"canary": {"steps": [{"setWeight": 150}]}})
    p = c.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump(bad), check=False)
    assert p.returncode != 0 and "spec.strategy.canary.steps[0].setWeight" in p.stderr
    apply(c, ns, {**rollout("sel", {"canary": {}}), "spec": {**rollout("sel", {"canary": {}})["spec"],
                                                               "selector": {"matchLabels": {}}}})
    st = wait_status(c, ns, "sel", "invalid", phase="Degraded")
    assert st["message"] == "InvalidSpec: This rollout is selecting all pods. A non-empty selector is required."
    # the template is validated as a Deployment's, when its ReplicaSet is written
    no_image = rollout("tpl", {"canary": {}})
    no_image["spec"]["template"]["spec"]["containers"] = [{"name": "web"}]
    apply(c, ns, no_image)
    st = wait_status(c, ns, "tpl", "invalid template", phase="Degraded")
    assert st["message"].startswith('ReplicaSetCreateError: Failed to create new replica set "tpl-')
    assert "spec.template.spec.containers[0].image: Required value" in st["message"]


def test_a_missing_service_degrades_until_it_exists(c: Cluster, ns: str) -> None:
    apply(c, ns, rollout("late", {"blueGreen": {"activeService": "late-active"}}, replicas=1))
    st = wait_status(c, ns, "late", "degraded", phase="Degraded")
    assert st["message"] == 'ServiceNotFound: service "late-active" not found'
    apply(c, ns, service("late-active", "late"))  # its creation wakes the rollout up
    v1 = wait_status(c, ns, "late", "healthy", phase="Healthy", availableReplicas=1)["stableRS"]
    assert selector_hash(c, ns, "late-active") == v1
