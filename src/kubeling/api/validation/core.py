"""core/v1 kinds other than Pod (pkg/apis/core/validation)."""

from __future__ import annotations

from .field import (Causes, GoRaw, NameFn, config_map_key_ok, dict_of, int_of, list_of, str_of, dns1123_label_field,
                    dns1123_subdomain_field, duplicate, forbidden, go_quote, go_strings, immutable,
                    inclusive_range_error, invalid, is_config_map_key, is_dns1123_subdomain, is_valid_label_value,
                    is_valid_port_num, name_is_dns1035_label, name_is_dns_label, name_is_dns_subdomain, not_supported,
                    qualified_name_field, required, too_long)
from .meta import MAX_SECRET_SIZE, validate_labels, validate_object_meta, validate_object_meta_update
from .pod import PROTOCOLS, TAINT_EFFECTS, port_num_or_name


# core/v1 kinds


def validate_meta(obj: dict, old: dict | None, namespaced: bool, name_fn: NameFn) -> Causes:
    """Create: ValidateObjectMeta. Update: ValidateObjectMetaUpdate + ValidateObjectMeta of new."""
    if old is None:
        return validate_object_meta(obj.get("metadata"), namespaced, name_fn)
    return validate_object_meta_update(obj.get("metadata"), old.get("metadata"))


def validate_config_map(obj: dict, old: dict | None) -> Causes:
    out: Causes = []
    if old is not None:
        out += validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
        out += _immutable_payload(obj, old, ("data", "binaryData"))
    out += validate_object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    data, binary = dict_of(obj.get("data")), dict_of(obj.get("binaryData"))
    size = 0
    for k, v in data.items():
        if not config_map_key_ok(k):
            out += [invalid(f"data[{k}]", k, m) for m in is_config_map_key(k)]
        if k in binary:
            out.append(invalid(f"data[{k}]", k, "duplicate of key present in binaryData"))
        size += len(str_of(v).encode())
    for k, v in binary.items():
        out += [invalid(f"binaryData[{k}]", k, m) for m in is_config_map_key(k)]
        size += len(str_of(v)) * 3 // 4
    if size > MAX_SECRET_SIZE:
        out.append(too_long("[]", MAX_SECRET_SIZE))
    return out


def _immutable_payload(obj: dict, old: dict, keys: tuple[str, ...]) -> Causes:
    out: Causes = []
    if old.get("immutable") is True:
        if obj.get("immutable") is not True:
            out.append(forbidden("immutable", "field is immutable when `immutable` is set"))
        for k in keys:
            if (obj.get(k) or None) != (old.get(k) or None):
                out.append(forbidden(k, "field is immutable when `immutable` is set"))
    return out


def validate_secret(obj: dict, old: dict | None) -> Causes:
    out: Causes = []
    if old is not None:
        out += validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
        out += immutable(str_of(obj.get("type")), str_of(old.get("type")), "type")
        out += _immutable_payload(obj, old, ("data",))
    out += validate_object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    data = dict_of(obj.get("data"))
    size = 0
    for k, v in data.items():
        out += [invalid(f"data[{k}]", k, m) for m in is_config_map_key(k)]
        size += len(str_of(v)) * 3 // 4
    if size > MAX_SECRET_SIZE:
        out.append(too_long("data", MAX_SECRET_SIZE))
    t = str_of(obj.get("type"))
    ann = dict_of(dict_of(obj.get("metadata")).get("annotations"))
    if t == "kubernetes.io/service-account-token":
        if not str_of(ann.get("kubernetes.io/service-account.name")):
            out.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif t == "kubernetes.io/dockercfg":
        if ".dockercfg" not in data:
            out.append(required("data[.dockercfg]"))
    elif t == "kubernetes.io/dockerconfigjson":
        if ".dockerconfigjson" not in data:
            out.append(required("data[.dockerconfigjson]"))
    elif t == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            out += [required("data[username]"), required("data[password]")]
    elif t == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            out.append(required("data[ssh-privatekey]"))
    elif t == "kubernetes.io/tls":
        if "tls.crt" not in data:
            out.append(required("data[tls.crt]"))
        if "tls.key" not in data:
            out.append(required("data[tls.key]"))
    return out


