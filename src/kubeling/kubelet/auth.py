"""Who may use the kubelet API, decided as upstream's kubelet with `--anonymous-auth=false`,
`--authentication-token-webhook` and `--authorization-mode=Webhook` decides it.

- Authentication: a client certificate verified against the client CA is the user named by its
  CN in the groups of its O; otherwise a bearer token is the user a TokenReview to the API server
  names. Either way the user is also in `system:authenticated`. No credential, or one the API
  server does not know: 401 `Unauthorized`.
- Authorization: every request is a SubjectAccessReview for the `nodes` resource named after this
  node, the subresource taken from the path (pkg/kubelet/server/auth.go: /stats -> stats,
  /metrics -> metrics, /logs -> log, /checkpoint -> checkpoint, everything else -> proxy, incl.
  exec, attach, portForward, containerLogs, pods and healthz) and the verb from the HTTP method.
  Denied: 403 `Forbidden (user=..., verb=..., resource=nodes, subresource=...)`.

Both reviews go through the kubelet's own client (`system:node:<name>`, whose `system:node`
rules allow creating tokenreviews and subjectaccessreviews) and are cached as the kubelet's
webhooks cache them (KubeletConfiguration defaults): token answers 2 min, allowed 5 min, denied
30 s. A failed review is not cached: the next request asks again.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Generic, Hashable, Protocol, TypeVar

from ..identity import AUTHENTICATED, User
from ..pki import peer_identity

AUTHN_TTL = 120.0  # authentication.webhook.cacheTTL
AUTHORIZED_TTL = 300.0  # authorization.webhook.cacheAuthorizedTTL
UNAUTHORIZED_TTL = 30.0  # authorization.webhook.cacheUnauthorizedTTL
CACHE_SIZE = 4096

VERBS = {"POST": "create", "GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
# path prefix -> nodes subresource; the first that matches wins, anything else is "proxy"
SUBRESOURCES = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"), ("/checkpoint", "checkpoint"))


class AuthError(Exception):
    """A refused request: the status and the plain text the kubelet writes."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class NodeAttributes:
    """What a request to the kubelet asks of the `nodes` resource."""

    verb: str
    subresource: str
    name: str


def is_subpath(subpath: str, path: str) -> bool:
    """`/stats/summary` and `/stats` are under `/stats`; `/statsfoo` is not."""
    path = path.rstrip("/")
    return subpath == path or (subpath.startswith(path) and subpath[len(path)] == "/")


def request_attributes(method: str, path: str, node_name: str) -> NodeAttributes:
    """nodeAuthorizerAttributesGetter.GetRequestAttributes (KubeletFineGrainedAuthz off, v1.32)."""
    sub = next((s for prefix, s in SUBRESOURCES if is_subpath(path, prefix)), "proxy")
    return NodeAttributes(VERBS.get(method.upper(), ""), sub, node_name)


def forbidden_message(user: User, a: NodeAttributes) -> str:
    return f"Forbidden (user={user.name}, verb={a.verb}, resource=nodes, subresource={a.subresource})"


def error_message(user: User, a: NodeAttributes) -> str:
    return f"Authorization error (user={user.name}, verb={a.verb}, resource=nodes, subresource={a.subresource})"


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_MISSING: Any = object()


class TTLCache(Generic[K, V]):
    """A bounded map whose entries expire (the webhooks' LRU-with-TTL caches)."""

    def __init__(self, size: int = CACHE_SIZE, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K, default: Any = _MISSING) -> Any:
        hit = self._items.get(key)
        if hit is None:
            return default
        if hit[0] <= self.clock():
            del self._items[key]
            return default
        self._items.move_to_end(key)
        return hit[1]

    def put(self, key: K, value: V, ttl: float) -> None:
        self._items[key] = (self.clock() + ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class Reviewer(Protocol):
    """The API server's answers (TokenReview, SubjectAccessReview); raises when it can't answer."""

    async def token_review(self, token: str) -> User | None: ...

    async def access_review(self, user: User, a: NodeAttributes) -> bool: ...


class ClientReviewer:
    """The reviews, made through the kubelet's client."""

    def __init__(self, client: Any) -> None:
        from ..api.resources import lookup

        self.client = client
        self.token_reviews = lookup("authentication.k8s.io", "v1", "tokenreviews")
        self.access_reviews = lookup("authorization.k8s.io", "v1", "subjectaccessreviews")

    async def token_review(self, token: str) -> User | None:
        out = await self.client.create(self.token_reviews, None, {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}})
        status = out.get("status") or {}
        if not status.get("authenticated"):
            return None
        u = status.get("user") or {}
        extra = tuple(sorted((k, tuple(v or ())) for k, v in (u.get("extra") or {}).items()))
        return User(u.get("username") or "", tuple(u.get("groups") or ()), u.get("uid") or "", extra)

    async def access_review(self, user: User, a: NodeAttributes) -> bool:
        spec: dict[str, Any] = {"user": user.name, "groups": list(user.groups),
                                "resourceAttributes": {"verb": a.verb, "version": "v1", "resource": "nodes",
                                                       "subresource": a.subresource, "name": a.name}}
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra}
        out = await self.client.create(self.access_reviews, None, {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec})
        return bool((out.get("status") or {}).get("allowed"))


def _with_authenticated(user: User) -> User:
    """AuthenticatedGroupAdder: every authenticated user is in system:authenticated."""
    if AUTHENTICATED in user.groups:
        return user
    return User(user.name, (*user.groups, AUTHENTICATED), user.uid, user.extra)


class KubeletAuth:
    """Authenticate and authorize one request; raises AuthError with upstream's answer."""

    def __init__(self, reviewer: Reviewer, node_name: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.reviewer = reviewer
        self.node_name = node_name
        self.tokens: TTLCache[str, User | None] = TTLCache(clock=clock)
        self.decisions: TTLCache[tuple[User, NodeAttributes], bool] = TTLCache(clock=clock)

    async def authenticate(self, peercert: dict | None, authorization: str) -> User:
        cn, orgs = peer_identity(peercert)
        if cn:  # verified against the client CA by the TLS handshake
            return _with_authenticated(User(cn, orgs))
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError(401, "Unauthorized")
        key = hashlib.sha256(token.encode()).hexdigest()  # no raw credentials kept in memory
        user = self.tokens.get(key)
        if user is _MISSING:
            try:
                user = await self.reviewer.token_review(token)
            except Exception as e:  # noqa: BLE001 - upstream: an error authenticating is a 401
                raise AuthError(401, "Unauthorized") from e
            self.tokens.put(key, user, AUTHN_TTL)
        if user is None:
            raise AuthError(401, "Unauthorized")
        return _with_authenticated(user)

    async def authorize(self, user: User, method: str, path: str) -> None:
        a = request_attributes(method, path, self.node_name)
        key = (user, a)
        allowed = self.decisions.get(key)
        if allowed is _MISSING:
            try:
                allowed = await self.reviewer.access_review(user, a)
            except Exception as e:  # noqa: BLE001 - reported as upstream's 500
                raise AuthError(500, error_message(user, a)) from e
            self.decisions.put(key, allowed, AUTHORIZED_TTL if allowed else UNAUTHORIZED_TTL)
        if not allowed:
            raise AuthError(403, forbidden_message(user, a))
