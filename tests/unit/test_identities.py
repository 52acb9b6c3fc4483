"""Component identities (issue 12): NodeRestriction's rules for mirror pods (upstream's
admitPodCreate), the node components' in-process identities and their HTTPS kubeconfigs."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from kubeling.apiserver.auth.node import mirror_pod_refusal
from kubeling.apiserver.local import LocalTransport
from kubeling.client.rest import Client, ClientConfig
from kubeling.kubelet.identities import kubeconfig_path, node_clients, write_kubeconfigs
from kubeling.kubelet.mirror import mirror_pod
from kubeling.pki import ensure_pki


class _Entry:
    def __init__(self, obj: dict[str, Any]) -> None:
        self._obj = obj

    def obj(self) -> dict[str, Any]:
        return self._obj


class _Store:
    """Just the Node `n1` (uid u1) NodeRestriction looks up."""

    def get(self, key: str) -> _Entry | None:
        return _Entry({"metadata": {"name": "n1", "uid": "u1"}}) if key.endswith("/n1") else None


STATIC = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dns", "namespace": "kube-system"},
          "spec": {"containers": [{"name": "c", "image": "i"}]}}


def _mirror(**changes: Any) -> dict[str, Any]:
    pod = copy.deepcopy(mirror_pod(STATIC, "n1", "u1", "now"))
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = pod
        for p in parents:
            target = target[p]
        target[leaf] = value
    return pod


OWNER = {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "u1", "controller": True}


@pytest.mark.parametrize("pod, reason", [
    (_mirror(), ""),
    (_mirror(metadata__annotations={}), 'pod does not have "kubernetes.io/config.mirror" annotation, node "n1" '
                                        "can only create mirror pods"),
    (_mirror(spec__nodeName="n2"), 'node "n1" can only create pods with spec.nodeName set to itself'),
    (_mirror(metadata__ownerReferences=[]), 'node "n1" can only create pods with an owner reference set to itself'),
    (_mirror(metadata__ownerReferences=[OWNER, OWNER]),
     'node "n1" can only create pods with a single owner reference set to itself'),
    (_mirror(metadata__ownerReferences=[{**OWNER, "name": "n2"}]),
     'node "n1" can only create pods with an owner reference set to itself'),
    (_mirror(metadata__ownerReferences=[{**OWNER, "controller": False}]),
     'node "n1" can only create pods with a controller owner reference set to itself'),
    (_mirror(metadata__ownerReferences=[{**OWNER, "blockOwnerDeletion": True}]),
     'node "n1" must not set blockOwnerDeletion on an owner reference'),
    (_mirror(metadata__ownerReferences=[{**OWNER, "uid": "other"}]), "node n1 UID mismatch: expected other got u1"),
    (_mirror(spec__serviceAccountName="default"), 'node "n1" can not create pods that reference a service account'),
    (_mirror(spec__volumes=[{"name": "v", "secret": {"secretName": "s"}}]),
     'node "n1" can not create pods that reference secrets'),
    (_mirror(spec__volumes=[{"name": "v", "configMap": {"name": "c"}}]),
     'node "n1" can not create pods that reference configmaps'),
    (_mirror(spec__volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "c"}}]),
     'node "n1" can not create pods that reference persistentvolumeclaims'),
])
def test_a_node_creates_only_its_own_mirror_pods(pod: dict[str, Any], reason: str) -> None:
    assert mirror_pod_refusal(_Store(), "n1", pod) == reason


def test_node_components_each_act_as_themselves(tmp_path) -> None:
    root = Client(ClientConfig(), transport=LocalTransport(api=object()))  # type: ignore[arg-type]
    clients = node_clients(root, "n1", str(tmp_path))
    assert [(c.transport.user.name, c.transport.user.groups) for c in clients.all()] == [  # type: ignore[attr-defined]
        ("system:node:n1", ("system:nodes", "system:authenticated")),
        ("system:kube-proxy", ("system:authenticated",)),
        ("system:serviceaccount:kube-system:coredns",
         ("system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"))]
    assert not any(hasattr(c, "shared_informers") for c in clients.all())  # their informers read as themselves


def _subject(kubeconfig: str) -> tuple[str, list[str]]:
    cfg = ClientConfig.from_kubeconfig(kubeconfig)
    with open(cfg.cert_file, "rb") as f:
        subject = x509.load_pem_x509_certificate(f.read()).subject
    return (subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
            [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)])


def test_agent_kubeconfigs_carry_each_components_certificate(tmp_path) -> None:
    pki = ensure_pki(str(tmp_path), "127.0.0.1", "10.96.0.1")
    agent = str(tmp_path / "agent")
    write_kubeconfigs(pki, agent, "https://127.0.0.1:6443", "n1")
    assert _subject(kubeconfig_path(agent, "kubelet")) == ("system:node:n1", ["system:nodes"])
    assert _subject(kubeconfig_path(agent, "kubeproxy")) == ("system:kube-proxy", [])
    with open(kubeconfig_path(agent, "kubelet")) as f:
        assert yaml.safe_load(f)["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    write_kubeconfigs(pki, agent, "https://127.0.0.1:6443", "renamed")  # --node-name changed: a new certificate
    assert _subject(kubeconfig_path(agent, "kubelet")) == ("system:node:renamed", ["system:nodes"])
    # a remote agent's components use these files (no in-process transport)
    remote = node_clients(Client(ClientConfig(server="https://127.0.0.1:6443")), "renamed", agent)
    assert [c.config.server for c in remote.all()] == ["https://127.0.0.1:6443"] * 3
    assert all(c.config.cert_file and c.config.key_file for c in remote.all())
