"""Issue 12 acceptance with the real kubectl: the RBAC matrix, escalation, impersonation.

The matrix asks the server (`kubectl auth can-i --as`, a SelfSubjectAccessReview as the
impersonated subject) and compares with upstream's bootstrap rules; a ServiceAccount's own token
then makes real requests, to prove the same rules guard the API and not only the reviews.
"""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import Cluster

NS = "rbac-team"
OTHER = "rbac-other"
SA = f"system:serviceaccount:{NS}:probe"
DNS = "system:serviceaccount:kube-system:coredns"
LOCAL_PATH = "system:serviceaccount:kube-system:local-path-provisioner-service-account"


@pytest.fixture(scope="module")
def team(cluster: Cluster) -> str:
    for ns in (NS, OTHER):
        cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("-n", NS, "create", "serviceaccount", "probe")
    cluster.kubectl("-n", NS, "create", "secret", "generic", "s", "--from-literal=k=v")
    cluster.kubectl("-n", NS, "create", "rolebinding", "dev-edit", "--clusterrole=edit", "--user=dev")
    cluster.kubectl("-n", NS, "create", "rolebinding", "lead-admin", "--clusterrole=admin", "--user=lead")
    cluster.kubectl("create", "clusterrolebinding", "viewer-view", "--clusterrole=view", "--user=viewer")
    return NS


# (subject, extra groups, verb, resource, namespace, allowed) — upstream's bootstrap rules decide
MATRIX = [
    (SA, "", "get", "secrets", NS, False),  # a pod's account reads no Secret, not even its own namespace's
    (SA, "", "list", "pods", NS, False),
    (SA, "", "delete", "nodes", "", False),
    (SA, "", "create", "serviceaccounts --subresource=token", NS, False),
    (SA, "", "create", "selfsubjectaccessreviews.authorization.k8s.io", "", True),  # system:basic-user
    ("dev", "", "create", "deployments.apps", NS, True),  # edit
    ("dev", "", "get", "secrets", NS, True),
    ("dev", "", "create", "rolebindings.rbac.authorization.k8s.io", NS, False),  # edit can't grant
    ("dev", "", "impersonate", "serviceaccounts", NS, True),
    ("dev", "", "create", "deployments.apps", OTHER, False),  # only where bound
    ("lead", "", "create", "rolebindings.rbac.authorization.k8s.io", NS, True),  # admin
    ("lead", "", "delete", "namespaces", "", False),
    ("viewer", "", "list", "pods", OTHER, True),  # view, cluster-wide
    ("viewer", "", "get", "secrets", OTHER, False),  # view has no secrets
    ("viewer", "", "create", "configmaps", OTHER, False),
    ("viewer", "", "list", "clusterroles.rbac.authorization.k8s.io", "", False),
    ("system:kube-scheduler", "", "create", "pods --subresource=binding", NS, True),
    ("system:kube-scheduler", "", "list", "nodes", "", True),
    ("system:kube-scheduler", "", "delete", "nodes", "", False),
    ("system:kube-scheduler", "", "get", "secrets", NS, False),
    ("system:kube-proxy", "", "list", "endpointslices.discovery.k8s.io", "", True),
    ("system:kube-proxy", "", "create", "pods", NS, False),
    ("system:kube-proxy", "", "watch", "services", "", True),  # system:node-proxier
    ("system:kube-proxy", "", "get", "secrets", NS, False),
    ("system:kube-proxy", "", "patch", "nodes", "", False),
    (DNS, "", "watch", "endpointslices.discovery.k8s.io", "", True),  # CoreDNS's system:coredns
    (DNS, "", "list", "namespaces", "", True),
    (DNS, "", "get", "secrets", "kube-system", False),
    (DNS, "", "update", "services/kube-dns", "kube-system", True),  # publishes its own Service
    (DNS, "", "update", "services/other", "kube-system", False),
    (DNS, "", "create", "services", NS, False),
    (LOCAL_PATH, "", "create", "persistentvolumes", "", True),  # k3s's local-path-provisioner-role
    (LOCAL_PATH, "", "create", "storageclasses.storage.k8s.io", "", False),
    ("system:serviceaccount:kube-system:statefulset-controller", "", "update", "persistentvolumeclaims", NS, True),
    ("system:serviceaccount:kube-system:statefulset-controller", "", "patch", "persistentvolumeclaims", NS, False),
    ("system:serviceaccount:kube-system:pv-protection-controller", "", "update", "persistentvolumes", "", True),
    ("system:serviceaccount:kube-system:pv-protection-controller", "", "update", "persistentvolumeclaims", NS, False),
    ("system:serviceaccount:kube-system:replicaset-controller", "", "create", "pods", OTHER, True),
    ("system:serviceaccount:kube-system:replicaset-controller", "", "delete", "nodes", "", False),
    ("system:serviceaccount:kube-system:namespace-controller", "", "deletecollection", "pods", OTHER, True),
    ("system:anonymous", "", "list", "pods", NS, False),
    ("someone", "system:masters", "delete", "nodes", "", True),
]


