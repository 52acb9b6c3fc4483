"""Semantic validation of API objects, ported from upstream Kubernetes v1.32.

One module per API group (core, pod, apps, batch, other) on shared field and meta rules;
`validate` picks the kind's validator. Strict field validation (unknown and duplicate fields)
lives in `strict`.
"""

from __future__ import annotations

from typing import Callable

from .apps import validate_daemon_set, validate_deployment, validate_replica_set, validate_stateful_set
from .batch import validate_cron_job, validate_job
from .core import validate_meta, validate_config_map, validate_event, validate_namespace, validate_node, validate_secret, validate_service
from .field import Causes, dict_of, name_is_dns_subdomain, nonnegative
from .meta import validate_object_meta_update
from .other import validate_apiservice, validate_endpoint_slice, validate_generic, validate_hpa, validate_ingress, validate_lease, validate_network_policy, validate_pdb, validate_role, validate_role_binding, validate_scale
from .pod import validate_pod


# ---------------------------------------------------------------------------------------------
# dispatch

Validator = Callable[[dict, "dict | None", str], Causes]

_VALIDATORS: dict[tuple[str, str], Validator] = {
    ("", "Pod"): lambda o, old, v: validate_pod(o, old),
    ("", "ConfigMap"): lambda o, old, v: validate_config_map(o, old),
    ("", "Secret"): lambda o, old, v: validate_secret(o, old),
    ("", "Namespace"): lambda o, old, v: validate_namespace(o, old),
    ("", "Service"): lambda o, old, v: validate_service(o, old),
    ("", "Node"): lambda o, old, v: validate_node(o, old),
    ("", "Event"): lambda o, old, v: validate_event(o, old, v),
    ("", "ServiceAccount"): lambda o, old, v: validate_meta(o, old, True, name_is_dns_subdomain),
    ("apps", "Deployment"): lambda o, old, v: validate_deployment(o, old),
    ("apps", "ReplicaSet"): lambda o, old, v: validate_replica_set(o, old),
    ("apps", "DaemonSet"): lambda o, old, v: validate_daemon_set(o, old),
    ("apps", "StatefulSet"): lambda o, old, v: validate_stateful_set(o, old),
    ("batch", "Job"): lambda o, old, v: validate_job(o, old),
    ("batch", "CronJob"): lambda o, old, v: validate_cron_job(o, old),
    ("autoscaling", "HorizontalPodAutoscaler"): lambda o, old, v: validate_hpa(o, old, v),
    ("autoscaling", "Scale"): lambda o, old, v: validate_scale(o, old),
    ("policy", "PodDisruptionBudget"): lambda o, old, v: validate_pdb(o, old),
    ("coordination.k8s.io", "Lease"): lambda o, old, v: validate_lease(o, old),
    ("discovery.k8s.io", "EndpointSlice"): lambda o, old, v: validate_endpoint_slice(o, old),
    ("events.k8s.io", "Event"): lambda o, old, v: validate_event(o, old, v, events_group=True),
    ("rbac.authorization.k8s.io", "Role"): lambda o, old, v: validate_role(o, old, False),
    ("rbac.authorization.k8s.io", "ClusterRole"): lambda o, old, v: validate_role(o, old, True),
    ("rbac.authorization.k8s.io", "RoleBinding"): lambda o, old, v: validate_role_binding(o, old, False),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): lambda o, old, v: validate_role_binding(o, old, True),
    ("networking.k8s.io", "NetworkPolicy"): lambda o, old, v: validate_network_policy(o, old),
    ("networking.k8s.io", "Ingress"): lambda o, old, v: validate_ingress(o, old),
    ("apiregistration.k8s.io", "APIService"): lambda o, old, v: validate_apiservice(o, old),
}


def validate(group: str, version: str, kind: str, obj: dict, old: dict | None = None) -> Causes:
    """All field causes for a create (`old` None) or an update of `obj`; [] when valid.

    Run after defaulting, as upstream does (rest.BeforeCreate / BeforeUpdate).
    """
    fn = _VALIDATORS.get((group, kind))
    if fn is not None:
        return fn(obj, old, version)
    from kubeling.api import resources

    res = resources.by_kind(group, version, kind)
    return validate_generic(obj, old, res.namespaced if res else True)


def validate_status_update(group: str, version: str, kind: str, obj: dict, old: dict) -> Causes:
    """Status subresource writes: only metadata identity and a few status rules are checked."""
    out = validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    st = dict_of(obj.get("status"))
    if kind in ("Deployment", "ReplicaSet", "StatefulSet") and group == "apps":
        for key in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas",
                    "currentReplicas", "fullyLabeledReplicas", "observedGeneration", "collisionCount"):
            out += nonnegative(st.get(key), f"status.{key}")
    return out
