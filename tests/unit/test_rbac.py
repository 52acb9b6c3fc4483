"""The RBAC authorizer: rule matching, bindings through the store's watch, the bootstrap policy,
aggregation and the escalation checks on RBAC writes (upstream's semantics)."""

from __future__ import annotations

import pytest

from kubeling.api import errors
from kubeling.api.resources import lookup
from kubeling.apiserver.admission import Chain
from kubeling.apiserver.auth import policy, rules
from kubeling.apiserver.auth.attributes import Attributes, from_request
from kubeling.apiserver.auth.escalation import RBACEscalationCheck
from kubeling.apiserver.auth.rbac import Authorizer, RBACAuthorizer
from kubeling.apiserver.auth.user import current_user
from kubeling.identity import User
from kubeling.apiserver.registry import DeleteOptions, Registry, WriteOptions
from kubeling.store.sqlite import SQLiteStore

RBAC = "rbac.authorization.k8s.io"
ROLES, CLUSTERROLES = lookup(RBAC, "v1", "roles"), lookup(RBAC, "v1", "clusterroles")
ROLEBINDINGS, CRBS = lookup(RBAC, "v1", "rolebindings"), lookup(RBAC, "v1", "clusterrolebindings")
NAMESPACES = lookup("", "v1", "namespaces")
ALICE = User("alice", ("system:authenticated",))
SA = User("system:serviceaccount:team:probe", ("system:serviceaccounts", "system:serviceaccounts:team",
                                                "system:authenticated"))


def res_attrs(user: User, verb: str, resource: str, ns: str = "", name: str = "", group: str = "",
              sub: str = "") -> Attributes:
    return Attributes(user, verb, True, "", group, "v1", ns, resource, sub, name)


# ---- request attributes ---------------------------------------------------------------------

@pytest.mark.parametrize("method,path,query,want", [
    ("GET", "/api/v1/namespaces/a/pods", {}, ("list", "", "a", "pods", "", "")),
    ("GET", "/api/v1/namespaces/a/pods", {"watch": "true"}, ("watch", "", "a", "pods", "", "")),
    ("GET", "/api/v1/namespaces/a/pods", {"fieldSelector": "metadata.name=p"}, ("list", "", "a", "pods", "", "p")),
    ("GET", "/api/v1/namespaces/a/pods/p/log", {}, ("get", "", "a", "pods", "log", "p")),
    ("DELETE", "/apis/apps/v1/namespaces/a/deployments", {}, ("deletecollection", "apps", "a", "deployments", "", "")),
    ("PUT", "/api/v1/namespaces/a/finalize", {}, ("update", "", "a", "namespaces", "finalize", "a")),
    ("GET", "/api/v1/namespaces/a", {}, ("get", "", "a", "namespaces", "", "a")),
    ("POST", "/api/v1/nodes", {}, ("create", "", "", "nodes", "", "")),
])
def test_request_attributes_as_upstream_request_info(method, path, query, want) -> None:
    a = from_request(ALICE, method, path, query)
    assert a.resource_request
    assert (a.verb, a.api_group, a.namespace, a.resource, a.subresource, a.name) == want


@pytest.mark.parametrize("path", ["/api", "/apis", "/api/v1", "/apis/apps/v1", "/healthz", "/metrics"])
def test_discovery_and_other_paths_are_non_resource_requests(path) -> None:
    a = from_request(ALICE, "GET", path, {})
    assert (a.resource_request, a.verb, a.path) == (False, "get", path)


# ---- rule matching ----------------------------------------------------------------------------

