"""ResourceQuota admission (upstream plugin/pkg/admission/resourcequota): a create that would take
a namespace past a quota's `spec.hard` is refused with upstream's message,
`exceeded quota: <name>, requested: pods=1, used: pods=3, limited: pods=3`. Usage is counted from
the store at admission (the quota controller writes the same figures into `status`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...api import errors, quota
from ...api.quantity import Quantity, parse_quantity
from ...api.resources import RESOURCES, lookup
from ...store.derived import Derived
from ..admission import BasePlugin, Objects

if TYPE_CHECKING:
    from ...api.resources import Resource

QUOTAS = lookup("", "v1", "resourcequotas")
assert QUOTAS is not None
# a namespace's quotas, each with its parsed spec.hard
HARD: Derived[list[tuple[dict[str, Any], dict[str, Quantity]]]] = Derived(lambda entries: [
    (q, {k: parse_quantity(str(v)) for k, v in ((q.get("spec") or {}).get("hard") or {}).items()})
    for q in (e.obj() for e in entries)])


def _pretty(values: dict[str, Quantity]) -> str:
    return ",".join(f"{k}={values[k]}" for k in sorted(values))


def namespace_objects(store: Any, namespace: str, kinds: set[tuple[str, str]]) -> list[tuple[str, str, dict]]:
    """The (group, plural, object) of every object of these kinds in the namespace (each kind
    once, whatever versions serve it)."""
    out, seen = [], set()
    for r in RESOURCES:
        key = (r.group, r.plural)
        if key in kinds and key not in seen and r.namespaced:
            seen.add(key)
            out += [(r.group, r.plural, e.obj()) for e in store.list(r.prefix(namespace))[0]]
    return out


class ResourceQuotaAdmission(BasePlugin):
    kinds = tuple({(r.group, r.kind) for r in RESOURCES if r.namespaced and "create" in r.verbs})

    def admit_create(self, registry: "Objects", res: "Resource", obj: dict[str, Any], dry_run: bool) -> None:
        ns = (obj.get("metadata") or {}).get("namespace") or ""
        quotas = HARD.get(registry.store, QUOTAS.prefix(ns)) if ns else []
        for q, hard in quotas:
            if res.group == "" and res.plural == "pods":
                missing = quota.missing_compute(obj, hard)
                if missing:
                    raise errors.forbidden(res.plural, obj["metadata"].get("name", ""), res.group,
                                           f"failed quota: {q['metadata']['name']}: must specify {'; '.join(missing)}")
            requested = quota.usage(res.group, res.plural, obj, hard)
            if not requested:
                continue
            used = quota.total(namespace_objects(registry.store, ns, quota.tracked(requested)), requested)
            over = [n for n, amount in requested.items() if used[n] + amount > hard[n]]
            if over:
                raise errors.forbidden(res.plural, obj["metadata"].get("name", ""), res.group, (
                    f"exceeded quota: {q['metadata']['name']}, requested: {_pretty({n: requested[n] for n in over})}, "
                    f"used: {_pretty({n: used[n] for n in over})}, limited: {_pretty({n: hard[n] for n in over})}"))
