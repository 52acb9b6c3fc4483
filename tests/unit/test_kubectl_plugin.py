"""`kubectl kubeling`'s pure parts: what each rollout command writes (Argo's plugin semantics),
the status view, and kubectl's kubeconfig rules (KUBECONFIG list, --context, namespace)."""

from __future__ import annotations

import copy
import os
import tomllib
from typing import Any

import pytest
import yaml

from kubeling.plugin import rollout as ro_
from kubeling.plugin.cli import parser
from kubeling.plugin.kubeconfig import resolve
from kubeling.plugin.view import describe_step, render, set_weight

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": 30}},
         {"analysis": {"httpGet": {"port": 80, "path": "/healthz"}}}, {"setWeight": 100}]


def template(image: str = "nginx:1.25", h: str = "") -> dict[str, Any]:
    labels = {"app": "web", **({ro_.HASH_LABEL: h} if h else {})}
    return {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": image}],
                                                     "initContainers": [{"name": "init", "image": "busybox"}]}}


def rollout(**status: Any) -> dict[str, Any]:
    return {"apiVersion": "rollouts.kubeling.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
            "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "web"}}, "template": template("nginx:1.26"),
                     "strategy": {"canary": {"steps": STEPS}}},
            "status": status}


def rs(rev: int, image: str, h: str, replicas: int = 0, ready: int = 0, owner: str = "u-1") -> dict[str, Any]:
    return {"metadata": {"name": f"web-{h}", "uid": f"rs-{h}", "labels": {"app": "web", ro_.HASH_LABEL: h},
                         "annotations": {ro_.REVISION: str(rev)},
                         "ownerReferences": [{"kind": "Rollout", "name": "web", "uid": owner, "controller": True}]},
            "spec": {"replicas": replicas, "template": template(image, h)},
            "status": {"replicas": replicas, "readyReplicas": ready}}


# ---- what the commands write ----------------------------------------------------------------------

def test_promote_clears_the_pause_and_unpauses_the_spec() -> None:
    paused = rollout(currentStepIndex=1, pauseConditions=[{"reason": "CanaryPauseStep"}])
    assert ro_.promote(paused) == (None, {"status": {"pauseConditions": None}})
    paused["spec"]["paused"] = True
    assert ro_.promote(paused)[0] == {"spec": {"paused": False}}


def test_promote_without_a_pause_moves_a_canary_to_its_next_step() -> None:
    analysing = rollout(currentStepIndex=4)
    assert ro_.promote(analysing) == (None, {"status": {"pauseConditions": None, "currentStepIndex": 5}})
    assert ro_.promote(rollout(currentStepIndex=6))[1] == {"status": {"pauseConditions": None, "currentStepIndex": 6}}


def test_promote_full_only_while_a_new_version_is_in_progress() -> None:
    assert ro_.promote(rollout(currentPodHash="b", stableRS="a"), full=True) == (None, {"status": {"promoteFull": True}})
    assert ro_.promote(rollout(currentPodHash="a", stableRS="a"), full=True) == (None, None)


def test_undo_restores_the_previous_revision_without_its_hash_label() -> None:
    ro = rollout()
    history = [rs(1, "nginx:1.24", "aaa"), rs(3, "nginx:1.26", "ccc"), rs(2, "nginx:1.25", "bbb"),
               rs(9, "nginx:9", "zzz", owner="someone-else")]
    patch = ro_.undo(ro, history)
    assert patch == [{"op": "replace", "path": "/spec/template", "value": template("nginx:1.25")}]
    assert ro_.undo(ro, history, to_revision=1)[0]["value"]["spec"]["containers"][0]["image"] == "nginx:1.24"
    assert ro_.undo(ro, history, to_revision=3) is None  # already that template (defaults aside)
    with pytest.raises(ro_.PluginError, match="unable to find specified revision 7 in history"):
        ro_.undo(ro, history, to_revision=7)
    with pytest.raises(ro_.PluginError, match='no revision found for rollout "web"'):
        ro_.undo(ro, history[1:2])


