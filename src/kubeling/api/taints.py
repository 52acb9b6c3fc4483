"""Taints and tolerations (k8s.io/api/core/v1 Toleration.ToleratesTaint), shared by the scheduler
and the taint-eviction controller."""

from __future__ import annotations

from typing import Any


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    """Effect (empty matches all), key (empty + Exists matches all), then operator Exists, or
    Equal (the default) with the same value."""
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    if toleration.get("key") and toleration.get("key") != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False
