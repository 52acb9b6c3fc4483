"""Server-side `meta.k8s.io/v1 Table` printing: the columns and cells of `kubectl get`.

kubectl renders whatever Table the server returns, so the columns, cell values and cell *types*
(ints stay ints) are ported from upstream v1.32 `pkg/printers/internalversion/printers.go`.
The server always prints "wide" (`GenerateOptions{Wide: true}`); kubectl hides priority>0
columns unless `-o wide`. Kinds without an upstream printer (Role, ClusterRole, LimitRange, ...)
get the generic apiserver table: `Name`, `Created At`.

Everything here is a pure function of (object, now). Ages follow apimachinery
`duration.HumanDuration`. Tables of thousands of rows are a hot path (`kubectl get` on a big
namespace), so row work is kept minimal: one dict lookup per kind, timestamps parsed once and
ages memoised per table.

The package: `fmt` (ages, timestamps, labels; selectors print with api/selectors.py), `columns` (column definitions, the Handler
record), one module of printers per group (`pod`, `core`, `workloads`, `other`), and here the
handler table and the Table itself.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from .columns import (AGE, CONTAINERS, CREATED_AT, Col, IMAGES, NAME, APPS_DEF, CORE_DEF, Handler, described,
                      default_row, name_col)
from .core import (config_map_row, endpoints_row, event_row, events_k8s_io_event_row, namespace_row, node_row, pv_row,
                   pvc_row, resource_quota_row, secret_row, service_row, service_account_row)
from .fmt import TABLE_API_VERSION, Clock, EMPTY
from .other import (apiservice_row, endpoint_slice_row, hpa_row, ingress_row, ingress_class_row, lease_row,
                    network_policy_row, pdb_row, priority_class_row, role_binding_row, storage_class_row,
                    validating_admission_policy_binding_row, validating_admission_policy_row)
from .pod import pod_row, pod_conditions, pod_template_row
from .workloads import (controller_revision_row, cron_job_row, daemon_set_row, deployment_row, job_row, rc_row,
                        replica_set_row, stateful_set_row)


# ---------------------------------------------------------------- the handler table

def _sel(definition: str, field: str) -> Col:
    return Col("Selector", "string", described(definition, field), 1)


_DEFAULT = Handler((NAME, CREATED_AT), default_row)

def _replicated_columns(kind: str) -> tuple[Col, ...]:
    """ReplicaSet / ReplicationController columns: same names, descriptions from each kind's types."""
    return (
        NAME,
        Col("Desired", "integer", described(kind + "Spec", "replicas")),
        Col("Current", "integer", described(kind + "Status", "replicas")),
        Col("Ready", "integer", described(kind + "Status", "readyReplicas")),
        AGE, CONTAINERS, IMAGES, _sel(kind + "Spec", "selector"),
    )


