"""core/v1 printers other than Pod: Service, Endpoints, Node, Event, Namespace, Secret, PV, PVC, ..."""

from __future__ import annotations

from .columns import Cells, meta_of
from .fmt import (Clock, EMPTY, NO_ITEMS, NONE, UNKNOWN, UNSET, access_modes, join_host_port, lb_ingress,
                  storage_class_of, format_labels)


def _service_external_ip(spec: dict, status: dict) -> str:
    """getServiceExternalIP (wide)."""
    svc_type = spec.get("type", "")
    external = spec.get("externalIPs") or NO_ITEMS
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else NONE
    if svc_type == "LoadBalancer":
        lb = lb_ingress(status.get("loadBalancer"))
        if external:
            return ",".join(([*lb.split(",")] if lb else []) + list(external))
        return lb or "<pending>"
    if svc_type == "ExternalName":
        return spec.get("externalName", "")
    return UNKNOWN


def _port_string(ports: list[dict] | None) -> str:
    """makePortString: 80/TCP, or 80:30080/TCP with a node port."""
    pieces = []
    for p in ports or NO_ITEMS:
        proto = p.get("protocol", "")
        node_port = p.get("nodePort") or 0
        if node_port > 0:
            pieces.append(f"{p.get('port', 0)}:{node_port}/{proto}")
        else:
            pieces.append(f"{p.get('port', 0)}/{proto}")
    return ",".join(pieces)


def service_row(obj: dict, clock: Clock) -> Cells:
    spec = obj.get("spec") or EMPTY
    md = meta_of(obj)
    ips = spec.get("clusterIPs") or NO_ITEMS
    # Service defaulting fills clusterIPs from clusterIP when only the latter is set.
    cluster_ip = ips[0] if ips else (spec.get("clusterIP") or NONE)
    return [md.get("name", ""), spec.get("type", ""), cluster_ip,
            _service_external_ip(spec, obj.get("status") or EMPTY), _port_string(spec.get("ports")) or NONE,
            clock.since(md.get("creationTimestamp")), format_labels(spec.get("selector"))]


def _format_endpoints(subsets: list[dict] | None) -> str:
    """formatEndpoints(ep, nil): up to three ip:port, then "+ N more..."."""
    if not subsets:
        return NONE
    out: list[str] = []
    more = False
    count = 0
    for ss in subsets:
        addrs = ss.get("addresses") or NO_ITEMS
        ports = ss.get("ports") or NO_ITEMS
        if not ports:
            count += len(addrs)
            for a in addrs:
                if len(out) == 3:
                    more = True
                    break
                out.append(a.get("ip", ""))
            continue
        for port in ports:
            count += len(addrs)
            for a in addrs:
                if len(out) == 3:
                    more = True
                    break
                out.append(join_host_port(a.get("ip", ""), port.get("port", 0)))
    ret = ",".join(out)
    return f"{ret} + {count - 3} more..." if more else ret


def endpoints_row(obj: dict, clock: Clock) -> Cells:
    md = meta_of(obj)
    return [md.get("name", ""), _format_endpoints(obj.get("subsets")), clock.since(md.get("creationTimestamp"))]


def _node_roles(labels: dict[str, str]) -> str:
    """findNodeRoles: node-role.kubernetes.io/<role> labels and kubernetes.io/role=<role>."""
    roles = set()
    for k, v in labels.items():
        if k.startswith("node-role.kubernetes.io/"):
            role = k[len("node-role.kubernetes.io/"):]
            if role:
                roles.add(role)
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    return ",".join(sorted(roles)) or NONE


def _node_address(addresses: list[dict], kind: str) -> str:
    for a in addresses:
        if a.get("type") == kind:
            return a.get("address", "")
    return NONE


def node_row(obj: dict, clock: Clock) -> Cells:
    md = meta_of(obj)
    st = obj.get("status") or EMPTY
    ready = None
    for c in st.get("conditions") or NO_ITEMS:  # the last Ready condition wins, like the Go map
        if c.get("type") == "Ready":
            ready = c
    status = ["Unknown"] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    if (obj.get("spec") or EMPTY).get("unschedulable"):
        status.append("SchedulingDisabled")
    info = st.get("nodeInfo") or EMPTY
    addrs = st.get("addresses") or NO_ITEMS
    return [md.get("name", ""), ",".join(status), _node_roles(md.get("labels") or EMPTY),
            clock.since(md.get("creationTimestamp")), info.get("kubeletVersion", ""),
            _node_address(addrs, "InternalIP"), _node_address(addrs, "ExternalIP"),
            info.get("osImage") or UNKNOWN, info.get("kernelVersion") or UNKNOWN,
            info.get("containerRuntimeVersion") or UNKNOWN]


