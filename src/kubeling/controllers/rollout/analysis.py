"""Analysis: kubeling's inline stand-in for Argo's AnalysisTemplates. A probe-style HTTP check
(`httpGet`, as a pod's probe, sent with the kubelet's prober) run by the controller process
against the ready pods of the new version, `count` times every `intervalSeconds`; more than
`failureLimit` failed measurements fail the analysis, and a failed analysis aborts the rollout.

Runs live in memory, keyed by a name that says what they measure (`<rollout>-<hash>-<step>`);
their outcome is written to the Rollout's status (Argo's `RolloutAnalysisRunStatus`: name, status,
message), so a finished analysis is not run again after a restart — a running one starts over.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from ...kubelet.prober.probes import Outcome, ProbeError, http_headers, http_probe, http_url

log = logging.getLogger("kubeling.rollout.analysis")

Obj = dict[str, Any]
RUNNING, SUCCESSFUL, FAILED = "Running", "Successful", "Failed"

# (pod, container) pairs to measure; the container resolves a named port
Targets = Callable[[], list[tuple[Obj, Obj]]]
Probe = Callable[[str, float], Any]  # (url, timeout) -> awaitable ProbeResult


@dataclass
class Run:
    name: str
    spec: Obj
    background: bool = False  # repeat until cancelled (a canary's background analysis)
    status: str = RUNNING
    message: str = ""
    measurements: int = 0
    failures: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def summary(self) -> Obj:
        out = {"name": self.name, "status": self.status}
        if self.message:
            out["message"] = self.message
        return out


async def measure(spec: Obj, targets: list[tuple[Obj, Obj]], probe: Probe = None) -> str:  # type: ignore[assignment]
    """One measurement: "" when every target answered 200-399, else why not."""
    if not targets:
        return "no ready pods to measure"
    action = spec.get("httpGet") or {}
    timeout = float(spec.get("timeoutSeconds") or 2)
    headers = http_headers(action)
    send = probe or (lambda url, t: http_probe(url, headers, t))
    for pod, container in targets:
        try:
            url = http_url(action, container, (pod.get("status") or {}).get("podIP") or "")
        except ProbeError as e:
            return str(e)
        res = await send(url, timeout)
        if res.outcome not in (Outcome.SUCCESS, Outcome.WARNING):
            return f"{pod['metadata']['name']}: {res.output}"
    return ""


class AnalysisRunner:
    """The analyses in flight; `done(name)` is called when one finishes (the controller
    re-enqueues the Rollout)."""

    def __init__(self, on_done: Callable[[str], None], probe: Probe | None = None) -> None:
        self.on_done = on_done
        self.probe = probe
        self.runs: dict[str, Run] = {}
        self._owner: dict[str, str] = {}  # run name -> rollout key

    def ensure(self, key: str, name: str, spec: Obj, targets: Targets, *, background: bool = False) -> Run:
        """The run `name`, started if it is not running yet."""
        run = self.runs.get(name)
        if run is not None:
            return run
        run = self.runs[name] = Run(name, spec, background)
        self._owner[name] = key
        run.task = asyncio.get_running_loop().create_task(self._loop(key, run, targets), name=f"analysis-{name}")
        return run

    def retain(self, key: str, names: set[str]) -> None:
        """Stop (and forget) the runs of rollout `key` other than `names`."""
        for name in [n for n, k in self._owner.items() if k == key and n not in names]:
            run = self.runs.pop(name)
            del self._owner[name]
            run.status = "Cancelled"
            if run.task is not None:
                run.task.cancel()

    def stop(self) -> None:
        """The controller stops: cancel every run."""
        for run in self.runs.values():
            if run.task is not None:
                run.task.cancel()
        self.runs.clear()
        self._owner.clear()

    async def _loop(self, key: str, run: Run, targets: Targets) -> None:
        spec = run.spec
        interval = float(spec.get("intervalSeconds") or 5)
        count = int(spec.get("count") or 1)
        limit = int(spec.get("failureLimit") or 0)
        try:
            while run.status == RUNNING and (run.background or run.measurements < count):
                if run.measurements:
                    await asyncio.sleep(interval)
                why = await measure(spec, targets(), self.probe)  # type: ignore[arg-type]
                run.measurements += 1
                if why:
                    run.failures += 1
                    log.info("analysis %s: measurement %d failed: %s", run.name, run.measurements, why)
                    if run.failures > limit:
                        run.status, run.message = FAILED, (
                            f"{run.failures} of {run.measurements} measurements failed (failureLimit {limit}): {why}")
            if run.status == RUNNING:
                run.status = SUCCESSFUL
                run.message = f"{run.measurements - run.failures} of {run.measurements} measurements succeeded"
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug here must fail the analysis, not hang the rollout
            log.exception("analysis %s crashed", run.name)
            run.status, run.message = FAILED, f"analysis error: {e}"
        if self.runs.get(run.name) is run:
            self.on_done(key)