HANDLERS: dict[tuple[str, str], Handler] = {
    ("", "Pod"): Handler((
        NAME,
        Col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
        Col("Status", "string", "The aggregate status of the containers in this pod."),
        Col("Restarts", "string", "The number of times the containers in this pod have been restarted and when "
                                  "the last container in this pod has restarted."),
        AGE,
        Col("IP", "string", described(CORE_DEF + "PodStatus", "podIP"), 1),
        Col("Node", "string", described(CORE_DEF + "PodSpec", "nodeName"), 1),
        Col("Nominated Node", "string", described(CORE_DEF + "PodStatus", "nominatedNodeName"), 1),
        Col("Readiness Gates", "string", described(CORE_DEF + "PodSpec", "readinessGates"), 1),
    ), pod_row, pod_conditions),
    ("", "PodTemplate"): Handler((
        NAME,
        Col("Containers", "string", "Names of each container in the template."),
        Col("Images", "string", "Images referenced by each container in the template."),
        Col("Pod Labels", "string", "The labels for the pod template."),
    ), pod_template_row),
    ("policy", "PodDisruptionBudget"): Handler((
        NAME,
        Col("Min Available", "string", "The minimum number of pods that must be available."),
        Col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
        Col("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
        AGE,
    ), pdb_row),
    ("", "ReplicationController"): Handler(_replicated_columns(CORE_DEF + "ReplicationController"), rc_row),
    ("apps", "ReplicaSet"): Handler(_replicated_columns(APPS_DEF + "ReplicaSet"), replica_set_row),
    ("apps", "DaemonSet"): Handler((
        NAME,
        Col("Desired", "integer", described(APPS_DEF + "DaemonSetStatus", "desiredNumberScheduled")),
        Col("Current", "integer", described(APPS_DEF + "DaemonSetStatus", "currentNumberScheduled")),
        Col("Ready", "integer", described(APPS_DEF + "DaemonSetStatus", "numberReady")),
        Col("Up-to-date", "integer", described(APPS_DEF + "DaemonSetStatus", "updatedNumberScheduled")),
        Col("Available", "integer", described(APPS_DEF + "DaemonSetStatus", "numberAvailable")),
        Col("Node Selector", "string", described(CORE_DEF + "PodSpec", "nodeSelector")),
        AGE, CONTAINERS, IMAGES, _sel(APPS_DEF + "DaemonSetSpec", "selector"),
    ), daemon_set_row),
    ("batch", "Job"): Handler((
        NAME,
        Col("Status", "string", "Status of the job."),
        Col("Completions", "string", described("io.k8s.api.batch.v1.JobStatus", "succeeded")),
        Col("Duration", "string", "Time required to complete the job."),
        AGE, CONTAINERS, IMAGES, _sel("io.k8s.api.batch.v1.JobSpec", "selector"),
    ), job_row),
    ("batch", "CronJob"): Handler((
        NAME,
        Col("Schedule", "string", described("io.k8s.api.batch.v1.CronJobSpec", "schedule")),
        Col("Timezone", "string", described("io.k8s.api.batch.v1.CronJobSpec", "timeZone")),
        Col("Suspend", "boolean", described("io.k8s.api.batch.v1.CronJobSpec", "suspend")),
        Col("Active", "integer", described("io.k8s.api.batch.v1.CronJobStatus", "active")),
        Col("Last Schedule", "string", described("io.k8s.api.batch.v1.CronJobStatus", "lastScheduleTime")),
        AGE, CONTAINERS, IMAGES, _sel("io.k8s.api.batch.v1.JobSpec", "selector"),
    ), cron_job_row),
    ("", "Service"): Handler((
        NAME,
        Col("Type", "string", described(CORE_DEF + "ServiceSpec", "type")),
        Col("Cluster-IP", "string", described(CORE_DEF + "ServiceSpec", "clusterIP")),
        Col("External-IP", "string", described(CORE_DEF + "ServiceSpec", "externalIPs")),
        Col("Port(s)", "string", described(CORE_DEF + "ServiceSpec", "ports")),
        AGE,
        _sel(CORE_DEF + "ServiceSpec", "selector"),
    ), service_row),
    ("networking.k8s.io", "Ingress"): Handler((
        NAME,
        Col("Class", "string",
            "The name of the IngressClass resource that should be used for additional configuration"),
        Col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
        Col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
        Col("Ports", "string", "Ports of TLS configurations that open"),
        AGE,
    ), ingress_row),
    ("networking.k8s.io", "IngressClass"): Handler((
        NAME,
        Col("Controller", "string", "Controller that is responsible for handling this class"),
        Col("Parameters", "string", "A reference to a resource with additional parameters"),
        AGE,
    ), ingress_class_row),
    ("apps", "StatefulSet"): Handler((
        NAME,
        Col("Ready", "string", "Number of the pod with ready state"),
        AGE, CONTAINERS, IMAGES,
    ), stateful_set_row),
    ("", "Endpoints"): Handler((
        NAME,
        Col("Endpoints", "string", described(CORE_DEF + "Endpoints", "subsets")),
        AGE,
    ), endpoints_row),
    ("", "Node"): Handler((
        NAME,
        Col("Status", "string", "The status of the node"),
        Col("Roles", "string", "The roles of the node"),
        AGE,
        Col("Version", "string", described(CORE_DEF + "NodeSystemInfo", "kubeletVersion")),
        Col("Internal-IP", "string", described(CORE_DEF + "NodeStatus", "addresses"), 1),
        Col("External-IP", "string", described(CORE_DEF + "NodeStatus", "addresses"), 1),
        Col("OS-Image", "string", described(CORE_DEF + "NodeSystemInfo", "osImage"), 1),
        Col("Kernel-Version", "string", described(CORE_DEF + "NodeSystemInfo", "kernelVersion"), 1),
        Col("Container-Runtime", "string", described(CORE_DEF + "NodeSystemInfo", "containerRuntimeVersion"), 1),
    ), node_row),
    ("", "Namespace"): Handler((NAME, Col("Status", "string", "The status of the namespace"), AGE), namespace_row),
    ("", "Secret"): Handler((
        NAME,
        Col("Type", "string", described(CORE_DEF + "Secret", "type")),
        Col("Data", "string", described(CORE_DEF + "Secret", "data")),
        AGE,
    ), secret_row),
    ("", "ServiceAccount"): Handler((
        NAME, Col("Secrets", "string", described(CORE_DEF + "ServiceAccount", "secrets")), AGE,
    ), service_account_row),
    ("", "PersistentVolume"): Handler((
        NAME,
        Col("Capacity", "string", described(CORE_DEF + "PersistentVolumeSpec", "capacity")),
        Col("Access Modes", "string", described(CORE_DEF + "PersistentVolumeSpec", "accessModes")),
        Col("Reclaim Policy", "string", described(CORE_DEF + "PersistentVolumeSpec", "persistentVolumeReclaimPolicy")),
        Col("Status", "string", described(CORE_DEF + "PersistentVolumeStatus", "phase")),
        Col("Claim", "string", described(CORE_DEF + "PersistentVolumeSpec", "claimRef")),
        Col("StorageClass", "string", "StorageClass of the pv"),
        Col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
        Col("Reason", "string", described(CORE_DEF + "PersistentVolumeStatus", "reason")),
        AGE,
        Col("VolumeMode", "string", described(CORE_DEF + "PersistentVolumeSpec", "volumeMode"), 1),
    ), pv_row),
    ("", "PersistentVolumeClaim"): Handler((
        NAME,
        Col("Status", "string", described(CORE_DEF + "PersistentVolumeClaimStatus", "phase")),
        Col("Volume", "string", described(CORE_DEF + "PersistentVolumeClaimSpec", "volumeName")),
        Col("Capacity", "string", described(CORE_DEF + "PersistentVolumeClaimStatus", "capacity")),
        Col("Access Modes", "string", described(CORE_DEF + "PersistentVolumeClaimStatus", "accessModes")),
        Col("StorageClass", "string", "StorageClass of the pvc"),
        Col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
        AGE,
        Col("VolumeMode", "string", described(CORE_DEF + "PersistentVolumeClaimSpec", "volumeMode"), 1),
    ), pvc_row),
    ("apps", "Deployment"): Handler((
        NAME,
        Col("Ready", "string", "Number of the pod with ready state"),
        Col("Up-to-date", "string", described(APPS_DEF + "DeploymentStatus", "updatedReplicas")),
        Col("Available", "string", described(APPS_DEF + "DeploymentStatus", "availableReplicas")),
        AGE, CONTAINERS, IMAGES, _sel(APPS_DEF + "DeploymentSpec", "selector"),
    ), deployment_row),
    ("autoscaling", "HorizontalPodAutoscaler"): Handler((
        NAME,
        Col("Reference", "string", described("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec", "scaleTargetRef")),
        Col("Targets", "string", described("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec", "metrics")),
        Col("MinPods", "string", described("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec", "minReplicas")),
        Col("MaxPods", "string", described("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec", "maxReplicas")),
        Col("Replicas", "string", described("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus", "currentReplicas")),
        AGE,
    ), hpa_row),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): Handler((
        NAME,
        Col("Validations", "integer", "Validations indicates the number of validation rules defined in this configuration"),
        Col("ParamKind", "string", "ParamKind specifies the kind of resources used to parameterize this policy"),
        AGE,
    ), validating_admission_policy_row),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): Handler((
        NAME,
        Col("PolicyName", "string", "PolicyName indicates the policy definition which the policy binding binded to"),
        Col("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param"),
        AGE,
    ), validating_admission_policy_binding_row),
    ("apiregistration.k8s.io", "APIService"): Handler((
        NAME,
        Col("Service", "string", "The reference to the service that hosts this API endpoint."),
        Col("Available", "string", "Whether this service is available."),
        AGE,
    ), apiservice_row),
    ("", "ConfigMap"): Handler((NAME, Col("Data", "string", described(CORE_DEF + "ConfigMap", "data")), AGE), config_map_row),
    ("networking.k8s.io", "NetworkPolicy"): Handler((
        NAME,
        Col("Pod-Selector", "string", described("io.k8s.api.networking.v1.NetworkPolicySpec", "podSelector")),
        AGE,
    ), network_policy_row),
    ("rbac.authorization.k8s.io", "RoleBinding"): Handler((
        NAME,
        Col("Role", "string", described("io.k8s.api.rbac.v1.RoleBinding", "roleRef")),
        AGE,
        Col("Users", "string", "Users in the roleBinding", 1),
        Col("Groups", "string", "Groups in the roleBinding", 1),
        Col("ServiceAccounts", "string", "ServiceAccounts in the roleBinding", 1),
    ), role_binding_row),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): Handler((
        NAME,
        Col("Role", "string", described("io.k8s.api.rbac.v1.ClusterRoleBinding", "roleRef")),
        AGE,
        Col("Users", "string", "Users in the clusterRoleBinding", 1),
        Col("Groups", "string", "Groups in the clusterRoleBinding", 1),
        Col("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding", 1),
    ), role_binding_row),
    ("coordination.k8s.io", "Lease"): Handler((
        NAME, Col("Holder", "string", described("io.k8s.api.coordination.v1.LeaseSpec", "holderIdentity")), AGE,
    ), lease_row),
    ("storage.k8s.io", "StorageClass"): Handler((
        NAME,
        Col("Provisioner", "string", described("io.k8s.api.storage.v1.StorageClass", "provisioner")),
        Col("ReclaimPolicy", "string", described("io.k8s.api.storage.v1.StorageClass", "reclaimPolicy")),
        Col("VolumeBindingMode", "string", described("io.k8s.api.storage.v1.StorageClass", "volumeBindingMode")),
        Col("AllowVolumeExpansion", "string", described("io.k8s.api.storage.v1.StorageClass", "allowVolumeExpansion")),
        AGE,
    ), storage_class_row),
    ("apps", "ControllerRevision"): Handler((
        NAME,
        Col("Controller", "string", "Controller of the object"),
        Col("Revision", "string", described(APPS_DEF + "ControllerRevision", "revision")),
        AGE,
    ), controller_revision_row),
    ("", "ResourceQuota"): Handler((
        NAME,
        Col("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
        Col("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use "
                               "independent of contention on the node."),
        AGE,
    ), resource_quota_row),
    ("scheduling.k8s.io", "PriorityClass"): Handler((
        NAME,
        Col("Value", "integer", described("io.k8s.api.scheduling.v1.PriorityClass", "value")),
        Col("Global-Default", "boolean", described("io.k8s.api.scheduling.v1.PriorityClass", "globalDefault")),
        AGE,
        Col("PreemptionPolicy", "string", described("io.k8s.api.scheduling.v1.PriorityClass", "preemptionPolicy")),
    ), priority_class_row),
    ("discovery.k8s.io", "EndpointSlice"): Handler((
        NAME,
        Col("AddressType", "string", described("io.k8s.api.discovery.v1.EndpointSlice", "addressType")),
        Col("Ports", "string", described("io.k8s.api.discovery.v1.EndpointSlice", "ports")),
        Col("Endpoints", "string", described("io.k8s.api.discovery.v1.EndpointSlice", "endpoints")),
        AGE,
    ), endpoint_slice_row),
}

