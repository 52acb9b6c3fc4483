"""projected volumes: secret, configMap, downwardAPI and serviceAccountToken sources merged into
one payload (upstream pkg/volume/projected collectData), plus the token manager's refresh rule.

Tokens come from the TokenRequest API bound to the pod; the kubelet keeps one per
(pod, audience, expirationSeconds) and asks for a new one when 80% of its TTL has passed or it is
older than 24 h (pkg/kubelet/token/token_manager.go requiresRefresh).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from ...api.timestamps import parse_rfc3339
from . import configmap_secret, downward
from .atomic_writer import FileProjection
from .configmap_secret import DEFAULT_MODE, ObjectNotFound, PayloadError

MAX_TTL = 24 * 3600
MAX_JITTER = 10


@dataclass(frozen=True)
class Token:
    """A TokenRequest answer: the JWT, its expiry and the TTL it was asked for."""

    token: str
    expiration: float  # unix seconds (status.expirationTimestamp)
    expiration_seconds: int  # spec.expirationSeconds

    @classmethod
    def from_request(cls, tr: dict[str, Any]) -> "Token":
        st, spec = tr.get("status") or {}, tr.get("spec") or {}
        exp = parse_rfc3339(st["expirationTimestamp"])
        if exp is None:
            raise ValueError(f"expirationTimestamp {st['expirationTimestamp']!r} is not RFC 3339")
        return cls(st["token"], exp, int(spec.get("expirationSeconds") or 0))


def requires_refresh(tok: Token, now: float, jitter: float = 0.0) -> bool:
    """requiresRefresh: older than 24 h, or within 20% of the TTL (plus jitter) from expiry."""
    if not tok.expiration_seconds:
        return False
    iat = tok.expiration - tok.expiration_seconds
    if now > iat + MAX_TTL - jitter:
        return True
    return now > tok.expiration - (tok.expiration_seconds * 20) // 100 - jitter


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
