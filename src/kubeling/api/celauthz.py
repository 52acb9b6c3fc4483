"""The `authorizer` variable of ValidatingAdmissionPolicy expressions (upstream
k8s.io/apiserver/pkg/cel/library/authz.go): authorization checks for the request's user.

    authorizer.group('apps').resource('deployments').namespace('ns').name('x').check('delete').allowed()
    authorizer.serviceAccount('ns', 'sa').check('impersonate').allowed()
    authorizer.path('/healthz').check('get').reason()
    authorizer.requestResource.subresource('scale').check('update').allowed()

The builders are plain Python values; the methods are CEL functions taking the builder first
(cel-python calls `x.f(a)` as `f(x, a)`), part of api/cel.py's FUNCTIONS. The decision itself is
the caller's `authorize(check, verb)` (the API server's authorizer for the request's user), so
this module stays pure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from celpy import celtypes


@dataclass(frozen=True)
class Check:
    """A resource or non-resource check being built (`authorizer` itself is one with nothing set)."""

    authorize: Callable[["Check", str], tuple[bool, str]] | None  # None: always allowed
    resource_request: bool = False
    path: str = ""
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


class Authorizer(celtypes.MapType):
    """`authorizer`: a map so that `authorizer.requestResource` is a field; carries its Check."""

    def __init__(self, check: Check, request_resource: Check) -> None:
        super().__init__({celtypes.StringType("requestResource"): request_resource})
        self.check = check


def _c(target: Any) -> Check:
    if isinstance(target, Authorizer):
        return target.check
    if isinstance(target, Check):
        return target
    raise TypeError("no such overload")


def _resource(target: Any, **fields: str) -> Check:
    return replace(_c(target), resource_request=True, **fields)


def _check(target: Any, verb: Any) -> Decision:
    c = _c(target)
    if c.authorize is None:
        return Decision(True, "")
    allowed, reason = c.authorize(c, str(verb))
    return Decision(bool(allowed), reason or "")


def _decision(d: Any) -> Decision:
    if not isinstance(d, Decision):
        raise TypeError("no such overload")
    return d


def functions() -> dict[str, Any]:
    return {
        "path": lambda a, p: replace(_c(a), resource_request=False, path=str(p)),
        "group": lambda a, g: _resource(a, group=str(g)),
        "serviceAccount": lambda a, ns, n: _resource(a, group="", resource="serviceaccounts", namespace=str(ns),
                                                     name=str(n)),
        "resource": lambda c, r: _resource(c, resource=str(r)),
        "subresource": lambda c, s: _resource(c, subresource=str(s)),
        "namespace": lambda c, ns: _resource(c, namespace=str(ns)),
        "name": lambda c, n: _resource(c, name=str(n)),
        "check": _check,
        "allowed": lambda d: celtypes.BoolType(_decision(d).allowed),
        "reason": lambda d: celtypes.StringType(_decision(d).reason),
        "errored": lambda d: celtypes.BoolType(False),
        "error": lambda d: celtypes.StringType(""),
    }


def for_request(authorize: Callable[[Check, str], tuple[bool, str]] | None, group: str, version: str,
                resource: str, subresource: str, namespace: str, name: str) -> Authorizer:
    """`authorizer` for a request, with `requestResource` preset to the request's resource."""
    return Authorizer(Check(authorize), Check(authorize, True, "", group, version, resource, subresource, namespace,
                                              name))
