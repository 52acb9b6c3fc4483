"""Printers of the other groups: policy, networking, discovery, autoscaling, rbac, coordination,
storage, scheduling."""

from __future__ import annotations

from ..selectors import selector_to_string
from .columns import Cells, meta_of
from .fmt import Clock, EMPTY, NO_ITEMS, NONE, UNKNOWN, UNSET, int_or_string, lb_ingress, with_more


def pdb_row(obj: dict, clock: Clock) -> Cells:
    spec = obj.get("spec") or EMPTY
    min_a = spec.get("minAvailable")
    max_u = spec.get("maxUnavailable")
    md = meta_of(obj)
    return [md.get("name", ""), "N/A" if min_a is None else int_or_string(min_a),
            "N/A" if max_u is None else int_or_string(max_u),
            (obj.get("status") or EMPTY).get("disruptionsAllowed") or 0, clock.since(md.get("creationTimestamp"))]


def _ingress_hosts(rules: list[dict] | None) -> str:
    """formatHosts: at most three hosts, then "+ N more..."."""
    rules = rules or NO_ITEMS
    hosts: list[str] = []
    more = False
    for r in rules:
        if len(hosts) == 3:
            more = True
        if not more and r.get("host"):
            hosts.append(r["host"])
    if not hosts:
        return "*"
    ret = ",".join(hosts)
    return f"{ret} + {len(rules) - 3} more..." if more else ret


def ingress_row(obj: dict, clock: Clock) -> Cells:
    spec = obj.get("spec") or EMPTY
    md = meta_of(obj)
    cls = spec.get("ingressClassName")
    return [md.get("name", ""), NONE if cls is None else cls, _ingress_hosts(spec.get("rules")),
            lb_ingress((obj.get("status") or EMPTY).get("loadBalancer")),
            "80, 443" if spec.get("tls") else "80", clock.since(md.get("creationTimestamp"))]


def ingress_class_row(obj: dict, clock: Clock) -> Cells:
    spec = obj.get("spec") or EMPTY
    md = meta_of(obj)
    params = spec.get("parameters")
    p = NONE
    if params is not None:
        p = params.get("kind", "")
        if params.get("apiGroup") is not None:
            p += "." + params["apiGroup"]
        p += "/" + params.get("name", "")
    return [md.get("name", ""), spec.get("controller", ""), p, clock.since(md.get("creationTimestamp"))]


def endpoint_slice_row(obj: dict, clock: Clock) -> Cells:
    md = meta_of(obj)
    ports: list[str] = []
    more = False
    pcount = 0
    for p in obj.get("ports") or NO_ITEMS:
        if len(ports) < 3:
            if p.get("port") is not None:
                ports.append(str(p["port"]))
            elif p.get("name") is not None:
                ports.append(p["name"])
            else:
                ports.append("*")
        elif len(ports) == 3:
            more = True
        pcount += 1
    addrs: list[str] = []
    amore = False
    acount = 0
    for ep in obj.get("endpoints") or NO_ITEMS:
        for a in ep.get("addresses") or NO_ITEMS:
            if len(addrs) < 3:
                addrs.append(a)
            elif len(addrs) == 3:
                amore = True
            acount += 1
    return [md.get("name", ""), obj.get("addressType", ""), with_more(ports, more, pcount, 3),
            with_more(addrs, amore, acount, 3), clock.since(md.get("creationTimestamp"))]


def _pct(v: int) -> str:
    return f"{v}%"


