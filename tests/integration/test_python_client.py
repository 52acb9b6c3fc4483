"""The official `kubernetes` Python client does CRUD and a watch against kubeling."""

from __future__ import annotations

import threading

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from .conftest import Cluster


@pytest.fixture(scope="module")
def apis(cluster: Cluster):
    api_client = config.new_client_from_config(config_file=cluster.kubeconfig)
    yield client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    api_client.close()


def test_crud(apis, ns: str) -> None:
    core, apps = apis
    cm = core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py"), data={"a": "1"}))
    assert cm.metadata.uid and cm.metadata.resource_version
    got = core.read_namespaced_config_map("py", ns)
    assert got.data == {"a": "1"}
    got.data["a"] = "2"
    upd = core.replace_namespaced_config_map("py", ns, got)
    assert int(upd.metadata.resource_version) > int(cm.metadata.resource_version)
    core.patch_namespaced_config_map("py", ns, {"data": {"b": "3"}})
    assert core.read_namespaced_config_map("py", ns).data == {"a": "2", "b": "3"}
    names = [c.metadata.name for c in core.list_namespaced_config_map(ns).items]
    assert "py" in names
    core.delete_namespaced_config_map("py", ns)
    with pytest.raises(ApiException) as e:
        core.read_namespaced_config_map("py", ns)
    assert e.value.status == 404
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="pyd"),
        spec=client.V1DeploymentSpec(
            replicas=2, selector=client.V1LabelSelector(match_labels={"app": "pyd"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "pyd"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx:1.14.2")]))))
    d = apps.create_namespaced_deployment(ns, dep)
    assert d.spec.strategy.type == "RollingUpdate" and d.spec.revision_history_limit == 10
    s = apps.patch_namespaced_deployment_scale("pyd", ns, {"spec": {"replicas": 4}})
    assert s.spec.replicas == 4 and s.status.selector == "app=pyd"
    assert apps.read_namespaced_deployment("pyd", ns).spec.replicas == 4


def test_watch(apis, ns: str) -> None:
    core, _ = apis
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    seen: list[tuple[str, str]] = []
    w = watch.Watch()

    def consume() -> None:
        for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=10):
            if ev["object"].metadata.name != "w":
                continue  # e.g. kube-root-ca.crt, published into every new namespace
            seen.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w")))
    core.patch_namespaced_config_map("w", ns, {"data": {"x": "y"}})
    core.delete_namespaced_config_map("w", ns)
    t.join(15)
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