_EVENT_COLUMNS = (
    Col("Last Seen", "string", described(CORE_DEF + "Event", "lastTimestamp")),
    Col("Type", "string", described(CORE_DEF + "Event", "type")),
    Col("Reason", "string", described(CORE_DEF + "Event", "reason")),
    Col("Object", "string", described(CORE_DEF + "Event", "involvedObject")),
    Col("Subobject", "string", described(CORE_DEF + "ObjectReference", "fieldPath"), 1),
    Col("Source", "string", described(CORE_DEF + "Event", "source"), 1),
    Col("Message", "string", described(CORE_DEF + "Event", "message")),
    Col("First Seen", "string", described(CORE_DEF + "Event", "firstTimestamp"), 1),
    Col("Count", "string", described(CORE_DEF + "Event", "count"), 1),
    name_col(1),
)
HANDLERS[("", "Event")] = Handler(_EVENT_COLUMNS, event_row)
# events.k8s.io shares the core Event storage and therefore its printer.
HANDLERS[("events.k8s.io", "Event")] = Handler(_EVENT_COLUMNS, events_k8s_io_event_row)


def _handler(group: str, kind: str) -> Handler:
    return HANDLERS.get((group, kind), _DEFAULT)


def has_printer(group: str, kind: str) -> bool:
    """True if upstream prints this kind specially (otherwise Name / Created At)."""
    return (group, kind) in HANDLERS


