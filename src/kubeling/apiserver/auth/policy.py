"""Create and reconcile the bootstrap policy at start, and aggregate ClusterRoles.

Reconciliation is upstream's `ensure` mode (registry/rbac/reconciliation): a missing object is
created; an existing one that does not say `rbac.authorization.kubernetes.io/autoupdate: "false"`
gets the bootstrap rules, subjects, labels and annotations it lacks, and keeps what users added.
Aggregation is the clusterrole-aggregation-controller: a ClusterRole with an `aggregationRule`
holds the union of the rules of the ClusterRoles its selectors match, ordered by their names.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ...api import errors
from ...api.selectors import from_label_selector_object
from ...store.base import Entry
from . import policy_data as data
from .rbac import RBAC_GROUP, rbac_resource

log = logging.getLogger("kubeling.apiserver.rbac")

AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}


def _meta(name: str, namespace: str = "", labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**BOOTSTRAP_LABELS, **(labels or {})},
                            "annotations": {AUTOUPDATE: "true"}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _subjects(specs: list[str]) -> list[dict[str, Any]]:
    out = []
    for s in specs:
        kind, name = s.split(":", 1)
        if kind == "ServiceAccount":
            ns, sa = name.split("/")
            out.append({"kind": kind, "name": sa, "namespace": ns})
        else:
            out.append({"kind": kind, "apiGroup": RBAC_GROUP, "name": name})
    return out


def cluster_roles() -> list[dict[str, Any]]:
    out = []
    for name, (label, own) in data.AGGREGATED.items():
        out.append({"metadata": _meta(name, labels=own),
                    "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {label: "true"}}]}})
    for name, rules in data.CLUSTER_ROLES.items():
        out.append({"metadata": _meta(name, labels=data.ROLE_LABELS.get(name)), "rules": rules})
    for name, rules in data.CONTROLLER_ROLES.items():
        out.append({"metadata": _meta("system:controller:" + name), "rules": rules})
    return out


def cluster_role_bindings() -> list[dict[str, Any]]:
    out = []
    items = [(n, role, subj) for n, (role, subj) in data.CLUSTER_ROLE_BINDINGS.items()]
    items += [("system:controller:" + n, "system:controller:" + n, [f"ServiceAccount:kube-system/{n}"])
              for n in data.CONTROLLER_ROLES]
    for name, role, subjects in items:
        b: dict[str, Any] = {"metadata": _meta(name),
                             "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role}}
        if subjects:
            b["subjects"] = _subjects(subjects)
        out.append(b)
    return out


def roles() -> list[dict[str, Any]]:
    return [{"metadata": _meta(name, ns), "rules": rules} for (ns, name), rules in data.ROLES.items()]


def role_bindings() -> list[dict[str, Any]]:
    return [{"metadata": _meta(name, ns), "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": role},
             "subjects": _subjects(subjects)} for (ns, name), (role, subjects) in data.ROLE_BINDINGS.items()]


def aggregate(clusterroles: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """For each ClusterRole with an aggregationRule: the rules it should hold. Aggregated roles
    may select each other (admin selects edit, which selects view): repeat to a fixed point, as
    the controller converges when its own writes come back as events."""
    roles = sorted(clusterroles, key=lambda o: o["metadata"]["name"])
    rules_of = {o["metadata"]["name"]: list(o.get("rules") or ()) for o in roles}
    aggregated = [(o["metadata"]["name"], [from_label_selector_object(s) for s in
                                           o["aggregationRule"].get("clusterRoleSelectors") or ()])
                  for o in roles if o.get("aggregationRule")]
    for _ in range(len(aggregated) + 1):
        changed = False
        for name, selectors in aggregated:
            rules: list[dict[str, Any]] = []
            for other in roles:
                other_name = other["metadata"]["name"]
                if other_name != name and any(s.matches(other["metadata"].get("labels") or {}) for s in selectors):
                    rules.extend(r for r in rules_of[other_name] if r not in rules)
            if rules != rules_of[name]:
                rules_of[name], changed = rules, True
        if not changed:
            break
    return {name: rules_of[name] for name, _ in aggregated}


def _identity(item: dict[str, Any]) -> Any:
    """A rule is itself; a subject is its kind, name and namespace."""
    if "kind" in item:
        return item.get("kind"), item.get("name"), item.get("namespace") or ""
    return item


def _merge(existing: dict[str, Any], wanted: dict[str, Any], list_field: str) -> dict[str, Any] | None:
    """The reconciled object, or None if it already holds everything wanted."""
    if (existing["metadata"].get("annotations") or {}).get(AUTOUPDATE) == "false":
        return None
    out = {**existing, "metadata": dict(existing["metadata"])}
    changed = False
    for key in ("labels", "annotations"):
        have = dict(existing["metadata"].get(key) or {})
        missing = {k: v for k, v in wanted["metadata"][key].items() if k not in have}
        if missing:
            out["metadata"][key] = {**have, **missing}
            changed = True
    have_items = list(existing.get(list_field) or [])
    have_keys = [_identity(x) for x in have_items]  # stored subjects carry defaults (apiGroup "")
    add = [x for x in wanted.get(list_field) or [] if _identity(x) not in have_keys]
    if add:
        out[list_field] = have_items + add
        changed = True
    if "aggregationRule" in wanted and existing.get("aggregationRule") != wanted["aggregationRule"]:
        out["aggregationRule"] = wanted["aggregationRule"]
        changed = True
    return out if changed else None


async def ensure(registry: Any, plural: str, wanted: dict[str, Any], list_field: str) -> None:
    from ..registry import DeleteOptions, WriteOptions

    res = rbac_resource(plural)
    meta = wanted["metadata"]
    opts = WriteOptions(field_manager="kube-apiserver")
    cur = registry.store.get(res.key(meta.get("namespace"), meta["name"]))
    try:
        if cur is None:
            await registry.create(res, meta.get("namespace"), wanted, opts)
            return
        existing = cur.obj()
        if plural.endswith("bindings") and existing.get("roleRef") != wanted["roleRef"]:
            if (existing["metadata"].get("annotations") or {}).get(AUTOUPDATE) != "false":
                log.warning("%s %s refers to another role: recreating it", res.kind, meta["name"])
                await registry.delete(res, meta.get("namespace"), meta["name"], DeleteOptions())
                await registry.create(res, meta.get("namespace"), wanted, opts)
            return
        merged = _merge(existing, wanted, list_field)
        if merged is not None:
            await registry.update(res, meta.get("namespace"), meta["name"], merged, opts)
    except errors.StatusError as e:
        if e.code not in (404, 409):
            raise


async def bootstrap(registry: Any) -> None:
    """Create or reconcile every bootstrap role and binding, then aggregate."""
    for obj in cluster_roles():
        await ensure(registry, "clusterroles", obj, "rules")
    for obj in roles():
        await ensure(registry, "roles", obj, "rules")
    for obj in cluster_role_bindings():
        await ensure(registry, "clusterrolebindings", obj, "subjects")
    for obj in role_bindings():
        await ensure(registry, "rolebindings", obj, "subjects")
    await reconcile_aggregation(registry)


async def reconcile_aggregation(registry: Any) -> None:
    from ..registry import WriteOptions

    res = rbac_resource("clusterroles")
    entries, _ = registry.store.list(res.prefix(None))
    current: dict[str, Entry] = {e.obj()["metadata"]["name"]: e for e in entries}
    for name, rules in aggregate([e.obj() for e in current.values()]).items():
        obj = current[name].obj()
        if (obj.get("rules") or []) != rules:
            try:
                await registry.update(res, None, name, {**obj, "rules": rules},
                                      WriteOptions(field_manager="clusterrole-aggregation-controller"))
            except errors.StatusError as e:
                if e.code not in (404, 409):
                    raise


async def run_aggregation(registry: Any) -> None:
    """The clusterrole-aggregation-controller: re-aggregate after every ClusterRole change."""
    res = rbac_resource("clusterroles")
    while True:
        w = registry.store.watch(res.prefix(None), registry.store.revision)
        try:
            async for _ in w.events():
                while not w.queue.empty() and w.queue.get_nowait() is not None:  # coalesce a burst
                    pass
                await reconcile_aggregation(registry)
        except asyncio.CancelledError:
            raise
        except Exception:  # one bad role never stops aggregation
            log.exception("clusterrole aggregation failed")
            await asyncio.sleep(1)
        finally:
            registry.store.unwatch(w)
