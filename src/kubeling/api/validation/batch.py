"""batch/v1 kinds (pkg/apis/batch/validation)."""

from __future__ import annotations

import json

from .core import validate_meta
from .field import (Causes, FIELD_IMMUTABLE, GoRaw, dict_of, str_of, sem_equal, go_label_selector, go_map, immutable,
                    invalid, name_is_dns_subdomain, nonnegative, not_supported, required)
from .meta import selector_is_empty, selector_matches, validate_annotations, validate_label_selector, validate_labels
from .pod import validate_pod_template_spec


# batch/v1


def _job_spec(spec: dict, fld: str, generated_selector: bool) -> Causes:
    out: Causes = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        out += nonnegative(spec.get(key), f"{fld}.{key}")
    cm = spec.get("completionMode")
    if cm is not None:
        if cm not in ("NonIndexed", "Indexed"):
            out.append(not_supported(fld + ".completionMode", cm, ("NonIndexed", "Indexed")))
        if cm == "Indexed" and spec.get("completions") is None:
            out.append(required(fld + ".completions", "when completion mode is Indexed"))
    sel = spec.get("selector")
    if sel is None:
        if not generated_selector:
            out.append(required(fld + ".selector"))
    else:
        out += validate_label_selector(sel, fld + ".selector")
    tpl = spec.get("template")
    if tpl is None:
        out.append(required(fld + ".template"))
        return out
    labels = dict_of(dict_of(tpl).get("metadata")).get("labels")
    if sel is not None and not selector_is_empty(sel) and not selector_matches(sel, labels):
        out.append(invalid(fld + ".template.metadata.labels", go_map(labels), "`selector` does not match template `labels`"))
    out += validate_pod_template_spec(tpl, fld + ".template")
    rp = dict_of(dict_of(tpl).get("spec")).get("restartPolicy")
    if rp not in ("OnFailure", "Never"):
        out.append(not_supported(fld + ".template.spec.restartPolicy", str_of(rp), ("OnFailure", "Never")))
    return out


def validate_job(obj: dict, old: dict | None) -> Causes:
    out = validate_meta(obj, old, True, name_is_dns_subdomain)
    spec = dict_of(obj.get("spec"))
    out += _job_spec(spec, "spec", generated_selector=spec.get("manualSelector") is not True and old is None)
    if old is not None:
        ospec = dict_of(old.get("spec"))
        out += immutable(spec.get("selector"), ospec.get("selector"), "spec.selector", go_label_selector)
        if not sem_equal(spec.get("template"), ospec.get("template")) and not _suspended_template_change_ok(spec, ospec):
            out.append(invalid("spec.template", GoRaw("core.PodTemplateSpec{...}"), FIELD_IMMUTABLE))
        for key in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
            if not sem_equal(spec.get(key), ospec.get(key)):
                v = spec.get(key)
                out.append(invalid(f"spec.{key}", v if isinstance(v, (str, int)) or v is None else GoRaw(json.dumps(v)), FIELD_IMMUTABLE))
        if spec.get("completions") != ospec.get("completions") and not (
            spec.get("completionMode") == "Indexed" and spec.get("completions") == spec.get("parallelism")
        ):
            out.append(invalid("spec.completions", spec.get("completions"), FIELD_IMMUTABLE))
    return out


def _suspended_template_change_ok(spec: dict, ospec: dict) -> bool:
    """A suspended job that never started may change scheduling directives of its template."""
    if not (spec.get("suspend") is True and ospec.get("suspend") is True):
        return False
    mutable = ("nodeSelector", "tolerations", "affinity", "schedulingGates")
    a = dict(dict_of(dict_of(spec.get("template")).get("spec")))
    b = dict(dict_of(dict_of(ospec.get("template")).get("spec")))
    for k in mutable:
        a.pop(k, None)
        b.pop(k, None)
    return sem_equal(a, b)


def validate_cron_job(obj: dict, old: dict | None) -> Causes:
    out = validate_meta(obj, old, True, name_is_dns_subdomain)
    name = str_of(dict_of(obj.get("metadata")).get("name"))
    if len(name) > 52:
        out.append(invalid("metadata.name", name, "must be no more than 52 characters"))
    spec = dict_of(obj.get("spec"))
    sched = str_of(spec.get("schedule"))
    if not sched:
        out.append(required("spec.schedule"))
    cp = str_of(spec.get("concurrencyPolicy"))
    if not cp:
        out.append(required("spec.concurrencyPolicy"))
    elif cp not in ("Allow", "Forbid", "Replace"):
        out.append(not_supported("spec.concurrencyPolicy", cp, ("Allow", "Forbid", "Replace")))
    out += nonnegative(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds")
    out += nonnegative(spec.get("successfulJobsHistoryLimit"), "spec.successfulJobsHistoryLimit")
    out += nonnegative(spec.get("failedJobsHistoryLimit"), "spec.failedJobsHistoryLimit")
    jt = dict_of(spec.get("jobTemplate"))
    jmeta = dict_of(jt.get("metadata"))
    out += validate_labels(jmeta.get("labels"), "spec.jobTemplate.metadata.labels")
    out += validate_annotations(jmeta.get("annotations"), "spec.jobTemplate.metadata.annotations")
    out += _job_spec(dict_of(jt.get("spec")), "spec.jobTemplate.spec", generated_selector=True)
    return out


# ---------------------------------------------------------------------------------------------
