"""A ServiceAccount's bearer token from the TokenRequest API, for an add-on that runs inside
`kubeling up` and must present its account's credentials to someone other than the API server
(metrics-server scraping kubelets): the token its pod would have mounted, renewed by the same
rule as the kubelet's token manager (80% of its TTL, projected.requires_refresh)."""

from __future__ import annotations

import time
from typing import Any, Callable

from ..api.resources import lookup
from ..kubelet.volumes.projected import Token, requires_refresh

SERVICE_ACCOUNTS = lookup("", "v1", "serviceaccounts")
assert SERVICE_ACCOUNTS is not None


class ServiceAccountToken:
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
