"""Parse a Kubernetes REST path into (resource, namespace, name, subresource).

/api/v1/namespaces/{ns}/{plural}/{name}/{sub} and /apis/{group}/{version}/... ; cluster-scoped
kinds drop the namespaces/{ns} part; /api/v1/namespaces/{name}/{status|finalize} addresses the
Namespace itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..api import resources
from ..api.resources import Resource


@dataclass(frozen=True, slots=True)
class Target:
    resource: Resource
    namespace: str | None
    name: str | None
    subresource: str | None

    @property
    def key(self) -> str:
        assert self.name is not None
        return self.resource.key(self.namespace, self.name)


class UnknownPath(Exception):
    pass


def parse(path: str) -> Target:
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise UnknownPath(path)
    if parts[0] == "api" and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise UnknownPath(path)
    if not rest:
        raise UnknownPath(path)
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        inner = resources.lookup(group, version, rest[2])
        if inner is not None and inner.namespaced:
            namespace, rest = rest[1], rest[2:]
        elif group == "" and len(rest) == 3 and rest[2] in ("status", "finalize"):
            pass  # subresource of the Namespace object itself
        else:
            raise UnknownPath(path)
    res = resources.lookup(group, version, rest[0])
    if res is None or len(rest) > 3:
        raise UnknownPath(path)
    name = rest[1] if len(rest) >= 2 else None
    sub = rest[2] if len(rest) == 3 else None
    if sub is not None and res.subresource(sub) is None:
        raise UnknownPath(path)
    if res.namespaced and namespace is None and name is not None:
        raise UnknownPath(path)
    return Target(res, namespace, name, sub)
