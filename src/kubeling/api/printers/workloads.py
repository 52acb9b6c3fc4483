"""apps/v1, batch/v1 and ReplicationController printers."""

from __future__ import annotations

from ..selectors import label_selector_string, selector_to_string
from .columns import Cells, meta_of
from .fmt import (Clock, EMPTY, NO_ITEMS, NONE, bool_ptr, has_condition, human_us, layout_containers, parse_us,
                  template_containers, format_labels)


def _replicated(obj: dict, clock: Clock, selector: str) -> Cells:
    """ReplicaSet and ReplicationController rows: the same columns, only the selector differs."""
    spec = obj.get("spec") or EMPTY
    status = obj.get("status") or EMPTY
    md = meta_of(obj)
    names, images = layout_containers(template_containers(obj))
    replicas = spec.get("replicas")
    return [md.get("name", ""), 1 if replicas is None else replicas, status.get("replicas") or 0,
            status.get("readyReplicas") or 0, clock.since(md.get("creationTimestamp")),
            names, images, selector]


def rc_row(obj: dict, clock: Clock) -> Cells:
    return _replicated(obj, clock, format_labels((obj.get("spec") or EMPTY).get("selector")))


def replica_set_row(obj: dict, clock: Clock) -> Cells:
    return _replicated(obj, clock, selector_to_string((obj.get("spec") or EMPTY).get("selector")))


def daemon_set_row(obj: dict, clock: Clock) -> Cells:
    spec = obj.get("spec") or EMPTY
    st = obj.get("status") or EMPTY
    md = meta_of(obj)
    tspec = (spec.get("template") or EMPTY).get("spec") or EMPTY
    names, images = layout_containers(tspec.get("containers"))
    return [md.get("name", ""), st.get("desiredNumberScheduled") or 0, st.get("currentNumberScheduled") or 0,
            st.get("numberReady") or 0, st.get("updatedNumberScheduled") or 0, st.get("numberAvailable") or 0,
            format_labels(tspec.get("nodeSelector")), clock.since(md.get("creationTimestamp")),
            names, images, selector_to_string(spec.get("selector"))]


def job_row(obj: dict, clock: Clock) -> Cells:
    spec = obj.get("spec") or EMPTY
    st = obj.get("status") or EMPTY
    md = meta_of(obj)
    succeeded = st.get("succeeded") or 0
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    else:
        parallelism = spec.get("parallelism") or 0
        completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    duration = ""
    start = parse_us(st["startTime"]) if st.get("startTime") else None
    if start is not None:
        end = parse_us(st["completionTime"]) if st.get("completionTime") else None
        duration = human_us((clock.now_us if end is None else end) - start)
    conds = st.get("conditions")
    if has_condition(conds, "Complete"):
        status = "Complete"
    elif has_condition(conds, "Failed"):
        status = "Failed"
    elif md.get("deletionTimestamp"):
        status = "Terminating"
    elif has_condition(conds, "Suspended"):
        status = "Suspended"
    elif has_condition(conds, "FailureTarget"):
        status = "FailureTarget"
    else:
        status = "Running"
    names, images = layout_containers(template_containers(obj))
    return [md.get("name", ""), status, completions, duration, clock.since(md.get("creationTimestamp")),
            names, images, selector_to_string(spec.get("selector"))]


def cron_job_row(obj: dict, clock: Clock) -> Cells:
    spec = obj.get("spec") or EMPTY
    st = obj.get("status") or EMPTY
    md = meta_of(obj)
    last = clock.since(st["lastScheduleTime"]) if st.get("lastScheduleTime") else NONE
    tz = spec.get("timeZone")
    jspec = (spec.get("jobTemplate") or EMPTY).get("spec") or EMPTY
    names, images = layout_containers(((jspec.get("template") or EMPTY).get("spec") or EMPTY).get("containers"))
    return [md.get("name", ""), spec.get("schedule", ""), NONE if tz is None else tz,
            bool_ptr(spec.get("suspend")), len(st.get("active") or NO_ITEMS), last,
            clock.since(md.get("creationTimestamp")), names, images, selector_to_string(jspec.get("selector"))]


def stateful_set_row(obj: dict, clock: Clock) -> Cells:
    spec = obj.get("spec") or EMPTY
    md = meta_of(obj)
    replicas = spec.get("replicas")
    names, images = layout_containers(template_containers(obj))
    return [md.get("name", ""),
            f"{(obj.get('status') or EMPTY).get('readyReplicas') or 0}/{1 if replicas is None else replicas}",
            clock.since(md.get("creationTimestamp")), names, images]


def deployment_row(obj: dict, clock: Clock) -> Cells:
    spec = obj.get("spec") or EMPTY
    st = obj.get("status") or EMPTY
    md = meta_of(obj)
    selector = label_selector_string(spec.get("selector"))
    if selector is None:
        selector = "<invalid>"
    replicas = spec.get("replicas")
    names, images = layout_containers(template_containers(obj))
    return [md.get("name", ""), f"{st.get('readyReplicas') or 0}/{1 if replicas is None else replicas}",
            st.get("updatedReplicas") or 0, st.get("availableReplicas") or 0,
            clock.since(md.get("creationTimestamp")), names, images, selector]


def controller_revision_row(obj: dict, clock: Clock) -> Cells:
    md = meta_of(obj)
    controller = NONE
    for ref in md.get("ownerReferences") or NO_ITEMS:
        if ref.get("controller"):
            group = ref.get("apiVersion", "").rpartition("/")[0] if "/" in ref.get("apiVersion", "") else ""
            kind = ref.get("kind", "")
            gk = f"{kind}.{group}" if group else kind
            controller = f"{gk.lower()}/{ref.get('name', '')}" if gk else ref.get("name", "")
            break
    return [md.get("name", ""), controller, obj.get("revision") or 0, clock.since(md.get("creationTimestamp"))]