def _hpa_metric(spec: dict, status: dict | None) -> str:
    """One entry of formatHPAMetrics (1.32): "cpu: 50%/80%", "<unknown>/100 (avg)", ..."""
    mtype = spec.get("type")
    status = status or EMPTY
    if mtype == "External":
        target = (spec.get("external") or EMPTY).get("target") or EMPTY
        cur = (status.get("external") or None)
        if target.get("averageValue") is not None:
            current = UNKNOWN
            if cur is not None and (cur.get("current") or EMPTY).get("averageValue") is not None:
                current = str(cur["current"]["averageValue"])
            return f"{current}/{target['averageValue']} (avg)"
        current = UNKNOWN if cur is None else str((cur.get("current") or EMPTY).get("value", "0"))
        return f"{current}/{target.get('value', '0')}"
    if mtype == "Pods":
        target = (spec.get("pods") or EMPTY).get("target") or EMPTY
        cur = status.get("pods")
        current = UNKNOWN if cur is None else str((cur.get("current") or EMPTY).get("averageValue", "0"))
        return f"{current}/{target.get('averageValue', '0')}"
    if mtype == "Object":
        target = (spec.get("object") or EMPTY).get("target") or EMPTY
        cur = status.get("object")
        if target.get("averageValue") is not None:
            current = UNKNOWN
            if cur is not None and (cur.get("current") or EMPTY).get("averageValue") is not None:
                current = str(cur["current"]["averageValue"])
            return f"{current}/{target['averageValue']} (avg)"
        current = UNKNOWN if cur is None else str((cur.get("current") or EMPTY).get("value", "0"))
        return f"{current}/{target.get('value', '0')}"
    if mtype in ("Resource", "ContainerResource"):
        key = "resource" if mtype == "Resource" else "containerResource"
        src = spec.get(key) or EMPTY
        target = src.get("target") or EMPTY
        cur = status.get(key)
        name = src.get("name", "")
        if target.get("averageValue") is not None:
            current = UNKNOWN if cur is None else str((cur.get("current") or EMPTY).get("averageValue", "0"))
            return f"{name}: {current}/{target['averageValue']}"
        current = UNKNOWN
        if cur is not None and (cur.get("current") or EMPTY).get("averageUtilization") is not None:
            current = _pct(cur["current"]["averageUtilization"])
        util = target.get("averageUtilization")
        return f"{name}: {current}/{'<auto>' if util is None else _pct(util)}"
    return "<unknown type>"


def _hpa_v2_view(obj: dict) -> tuple[dict, list[dict], list[dict]]:
    """(spec, metrics, current metrics) in autoscaling/v2 shape, converting a v1 object.

    The apiserver stores v2 (defaulted to cpu 80% when no metric is given) and prints the
    internal object, so a v1 object without a CPU target still shows "cpu: .../80%".
    """
    spec = obj.get("spec") or EMPTY
    status = obj.get("status") or EMPTY
    if "metrics" in spec or "currentMetrics" in status or not (
            "targetCPUUtilizationPercentage" in spec or "currentCPUUtilizationPercentage" in status
            or obj.get("apiVersion") == "autoscaling/v1"):
        return spec, spec.get("metrics") or [], status.get("currentMetrics") or []
    target = spec.get("targetCPUUtilizationPercentage")
    metrics = [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 80 if target is None else target}}}]
    current = []
    if status.get("currentCPUUtilizationPercentage") is not None:
        current = [{"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageUtilization": status["currentCPUUtilizationPercentage"]}}}]
    return spec, metrics, current


def format_hpa_metrics(metrics: list[dict], current: list[dict]) -> str:
    """formatHPAMetrics: statuses are matched by index; two shown, then "+ N more..."."""
    if not metrics:
        return NONE
    out = [_hpa_metric(m, current[i] if i < len(current) else None) for i, m in enumerate(metrics)]
    if len(out) > 2:
        return f"{', '.join(out[:2])} + {len(out) - 2} more..."
    return ", ".join(out)


def hpa_row(obj: dict, clock: Clock) -> Cells:
    md = meta_of(obj)
    spec, metrics, current = _hpa_v2_view(obj)
    ref = spec.get("scaleTargetRef") or EMPTY
    min_r = spec.get("minReplicas")
    return [md.get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}", format_hpa_metrics(metrics, current),
            UNSET if min_r is None else str(min_r), spec.get("maxReplicas") or 0,
            (obj.get("status") or EMPTY).get("currentReplicas") or 0, clock.since(md.get("creationTimestamp"))]


def network_policy_row(obj: dict, clock: Clock) -> Cells:
    md = meta_of(obj)
    return [md.get("name", ""), selector_to_string((obj.get("spec") or EMPTY).get("podSelector") or {}),
            clock.since(md.get("creationTimestamp"))]


