"""autoscaling, policy, coordination, discovery, rbac and networking kinds."""

from __future__ import annotations

from typing import Any

from .apps import not_more_than_100_percent, validate_positive_int_or_percent
from .core import is_ip, validate_meta
from .field import (Causes, GoRaw, dict_of, int_of, list_of, str_of, sem_equal, dns1123_label_field,
                    dns1123_subdomain_field, go_quote, go_strings, invalid, is_valid_path_segment_name,
                    is_valid_port_num, name_is_dns_subdomain, nonnegative, not_supported, required, too_many,
                    validate_path_segment_name)
from .meta import validate_label_selector, validate_object_meta
from .pod import PROTOCOLS


# autoscaling, policy, coordination, discovery, rbac, networking


def _cross_version_ref(ref: Any, fld: str) -> Causes:
    r = dict_of(ref)
    out: Causes = []
    for key in ("kind", "name"):
        v = str_of(r.get(key))
        if not v:
            out.append(required(f"{fld}.{key}"))
        else:
            out += [invalid(f"{fld}.{key}", v, m) for m in is_valid_path_segment_name(v)]
    return out


def validate_hpa(obj: dict, old: dict | None, version: str = "v2") -> Causes:
    out = validate_meta(obj, old, True, name_is_dns_subdomain)
    spec = dict_of(obj.get("spec"))
    mn = spec.get("minReplicas")
    mx = int_of(spec.get("maxReplicas"))
    if mn is not None and mn < 1:
        out.append(invalid("spec.minReplicas", mn, "must be greater than or equal to 1"))
    if mx < 1:
        out.append(invalid("spec.maxReplicas", mx, "must be greater than 0"))
    if mn is not None and mx < mn:
        out.append(invalid("spec.maxReplicas", mx, "must be greater than or equal to `minReplicas`"))
    ref_errs = _cross_version_ref(spec.get("scaleTargetRef"), "spec.scaleTargetRef")
    out += ref_errs
    if not ref_errs and version == "v1":
        tcpu = spec.get("targetCPUUtilizationPercentage")
        if tcpu is not None and tcpu < 1:
            out.append(invalid("spec.targetCPUUtilizationPercentage", tcpu, "must be greater than 0"))
    elif not ref_errs:
        for i, m in enumerate(list_of(spec.get("metrics"))):
            m = dict_of(m)
            t = str_of(m.get("type"))
            p = f"spec.metrics[{i}]"
            valid = ("ContainerResource", "External", "Object", "Pods", "Resource")
            if not t:
                out.append(required(p + ".type"))
            elif t not in valid:
                out.append(not_supported(p + ".type", t, valid))
    return out


def validate_pdb(obj: dict, old: dict | None) -> Causes:
    out = validate_meta(obj, old, True, name_is_dns_subdomain)
    spec = dict_of(obj.get("spec"))
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        out.append(invalid("spec", GoRaw("policy.PodDisruptionBudgetSpec{...}"), "minAvailable and maxUnavailable cannot be both set"))
    for key in ("minAvailable", "maxUnavailable"):
        v = spec.get(key)
        if v is not None:
            out += validate_positive_int_or_percent(v, f"spec.{key}")
            out += not_more_than_100_percent(v, f"spec.{key}")
    if spec.get("selector") is not None:
        out += validate_label_selector(spec.get("selector"), "spec.selector")
    pol = spec.get("unhealthyPodEvictionPolicy")
    if pol is not None and pol not in ("AlwaysAllow", "IfHealthyBudget"):
        out.append(not_supported("spec.unhealthyPodEvictionPolicy", pol, ("AlwaysAllow", "IfHealthyBudget")))
    return out


def validate_lease(obj: dict, old: dict | None) -> Causes:
    out = validate_meta(obj, old, True, name_is_dns_subdomain)
    spec = dict_of(obj.get("spec"))
    lds = spec.get("leaseDurationSeconds")
    if lds is not None and lds <= 0:
        out.append(invalid("spec.leaseDurationSeconds", lds, "must be greater than 0"))
    lt = spec.get("leaseTransitions")
    if lt is not None and lt < 0:
        out.append(invalid("spec.leaseTransitions", lt, "must be greater than or equal to 0"))
    strategy = spec.get("strategy")
    if strategy is not None and strategy != "OldestEmulationVersion":
        out.append(not_supported("spec.strategy", strategy, ("OldestEmulationVersion",)))
    return out


ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")


