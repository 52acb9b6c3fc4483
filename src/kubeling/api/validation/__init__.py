"""Semantic validation of API objects, ported from upstream Kubernetes v1.32.

One module per API group (core, pod, apps, batch, other) on shared field (`field`) and ObjectMeta
(`meta`) rules; a kind's validator is named in its strategy record (api/strategy.py, whose
`validate` runs it). Strict field validation (unknown and duplicate fields) lives in `strict`.
"""