def _subjects(subjects: list[dict] | None) -> list[str]:
    """rbac.SubjectsStrings -> [users, groups, service accounts], each ", " joined."""
    users, groups, sas = [], [], []
    for s in subjects or NO_ITEMS:
        kind = s.get("kind")
        if kind == "ServiceAccount":
            sas.append(f"{s.get('namespace', '')}/{s.get('name', '')}")
        elif kind == "User":
            users.append(s.get("name", ""))
        elif kind == "Group":
            groups.append(s.get("name", ""))
    return [", ".join(users), ", ".join(groups), ", ".join(sas)]


def role_binding_row(obj: dict, clock: Clock) -> Cells:
    md = meta_of(obj)
    ref = obj.get("roleRef") or EMPTY
    return [md.get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}",
            clock.since(md.get("creationTimestamp")), *_subjects(obj.get("subjects"))]


def lease_row(obj: dict, clock: Clock) -> Cells:
    md = meta_of(obj)
    return [md.get("name", ""), (obj.get("spec") or EMPTY).get("holderIdentity") or "",
            clock.since(md.get("creationTimestamp"))]


def storage_class_row(obj: dict, clock: Clock) -> Cells:
    md = meta_of(obj)
    ann = md.get("annotations") or EMPTY
    name = md.get("name", "")
    if ann.get("storageclass.kubernetes.io/is-default-class") == "true" or \
            ann.get("storageclass.beta.kubernetes.io/is-default-class") == "true":
        name += " (default)"
    reclaim = obj.get("reclaimPolicy")
    binding = obj.get("volumeBindingMode")
    expand = obj.get("allowVolumeExpansion")
    return [name, obj.get("provisioner", ""), "Delete" if reclaim is None else reclaim,
            "Immediate" if binding is None else binding, False if expand is None else expand,
            clock.since(md.get("creationTimestamp"))]


def priority_class_row(obj: dict, clock: Clock) -> Cells:
    md = meta_of(obj)
    return [md.get("name", ""), obj.get("value") or 0, bool(obj.get("globalDefault")),
            clock.since(md.get("creationTimestamp")), obj.get("preemptionPolicy") or ""]


def apiservice_row(obj: dict, clock: Clock) -> Cells:
    """kube-aggregator's printer: the backing Service or "Local"; "True" or "False (Reason)"."""
    md = meta_of(obj)
    svc = (obj.get("spec") or EMPTY).get("service")
    service = f"{svc.get('namespace', '')}/{svc.get('name', '')}" if svc else "Local"
    available = "Unknown"
    for c in (obj.get("status") or EMPTY).get("conditions") or []:
        if c.get("type") == "Available":
            available = c.get("status", "")
            if available != "True":
                available = f"{available} ({c.get('reason', '')})"
    return [md.get("name", ""), service, available, clock.since(md.get("creationTimestamp"))]


def validating_admission_policy_row(obj: dict, clock: Clock) -> Cells:
    """upstream printValidatingAdmissionPolicy: ParamKind as `apiVersion/Kind` or `<unset>`."""
    md, spec = meta_of(obj), obj.get("spec") or EMPTY
    pk = spec.get("paramKind")
    param_kind = f"{pk.get('apiVersion', '')}/{pk.get('kind', '')}" if pk else "<unset>"
    return [md.get("name", ""), len(spec.get("validations") or []), param_kind, clock.since(md.get("creationTimestamp"))]


def validating_admission_policy_binding_row(obj: dict, clock: Clock) -> Cells:
    """upstream printValidatingAdmissionPolicyBinding: ParamRef as `ns/name`, `*/name`, a selector or `<unset>`."""
    md, spec = meta_of(obj), obj.get("spec") or EMPTY
    ref, param = spec.get("paramRef"), "<unset>"
    if ref and ref.get("name"):
        param = f"{ref.get('namespace') or '*'}/{ref['name']}"
    elif ref and ref.get("selector") is not None:
        from ..selectors import from_label_selector_object

        param = str(from_label_selector_object(ref["selector"]))
    return [md.get("name", ""), spec.get("policyName", ""), param, clock.since(md.get("creationTimestamp"))]