def _event_cells(obj: dict, clock: Clock, *, first_ts: str | None, last_ts: str | None, count: int | None,
                 involved: dict, source: dict, message: str) -> Cells:
    """printEvent on the internal Event, after mapping either API version onto it."""
    md = meta_of(obj)
    first = clock.since(first_ts) if first_ts else clock.since(obj.get("eventTime"))
    last = clock.since(last_ts) if last_ts else first
    series = obj.get("series")
    count = count or 0
    if series is not None:
        last = clock.since(series.get("lastObservedTime"))
        count = series.get("count") or 0
    elif count == 0:
        count = 1  # singleton events of the new API carry no count
    kind = involved.get("kind", "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    component = source.get("component") or obj.get("reportingController") or ""
    instance = source.get("host") or obj.get("reportingInstance") or ""
    src = f"{component}, {instance}" if instance else component
    return [last, obj.get("type", ""), obj.get("reason", ""), target, involved.get("fieldPath", ""), src,
            (message or "").strip(), first, count, md.get("name", "")]


def event_row(obj: dict, clock: Clock) -> Cells:
    return _event_cells(obj, clock, first_ts=obj.get("firstTimestamp"), last_ts=obj.get("lastTimestamp"),
                        count=obj.get("count"), involved=obj.get("involvedObject") or EMPTY,
                        source=obj.get("source") or EMPTY, message=obj.get("message", ""))


def events_k8s_io_event_row(obj: dict, clock: Clock) -> Cells:
    """events.k8s.io/v1 renames the fields (regarding, note, deprecated*)."""
    return _event_cells(obj, clock, first_ts=obj.get("deprecatedFirstTimestamp"),
                        last_ts=obj.get("deprecatedLastTimestamp"), count=obj.get("deprecatedCount"),
                        involved=obj.get("regarding") or EMPTY, source=obj.get("deprecatedSource") or EMPTY,
                        message=obj.get("note", ""))


def namespace_row(obj: dict, clock: Clock) -> Cells:
    md = meta_of(obj)
    return [md.get("name", ""), (obj.get("status") or EMPTY).get("phase", ""), clock.since(md.get("creationTimestamp"))]


def secret_row(obj: dict, clock: Clock) -> Cells:
    md = meta_of(obj)
    return [md.get("name", ""), obj.get("type", ""), len(obj.get("data") or EMPTY),
            clock.since(md.get("creationTimestamp"))]


def service_account_row(obj: dict, clock: Clock) -> Cells:
    md = meta_of(obj)
    return [md.get("name", ""), len(obj.get("secrets") or NO_ITEMS), clock.since(md.get("creationTimestamp"))]


def pv_row(obj: dict, clock: Clock) -> Cells:
    md = meta_of(obj)
    spec = obj.get("spec") or EMPTY
    st = obj.get("status") or EMPTY
    claim = spec.get("claimRef")
    claim_s = "" if claim is None else f"{claim.get('namespace', '')}/{claim.get('name', '')}"
    phase = "Terminating" if md.get("deletionTimestamp") else st.get("phase", "")
    vmode = spec.get("volumeMode")
    vac = spec.get("volumeAttributesClassName")
    return [md.get("name", ""), (spec.get("capacity") or EMPTY).get("storage", "0"),
            access_modes(spec.get("accessModes")),
            spec.get("persistentVolumeReclaimPolicy", ""), phase, claim_s, storage_class_of(obj),
            UNSET if vac is None else vac, st.get("reason", ""), clock.since(md.get("creationTimestamp")),
            UNSET if vmode is None else vmode]


def pvc_row(obj: dict, clock: Clock) -> Cells:
    md = meta_of(obj)
    spec = obj.get("spec") or EMPTY
    st = obj.get("status") or EMPTY
    phase = "Terminating" if md.get("deletionTimestamp") else st.get("phase", "")
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = access_modes(st.get("accessModes"))
        capacity = (st.get("capacity") or EMPTY).get("storage", "0")
    vmode = spec.get("volumeMode")
    vac = spec.get("volumeAttributesClassName")
    return [md.get("name", ""), phase, spec.get("volumeName", ""), capacity, modes, storage_class_of(obj),
            UNSET if vac is None else vac, clock.since(md.get("creationTimestamp")),
            UNSET if vmode is None else vmode]


def config_map_row(obj: dict, clock: Clock) -> Cells:
    md = obj.get("metadata") or EMPTY
    return [md.get("name", ""), len(obj.get("data") or EMPTY) + len(obj.get("binaryData") or EMPTY),
            clock.since(md.get("creationTimestamp"))]


def resource_quota_row(obj: dict, clock: Clock) -> Cells:
    md = meta_of(obj)
    st = obj.get("status") or EMPTY
    hard = st.get("hard") or EMPTY
    used = st.get("used") or EMPTY
    request: list[str] = []
    limit: list[str] = []
    for name in sorted(hard):
        pieces = name.split(".")
        target = limit if len(pieces) > 1 and pieces[0] == "limits" else request
        target.append(f"{name}: {used.get(name, '0')}/{hard[name]}")
    return [md.get("name", ""), ", ".join(request), ", ".join(limit), clock.since(md.get("creationTimestamp"))]
