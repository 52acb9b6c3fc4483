"""Container probes: liveness, readiness and startup with exec, httpGet, tcpSocket and gRPC.

Layout follows upstream `pkg/kubelet/prober`: `manager.py` (workers per pod, what the kubelet
asks), `worker.py` (one probe of one container, periodically), `prober.py` (run one probe,
record events), `probes.py` (the mechanisms), `results.py` (results cached per container ID).
"""

from .manager import ProbeManager
from .prober import ProbeType
from .results import Result

__all__ = ["ProbeManager", "ProbeType", "Result"]