@functools.lru_cache(maxsize=None)
def _description(ref: str | tuple[str, str]) -> str:
    if isinstance(ref, str):
        return ref
    from kubeling.api import schema  # lazy: loading the definitions costs ~0.3 s once

    definition, field = ref
    prop = ((schema.definitions().get(definition) or EMPTY).get("properties") or EMPTY).get(field) or EMPTY
    return prop.get("description", "")


@functools.lru_cache(maxsize=None)
def _columns(group: str, kind: str) -> list[dict[str, Any]]:
    return _handler_columns(_handler(group, kind))


def _handler_columns(handler: Handler) -> list[dict[str, Any]]:
    return [{"name": c.name, "type": c.type, "format": c.format, "description": _description(c.description),
             "priority": c.priority} for c in handler.columns]


def column_definitions(group: str, kind: str) -> list[dict]:
    """The Table's columnDefinitions for a kind (a fresh copy; safe to mutate)."""
    return [dict(c) for c in _columns(group, kind)]


def row_cells(group: str, kind: str, obj: dict, now: datetime) -> list:
    """The cells of one object's row."""
    return _handler(group, kind).cells(obj, Clock(now))


def _partial(md: dict, api_version: str) -> dict:
    return {"kind": "PartialObjectMetadata", "apiVersion": api_version, "metadata": md}


