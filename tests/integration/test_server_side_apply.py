"""Server-side apply with the real kubectl: conflicts, --force-conflicts, and the migration from
client-side apply (kubectl's csaupgrade JSON patch of managedFields with a resourceVersion
precondition) — the exact sequence of kubectl-wire.md."""

from __future__ import annotations

from .conftest import Cluster, manifest


def _managers(cluster: Cluster, ns: str) -> dict[str, dict]:
    d = cluster.json("get", "-n", ns, "deploy", "nginx-deployment", managed_fields=True)
    return {(m["manager"], m["operation"], m.get("subresource", "")): m for m in d["metadata"]["managedFields"]}


def test_ssa_conflict_force_and_migration(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", manifest("my-nginx.yaml"))
    cluster.kubectl("scale", "-n", ns, "deploy", "nginx-deployment", "--replicas", "5")
    assert ("kubectl", "Update", "scale") in _managers(cluster, ns)
    modified = open(manifest("my-nginx.yaml")).read().replace("replicas: 3", "replicas: 4")
    r = cluster.kubectl("apply", "-n", ns, "--server-side", "-f", "-", input=modified, check=False)
    assert r.returncode == 1
    assert 'conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas' in r.stderr
    assert "--force-conflicts" in r.stderr
    assert cluster.json("get", "-n", ns, "deploy", "nginx-deployment")["spec"]["replicas"] == 5
    out = cluster.kubectl("apply", "-n", ns, "--server-side", "--force-conflicts", "-f", "-", input=modified).stdout
    assert out.strip() == "deployment.apps/nginx-deployment serverside-applied"
    d = cluster.json("get", "-n", ns, "deploy", "nginx-deployment")
    assert d["spec"]["replicas"] == 4
    managers = _managers(cluster, ns)
    applied = managers[("kubectl", "Apply", "")]
    assert "f:replicas" in applied["fieldsV1"]["f:spec"]
    # the client-side manager's fields moved to the server-side one (csaupgrade)
    assert ("kubectl-client-side-apply", "Update", "") not in managers or \
        "f:replicas" not in managers[("kubectl-client-side-apply", "Update", "")]["fieldsV1"].get("f:spec", {})
    # re-applying the same config is a no-op
    assert cluster.kubectl("apply", "-n", ns, "--server-side", "-f", "-", input=modified).stdout.strip() == \
        "deployment.apps/nginx-deployment serverside-applied"


def test_ssa_create_and_field_removal(cluster: Cluster, ns: str) -> None:
    cm = """
apiVersion: v1
kind: ConfigMap
metadata: {name: ssa}
data: {a: "1", b: "2"}
"""
    assert cluster.kubectl("apply", "-n", ns, "--server-side", "-f", "-", input=cm).stdout.strip() == \
        "configmap/ssa serverside-applied"
    assert cluster.json("get", "-n", ns, "cm", "ssa")["data"] == {"a": "1", "b": "2"}
    cluster.kubectl("apply", "-n", ns, "--server-side", "-f", "-", input=cm.replace(', b: "2"', ""))
    assert cluster.json("get", "-n", ns, "cm", "ssa")["data"] == {"a": "1"}  # no longer applied → removed
    other = cluster.kubectl("apply", "-n", ns, "--server-side", "--field-manager=other", "-f", "-",
                            input=cm.replace('a: "1", b: "2"', 'a: "9"'), check=False)
    assert other.returncode == 1 and 'conflict with "kubectl"' in other.stderr and ".data.a" in other.stderr
    dry = cluster.kubectl("apply", "-n", ns, "--server-side", "--dry-run=server", "-f", "-",
                          input=cm.replace('a: "1", b: "2"', 'a: "1", c: "3"'))
    assert "serverside-applied (server dry run)" in dry.stdout
    assert cluster.json("get", "-n", ns, "cm", "ssa")["data"] == {"a": "1"}


def test_namespace_deletion_removes_contents(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "doomed")
    cluster.kubectl("create", "-n", "doomed", "configmap", "c", "--from-literal=a=b")
    cluster.kubectl("apply", "-n", "doomed", "-f", manifest("my-nginx.yaml"))
    out = cluster.kubectl("delete", "namespace", "doomed", timeout=60).stdout
    assert out.strip() == 'namespace "doomed" deleted'
    assert cluster.kubectl("get", "namespace", "doomed", check=False).returncode == 1
    left = cluster.kubectl("get", "all,cm", "-n", "doomed", "-o", "name").stdout.strip()
    assert left == ""


def test_terminating_namespace_refuses_new_objects(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "closing")
    # a finalizer nobody removes keeps the namespace Terminating while we try to create in it
    cluster.kubectl("create", "-n", "closing", "configmap", "held")
    cluster.kubectl("patch", "-n", "closing", "cm", "held", "-p", '{"metadata":{"finalizers":["example.com/hold"]}}')
    cluster.kubectl("delete", "namespace", "closing", "--wait=false")
    phase = cluster.wait_for(lambda: cluster.json("get", "namespace", "closing")["status"]["phase"] == "Terminating",
                             what="namespace Terminating")
    assert phase
    r = cluster.kubectl("create", "-n", "closing", "configmap", "late", check=False)
    assert r.returncode == 1
    assert "unable to create new content in namespace closing because it is being terminated" in r.stderr
    cluster.kubectl("patch", "-n", "closing", "cm", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    cluster.wait_for(lambda: cluster.kubectl("get", "namespace", "closing", check=False).returncode == 1,
                     timeout=30, what="namespace gone")
