"""One record of rules per kind, as upstream's `registry/<group>/<kind>/strategy.go`.

A kind's record says how it is defaulted and validated, what PrepareForCreate resets, whether it
tracks `metadata.generation`, what its status looks like right after create, which metadata a
status write may not change, whether DELETE answers with the object, which version it is
stored in, how `kubectl get` prints it (its Table printer, api/printers) and what its field
selectors read (its selectable fields, api/selectable.py: upstream's GetAttrs). `Resource.strategy` (api/resources.py) reaches it from the kind's row; the registry
calls these hooks and everything else about a write is generic. Kinds without a row get the
generic rules (ObjectMeta validation only).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from . import crd
from . import defaults as d
from . import printers, selectable
from .printers.columns import Handler
from .selectable import Getter
from .validation import admission_policy, apps, batch, core, other, pod
from .validation.field import Causes, name_is_dns_subdomain

Obj = dict[str, Any]
Defaulter = Callable[[Obj, str], None]  # (object, served version)
Validator = Callable[[Obj, "Obj | None", str], Causes]  # (object, old object or None, served version)

# Metadata no status write may change (the rest of the write's metadata is kept).
_STATUS_PINNED = ("deletionTimestamp", "deletionGracePeriodSeconds", "finalizers")


@dataclass(frozen=True)
class Strategy:
    defaults: Defaulter | None = None
    validate: Validator | None = None
    prepare_for_create: Callable[[Obj], None] | None = None  # the kind's own PrepareForCreate step
    initial_status: Any = None  # status on create (PrepareForCreate drops what the client sent)
    generation: bool = False  # metadata.generation starts at 1 and counts spec changes
    status_pinned: tuple[str, ...] = _STATUS_PINNED
    returns_deleted_object: bool = False  # registries with ReturnDeletedObject: true
    # apiVersion objects are stored in, converted to on write (None: the one version served).
    # Objects an older kubeling stored in another version are converted when read.
    storage_version: str | None = None
    printer: Handler | None = None  # the kind's Table columns and cells (None: Name, Created At)
    # field label -> value read from the stored object, besides metadata.name/namespace
    selectable_fields: Mapping[str, Getter] = field(default_factory=dict)

    def default(self, obj: Obj, version: str) -> None:
        """Default `obj` in place, as upstream's decoder does for every write (create/update/patch)."""
        if self.defaults is not None:
            self.defaults(obj, version)

    def check(self, obj: Obj, old: Obj | None, version: str, namespaced: bool) -> Causes:
        """All field causes for a create (`old` None) or an update of `obj`; [] when valid. Kinds
        without a validator get ObjectMeta's rules (`namespaced` says which).

        Run after defaulting, as upstream does (rest.BeforeCreate / BeforeUpdate).
        """
        if self.validate is not None:
            return self.validate(obj, old, version)
        return other.validate_generic(obj, old, namespaced)

    def prepare(self, obj: Obj) -> None:
        """Strategy PrepareForCreate, run after uid/name are set and before validation: generation 1,
        the kind's own step, then the initial status of kinds with a status subresource."""
        if self.generation:
            obj.setdefault("metadata", {})["generation"] = 1
        if self.prepare_for_create is not None:
            self.prepare_for_create(obj)
        if self.initial_status is not None:
            obj["status"] = copy.deepcopy(self.initial_status)


def _namespace_create(ns: Obj) -> None:
    """namespaceStrategy.PrepareForCreate: phase Active and the `kubernetes` finalizer."""
    ns["status"] = {"phase": "Active"}
    spec = ns.get("spec")
    if spec is None:
        spec = ns["spec"] = {}
    fins = spec.get("finalizers") or []
    if "kubernetes" not in fins:
        spec["finalizers"] = [*fins, "kubernetes"]


def _pod_create(p: Obj) -> None:
    """podStrategy.PrepareForCreate: status {phase: Pending, qosClass}."""
    p["status"] = {"phase": "Pending", "qosClass": d.pod_qos_class(p)}


def _job_create(job: Obj) -> None:
    """jobStrategy.PrepareForCreate: a generated selector unless spec.manualSelector."""
    if (job.get("spec") or {}).get("manualSelector") is not True:
        d.generate_job_selector(job)


_WORKLOAD_PINNED = _STATUS_PINNED + ("labels",)  # workload status strategies reset labels