def can_i(cluster: Cluster, subject: str, groups: str, verb: str, resource: str, ns: str) -> bool:
    args = ["auth", "can-i", verb, *resource.split(), f"--as={subject}"]  # kubectl reads a/b as TYPE/NAME
    args += [f"--as-group={groups}"] if groups else []
    args += ["-n", ns] if ns else []
    p = cluster.kubectl(*args, check=False)
    if 'cannot create resource "selfsubjectaccessreviews"' in p.stderr:
        return False  # anonymous may not even ask (system:basic-user is for system:authenticated)
    assert p.stdout.strip() in ("yes", "no"), (args, p.stdout, p.stderr)
    return p.stdout.strip() == "yes"


def test_rbac_matrix(cluster: Cluster, team: str) -> None:
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda row: can_i(cluster, *row[:5]), MATRIX))
    wrong = [(row[:5], want) for row, want, have in zip(MATRIX, [r[5] for r in MATRIX], got) if want != have]
    assert not wrong, wrong


def sa_kubectl(cluster: Cluster, token: str, *args: str) -> subprocess.CompletedProcess:
    ca = f"{cluster.data_dir}/server/tls/server-ca.crt"
    return subprocess.run(["kubectl", "--kubeconfig=/dev/null", f"--server={cluster.url}",
                           f"--certificate-authority={ca}", f"--token={token}", *args],
                          capture_output=True, text=True, timeout=60)


def test_service_account_token_is_held_to_its_rules(cluster: Cluster, team: str) -> None:
    token = cluster.kubectl("-n", NS, "create", "token", "probe").stdout.strip()
    denied = {
        ("-n", NS, "get", "secrets"): f'secrets is forbidden: User "{SA}" cannot list resource "secrets" in API '
                                      f'group "" in the namespace "{NS}"',
        ("-n", "kube-system", "get", "secrets"): "forbidden",
        ("delete", "node", "n1"): f'nodes "n1" is forbidden: User "{SA}" cannot delete resource "nodes" in API '
                                  'group "" at the cluster scope',
        ("create", "clusterrolebinding", "own", "--clusterrole=cluster-admin", f"--serviceaccount={NS}:probe"): "forbidden",
        ("-n", "kube-system", "run", "priv", "--image=busybox", "--privileged"): "forbidden",
        ("-n", NS, "create", "token", "default"): "forbidden",
        ("get", "--raw", "/metrics"): f'User "{SA}" cannot get path "/metrics"',
    }
    for args, text in denied.items():
        p = sa_kubectl(cluster, token, *args)
        assert p.returncode != 0 and "(Forbidden)" in p.stderr + p.stdout or "forbidden" in p.stderr, (args, p.stderr)
        assert text in p.stderr, (args, p.stderr)
    # discovery and its own identity stay open to every authenticated account
    assert sa_kubectl(cluster, token, "api-versions").returncode == 0
    who = json.loads(sa_kubectl(cluster, token, "auth", "whoami", "-o", "json").stdout)
    assert who["status"]["userInfo"]["username"] == SA
    # once bound, the same token reads what the role grants, and only there
    cluster.kubectl("-n", NS, "create", "rolebinding", "probe-view", "--clusterrole=view", f"--serviceaccount={NS}:probe")
    assert sa_kubectl(cluster, token, "-n", NS, "get", "pods").returncode == 0
    assert sa_kubectl(cluster, token, "-n", OTHER, "get", "pods").returncode != 0
    assert sa_kubectl(cluster, token, "-n", NS, "get", "secrets").returncode != 0


def test_binding_cluster_admin_without_holding_it_is_escalation(cluster: Cluster, team: str) -> None:
    """lead is admin in the namespace: it may bind edit there, not cluster-admin anywhere."""
    cluster.kubectl("-n", NS, "create", "rolebinding", "lead-grants-edit", "--clusterrole=edit", "--user=x",
                    "--as=lead")
    p = cluster.kubectl("-n", NS, "create", "rolebinding", "lead-grants-all", "--clusterrole=cluster-admin",
                        "--user=x", "--as=lead", check=False)
    assert p.returncode != 0
    assert ('rolebindings.rbac.authorization.k8s.io "lead-grants-all" is forbidden: user "lead" '
            '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:') in p.stderr
    assert '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}' in p.stderr


