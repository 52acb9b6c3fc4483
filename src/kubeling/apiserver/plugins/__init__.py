"""Admission plugins that run inside the API server (see `apiserver/admission.py`), and the chain
`kubeling up` runs.

- `service_alloc`: Service ClusterIP / NodePort allocation (upstream's registry allocators).
- `serviceaccount`: the ServiceAccount admission plugin (default SA, kube-api-access volume).
- `tolerations`: DefaultTolerationSeconds.
- `priority`: Priority (spec.priority from the PriorityClass).
- `limitranger`, `resourcequota`, `podsecurity`, `storageclass`, `storageprotection`: the
  plugins of the same names upstream.
- `webhooks`: mutating and validating admission webhooks.
- `policy`: ValidatingAdmissionPolicy (CEL, api/cel.py).
"""

from __future__ import annotations

from ..admission import Chain
from .limitranger import LimitRanger
from .podsecurity import PodSecurity
from .policy import ValidatingAdmissionPolicies
from .priority import PriorityAdmission
from .resourcequota import ResourceQuotaAdmission
from .service_alloc import ServiceAllocator
from .serviceaccount import ServiceAccountAdmission
from .storageclass import DefaultStorageClass
from .storageprotection import StorageObjectInUseProtection
from .tolerations import DefaultTolerationSeconds
from .webhooks import Webhooks


def default_chain(service_cidr: str = "10.96.0.0/12", node_port_range: str = "30000-32767") -> Chain:
    """The plugins `kubeling up` runs, in upstream's order."""
    return Chain(webhooks=Webhooks(), policies=ValidatingAdmissionPolicies(), plugins=[
        LimitRanger(), ServiceAccountAdmission(), PriorityAdmission(), DefaultTolerationSeconds(),
        ServiceAllocator(service_cidr, node_port_range), DefaultStorageClass(), StorageObjectInUseProtection(),
        PodSecurity(), ResourceQuotaAdmission(),
    ])
