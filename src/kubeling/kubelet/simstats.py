"""The stats summary of a simulated node: synthetic usage, configured per pod by annotation.

    sim.kubeling.io/cpu-usage: "80m"               every container of the pod uses 80 millicores
    sim.kubeling.io/memory-usage: "64Mi"           every container's memory working set
    sim.kubeling.io/cpu-usage.<container>: "..."   one container (likewise memory-usage.<container>)

Without an annotation a container reports zero. The summary has the shape of the kubelet's
`/stats/summary` (stats/v1alpha1) and carries `simulated: true` on the node, so nothing mistakes
it for a measurement. The node's usage is the sum of its running pods.
"""

from __future__ import annotations

from typing import Any, Iterable

from ..api import quantity
from ..api.timestamps import rfc3339

Obj = dict[str, Any]
CPU_USAGE = "sim.kubeling.io/cpu-usage"
MEMORY_USAGE = "sim.kubeling.io/memory-usage"


def _usage(ann: dict[str, str], key: str, container: str) -> str | None:
    return ann.get(f"{key}.{container}", ann.get(key))


def _cpu_mem(ann: dict[str, str], container: str, stamp: str) -> tuple[Obj, Obj]:
    cpu = _usage(ann, CPU_USAGE, container)
    mem = _usage(ann, MEMORY_USAGE, container)
    try:
        nano = quantity.to_milli(cpu) * 1_000_000 if cpu else 0
        ws = quantity.to_int(mem) if mem else 0
    except ValueError:
        nano = ws = 0
    return {"time": stamp, "usageNanoCores": nano}, {"time": stamp, "workingSetBytes": ws}


def summary(node_name: str, pods: Iterable[Obj], now: float) -> Obj:
    stamp = rfc3339(now)
    out_pods = []
    node_cpu = node_mem = 0
    for pod in pods:
        if (pod.get("status") or {}).get("phase") != "Running":
            continue
        ann = pod["metadata"].get("annotations") or {}
        containers = []
        pod_cpu = pod_mem = 0
        for c in (pod.get("spec") or {}).get("containers") or []:
            cpu, mem = _cpu_mem(ann, c["name"], stamp)
            containers.append({"name": c["name"], "cpu": cpu, "memory": mem})
            pod_cpu += cpu["usageNanoCores"]
            pod_mem += mem["workingSetBytes"]
        meta = pod["metadata"]
        out_pods.append({"podRef": {"name": meta["name"], "namespace": meta.get("namespace", ""), "uid": meta.get("uid", "")},
                         "containers": containers, "cpu": {"time": stamp, "usageNanoCores": pod_cpu},
                         "memory": {"time": stamp, "workingSetBytes": pod_mem}})
        node_cpu += pod_cpu
        node_mem += pod_mem
    return {"node": {"nodeName": node_name, "simulated": True, "cpu": {"time": stamp, "usageNanoCores": node_cpu},
                     "memory": {"time": stamp, "workingSetBytes": node_mem}},
            "pods": out_pods}
