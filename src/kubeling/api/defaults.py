"""Defaulting of API objects, ported from upstream v1.32 `SetDefaults_*` / `SetObjectDefaults_*`.

Upstream defaults every object when it is decoded (pkg/apis/core/v1/defaults.go, apps/v1, batch/v1,
autoscaling/v1+v2, networking/v1, rbac/v1, discovery/v1 and the generated `+default` markers), so
a stored Deployment always has `strategy: RollingUpdate 25%/25%`, `revisionHistoryLimit: 10`, and
its pod template has `restartPolicy: Always`, `dnsPolicy: ClusterFirst` and so on. We do the same
on plain dicts, in place. A few fields are also materialized because Go's JSON encoder always
writes them (non-pointer structs such as `resources: {}`, `metadata.creationTimestamp: null`
inside templates) so our responses are byte-for-byte like kube-apiserver's.

Which defaulter a kind runs, and its create-only steps (namespace finalizer, pod status, job
selector, generation), are in its strategy record (api/strategy.py), as upstream runs those in
the registry strategies, not in defaulting.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from kubeling.api import conversion
from kubeling.api.validation.meta import parse_quantity

Obj = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# helpers


# Defaulting runs after the typed decode (api/typed.py): a field is either absent or of its
# schema's type, never null or wrongly typed, so presence is all these functions check.


def _sub(parent: Obj, key: str) -> Obj:
    """parent[key], created when absent (like taking &obj.Spec in Go)."""
    v = parent.get(key)
    if v is None:
        v = parent[key] = {}
    return v


def _dicts(v: list[Obj] | None) -> list[Obj]:
    return v or []


def _default(d: Obj, key: str, value: Any) -> None:
    """Set d[key] when it is absent/null (pointer fields) or the zero value (string enums)."""
    if d.get(key) is None or d.get(key) == "":
        d[key] = value


# ---------------------------------------------------------------------------------------------
# core/v1 building blocks


def image_pull_policy(image: str) -> str:
    """Always for `:latest` or an untagged, undigested image; IfNotPresent otherwise.

    Mirrors parsers.ParseImageName: a tag is the text after the last ':' of the last path
    component; with a digest and no tag the tag is empty (IfNotPresent).
    """
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else ""
    if not tag and not digest:
        tag = "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _default_probe(p: Obj | None) -> None:
    if p is None:
        return
    for key, val in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)):
        if not p.get(key):
            p[key] = val
    _default_handler(p)


def _default_handler(h: Obj | None) -> None:
    if h is None:
        return
    http = h.get("httpGet")
    if http is not None:
        _default(http, "path", "/")
        _default(http, "scheme", "HTTP")
    grpc = h.get("grpc")
    if grpc is not None and grpc.get("service") is None:
        grpc["service"] = ""


def _default_env(envs: Any) -> None:
    for e in _dicts(envs):
        vf = e.get("valueFrom")
        if vf is not None and vf.get("fieldRef") is not None:
            _default(vf["fieldRef"], "apiVersion", "v1")


def _default_container(c: Obj, host_network: bool) -> None:
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = image_pull_policy(c.get("image") or "")
    _default(c, "terminationMessagePath", "/dev/termination-log")
    _default(c, "terminationMessagePolicy", "File")
    if c.get("resources") is None:
        c["resources"] = {}
    for port in _dicts(c.get("ports")):
        _default(port, "protocol", "TCP")
        if host_network and not port.get("hostPort"):
            port["hostPort"] = port.get("containerPort")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(probe))
    lc = c.get("lifecycle")
    if lc is not None:
        _default_handler(lc.get("postStart"))
        _default_handler(lc.get("preStop"))
    _default_env(c.get("env"))


_VOLUME_SOURCE_KEYS = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs",
    "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker",
    "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk",
    "photonPersistentDisk", "projected", "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image",
)


def _default_volume(v: Obj) -> None:
    if all(v.get(k) is None for k in _VOLUME_SOURCE_KEYS):
        v["emptyDir"] = {}
    for key in ("secret", "configMap", "downwardAPI", "projected"):
        src = v.get(key)
        if src is not None and src.get("defaultMode") is None:
            src["defaultMode"] = 420
    hp = v.get("hostPath")
    if hp is not None and hp.get("type") is None:
        hp["type"] = ""
    da = v.get("downwardAPI")
    if da is not None:
        for item in _dicts(da.get("items")):
            if item.get("fieldRef") is not None:
                _default(item["fieldRef"], "apiVersion", "v1")
    pr = v.get("projected")
    if pr is not None:
        for src in _dicts(pr.get("sources")):
            sat = src.get("serviceAccountToken")
            if sat is not None and sat.get("expirationSeconds") is None:
                sat["expirationSeconds"] = 3600
            dapi = src.get("downwardAPI")
            if dapi is not None:
                for item in _dicts(dapi.get("items")):
                    if item.get("fieldRef") is not None:
                        _default(item["fieldRef"], "apiVersion", "v1")
    rbd = v.get("rbd")
    if rbd is not None:
        _default(rbd, "pool", "rbd")
        _default(rbd, "user", "admin")
        _default(rbd, "keyring", "/etc/ceph/keyring")
    iscsi = v.get("iscsi")
    if iscsi is not None:
        _default(iscsi, "iscsiInterface", "default")
    ad = v.get("azureDisk")
    if ad is not None:
        _default(ad, "cachingMode", "ReadWrite")
        _default(ad, "fsType", "ext4")
        _default(ad, "readOnly", False)
        _default(ad, "kind", "Shared")
    eph = v.get("ephemeral")
    if eph is not None and eph.get("volumeClaimTemplate") is not None:
        _default_pvc_spec(_sub(eph["volumeClaimTemplate"], "spec"))


def default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec + the per-element defaults SetObjectDefaults walks into."""
    _default(spec, "dnsPolicy", "ClusterFirst")
    _default(spec, "restartPolicy", "Always")
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    _default(spec, "terminationGracePeriodSeconds", 30)
    _default(spec, "schedulerName", "default-scheduler")
    host_network = spec.get("hostNetwork") is True
    for v in _dicts(spec.get("volumes")):
        _default_volume(v)
    for key in ("initContainers", "containers"):
        for c in _dicts(spec.get(key)):
            _default_container(c, host_network)
    for c in _dicts(spec.get("ephemeralContainers")):
        _default_container(c, False)


