"""apps/v1 kinds (pkg/apis/apps/validation)."""

from __future__ import annotations

from typing import Any

from .field import (Causes, GoRaw, dict_of, int_of, str_of, sem_equal, forbidden, go_int_or_string, go_label_selector,
                    go_map, go_quote, immutable, invalid, is_valid_percent, name_is_dns_subdomain, nonnegative,
                    not_supported, required)
from .meta import (selector_is_empty, selector_matches, validate_annotations, validate_label_selector, validate_labels,
                   validate_object_meta, validate_object_meta_update)
from .pod import validate_pod_template_spec


# apps/v1 (pkg/apis/apps/validation)


def _int_or_percent_value(v: Any) -> tuple[int, bool]:
    if isinstance(v, str):
        if v.endswith("%") and v[:-1].isdigit():
            return int(v[:-1]), True
        return 0, False
    return (int_of(v), False)


def validate_positive_int_or_percent(v: Any, fld: str) -> Causes:
    if isinstance(v, str):
        return [invalid(fld, go_int_or_string(v), m) for m in is_valid_percent(v)]
    if isinstance(v, int) and not isinstance(v, bool):
        return nonnegative(v, fld)
    return [invalid(fld, go_int_or_string(v), "must be an integer or percentage (e.g '5%')")]


def not_more_than_100_percent(v: Any, fld: str) -> Causes:
    value, is_percent = _int_or_percent_value(v)
    if not is_percent or value <= 100:
        return []
    return [invalid(fld, go_int_or_string(v), "must not be greater than 100%")]


def _go_deployment_strategy(s: dict) -> GoRaw:
    ru = "(*apps.RollingUpdateDeployment)(nil)" if s.get("rollingUpdate") is None else "&apps.RollingUpdateDeployment{}"
    return GoRaw(f'apps.DeploymentStrategy{{Type:{go_quote(str_of(s.get("type")))}, RollingUpdate:{ru}}}')


