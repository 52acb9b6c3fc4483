"""StatefulSet pure parts (stateful_set_utils.go): identity, claims, revisions, status."""

from __future__ import annotations

from kubeling.controllers import history
from kubeling.controllers import statefulset as s


def sts(**spec: object) -> dict:
    base = {"selector": {"matchLabels": {"app": "web"}}, "serviceName": "nginx", "replicas": 3,
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "c", "image": "i"}],
                                  "volumes": [{"name": "www", "emptyDir": {}}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "www", "labels": {"t": "1"}}, "spec": {}}]}
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "u1", "generation": 4}, "spec": {**base, **spec}}


def rev(obj: dict, name: str) -> dict:
    return history.new_revision(obj, "StatefulSet", name, {}, 1)


def test_pod_identity_and_claims() -> None:
    x = sts()
    pod = s.new_pod(x, rev(x, "web-abc"), 2)
    assert pod["metadata"]["name"] == "web-2"
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("web-2", "nginx")
    assert pod["metadata"]["labels"] == {"app": "web", "controller-revision-hash": "web-abc",
                                         "statefulset.kubernetes.io/pod-name": "web-2",
                                         "apps.kubernetes.io/pod-index": "2"}
    # a claim template replaces a pod volume of the same name
    assert pod["spec"]["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-2"}}]
    claim = s.claims_for(x, 2)["www"]
    assert claim["metadata"] == {"name": "www-web-2", "namespace": "ns", "labels": {"t": "1", "app": "web"}}
    assert s.ordinal_of(x, pod) == 2 and s.ordinal_of(x, {"metadata": {"name": "webx-2"}}) is None


def test_revision_restores_its_template() -> None:
    x = sts()
    r = rev(x, "web-abc")
    assert history.data_equal(r, x)
    y = sts()
    y["spec"]["template"]["spec"]["containers"][0]["image"] = "j"
    assert not history.data_equal(r, y)
    assert s.new_pod(y, r, 0)["spec"]["containers"][0]["image"] == "i"


def _pod(name: str, revision: str, ready: bool = True) -> dict:
    return {"metadata": {"name": name, "labels": {"controller-revision-hash": revision}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_status_completes_a_rolling_update() -> None:
    x = sts()
    cur, upd = rev(x, "web-old"), rev(x, "web-new")
    st = s.calculate_status(x, [_pod("web-0", "web-old"), _pod("web-1", "web-new"), _pod("web-2", "web-new", False)],
                            cur, upd, 0)
    assert st == {"replicas": 3, "availableReplicas": 2, "collisionCount": 0, "observedGeneration": 4,
                  "readyReplicas": 2, "currentReplicas": 1, "updatedReplicas": 2,
                  "currentRevision": "web-old", "updateRevision": "web-new"}
    st = s.calculate_status(x, [_pod(f"web-{i}", "web-new") for i in range(3)], cur, upd, 0)
    assert (st["currentRevision"], st["currentReplicas"]) == ("web-new", 3)
