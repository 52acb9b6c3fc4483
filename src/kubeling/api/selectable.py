"""What each kind's field selectors read from an object: upstream's registry `GetAttrs` /
`ToSelectableFields` per kind, as getters straight on the JSON object (an absent field reads as
"", like a missing fields.Set entry)."""

from __future__ import annotations

from typing import Any, Callable, Mapping

Getter = Callable[[Mapping[str, Any]], str]


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _path(*keys: str) -> Getter:
    """A getter for a nested field; absent reads as "" (like a missing fields.Set entry)."""
    if len(keys) == 1:
        (k,) = keys

        def get1(obj: Mapping[str, Any]) -> str:
            v = obj.get(k)
            return v if type(v) is str else _fmt(v)
        return get1
    if len(keys) == 2:
        k1, k2 = keys

        def get2(obj: Mapping[str, Any]) -> str:
            sub = obj.get(k1)
            if type(sub) is not dict:
                return ""
            v = sub.get(k2)
            return v if type(v) is str else _fmt(v)
        return get2

    def get(obj: Mapping[str, Any]) -> str:
        cur: Any = obj
        for k in keys:
            if not isinstance(cur, dict):
                return ""
            cur = cur.get(k)
        return _fmt(cur)
    return get


def _ref(field: str) -> Getter:
    """involvedObject.<field> of a stored (core/v1) Event."""
    def get(obj: Mapping[str, Any]) -> str:
        ref = obj.get("involvedObject")
        if type(ref) is not dict:
            return ""
        v = ref.get(field)
        return v if type(v) is str else _fmt(v)
    return get


def _go_bool(*keys: str) -> Getter:
    inner = _path(*keys)
    return lambda obj: "true" if inner(obj) == "true" else "false"


def _go_int(*keys: str) -> Getter:
    inner = _path(*keys)
    return lambda obj: inner(obj) or "0"


def _pod_ip(obj: Mapping[str, Any]) -> str:
    status = obj.get("status") or {}
    ips = status.get("podIPs") or []
    if ips:
        return (ips[0] or {}).get("ip") or ""
    return status.get("podIP") or ""


def _first(*getters: Getter) -> Getter:
    def get(obj: Mapping[str, Any]) -> str:
        for g in getters:
            v = g(obj)
            if v:
                return v
        return ""
    return get


def _event_fields() -> dict[str, Getter]:
    """EventToSelectableFields on the stored shape: every Event is stored as a core/v1 Event
    (its storage version), and events.k8s.io field labels convert to these names."""
    fields = {f"involvedObject.{k}": _ref(k)
              for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
    reporting = _path("reportingComponent")
    fields.update({
        "reason": _path("reason"),
        "reportingComponent": reporting,
        "source": _first(_path("source", "component"), reporting),
        "type": _path("type"),
    })
    return fields


FIELDS: dict[tuple[str, str], dict[str, Getter]] = {
    ("", "Pod"): {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.host": _path("spec", "nodeName"),  # legacy alias, for a selector matched without for_kind()
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": _go_bool("spec", "hostNetwork"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _pod_ip,
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    ("", "Node"): {"spec.unschedulable": _go_bool("spec", "unschedulable")},
    ("", "ReplicationController"): {"status.replicas": _go_int("status", "replicas")},
    ("", "Event"): _event_fields(),
    ("events.k8s.io", "Event"): _event_fields(),
    ("", "Namespace"): {"status.phase": _path("status", "phase"), "name": _path("metadata", "name")},
    ("", "Secret"): {"type": _path("type")},
    ("", "Service"): {"spec.clusterIP": _path("spec", "clusterIP"), "spec.type": _path("spec", "type")},
    ("apps", "ReplicaSet"): {"status.replicas": _go_int("status", "replicas")},
    ("batch", "Job"): {"status.successful": _go_int("status", "succeeded")},
    ("certificates.k8s.io", "CertificateSigningRequest"): {"spec.signerName": _path("spec", "signerName")},
}
META: dict[str, Getter] = {"metadata.name": _path("metadata", "name"),
                           "metadata.namespace": _path("metadata", "namespace")}
