"""The RBAC authorizer (upstream plugin/pkg/auth/authorizer/rbac).

Roles, ClusterRoles and their bindings are read from the API's own store through an index kept
current by the store's watch: before each decision the pending watch events are drained (the
store fans events out synchronously on commit, so a binding is in force for the very next
request), and what is derived from them — bindings by subject, each user's rules per namespace,
decisions — is rebuilt or cached per generation of the RBAC objects. A decision is then a dict
lookup; a cache miss walks only the rules bound to the user.
"""

from __future__ import annotations

import logging
from typing import Any

from ...api.resources import Resource, lookup
from ...identity import MASTERS, SA_PREFIX, User
from ...store.base import DELETED, Watcher
from . import rules as rulelib
from .attributes import Attributes
from .rules import Rule

log = logging.getLogger("kubeling.apiserver.rbac")

RBAC_GROUP = "rbac.authorization.k8s.io"
KINDS = ("clusterroles", "roles", "clusterrolebindings", "rolebindings")
MAX_CACHED = 50_000  # decisions (and rule sets) kept per generation of the RBAC objects


def rbac_resource(plural: str) -> Resource:
    res = lookup(RBAC_GROUP, "v1", plural)
    assert res is not None
    return res


def subject_keys(user: User) -> list[str]:
    """The index keys a binding subject would have to match this user."""
    return ["u:" + user.name] + ["g:" + g for g in user.groups]


def _subject_key(subject: dict[str, Any], binding_ns: str) -> str | None:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return "u:" + name
    if kind == "Group":
        return "g:" + name
    if kind == "ServiceAccount":  # appliesToUser: the account's username, its namespace defaulting to the binding's
        return f"u:{SA_PREFIX}{subject.get('namespace') or binding_ns}:{name}"
    return None