def _default_template_meta(tpl: Obj) -> None:
    """Go always encodes ObjectMeta.creationTimestamp, as null when unset."""
    meta = _sub(tpl, "metadata")
    if "creationTimestamp" not in meta:
        meta["creationTimestamp"] = None


def default_pod_template(tpl: Obj | None) -> None:
    if tpl is None:
        return
    _default_template_meta(tpl)
    default_pod_spec(_sub(tpl, "spec"))


def _requests_from_limits(containers: Any) -> None:
    for c in _dicts(containers):
        res = c.get("resources")
        if res is None or res.get("limits") is None:
            continue
        req = _sub(res, "requests")
        for k, v in res["limits"].items():
            req.setdefault(k, v)


def _default_pvc_spec(spec: Obj) -> None:
    _default(spec, "volumeMode", "Filesystem")


# ---------------------------------------------------------------------------------------------
# per kind


def pod_defaults(obj: Obj, version: str) -> None:
    spec = _sub(obj, "spec")
    _requests_from_limits(spec.get("containers"))
    _requests_from_limits(spec.get("initContainers"))
    default_pod_spec(spec)
    _default(spec, "enableServiceLinks", True)


def pod_template_defaults(obj: Obj, version: str) -> None:
    default_pod_template(obj.get("template"))


def replication_controller_defaults(obj: Obj, version: str) -> None:
    spec = _sub(obj, "spec")
    tpl = spec.get("template")
    labels = (tpl or {}).get("metadata", {}).get("labels")
    if labels is not None:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = _sub(obj, "metadata")
        if not meta.get("labels"):
            meta["labels"] = dict(labels)
    _default(spec, "replicas", 1)
    default_pod_template(tpl)