def test_impersonation(cluster: Cluster, team: str) -> None:
    who = json.loads(cluster.kubectl("auth", "whoami", f"--as={SA}", "-o", "json").stdout)["status"]["userInfo"]
    assert who == {"username": SA, "groups": ["system:serviceaccounts", f"system:serviceaccounts:{NS}",
                                              "system:authenticated"]}
    rules = cluster.kubectl("auth", "can-i", "--list", f"--as={SA}", "-n", NS).stdout
    assert "selfsubjectaccessreviews.authorization.k8s.io" in rules and "*.*" not in rules
    p = cluster.kubectl("-n", NS, "get", "secrets", "--as=viewer", check=False)
    assert 'User "viewer" cannot list resource "secrets"' in p.stderr
    # impersonating needs the impersonate verb: edit grants it on the namespace's service accounts only
    cluster.kubectl("-n", NS, "create", "serviceaccount", "imp")
    cluster.kubectl("-n", NS, "create", "rolebinding", "imp-edit", "--clusterrole=edit", f"--serviceaccount={NS}:imp")
    token = cluster.kubectl("-n", NS, "create", "token", "imp").stdout.strip()
    p = sa_kubectl(cluster, token, "auth", "whoami", f"--as={SA}", "-o", "json")
    assert json.loads(p.stdout)["status"]["userInfo"]["username"] == SA, p.stderr
    p = sa_kubectl(cluster, token, "get", "pods", "--as=bob")
    assert p.returncode != 0
    assert (f'users "bob" is forbidden: User "system:serviceaccount:{NS}:imp" cannot impersonate resource "users" '
            'in API group "" at the cluster scope') in p.stderr
    p = sa_kubectl(cluster, token, "get", "pods", f"--as=system:serviceaccount:{OTHER}:default")
    assert f'serviceaccounts "default" is forbidden' in p.stderr and f'in the namespace "{OTHER}"' in p.stderr


def test_bootstrap_cluster_roles_page_with_chunks(cluster: Cluster) -> None:
    names = cluster.kubectl("get", "clusterrole", "--chunk-size=10", "-o", "name").stdout.split()
    assert len(names) >= 60
    for want in ("cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery",
                 "system:public-info-viewer", "system:node", "system:kube-scheduler",
                 "system:kube-controller-manager", "system:controller:replicaset-controller"):
        assert f"clusterrole.rbac.authorization.k8s.io/{want}" in names


def test_node_authorizer_and_node_restriction(cluster: Cluster, team: str) -> None:
    """A kubelet reads only what its pods use and writes only its own Node and its pods' status."""
    for n in ("rbac-n1", "rbac-n2"):
        cluster.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Node",
                                                                "metadata": {"name": n}}))
    for secret in ("used", "theirs"):
        cluster.kubectl("-n", NS, "create", "secret", "generic", secret, "--from-literal=k=v")
    for pod, node, secret in (("p1", "rbac-n1", "used"), ("p2", "rbac-n2", "theirs")):
        cluster.kubectl("create", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod, "namespace": NS},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox",
                                                       "env": [{"name": "S", "valueFrom": {"secretKeyRef": {
                                                           "name": secret, "key": "k"}}}]}]}}))
    n1 = ("--as=system:node:rbac-n1", "--as-group=system:nodes")
    assert cluster.kubectl("-n", NS, "get", "secret", "used", *n1, check=False).returncode == 0
    p = cluster.kubectl("-n", NS, "get", "secret", "theirs", *n1, check=False)  # another node's pod's secret
    assert 'secrets "theirs" is forbidden: User "system:node:rbac-n1" cannot get resource "secrets"' in p.stderr
    p = cluster.kubectl("-n", NS, "get", "secret", "s", *n1, check=False)
    assert 'secrets "s" is forbidden: User "system:node:rbac-n1" cannot get resource "secrets"' in p.stderr
    assert cluster.kubectl("-n", NS, "get", "secrets", *n1, check=False).returncode != 0  # no listing all
    cluster.kubectl("label", "node", "rbac-n1", "a=b", *n1)
    p = cluster.kubectl("label", "node", "rbac-n2", "a=b", *n1, check=False)
    assert 'nodes "rbac-n2" is forbidden: node "rbac-n1" is not allowed to modify node "rbac-n2"' in p.stderr
    # status as a kubelet writes it (kubectl patch --subresource would first GET pods/status, which
    # system:node does not grant upstream either)
    s = cluster.session()
    s.headers.update({"Impersonate-User": "system:node:rbac-n1", "Impersonate-Group": "system:nodes",
                      "Content-Type": "application/merge-patch+json"})
    status = '{"status": {"message": "hi"}}'
    r = s.patch(f"{cluster.url}/api/v1/namespaces/{NS}/pods/p1/status", data=status)
    assert r.status_code == 200, r.text
    r = s.patch(f"{cluster.url}/api/v1/namespaces/{NS}/pods/p2/status", data=status)
    assert r.status_code == 403 and r.json()["message"] == (
        'pods "p2" is forbidden: node "rbac-n1" can only update pod status for pods with spec.nodeName set to itself')
    p = cluster.kubectl("-n", NS, "label", "pod", "p1", "a=b", *n1, check=False)
    assert 'User "system:node:rbac-n1" cannot patch resource "pods"' in p.stderr  # system:node: no pod writes
    p = cluster.kubectl("-n", NS, "delete", "pod", "p2", "--wait=false", *n1, check=False)
    assert 'pods "p2" is forbidden: node "rbac-n1" can only delete pods with spec.nodeName set to itself' in p.stderr
    p = cluster.kubectl("delete", "node", "rbac-n2", *n1, check=False)
    assert "forbidden" in p.stderr