def validate_endpoint_slice(obj: dict, old: dict | None) -> Causes:
    out = validate_meta(obj, old, True, name_is_dns_subdomain)
    at = str_of(obj.get("addressType"))
    if not at:
        out.append(required("addressType"))
    elif at not in ADDRESS_TYPES:
        out.append(not_supported("addressType", at, ADDRESS_TYPES))
    eps = list_of(obj.get("endpoints"))
    if len(eps) > 1000:
        out.append(too_many("endpoints", len(eps), 1000))
    for i, ep in enumerate(eps):
        addrs = list_of(dict_of(ep).get("addresses"))
        p = f"endpoints[{i}].addresses"
        if not addrs:
            out.append(required(p, "must contain at least 1 address"))
        elif len(addrs) > 100:
            out.append(too_many(p, len(addrs), 100))
        for j, a in enumerate(addrs):
            if at in ("IPv4", "IPv6") and not is_ip(str_of(a)):
                out.append(invalid(f"{p}[{j}]", a, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
            elif at == "FQDN":
                out += dns1123_subdomain_field(str_of(a), f"{p}[{j}]")
    for i, port in enumerate(list_of(obj.get("ports"))):
        port = dict_of(port)
        p = f"ports[{i}]"
        name = port.get("name")
        if name:
            out += dns1123_label_field(str_of(name), p + ".name")
        proto = port.get("protocol")
        if proto is not None and proto not in PROTOCOLS:
            out.append(not_supported(p + ".protocol", proto, PROTOCOLS))
        pn = port.get("port")
        if pn is not None:
            out += [invalid(p + ".port", pn, m) for m in is_valid_port_num(pn)]
    return out


def _policy_rules(rules: Any, namespaced: bool, fld: str) -> Causes:
    out: Causes = []
    for i, rule in enumerate(list_of(rules)):
        r = dict_of(rule)
        p = f"{fld}[{i}]"
        if not list_of(r.get("verbs")):
            out.append(required(p + ".verbs", "verbs must contain at least one value"))
        if list_of(r.get("nonResourceURLs")):
            if namespaced:
                out.append(invalid(p + ".nonResourceURLs", go_strings(r["nonResourceURLs"]), "namespaced rules cannot apply to non-resource URLs"))
            if list_of(r.get("apiGroups")) or list_of(r.get("resources")) or list_of(r.get("resourceNames")):
                out.append(invalid(p + ".nonResourceURLs", go_strings(r["nonResourceURLs"]), "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not list_of(r.get("apiGroups")):
            out.append(required(p + ".apiGroups", "resource rules must supply at least one api group"))
        if not list_of(r.get("resources")):
            out.append(required(p + ".resources", "resource rules must supply at least one resource"))
    return out


def validate_role(obj: dict, old: dict | None, cluster: bool) -> Causes:
    out = validate_meta(obj, old, not cluster, validate_path_segment_name)
    out += _policy_rules(obj.get("rules"), not cluster, "rules")
    return out


def _go_role_ref(r: dict) -> GoRaw:
    return GoRaw(
        f'rbac.RoleRef{{APIGroup:{go_quote(str_of(r.get("apiGroup")))}, Kind:{go_quote(str_of(r.get("kind")))}, '
        f'Name:{go_quote(str_of(r.get("name")))}}}'
    )


def validate_role_binding(obj: dict, old: dict | None, cluster: bool) -> Causes:
    out = validate_meta(obj, old, not cluster, validate_path_segment_name)
    ref = dict_of(obj.get("roleRef"))
    if str_of(ref.get("apiGroup")) != "rbac.authorization.k8s.io":
        out.append(not_supported("roleRef.apiGroup", str_of(ref.get("apiGroup")), ("rbac.authorization.k8s.io",)))
    kinds = ("ClusterRole",) if cluster else ("Role", "ClusterRole")
    if str_of(ref.get("kind")) not in kinds:
        out.append(not_supported("roleRef.kind", str_of(ref.get("kind")), kinds))
    name = str_of(ref.get("name"))
    if not name:
        out.append(required("roleRef.name"))
    else:
        out += [invalid("roleRef.name", name, m) for m in is_valid_path_segment_name(name)]
    for i, subj in enumerate(list_of(obj.get("subjects"))):
        out += _validate_subject(dict_of(subj), cluster, f"subjects[{i}]")
    if old is not None and not sem_equal(obj.get("roleRef"), old.get("roleRef")):
        out.append(invalid("roleRef", _go_role_ref(ref), "cannot change roleRef"))
    return out


def _validate_subject(s: dict, cluster: bool, fld: str) -> Causes:
    out: Causes = []
    name = str_of(s.get("name"))
    if not name:
        out.append(required(fld + ".name"))
    kind = str_of(s.get("kind"))
    if kind == "ServiceAccount":
        if name:
            out += [invalid(fld + ".name", name, m) for m in name_is_dns_subdomain(name, False)]
        if str_of(s.get("apiGroup")):
            out.append(not_supported(fld + ".apiGroup", s["apiGroup"], ("",)))
        if cluster and not str_of(s.get("namespace")):
            out.append(required(fld + ".namespace"))
    elif kind in ("User", "Group"):
        if str_of(s.get("apiGroup")) != "rbac.authorization.k8s.io":
            out.append(not_supported(fld + ".apiGroup", str_of(s.get("apiGroup")), ("rbac.authorization.k8s.io",)))
    else:
        out.append(not_supported(fld + ".kind", kind, ("ServiceAccount", "User", "Group")))
    return out


def validate_network_policy(obj: dict, old: dict | None) -> Causes:
    out = validate_meta(obj, old, True, name_is_dns_subdomain)
    spec = dict_of(obj.get("spec"))
    out += validate_label_selector(spec.get("podSelector"), "spec.podSelector")
    for i, pt in enumerate(list_of(spec.get("policyTypes"))):
        if pt not in ("Ingress", "Egress"):
            out.append(not_supported(f"spec.policyTypes[{i}]", pt, ("Ingress", "Egress")))
    return out


def validate_ingress(obj: dict, old: dict | None) -> Causes:
    out = validate_meta(obj, old, True, name_is_dns_subdomain)
    spec = dict_of(obj.get("spec"))
    for i, rule in enumerate(list_of(spec.get("rules"))):
        r = dict_of(rule)
        for j, path in enumerate(list_of(dict_of(r.get("http")).get("paths"))):
            p = f"spec.rules[{i}].http.paths[{j}]"
            pt = dict_of(path).get("pathType")
            if pt is None:
                out.append(required(p + ".pathType", "pathType must be specified"))
            elif pt not in ("Exact", "ImplementationSpecific", "Prefix"):
                out.append(not_supported(p + ".pathType", pt, ("Exact", "ImplementationSpecific", "Prefix")))
    return out


def validate_generic(obj: dict, old: dict | None, namespaced: bool) -> Causes:
    return validate_meta(obj, old, namespaced, name_is_dns_subdomain)


def validate_scale(obj: dict, old: dict | None) -> Causes:
    out = validate_object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    out += nonnegative(dict_of(obj.get("spec")).get("replicas"), "spec.replicas")
    return out


def validate_apiservice(obj: dict, old: dict | None) -> Causes:
    """kube-aggregator's ValidateAPIService, its name rule: a path segment that is exactly
    `<spec.version>.<spec.group>` ("v1." for the core group)."""
    spec = dict_of(obj.get("spec"))
    required_name = f"{str_of(spec.get('version'))}.{str_of(spec.get('group'))}"

    def name_fn(name: str, prefix: bool) -> list[str]:
        bad = is_valid_path_segment_name(name)
        if bad or name == required_name:
            return bad
        return [f'must be `spec.version+"."+spec.group`: {go_quote(required_name)}']

    return validate_meta(obj, old, False, name_fn)