def service_defaults(obj: Obj, version: str) -> None:
    spec = _sub(obj, "spec")
    _default(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        cfg = spec.get("sessionAffinityConfig")
        cip = (cfg or {}).get("clientIP")
        if cip is None or cip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    _default(spec, "type", "ClusterIP")
    t = spec["type"]
    for port in _dicts(spec.get("ports")):
        _default(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    externally = t in ("LoadBalancer", "NodePort") or (t == "ClusterIP" and bool(spec.get("externalIPs")))
    if externally:
        _default(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("internalTrafficPolicy") is None and t in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec["internalTrafficPolicy"] = "Cluster"
    if t == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if t != "ExternalName" and spec.get("ipFamilyPolicy") is None:
        # registry/core/service/storage initIPFamilyFields: headless without selector gets every family.
        ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
        headless = bool(ips) and ips[0] == "None"
        spec["ipFamilyPolicy"] = "RequireDualStack" if headless and not spec.get("selector") else "SingleStack"
    status = _sub(obj, "status")
    if "loadBalancer" not in status:
        status["loadBalancer"] = {}
    if t == "LoadBalancer":
        for ing in _dicts(status["loadBalancer"].get("ingress")):
            if ing.get("ip") and ing.get("ipMode") is None:
                ing["ipMode"] = "VIP"


def secret_defaults(obj: Obj, version: str) -> None:
    """SetDefaults_Secret, plus the v1->internal conversion that folds stringData into data."""
    _default(obj, "type", "Opaque")
    sd = obj.pop("stringData", None)
    if sd:
        data = _sub(obj, "data")
        for k, v in sd.items():
            data[k] = base64.b64encode(v.encode()).decode()


def namespace_defaults(obj: Obj, version: str) -> None:
    meta = _sub(obj, "metadata")
    name = meta.get("name")
    if name:
        _sub(meta, "labels")["kubernetes.io/metadata.name"] = name
    status = _sub(obj, "status")
    _default(status, "phase", "Active")
    _sub(obj, "spec")


def node_defaults(obj: Obj, version: str) -> None:
    _sub(obj, "spec")
    status = obj.get("status")
    if status is not None and status.get("allocatable") is None and status.get("capacity") is not None:
        status["allocatable"] = dict(status["capacity"])


def endpoints_defaults(obj: Obj, version: str) -> None:
    for subset in _dicts(obj.get("subsets")):
        for port in _dicts(subset.get("ports")):
            _default(port, "protocol", "TCP")


def pv_defaults(obj: Obj, version: str) -> None:
    spec = _sub(obj, "spec")
    _default(spec, "persistentVolumeReclaimPolicy", "Retain")
    _default(spec, "volumeMode", "Filesystem")
    _default(_sub(obj, "status"), "phase", "Pending")


def pvc_defaults(obj: Obj, version: str) -> None:
    _default_pvc_spec(_sub(obj, "spec"))
    _default(_sub(obj, "status"), "phase", "Pending")


def limit_range_defaults(obj: Obj, version: str) -> None:
    """SetDefaults_LimitRangeItem: max fills default, default fills defaultRequest (containers)."""
    for item in _dicts(_sub(obj, "spec").get("limits")):
        if item.get("type") != "Container":
            continue
        mx = item.get("max")
        if mx:
            d = _sub(item, "default")
            for k, v in mx.items():
                d.setdefault(k, v)
        df = item.get("default")
        if df:
            dr = _sub(item, "defaultRequest")
            for k, v in df.items():
                dr.setdefault(k, v)


# apps/v1


def deployment_defaults(obj: Obj, version: str) -> None:
    spec = _sub(obj, "spec")
    _default(spec, "replicas", 1)
    strategy = _sub(spec, "strategy")
    _default(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = _sub(strategy, "rollingUpdate")
        if ru.get("maxUnavailable") is None:
            ru["maxUnavailable"] = "25%"
        if ru.get("maxSurge") is None:
            ru["maxSurge"] = "25%"
    _default(spec, "revisionHistoryLimit", 10)
    _default(spec, "progressDeadlineSeconds", 600)
    default_pod_template(spec.get("template"))
    _sub(obj, "status")


def replica_set_defaults(obj: Obj, version: str) -> None:
    spec = _sub(obj, "spec")
    _default(spec, "replicas", 1)
    default_pod_template(spec.get("template"))
    _default(_sub(obj, "status"), "replicas", 0)


def daemon_set_defaults(obj: Obj, version: str) -> None:
    spec = _sub(obj, "spec")
    us = _sub(spec, "updateStrategy")
    _default(us, "type", "RollingUpdate")
    if us["type"] == "RollingUpdate":
        ru = _sub(us, "rollingUpdate")
        if ru.get("maxUnavailable") is None:
            ru["maxUnavailable"] = 1
        if ru.get("maxSurge") is None:
            ru["maxSurge"] = 0
    _default(spec, "revisionHistoryLimit", 10)
    default_pod_template(spec.get("template"))
    status = _sub(obj, "status")
    for key in ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"):
        _default(status, key, 0)


def stateful_set_defaults(obj: Obj, version: str) -> None:
    spec = _sub(obj, "spec")
    _default(spec, "podManagementPolicy", "OrderedReady")
    us = _sub(spec, "updateStrategy")
    if not us.get("type"):
        us["type"] = "RollingUpdate"
        if us.get("rollingUpdate") is None:
            us["rollingUpdate"] = {}
    if us["type"] == "RollingUpdate" and us.get("rollingUpdate") is not None:
        _default(us["rollingUpdate"], "partition", 0)
    pol = _sub(spec, "persistentVolumeClaimRetentionPolicy")
    _default(pol, "whenDeleted", "Retain")
    _default(pol, "whenScaled", "Retain")
    _default(spec, "replicas", 1)
    _default(spec, "revisionHistoryLimit", 10)
    default_pod_template(spec.get("template"))
    for pvc in _dicts(spec.get("volumeClaimTemplates")):
        _default_template_meta(pvc)
        _default_pvc_spec(_sub(pvc, "spec"))
        _default(_sub(pvc, "status"), "phase", "Pending")
    status = _sub(obj, "status")
    _default(status, "replicas", 0)
    _default(status, "availableReplicas", 0)


# batch/v1


def job_defaults(obj: Obj, version: str) -> None:
    spec = _sub(obj, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    _default(spec, "parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2**31 - 1 if spec.get("backoffLimitPerIndex") is not None else 6
    tpl = spec.get("template")
    labels = (tpl or {}).get("metadata", {}).get("labels")
    meta = _sub(obj, "metadata")
    if labels is not None and not meta.get("labels"):
        meta["labels"] = dict(labels)
    _default(spec, "completionMode", "NonIndexed")
    _default(spec, "suspend", False)
    pfp = spec.get("podFailurePolicy")
    if pfp is not None:
        for rule in _dicts(pfp.get("rules")):
            for pat in _dicts(rule.get("onPodConditions")):
                _default(pat, "status", "True")
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if pfp is not None else "TerminatingOrFailed"
    default_pod_template(tpl)
    _sub(obj, "status")


def cron_job_defaults(obj: Obj, version: str) -> None:
    spec = _sub(obj, "spec")
    _default(spec, "concurrencyPolicy", "Allow")
    _default(spec, "suspend", False)
    _default(spec, "successfulJobsHistoryLimit", 3)
    _default(spec, "failedJobsHistoryLimit", 1)
    jt = _sub(spec, "jobTemplate")
    _default_template_meta(jt)
    default_pod_template(_sub(jt, "spec").get("template"))
    _sub(obj, "status")


# autoscaling


_SCALE_UP = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
             "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                          {"type": "Percent", "value": 100, "periodSeconds": 15}]}
_SCALE_DOWN = {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
               "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def _hpa_rules(rules: Obj | None, default: Obj) -> Obj:
    """GenerateHPAScaleUpRules/GenerateHPAScaleDownRules: fill each unset part from the default."""
    if rules is None:
        return {k: (list(map(dict, v)) if isinstance(v, list) else v) for k, v in default.items()}
    _default(rules, "stabilizationWindowSeconds", default["stabilizationWindowSeconds"])
    _default(rules, "selectPolicy", default["selectPolicy"])
    if not rules.get("policies"):
        rules["policies"] = [dict(p) for p in default["policies"]]
    return rules


def _annotations(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    ann = meta.get("annotations") if isinstance(meta, dict) else None
    return ann if isinstance(ann, dict) else {}


def hpa_defaults(obj: Obj, version: str) -> None:
    spec = _sub(obj, "spec")
    _default(spec, "minReplicas", 1)
    if version == "v1":
        # what upstream's v1 -> v2 conversion defaults (and a v1 read of the stored v2 object
        # shows): no CPU target and no other metrics -> 80 %
        if spec.get("targetCPUUtilizationPercentage") is None and conversion.ANN_METRICS not in _annotations(obj):
            spec["targetCPUUtilizationPercentage"] = conversion.DEFAULT_CPU_UTILIZATION
        return
    if not spec.get("metrics"):
        spec["metrics"] = [conversion.default_cpu_metric()]
    behavior = spec.get("behavior")
    if behavior is not None:
        behavior["scaleUp"] = _hpa_rules(behavior.get("scaleUp"), _SCALE_UP)
        behavior["scaleDown"] = _hpa_rules(behavior.get("scaleDown"), _SCALE_DOWN)


# networking, rbac, discovery


def network_policy_defaults(obj: Obj, version: str) -> None:
    spec = _sub(obj, "spec")
    for rules, key in ((spec.get("ingress"), "from"), (spec.get("egress"), "to")):
        for rule in _dicts(rules):
            for port in _dicts(rule.get("ports")):
                _default(port, "protocol", "TCP")
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types


def ingress_class_defaults(obj: Obj, version: str) -> None:
    params = _sub(obj, "spec").get("parameters")
    if params is not None:
        _default(params, "scope", "Cluster")


def binding_defaults(obj: Obj, version: str) -> None:
    ref = _sub(obj, "roleRef")
    _default(ref, "apiGroup", "rbac.authorization.k8s.io")
    for s in _dicts(obj.get("subjects")):
        if not s.get("apiGroup"):
            if s.get("kind") == "ServiceAccount":
                s["apiGroup"] = ""
            elif s.get("kind") in ("User", "Group"):
                s["apiGroup"] = "rbac.authorization.k8s.io"


def endpoint_slice_defaults(obj: Obj, version: str) -> None:
    for port in _dicts(obj.get("ports")):
        if port.get("name") is None:
            port["name"] = ""
        _default(port, "protocol", "TCP")


# ---------------------------------------------------------------------------------------------
# job selector (PrepareForCreate of registry/batch/job, also used by the controller tests)


def generate_job_selector(job: dict) -> None:
    """registry/batch/job generateSelector: pods carry job-name and controller-uid labels."""
    meta = _sub(job, "metadata")
    name, uid = meta.get("name") or "", meta.get("uid") or ""
    spec = _sub(job, "spec")
    labels = _sub(_sub(_sub(spec, "template"), "metadata"), "labels")
    for key in ("job-name", "batch.kubernetes.io/job-name"):
        labels.setdefault(key, name)
    for key in ("controller-uid", "batch.kubernetes.io/controller-uid"):
        labels.setdefault(key, uid)
    sel = _sub(spec, "selector")
    ml = _sub(sel, "matchLabels")
    ml.setdefault("batch.kubernetes.io/controller-uid", uid)


# ---------------------------------------------------------------------------------------------
# QoS (pkg/apis/core/helper/qos ComputePodQOS)

_QOS_RESOURCES = ("cpu", "memory")


def pod_qos_class(pod: dict) -> str:
    """Guaranteed / Burstable / BestEffort, as upstream qos.ComputePodQOS.

    Sums positive cpu/memory requests and limits over containers and init containers; every
    container needs both cpu and memory limits, and summed requests must equal limits.
    """
    spec = pod.get("spec") or {}
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for c in _dicts(spec.get("containers")) + _dicts(spec.get("initContainers")):
        res = c.get("resources") or {}
        for name, q in (res.get("requests") or {}).items():
            v = parse_quantity(q)
            if name in _QOS_RESOURCES and v is not None and v > 0:
                requests[name] = requests.get(name, Decimal(0)) + v
        found = set()
        for name, q in (res.get("limits") or {}).items():
            v = parse_quantity(q)
            if name in _QOS_RESOURCES and v is not None and v > 0:
                found.add(name)
                limits[name] = limits.get(name, Decimal(0)) + v
        if not found.issuperset(_QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed:
        for name, req in requests.items():
            if limits.get(name) != req:
                guaranteed = False
                break
    if guaranteed and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"
