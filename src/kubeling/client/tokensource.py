"""ServiceAccount tokens from the TokenRequest API, and the rule for when to renew one.

`Token` and `requires_refresh` are the kubelet token manager's (pkg/kubelet/token/
token_manager.go): a token is renewed when 80% of its TTL has passed or it is older than 24 h.
They live here, in client/, because two clients of TokenRequest share them: the kubelet's
projected volumes (kubelet/volumes/manager.py) and `ServiceAccountToken`, for an add-on that
runs inside `kubeling up` and must present its account's credentials to someone other than the
API server (metrics-server scraping kubelets): the token its pod would have mounted, renewed by
the same rule."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from ..api.resources import lookup
from ..api.timestamps import parse_rfc3339

SERVICE_ACCOUNTS = lookup("", "v1", "serviceaccounts")
assert SERVICE_ACCOUNTS is not None

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


class ServiceAccountToken:
    """One ServiceAccount's token, asked for on first use and renewed by `requires_refresh`."""

    def __init__(self, client: Any, namespace: str, name: str, *, expiration_seconds: int = 3600,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client  # allowed to create serviceaccounts/token for the account
        self.namespace = namespace
        self.name = name
        self.expiration_seconds = expiration_seconds
        self.clock = clock
        self._token: Token | None = None

    async def get(self) -> str:
        if self._token is None or requires_refresh(self._token, self.clock()):
            tr = await self.client.create(SERVICE_ACCOUNTS, self.namespace, {
                "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"expirationSeconds": self.expiration_seconds}}, sub_name=self.name, sub="token")
            self._token = Token.from_request(tr)
        return self._token.token