def test_undo_ignores_fields_the_server_defaulted() -> None:
    defaulted = rs(2, "nginx:1.26", "bbb")
    defaulted["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    assert ro_.undo(rollout(), [rs(1, "nginx:1.25", "aaa"), defaulted], to_revision=2) is None


def test_set_image_is_a_guarded_json_patch() -> None:
    ro = rollout()
    assert ro_.set_image(ro, "web", "nginx:1.27") == [
        {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "web"},
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:1.27"}]
    assert len(ro_.set_image(ro, "*", "x")) == 4  # the init container too
    with pytest.raises(ro_.PluginError, match='unable to find container named "db"'):
        ro_.set_image(ro, "db", "postgres")


def test_type_slash_name() -> None:
    assert ro_.rollout_name("rollout/web") == ro_.rollout_name("ro/web") == ro_.rollout_name("web") == "web"
    with pytest.raises(ro_.PluginError, match="deployment/web is not a Rollout"):
        ro_.rollout_name("deployment/web")


# ---- the view ------------------------------------------------------------------------------------

def test_view_of_a_paused_canary() -> None:
    ro = rollout(phase="Paused", message="CanaryPauseStep", currentStepIndex=1, currentPodHash="bbb", stableRS="aaa",
                 pauseConditions=[{"reason": "CanaryPauseStep"}], replicas=5, updatedReplicas=1, readyReplicas=5,
                 availableReplicas=5,
                 canary={"weights": {"canary": {"weight": 20, "podTemplateHash": "bbb", "serviceName": "web-canary"},
                                     "stable": {"weight": 80, "podTemplateHash": "aaa", "serviceName": "web"}}})
    pod = {"metadata": {"name": "web-bbb-x1", "ownerReferences": [{"uid": "rs-bbb", "controller": True}]},
           "spec": {"containers": [{"name": "web"}]},
           "status": {"phase": "Running", "containerStatuses": [{"ready": True, "restartCount": 2}]}}
    text = render(ro, [rs(1, "nginx:1.25", "aaa", 4, 4), rs(2, "nginx:1.26", "bbb", 1, 1)], [pod])
    lines = text.splitlines()
    assert lines[:5] == ["Name:            web", "Namespace:       shop", "Status:          ॥ Paused",
                         "Message:         CanaryPauseStep", "Strategy:        Canary"]
    assert "  Step:          1/6" in lines and "  SetWeight:     20" in lines and "  ActualWeight:  20" in lines
    assert "Images:          nginx:1.26 (canary)" in lines and "                 nginx:1.25 (stable)" in lines
    assert "  Stable:         80 %  revision 1 (aaa, service web)" in lines
    assert "  Canary:         20 %  revision 2 (bbb, service web-canary)" in lines
    steps = lines[lines.index("Steps:") + 1:lines.index("Steps:") + 7]
    assert steps == ["  ✔ 1. setWeight: 20", "  ॥ 2. pause (until promoted)", "  · 3. setWeight: 50",
                     "  · 4. pause 30s", "  · 5. analysis: GET :80/healthz", "  · 6. setWeight: 100"]
    rs_lines = lines[lines.index("ReplicaSets:") + 1:]
    assert rs_lines[0].split() == ["✔", "web-bbb", "revision:2", "canary", "ready:1/1"]  # newest first
    assert rs_lines[1].split() == ["✔", "web-bbb-x1", "Running", "ready:1/1", "restarts:2"]
    assert rs_lines[2].split() == ["✔", "web-aaa", "revision:1", "stable", "ready:4/4"]


def test_view_of_an_aborted_canary_and_a_blue_green() -> None:
    text = render(rollout(phase="Degraded", currentStepIndex=2, abort=True), [], [])
    assert "  ✖ 3. setWeight: 50" in text.splitlines() and "Status:          ✖ Degraded" in text
    bg = rollout(phase="Healthy", stableRS="aaa", currentPodHash="aaa", blueGreen={"activeSelector": "aaa"})
    bg["spec"]["strategy"] = {"blueGreen": {"activeService": "web", "previewService": "web-preview"}}
    text = render(bg, [rs(1, "nginx:1.25", "aaa", 5, 5)], [])
    assert "Strategy:        BlueGreen" in text and "  ActiveService: web (aaa)" in text and "Steps:" not in text
    assert "revision:1    stable, active" in text


def test_step_descriptions_and_set_weight() -> None:
    assert describe_step({"pause": {"duration": "5m"}}) == "pause 5m"
    assert set_weight(rollout(currentStepIndex=3)) == 50 and set_weight(rollout()) == 20
    assert set_weight(rollout(currentStepIndex=2, abort=True)) == 0


def test_an_aborted_canary_shows_only_the_image_that_has_pods() -> None:
    """Argo's Images() lists ReplicaSets with status.replicas > 0: after an abort the canary's
    ReplicaSet is scaled to 0 and only the stable image is shown."""
    ro = rollout(phase="Degraded", currentStepIndex=0, abort=True, currentPodHash="bbb", stableRS="aaa")
    lines = render(ro, [rs(1, "nginx:1.25", "aaa", 5, 5), rs(2, "nginx:1.26", "bbb", 0, 0)], []).splitlines()
    assert "Images:          nginx:1.25 (stable)" in lines and not any("nginx:1.26" in x for x in lines[:12])


def test_a_rollout_past_its_last_step_shows_weight_100() -> None:
    """Argo's get: a canary whose steps are all done (also a first deploy, which skips them)
    shows SetWeight 100 / ActualWeight 100, not its last setWeight and the canary Service's 0."""
    ro = rollout(phase="Healthy", currentStepIndex=6, currentPodHash="aaa", stableRS="aaa",
                 canary={"weights": {"canary": {"weight": 0, "podTemplateHash": "aaa", "serviceName": "web-canary"},
                                     "stable": {"weight": 100, "podTemplateHash": "aaa", "serviceName": "web"}}})
    ro["spec"]["strategy"]["canary"]["steps"] = STEPS[:4]  # the last setWeight is 50
    lines = render(ro, [rs(1, "nginx:1.25", "aaa", 5, 5)], []).splitlines()
    assert "  Step:          4/4" in lines and "  SetWeight:     100" in lines and "  ActualWeight:  100" in lines


# ---- kubectl's configuration -----------------------------------------------------------------------

def _kubeconfig(path: Any, ctx: str, server: str, namespace: str = "", current: bool = True) -> str:
    doc = {"apiVersion": "v1", "kind": "Config",
           "clusters": [{"name": ctx, "cluster": {"server": server, "certificate-authority": "ca.crt"}}],
           "users": [{"name": ctx, "user": {"token": f"token-{ctx}"}}],
           "contexts": [{"name": ctx, "context": {"cluster": ctx, "user": ctx,
                                                  **({"namespace": namespace} if namespace else {})}}]}
    if current:
        doc["current-context"] = ctx
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_kubeconfig_list_context_and_namespace(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    a = _kubeconfig(tmp_path / "a", "one", "https://one:6443", "team-a")
    b = _kubeconfig(tmp_path / "b", "two", "https://two:6443", current=False)
    monkeypatch.setenv("KUBECONFIG", f"{b}:{a}")
    t = resolve()
    assert (t.config.server, t.config.token, t.namespace) == ("https://one:6443", "token-one", "team-a")
    assert t.config.ca_file == str(tmp_path / "ca.crt")  # relative to its kubeconfig
    t = resolve(context="two", namespace="")
    assert (t.config.server, t.namespace) == ("https://two:6443", "default")
    assert resolve(context="one", namespace="x").namespace == "x"
    assert resolve(kubeconfig=b, context="two").config.server == "https://two:6443"
    with pytest.raises(ro_.PluginError, match='context "three" does not exist'):
        resolve(context="three")


def test_flags_anywhere_and_the_entry_point() -> None:
    args = parser().parse_args(["-n", "a", "rollout", "get", "web", "--watch", "--context", "c"])
    assert (args.namespace, args.context, args.name, args.watch) == ("a", "c", "web", True)
    args = parser().parse_args(["rollout", "set", "image", "web", "web=nginx:2", "--namespace", "b"])
    assert (args.namespace, args.image) == ("b", "web=nginx:2")
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert scripts["kubectl-kubeling"] == "kubeling.plugin.cli:main"


def test_rollout_copy_is_not_mutated() -> None:
    ro = rollout(currentStepIndex=1)
    before = copy.deepcopy(ro)
    ro_.set_image(ro, "*", "x")
    ro_.promote(ro)
    assert ro == before
