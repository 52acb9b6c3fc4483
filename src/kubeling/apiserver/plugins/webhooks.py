"""Mutating and validating admission webhooks (upstream apiserver/pkg/admission/plugin/webhook).

For each write the MutatingWebhookConfigurations, then (after validation) the
ValidatingWebhookConfigurations are consulted: every webhook whose rules, namespaceSelector and
objectSelector match gets an admission.k8s.io/v1 AdmissionReview over HTTPS (`clientConfig.url`,
or `clientConfig.service` reached at a ready endpoint of the Service, verified as
`<service>.<namespace>.svc`), within `timeoutSeconds` (default 10). A mutating webhook may answer
a JSONPatch; a denial becomes upstream's `admission webhook "<name>" denied the request: ...`;
a failed call is an InternalError under `failurePolicy: Fail` (the default) and skipped under
`Ignore`. Webhooks with side effects are refused on dry runs.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import uuid
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from ...api import errors
from ...api.patch.jsonpatch import json_patch
from ...api.resources import lookup
from ...api.selectors import from_label_selector_object
from ..auth.user import current_request, current_user

if TYPE_CHECKING:
    from ...api.resources import Resource
    from ..admission import Objects

GROUP = "admissionregistration.k8s.io"
MUTATING = lookup(GROUP, "v1", "mutatingwebhookconfigurations")
VALIDATING = lookup(GROUP, "v1", "validatingwebhookconfigurations")
NAMESPACES = lookup("", "v1", "namespaces")
SERVICES = lookup("", "v1", "services")
SLICES = lookup("discovery.k8s.io", "v1", "endpointslices")
assert MUTATING and VALIDATING and NAMESPACES and SERVICES and SLICES


def _any(values: list[str], value: str) -> bool:
    return "*" in values or value in values


def _rule_matches(rule: dict[str, Any], op: str, res: "Resource", sub: str) -> bool:
    combined = f"{res.plural}/{sub}" if sub else res.plural
    resources = rule.get("resources") or []
    scope = rule.get("scope") or "*"
    return (_any(rule.get("operations") or [], op) and _any(rule.get("apiGroups") or [], res.group)
            and _any(rule.get("apiVersions") or [], res.version)
            and ("*" in resources or combined in resources or (sub and f"{res.plural}/*" in resources)
                 or (sub and f"*/{sub}" in resources))
            and (scope == "*" or scope == ("Namespaced" if res.namespaced else "Cluster")))


class Webhooks:
    """Called by the admission chain around validation (the calls are the only awaits of a write)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def admit(self, registry: "Objects", res: "Resource", obj: dict[str, Any], old: dict[str, Any] | None,
                    dry_run: bool, mutating: bool) -> None:
        if res.group == GROUP:  # webhook configurations are never sent to webhooks
            return
        conf_res = MUTATING if mutating else VALIDATING
        configs = registry.store.list(conf_res.prefix(None))[0]
        if not configs:
            return
        attrs = current_request.get()
        sub = getattr(attrs, "subresource", "") or ""
        op = "CREATE" if old is None else "UPDATE"
        for entry in configs:
            for hook in entry.obj().get("webhooks") or ():
                if self._matches(registry, hook, op, res, sub, obj, old):
                    await self._call(registry, hook, res, sub, op, obj, old, dry_run, mutating)

    def _matches(self, registry: "Objects", hook: dict[str, Any], op: str, res: "Resource", sub: str,
                 obj: dict[str, Any], old: dict[str, Any] | None) -> bool:
        if not any(_rule_matches(r, op, res, sub) for r in hook.get("rules") or ()):
            return False
        labels = (obj.get("metadata") or {}).get("labels") or {}
        old_labels = ((old or {}).get("metadata") or {}).get("labels") or {}
        obj_sel = from_label_selector_object(hook.get("objectSelector") or {})
        if not (obj_sel.matches(labels) or (old is not None and obj_sel.matches(old_labels))):
            return False
        ns_sel = from_label_selector_object(hook.get("namespaceSelector") or {})
        if res.namespaced:
            ns = registry.store.get(NAMESPACES.key(None, (obj.get("metadata") or {}).get("namespace", "")))
            ns_labels = ((ns.obj().get("metadata") or {}).get("labels") or {}) if ns is not None else {}
            return ns_sel.matches(ns_labels)
        if res.kind == "Namespace" and res.group == "":
            return ns_sel.matches(labels)
        return True

    def _review(self, res: "Resource", sub: str, op: str, obj: dict[str, Any], old: dict[str, Any] | None,
                dry_run: bool) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        user = current_user.get()
        kind = {"group": res.group, "version": res.version, "kind": res.kind}
        resource = {"group": res.group, "version": res.version, "resource": res.plural}
        request: dict[str, Any] = {
            "uid": str(uuid.uuid4()), "kind": kind, "resource": resource, "requestKind": kind,
            "requestResource": resource, "name": meta.get("name", ""), "operation": op,
            "userInfo": user.info() if user is not None else {"username": "system:apiserver",
                                                               "groups": ["system:masters"]},
            "object": obj, "oldObject": old, "dryRun": dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions" if old is None else "UpdateOptions"}}
        if sub:
            request["subResource"] = sub
        if res.namespaced:
            request["namespace"] = meta.get("namespace", "")
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
