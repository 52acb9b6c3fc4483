"""Pod specs and templates (pkg/apis/core/validation: ValidatePodSpec and friends)."""

from __future__ import annotations

import json
from typing import Any

from .field import (Causes, GoRaw, IS_NEGATIVE_ERROR, dict_of, int_of, list_of, str_of, sem_equal, dns1123_label_field,
                    duplicate, forbidden, inclusive_range_error, invalid, is_valid_label_value, is_valid_port_name,
                    is_valid_port_num, name_is_dns_subdomain, nonnegative, not_found, not_supported,
                    qualified_name_field, required)
from .meta import (quantity_str, parse_quantity, validate_annotations, validate_labels, validate_object_meta,
                   validate_object_meta_update)


# Pod spec (pkg/apis/core/validation)

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("SCTP", "TCP", "UDP")  # sets.List order
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_VOLUME_SOURCES = (
    "emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs",
    "iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte",
    "downwardAPI", "fc", "azureFile", "vsphereVolume", "photonPersistentDisk", "portworxVolume",
    "azureDisk", "storageos", "projected", "scaleIO", "configMap", "csi", "ephemeral", "image",
)
FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
_OVERCOMMIT_FORBIDDEN_PREFIX = "hugepages-"


def _validate_volume_source(vol: dict, p: str) -> Causes:
    out: Causes = []
    count = 0
    for src in _VOLUME_SOURCES:
        if vol.get(src) is None:
            continue
        if count > 0:
            out.append(forbidden(f"{p}.{src}", "may not specify more than 1 volume type"))
            continue
        count += 1
        s = dict_of(vol[src])
        sp = f"{p}.{src}"
        if src == "configMap":
            if not str_of(s.get("name")):
                out.append(required(sp + ".name"))
            out += _file_mode(s.get("defaultMode"), sp + ".defaultMode")
            out += _key_to_paths(s.get("items"), sp + ".items")
        elif src == "secret":
            if not str_of(s.get("secretName")):
                out.append(required(sp + ".secretName"))
            out += _file_mode(s.get("defaultMode"), sp + ".defaultMode")
            out += _key_to_paths(s.get("items"), sp + ".items")
        elif src == "hostPath":
            if not str_of(s.get("path")):
                out.append(required(sp + ".path"))
        elif src == "persistentVolumeClaim":
            if not str_of(s.get("claimName")):
                out.append(required(sp + ".claimName"))
        elif src == "emptyDir":
            medium = s.get("medium")
            if medium not in (None, "", "Memory", "HugePages") and not str_of(medium).startswith("HugePages-"):
                pass  # upstream accepts any StorageMedium string at this layer
    if count == 0:
        out.append(required(p, "must specify a volume type"))
    return out


def _file_mode(mode: Any, fld: str) -> Causes:
    if mode is not None and (mode > 0o777 or mode < 0):
        return [invalid(fld, mode, FILE_MODE_ERROR)]
    return []


def _key_to_paths(items: Any, fld: str) -> Causes:
    out: Causes = []
    for i, kp in enumerate(list_of(items)):
        kp = dict_of(kp)
        p = f"{fld}[{i}]"
        if not str_of(kp.get("key")):
            out.append(required(p + ".key"))
        path = str_of(kp.get("path"))
        if not path:
            out.append(required(p + ".path"))
        else:
            out += _local_descending_path(path, p + ".path")
        out += _file_mode(kp.get("mode"), p + ".mode")
    return out


def _local_descending_path(path: str, fld: str) -> Causes:
    out: Causes = []
    if path.startswith("/"):
        out.append(invalid(fld, path, "must be a relative path"))
    if ".." in path.replace("\\", "/").split("/"):
        out.append(invalid(fld, path, "must not contain '..'"))
    return out


def validate_volumes(volumes: Any, fld: str) -> tuple[set[str], Causes]:
    names: set[str] = set()
    out: Causes = []
    for i, vol in enumerate(list_of(volumes)):
        vol = dict_of(vol)
        p = f"{fld}[{i}]"
        el = _validate_volume_source(vol, p)
        name = str_of(vol.get("name"))
        if not name:
            el.append(required(p + ".name"))
        else:
            el += dns1123_label_field(name, p + ".name")
        if name in names:
            el.append(duplicate(p + ".name", name))
        if not el:
            names.add(name)
        out += el
    return names, out