class RBACAuthorizer:
    def __init__(self, store: Any) -> None:
        self.store = store
        self._objs: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in KINDS}
        self._watchers: dict[str, Watcher] = {}
        self.generation = 0
        self._built = -1
        self._cluster_roles: dict[str, list[Rule]] = {}
        self._roles: dict[tuple[str, str], list[Rule]] = {}
        self._crbs: dict[str, list[dict[str, Any]]] = {}  # subject key -> roleRefs
        self._rbs: dict[str, dict[str, list[dict[str, Any]]]] = {}  # namespace -> subject key -> roleRefs
        self._rules_cache: dict[tuple, tuple[list[Rule], list[str]]] = {}
        self._decisions: dict[tuple, bool] = {}
        for kind in KINDS:
            self._relist(kind)

    # ---- the index ----------------------------------------------------------------------------
    def _relist(self, kind: str) -> None:
        prefix = rbac_resource(kind).prefix(None)
        old = self._watchers.pop(kind, None)
        if old is not None:
            self.store.unwatch(old)
        entries, rev = self.store.list(prefix)
        self._objs[kind] = {e.key: e.obj() for e in entries}
        self._watchers[kind] = self.store.watch(prefix, rev)
        self.generation += 1

    def sync(self) -> None:
        """Apply the watch events that arrived since the last call (all of them are already committed)."""
        for kind, w in self._watchers.items():
            q = w.queue
            while not q.empty():
                ev = q.get_nowait()
                if ev is None:  # the watcher fell behind and was closed: start over from a list
                    self._relist(kind)
                    break
                if ev.type == DELETED:
                    self._objs[kind].pop(ev.entry.key, None)
                else:
                    self._objs[kind][ev.entry.key] = ev.entry.obj()
                self.generation += 1

    def _rebuild(self) -> None:
        if self._built == self.generation:
            return
        self._cluster_roles = {o["metadata"]["name"]: o.get("rules") or [] for o in self._objs["clusterroles"].values()}
        self._roles = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o.get("rules") or []
                       for o in self._objs["roles"].values()}
        self._crbs, self._rbs = {}, {}
        for kind, index in (("clusterrolebindings", None), ("rolebindings", self._rbs)):
            for b in self._objs[kind].values():
                ns = b["metadata"].get("namespace", "") if index is not None else ""
                target = self._crbs if index is None else index.setdefault(ns, {})
                for s in b.get("subjects") or ():
                    key = _subject_key(s, ns)
                    if key is not None:
                        target.setdefault(key, []).append(b.get("roleRef") or {})
        self._rules_cache.clear()
        self._decisions.clear()
        self._built = self.generation

    # ---- rules and decisions ------------------------------------------------------------------
    def _role_rules(self, ref: dict[str, Any], namespace: str) -> tuple[list[Rule] | None, str]:
        name = ref.get("name", "")
        if ref.get("kind") == "ClusterRole":
            found = self._cluster_roles.get(name)
            return found, f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
        found = self._roles.get((namespace, name)) if namespace else None
        return found, f'role.rbac.authorization.k8s.io "{name}" not found'

    def rules_for(self, user: User, namespace: str) -> tuple[list[Rule], list[str]]:
        """Every rule bound to `user` that applies in `namespace` ("" = cluster-wide only), and the
        resolution errors (bindings to roles that do not exist)."""
        self.sync()
        self._rebuild()
        key = (user.name, user.groups, namespace)
        hit = self._rules_cache.get(key)
        if hit is not None:
            return hit
        out: list[Rule] = []
        errs: list[str] = []
        keys = subject_keys(user)
        for index, ns in ((self._crbs, ""), (self._rbs.get(namespace, {}) if namespace else {}, namespace)):
            for k in keys:
                for ref in index.get(k, ()):
                    found, err = self._role_rules(ref, ns)
                    if found is None:
                        errs.append(err)
                    else:
                        out.extend(found)
        if len(self._rules_cache) >= MAX_CACHED:
            self._rules_cache.clear()
        self._rules_cache[key] = (out, errs)
        return out, errs

    def authorize(self, a: Attributes) -> tuple[bool, str]:
        """(allowed, reason): reason names unresolvable bindings, as upstream's "RBAC: ..." text."""
        self.sync()
        self._rebuild()
        key = (a.user.name, a.user.groups, a.verb, a.resource_request, a.path if not a.resource_request else "",
               a.api_group, a.namespace, a.resource, a.subresource, a.name)
        hit = self._decisions.get(key)
        if hit is not None:
            return hit, ""
        rules, errs = self.rules_for(a.user, a.namespace)
        allowed = any(rulelib.allows(a, r) for r in rules)
        if len(self._decisions) >= MAX_CACHED:
            self._decisions.clear()
        self._decisions[key] = allowed
        return allowed, ("RBAC: " + ", ".join(errs) if errs and not allowed else "")


class Authorizer:
    """The union the API server asks: system:masters, then the Node authorizer, then RBAC
    (`--authorization-mode=Node,RBAC`); AlwaysAllow when RBAC is off."""

    def __init__(self, rbac: RBACAuthorizer | None, node: Any = None) -> None:
        self.rbac = rbac
        self.node = node

    def authorize(self, a: Attributes) -> tuple[bool, str]:
        if self.rbac is None or MASTERS in a.user.groups:
            return True, ""
        if self.node is not None and self.node.authorize(a):
            return True, ""
        return self.rbac.authorize(a)

    def restrict(self, a: Attributes) -> None:
        """What NodeRestriction checks on deletes (admission sees creates and updates only)."""
        if self.node is not None:
            from .node import check_node_delete

            check_node_delete(self.node.store, a)

    def rules_for(self, user: User, namespace: str) -> tuple[list[Rule], list[str], bool]:
        """(rules, errors, complete) for SelfSubjectRulesReview."""
        if self.rbac is None:
            return [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                    {"verbs": ["*"], "nonResourceURLs": ["*"]}], [], True
        rules, errs = self.rbac.rules_for(user, namespace)
        return rules, errs, not errs
