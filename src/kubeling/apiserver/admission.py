"""Admission: per-kind plugins that mutate or reject writes inside the API server.

Upstream splits this between admission plugins (ServiceAccount, DefaultTolerationSeconds,
Priority, NamespaceLifecycle...) and registry REST hooks (Service ClusterIP / NodePort
allocation). Both are the same thing here: a plugin registered for (group, kind) that the
registry calls after defaulting and before validation, plus a hook after a delete (to release
what was allocated). Plugins raise `StatusError` to reject.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..api.resources import Resource


class Objects(Protocol):
    """What a plugin sees of the registry that calls it: the store, to read other objects.

    Plugins depend on this, not on the registry, so the registry can import the chain."""

    store: Any


class Plugin(Protocol):
    kinds: tuple[tuple[str, str], ...]  # (group, kind) pairs this plugin handles

    def admit_create(self, registry: "Objects", res: "Resource", obj: dict[str, Any], dry_run: bool) -> None: ...

    def admit_update(self, registry: "Objects", res: "Resource", old: dict[str, Any], new: dict[str, Any],
                     dry_run: bool) -> None: ...

    def after_delete(self, registry: "Objects", res: "Resource", obj: dict[str, Any]) -> None: ...


class BasePlugin:
    """Convenience base: every hook is a no-op unless overridden."""

    kinds: tuple[tuple[str, str], ...] = ()

    def admit_create(self, registry: "Objects", res: "Resource", obj: dict[str, Any], dry_run: bool) -> None:
        return None

    def admit_update(self, registry: "Objects", res: "Resource", old: dict[str, Any], new: dict[str, Any],
                     dry_run: bool) -> None:
        return None

    def after_delete(self, registry: "Objects", res: "Resource", obj: dict[str, Any]) -> None:
        return None


@dataclass
class Chain:
    """The ordered plugins, indexed by kind."""

    plugins: list[Plugin]
    webhooks: Any = None  # plugins.webhooks.Webhooks: the only admission that awaits (HTTPS calls)
    policies: Any = None  # plugins.policy.ValidatingAdmissionPolicies (CEL), with the validating webhooks

    def __post_init__(self) -> None:
        self._by_kind: dict[tuple[str, str], list[Plugin]] = {}
        for p in self.plugins:
            for k in p.kinds:
                self._by_kind.setdefault(k, []).append(p)

    def for_kind(self, res: "Resource") -> list[Plugin]:
        return self._by_kind.get((res.group, res.kind), [])

    def admit_create(self, registry: "Objects", res: "Resource", obj: dict[str, Any], dry_run: bool) -> None:
        for p in self.for_kind(res):
            p.admit_create(registry, res, obj, dry_run)

    def admit_update(self, registry: "Objects", res: "Resource", old: dict[str, Any], new: dict[str, Any],
                     dry_run: bool) -> None:
        for p in self.for_kind(res):
            p.admit_update(registry, res, old, new, dry_run)

    def after_delete(self, registry: "Objects", res: "Resource", obj: dict[str, Any]) -> None:
        for p in self.for_kind(res):
            p.after_delete(registry, res, obj)

    async def call_webhooks(self, registry: "Objects", res: "Resource", obj: dict[str, Any],
                            old: dict[str, Any] | None, dry_run: bool, mutating: bool) -> None:
        """Mutating webhooks after the built-in plugins; after validation, ValidatingAdmissionPolicies
        then validating webhooks (upstream's plugin order)."""
        if not mutating and self.policies is not None:
            self.policies.admit(registry, res, obj, old, dry_run)
        if self.webhooks is not None:
            await self.webhooks.admit(registry, res, obj, old, dry_run, mutating)

    def validate_delete(self, registry: "Objects", res: "Resource", obj: dict[str, Any], dry_run: bool) -> None:
        """A DELETE's validating admission: ValidatingAdmissionPolicies see `oldObject` only."""
        if self.policies is not None:
            self.policies.admit(registry, res, None, obj, dry_run)