def _validate_ports(ports: Any, fld: str) -> Causes:
    out: Causes = []
    names: set[str] = set()
    for i, port in enumerate(list_of(ports)):
        port = dict_of(port)
        p = f"{fld}[{i}]"
        name = str_of(port.get("name"))
        if name:
            msgs = is_valid_port_name(name)
            if msgs:
                out += [invalid(p + ".name", name, m) for m in msgs]
            elif name in names:
                out.append(duplicate(p + ".name", name))
            else:
                names.add(name)
        cp = port.get("containerPort")
        if not cp:
            out.append(required(p + ".containerPort"))
        else:
            out += [invalid(p + ".containerPort", cp, m) for m in is_valid_port_num(cp)]
        hp = port.get("hostPort")
        if hp:
            out += [invalid(p + ".hostPort", hp, m) for m in is_valid_port_num(hp)]
        proto = str_of(port.get("protocol"))
        if not proto:
            out.append(required(p + ".protocol"))
        elif proto not in PROTOCOLS:
            out.append(not_supported(p + ".protocol", proto, PROTOCOLS))
    return out


def _validate_env(env: Any, fld: str) -> Causes:
    out: Causes = []
    for i, ev in enumerate(list_of(env)):
        ev = dict_of(ev)
        p = f"{fld}[{i}]"
        name = str_of(ev.get("name"))
        if not name:
            out.append(required(p + ".name"))
        value_from = ev.get("valueFrom")
        if value_from is not None:
            vf = dict_of(value_from)
            n = sum(1 for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef") if vf.get(k) is not None)
            if n == 0:
                out.append(invalid(p + ".valueFrom", "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
            elif n > 1:
                out.append(invalid(p + ".valueFrom", "", "may not have more than one field specified at a time"))
            if str_of(ev.get("value")):
                out.append(invalid(p + ".valueFrom", "", "may not be specified when `value` is not empty"))
    return out


def _validate_volume_mounts(mounts: Any, volumes: set[str], fld: str) -> Causes:
    out: Causes = []
    seen: set[str] = set()
    for i, mnt in enumerate(list_of(mounts)):
        mnt = dict_of(mnt)
        p = f"{fld}[{i}]"
        name = str_of(mnt.get("name"))
        if not name:
            out.append(required(p + ".name"))
        if name not in volumes:
            out.append(not_found(p + ".name", name))
        mp = str_of(mnt.get("mountPath"))
        if not mp:
            out.append(required(p + ".mountPath"))
        if mp in seen:
            out.append(invalid(p + ".mountPath", mp, "must be unique"))
        seen.add(mp)
        sub = str_of(mnt.get("subPath"))
        if sub:
            out += _local_descending_path(sub, fld + ".subPath")
    return out


def _validate_resources(res: Any, fld: str) -> Causes:
    r = dict_of(res)
    out: Causes = []
    limits = dict_of(r.get("limits"))
    requests = dict_of(r.get("requests"))
    lim_path, req_path = fld + ".limits", fld + ".requests"
    for name, q in limits.items():
        out += _validate_quantity(name, q, f"{lim_path}[{name}]")
    for name, q in requests.items():
        out += _validate_quantity(name, q, f"{req_path}[{name}]")
        qv = parse_quantity(q)
        if name in limits:
            lv = parse_quantity(limits[name])
            if qv is None or lv is None:
                continue
            if name.startswith(_OVERCOMMIT_FORBIDDEN_PREFIX) and qv != lv:
                out.append(invalid(req_path, quantity_str(q), f"must be equal to {name} limit of {quantity_str(limits[name])}"))
            elif qv > lv:
                out.append(invalid(req_path, quantity_str(q), f"must be less than or equal to {name} limit of {quantity_str(limits[name])}"))
        elif name.startswith(_OVERCOMMIT_FORBIDDEN_PREFIX):
            out.append(required(lim_path, "Limit must be set for non overcommitable resources"))
    return out


_STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}


def _validate_quantity(name: str, q: Any, fld: str) -> Causes:
    out: Causes = []
    if "/" not in name and name not in _STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
        out.append(invalid(fld, name, "must be a standard resource for containers"))
    v = parse_quantity(q)
    if v is None:
        return out
    if v < 0:
        out.append(invalid(fld, quantity_str(q), IS_NEGATIVE_ERROR))
    elif name not in ("cpu", "memory", "ephemeral-storage") and not name.startswith("hugepages-") and v != v.to_integral_value():
        out.append(invalid(fld, quantity_str(q), "must be an integer"))
    return out


def port_num_or_name(port: Any, fld: str) -> Causes:
    if isinstance(port, str):
        return [invalid(fld, port, m) for m in is_valid_port_name(port)]
    if isinstance(port, int) and not isinstance(port, bool):
        return [invalid(fld, port, m) for m in is_valid_port_num(port)]
    return [invalid(fld, 0, inclusive_range_error(1, 65535))]


_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc", "sleep")


def _validate_handler(h: dict, fld: str, allowed: tuple[str, ...]) -> Causes:
    out: Causes = []
    count = 0
    for kind in allowed:
        if h.get(kind) is None:
            continue
        p = f"{fld}.{kind}"
        if count > 0:
            out.append(forbidden(p, "may not specify more than 1 handler type"))
            continue
        count += 1
        a = dict_of(h[kind])
        if kind == "exec":
            if not list_of(a.get("command")):
                out.append(required(p + ".command"))
        elif kind == "httpGet":
            if not str_of(a.get("path")):
                out.append(required(p + ".path"))
            out += port_num_or_name(a.get("port"), p + ".port")
            scheme = a.get("scheme")
            if scheme not in ("HTTP", "HTTPS"):
                out.append(not_supported(p + ".scheme", str_of(scheme), ("HTTP", "HTTPS")))
        elif kind == "tcpSocket":
            out += port_num_or_name(a.get("port"), p + ".port")
        elif kind == "grpc":
            out += [invalid(p + ".port", a.get("port"), m) for m in is_valid_port_num(a.get("port"))]
        elif kind == "sleep":
            secs = a.get("seconds", 0)  # an int64, not a pointer: absent is 0
            if secs <= 0:
                out.append(invalid(p + ".seconds", secs, "must be greater than 0"))
    if count == 0:
        out.append(required(fld, "must specify a handler type"))
    return out


def _validate_probe(probe: Any, fld: str, kind: str) -> Causes:
    if probe is None:
        return []
    pr = dict_of(probe)
    out = _validate_handler(pr, fld, ("exec", "httpGet", "tcpSocket", "grpc"))
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        out += nonnegative(pr.get(key), f"{fld}.{key}")
    tgp = pr.get("terminationGracePeriodSeconds")
    if tgp is not None and tgp <= 0:
        out.append(invalid(fld + ".terminationGracePeriodSeconds", tgp, "must be greater than 0"))
    if kind in ("liveness", "startup") and int_of(pr.get("successThreshold"), 1) != 1:
        out.append(invalid(fld + ".successThreshold", pr.get("successThreshold"), "must be 1"))
    if kind == "readiness" and tgp is not None:
        out.append(invalid(fld + ".terminationGracePeriodSeconds", tgp, "must not be set for readinessProbes"))
    return out


def _validate_probes(c: dict, p: str) -> Causes:
    """validateLivenessProbe / validateReadinessProbe / validateStartupProbe of one container."""
    return [cause for kind in ("liveness", "readiness", "startup")
            for cause in _validate_probe(c.get(kind + "Probe"), f"{p}.{kind}Probe", kind)]


def _validate_container_common(c: dict, volumes: set[str], p: str) -> Causes:
    out: Causes = []
    name = str_of(c.get("name"))
    if not name:
        out.append(required(p + ".name"))
    else:
        out += dns1123_label_field(name, p + ".name")
    if not str_of(c.get("image")):
        out.append(required(p + ".image"))
    tmp = str_of(c.get("terminationMessagePolicy"))
    if not tmp:
        out.append(required(p + ".terminationMessagePolicy"))
    elif tmp not in TERMINATION_MESSAGE_POLICIES:
        out.append(not_supported(p + ".terminationMessagePolicy", tmp, TERMINATION_MESSAGE_POLICIES))
    out += _validate_ports(c.get("ports"), p + ".ports")
    out += _validate_env(c.get("env"), p + ".env")
    out += _validate_volume_mounts(c.get("volumeMounts"), volumes, p + ".volumeMounts")
    ipp = str_of(c.get("imagePullPolicy"))
    if not ipp:
        out.append(required(p + ".imagePullPolicy"))
    elif ipp not in PULL_POLICIES:
        out.append(not_supported(p + ".imagePullPolicy", ipp, PULL_POLICIES))
    out += _validate_resources(c.get("resources"), p + ".resources")
    return out


def _validate_containers(containers: Any, volumes: set[str], fld: str) -> Causes:
    out: Causes = []
    cs = list_of(containers)
    if not cs:
        out.append(required(fld))
    names: set[str] = set()
    for i, c in enumerate(cs):
        c = dict_of(c)
        p = f"{fld}[{i}]"
        out += _validate_container_common(c, volumes, p)
        name = str_of(c.get("name"))
        if name in names:
            out.append(duplicate(p + ".name", name))
        else:
            names.add(name)
        lc = c.get("lifecycle")
        if lc is not None:
            for hook in ("postStart", "preStop"):
                if dict_of(lc).get(hook) is not None:
                    out += _validate_handler(dict_of(dict_of(lc)[hook]), f"{p}.lifecycle.{hook}", _HANDLERS)
        out += _validate_probes(c, p)
        if c.get("restartPolicy") is not None:
            out.append(forbidden(p + ".restartPolicy", "may not be set for non-init containers"))
    out += _host_port_conflicts(cs, fld)
    return out


def _host_port_conflicts(containers: list, fld: str) -> Causes:
    out: Causes = []
    seen: set[str] = set()
    for c in containers:
        for port in list_of(dict_of(c).get("ports")):
            port = dict_of(port)
            hp = port.get("hostPort")
            if not hp:
                continue
            key = f'{str_of(port.get("protocol"))}/{str_of(port.get("hostIP"))}/{hp}'
            if key in seen:
                out.append(duplicate(fld + "[].ports[].hostPort", GoRaw(key)))
            seen.add(key)
    return out


def _validate_init_containers(inits: Any, containers: Any, volumes: set[str], fld: str) -> Causes:
    out: Causes = []
    names = {str_of(dict_of(c).get("name")) for c in list_of(containers)}
    for i, c in enumerate(list_of(inits)):
        c = dict_of(c)
        p = f"{fld}[{i}]"
        out += _validate_container_common(c, volumes, p)
        name = str_of(c.get("name"))
        if name in names:
            out.append(duplicate(p + ".name", name))
        else:
            names.add(name)
        rp = c.get("restartPolicy")
        if rp is not None and rp != "Always":
            out.append(not_supported(p + ".restartPolicy", rp, ("Always",)))
        if rp == "Always":
            out += _validate_probes(c, p)  # a sidecar's probes run like a container's
        else:
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if c.get(key) is not None:
                    out.append(forbidden(f"{p}.{key}", "may not be set for init containers without restartPolicy=Always"))
    return out


def validate_pod_spec(spec: Any, fld: str) -> Causes:
    s = dict_of(spec)
    volumes, out = validate_volumes(s.get("volumes"), fld + ".volumes")
    out += _validate_containers(s.get("containers"), volumes, fld + ".containers")
    out += _validate_init_containers(s.get("initContainers"), s.get("containers"), volumes, fld + ".initContainers")
    rp = str_of(s.get("restartPolicy"))
    if not rp:
        out.append(required(fld + ".restartPolicy"))
    elif rp not in RESTART_POLICIES:
        out.append(not_supported(fld + ".restartPolicy", rp, RESTART_POLICIES))
    dp = str_of(s.get("dnsPolicy"))
    if not dp:
        out.append(required(fld + ".dnsPolicy"))
    elif dp not in DNS_POLICIES:
        out.append(not_supported(fld + ".dnsPolicy", dp, DNS_POLICIES))
    elif dp == "None" and s.get("dnsConfig") is None:
        out.append(required(fld + ".dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"))
    out += validate_labels(s.get("nodeSelector"), fld + ".nodeSelector")
    sa = str_of(s.get("serviceAccountName"))
    if sa:
        out += [invalid(fld + ".serviceAccountName", sa, m) for m in name_is_dns_subdomain(sa, False)]
    node = str_of(s.get("nodeName"))
    if node:
        out += [invalid(fld + ".nodeName", node, m) for m in name_is_dns_subdomain(node, False)]
    ads = s.get("activeDeadlineSeconds")
    if ads is not None and (ads < 1 or ads > 2**31 - 1):
        out.append(invalid(fld + ".activeDeadlineSeconds", ads, inclusive_range_error(1, 2**31 - 1)))
    for key in ("hostname", "subdomain"):
        v = str_of(s.get(key))
        if v:
            out += dns1123_label_field(v, f"{fld}.{key}")
    out += _validate_tolerations(s.get("tolerations"), fld + ".tolerations")
    tgp = s.get("terminationGracePeriodSeconds")
    if tgp is not None and tgp < 0:
        pass  # upstream tolerates negative values here (treated as 1 by the kubelet)
    return out


_TOLERATION_OPS = ("Equal", "Exists")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _validate_tolerations(tols: Any, fld: str) -> Causes:
    out: Causes = []
    for i, t in enumerate(list_of(tols)):
        t = dict_of(t)
        p = f"{fld}[{i}]"
        key = str_of(t.get("key"))
        if key:
            out += qualified_name_field(key, p + ".key")
        op = str_of(t.get("operator"))
        if not key and op != "Exists":
            out.append(invalid(p + ".operator", op, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
        if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
            out.append(invalid(p + ".effect", str_of(t.get("effect")), "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op in ("", "Equal"):
            out += [invalid(p + ".operator", str_of(t.get("value")), m) for m in is_valid_label_value(str_of(t.get("value")))]
        elif op == "Exists":
            if str_of(t.get("value")):
                out.append(invalid(p + ".operator", t.get("value"), "value must be empty when `operator` is 'Exists'"))
        else:
            out.append(not_supported(p + ".operator", op, _TOLERATION_OPS))
        eff = str_of(t.get("effect"))
        if eff and eff not in TAINT_EFFECTS:
            out.append(not_supported(p + ".effect", eff, TAINT_EFFECTS))
    return out


def validate_pod_template_spec(tpl: Any, fld: str) -> Causes:
    t = dict_of(tpl)
    meta = dict_of(t.get("metadata"))
    out = validate_labels(meta.get("labels"), fld + ".labels")
    out += validate_annotations(meta.get("annotations"), fld + ".annotations")
    out += validate_pod_spec(t.get("spec"), fld + ".spec")
    spec = dict_of(t.get("spec"))
    if list_of(spec.get("ephemeralContainers")):
        out.append(forbidden(fld + ".spec.ephemeralContainers", "ephemeral containers not allowed in pod template"))
    return out


def validate_pod(pod: dict, old: dict | None) -> Causes:
    out = validate_object_meta(pod.get("metadata"), True, name_is_dns_subdomain)
    spec = dict_of(pod.get("spec"))
    out += validate_pod_spec(spec, "spec")
    if old is None:
        if list_of(spec.get("ephemeralContainers")):
            out.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
        if str_of(spec.get("nodeName")) and list_of(spec.get("schedulingGates")):
            out.append(forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
        return out
    return validate_object_meta_update(pod.get("metadata"), old.get("metadata")) + out + _pod_spec_update(spec, dict_of(old.get("spec")))


POD_UPDATE_MSG = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _pod_spec_update(new: dict, old: dict) -> Causes:
    """ValidatePodUpdate: only images, activeDeadlineSeconds and added tolerations may change."""
    out: Causes = []
    ads, old_ads = new.get("activeDeadlineSeconds"), old.get("activeDeadlineSeconds")
    if ads is not None:
        if ads < 0 or ads > 2**31 - 1:
            return [invalid("spec.activeDeadlineSeconds", ads, inclusive_range_error(0, 2**31 - 1))]
        if old_ads is not None and old_ads < ads:
            return [invalid("spec.activeDeadlineSeconds", ads, "must be less than or equal to previous value")]
    elif old_ads is not None:
        out.append(invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"))
    if len(list_of(new.get("containers"))) != len(list_of(old.get("containers"))):
        out.append(forbidden("spec.containers", "pod updates may not add or remove containers"))
        return out
    out += _tolerations_update(list_of(new.get("tolerations")), list_of(old.get("tolerations")))
    munged = dict(new)
    for key in ("containers", "initContainers"):
        olds = list_of(old.get(key))
        if key in new:
            munged[key] = [
                {**dict_of(c), "image": dict_of(olds[i]).get("image")} if i < len(olds) else c
                for i, c in enumerate(new[key])
            ]
    for key in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        munged.pop(key, None)
        if key in old:
            munged[key] = old[key]
    otgp, ntgp = old.get("terminationGracePeriodSeconds"), new.get("terminationGracePeriodSeconds")
    if otgp is not None and otgp < 0 and ntgp == 1:
        munged["terminationGracePeriodSeconds"] = otgp
    if not sem_equal(munged, old):
        diff = _spec_diff(old, munged, "spec")
        out.append(forbidden("spec", POD_UPDATE_MSG + "\n" + diff))
    return out


def _tolerations_update(new: list, old: list) -> Causes:
    out: Causes = []
    for t in old:
        t = dict_of(t)
        match = [n for n in new if {k: v for k, v in dict_of(n).items() if k != "tolerationSeconds"}
                 == {k: v for k, v in t.items() if k != "tolerationSeconds"}]
        if not match:
            out.append(forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"))
    return out


def _spec_diff(old: Any, new: Any, path: str) -> str:
    """A readable stand-in for upstream's cmp.Diff output: one `-`/`+` pair per changed field."""
    lines: list[str] = []

    def walk(a: Any, b: Any, p: str) -> None:
        if sem_equal(a, b):
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for k in list(a) + [k for k in b if k not in a]:
                walk(a.get(k), b.get(k), f"{p}.{k}")
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{p}[{i}]")
        else:
            lines.append(f"  {p}:\n-   {json.dumps(a)}\n+   {json.dumps(b)}")

    walk(old, new, path)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
