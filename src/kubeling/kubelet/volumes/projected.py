"""projected volumes: secret, configMap, downwardAPI and serviceAccountToken sources merged into
one payload (upstream pkg/volume/projected collectData).

Tokens come from the TokenRequest API bound to the pod (`token_request`); the kubelet keeps one
per (pod, audience, expirationSeconds) and renews it by the token manager's rule, which lives
with the other TokenRequest client in client/tokensource.py (`requires_refresh`).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from . import configmap_secret, downward
from .atomic_writer import FileProjection
from .configmap_secret import DEFAULT_MODE, ObjectNotFound, PayloadError


def token_request(pod: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """The TokenRequest the kubelet sends for a serviceAccountToken source, bound to the pod."""
    meta = pod.get("metadata") or {}
    spec: dict[str, Any] = {
        "expirationSeconds": source.get("expirationSeconds") or 3600,
        "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta.get("name", ""), "uid": meta.get("uid", "")},
    }
    if source.get("audience"):
        spec["audiences"] = [source["audience"]]
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}


Getter = Callable[[str], Awaitable[dict[str, Any] | None]]  # name -> object, None when not found
TokenGetter = Callable[[dict[str, Any]], Awaitable[str]]  # serviceAccountToken source -> JWT


async def collect(sources: list[dict[str, Any]], pod: dict[str, Any], default_mode: int | None, *,
                  get_configmap: Getter, get_secret: Getter, get_token: TokenGetter,
                  node_allocatable: dict[str, Any] | None = None,
                  fs_user: int | None = None, fs_group: int | None = None) -> dict[str, FileProjection]:
    """collectData: later sources win on equal paths; all errors are reported together."""
    mode = DEFAULT_MODE if default_mode is None else default_mode
    payload: dict[str, FileProjection] = {}
    errs: list[str] = []
    for src in sources or []:
        try:
            if src.get("secret") is not None or src.get("configMap") is not None:
                is_secret = src.get("secret") is not None
                s = src["secret"] if is_secret else src["configMap"]
                optional = bool(s.get("optional"))
                name = s.get("name", "")
                obj = await (get_secret if is_secret else get_configmap)(name)
                if obj is None:
                    if not optional:
                        raise ObjectNotFound("secret" if is_secret else "configmap", name)
                    obj = {}
                make = configmap_secret.secret_payload if is_secret else configmap_secret.configmap_payload
                payload.update(make(obj, s.get("items"), mode, optional))
            elif src.get("downwardAPI") is not None:
                payload.update(downward.collect(src["downwardAPI"].get("items") or [], pod, mode, node_allocatable))
            elif src.get("serviceAccountToken") is not None:
                tp = src["serviceAccountToken"]
                # with fsUser/fsGroup the token is 0600 and SetVolumeOwnership widens it to 0640
                tmode = 0o600 if (fs_user is not None or fs_group is not None) else mode
                payload[tp.get("path", "")] = FileProjection((await get_token(tp)).encode(), tmode, fs_user)
        except (PayloadError, downward.DownwardAPIError, TokenError) as e:
            errs.append(str(e))
    if errs:
        raise PayloadError(downward.aggregate(errs))
    return payload


class TokenError(Exception):
    """TokenRequest failed (message: `failed to fetch token: <api error>`)."""
