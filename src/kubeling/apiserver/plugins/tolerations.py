"""DefaultTolerationSeconds admission (upstream plugin/pkg/admission/defaulttolerationseconds).

Every pod tolerates the node-lifecycle NoExecute taints `not-ready` and `unreachable` for 300 s
unless it already says something about them, so pods on a failed node are evicted after 5 min.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..admission import BasePlugin, Objects

if TYPE_CHECKING:
    from ...api.resources import Resource

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_SECONDS = 300


def _tolerates(tolerations: list[dict[str, Any]], key: str) -> bool:
    """An empty key or effect counts as matching, as upstream checks."""
    return any(t.get("key", "") in (key, "") and t.get("effect", "") in ("NoExecute", "")
               for t in tolerations)


def add_default_tolerations(pod: dict[str, Any], not_ready: int = DEFAULT_SECONDS,
                            unreachable: int = DEFAULT_SECONDS) -> None:
    spec = pod.setdefault("spec", {})
    tolerations = list(spec.get("tolerations") or [])
    added = False
    for key, secs in ((NOT_READY, not_ready), (UNREACHABLE, unreachable)):
        if not _tolerates(tolerations, key):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": secs})
            added = True
    if added:
        spec["tolerations"] = tolerations


class DefaultTolerationSeconds(BasePlugin):
    kinds = (("", "Pod"),)

    def __init__(self, not_ready: int = DEFAULT_SECONDS, unreachable: int = DEFAULT_SECONDS) -> None:
        self.not_ready, self.unreachable = not_ready, unreachable

    def admit_create(self, registry: "Objects", res: "Resource", obj: dict[str, Any], dry_run: bool) -> None:
        add_default_tolerations(obj, self.not_ready, self.unreachable)

    def admit_update(self, registry: "Objects", res: "Resource", old: dict[str, Any], new: dict[str, Any],
                     dry_run: bool) -> None:
        add_default_tolerations(new, self.not_ready, self.unreachable)