_RULES: dict[tuple[str, str], Strategy] = {
    # core/v1
    ("", "Pod"): Strategy(d.pod_defaults, lambda o, old, v: pod.validate_pod(o, old), _pod_create,
                          status_pinned=_STATUS_PINNED + ("ownerReferences",), returns_deleted_object=True),
    ("", "PodTemplate"): Strategy(d.pod_template_defaults),
    ("", "ReplicationController"): Strategy(d.replication_controller_defaults, initial_status={"replicas": 0},
                                            generation=True, status_pinned=_WORKLOAD_PINNED),
    ("", "Service"): Strategy(d.service_defaults, lambda o, old, v: core.validate_service(o, old),
                              initial_status={"loadBalancer": {}}, returns_deleted_object=True),
    ("", "Secret"): Strategy(d.secret_defaults, lambda o, old, v: core.validate_secret(o, old)),
    ("", "ConfigMap"): Strategy(validate=lambda o, old, v: core.validate_config_map(o, old)),
    ("", "Namespace"): Strategy(d.namespace_defaults, lambda o, old, v: core.validate_namespace(o, old),
                                _namespace_create, returns_deleted_object=True),
    ("", "Node"): Strategy(d.node_defaults, lambda o, old, v: core.validate_node(o, old)),
    ("", "Endpoints"): Strategy(d.endpoints_defaults),
    ("", "Event"): Strategy(validate=lambda o, old, v: core.validate_event(o, old, v), storage_version="v1"),
    ("", "ServiceAccount"): Strategy(validate=lambda o, old, v: core.validate_meta(o, old, True, name_is_dns_subdomain),
                                     returns_deleted_object=True),
    ("", "PersistentVolume"): Strategy(d.pv_defaults, initial_status={"phase": "Pending"},
                                       returns_deleted_object=True),
    ("", "PersistentVolumeClaim"): Strategy(d.pvc_defaults, initial_status={"phase": "Pending"},
                                            returns_deleted_object=True),
    ("", "LimitRange"): Strategy(d.limit_range_defaults),
    # apps/v1
    ("apps", "Deployment"): Strategy(d.deployment_defaults, lambda o, old, v: apps.validate_deployment(o, old),
                                     initial_status={}, generation=True, status_pinned=_WORKLOAD_PINNED),
    ("apps", "ReplicaSet"): Strategy(d.replica_set_defaults, lambda o, old, v: apps.validate_replica_set(o, old),
                                     initial_status={"replicas": 0}, generation=True, status_pinned=_WORKLOAD_PINNED),
    ("apps", "StatefulSet"): Strategy(d.stateful_set_defaults, lambda o, old, v: apps.validate_stateful_set(o, old),
                                      initial_status={"replicas": 0, "availableReplicas": 0}, generation=True,
                                      status_pinned=_WORKLOAD_PINNED),
    ("apps", "DaemonSet"): Strategy(d.daemon_set_defaults, lambda o, old, v: apps.validate_daemon_set(o, old),
                                    initial_status={"currentNumberScheduled": 0, "numberMisscheduled": 0,
                                                    "desiredNumberScheduled": 0, "numberReady": 0},
                                    generation=True, status_pinned=_WORKLOAD_PINNED),
    ("apps", "ControllerRevision"): Strategy(status_pinned=_WORKLOAD_PINNED),
    # batch/v1
    ("batch", "Job"): Strategy(d.job_defaults, lambda o, old, v: batch.validate_job(o, old), _job_create,
                               initial_status={}, generation=True, status_pinned=_WORKLOAD_PINNED),
    ("batch", "CronJob"): Strategy(d.cron_job_defaults, lambda o, old, v: batch.validate_cron_job(o, old),
                                   initial_status={}, generation=True, status_pinned=_WORKLOAD_PINNED),
    # the other groups
    ("autoscaling", "HorizontalPodAutoscaler"): Strategy(
        d.hpa_defaults, lambda o, old, v: other.validate_hpa(o, old, v),
        initial_status={"currentReplicas": 0, "desiredReplicas": 0}, storage_version="autoscaling/v2"),
    ("autoscaling", "Scale"): Strategy(validate=lambda o, old, v: other.validate_scale(o, old)),
    ("policy", "PodDisruptionBudget"): Strategy(
        validate=lambda o, old, v: other.validate_pdb(o, old), generation=True,
        initial_status={"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}),
    ("coordination.k8s.io", "Lease"): Strategy(validate=lambda o, old, v: other.validate_lease(o, old)),
    ("discovery.k8s.io", "EndpointSlice"): Strategy(d.endpoint_slice_defaults,
                                                    lambda o, old, v: other.validate_endpoint_slice(o, old)),
    ("events.k8s.io", "Event"): Strategy(validate=lambda o, old, v: core.validate_event(o, old, v, events_group=True),
                                         storage_version="v1"),  # stored as core Events, as upstream
    ("rbac.authorization.k8s.io", "Role"): Strategy(validate=lambda o, old, v: other.validate_role(o, old, False)),
    ("rbac.authorization.k8s.io", "ClusterRole"): Strategy(validate=lambda o, old, v: other.validate_role(o, old, True)),
    ("rbac.authorization.k8s.io", "RoleBinding"): Strategy(
        d.binding_defaults, lambda o, old, v: other.validate_role_binding(o, old, False)),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): Strategy(
        d.binding_defaults, lambda o, old, v: other.validate_role_binding(o, old, True)),
    ("networking.k8s.io", "NetworkPolicy"): Strategy(d.network_policy_defaults,
                                                     lambda o, old, v: other.validate_network_policy(o, old),
                                                     generation=True),
    ("networking.k8s.io", "Ingress"): Strategy(validate=lambda o, old, v: other.validate_ingress(o, old),
                                               initial_status={"loadBalancer": {}}),
    ("networking.k8s.io", "IngressClass"): Strategy(d.ingress_class_defaults),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): Strategy(
        validate=lambda o, old, v: admission_policy.validate_webhook_configuration(o, old), generation=True),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): Strategy(
        validate=lambda o, old, v: admission_policy.validate_webhook_configuration(o, old), generation=True),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): Strategy(
        admission_policy.policy_defaults, lambda o, old, v: admission_policy.validate_policy(o, old),
        initial_status={}, generation=True),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): Strategy(
        admission_policy.binding_defaults, lambda o, old, v: admission_policy.validate_binding(o, old),
        generation=True),
    ("apiregistration.k8s.io", "APIService"): Strategy(validate=lambda o, old, v: other.validate_apiservice(o, old)),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): Strategy(
        lambda o, v: crd.apply_defaults(o), lambda o, old, v: crd.validate(o, old),
        lambda o: o.pop("status", None), generation=True),  # status: the CRD server's (apiserver/crds.py)
}

