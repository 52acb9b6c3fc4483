"""Admission plugins that run inside the API server (see `apiserver/admission.py`).

- `service_alloc`: Service ClusterIP / NodePort allocation (upstream's registry allocators).
- `serviceaccount`: the ServiceAccount admission plugin (default SA, kube-api-access volume).
- `tolerations`: DefaultTolerationSeconds.
- `priority`: Priority (spec.priority from the PriorityClass).
"""