def table(
    group: str,
    kind: str,
    objs: list[dict],
    now: datetime,
    resource_version: str,
    include_object: str = "Metadata",
    with_columns: bool = True,
    continue_token: str | None = None,
    remaining: int | None = None,
    api_version: str = TABLE_API_VERSION,
    handler: Handler | None = None,
) -> dict:
    """A full `meta.k8s.io/v1 Table` for these objects.

    include_object: "Metadata" (default; rows carry PartialObjectMetadata, which kubectl needs
    for -L/--show-labels and the NAMESPACE column of -A), "Object" (the object as given) or
    "None" (`"object": null`, as upstream serialises an empty RawExtension).
    with_columns=False drops the column definitions (`null`), as watch events after the first do.
    api_version: the Table's group/version (meta.k8s.io/v1 or /v1beta1), also used for the
    PartialObjectMetadata rows.
    """
    if include_object not in ("Metadata", "Object", "None", ""):
        from kubeling.api.errors import bad_request

        raise bad_request(f'unrecognized includeObject value: "{include_object}"')
    handler = handler or _handler(group, kind)
    cells = handler.cells
    conditions = handler.conditions
    clock = Clock(now)
    rows: list[dict] | None = []
    append = rows.append
    if include_object == "Object":
        for o in objs:
            row: dict[str, Any] = {"cells": cells(o, clock)}
            if conditions is not None and (c := conditions(o)) is not None:
                row["conditions"] = c
            row["object"] = o
            append(row)
    elif include_object == "None":
        for o in objs:
            row = {"cells": cells(o, clock)}
            if conditions is not None and (c := conditions(o)) is not None:
                row["conditions"] = c
            row["object"] = None
            append(row)
    elif conditions is None:  # the common case, kept tight: 2,000 ConfigMaps in a few ms
        for o in objs:
            append({"cells": cells(o, clock),
                    "object": {"kind": "PartialObjectMetadata", "apiVersion": api_version,
                               "metadata": o.get("metadata") or EMPTY}})
    else:
        for o in objs:
            row = {"cells": cells(o, clock)}
            if (c := conditions(o)) is not None:
                row["conditions"] = c
            row["object"] = _partial(o.get("metadata") or EMPTY, api_version)
            append(row)
    if handler is _DEFAULT and not rows:
        rows = None  # the generic convertor never allocates its row slice: `"rows": null`
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": metadata,
        "columnDefinitions": _handler_columns(handler) if with_columns else None,
        "rows": rows,
    }