_GENERIC = Strategy()


def _with_tables(rules: dict[tuple[str, str], Strategy]) -> dict[tuple[str, str], Strategy]:
    """Each record with its kind's printer and selectable fields, from their declarative tables."""
    kinds = set(rules) | set(printers.HANDLERS) | set(selectable.FIELDS)
    return {k: replace(rules.get(k, _GENERIC), printer=printers.HANDLERS.get(k),
                       selectable_fields=selectable.FIELDS.get(k, {})) for k in kinds}


_STRATEGIES = _with_tables(_RULES)


def of(group: str, kind: str) -> Strategy:
    """The kind's record (the generic rules when it has none)."""
    return _STRATEGIES.get((group, kind), _GENERIC)


def apply_defaults(group: str, version: str, kind: str, obj: Obj) -> None:
    """The kind's defaults (Strategy.default), looked up by group and kind."""
    of(group, kind).default(obj, version)


def validate(group: str, version: str, kind: str, obj: Obj, old: Obj | None = None, namespaced: bool = True) -> Causes:
    """The kind's validation (Strategy.check), looked up by group and kind."""
    return of(group, kind).check(obj, old, version, namespaced)


def prepare_for_create(group: str, kind: str, obj: Obj) -> None:
    """The kind's PrepareForCreate (Strategy.prepare), looked up by group and kind."""
    of(group, kind).prepare(obj)


def spec_changed(old: Obj, new: Obj) -> bool:
    """What counts as a spec change for generation: everything but metadata and status."""
    for k in set(old) | set(new):
        if k in ("metadata", "status", "apiVersion", "kind"):
            continue
        if old.get(k) != new.get(k):
            return True
    return False


def pod_grace_period(p: Obj, requested: int | None) -> int:
    """Upstream pod strategy CheckGracefulDelete: unscheduled or terminal pods go at once."""
    spec = p.get("spec", {})
    if requested is None:
        requested = spec.get("terminationGracePeriodSeconds", 30)
    if not spec.get("nodeName"):
        return 0
    if p.get("status", {}).get("phase") in ("Failed", "Succeeded"):
        return 0
    return max(int(requested), 0)