def validate_namespace(obj: dict, old: dict | None) -> Causes:
    out = validate_meta(obj, old, False, name_is_dns_label)
    for f in list_of(dict_of(obj.get("spec")).get("finalizers")):
        out += _validate_finalizer_name(str_of(f), "spec.finalizers")
    return out


def _validate_finalizer_name(f: str, fld: str) -> Causes:
    out = qualified_name_field(f, fld)
    if not out and "/" not in f and f != "kubernetes":
        out.append(invalid(fld, f, "name is neither a standard finalizer name nor is it fully qualified"))
    return out


SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES = ("ClientIP", "None")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")


def _cluster_ips(spec: dict) -> list:
    ips = list_of(spec.get("clusterIPs"))
    if not ips and str_of(spec.get("clusterIP")):
        ips = [spec["clusterIP"]]
    return ips


def _is_headless(spec: dict) -> bool:
    ips = _cluster_ips(spec)
    return len(ips) == 1 and ips[0] == "None"


def _go_service_port(p: dict) -> GoRaw:
    return GoRaw(
        f'core.ServicePort{{Name:"", Protocol:{go_quote(str_of(p.get("protocol")))}, AppProtocol:(*string)(nil), '
        f'Port:{int_of(p.get("port"))}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}'
    )


def validate_service(obj: dict, old: dict | None) -> Causes:
    out = validate_meta(obj, old, True, name_is_dns1035_label)
    spec = dict_of(obj.get("spec"))
    if old is not None:
        ospec = dict_of(old.get("spec"))
        out += _service_cluster_ip_update(spec, ospec)
        out += _service_ip_families_update(spec, ospec)
        if str_of(spec.get("type")) == str_of(ospec.get("type")) == "LoadBalancer" and \
                spec.get("loadBalancerClass") != ospec.get("loadBalancerClass"):
            out.append(invalid("spec.loadBalancerClass", spec.get("loadBalancerClass") or "null", "may not change once set"))
    t = str_of(spec.get("type"))
    lb_class = spec.get("loadBalancerClass")
    if lb_class is not None:
        if t != "LoadBalancer":
            out.append(forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"))
        else:
            out += qualified_name_field(str_of(lb_class), "spec.loadBalancerClass")
    ports = list_of(spec.get("ports"))
    headless = _is_headless(spec)
    if not ports and not headless and t != "ExternalName":
        out.append(required("spec.ports"))
    if t == "LoadBalancer":
        for i, port in enumerate(ports):
            if dict_of(port).get("port") == 10250:
                out.append(invalid(f"spec.ports[{i}]", 10250, "may not expose port 10250 externally since it is used by kubelet"))
        if headless:
            out.append(invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for LoadBalancer services"))
    elif t == "NodePort":
        if headless:
            out.append(invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for NodePort services"))
    elif t == "ExternalName":
        if _cluster_ips(spec):
            out.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if list_of(spec.get("ipFamilies")):
            out.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            out.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = str_of(spec.get("externalName")).removesuffix(".")
        if cname:
            out += dns1123_subdomain_field(cname, "spec.externalName")
        else:
            out.append(required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        out += _validate_service_port(dict_of(port), len(ports) > 1, names, f"spec.ports[{i}]")
    if spec.get("selector") is not None:
        out += validate_labels(spec.get("selector"), "spec.selector")
    sa = str_of(spec.get("sessionAffinity"))
    if not sa:
        out.append(required("spec.sessionAffinity"))
    elif sa not in SESSION_AFFINITIES:
        out.append(not_supported("spec.sessionAffinity", sa, SESSION_AFFINITIES))
    if sa == "ClientIP":
        cfg = dict_of(dict_of(spec.get("sessionAffinityConfig")).get("clientIP"))
        ts = cfg.get("timeoutSeconds")
        if ts is None or not (0 < ts <= 86400):
            out.append(invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", ts or 0,
                               inclusive_range_error(1, 86400)))
    elif sa == "None" and spec.get("sessionAffinityConfig") is not None:
        out.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    pol = spec.get("ipFamilyPolicy")
    if t != "ExternalName" and pol is not None and pol not in IP_FAMILY_POLICIES:
        out.append(not_supported("spec.ipFamilyPolicy", pol, IP_FAMILY_POLICIES))
    if t != "ExternalName":
        ips = _cluster_ips(spec)
        for i, ip in enumerate(ips):
            if i == 0 and ip == "None":
                if len(ips) > 1:
                    out.append(invalid("spec.clusterIPs", go_strings(ips), "'None' must be the first and only value"))
                continue
            if not is_ip(str_of(ip)):
                out.append(invalid(f"spec.clusterIPs[{i}]", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
        if len(ips) > 2:
            out.append(invalid("spec.clusterIPs", go_strings(ips), "may only hold up to 2 values"))
    for i, ip in enumerate(list_of(spec.get("externalIPs"))):
        if not is_ip(str_of(ip)):
            out.append(invalid(f"spec.externalIPs[{i}]", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    if not t:
        out.append(required("spec.type"))
    elif t not in SERVICE_TYPES:
        out.append(not_supported("spec.type", t, SERVICE_TYPES))
    if t == "ClusterIP":
        for i, port in enumerate(ports):
            if dict_of(port).get("nodePort"):
                out.append(forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"))
    seen: set[tuple] = set()
    for i, port in enumerate(ports):
        key = (str_of(dict_of(port).get("protocol")), dict_of(port).get("port"))
        if key in seen:
            out.append(duplicate(f"spec.ports[{i}]", _go_service_port(dict_of(port))))
        seen.add(key)
    etp = spec.get("externalTrafficPolicy")
    if etp and etp not in ("Cluster", "Local"):
        out.append(not_supported("spec.externalTrafficPolicy", etp, ("Cluster", "Local")))
    itp = spec.get("internalTrafficPolicy")
    if itp is not None and itp not in ("Cluster", "Local"):
        out.append(not_supported("spec.internalTrafficPolicy", itp, ("Cluster", "Local")))
    return out


def is_ip(s: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


def _validate_service_port(sp: dict, require_name: bool, names: set[str], fld: str) -> Causes:
    out: Causes = []
    name = str_of(sp.get("name"))
    if require_name and not name:
        out.append(required(fld + ".name"))
    elif name:
        out += dns1123_label_field(name, fld + ".name")
        if name in names:
            out.append(duplicate(fld + ".name", name))
        else:
            names.add(name)
    port = sp.get("port")
    out += [invalid(fld + ".port", port if port is not None else 0, m) for m in is_valid_port_num(port)]
    proto = str_of(sp.get("protocol"))
    if not proto:
        out.append(required(fld + ".protocol"))
    elif proto not in PROTOCOLS:
        out.append(not_supported(fld + ".protocol", proto, PROTOCOLS))
    out += port_num_or_name(sp.get("targetPort"), fld + ".targetPort")
    ap = sp.get("appProtocol")
    if ap is not None:
        out += qualified_name_field(ap, fld + ".appProtocol")
    return out


def _service_cluster_ip_update(spec: dict, old: dict) -> Causes:
    """validateUpgradeDowngradeClusterIPs: clusterIPs may gain or lose the secondary, never change."""
    if "ExternalName" in (str_of(spec.get("type")), str_of(old.get("type"))) or (_is_headless(spec) and _is_headless(old)):
        return []
    new_ips = _cluster_ips(spec)
    return _dual_stack_update(spec, "spec.clusterIPs", "clusterIP", new_ips, _cluster_ips(old),
                              go_strings(new_ips or None), index_each=True, unset=not new_ips)


def _service_ip_families_update(spec: dict, old: dict) -> Causes:
    """validateUpgradeDowngradeIPFamilies, with its quirks (always index 0, unset judged by clusterIPs)."""
    if "ExternalName" in (str_of(spec.get("type")), str_of(old.get("type"))) or _is_headless(spec) or _is_headless(old):
        return []
    new_f = [str_of(f) for f in list_of(spec.get("ipFamilies"))]
    shown = GoRaw("[]core.IPFamily{" + ", ".join(go_quote(f) for f in new_f) + "}" if new_f else "[]core.IPFamily(nil)")
    return _dual_stack_update(spec, "spec.ipFamilies", "ipFamily", new_f, [str_of(f) for f in list_of(old.get("ipFamilies"))],
                              shown, index_each=False, unset=not _cluster_ips(spec))


def _dual_stack_update(spec: dict, fld: str, noun: str, new: list, old: list, shown: GoRaw, *,
                       index_each: bool, unset: bool) -> Causes:
    """The shared rule: the primary (and, at equal length, every entry) may not change; releasing the
    secondary needs ipFamilyPolicy SingleStack. A changed primary shows clusterIPs in both."""
    if len(old) == len(new):
        return [invalid(f"{fld}[{i if index_each else 0}]", shown, "may not change once set")
                for i, x in enumerate(old) if x != new[i]]
    released = len(old) > len(new)  # else one was added (upgraded)
    out: Causes = []
    if released and unset:
        out.append(invalid(f"{fld}[0]", shown, f"primary {noun} can not be unset"))
    if old and new and new[0] != old[0]:
        out.append(invalid(f"{fld}[0]", go_strings(_cluster_ips(spec) or None), "may not change once set"))
    if released and len(new) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
        out.append(invalid("spec.ipFamilyPolicy", str_of(spec.get("ipFamilyPolicy")) or "null",
                           f"must be set to 'SingleStack' when releasing the secondary {noun}"))
    return out


def validate_node(obj: dict, old: dict | None) -> Causes:
    out = validate_meta(obj, old, False, name_is_dns_subdomain)
    spec = dict_of(obj.get("spec"))
    for i, taint in enumerate(list_of(spec.get("taints"))):
        t = dict_of(taint)
        p = f"spec.taints[{i}]"
        out += qualified_name_field(str_of(t.get("key")), p + ".key")
        if t.get("value"):
            out += [invalid(p + ".value", t["value"], m) for m in is_valid_label_value(str_of(t["value"]))]
        eff = str_of(t.get("effect"))
        if not eff:
            out.append(required(p + ".effect"))
        elif eff not in TAINT_EFFECTS:
            out.append(not_supported(p + ".effect", eff, TAINT_EFFECTS))
    if old is not None:
        ospec = dict_of(old.get("spec"))
        if str_of(ospec.get("podCIDR")) and spec.get("podCIDR") != ospec.get("podCIDR"):
            out.append(forbidden("spec.podCIDR", "node updates may not change podCIDR except from \"\" to valid"))
        if str_of(ospec.get("providerID")) and spec.get("providerID") != ospec.get("providerID"):
            out.append(forbidden("spec.providerID", "node updates may not change providerID except from \"\" to valid"))
    return out


def validate_event(obj: dict, old: dict | None, version: str = "v1", events_group: bool = False) -> Causes:
    """legacyValidateEvent (core/v1 and the compatible part of events.k8s.io)."""
    out: Causes = []
    if old is not None:
        out += validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    ns = str_of(dict_of(obj.get("metadata")).get("namespace"))
    key = "regarding" if events_group else "involvedObject"
    inv_ns = str_of(dict_of(obj.get(key)).get("namespace"))
    event_time = obj.get("eventTime")
    if not event_time:
        if not inv_ns:
            if ns not in ("", "default"):
                out.append(invalid(f"{key}.namespace", inv_ns, "does not match event.namespace"))
        elif ns != inv_ns:
            out.append(invalid(f"{key}.namespace", inv_ns, "does not match event.namespace"))
    else:
        rc_field = "reportingController" if events_group else "reportingComponent"
        if not inv_ns and ns not in ("default", "kube-system"):
            out.append(invalid(f"{key}.namespace", inv_ns, "does not match event.namespace"))
        rc = str_of(obj.get(rc_field))
        if not rc:
            out.append(required(rc_field))
        out += qualified_name_field(rc, rc_field)
        ri = str_of(obj.get("reportingInstance"))
        if not ri:
            out.append(required("reportingInstance"))
        if len(ri) > 128:
            out.append(invalid("reportingInstance", "", "can have at most 128 characters"))
        action = str_of(obj.get("action"))
        if not action:
            out.append(required("action"))
        if len(action) > 128:
            out.append(invalid("action", "", "can have at most 128 characters"))
        reason = str_of(obj.get("reason"))
        if not reason:
            out.append(required("reason"))
        if len(reason) > 128:
            out.append(invalid("reason", "", "can have at most 128 characters"))
        msg_field = "note" if events_group else "message"
        if len(str_of(obj.get(msg_field))) > 1024:
            out.append(invalid(msg_field, "", "can have at most 1024 characters"))
    out += [invalid("namespace", ns, m) for m in is_dns1123_subdomain(ns)]
    return out


# ---------------------------------------------------------------------------------------------
