"""The kubelet API's authentication and authorization (kubelet/auth.py): upstream's path ->
nodes subresource mapping, the 401/403/500 answers and their texts, and the review caches."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from kubeling.identity import User
from kubeling.kubelet import auth as ka
from kubeling.kubelet import server as ks

ADMIN = User("kube-apiserver", ())


class StaticReviewer:
    """The API server's answers from tables; counts the reviews asked, can be made to fail."""

    def __init__(self, tokens: dict[str, User], allowed: set[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.allowed = allowed  # (user, subresource)
        self.token_reviews = 0
        self.access_reviews = 0
        self.fail = False

    async def token_review(self, token: str) -> User | None:
        self.token_reviews += 1
        if self.fail:
            raise ConnectionError("API server unreachable")
        return self.tokens.get(token)

    async def access_review(self, user: User, a: ka.NodeAttributes) -> bool:
        self.access_reviews += 1
        if self.fail:
            raise ConnectionError("API server unreachable")
        return (user.name, a.subresource) in self.allowed


def admin_auth(token: str) -> ka.KubeletAuth:
    """A kubelet that lets the bearer of `token` do anything (the streaming tests' client)."""
    subs = ("proxy", "stats", "metrics", "log", "checkpoint")
    return ka.KubeletAuth(StaticReviewer({token: ADMIN}, {(ADMIN.name, s) for s in subs}), "node-1")


@pytest.mark.parametrize("method,path,verb,sub", [
    ("GET", "/stats/summary", "get", "stats"),
    ("GET", "/stats", "get", "stats"),
    ("GET", "/stats/", "get", "stats"),
    ("GET", "/statsfoo", "get", "proxy"),  # a subpath, not a prefix
    ("GET", "/metrics", "get", "metrics"),
    ("GET", "/metrics/resource", "get", "metrics"),
    ("GET", "/metrics/cadvisor", "get", "metrics"),
    ("GET", "/logs/", "get", "log"),
    ("GET", "/logs/messages", "get", "log"),
    ("POST", "/checkpoint/ns/pod/c", "create", "checkpoint"),
    ("GET", "/containerLogs/ns/pod/c", "get", "proxy"),  # pods' logs are nodes/proxy, not nodes/log
    ("POST", "/exec/ns/pod/c", "create", "proxy"),
    ("GET", "/exec/ns/pod/c", "get", "proxy"),
    ("POST", "/attach/ns/pod/c", "create", "proxy"),
    ("GET", "/portForward/ns/pod", "get", "proxy"),
    ("POST", "/run/ns/pod/c", "create", "proxy"),
    ("GET", "/pods", "get", "proxy"),
    ("GET", "/runningpods/", "get", "proxy"),
    ("GET", "/healthz", "get", "proxy"),
    ("GET", "/spec/", "get", "proxy"),  # nodes/spec is in RBAC roles but no kubelet path maps to it
    ("PUT", "/pods", "update", "proxy"),
    ("PATCH", "/pods", "patch", "proxy"),
    ("DELETE", "/pods", "delete", "proxy"),
    ("OPTIONS", "/pods", "", "proxy"),
])
def test_request_attributes(method: str, path: str, verb: str, sub: str) -> None:
    assert ka.request_attributes(method, path, "node-1") == ka.NodeAttributes(verb, sub, "node-1")


def test_ttl_cache_expires_and_is_bounded() -> None:
    now = [0.0]
    cache: ka.TTLCache[str, Any] = ka.TTLCache(size=2, clock=lambda: now[0])
    cache.put("a", None, 10)  # a cached "no" is a value, not a miss
    assert cache.get("a", "miss") is None
    now[0] = 10.0
    assert cache.get("a", "miss") == "miss"
    for k in "bcd":
        cache.put(k, k, 60)
    assert len(cache) == 2 and cache.get("b", "miss") == "miss" and cache.get("d") == "d"


async def test_tokens_and_decisions_are_cached_with_upstream_ttls() -> None:
    now = [0.0]
    pod_sa = User("system:serviceaccount:default:default", ("system:serviceaccounts",))
    reviewer = StaticReviewer({"good": ADMIN, "pod": pod_sa}, {(ADMIN.name, "proxy")})
    auth = ka.KubeletAuth(reviewer, "node-1", clock=lambda: now[0])

    user = await auth.authenticate(None, "Bearer good")
    assert user == User("kube-apiserver", ("system:authenticated",))
    await auth.authenticate(None, "bearer good")
    assert reviewer.token_reviews == 1
    with pytest.raises(ka.AuthError):
        await auth.authenticate(None, "Bearer bad")
    with pytest.raises(ka.AuthError):
        await auth.authenticate(None, "Bearer bad")
    assert reviewer.token_reviews == 2  # an unknown token is remembered too
    now[0] = ka.AUTHN_TTL
    await auth.authenticate(None, "Bearer good")
    assert reviewer.token_reviews == 3

    await auth.authorize(user, "GET", "/pods")
    await auth.authorize(user, "GET", "/exec/a/b/c")  # same attributes: one review
    assert reviewer.access_reviews == 1
    sa = await auth.authenticate(None, "Bearer pod")
    for _ in range(2):
        with pytest.raises(ka.AuthError):
            await auth.authorize(sa, "GET", "/pods")
    assert reviewer.access_reviews == 2
    now[0] += ka.UNAUTHORIZED_TTL  # a denial is asked again after 30 s, an allowance after 5 min
    with pytest.raises(ka.AuthError):
        await auth.authorize(sa, "GET", "/pods")
    await auth.authorize(user, "GET", "/pods")
    assert reviewer.access_reviews == 3
    now[0] += ka.AUTHORIZED_TTL
    await auth.authorize(user, "GET", "/pods")
    assert reviewer.access_reviews == 4


async def test_failed_reviews_are_not_cached() -> None:
    reviewer = StaticReviewer({"good": ADMIN}, {(ADMIN.name, "proxy")})
    auth = ka.KubeletAuth(reviewer, "node-1")
    reviewer.fail = True
    with pytest.raises(ka.AuthError) as e:
        await auth.authenticate(None, "Bearer good")
    assert (e.value.code, e.value.message) == (401, "Unauthorized")
    with pytest.raises(ka.AuthError) as e:
        await auth.authorize(ADMIN, "POST", "/exec/a/b/c")
    assert (e.value.code, e.value.message) == (
        500, "Authorization error (user=kube-apiserver, verb=create, resource=nodes, subresource=proxy)")
    reviewer.fail = False
    await auth.authorize(await auth.authenticate(None, "Bearer good"), "POST", "/exec/a/b/c")


async def test_client_certificate_is_the_user_of_its_subject() -> None:
    reviewer = StaticReviewer({}, {("system:node:n", "stats")})
    auth = ka.KubeletAuth(reviewer, "node-1")
    cert = {"subject": ((("organizationName", "system:nodes"),), (("commonName", "system:node:n"),))}
    user = await auth.authenticate(cert, "Bearer ignored")  # x509 is asked first, as upstream's union
    assert user == User("system:node:n", ("system:nodes", "system:authenticated"))
    assert reviewer.token_reviews == 0
    await auth.authorize(user, "GET", "/stats/summary")


@pytest.fixture
async def kubelet() -> Any:
    pod_sa = User("system:serviceaccount:default:default", ("system:serviceaccounts",))
    reviewer = StaticReviewer({"admin": ADMIN, "pod": pod_sa}, {(ADMIN.name, "proxy")})
    srv = ks.KubeletServer(None, lambda ns, name: None, auth=ka.KubeletAuth(reviewer, "node-1"))  # type: ignore[arg-type]
    server = TestServer(srv.app)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.mark.parametrize("headers,code,text", [
    ({}, 401, "Unauthorized"),
    ({"Authorization": "Bearer wrong"}, 401, "Unauthorized"),
    ({"Authorization": "Basic YTpi"}, 401, "Unauthorized"),
    ({"Authorization": "Bearer pod"}, 403,
     "Forbidden (user=system:serviceaccount:default:default, verb=get, resource=nodes, subresource=proxy)"),
    ({"Authorization": "Bearer admin"}, 200, "ok"),
])
async def test_server_answers(kubelet: str, headers: dict[str, str], code: int, text: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(kubelet + "/healthz", headers=headers) as resp:  # healthz too, as upstream
            assert (resp.status, await resp.text()) == (code, text)
        if code != 200:
            async with session.get(kubelet + "/containerLogs/default/web/app", headers=headers) as resp:
                assert resp.status == code


async def test_in_process_token_review_authenticates(tmp_path: Any) -> None:
    """The in-process kubelet's TokenReview is answered like one over HTTPS (it was always
    `authenticated: false`: the in-process request had no app to find the authenticator in)."""
    from kubeling.apiserver.app import build_app
    from kubeling.apiserver.registry import Registry
    from kubeling.apiserver.local import LocalTransport
    from kubeling.client.rest import Client, ClientConfig
    from kubeling.pki import ensure_pki
    from kubeling.store.sqlite import SQLiteStore

    pki = ensure_pki(str(tmp_path), "127.0.0.1", "10.96.0.1")
    store = SQLiteStore(str(tmp_path / "state.db"))
    try:
        app = build_app(Registry(store), pki, "https://127.0.0.1:6443")
        client = Client(ClientConfig(), transport=LocalTransport(app["api"], User("system:node:n1", ("system:nodes",))))
        reviewer = ka.ClientReviewer(client)
        assert await reviewer.token_review(pki.admin_token()) == User("admin", ("system:masters",))
        assert await reviewer.token_review("nope") is None
        assert await reviewer.access_review(User("admin", ("system:masters",)), ka.NodeAttributes("get", "proxy", "n1"))
    finally:
        store.close()
