"""Run one probe of one container and say what it means (upstream `pkg/kubelet/prober/prober.go`).

Picks the mechanism from the probe's handler, retries a probe that *errored* (not one that
failed) up to 3 times, and records upstream's events on the container:
`Unhealthy` "Liveness probe failed: HTTP probe failed with statuscode: 500",
`ProbeWarning` "Readiness probe warning: Probe terminated redirects, ...", and
`Unhealthy` "Startup probe errored and resulted in unknown state: port http not found".

On a simulated runtime nothing listens and nothing can be exec'd into: every probe succeeds
unless the pod says otherwise with `sim.kubeling.io/probe-failure` (see `simulated_probe`).
"""

from __future__ import annotations

import enum
import logging
from typing import Any, Callable

from ..runtime.base import RuntimeError_
from ..runtime.simulated import PREFIX, knob
from . import probes
from .probes import Outcome, ProbeError, ProbeResult
from .results import Result

log = logging.getLogger("kubeling.kubelet.prober")

MAX_RETRIES = 3
UNHEALTHY = "Unhealthy"
PROBE_WARNING = "ProbeWarning"
PROBE_FAILURE_KNOB = "probe-failure"


class ProbeType(enum.Enum):
    LIVENESS = "Liveness"
    READINESS = "Readiness"
    STARTUP = "Startup"

    @property
    def field(self) -> str:
        """The container field holding this probe: livenessProbe, readinessProbe, startupProbe."""
        return self.value.lower() + "Probe"


# Each type's result before its first probe of a container (upstream newWorker's initialValue).
INITIAL = {ProbeType.LIVENESS: Result.SUCCESS, ProbeType.READINESS: Result.FAILURE,
           ProbeType.STARTUP: Result.UNKNOWN}

# record(pod, event_type, reason, message, container_name, is_init_container)
Recorder = Callable[[dict[str, Any], str, str, str, str, bool], None]


def simulated_probe(pod: dict[str, Any], container: str, kind: ProbeType, init: bool = False) -> ProbeResult:
    """A simulated container passes its probes unless `sim.kubeling.io/probe-failure` (or
    `sim.kubeling.io/probe-failure.<container>`) is "true" (every probe fails) or lists the
    failing probe types, e.g. "readiness" or "liveness,startup"."""
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    v = (knob(ann, PROBE_FAILURE_KNOB, container, init) or "").strip().lower()
    kinds = {k.strip() for k in v.split(",")}
    if v in ("true", "1", "yes") or kind.value.lower() in kinds:
        return ProbeResult(Outcome.FAILURE, f"simulated failure ({PREFIX}{PROBE_FAILURE_KNOB})")
    return ProbeResult(Outcome.SUCCESS)


class Prober:
    """Runs probes over a runtime; `simulated` runtimes get `simulated_probe`."""

    def __init__(self, runtime: Any, record: Recorder) -> None:
        self.runtime = runtime
        self.record = record
        self.simulated = getattr(runtime, "name", "") == "simulated"

    async def probe(self, kind: ProbeType, pod: dict[str, Any], pod_ip: str, container: dict[str, Any],
                    container_id: str, init: bool = False) -> Result | None:
        """The probe's result, or None when it errored (the worker then keeps the last result)."""
        spec = container.get(kind.field)
        if spec is None:
            return Result.SUCCESS
        name = container.get("name", "")
        err: ProbeError | None = None
        res = ProbeResult(Outcome.UNKNOWN)
        for _ in range(MAX_RETRIES):
            try:
                res = await self.run(kind, spec, pod, pod_ip, container, container_id, init)
                err = None
                break
            except ProbeError as e:
                err = e
        if err is not None:
            log.debug("%s probe of %s errored: %s", kind.value, name, err)
            self.record(pod, "Warning", UNHEALTHY,
                        f"{kind.value} probe errored and resulted in {res.outcome.value} state: {err}", name, init)
            return None
        if res.outcome is Outcome.WARNING:
            self.record(pod, "Warning", PROBE_WARNING, f"{kind.value} probe warning: {res.output}", name, init)
            return Result.SUCCESS
        if res.outcome is Outcome.FAILURE:
            self.record(pod, "Warning", UNHEALTHY, f"{kind.value} probe failed: {res.output}", name, init)
            return Result.FAILURE
        return Result.SUCCESS if res.outcome is Outcome.SUCCESS else Result.FAILURE

    async def run(self, kind: ProbeType, spec: dict[str, Any], pod: dict[str, Any], pod_ip: str,
                  container: dict[str, Any], container_id: str, init: bool = False) -> ProbeResult:
        """runProbe: dispatch on the handler."""
        if self.simulated:
            return simulated_probe(pod, container.get("name", ""), kind, init)
        timeout = float(spec.get("timeoutSeconds") or 1)
        if spec.get("exec") is not None:
            cmd = list((spec["exec"] or {}).get("command") or [])
            try:
                r = await self.runtime.exec_sync(container_id, cmd, timeout)
            except RuntimeError_ as e:
                if e.reason == "ExecTimeout":
                    return ProbeResult(Outcome.FAILURE, probes.exec_timeout_message(cmd))
                raise ProbeError(e.message) from None
            return probes.exec_outcome(r.exit_code, r.stdout, r.stderr)
        if spec.get("httpGet") is not None:
            action = spec["httpGet"] or {}
            url = probes.http_url(action, container, pod_ip)
            return await probes.http_probe(url, probes.http_headers(action), timeout)
        if spec.get("tcpSocket") is not None:
            action = spec["tcpSocket"] or {}
            port = probes.resolve_port(action.get("port"), container)
            return await probes.tcp_probe(action.get("host") or pod_ip, port, timeout)
        if spec.get("grpc") is not None:
            action = spec["grpc"] or {}
            port = action.get("port")
            if not isinstance(port, int) or not 0 < port < 65536:
                raise ProbeError(f"invalid port number: {port}")
            return await probes.grpc_probe(pod_ip, port, action.get("service") or "", timeout)
        log.warning("%s probe of %s has no handler", kind.value, container.get("name"))
        return ProbeResult(Outcome.UNKNOWN)