@pytest.mark.parametrize("rule,attrs,allowed", [
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res_attrs(ALICE, "get", "pods", "a"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res_attrs(ALICE, "list", "pods", "a"), False),
    ({"verbs": ["*"], "apiGroups": ["apps"], "resources": ["*"]}, res_attrs(ALICE, "get", "pods", "a"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res_attrs(ALICE, "get", "pods", "a", sub="log"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}, res_attrs(ALICE, "get", "pods", "a", sub="log"), True),
    ({"verbs": ["get"], "apiGroups": ["*"], "resources": ["*/scale"]},
     res_attrs(ALICE, "get", "deployments", "a", "d", "apps", "scale"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s1"]},
     res_attrs(ALICE, "get", "secrets", "a", "s1"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s1"]},
     res_attrs(ALICE, "get", "secrets", "a", "s2"), False),
    ({"verbs": ["list"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s1"]},
     res_attrs(ALICE, "list", "secrets", "a"), False),  # a named rule never grants a whole list
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz/*"]}, Attributes(ALICE, "get", False, "/healthz/etcd"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, Attributes(ALICE, "get", False, "/healthz/etcd"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, res_attrs(ALICE, "get", "healthz"), False),
])
def test_rule_allows(rule, attrs, allowed) -> None:
    assert rules.allows(attrs, rule) is allowed


def test_covers_and_the_compact_description_of_what_is_missing() -> None:
    owner = [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "*/status"]}]
    assert not rules.uncovered(owner, [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods", "pods/status"]}])
    missing = rules.uncovered(owner, [{"verbs": ["get", "delete", "watch"], "apiGroups": [""], "resources": ["pods"]}])
    assert [rules.compact_string(r) for r in rules.compact(missing)] == ['{APIGroups:[""], Resources:["pods"], Verbs:["delete" "watch"]}']
    named = [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"]}]
    assert rules.uncovered(named, [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}])


# ---- the store-backed authorizer -----------------------------------------------------------------

@pytest.fixture
async def env(tmp_path):
    store = SQLiteStore(str(tmp_path / "db" / "state.db"))
    rbac = RBACAuthorizer(store)
    authz = Authorizer(rbac)
    reg = Registry(store, admission=Chain([RBACEscalationCheck(authz)]))
    for ns in ("default", "team", "other", "kube-system", "kube-public"):
        await reg.create(NAMESPACES, None, {"metadata": {"name": ns}}, WriteOptions())
    await policy.bootstrap(reg)
    yield reg, authz
    store.close()


def binding(name: str, role_kind: str, role: str, subjects: list[dict], ns: str = "") -> dict:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return {"metadata": meta, "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role}, "subjects": subjects}


SA_SUBJECT = {"kind": "ServiceAccount", "name": "probe", "namespace": "team"}


async def test_bootstrap_policy_names_bindings_and_aggregation(env) -> None:
    reg, authz = env
    names = {e.obj()["metadata"]["name"] for e in reg.store.list(CLUSTERROLES.prefix(None))[0]}
    assert {"cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery",
            "system:public-info-viewer", "system:node", "system:kube-scheduler", "system:kube-controller-manager",
            "system:controller:deployment-controller", "system:controller:namespace-controller"} <= names
    view = reg.store.get(CLUSTERROLES.key(None, "view")).obj()
    admin = reg.store.get(CLUSTERROLES.key(None, "admin")).obj()
    assert view["rules"] and all(r in admin["rules"] for r in view["rules"])  # admin ⊇ edit ⊇ view
    # a second start changes nothing (reconcile is idempotent)
    rev = reg.store.revision
    await policy.bootstrap(reg)
    assert reg.store.revision == rev


async def test_bindings_take_effect_on_the_next_request(env) -> None:
    reg, authz = env
    get_pods = res_attrs(SA, "get", "pods", "team", "p")
    assert authz.authorize(get_pods)[0] is False
    assert authz.authorize(res_attrs(SA, "create", "selfsubjectaccessreviews", group="authorization.k8s.io"))[0]
    await reg.create(ROLEBINDINGS, "team", binding("view", "ClusterRole", "view", [SA_SUBJECT], "team"), WriteOptions())
    assert authz.authorize(get_pods)[0] is True
    assert authz.authorize(res_attrs(SA, "get", "pods", "other", "p"))[0] is False  # only in its namespace
    assert authz.authorize(res_attrs(SA, "get", "secrets", "team", "s"))[0] is False  # view has no secrets
    await reg.delete(ROLEBINDINGS, "team", "view", DeleteOptions())
    assert authz.authorize(get_pods)[0] is False


async def test_service_account_subject_namespace_defaults_to_the_binding(env) -> None:
    reg, authz = env
    await reg.create(ROLES, "team", {"metadata": {"name": "r", "namespace": "team"},
                                     "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"],
                                                "resourceNames": ["mine"]}]}, WriteOptions())
    await reg.create(ROLEBINDINGS, "team", binding("b", "Role", "r", [{"kind": "ServiceAccount", "name": "probe"}],
                                                   "team"), WriteOptions())
    assert authz.authorize(res_attrs(SA, "get", "secrets", "team", "mine"))[0]
    assert not authz.authorize(res_attrs(SA, "get", "secrets", "team", "theirs"))[0]


async def test_binding_to_a_missing_role_is_the_denial_reason(env) -> None:
    reg, authz = env
    await reg.create(CRBS, None, binding("ghost", "ClusterRole", "nope", [SA_SUBJECT]), WriteOptions())
    allowed, reason = authz.authorize(res_attrs(SA, "get", "pods", "team"))
    assert not allowed and reason == 'RBAC: clusterrole.rbac.authorization.k8s.io "nope" not found'


async def test_user_clusterrole_joins_an_aggregated_role(env) -> None:
    reg, authz = env
    rule = {"verbs": ["get"], "apiGroups": ["example.com"], "resources": ["widgets"]}
    await reg.create(CLUSTERROLES, None, {"metadata": {"name": "widgets-view", "labels": {
        "rbac.authorization.k8s.io/aggregate-to-view": "true"}}, "rules": [rule]}, WriteOptions())
    await policy.reconcile_aggregation(reg)
    for name in ("view", "edit", "admin"):
        assert rule in reg.store.get(CLUSTERROLES.key(None, name)).obj()["rules"], name


async def test_escalation_checks_on_rbac_writes(env) -> None:
    reg, authz = env
    # probe may write bindings and roles in team (admin there), but holds nothing cluster-wide
    await reg.create(ROLEBINDINGS, "team", binding("admin", "ClusterRole", "admin", [SA_SUBJECT], "team"), WriteOptions())
    await reg.create(CLUSTERROLES, None, {"metadata": {"name": "crb-writer"}, "rules": [
        {"verbs": ["create"], "apiGroups": [RBAC], "resources": ["clusterrolebindings", "clusterroles"]}]}, WriteOptions())
    await reg.create(CRBS, None, binding("probe-crb", "ClusterRole", "crb-writer", [SA_SUBJECT]), WriteOptions())
    token = current_user.set(SA)
    try:
        with pytest.raises(errors.StatusError) as e:
            await reg.create(CRBS, None, binding("x", "ClusterRole", "cluster-admin", [SA_SUBJECT]), WriteOptions())
        assert e.value.code == 403
        assert e.value.message == (
            'clusterrolebindings.rbac.authorization.k8s.io "x" is forbidden: user "system:serviceaccount:team:probe" '
            '(groups=["system:serviceaccounts" "system:serviceaccounts:team" "system:authenticated"]) is attempting '
            'to grant RBAC permissions not currently held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n'
            '{NonResourceURLs:["*"], Verbs:["*"]}')
        # within team it holds admin: binding edit there is no escalation, nor a Role of rules it holds
        await reg.create(ROLEBINDINGS, "team", binding("e", "ClusterRole", "edit", [SA_SUBJECT], "team"), WriteOptions())
        await reg.create(ROLES, "team", {"metadata": {"name": "ok", "namespace": "team"}, "rules": [
            {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}]}, WriteOptions())
        with pytest.raises(errors.StatusError) as e:  # but not in other
            await reg.create(ROLEBINDINGS, "other", binding("e", "ClusterRole", "edit", [SA_SUBJECT], "other"),
                             WriteOptions())
        assert e.value.code == 403
        with pytest.raises(errors.StatusError) as e:
            await reg.create(CLUSTERROLES, None, {"metadata": {"name": "agg"}, "aggregationRule": {
                "clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}}, WriteOptions())
        assert e.value.message.endswith("must have cluster-admin privileges to use the aggregationRule")
    finally:
        current_user.reset(token)
    # the bind verb on a role lets one bind it without holding it
    await reg.create(CLUSTERROLES, None, {"metadata": {"name": "binder"}, "rules": [
        {"verbs": ["bind"], "apiGroups": [RBAC], "resources": ["clusterroles"], "resourceNames": ["cluster-admin"]}]},
        WriteOptions())
    await reg.create(CRBS, None, binding("probe-binder", "ClusterRole", "binder", [SA_SUBJECT]), WriteOptions())
    token = current_user.set(SA)
    try:
        await reg.create(CRBS, None, binding("x", "ClusterRole", "cluster-admin", [SA_SUBJECT]), WriteOptions())
    finally:
        current_user.reset(token)
    assert authz.authorize(res_attrs(SA, "delete", "nodes", name="n1"))[0]


def test_masters_bypass_and_always_allow() -> None:
    root = User("root", ("system:masters",))
    assert Authorizer(None).authorize(res_attrs(ALICE, "delete", "nodes"))[0]
    assert Authorizer(RBACAuthorizer.__new__(RBACAuthorizer)).authorize(res_attrs(root, "delete", "nodes"))[0]


# ---- the Node authorizer ------------------------------------------------------------------------

async def test_node_authorizer_follows_the_pods_bound_to_the_node(tmp_path) -> None:
    from kubeling.apiserver.auth.node import NodeAuthorizer

    store = SQLiteStore(str(tmp_path / "db" / "state.db"))
    reg = Registry(store, admission=Chain([]))
    await reg.create(NAMESPACES, None, {"metadata": {"name": "a"}}, WriteOptions())
    node = NodeAuthorizer(store)
    n1 = User("system:node:n1", ("system:nodes", "system:authenticated"))
    get_secret = res_attrs(n1, "get", "secrets", "a", "s")
    assert not node.authorize(get_secret)
    pods = lookup("", "v1", "pods")
    pod = {"metadata": {"name": "p", "namespace": "a"}, "spec": {
        "nodeName": "n1", "serviceAccountName": "sa",
        "containers": [{"name": "c", "image": "i", "envFrom": [{"configMapRef": {"name": "cm"}}]}],
        "volumes": [{"name": "v", "secret": {"secretName": "s"}}]}}
    await reg.create(pods, "a", pod, WriteOptions())
    assert node.authorize(get_secret)
    assert node.authorize(res_attrs(n1, "get", "configmaps", "a", "cm"))
    assert node.authorize(res_attrs(n1, "create", "serviceaccounts", "a", "sa", sub="token"))
    assert not node.authorize(res_attrs(n1, "list", "secrets", "a"))  # never all of them
    assert not node.authorize(res_attrs(n1, "update", "secrets", "a", "s"))  # read only
    n2 = User("system:node:n2", ("system:nodes", "system:authenticated"))
    assert not node.authorize(res_attrs(n2, "get", "secrets", "a", "s"))  # another node's pod
    assert node.authorize(res_attrs(n1, "get", "leases", "kube-node-lease", "n1", "coordination.k8s.io"))
    assert not node.authorize(res_attrs(n1, "update", "leases", "kube-node-lease", "n2", "coordination.k8s.io"))
    assert node.authorize(res_attrs(n1, "list", "services"))  # system:node's own rules
    assert not node.authorize(res_attrs(ALICE, "list", "services"))  # only nodes
    await reg.delete(pods, "a", "p", DeleteOptions(grace_period=0))
    assert not node.authorize(get_secret)
    store.close()