def _validate_deployment_strategy(strategy: Any, fld: str) -> Causes:
    s = dict_of(strategy)
    t = s.get("type")
    ru = s.get("rollingUpdate")
    if t == "Recreate":
        if ru is not None:
            return [forbidden(fld + ".rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if t == "RollingUpdate":
        if ru is None:
            return [required(fld + ".rollingUpdate", "this should be defaulted and never be nil")]
        r = dict_of(ru)
        p = fld + ".rollingUpdate"
        mu, ms = r.get("maxUnavailable"), r.get("maxSurge")
        out = validate_positive_int_or_percent(mu, p + ".maxUnavailable")
        out += validate_positive_int_or_percent(ms, p + ".maxSurge")
        if _int_or_percent_value(mu)[0] == 0 and _int_or_percent_value(ms)[0] == 0:
            out.append(invalid(p + ".maxUnavailable", go_int_or_string(mu), "may not be 0 when `maxSurge` is 0"))
        out += not_more_than_100_percent(mu, p + ".maxUnavailable")
        return out
    return [not_supported(fld, _go_deployment_strategy(s), ("Recreate", "RollingUpdate"))]


def _template_for_replicas(spec: dict, fld: str, restart_always: bool = True) -> Causes:
    """ValidatePodTemplateSpecForReplicaSet: selector matches labels, valid pod, restartPolicy Always."""
    out: Causes = []
    tpl = spec.get("template")
    p = fld + ".template"
    if tpl is None:
        return [required(p)]
    t = dict_of(tpl)
    labels = dict_of(t.get("metadata")).get("labels")
    sel = spec.get("selector")
    if (sel is None or not selector_is_empty(sel)) and not selector_matches(sel, labels):
        out.append(invalid(p + ".metadata.labels", go_map(labels), "`selector` does not match template `labels`"))
    out += validate_pod_template_spec(t, p)
    tspec = dict_of(t.get("spec"))
    rp = tspec.get("restartPolicy")
    if restart_always and rp != "Always":
        out.append(not_supported(p + ".spec.restartPolicy", str_of(rp), ("Always",)))
    if tspec.get("activeDeadlineSeconds") is not None:
        out.append(invalid(p + ".spec.activeDeadlineSeconds", tspec["activeDeadlineSeconds"], "activeDeadlineSeconds in ReplicaSet is not Supported"))
    return out


def _validate_selector_required(spec: dict, fld: str, empty_msg: str) -> Causes:
    sel = spec.get("selector")
    if sel is None:
        return [required(fld + ".selector")]
    out = validate_label_selector(sel, fld + ".selector")
    if selector_is_empty(sel):
        out.append(invalid(fld + ".selector", go_label_selector(dict_of(sel)), empty_msg))
    return out


def validate_deployment(obj: dict, old: dict | None) -> Causes:
    meta = obj.get("metadata")
    out = validate_object_meta(meta, True, name_is_dns_subdomain) if old is None else \
        validate_object_meta_update(meta, old.get("metadata"))
    spec = dict_of(obj.get("spec"))
    out += nonnegative(spec.get("replicas"), "spec.replicas")
    out += _validate_selector_required(spec, "spec", "empty selector is invalid for deployment")
    out += _template_for_replicas(spec, "spec")
    out += _validate_deployment_strategy(spec.get("strategy"), "spec.strategy")
    out += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    out += nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    pds = spec.get("progressDeadlineSeconds")
    if pds is not None:
        out += nonnegative(pds, "spec.progressDeadlineSeconds")
        if pds <= int_of(spec.get("minReadySeconds")):
            out.append(invalid("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))
    if old is not None:
        out += immutable(spec.get("selector"), dict_of(old.get("spec")).get("selector"), "spec.selector", go_label_selector)
    return out


def validate_replica_set(obj: dict, old: dict | None) -> Causes:
    meta = obj.get("metadata")
    out = validate_object_meta(meta, True, name_is_dns_subdomain) if old is None else \
        validate_object_meta_update(meta, old.get("metadata"))
    spec = dict_of(obj.get("spec"))
    out += nonnegative(spec.get("replicas"), "spec.replicas")
    out += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    out += _validate_selector_required(spec, "spec", "empty selector is invalid for deployment")
    out += _template_for_replicas(spec, "spec")
    if old is not None:
        out += immutable(spec.get("selector"), dict_of(old.get("spec")).get("selector"), "spec.selector", go_label_selector)
    return out


def validate_daemon_set(obj: dict, old: dict | None) -> Causes:
    meta = obj.get("metadata")
    out = validate_object_meta(meta, True, name_is_dns_subdomain) if old is None else \
        validate_object_meta_update(meta, old.get("metadata"))
    spec = dict_of(obj.get("spec"))
    out += _validate_selector_required(spec, "spec", "empty selector is invalid for daemonset")
    out += _template_for_replicas(spec, "spec")
    out += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    out += nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    us = dict_of(spec.get("updateStrategy"))
    t = str_of(us.get("type"))
    if not t:
        out.append(required("spec.updateStrategy.type"))
    elif t not in ("OnDelete", "RollingUpdate"):
        out.append(not_supported("spec.updateStrategy.type", t, ("OnDelete", "RollingUpdate")))
    elif t == "RollingUpdate":
        ru = us.get("rollingUpdate")
        if ru is None:
            out.append(required("spec.updateStrategy.rollingUpdate"))
        else:
            p = "spec.updateStrategy.rollingUpdate"
            mu, ms = dict_of(ru).get("maxUnavailable"), dict_of(ru).get("maxSurge")
            out += validate_positive_int_or_percent(mu, p + ".maxUnavailable")
            out += validate_positive_int_or_percent(ms, p + ".maxSurge")
            if _int_or_percent_value(mu)[0] == 0 and _int_or_percent_value(ms)[0] == 0:
                out.append(invalid(p + ".maxUnavailable", go_int_or_string(mu), "may not be 0 when `maxSurge` is 0"))
            out += not_more_than_100_percent(mu, p + ".maxUnavailable")
    if old is not None:
        out += immutable(spec.get("selector"), dict_of(old.get("spec")).get("selector"), "spec.selector", go_label_selector)
    return out


def validate_stateful_set(obj: dict, old: dict | None) -> Causes:
    meta = obj.get("metadata")
    spec = dict_of(obj.get("spec"))
    if old is not None:
        out = validate_object_meta_update(meta, old.get("metadata"))
        ospec = dict_of(old.get("spec"))
        mutable = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds")
        if not sem_equal({k: v for k, v in spec.items() if k not in mutable},
                          {k: v for k, v in ospec.items() if k not in mutable}):
            out.append(forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                         "'template', 'updateStrategy', 'revisionHistoryLimit', "
                                         "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
    else:
        out = validate_object_meta(meta, True, name_is_dns_subdomain)
    ppm = str_of(spec.get("podManagementPolicy"))
    if not ppm:
        out.append(required("spec.podManagementPolicy"))
    elif ppm not in ("OrderedReady", "Parallel"):
        out.append(invalid("spec.podManagementPolicy", ppm, "must be 'OrderedReady' or 'Parallel'"))
    us = dict_of(spec.get("updateStrategy"))
    t = str_of(us.get("type"))
    if not t:
        out.append(required("spec.updateStrategy"))
    elif t == "OnDelete":
        if us.get("rollingUpdate") is not None:
            out.append(invalid("spec.updateStrategy.rollingUpdate", GoRaw("&apps.RollingUpdateStatefulSetStrategy{}"),
                               "only allowed for updateStrategy 'RollingUpdate'"))
    elif t == "RollingUpdate":
        out += nonnegative(dict_of(us.get("rollingUpdate")).get("partition"), "spec.updateStrategy.rollingUpdate.partition")
    else:
        out.append(invalid("spec.updateStrategy", GoRaw(f"apps.StatefulSetUpdateStrategy{{Type:{go_quote(t)}}}"),
                           "must be 'RollingUpdate' or 'OnDelete'"))
    out += nonnegative(spec.get("replicas"), "spec.replicas")
    out += _validate_selector_required(spec, "spec", "empty selector is invalid for statefulset")
    out += _template_for_stateful_set(spec, "spec")
    return out


def _template_for_stateful_set(spec: dict, fld: str) -> Causes:
    """ValidatePodTemplateSpecForStatefulSet: labels and annotations only, never the pod spec.

    Upstream skips pod-spec validation here because container volumeMounts may name
    `volumeClaimTemplates`, which are not in `volumes` until the controller makes the pod.
    """
    tpl = spec.get("template")
    p = fld + ".template"
    if tpl is None:
        return [required(p)]
    t = dict_of(tpl)
    meta = dict_of(t.get("metadata"))
    out: Causes = []
    sel = spec.get("selector")
    if (sel is None or not selector_is_empty(sel)) and not selector_matches(sel, meta.get("labels")):
        out.append(invalid(p + ".metadata.labels", go_map(meta.get("labels")),
                           "`selector` does not match template `labels`"))
    out += validate_labels(meta.get("labels"), p + ".labels")
    out += validate_annotations(meta.get("annotations"), p + ".annotations")
    tspec = dict_of(t.get("spec"))
    if tspec.get("restartPolicy") != "Always":
        out.append(not_supported(p + ".spec.restartPolicy", str_of(tspec.get("restartPolicy")), ("Always",)))
    if tspec.get("activeDeadlineSeconds") is not None:
        out.append(forbidden(p + ".spec.activeDeadlineSeconds",
                             "activeDeadlineSeconds in StatefulSet is not Supported"))
    return out


# ---------------------------------------------------------------------------------------------
