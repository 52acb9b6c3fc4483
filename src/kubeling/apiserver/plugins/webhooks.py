"""Mutating and validating admission webhooks (upstream apiserver/pkg/admission/plugin/webhook).

For each write the MutatingWebhookConfigurations, then (after validation) the
ValidatingWebhookConfigurations are consulted: every webhook whose rules, namespaceSelector and
objectSelector match gets an admission.k8s.io/v1 AdmissionReview over HTTPS (`clientConfig.url`,
or `clientConfig.service` reached at a ready endpoint of the Service, verified as
`<service>.<namespace>.svc`), within `timeoutSeconds` (default 10). A mutating webhook may answer
a JSONPatch; a denial becomes upstream's `admission webhook "<name>" denied the request: ...`;
a failed call is an InternalError under `failurePolicy: Fail` (the default) and skipped under
`Ignore`. `matchConditions` (CEL, api/cel.py) must all be true for the webhook to be called; one
that fails to evaluate follows failurePolicy too. Webhooks with side effects are refused on dry runs.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import uuid
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from ...api import cel, errors
from ...api.patch.jsonpatch import json_patch
from ...api.resources import lookup
from ...store.derived import Derived
from ..auth.user import current_request
from .policy import Request, match_conditions, rule_matches, selectors_match

if TYPE_CHECKING:
    from ...api.resources import Resource
    from ..admission import Objects

GROUP = "admissionregistration.k8s.io"
MUTATING = lookup(GROUP, "v1", "mutatingwebhookconfigurations")
VALIDATING = lookup(GROUP, "v1", "validatingwebhookconfigurations")
SERVICES = lookup("", "v1", "services")
SLICES = lookup("discovery.k8s.io", "v1", "endpointslices")
assert MUTATING and VALIDATING and SERVICES and SLICES
# every webhook of the configurations of one kind, in order
HOOKS: Derived[list[dict[str, Any]]] = Derived(
    lambda entries: [hook for e in entries for hook in e.obj().get("webhooks") or ()])


class Webhooks:
    """Called by the admission chain around validation (the calls are the only awaits of a write)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def admit(self, registry: "Objects", res: "Resource", obj: dict[str, Any], old: dict[str, Any] | None,
                    dry_run: bool, mutating: bool) -> None:
        if res.group == GROUP:  # webhook configurations are never sent to webhooks
            return
        conf_res = MUTATING if mutating else VALIDATING
        hooks = HOOKS.get(registry.store, conf_res.prefix(None))
        if not hooks:
            return
        attrs = current_request.get()
        sub = getattr(attrs, "subresource", "") or ""
        op = "CREATE" if old is None else "UPDATE"
        for hook in hooks:
            if self._matches(registry, hook, op, res, sub, obj, old):
                await self._call(registry, hook, res, sub, op, obj, old, dry_run, mutating)

    def _matches(self, registry: "Objects", hook: dict[str, Any], op: str, res: "Resource", sub: str,
                 obj: dict[str, Any], old: dict[str, Any] | None) -> bool:
        if not any(rule_matches(r, op, res, sub) for r in hook.get("rules") or ()):
            return False
        if not selectors_match(registry, hook, res, obj, old):
            return False
        conditions = hook.get("matchConditions") or []
        if not conditions:
            return True
        return self._match_conditions(hook, conditions, res, sub, op, obj, old)

    @staticmethod
    def _match_conditions(hook: dict[str, Any], conditions: list[dict[str, Any]], res: "Resource", sub: str,
                          op: str, obj: dict[str, Any], old: dict[str, Any] | None) -> bool:
        """All matchConditions true: call; one false: skip; an error follows failurePolicy (Fail:
        the request is Forbidden with the errors, as upstream's dispatcher "fails closed")."""
        req = Request(res, sub, op, obj, old, False)
        act = {"object": cel.to_cel(obj), "oldObject": cel.to_cel(old), "request": cel.to_cel(req.admission_request()),
               "authorizer": None}
        try:
            return match_conditions(conditions, act, [cel.REQUEST_LIMIT])
        except cel.EvalError as e:
            if hook.get("failurePolicy", "Fail") == "Ignore":
                return False
            raise errors.forbidden(res.plural, req.name, res.group, str(e)) from None

    def _review(self, res: "Resource", sub: str, op: str, obj: dict[str, Any], old: dict[str, Any] | None,
                dry_run: bool) -> dict[str, Any]:
        request = Request(res, sub, op, obj, old, dry_run).admission_request()
        for k in ("requestSubResource", "subResource", "namespace"):
            if not request[k]:
                del request[k]
        request = {"uid": str(uuid.uuid4()), **request, "object": obj, "oldObject": old}
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}

    def _target(self, registry: "Objects", cfg: dict[str, Any]) -> tuple[str, str | None]:
        """(URL, TLS server name) of a webhook's clientConfig."""
        if cfg.get("url"):
            return cfg["url"], None
        svc = cfg.get("service") or {}
        ns, name, port = svc.get("namespace", ""), svc.get("name", ""), svc.get("port") or 443
        host = f"{name}.{ns}.svc"
        service = registry.store.get(SERVICES.key(ns, name))
        if service is None:
            raise ConnectionError(f'service "{name}" not found')
        target_port = port
        for p in (service.obj().get("spec") or {}).get("ports") or ():
            if p.get("port") == port and isinstance(p.get("targetPort"), int):
                target_port = p["targetPort"]
        for e in registry.store.list(SLICES.prefix(ns))[0]:
            s = e.obj()
            if (s.get("metadata") or {}).get("labels", {}).get("kubernetes.io/service-name") != name:
                continue
            for ep in s.get("endpoints") or ():
                if (ep.get("conditions") or {}).get("ready", True) and ep.get("addresses"):
                    return f"https://{ep['addresses'][0]}:{target_port}{svc.get('path') or ''}", host
        raise ConnectionError(f'no endpoints available for service "{name}"')

    async def _post(self, url: str, server_name: str | None, ca: bytes | None, body: bytes, timeout: float) -> Any:
        ctx = ssl.create_default_context(cadata=ca.decode() if ca else None)
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        kwargs: dict[str, Any] = {"server_hostname": server_name} if server_name else {}
        async with self._session.post(url, data=body, ssl=ctx, headers={"Content-Type": "application/json"},
                                      timeout=aiohttp.ClientTimeout(total=timeout), **kwargs) as r:
            raw = await r.read()
            if r.status != 200:
                raise ConnectionError(f"expected response code 200, got {r.status}")
            return orjson.loads(raw)

    async def _call(self, registry: "Objects", hook: dict[str, Any], res: "Resource", sub: str, op: str,
                    obj: dict[str, Any], old: dict[str, Any] | None, dry_run: bool, mutating: bool) -> None:
        name = hook.get("name", "")
        if dry_run and hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise errors.bad_request(f'admission webhook "{name}" does not support dry run')
        cfg = hook.get("clientConfig") or {}
        timeout = hook.get("timeoutSeconds") or 10
        review = self._review(res, sub, op, obj, old, dry_run)
        try:
            url, server_name = self._target(registry, cfg)
            ca = base64.b64decode(cfg["caBundle"]) if cfg.get("caBundle") else None
            url = f"{url}{'&' if '?' in url else '?'}timeout={timeout}s"
            answer = await self._post(url, server_name, ca, orjson.dumps(review), timeout)
            response = (answer or {}).get("response") or {}
            if response.get("uid") != review["request"]["uid"]:
                raise ValueError(f"expected response.uid=\"{review['request']['uid']}\", "
                                 f"got \"{response.get('uid', '')}\"")
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError, ValueError, ssl.SSLError) as e:
            if hook.get("failurePolicy", "Fail") == "Ignore":
                return
            why = "context deadline exceeded" if isinstance(e, asyncio.TimeoutError) else str(e)
            raise errors.internal(f'failed calling webhook "{name}": failed to call webhook: {why}') from None
        if not response.get("allowed"):
            status = response.get("status") or {}
            code = status.get("code") or 400
            msg = status.get("message") or status.get("reason") or ""
            text = f'admission webhook "{name}" denied the request' + (f": {msg}" if msg else " without explanation")
            raise errors.StatusError(code if code >= 400 else 400, status.get("reason", ""), text)
        if mutating and response.get("patch"):
            ops = orjson.loads(base64.b64decode(response["patch"]))
            patched = json_patch(obj, ops)
            obj.clear()
            obj.update(patched)
