"""No privilege escalation through RBAC objects (upstream registry/rbac/*/policybased).

Writing a Role or ClusterRole needs the `escalate` verb on it, or every rule it grants must
already be held by the writer (in that namespace); an aggregationRule needs full authority.
Writing a binding needs the `bind` verb on the role it refers to, or the writer must hold every
rule of that role. Members of system:masters, and the API server's own writes, may do anything.
"""

from __future__ import annotations

from typing import Any

from ...api import errors
from ...identity import MASTERS, User
from ..admission import BasePlugin
from . import rules as rulelib
from .attributes import Attributes
from .rbac import RBAC_GROUP, Authorizer
from .user import current_user

FULL_AUTHORITY = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, {"verbs": ["*"], "nonResourceURLs": ["*"]}]


class RBACEscalationCheck(BasePlugin):
    kinds = tuple((RBAC_GROUP, k) for k in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"))

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    def admit_create(self, registry: Any, res: Any, obj: dict[str, Any], dry_run: bool) -> None:
        self._check(res, obj)

    def admit_update(self, registry: Any, res: Any, old: dict[str, Any], new: dict[str, Any], dry_run: bool) -> None:
        fields = ("rules", "aggregationRule") if res.kind.endswith("Role") else ("roleRef", "subjects")
        if any(old.get(f) != new.get(f) for f in fields):
            self._check(res, new)

    # ---- checks -------------------------------------------------------------------------------
    def _check(self, res: Any, obj: dict[str, Any]) -> None:
        user = current_user.get()
        if user is None or MASTERS in user.groups or self.authorizer.rbac is None:
            return
        meta = obj.get("metadata") or {}
        name, ns = meta.get("name", ""), meta.get("namespace", "") if res.namespaced else ""
        if res.kind.endswith("Binding"):
            self._check_binding(res, user, name, ns, obj.get("roleRef") or {})
        else:
            self._check_role(res, user, name, ns, obj)

    def _allowed(self, user: User, verb: str, resource: str, name: str, ns: str) -> bool:
        a = Attributes(user, verb, True, "", RBAC_GROUP, "v1", ns, resource, "", name)
        return self.authorizer.authorize(a)[0]

    def _check_role(self, res: Any, user: User, name: str, ns: str, obj: dict[str, Any]) -> None:
        if self._allowed(user, "escalate", res.plural, name, ns):
            return
        err = self._no_escalation(user, ns, obj.get("rules") or [])
        if err:
            raise errors.forbidden(res.plural, name, RBAC_GROUP, err)
        if obj.get("aggregationRule") and self._no_escalation(user, ns, FULL_AUTHORITY):
            raise errors.forbidden(res.plural, name, RBAC_GROUP,
                                   "must have cluster-admin privileges to use the aggregationRule")

    def _check_binding(self, res: Any, user: User, name: str, ns: str, ref: dict[str, Any]) -> None:
        role_resource = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
        if self._allowed(user, "bind", role_resource, ref.get("name", ""), ns):
            return
        rbac = self.authorizer.rbac
        assert rbac is not None
        rbac.rules_for(user, ns)  # brings the index up to date
        rules, not_found = rbac._role_rules(ref, ns)
        if rules is None:
            raise errors.forbidden(res.plural, name, RBAC_GROUP, not_found)
        err = self._no_escalation(user, ns, rules)
        if err:
            raise errors.forbidden(res.plural, name, RBAC_GROUP, err)

    def _no_escalation(self, user: User, ns: str, rules: list[dict[str, Any]]) -> str:
        """validation.ConfirmNoEscalation: "" when the user holds every rule, else upstream's text."""
        owner, resolution_errors, _ = self.authorizer.rules_for(user, ns)
        missing = rulelib.uncovered(owner, rules)
        if not missing:
            return ""
        lines = sorted({rulelib.compact_string(r) for r in rulelib.compact(missing)})
        msg = (f"user \"{user.name}\" (groups={rulelib.go_quote_list(user.groups)}) is attempting to grant RBAC "
               f"permissions not currently held:\n" + "\n".join(lines))
        if resolution_errors:
            msg += f"; resolution errors: [{', '.join(resolution_errors)}]"
        return msg
